"""Tests for evalkit.report.privacy: pseudonyms, small-count suppression, withheld groups, identifier scans."""
import hashlib
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
