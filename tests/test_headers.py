"""Headers matched to items by id, then by question text; Qualtrics' extra rows; forms' bookkeeping columns."""
import pandas as pd
import pytest
import yaml

from evalkit.data.cleaning import action_counts
from evalkit.data.headers import question_rows, text_key
from evalkit.data.pipeline import prepare_cohort

TEXTS = {"k1": "I know how domestic abuse can affect a child's development.",
         "k2": "I know the signs that a child may be experiencing trauma."}


@pytest.mark.parametrize("header", [
    "I know how domestic abuse can affect a child's development.",
    "  i KNOW how domestic   abuse can affect a child\u2019s development. ",
    "1. I know how domestic abuse can affect a child's development.",
    "Q1 - I know how domestic abuse can affect a child\u2019s development.",
    "Q1 \u2013 I know how domestic abuse can affect a child's development.",
    "1) I know how domestic abuse can affect a child's development.",
    "Question 1: I know how domestic abuse can affect a child's development.",
])
def test_question_text_keys_fold_case_space_quotes_dashes_and_numbers(header):
    assert text_key(header) == text_key(TEXTS["k1"])


def test_text_keys_keep_what_is_not_a_question_number():
    assert text_key("10-year-olds can tell") == "10-year-olds can tell"
    assert text_key("q1") == "q1" and text_key("Quite often - I cry") == "quite often - i cry"
    assert text_key("\u201cMe\u201d \u2014 I") == '"me" - i'


def _facilitators(folder, header_row, rows, *, columns=None, instrument=None):
    (folder / "f.csv").write_text("\n".join([header_row, *rows]) + "\n", encoding="utf-8")
    section = {"file": "f.csv", "instrument": instrument or "facilitator_tip",
               "columns": columns or {"id": "facilitator_id", "timepoint": "timepoint"}}
    (folder / "cohort.yml").write_text(yaml.safe_dump({"facilitators": section}))
    return prepare_cohort(folder / "cohort.yml")


def _items_of_facilitator_tip():
    from evalkit.data.instruments import load_instrument

    inst = load_instrument("facilitator_tip")
    return inst.items, inst.item_texts


def test_headers_match_by_text_and_a_typo_is_an_unmatched_column_logged_once(tmp_path):
    items, texts = _items_of_facilitator_tip()
    headers = [f"{k}. {texts[i]}" for k, i in enumerate(items, 1)]
    headers[1] = headers[1].replace("signs", "sings")  # a typo in k2's wording
    rows = [f"F1,pre,{','.join(['3'] * 12)}", f"F1,post,{','.join(['4'] * 12)}", f"F2,pre,{','.join(['2'] * 12)}"]
    cohort = _facilitators(tmp_path, "facilitator_id,timepoint," + ",".join(f'"{h}"' for h in headers), rows)
    matched = [item for _, _, item in cohort.reading["facilitators"]["by_text"]]
    assert matched == [i for i in items if i != "k2"]
    assert cohort.reading["facilitators"]["unmatched"] == [("f.csv", headers[1])]
    unmatched = cohort.log[cohort.log["reason"] == "unmatched column"]
    assert len(unmatched) == 1 and unmatched["row"].isna().all() and unmatched["column"].tolist() == [""]
    assert unmatched["action"].tolist() == ["dropped"]
    assert unmatched["detail"].iloc[0] == (f"column '{headers[1]}' matches no item id or question text and no "
                                           f"configured column; check its wording if it holds answers")
    # the counts shown on the data-quality page name no header (a header may be a name)
    shown = action_counts(cohort.log)
    assert shown.loc[shown["reason"] == "unmatched column", "columns"].tolist() == [""]
    assert "k2" in cohort.problems["column"].iloc[0]  # and the item is reported missing, as before
    assert cohort.notes["facilitators"][1:] == [
        "11 column(s) matched items by their question text",
        "1 column(s) matched no item and no configured column and were dropped (see 'unmatched column' in "
        "results/cleaning_log.csv)"]


def test_an_id_match_comes_before_a_text_match(tmp_path):
    items, texts = _items_of_facilitator_tip()
    header = "facilitator_id,timepoint," + ",".join(items) + f',"{texts["k1"]}"'
    rows = [f"F1,pre,{','.join(['3'] * 12)},5", f"F1,post,{','.join(['4'] * 12)},5"]
    cohort = _facilitators(tmp_path, header, rows)
    # k1 is found by its id; the column with k1's question text is then matched to nothing, dropped and logged
    assert cohort.reading["facilitators"]["by_text"] == []
    assert cohort.reading["facilitators"]["unmatched"] == [("f.csv", texts["k1"])]
    assert cohort.facilitators.items["k1"].tolist() == [3.0, 4.0]


def test_qualtrics_extra_rows_are_skipped_and_give_the_question_texts():
    frame = pd.DataFrame({"ResponseId": ["Response ID", '{"ImportId":"_recordId"}', "R_1"],
                          "Q2_1": ["Knowledge - I know how domestic abuse can affect a child's development.",
                                   '{"ImportId":"QID2_1"}', "4"], "_file": "q.csv", "_row": [2, 3, 4]})
    rest, texts, note = question_rows(frame)
    assert rest["_row"].tolist() == [4] and rest["Q2_1"].tolist() == ["4"]
    assert texts["Q2_1"].startswith("Knowledge - ")
    assert note == "Qualtrics export: rows 2-3 (question texts and import ids) skipped"
    plain = pd.DataFrame({"a": ["1", "2"], "_file": "p.csv", "_row": [2, 3]})
    assert question_rows(plain) == (plain, {}, None)


def test_forms_bookkeeping_is_dropped_unless_the_config_names_it(tmp_path):
    items, texts = _items_of_facilitator_tip()
    header = ("ID,Start time,Completion time,Email,Name,Last modified time,Timestamp,facilitator_id,timepoint,"
              + ",".join(items))
    rows = [f"1,2026-01-05,2026-01-05 10:09,a@b.org,Jane Smith,,x,F1,pre,{','.join(['3'] * 12)}",
            f"2,2026-03-05,2026-03-05 10:09,a@b.org,Jane Smith,,x,F1,post,{','.join(['4'] * 12)}"]
    cohort = _facilitators(tmp_path, header, rows)
    assert cohort.notes["f.csv"][-1] == ("form bookkeeping column(s) dropped, never shown: ID, Start time, "
                                         "Completion time, Email, Name, Last modified time, Timestamp")
    assert cohort.reading["facilitators"]["unmatched"] == []
    assert not (cohort.log["reason"] == "unmatched column").any()
    # named as a role, a bookkeeping column is read (here the questionnaire's date, for an age)
    (tmp_path / "b").mkdir()
    cohort = _facilitators(tmp_path / "b", header.replace("Email", "dob"), [r.replace("a@b.org", "2016-01-06")
                                                                             for r in rows],
                           columns={"id": "facilitator_id", "timepoint": "timepoint", "date": "Completion time",
                                    "date_of_birth": "dob"})
    assert "Completion time" not in cohort.notes["f.csv"][-1]
    assert cohort.facilitators.scores["age"].tolist() == [9.0, 9.0]  # not 10 until the day after the baseline date
