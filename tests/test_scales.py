"""Decimal scales (``response.step``), the section's ``response`` range and the pre-scored ``total_score``."""
import pandas as pd
import pytest
import yaml

from evalkit.data.instruments import load_instrument, parse_instrument
from evalkit.data.pipeline import prepare_cohort
from evalkit.data.validation import FINE, FRACTION, answer_kind, answer_problem
from evalkit.errors import ConfigError


def _instrument(**response):
    return parse_instrument({"id": "worry", "name": "Worry", "response": {"min": 0, "max": 10, **response},
                             "subscales": [{"id": "worry", "label": "Worry", "items": ["w1", "w2"]}]})


def _cohort(folder, answers, *, instrument=None, **section):
    """Children answering w1 (and w2 = 5) of a 0-10 instrument, or of ``instrument`` (a mapping)."""
    rows = [{"child_id": f"c{k}", "timepoint": tp, "w1": a, "w2": 5} for k, a in enumerate(answers)
            for tp in ("pre", "post")]
    pd.DataFrame(rows).to_csv(folder / "children.csv", index=False)
    inst = instrument or {"id": "worry", "name": "Worry", "response": {"min": 0, "max": 10, "step": 0.5},
                          "min_answered": 0.5, "subscales": [{"id": "worry", "label": "Worry", "items": ["w1", "w2"]}]}
    (folder / "worry.yml").write_text(yaml.safe_dump(inst))
    cfg = {"children": {"file": "children.csv", "instrument": "worry.yml", **section}}
    (folder / "cohort.yml").write_text(yaml.safe_dump(cfg))
    return prepare_cohort(folder / "cohort.yml")


def test_half_points_keep_every_answer(tmp_path):
    answers = ["0", "0.5", "3.5", "7,5", "9.5", "10", "4"]
    cohort = _cohort(tmp_path, answers)
    items = cohort.children.items
    assert items.loc[items["timepoint"] == "pre", "w1"].tolist() == [0, 0.5, 3.5, 7.5, 9.5, 10, 4]
    assert not (cohort.log["action"] == "set missing").any()
    assert cohort.problems.empty and cohort.warnings == []


def test_an_answer_off_the_step_is_set_missing_in_the_scales_words(tmp_path):
    cohort = _cohort(tmp_path, ["2.5", "2.25", "3"])
    missing = cohort.log[cohort.log["action"] == "set missing"]
    assert missing["reason"].unique().tolist() == ["not on the scale's step of 0.5"]
    assert missing["detail"].unique().tolist() == ["value 2.25 not on the steps of 0.5 from 0"]
    assert cohort.problems["problem"].tolist() == ["not on the scale's step of 0.5 (the scale is 0-10 in steps of 0.5)"]
    pre = cohort.children.items.query("timepoint == 'pre'").set_index("id")["w1"]
    assert pre["c0"] == 2.5 and pd.isna(pre["c1"]) and pre["c2"] == 3


@pytest.mark.parametrize("value, step, kind", [
    ("2.5", 0.5, FINE), ("2.25", 0.5, FRACTION), ("2.25", 0.25, FINE), ("0.3", 0.1, FINE),
    ("0.30000000000000004", 0.1, FINE), ("2.5", None, FRACTION), ("2.5", "any", FINE), ("2.123", "any", FINE),
])
def test_answers_are_checked_against_the_step_from_min(value, step, kind):
    inst = _instrument(**({} if step is None else {"step": step}))
    assert answer_kind(value, inst)[0] == kind


def test_steps_count_from_min_and_keep_the_whole_number_wording_for_step_1():
    odd = parse_instrument({"id": "s", "response": {"min": 0.5, "max": 4.5, "step": 1},
                            "subscales": [{"id": "a", "items": ["q1"]}]})
    assert [answer_kind(v, odd)[0] for v in ("1.5", "4.5", "2")] == [FINE, FINE, FRACTION]
    assert answer_problem(FRACTION, odd) == "not on the scale's step of 1 (the scale is 0.5-4.5 in steps of 1)"
    assert answer_problem(FRACTION, _instrument()) == "not a whole number (the scale is whole numbers 0-10)"
    # no step and a range that is not whole numbers: any number in range, as before
    free = parse_instrument({"id": "s", "response": {"min": 0.5, "max": 4.5}, "subscales": [{"id": "a", "items": ["q1"]}]})
    assert answer_kind("1.2345", free)[0] == FINE


@pytest.mark.parametrize("step, words", [(0, "step must be a positive number or 'any', not 0"),
                                         (-1, "not -1"), ("half", "not 'half'"), (True, "not True")])
def test_a_bad_step_is_refused(step, words):
    with pytest.raises(ConfigError, match=words):
        _instrument(step=step)


def test_the_sections_response_overrides_the_instruments(tmp_path):
    cohort = _cohort(tmp_path, ["12.5", "20", "0"], response={"min": 0, "max": 20})
    assert cohort.children.instrument.max == 20 and cohort.children.instrument.answer_step == 0.5
    assert not (cohort.log["action"] == "set missing").any()
    (tmp_path / "b").mkdir()
    cohort = _cohort(tmp_path / "b", ["2.25", "3"], response={"step": "any"})
    assert not (cohort.log["action"] == "set missing").any()


def test_a_response_override_that_leaves_a_label_outside_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="the response label 'not true' of instrument 'eaq30' is outside the "
                                          "range 5-10 that 'children.response' gives"):
        pd.DataFrame({"child_id": ["a"], "timepoint": ["pre"], "q1": [6]}).to_csv(tmp_path / "c.csv", index=False)
        (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {
            "file": "c.csv", "response": {"min": 5, "max": 10}}}))
        prepare_cohort(tmp_path / "cohort.yml")


def test_total_score_needs_the_sections_response(tmp_path):
    pd.DataFrame({"child_id": ["a", "a"], "timepoint": ["pre", "post"], "total": [12, 15.5]}).to_csv(
        tmp_path / "c.csv", index=False)
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {"file": "c.csv", "instrument": "total_score"}}))
    with pytest.raises(ConfigError) as err:
        prepare_cohort(tmp_path / "cohort.yml")
    assert err.value.column == "children.response"
    assert "'total_score' takes its response range from the cohort config" in str(err.value)
    # three lines of config: the instrument, the range, and (here) nothing else
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump({"children": {
        "file": "c.csv", "instrument": "total_score", "response": {"min": 0, "max": 40}}}))
    cohort = prepare_cohort(tmp_path / "cohort.yml")
    assert cohort.children.scores["total"].tolist() == [12.0, 15.5]
    assert cohort.instrument_warnings == []


def test_total_score_is_a_generic_container():
    total = load_instrument("total_score")
    assert total.warning is None and total.key_status.startswith("generic pre-scored total")
    assert [s.items for s in total.subscales] == [("total",)]
