"""Issue 12's config contract, tested from outside exactly as spelled: roles group/facilitator/sessions/arm,
``timepoints.follow_up``, ``analysis.comparison``, ``analysis.full_dose``, and instrument ``ages``/``norms``."""
import re

import pandas as pd
import pytest
import yaml

from evalkit.data.config import load_config
from evalkit.data.instruments import load_instrument, parse_instrument
from evalkit.errors import ConfigError

from conftest import EAQ_ITEMS, write_cohort


def _kids(n=3, **extra):
    rows = []
    for k in range(n):
        for tp in ("pre", "post"):
            rows.append({"child_id": f"c{k}", "timepoint": tp, **{q: 2 for q in EAQ_ITEMS}, **extra})
    return pd.DataFrame(rows)


def _config(tmp_path, children_cfg=None, extra=None, frame=None):
    return load_config(write_cohort(tmp_path, frame if frame is not None else _kids(group_id="a", arm="x"),
                                    children_cfg=children_cfg, extra=extra))


ROLES = {"group": "group_id", "facilitator": "facilitator_id", "sessions": "sessions_attended", "arm": "arm"}
COMPARISON = {"comparison": {"intervention": ["healing together"], "comparison": ["waiting list"]}}


def test_new_roles_are_accepted_in_both_sections(tmp_path):
    cfg = _config(tmp_path, {"columns": {"id": "child_id", "timepoint": "timepoint", **ROLES}},
                  extra={"analysis": COMPARISON})
    assert {k: cfg.children.columns[k] for k in ROLES} == ROLES
    raw = yaml.safe_load((tmp_path / "cohort.yml").read_text())
    raw["facilitators"] = {"file": "children.csv", "instrument": "eaq30",
                           "columns": {"id": "child_id", "group": "group_id", "sessions": "sessions_attended"}}
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump(raw))
    cfg = load_config(tmp_path / "cohort.yml")
    assert cfg.facilitators.columns["group"] == "group_id"
    assert cfg.facilitators.columns["sessions"] == "sessions_attended"


def test_follow_up_is_optional_and_stored_with_its_labels(tmp_path):
    cfg = _config(tmp_path)
    assert "follow_up" not in cfg.children.timepoints and cfg.children.waves == ("pre", "post")
    cfg = _config(tmp_path, {"timepoints": {"pre": ["pre"], "post": ["post"], "follow_up": ["follow-up", "6 months"]}})
    assert cfg.children.timepoints["follow_up"] == ["follow-up", "6 months"]
    assert cfg.children.waves == ("pre", "post", "follow_up")


@pytest.mark.parametrize("timepoints, match", [
    ({"pre": ["pre"], "post": ["post"], "follow_up": []}, "has no 'follow_up' labels"),
    ({"pre": ["pre"], "post": ["post", "later"], "follow_up": ["Later"]}, "listed under both post and follow_up"),
    ({"pre": ["pre"], "post": ["post"], "followup": ["x"]}, "unknown key 'followup'"),
])
def test_bad_follow_up_is_a_config_error_naming_the_key(tmp_path, timepoints, match):
    with pytest.raises(ConfigError, match=match) as err:
        _config(tmp_path, {"timepoints": timepoints})
    assert "children.timepoints" in str(err.value)


def test_file_per_wave_takes_follow_up(tmp_path):
    cfg = _config(tmp_path, {"file": {"pre": "a.csv", "post": "b.csv", "follow_up": "c.csv"},
                             "timepoints": {"pre": ["pre"], "post": ["post"], "follow_up": ["6 months"]}})
    assert cfg.children.file_timepoints == ["pre", "post", "follow_up"]
    cfg = _config(tmp_path, {"file": {"pre": "a.csv", "post": "b.csv", "6 months": "c.csv"},
                             "timepoints": {"pre": ["pre"], "post": ["post"], "follow_up": ["6 months"]}})
    assert cfg.children.file_timepoints == ["pre", "post", "follow_up"]
    with pytest.raises(ConfigError, match="names the timepoint 'follow_up'"):
        _config(tmp_path, {"file": {"pre": "a.csv", "post": "b.csv", "follow_up": "c.csv"}})


def test_comparison_is_stored_as_two_lists_of_text(tmp_path):
    cfg = _config(tmp_path, {"columns": {"id": "child_id", "timepoint": "timepoint", "arm": "arm"}},
                  extra={"analysis": {"comparison": {"intervention": ["healing together", 1],
                                                     "comparison": "waiting list"}}})
    assert cfg.analysis["comparison"] == {"intervention": ["healing together", "1"], "comparison": ["waiting list"]}
    assert _config(tmp_path).analysis["comparison"] is None


@pytest.mark.parametrize("comparison, match, key", [
    ({"intervention": [], "comparison": ["waiting list"]}, "no 'intervention' labels", "analysis.comparison"),
    ({"intervention": ["a"]}, "no 'comparison' labels", "analysis.comparison.comparison"),
    ({"intervention": ["Waiting  List"], "comparison": ["waiting list"]}, "both intervention and comparison",
     "analysis.comparison"),
    ({"intervention": ["a"], "comparison": ["b"], "control": ["c"]}, "unknown key 'control'", "analysis.comparison"),
    (["a", "b"], "must map intervention and comparison", "analysis.comparison"),
    ({"intervention": [True], "comparison": ["b"]}, "list of labels", "analysis.comparison.intervention"),
])
def test_bad_comparison_is_a_config_error(tmp_path, comparison, match, key):
    with pytest.raises(ConfigError, match=match) as err:
        _config(tmp_path, {"columns": {"id": "child_id", "timepoint": "timepoint", "arm": "arm"}},
                extra={"analysis": {"comparison": comparison}})
    assert key in str(err.value) and "cohort.yml" in str(err.value)


def test_comparison_needs_the_arm_column_and_the_arm_column_needs_comparison(tmp_path):
    with pytest.raises(ConfigError, match=r"'children\.columns\.arm' is not given; add it") as err:
        _config(tmp_path, extra={"analysis": COMPARISON})
    assert "children.columns.arm" in str(err.value)
    with pytest.raises(ConfigError, match="add 'analysis.comparison'"):
        _config(tmp_path, {"columns": {"id": "child_id", "timepoint": "timepoint", "arm": "arm"}})


def test_full_dose_default_and_validation(tmp_path):
    assert _config(tmp_path).analysis["full_dose"] == 5
    cfg = _config(tmp_path, extra={"analysis": {"full_dose": 6.0}})
    assert cfg.analysis["full_dose"] == 6 and isinstance(cfg.analysis["full_dose"], int)
    for bad in (0, 2.5, True, "five", -1):
        with pytest.raises(ConfigError, match="full_dose must be a whole number of at least 1") as err:
            _config(tmp_path, extra={"analysis": {"full_dose": bad}})
        assert "analysis.full_dose" in str(err.value)


BASE = {"id": "s", "name": "S", "response": {"min": 1, "max": 3},
        "subscales": [{"id": "a", "label": "A", "items": ["q1", "q2"]}], "total": {"id": "total"}}


def test_instrument_ages_and_norms_are_parsed():
    inst = parse_instrument({**BASE, "ages": [8, 16],
                             "norms": {"a": {"mean": 2.1, "sd": 0.4, "source": "  Author (2020),\n n = 500 "},
                                       "total": {"mean": 2, "sd": 1, "source": "x"}}})
    assert inst.ages == (8.0, 16.0) and all(isinstance(a, float) for a in inst.ages)
    assert inst.norms == {"a": {"mean": 2.1, "sd": 0.4, "source": "Author (2020), n = 500"},
                          "total": {"mean": 2.0, "sd": 1.0, "source": "x"}}
    plain = parse_instrument(BASE)
    assert plain.ages is None and plain.norms == {}


@pytest.mark.parametrize("extra, key", [
    ({"ages": [16, 8]}, "ages"), ({"ages": [8]}, "ages"), ({"ages": "8-16"}, "ages"), ({"ages": [True, 16]}, "ages"),
    ({"ages": [-1, 16]}, "ages"),
    ({"norms": [1]}, "norms"), ({"norms": {"b": {"mean": 1, "sd": 1, "source": "x"}}}, "norms.b"),
    ({"norms": {"a": {"mean": 1, "sd": 1}}}, "norms.a.source"),
    ({"norms": {"a": {"mean": 1, "sd": 0, "source": "x"}}}, "norms.a.sd"),
    ({"norms": {"a": {"mean": float("nan"), "sd": 1, "source": "x"}}}, "norms.a.mean"),
    ({"norms": {"a": {"mean": 1, "sd": 1, "source": " "}}}, "norms.a.source"),
    ({"norms": {"a": {"mean": 1, "sd": 1, "source": "x", "n": 5}}}, "norms.a.n"),
])
def test_bad_ages_and_norms_name_the_instrument_file_and_key(tmp_path, extra, key):
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({**BASE, **extra}))
    with pytest.raises(ConfigError) as err:
        load_instrument(str(path))
    assert "mine.yml" in str(err.value) and key in str(err.value)


def test_eaq30_ships_its_validated_ages_and_no_invented_norms():
    eaq = load_instrument("eaq30")
    assert eaq.ages == (8.0, 16.0) and eaq.norms == {}
    text = (load_instrument("eaq30").source and open(eaq.source, encoding="utf-8").read())
    assert re.search(r"SPECTRUM", text) and "Age 8-16" in text
