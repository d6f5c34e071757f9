"""Tests for evalkit.report.privacy: pseudonyms, small-count suppression, withheld groups, identifier scans."""
import hashlib
import json
import hmac
import math
import os
import stat

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.report.privacy import (
    HIDDEN,
    find_identifiers,
    load_or_create_salt,
    make_salt,
    pseudonymise,
    suppress_small_counts,
    suppression_note,
    withhold_small_groups,
)

SALT = "cohort-a-0123456789abcdef"
OTHER_SALT = "cohort-b-0123456789abcdef"
IDS = pd.Series(["HT-001", "HT-002", "HT-003", "HT-001"], index=[10, 11, 12, 13], name="child_id")


# --------------------------------------------------------------------------- pseudonymise


def test_pseudonym_is_truncated_hmac_sha256():
    # Reference: RFC 2104 HMAC as implemented by Python's hmac module, computed independently.
    expected = "P-" + hmac.new(SALT.encode(), b"HT-001", hashlib.sha256).hexdigest()[:8]
    assert pseudonymise(["HT-001"], salt=SALT).tolist() == [expected]


def test_pseudonyms_are_stable_and_keep_index_and_name():
    first = pseudonymise(IDS, salt=SALT)
    again = pseudonymise(IDS, salt=SALT)
    assert first.equals(again)
    assert first.index.tolist() == [10, 11, 12, 13] and first.name == "child_id"
    assert first[10] == first[13] and first.nunique() == 3
    assert first.str.fullmatch(r"P-[0-9a-f]{8}").all()


def test_different_salt_gives_unrelated_pseudonyms():
    assert not set(pseudonymise(IDS, salt=SALT)) & set(pseudonymise(IDS, salt=OTHER_SALT))


def test_no_raw_id_in_pseudonyms():
    out = pseudonymise(IDS, salt=SALT)
    assert find_identifiers(" ".join(out), IDS) == []
    assert not any(raw.split("-")[1] in p for raw in IDS for p in out)


def test_spreadsheet_forms_of_one_id_agree():
    out = pseudonymise(pd.Series([12, 12.0, " 12 ", "12"], dtype=object), salt=SALT)
    assert out.nunique() == 1


def test_missing_ids_stay_missing():
    out = pseudonymise(pd.Series(["HT-001", None, np.nan]), salt=SALT)
    assert out[0].startswith("P-") and out[1] is None and out[2] is None


def test_prefix_and_length():
    assert pseudonymise(["x"], salt=SALT, prefix="", length=12)[0] == \
        hmac.new(SALT.encode(), b"x", hashlib.sha256).hexdigest()[:12]
    assert pseudonymise(["x"], salt=SALT, prefix="C")[0].startswith("C-")


@pytest.mark.parametrize("salt", ["", "short", None, "   " * 10])
def test_weak_salt_refused(salt):
    with pytest.raises(ConfigError, match="salt"):
        pseudonymise(["HT-001"], salt=salt)


@pytest.mark.parametrize("length", [0, 3, 65, 8.0])
def test_length_out_of_range(length):
    with pytest.raises(ConfigError, match="length"):
        pseudonymise(["HT-001"], salt=SALT, length=length)


def test_clash_raises_instead_of_merging_children():
    # 2,000 ids in 65,536 four-digit pseudonyms: a clash is all but certain (birthday bound).
    with pytest.raises(DataError, match="share the pseudonym"):
        pseudonymise(range(2000), salt=SALT, length=4)


# --------------------------------------------------------------------------- salts


def test_make_salt():
    salt = make_salt()
    assert len(salt) == 64 and int(salt, 16) >= 0 and salt != make_salt()


def test_salt_file_created_private_and_reused(tmp_path):
    path = tmp_path / "results" / "cohort_a" / ".salt"
    salt = load_or_create_salt(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_salt(path) == salt and len(salt) == 64


def test_salt_file_inside_report_folder_refused(tmp_path):
    with pytest.raises(ConfigError, match="inside the shared report folder"):
        load_or_create_salt(tmp_path / "site" / ".salt", report_dir=tmp_path / "site")
    assert not (tmp_path / "site" / ".salt").exists()
    load_or_create_salt(tmp_path / "results" / ".salt", report_dir=tmp_path / "site")


def test_short_salt_file_refused(tmp_path):
    (tmp_path / ".salt").write_text("abc\n")
    with pytest.raises(ConfigError, match=r"\.salt"):
        load_or_create_salt(tmp_path / ".salt")


# --------------------------------------------------------------------------- suppress_small_counts


def test_small_counts_replaced_zero_and_threshold_kept():
    table = pd.DataFrame({"group": ["a"] * 6, "count": [0, 1, 3, 4, 5, 12]})
    out = suppress_small_counts(table)
    assert out["count"].tolist() == [0, "<5", "<5", "<5", 5, 12]
    assert table["count"].tolist() == [0, 1, 3, 4, 5, 12]  # input untouched


def test_min_cell_changes_threshold_and_marker():
    out = suppress_small_counts(pd.DataFrame({"n": [9, 10]}), min_cell=10)
    assert out["n"].tolist() == ["<10", 10]


def test_default_columns_are_integer_counts_only():
    table = pd.DataFrame({"n": [3, 20], "mean": [2.0, 3.0], "flag": [True, False],
                          "change": [-1, 3], "label": ["x", "y"]})
    out = suppress_small_counts(table)
    assert out["n"].tolist() == ["<5", 20]
    assert out["mean"].tolist() == [2.0, 3.0] and out["flag"].tolist() == [True, False]
    assert out["change"].tolist() == [-1, 3]  # negative values: not a count column
    assert out["label"].tolist() == ["x", "y"]


def test_float_counts_when_named_and_missing_kept():
    out = suppress_small_counts(pd.DataFrame({"n": [2.0, np.nan, 7.0]}), columns=["n"])
    assert out["n"][0] == "<5" and math.isnan(out["n"][1]) and out["n"][2] == 7.0


@pytest.mark.parametrize("bad", [[2.5, 7], [-1, 7], ["<5", 7]])
def test_named_column_must_hold_counts(bad):
    with pytest.raises(DataError, match="column 'n'.*not a count"):
        suppress_small_counts(pd.DataFrame({"n": bad}), columns=["n"])


def test_unknown_column_and_bad_min_cell():
    with pytest.raises(DataError, match="'nope'"):
        suppress_small_counts(pd.DataFrame({"n": [1]}), columns=["nope"])
    with pytest.raises(ConfigError, match="min_cell"):
        suppress_small_counts(pd.DataFrame({"n": [1]}), min_cell=0)


def test_percent_columns_follow_their_counts():
    table = pd.DataFrame({"improved": [3, 12], "improved_pct": [15.0, 60.0]})
    out = suppress_small_counts(table, percent_columns={"improved_pct": "improved"})
    assert out["improved"].tolist() == ["<5", 12]
    assert out["improved_pct"].tolist() == [HIDDEN, 60.0]


def test_complementary_suppression_hides_next_smallest():
    table = pd.DataFrame({
        "n": [20, 20, 20, 20, 20],
        "improved": [3, 2, 12, 3, 0],
        "no_change": [9, 3, 8, 17, 0],
        "deteriorated": [8, 15, 0, 0, 20],
    })
    group = ["improved", "no_change", "deteriorated"]
    out = suppress_small_counts(table, complementary=group,
                                percent_columns=None)
    rows = out[group].values.tolist()
    # one primary: the smallest other cell is hidden too, so 20 - shown cannot give it back
    assert rows[0] == ["<5", 9, HIDDEN]
    # two primaries already protect each other
    assert rows[1] == ["<5", "<5", 15]
    # nothing small: nothing hidden
    assert rows[2] == [12, 8, 0]
    # a zero is not used while a non-zero cell is available
    assert rows[3] == ["<5", HIDDEN, 0]
    assert rows[4] == [0, 0, 20]
    assert out["n"].tolist() == [20] * 5


def test_complementary_groups_and_percents():
    table = pd.DataFrame({"a": [4], "b": [6], "c": [10], "x": [1], "y": [30],
                          "b_pct": [30.0]})
    out = suppress_small_counts(table, complementary=[["a", "b", "c"], ["x", "y"]],
                                percent_columns={"b_pct": "b"})
    assert out.loc[0, ["a", "b", "c", "x", "y", "b_pct"]].tolist() == \
        ["<5", HIDDEN, 10, "<5", HIDDEN, HIDDEN]


def test_complementary_unknown_column():
    with pytest.raises(DataError, match="complementary"):
        suppress_small_counts(pd.DataFrame({"a": [1]}), complementary=["a", "b"])


def test_suppression_note_names_the_markers():
    assert suppression_note(10).startswith("<10: between 1 and 9 people. *: hidden")


# --------------------------------------------------------------------------- withhold_small_groups


def test_small_groups_withheld():
    stats = pd.DataFrame({"group": ["girls", "boys", "other"], "n": [14, 6, 10],
                          "mean_change": [2.5, 4.0, 1.0], "d": [0.5, 0.9, 0.2]})
    out = withhold_small_groups(stats)
    assert out["d"].isna().tolist() == [False, True, False]
    assert out["mean_change"].isna().tolist() == [False, True, False]
    assert out["note"].tolist() == ["", "withheld: fewer than 10 people", ""]
    assert out["n"].tolist() == [14, 6, 10] and out["group"].tolist() == ["girls", "boys", "other"]
    assert not stats["d"].isna().any()


def test_withhold_options_and_existing_notes():
    stats = pd.DataFrame({"size": [4, np.nan, 30], "d": [1, 2, 3], "p": [0.1, 0.2, 0.3],
                          "comment": ["pilot", None, "ok"]})
    out = withhold_small_groups(stats, n_column="size", min_group_n=5, note_column="comment",
                                columns=["d"])
    assert out["d"].isna().tolist() == [True, True, False]  # unknown size is withheld
    assert out["p"].tolist() == [0.1, 0.2, 0.3]
    assert out["comment"].tolist() == ["pilot; withheld: fewer than 5 people",
                                       "withheld: fewer than 5 people", "ok"]


def test_withhold_needs_size_column():
    with pytest.raises(DataError, match="group size column 'n'"):
        withhold_small_groups(pd.DataFrame({"d": [1.0]}))


# --------------------------------------------------------------------------- find_identifiers


@pytest.mark.parametrize("text, found", [
    ("Cohort of 2012", False),         # inside a longer number
    ("x12 and 12b", False),            # inside a word
    ("mean 3.12, total 1,200", False),  # inside decimals and thousands
    ("child 12.", True),
    ("(12)", True),
    ("<td>12</td>", True),
])
def test_whole_token_numbers(text, found):
    assert find_identifiers(text, ["12"]) == (["12"] if found else [])


def test_names_case_insensitive_and_multi_token():
    text = "<p>JANE   SMITH attended; O&#39;Brien did not.</p>"
    assert find_identifiers(text, ["Jane Smith", "Smith Jane", "o'brien", "Jane Smithers"]) == \
        ["Jane Smith", "o'brien"]


def test_ids_with_separators():
    text = "rows: ht 0012, HT_0013, HT-00145"
    assert find_identifiers(text, ["HT-0012", "HT-0013", "HT-0014"]) == ["HT-0012"]


def test_data_uris_are_not_scanned():
    page = '<img src="data:image/png;base64,iVBOR/12+Jane/Smith=="> <p>n = 30</p>'
    assert find_identifiers(page, ["12", "Jane Smith", "30"]) == ["30"]


def test_order_repeats_missing_and_numbers():
    assert find_identifiers("a 7 b 12", [12, "12", None, np.nan, "", 7, 12.0]) == ["12", "7"]


def test_pseudonymised_page_is_clean():
    ids = ["HT-001", "HT-002"]
    table = pd.DataFrame({"child": pseudonymise(ids, salt=SALT), "score": [3, 4]})
    assert find_identifiers(table.to_html(), ids) == []
    assert find_identifiers(pd.DataFrame({"child": ids}).to_html(), ids) == ids


# --------------------------------------------------------------------------- complementary suppression
# Issue 9, family 2: a hidden small count must not be recoverable as total minus the shown parts.

from evalkit.report.privacy import (  # noqa: E402
    complementary_suppression,
    data_values,
    derived_bounds,
    disclosure_check,
    exposures,
    html_tables,
    identifier_scan,
    protect_cells,
    table_problems,
    text_problems,
)

RC = ["improved", "no_change", "deteriorated"]
# the sample cohort's reliable change before issue 9: 269 - 26 - 242 = 1 deteriorated
SAMPLE_RC = pd.DataFrame({"measure": ["differentiating", "verbal_sharing", "not_hiding"],
                          "n": [269, 270, 270], "improved": [26, 37, 23], "no_change": [242, 230, 238],
                          "deteriorated": [1, 3, 9]})
# results/cleaning_summary.csv of the sample cohort (children, then facilitators)
SUMMARY = pd.DataFrame({
    "section": ["children"] * 4 + ["facilitators"] * 2,
    "file": ["a.csv", "b.csv", "c.xlsx", "all files", "f.csv", "all files"],
    "rows_in": [240, 185, 154, 579, 119, 119], "rows_kept": [236, 181, 153, 570, 118, 118],
    "rows_excluded": [4, 4, 1, 9, 1, 1], "unknown timepoint": [1, 1, 0, 2, 0, 0],
    "exact duplicate": [1, 1, 1, 3, 1, 1], "conflicting duplicate": [2, 2, 0, 4, 0, 0]})
REASONS = ["unknown timepoint", "exact duplicate", "conflicting duplicate"]


def test_derived_bounds_recover_the_issue_example():
    eq = [("n", RC)]
    assert derived_bounds({"n": 269, "improved": 26, "no_change": 242}, ["deteriorated"], eq) == {
        "deteriorated": (1, 1)}
    # with the next-smallest part hidden too, the small one keeps its whole range 1..4
    bounds = derived_bounds({"n": 269, "no_change": 242}, ["improved", "deteriorated"], eq,
                            small=["deteriorated"])
    assert bounds == {"deteriorated": (1, 4), "improved": (23, 26)}


def test_two_small_parts_of_a_shown_total_are_a_small_sum():
    # 10 = 8 + 1 + 1: both hidden, yet together they are 2
    found = exposures({"n": 10, "a": 8}, ["b", "c"], [("n", ["a", "b", "c"])])
    assert [f["problem"] for f in found] == ["recoverable", "recoverable", "small sum"]
    primary, secondary = protect_cells({"n": 10, "a": 8, "b": 1, "c": 1}, [("n", ["a", "b", "c"])])
    assert (primary, secondary) == ({"b", "c"}, {"a"})


def test_reliable_change_row_hides_the_next_smallest_part_not_n():
    out = complementary_suppression(SAMPLE_RC, relations=[("n", RC)], keep=["n"])
    assert out["improved"].tolist() == ["*", "*", 23]
    assert out["deteriorated"].tolist() == ["<5", "<5", 9]
    assert out["no_change"].tolist() == [242, 230, 238] and out["n"].tolist() == [269, 270, 270]


def test_matching_hides_the_total_before_matched():
    # facilitators: 60 people = <5 pre only + 0 post only + 58 matched (n of the outcome tables)
    table = pd.DataFrame({"people": [300, 60], "pre only": [25, 2], "post only": [5, 0],
                          "matched": [270, 58]})
    out = complementary_suppression(table, relations=[("people", ["pre only", "post only", "matched"])],
                                    keep=["matched"])
    assert out.to_dict("list") == {"people": [300, "*"], "pre only": [25, "<5"], "post only": [5, 0],
                                   "matched": [270, 58]}


def _accounting(min_cell):
    columns = ["rows_in", "rows_kept", "rows_excluded", *REASONS]
    return complementary_suppression(
        SUMMARY, relations=[("rows_in", ["rows_kept", "rows_excluded"]), ("rows_excluded", REASONS)],
        column_relations=[(3, [0, 1, 2], columns), (5, [4], columns)], min_cell=min_cell)


def test_accounting_with_row_and_column_totals():
    out = _accounting(5)
    assert out["rows_kept"].tolist() == ["*", "*", "*", 570, "*", "*"]
    assert out["rows_excluded"].tolist() == ["<5", "<5", "<5", 9, "<5", "<5"]
    assert out["rows_in"].tolist() == [240, 185, 154, 579, 119, 119]
    assert out["unknown timepoint"].tolist() == ["<5", "<5", 0, "<5", 0, 0]  # zeros stay shown
    shown = [[c.replace("_", " ") for c in out.columns]] + out.astype(str).values.tolist()
    assert table_problems([[h if h != "rows excluded" else "excluded" for h in
                            [x.replace("rows kept", "kept") for x in shown[0]]]] + shown[1:]) == []


def test_accounting_with_min_cell_10_hides_the_nine_and_its_complement():
    out = _accounting(10)
    assert out.loc[3, "rows_excluded"] == "<10" and out.loc[3, "rows_kept"] == "*"


def test_percent_of_a_complementary_cell_is_hidden():
    table = SAMPLE_RC.assign(improved_pct=[9.7, 13.7, 8.5])
    out = complementary_suppression(table, relations=[("n", RC)], keep=["n"],
                                    percent_columns={"improved_pct": "improved"})
    assert out["improved_pct"].tolist() == ["*", "*", 8.5]


def test_complementary_suppression_refuses_bad_min_cell_and_missing_columns():
    with pytest.raises(ConfigError):
        complementary_suppression(SAMPLE_RC, relations=[("n", RC)], min_cell=True)
    with pytest.raises(DataError, match="not in the table"):
        complementary_suppression(SAMPLE_RC, relations=[("n", ["improved", "lost"])])


@pytest.mark.parametrize("seed", range(30))
def test_no_hidden_count_is_ever_recoverable(seed):
    """Random one-total tables: after suppression, exposures() finds nothing (the routine's promise)."""
    rng = np.random.default_rng(seed)
    parts = rng.choice([0, 1, 2, 3, 4, 6, 9, 30], size=(6, 4))
    table = pd.DataFrame(parts, columns=list("abcd")).assign(n=parts.sum(axis=1))
    out = complementary_suppression(table, relations=[("n", list("abcd"))], min_cell=5)
    for _, row in out.iterrows():
        shown = {c: row[c] for c in "abcdn" if not isinstance(row[c], str)}
        hidden = [c for c in "abcdn" if isinstance(row[c], str)]
        small = [c for c in hidden if row[c] == "<5"]
        assert exposures(shown, hidden, [("n", list("abcd"))], small=small) == []


# --------------------------------------------------------------------------- the disclosure check


def _page(*tables, text=""):
    def one(rows):
        head = "<tr>" + "".join(f"<th>{c}</th>" for c in rows[0]) + "</tr>"
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
        return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
    return "<html><body>" + "".join(one(t) for t in tables) + text + "</body></html>"


def test_html_tables_reads_header_and_cells():
    assert html_tables(_page([["n", "kept"], [12, "&lt;5"]])) == [[["n", "kept"], ["12", "<5"]]]


def test_disclosure_check_finds_a_planted_recoverable_cell(tmp_path):
    # the sample report's tables before issue 9
    (tmp_path / "01_data_quality.html").write_text(_page(
        [["section", "file", "rows in", "kept", "excluded", "exact duplicate"],
         ["facilitators", "facilitators.csv", 119, 118, "&lt;5", "&lt;5"],
         ["facilitators", "all files", 119, 118, "&lt;5", "&lt;5"]],
        [["section", "people", "pre only", "post only", "matched"], ["facilitators", 60, "&lt;5", 0, 58]]))
    (tmp_path / "02_child_outcomes.html").write_text(_page(
        [["Measure", "n", "Reliably improved", "No reliable change", "Reliably deteriorated"],
         ["Differentiating Emotions", 269, "26 (10%)", "242 (90%)", "&lt;5"],
         ["Not Hiding Emotions", 270, "23 (9%)", "238 (88%)", "9 (3%)"]],
        text="<li>Reliable change (Jacobson–Truax, r = .62): 10% improved, 90% did not change reliably, "
             "fewer than 5 people deteriorated.</li>"))
    (tmp_path / "index.html").write_text(_page(text="<li>Scores rose (t(6) = 3.10), 7 matched children.</li>"))
    found = disclosure_check(tmp_path, 10)
    by_file = found.groupby("file")["problem"].apply(list).to_dict()
    quality = found[found["file"] == "01_data_quality.html"]
    assert set(quality["column"]) == {"excluded", "exact duplicate", "pre only"}
    assert "<5 can be worked out from the shown total and parts: it is 2" in by_file["01_data_quality.html"]
    outcomes = found[(found["file"] == "02_child_outcomes.html") & (found["where"] == "table 1")]
    assert sorted(map(tuple, outcomes[["row", "column", "problem"]].values.tolist())) == [
        (1, "Reliably deteriorated", "<5 can be worked out from the shown total and parts: it is 1"),
        (2, "Reliably deteriorated", "a count below min_cell 10 is shown")]
    assert any("100% minus them" in p for p in by_file["02_child_outcomes.html"])
    assert by_file["index.html"] == ["a count below min_cell 10 is printed: 7 matched children"]


def test_disclosure_check_reads_recorded_values_of_notebooks(tmp_path):
    import nbformat

    record = {"name": "children_reliable_change", "value": [
        {"measure": "total", "n": 20, "improved": 12, "no_change": 7, "deteriorated": 1}]}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "display_data", data={"application/vnd.evalkit.record+json": record, "text/plain": ""})])])
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, str(tmp_path / "notebooks" / "02.ipynb"))
    found = disclosure_check(tmp_path, 5)
    assert found["where"].tolist() == ["record children_reliable_change"]
    assert found["problem"].tolist() == ["a count below min_cell 5 is shown"]


def test_text_problems_leave_suppressed_sentences_alone():
    assert text_problems("Reliable change (Jacobson–Truax, r = .62): a number not shown improved, 90% did "
                         "not change reliably, fewer than 5 people deteriorated.") == []
    assert text_problems("Scores rose, 12 matched children.", min_cell=10) == []


# --------------------------------------------------------------------------- the identifier scan

def test_data_values_lists_ids_and_free_text_but_not_factors_or_labels(sample_config):
    ids, texts = data_values(sample_config)
    assert "C0001" in ids and "F001" in ids and len(ids) == 362
    assert "Interpreter present" in texts  # a notes column the config does not name
    assert not {"Site A", "group", "social care referral"} & set(texts)  # configured factor levels
    assert not {"often true", "pre", "baseline"} & set(texts)  # instrument and config labels
    assert "follow-up" not in texts  # a timepoint cell, but also words the report writes itself


def test_identifier_scan_finds_a_planted_id_and_note(tmp_path, sample_config):
    (tmp_path / "manifest.json").write_text(json.dumps({"config_path": str(sample_config)}))
    (tmp_path / "index.html").write_text("<p>Cohort report, 270 matched children, Site A</p>")
    (tmp_path / "leak.html").write_text("<td>c0001</td><p>interpreter&nbsp;PRESENT</p>")
    found = identifier_scan(tmp_path)
    assert found[["file", "where"]].values.tolist() == [["leak.html", "id"], ["leak.html", "data text"]]
    assert "C0001" not in found.to_string() and "Interpreter" not in found.to_string()


def test_identifier_scan_refuses_without_a_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot tell which cohort"):
        identifier_scan(tmp_path)


def test_matching_as_the_report_does_hides_people_not_a_part():
    # 300 people = 25 pre only + 3 post only + 272 matched; "25" is also in the cleaning actions table
    # ("no post questionnaire"), so hiding it as the complement would not protect the 3
    table = pd.DataFrame({"people": [300], "pre only": [25], "post only": [3], "matched": [272]})
    out = complementary_suppression(table, relations=[("people", ["pre only", "post only", "matched"])],
                                    keep=["pre only", "post only", "matched"])
    assert out.iloc[0].tolist() == ["*", 25, "<5", 272]


def test_checks_read_a_word_summary(tmp_path, sample_config):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_paragraph("Scores rose, 7 matched children. Seen with C0002.")
    table = doc.add_table(rows=2, cols=4)
    for j, text in enumerate(["people", "pre only", "post only", "matched"]):
        table.cell(0, j).text = text
    for j, text in enumerate(["60", "<5", "0", "58"]):
        table.cell(1, j).text = text
    doc.save(tmp_path / "summary.docx")
    found = disclosure_check(tmp_path, 10)
    assert sorted(found["problem"]) == ["<5 can be worked out from the shown total and parts: it is 2",
                                        "a count below min_cell 10 is printed: 7 matched children"]
    (tmp_path / "manifest.json").write_text(json.dumps({"config_path": str(sample_config)}))
    assert identifier_scan(tmp_path)[["file", "where"]].values.tolist() == [["summary.docx", "id"]]
