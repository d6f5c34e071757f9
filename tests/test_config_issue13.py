"""Issue 13's config contract, tested from outside exactly as spelled: ``sessions``, ``system`` and
``facilitators.columns.trained_on``; every bad value is a ConfigError (exit 2) naming the key and the fix."""
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS, SAMPLE, write_cohort
from evalkit.cli import main
from evalkit.data.config import load_config
from evalkit.errors import ConfigError

# the contract, key for key
SESSIONS = {"file": "sessions.csv",
            "columns": {"group": "group_id", "facilitator": "facilitator_id", "site": "site",
                        "date": "session_date", "session": "session_number", "attended": "children_present"},
            "fidelity": ["core_1", "core_2", "core_3", "core_4"],
            "planned_sessions": 6}
SYSTEM = {"file": "system.csv",
          "columns": {"locality": "area", "month": "month", "measure": "measure", "count": "count",
                      "denominator": "children_open"},
          "embedded_from": {"Kent North": "2025-09", "Camden": "2025-11"},
          "measures": {"referrals_on": {"label": "Referrals to specialist services", "lower_is": "better"},
                       "escalations": {"label": "Escalations to children's social care", "lower_is": "better"}}}


def _kids():
    return pd.DataFrame([{"child_id": f"c{k}", "timepoint": tp, **{q: 2 for q in EAQ_ITEMS}}
                         for k in range(3) for tp in ("pre", "post")])


def _path(tmp_path, sessions=None, system=None, **extra):
    top = {k: v for k, v in (("sessions", sessions), ("system", system)) if v is not None}
    return write_cohort(tmp_path, _kids(), extra={**top, **extra})


def _config(tmp_path, sessions=None, system=None, **extra):
    return load_config(_path(tmp_path, sessions, system, **extra))


def _with(base, key, value):
    """``base`` with ``key`` (dotted) set to ``value``, or removed when ``value`` is ``...``."""
    out = yaml.safe_load(yaml.safe_dump(base))
    *parents, last = key.split(".")
    node = out
    for p in parents:
        node = node[p]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


# ----------------------------------------------------------------------------- accepted as spelled

def test_contract_is_read_into_the_documented_attributes(tmp_path):
    cfg = _config(tmp_path, SESSIONS, SYSTEM)
    s = cfg.sessions
    assert s.files == [tmp_path.resolve() / "sessions.csv"]
    assert s.columns == SESSIONS["columns"]
    assert s.fidelity == ["core_1", "core_2", "core_3", "core_4"] and s.planned_sessions == 6
    y = cfg.system
    assert y.files == [tmp_path.resolve() / "system.csv"]
    assert y.columns == SYSTEM["columns"]
    assert y.embedded_from == {"Kent North": pd.Period("2025-09", freq="M"), "Camden": pd.Period("2025-11", freq="M")}
    assert all(isinstance(v, pd.Period) and v.freqstr == "M" for v in y.embedded_from.values())
    assert y.measures == {"referrals_on": {"label": "Referrals to specialist services", "lower_is": "better"},
                          "escalations": {"label": "Escalations to children's social care", "lower_is": "better"}}
    assert [p.name for p in cfg.input_files()] == ["children.csv", "sessions.csv", "system.csv"]


def test_every_new_section_is_optional(tmp_path):
    cfg = _config(tmp_path)
    assert cfg.sessions is None and cfg.system is None
    cfg = _config(tmp_path, {"file": ["a.csv", "b.xlsx"], "columns": {"group": "g", "date": "d"}})
    assert [p.name for p in cfg.sessions.files] == ["a.csv", "b.xlsx"]
    assert cfg.sessions.fidelity == [] and cfg.sessions.planned_sessions is None
    cfg = _config(tmp_path, system=_with(SYSTEM, "embedded_from", ...))
    assert cfg.system.embedded_from == {}


def test_sample_config_carries_the_contract():
    cfg = load_config(SAMPLE / "cohort.yml")
    assert cfg.sessions.columns == SESSIONS["columns"] and cfg.sessions.planned_sessions == 6
    assert cfg.facilitators.columns["trained_on"] == "training_date" and cfg.facilitators.columns["site"] == "site"
    assert cfg.system.embedded_from["Kent North"] == pd.Period("2025-09", freq="M")
    assert set(cfg.system.measures) == {"referrals_on", "escalations"}


def test_planned_sessions_written_as_a_float_is_a_whole_number(tmp_path):
    assert _config(tmp_path, _with(SESSIONS, "planned_sessions", 6.0)).sessions.planned_sessions == 6


def test_trained_on_belongs_to_the_facilitators_section(tmp_path):
    fac = pd.DataFrame([{"facilitator_id": "F1", "timepoint": tp, "training_date": "2025-09-01", "site": "A",
                         **{i: 3 for i in ("k1", "k2", "k3", "k4", "u1", "u2", "u3", "u4", "c1", "c2", "c3", "c4")}}
                        for tp in ("pre", "post")])
    path = write_cohort(tmp_path, _kids(), fac)
    raw = yaml.safe_load(path.read_text())
    raw["facilitators"]["columns"].update(trained_on="training_date", site="site")
    path.write_text(yaml.safe_dump(raw))
    assert load_config(path).facilitators.columns["trained_on"] == "training_date"
    with pytest.raises(ConfigError, match="read from the facilitators section only") as err:
        load_config(write_cohort(tmp_path, _kids(), children_cfg={
            "columns": {"id": "child_id", "timepoint": "timepoint", "trained_on": "training_date"}}))
    assert "children.columns.trained_on" in str(err.value)


# ----------------------------------------------------------------------------- every bad value: key and fix

BAD_SESSIONS = [
    ("fidelty", ["core_1"], "sessions.fidelty", "unknown key 'fidelty' in sessions.*Fix the spelling"),
    ("columns.room", "room", "sessions.columns.room", "unknown key 'room'.*allowed keys are attended, date"),
    ("columns.group", ..., "sessions.columns.group", "does not name the group column.*add group: <column name>"),
    ("columns.date", ..., "sessions.columns.date", "does not name the date column.*add date: <column name>"),
    ("columns", "group_id", "sessions.columns", "must map roles to column names"),
    ("columns.site", "group_id", "sessions.columns.site", "both name the column 'group_id'"),
    ("fidelity", "core_1", "sessions.fidelity", "must be a list of column names.*e.g. fidelity: \\[core_1"),
    ("fidelity", [1, 2], "sessions.fidelity", "must be a list of column names"),
    ("fidelity", ["core_1", "Core 1"], "sessions.fidelity", "lists a column twice"),
    ("fidelity", ["core_1", "site"], "sessions.fidelity", "'sessions.columns.site' names too"),
    ("planned_sessions", 0, "sessions.planned_sessions", "whole number of at least 1, not 0; write e.g."),
    ("planned_sessions", 5.5, "sessions.planned_sessions", "whole number of at least 1, not 5.5"),
    ("planned_sessions", True, "sessions.planned_sessions", "not true/false"),
    ("planned_sessions", "six", "sessions.planned_sessions", "not 'six'"),
    ("file", ..., "sessions.file", "section 'sessions' has no 'file'"),
    ("file", {"pre": "a.csv"}, "sessions.file", "a file per timepoint is for questionnaires only"),
    ("file", [""], "sessions.file", "entries must be paths"),
]


@pytest.mark.parametrize("key, value, column, message", BAD_SESSIONS,
                         ids=[f"{k}={v!r}" for k, v, _, _ in BAD_SESSIONS])
def test_bad_sessions_value_names_the_key_and_the_fix(tmp_path, key, value, column, message):
    with pytest.raises(ConfigError, match=message) as err:
        _config(tmp_path, _with(SESSIONS, key, value))
    assert err.value.column == column and f"column '{column}'" in str(err.value)
    assert err.value.exit_code == 2


BAD_SYSTEM = [
    ("denominators", {}, "system.denominators", "unknown key 'denominators' in system"),
    ("columns.denominator", ..., "system.columns.denominator",
     "does not name the denominator column.*needs locality, month, measure, count, denominator"),
    ("columns.locality", ..., "system.columns.locality", "does not name the locality column"),
    ("columns.month", ..., "system.columns.month", "does not name the month column"),
    ("columns.measure", ..., "system.columns.measure", "does not name the measure column"),
    ("columns.count", ..., "system.columns.count", "does not name the count column"),
    ("columns.rate", "rate", "system.columns.rate", "unknown key 'rate' in system.columns"),
    ("embedded_from.Camden", "2025-9", "system.embedded_from.Camden", "must be written YYYY-MM.*not '2025-9'"),
    ("embedded_from.Camden", "Nov 2025", "system.embedded_from.Camden", "must be written YYYY-MM"),
    ("embedded_from.Camden", "2025-13", "system.embedded_from.Camden", "must be written YYYY-MM"),
    ("embedded_from.Camden", 202511, "system.embedded_from.Camden", "must be written YYYY-MM.*not 202511"),
    ("embedded_from", ["Camden"], "system.embedded_from", "must map each locality to the month"),
    ("embedded_from.camden ", "2025-12", "system.embedded_from.camden ", "names the locality 'camden ' twice"),
    ("measures", ..., "system.measures", "must map each measure.*label and whether lower is better or worse"),
    ("measures", {}, "system.measures", "must map each measure"),
    ("measures.escalations.label", ..., "system.measures.escalations.label", "has no label; add the words"),
    ("measures.escalations.label", " ", "system.measures.escalations.label", "has no label"),
    ("measures.escalations.lower_is", "lower", "system.measures.escalations.lower_is",
     "must be better or worse, not 'lower'"),
    ("measures.escalations.lower_is", ..., "system.measures.escalations.lower_is", "must be better or worse, not None"),
    ("measures.escalations.higher_is", "worse", "system.measures.escalations.higher_is",
     "unknown key 'higher_is'.*allowed keys are label, lower_is"),
    ("measures.escalations", "Escalations", "system.measures.escalations", "must be a mapping with a label"),
    ("measures.Referrals_On", {"label": "x", "lower_is": "worse"}, "system.measures.Referrals_On",
     "cannot tell apart"),
    ("file", ..., "system.file", "section 'system' has no 'file'"),
]


@pytest.mark.parametrize("key, value, column, message", BAD_SYSTEM, ids=[f"{k}={v!r}" for k, v, _, _ in BAD_SYSTEM])
def test_bad_system_value_names_the_key_and_the_fix(tmp_path, key, value, column, message):
    with pytest.raises(ConfigError, match=message) as err:
        _config(tmp_path, system=_with(SYSTEM, key, value))
    assert err.value.column == column and f"column '{column}'" in str(err.value)


def test_a_full_date_as_embedding_month_says_write_the_month(tmp_path):
    path = _path(tmp_path, system=SYSTEM)
    path.write_text(path.read_text().replace("Camden: 2025-11", "Camden: 2025-11-01"))  # YAML reads a date
    with pytest.raises(ConfigError, match="YYYY-MM.*not a full date; write the first month"):
        load_config(path)


@pytest.mark.parametrize("section", ["sessions", "system"])
def test_a_section_that_is_not_a_mapping_names_itself(tmp_path, section):
    with pytest.raises(ConfigError, match=f"section '{section}' must be a mapping") as err:
        _config(tmp_path, **{section: "sessions.csv"})
    assert err.value.column == section


# ----------------------------------------------------------------------------- through the command line

def test_validate_exits_2_naming_a_bad_new_key(tmp_path, capsys):
    path = _path(tmp_path, _with(SESSIONS, "planned_sessions", 0))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sessions.planned_sessions" in err and "planned_sessions: 6" in err and "Traceback" not in err


def test_report_exits_2_on_a_bad_embedding_month(tmp_path, capsys):
    path = _path(tmp_path, system=_with(SYSTEM, "embedded_from.Kent North", "Sept 2025"))
    assert main(["report", str(path), "--out", str(tmp_path / "out"), "--no-notebooks"]) == 2
    err = capsys.readouterr().err
    assert "system.embedded_from.Kent North" in err and "YYYY-MM" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results").exists()


def test_validate_exits_2_when_a_sessions_file_is_missing(tmp_path, capsys):
    path = _path(tmp_path, SESSIONS)  # sessions.csv is never written
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sessions.csv" in err and "sessions.file" in err and "Traceback" not in err


def test_validate_exits_2_when_a_required_column_is_missing(tmp_path, capsys):
    path = _path(tmp_path, SESSIONS)
    pd.DataFrame({"group_id": ["G1"], "when": ["2025-09-01"]}).to_csv(tmp_path / "sessions.csv", index=False)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "required date column 'session_date' not found" in err and "sessions.columns.date" in err
