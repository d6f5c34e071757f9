"""One cohort as evaluators hold it (issue 11): long, wide, a file per timepoint, Qualtrics, Microsoft Forms.

The reference is the long file: the same answers written in every other shape must give the same
``child_outcomes.csv``, ``moderators.csv`` and ``reliability.csv``, number for number. The cohort is the
first 80 children of the shipped sample (``data/sample/children_site_a.csv`` and ``_b.csv``), with its
answers as the sites typed them (labels in any case, blanks, out-of-range numbers, junk) and only the
row-level problems that a wide file cannot hold (duplicates, unknown timepoints, id spellings) tidied.
"""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS, SAMPLE
from evalkit.cli import main
from evalkit.data.pipeline import prepare_cohort

FACTORS = ["age", "delivery", "referral_reason", "site"]
#: Invented question texts for the EAQ-30 item ids (the published wording is not open): what the
#: question-text exports carry as headers.
FEELINGS = ["angry", "sad", "scared", "happy", "worried", "excited", "lonely", "proud", "jealous", "embarrassed",
            "bored", "calm", "confused", "disappointed", "grumpy", "hopeful", "hurt", "nervous", "relieved",
            "shy", "silly", "surprised", "tired", "upset", "guilty", "brave", "cross", "glad", "curious", "fed up"]
TEXTS = {q: f"When I'm {f}, I don't always know why" for q, f in zip(EAQ_ITEMS, FEELINGS)}
RESULTS = ("child_outcomes.csv", "moderators.csv", "reliability.csv")


def sample_children(n=80):
    """The first ``n`` children of the sample's two CSV sites, one row per child and timepoint, factors once."""
    frames = [pd.read_csv(SAMPLE / name, dtype=str, keep_default_na=False, encoding=enc)
              for name, enc in (("children_site_a.csv", "utf-8-sig"), ("children_site_b.csv", "cp1252"))]
    data = pd.concat(frames, ignore_index=True)
    data["child_id"] = data["child_id"].str.strip().str.upper()
    data["timepoint"] = data["timepoint"].str.strip().str.lower().replace({"baseline": "pre", "end": "post"})
    data = data[data["timepoint"].isin(["pre", "post"])]
    data = data.drop_duplicates(["child_id", "timepoint"], keep=False)  # conflicts and exact copies: gone
    keep = sorted(data["child_id"].unique())[:n]
    data = data[data["child_id"].isin(keep)].sort_values(["child_id", "timepoint"], ascending=[True, False])
    first = data.groupby("child_id")[FACTORS].transform("first")  # a wide row holds each factor once
    data[FACTORS] = first
    return data[["child_id", "timepoint", *FACTORS, *EAQ_ITEMS]].reset_index(drop=True)


def instrument_file(folder):
    """The EAQ-30 with a question text per item (the shipped key, the invented texts)."""
    raw = yaml.safe_load((Path(__file__).parents[1] / "evalkit/data/instruments/eaq30.yml").read_text())
    raw["id"] = "eaq30_texts"
    for sub in raw["subscales"]:
        sub["items"] = [{"id": q, "text": TEXTS[q]} for q in sub["items"]]
    path = folder / "eaq30_texts.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path.name


def config(folder, **children):
    section = {"instrument": instrument_file(folder), "timepoints": {"pre": ["pre"], "post": ["post"]},
               "columns": {"id": "child_id", "timepoint": "timepoint", **{f: f for f in FACTORS}}}
    section.update(children)
    path = folder / "cohort.yml"
    path.write_text(yaml.safe_dump({"name": "Layouts", "children": section,
                                    "analysis": {"min_group_n": 10}}, sort_keys=False))
    return path


def wide(data):
    """One row per child: the factors once, then q1_pre ... q30_pre, q1_post ... q30_post."""
    out = data.drop_duplicates("child_id")[["child_id", *FACTORS]].set_index("child_id")
    for tp in ("pre", "post"):
        block = data[data["timepoint"] == tp].set_index("child_id")[EAQ_ITEMS]
        out = out.join(block.rename(columns=lambda q: f"{q}_{tp}"))
    return out.reset_index().fillna("")


def _cell(value):
    """A cell as a spreadsheet program would store it: digits as numbers, the rest as typed."""
    return int(value) if isinstance(value, str) and value.isdigit() else (value or None)


def write_xlsx(frame, path, *, header=None):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header or list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([_cell(v) for v in row])
    book.save(path)


def write_long(folder, data):
    data.to_csv(folder / "children.csv", index=False)
    return config(folder, file="children.csv")


def write_wide(folder, data):
    wide(data).to_csv(folder / "children_wide.csv", index=False)
    return config(folder, file="children_wide.csv", layout="wide", wide_columns="{item}_{timepoint}")


def write_per_timepoint(folder, data):
    pre = data[data["timepoint"] == "pre"].drop(columns="timepoint")
    write_xlsx(pre, folder / "baseline.xlsx")
    post = data[data["timepoint"] == "post"]
    post[post["site"] == "Site A"].to_csv(folder / "end_site_a.csv", index=False)  # with its (agreeing) timepoint
    post[post["site"] != "Site A"].drop(columns="timepoint").to_csv(folder / "end_site_b.csv", index=False)
    return config(folder, file={"pre": "baseline.xlsx", "post": ["end_site_a.csv", "end_site_b.csv"]})


QUALTRICS_FIRST = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
                   "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail"]


def write_qualtrics(folder, data):
    """A Qualtrics CSV: Qualtrics' own column ids, a row of question texts (the matrix question, a dash, the
    statement), a row of ``{"ImportId": ...}``, then the answers; its bookkeeping columns filled in."""
    ids = [f"Q5_{k}" for k in range(1, 31)]
    roles = ["child_id", "timepoint", *FACTORS]
    header = QUALTRICS_FIRST + roles + ids
    texts = (["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
              "Finished", "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
              "Recipient Email"] + ["Child ID", "Timepoint", "Age", "Delivery", "Referral reason", "Site"]
             + [f"How true is each sentence for you? - {TEXTS[q]}" for q in EAQ_ITEMS])
    imports = [json.dumps({"ImportId": c}) for c in QUALTRICS_FIRST + roles] + [
        json.dumps({"ImportId": f"QID5_{k}"}) for k in range(1, 31)]
    rows = [header, texts, imports]
    for k, row in enumerate(data.itertuples(index=False)):
        book = ["2026-01-05 10:00:00", "2026-01-05 10:09:00", "IP Address", "10.0.0.1", "100", "540", "True",
                "2026-01-05 10:09:01", f"R_{k:015d}", "Smith", "Jane", "jane@example.org"]
        rows.append(book + list(row))
    pd.DataFrame(rows).to_csv(folder / "qualtrics.csv", index=False, header=False)
    return config(folder, file="qualtrics.csv")


FORMS_FIRST = ["ID", "Start time", "Completion time", "Email", "Name", "Last modified time"]


def write_forms(folder, data):
    """A Microsoft Forms workbook: its identity and bookkeeping columns, then each question's text as the
    header (numbered, curly apostrophes, an en dash in one), the answers as typed."""
    headers = FORMS_FIRST + ["Child ID", "Before or after the sessions?", "Age", "Delivery", "Referral reason",
                             "Site"] + [f"{k}. " + TEXTS[q].replace("'", "\u2019") for k, q in enumerate(EAQ_ITEMS, 1)]
    headers[-1] = "Q30 \u2013 " + TEXTS["q30"]
    frame = data.copy()
    frame.insert(0, "ID", range(1, len(frame) + 1))
    frame.insert(1, "Start time", pd.Timestamp("2026-01-05 10:00"))
    frame.insert(2, "Completion time", pd.Timestamp("2026-01-05 10:09"))
    frame.insert(3, "Email", "anonymous")
    frame.insert(4, "Name", "Jane Smith")
    frame.insert(5, "Last modified time", None)
    write_xlsx(frame, folder / "forms.xlsx", header=headers)
    return config(folder, file="forms.xlsx", columns={
        "id": "Child ID", "timepoint": "Before or after the sessions?", "age": "Age", "delivery": "Delivery",
        "referral_reason": "Referral reason", "site": "Site"})


WRITERS = {"long": write_long, "wide": write_wide, "per_timepoint": write_per_timepoint,
           "qualtrics": write_qualtrics, "forms": write_forms}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every shape of the cohort written and reported (``evalkit report --no-notebooks``): shape -> out folder."""
    data = sample_children()
    out = {}
    for shape, write in WRITERS.items():
        folder = tmp_path_factory.mktemp(shape)
        cfg = write(folder, data)
        assert main(["report", str(cfg), "--out", str(folder / "out"), "--no-notebooks"]) == 0
        out[shape] = (cfg, folder / "out")
    return out


@pytest.mark.parametrize("shape", [s for s in WRITERS if s != "long"])
def test_every_shape_gives_the_long_files_results(reports, shape):
    _, long_out = reports["long"]
    _, out = reports[shape]
    for name in RESULTS:
        want = pd.read_csv(long_out / "results" / name)
        got = pd.read_csv(out / "results" / name)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=f"{shape}: {name}")
        assert (out / "results" / name).read_bytes() == (long_out / "results" / name).read_bytes()


def test_the_reference_cohort_is_analysed(reports):
    """The long reference itself: 80 children, the planted answers cleaned as in the sample, a real analysis."""
    cfg, out = reports["long"]
    outcomes = pd.read_csv(out / "results" / "child_outcomes.csv")
    assert set(outcomes["measure"]) >= {"differentiating", "verbal_sharing", "not_hiding"}
    assert (outcomes["n"] >= 60).all()
    moderators = pd.read_csv(out / "results" / "moderators.csv")
    assert {"delivery", "age_band"} <= set(moderators["factor"])
    log = pd.read_csv(out / "results" / "cleaning_log.csv")
    assert "response label mapped to number" in set(log["reason"])  # the sites' typed labels came along


def test_wide_accounting_counts_questionnaires_and_says_so(reports):
    cfg, out = reports["wide"]
    cohort = prepare_cohort(cfg)
    rows = len(wide(sample_children()))
    summary = cohort.summary.set_index("file").loc["children_wide.csv"]
    assert summary["rows_in"] == 2 * rows == summary["rows_kept"] + summary["rows_excluded"]
    # a child with no post (or no pre) questionnaire has a blank block: a questionnaire with no answers
    timepoints = sample_children().groupby("child_id")["timepoint"].agg(frozenset)
    pre_only, post_only = (timepoints == {"pre"}).sum(), (timepoints == {"post"}).sum()
    assert pre_only > 0 and post_only > 0
    assert summary["no answers"] == pre_only + post_only
    note = cohort.notes["children"][0]
    assert note == (f"wide layout (one person per row, answer columns named '{{item}}_{{timepoint}}'): {rows} rows in "
                    f"1 file read as {2 * rows} questionnaires, one per timepoint; rows in, kept and excluded count "
                    f"questionnaires, not rows")
    assert cohort.reading["children"]["questionnaires"] == 2 * rows
    # both questionnaires of a wide row keep the row's number in the file
    rows_of = cohort.rows.groupby("_row")["timepoint"].agg(list)
    assert (rows_of.map(len) == 2).all() and rows_of.index.min() == 2


def test_qualtrics_rows_are_skipped_and_its_columns_never_shown(reports):
    cfg, out = reports["qualtrics"]
    cohort = prepare_cohort(cfg)
    assert "Qualtrics export: rows 2-3 (question texts and import ids) skipped" in cohort.notes["qualtrics.csv"]
    assert cohort.summary.set_index("file").loc["qualtrics.csv", "rows_in"] == len(sample_children())
    assert len(cohort.reading["children"]["by_text"]) == 30
    assert cohort.reading["children"]["unmatched"] == []
    assert "30 column(s) matched items by their question text" in cohort.notes["children"]
    for path in (out / "results").glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        assert "jane@example.org" not in text and "10.0.0.1" not in text and "Smith" not in text


def test_forms_bookkeeping_columns_are_dropped_and_never_shown(reports):
    cfg, out = reports["forms"]
    cohort = prepare_cohort(cfg)
    assert ("form bookkeeping column(s) dropped, never shown: ID, Start time, Completion time, Email, Name, "
            "Last modified time") in cohort.notes["forms.xlsx"]
    assert cohort.reading["children"]["unmatched"] == []
    assert [item for _, _, item in cohort.reading["children"]["by_text"]] == EAQ_ITEMS
    for path in (out / "results").glob("*.csv"):
        assert "Jane Smith" not in path.read_text(encoding="utf-8")


def test_per_timepoint_files_take_their_timepoint(reports):
    cfg, _ = reports["per_timepoint"]
    cohort = prepare_cohort(cfg)
    rows = cohort.rows
    assert set(rows.loc[rows["_file"] == "baseline.xlsx", "timepoint"]) == {"pre"}
    assert set(rows.loc[rows["_file"].str.startswith("end_"), "timepoint"]) == {"post"}
    assert cohort.notes["children"][0].startswith("long layout, a file per timepoint: ")
    assert "given for post: every questionnaire in it is at that timepoint" in cohort.notes["end_site_b.csv"]


def test_validate_prints_the_layout_questionnaires_from_rows_and_text_matches(reports, capsys):
    from evalkit.validate import validate

    validate(reports["wide"][0])
    out = capsys.readouterr().out
    rows = len(wide(sample_children()))
    assert (f"children: read as wide layout: {2 * rows} questionnaires from {rows} rows (the accounting below "
            f"counts questionnaires, not rows)") in out
    validate(reports["forms"][0])
    out = capsys.readouterr().out
    assert "columns matched to items by their question text (30):" in out
    assert "forms.xlsx: \"1. When I\u2019m angry, I don\u2019t always know why\" -> q1" in out
    assert "forms.xlsx: \"Q30 \u2013 When I'm fed up, I don't always know why\" -> q30" in out


# ----------------------------------------------------------------------------- the rules, one by one

def _small(folder, text, **children):
    """A cohort of one wide or long CSV (``text``) with the EAQ-30 and the given section settings."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "children.csv").write_text(text, encoding="utf-8")
    section = {"file": "children.csv", "instrument": "eaq30", "timepoints": {"pre": ["pre"], "post": ["post"]}}
    section.update(children)
    path = folder / "cohort.yml"
    path.write_text(yaml.safe_dump({"name": "Small", "children": section}, sort_keys=False))
    return path


def _answers(value):
    return ",".join([str(value)] * 30)


def _header(suffix):
    return ",".join(f"{q}{suffix}" for q in EAQ_ITEMS)


def test_wide_rows_split_per_timepoint_keep_their_row_numbers(tmp_path):
    text = (f"child_id,age,{_header('_pre')},{_header('_post')}\n"
            f"c1,9,{_answers(1)},{_answers(2)}\n"
            f"c2,10,{_answers(2)},{',' * 29}\n"            # a blank post block: a pre-only child
            f"c3,11,{_answers(3)},{_answers('x')}\n")       # junk at post, logged on the file's row 4
    cohort = prepare_cohort(_small(tmp_path, text, layout="wide", columns={"id": "child_id", "age": "age"}))
    scores = cohort.children.scores.set_index(["id", "timepoint"])
    assert scores.loc[("c1", "pre"), "bodily_awareness"] == 1 and scores.loc[("c1", "post"), "bodily_awareness"] == 2
    assert sorted(scores.index) == [("c1", "post"), ("c1", "pre"), ("c2", "pre"), ("c3", "pre")]
    assert scores.loc[("c1", "post"), "age"] == 9 and not scores.loc[("c2", "pre"), "matched"]
    rows = cohort.rows
    assert rows["_row"].tolist() == [2, 3, 4, 2, 3, 4]
    assert rows["timepoint"].tolist() == ["pre", "pre", "pre", "post", "post", "post"]
    excluded = rows[rows["status"] == "excluded"].set_index("_row")["reason"].to_dict()
    assert excluded == {3: "no answers", 4: "no answers"}
    junk = cohort.log[cohort.log["reason"] == "not a number or response label"]
    assert set(junk["row"]) == {4} and len(junk) == 30
    assert cohort.summary.iloc[-1][["rows_in", "rows_kept", "rows_excluded"]].tolist() == [6, 4, 2]


def test_wide_columns_timepoint_first_with_a_rename_and_per_timepoint_factors(tmp_path):
    text = ("Group,Prewt,Postwt,PreAge,PostAge\n"
            "a,80.5,82,9,10\n"
            "b,90,91.5,12,12\n")
    cfg = _small(tmp_path, text, layout="wide", wide_columns="{timepoint}{item}", instrument="total_score",
                 response={"min": 0, "max": 200}, items={"wt": "total"},
                 timepoints={"pre": ["Pre"], "post": ["Post"]},
                 columns={"id": "row", "delivery": "Group", "age": "Age"})
    cohort = prepare_cohort(cfg)
    scores = cohort.children.scores
    assert scores["id"].tolist() == ["2", "2", "3", "3"]
    assert scores["total"].tolist() == [80.5, 82.0, 90.0, 91.5]
    assert scores["age"].tolist() == [9.0, 9.0, 12.0, 12.0]  # a person's age from the baseline questionnaire
    assert cohort.notes["children.csv"][-1] == "no id column: each row's number in the file is its id ('columns: {id: row}')"


def test_row_numbers_as_ids_only_for_wide_files(tmp_path):
    from evalkit.errors import DataError

    text = f"timepoint,{_header('')}\npre,{_answers(1)}\n"
    with pytest.raises(DataError, match=r"'columns: \{id: row\}' \(the row number as id\) works only with "
                                        r"'layout: wide'"):
        prepare_cohort(_small(tmp_path, text, columns={"id": "row"}))


def test_a_wide_row_with_nothing_in_it_is_a_blank_row(tmp_path):
    text = f"{_header('_pre')},{_header('_post')}\n{_answers(1)},{_answers(2)}\n{',' * 59}\n{_answers(3)},{_answers(3)}\n"
    cohort = prepare_cohort(_small(tmp_path, text, layout="wide", columns={"id": "row"}))
    excluded = cohort.rows[cohort.rows["status"] == "excluded"]
    assert excluded["_row"].tolist() == [3, 3] and set(excluded["reason"]) == {"blank row"}
    assert sorted(cohort.children.scores["id"].unique()) == ["2", "4"]


def test_a_file_per_timepoint_excludes_rows_whose_timepoint_disagrees(tmp_path):
    (tmp_path / "pre.csv").write_text(f"child_id,{_header('')}\nc1,{_answers(1)}\nc2,{_answers(1)}\n")
    (tmp_path / "post.csv").write_text(f"child_id,timepoint,{_header('')}\nc1,post,{_answers(2)}\n"
                                       f"c2,PRE,{_answers(2)}\nc3,,{_answers(2)}\n")
    path = tmp_path / "cohort.yml"
    path.write_text(yaml.safe_dump({"children": {"file": {"pre": "pre.csv", "post": ["post.csv"]},
                                                 "instrument": "eaq30"}}))
    cohort = prepare_cohort(path)
    rows = cohort.rows.set_index(["_file", "_row"])
    assert rows.loc[("post.csv", 3), "reason"] == "timepoint differs from its file"
    assert rows.loc[("post.csv", 4), "timepoint"] == "post" and rows.loc[("post.csv", 4), "status"] == "kept"
    log = cohort.log[cohort.log["reason"] == "timepoint differs from its file"]
    assert log["detail"].tolist() == ["label 'PRE' says pre, but the file is given for post"]
    summary = cohort.summary.set_index("file")
    assert summary.loc["post.csv", "timepoint differs from its file"] == 1
    assert sorted(cohort.children.scores.query("matched")["id"].unique()) == ["c1"]


def test_timepoint_labels_compare_as_numbers(tmp_path):
    text = (f"child_id,timepoint,{_header('')}\n"
            f"c1,01,{_answers(1)}\nc1,2.0,{_answers(2)}\nc2,1.0,{_answers(1)}\nc2, 2 ,{_answers(3)}\nc3,3,{_answers(3)}\n")
    cohort = prepare_cohort(_small(tmp_path, text, timepoints={"pre": [1], "post": ["02"]},
                                   columns={"id": "child_id", "timepoint": "timepoint"}))
    assert cohort.children.scores.groupby("id")["timepoint"].agg(list).to_dict() == {
        "c1": ["pre", "post"], "c2": ["pre", "post"]}
    assert cohort.rows.set_index("_row").loc[6, "reason"] == "unknown timepoint"
    assert cohort.problems.query("column == 'timepoint'")["rows"].tolist() == [1]


def test_wide_timepoint_labels_compare_as_numbers_too(tmp_path):
    text = f"id,{_header('_t01')},{_header('_t2')}\nc1,{_answers(1)},{_answers(2)}\n"
    cohort = prepare_cohort(_small(tmp_path, text, layout="wide", wide_columns="{item}_t{timepoint}",
                                   timepoints={"pre": [1], "post": [2]}, columns={"id": "id"}))
    assert cohort.children.scores["timepoint"].tolist() == ["pre", "post"]


def test_files_given_for_the_wrong_timepoints_say_so(tmp_path):
    from evalkit.errors import DataError

    (tmp_path / "a.csv").write_text(f"child_id,timepoint,{_header('')}\nc1,post,{_answers(1)}\n")
    (tmp_path / "b.csv").write_text(f"child_id,timepoint,{_header('')}\nc1,pre,{_answers(1)}\n")
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {"file": {"pre": "a.csv", "post": "b.csv"}}}))
    with pytest.raises(DataError, match=r"all 2 rows were excluded \(2 timepoint differs from its file\); the "
                                        r"timepoint column of the files contradicts"):
        prepare_cohort(tmp_path / "cohort.yml")
