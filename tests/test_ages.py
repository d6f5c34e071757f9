"""Ages computed from a date of birth at the baseline questionnaire's date; the dates go no further."""
import datetime

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS
from evalkit.cli import main
from evalkit.data.layouts import day_first, parse_date, whole_years
from evalkit.data.pipeline import prepare_cohort
from evalkit.errors import ConfigError

#: child -> (date of birth as typed, pre date, post date); ages worked by hand in the comments
CHILDREN = {
    "c1": ("23/04/2016", "2024-04-22", "2024-06-30"),  # 7 at pre (birthday the next day); 8 at post: 7 is used
    "c2": ("05/01/2015", "2024-01-05", "2024-03-01"),  # 9 on the day of the birthday
    "c3": ("29/02/2016", "2024-02-28", "2024-02-29"),  # born on 29 February: 7 on the 28th
    "c4": ("01/06/2025", "2024-09-01", "2024-11-01"),  # born after the questionnaire: implausible
    "c5": ("01/06/1990", "2024-09-01", "2024-11-01"),  # 34: implausible for a child
    "c6": ("not known", "2024-09-01", "2024-11-01"),   # no date of birth
    "c7": ("10/10/2014", "", ""),                       # no questionnaire date
}


def _cohort(folder):
    rows = []
    for child, (dob, pre, post) in CHILDREN.items():
        for tp, date in (("pre", pre), ("post", post)):
            rows.append({"child_id": child, "timepoint": tp, "dob": dob, "completed_on": date,
                         **{q: 2 for q in EAQ_ITEMS}})
    pd.DataFrame(rows).to_csv(folder / "children.csv", index=False)
    (folder / "cohort.yml").write_text(yaml.safe_dump({"children": {
        "file": "children.csv", "columns": {"id": "child_id", "timepoint": "timepoint", "date_of_birth": "dob",
                                            "date": "completed_on"}}}))
    return folder / "cohort.yml"


def test_age_in_whole_years_at_the_baseline_questionnaire(tmp_path):
    cohort = prepare_cohort(_cohort(tmp_path))
    ages = cohort.children.scores.groupby("id")["age"].first()
    assert ages[["c1", "c2", "c3"]].tolist() == [7.0, 9.0, 7.0]
    assert ages[["c4", "c5", "c6", "c7"]].isna().all()
    assert cohort.children.scores.query("id == 'c1'")["age"].tolist() == [7.0, 7.0]  # post's 8 is a birthday
    assert not (cohort.log["reason"] == "differs from baseline value; baseline used").any()
    why = cohort.log[cohort.log["column"] == "age"].groupby("reason")["id"].agg(lambda s: sorted(set(s))).to_dict()
    assert why == {"age from the date of birth implausible (negative or over 25)": ["c4", "c5"],
                   "age not computed: the date of birth is not a date": ["c6"],
                   "age not computed: no questionnaire date": ["c7"]}
    assert "date of birth" in cohort.notes["children.csv"][-1] and "read day first" in cohort.notes["children.csv"][-1]


def test_the_dates_are_in_no_results_file(tmp_path):
    out = tmp_path / "out"
    assert main(["report", str(_cohort(tmp_path)), "--out", str(out), "--no-notebooks"]) == 0
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert any(p.name == "scores.csv" for p in written) and any(p.name == "cleaning_log.csv" for p in written)
    dates = {d for trio in CHILDREN.values() for d in trio if d and d != "not known"}
    dates |= {parse_date(d).isoformat() for d in dates}
    for path in written:
        data = path.read_bytes()
        for date in dates:
            assert date.encode() not in data, f"{date} in {path.relative_to(out)}"
    scores = pd.read_csv(out / "results" / "scores.csv")
    assert "dob" not in scores.columns and "completed_on" not in scores.columns and "age" in scores.columns


def test_dates_read_either_way_round():
    assert day_first(["01/02/2016", "13/02/2016"]) is True and day_first(["02/13/2016"]) is False
    assert parse_date("02/13/2016", dayfirst=False) == datetime.date(2016, 2, 13)
    assert parse_date("2016/02/13") == datetime.date(2016, 2, 13) and parse_date("13.02.16") == datetime.date(2016, 2, 13)
    assert parse_date("March 5, 2016") == datetime.date(2016, 3, 5) and parse_date("2016-02-30") is None
    born = np.array([[2016, 2, 29], [2010, 12, 31]])
    assert whole_years(born, np.array([[2017, 2, 28], [2011, 1, 1]])).tolist() == [0, 0]
    assert whole_years(born, np.array([[2017, 3, 1], [2011, 12, 31]])).tolist() == [1, 1]


def test_month_first_dates_of_a_us_export(tmp_path):
    rows = [{"child_id": "a", "timepoint": tp, "dob": "4/23/2016", "when": when, **{q: 2 for q in EAQ_ITEMS}}
            for tp, when in (("pre", "9/1/2024 10:00:00"), ("post", "12/13/2024 10:00:00"))]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {
        "file": "c.csv", "columns": {"id": "child_id", "timepoint": "timepoint", "date_of_birth": "dob",
                                     "date": "when"}}}))
    cohort = prepare_cohort(tmp_path / "cohort.yml")
    assert cohort.children.scores["age"].tolist() == [8.0, 8.0]
    assert "read month first (mm/dd/yyyy)" in cohort.notes["c.csv"][-1]


@pytest.mark.parametrize("columns, words", [
    ({"date_of_birth": "dob"}, "'children.columns.date_of_birth' needs 'children.columns.date' too"),
    ({"date_of_birth": "dob", "date": "d", "age": "age"}, "names both an age and a date of birth column"),
])
def test_a_date_of_birth_needs_a_date_and_no_age(tmp_path, columns, words):
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {
        "file": "c.csv", "columns": {"id": "child_id", "timepoint": "timepoint", **columns}}}))
    from evalkit.data.config import load_config

    with pytest.raises(ConfigError, match=words):
        load_config(tmp_path / "cohort.yml")
