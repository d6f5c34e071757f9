"""Issue 13's data: sessions, training dates and system outcomes read and cleaned (evalkit.data.service) into
``Cohort.sessions``, ``.training`` and ``.system``, with the children's codes shared, every exclusion logged and
accounted, and no group or facilitator name anywhere."""
import hashlib
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS, SAMPLE, write_cohort
from evalkit.data.pipeline import prepare_cohort
from evalkit.errors import DataError
from evalkit.validate import validate

TIP_ITEMS = ["k1", "k2", "k3", "k4", "u1", "u2", "u3", "u4", "c1", "c2", "c3", "c4"]
NAMES = ["Blue Room", "Red Room", "Green Room", "Jane Smith", "Ann Lee", "Bob Jones", "Zoe Park"]
SESSIONS_CFG = {"file": "sessions.csv",
                "columns": {"group": "group_id", "facilitator": "facilitator_id", "site": "site",
                            "date": "session_date", "session": "session_number", "attended": "children_present"},
                "fidelity": ["core_1", "core_2"], "planned_sessions": 3}
SYSTEM_CFG = {"file": "system.csv",
              "columns": {"locality": "area", "month": "month", "measure": "measure", "count": "count",
                          "denominator": "children_open"},
              "embedded_from": {"Kent North": "2025-09"},
              "measures": {"referrals_on": {"label": "Referrals on", "lower_is": "better"},
                           "escalations": {"label": "Escalations", "lower_is": "better"}}}


def _kids():
    """Four children in two named groups run by two named facilitators (names, as exports hold them)."""
    people = [("c1", "Blue Room", "Jane Smith"), ("c2", "Blue Room", "Jane Smith"),
              ("c3", "Red Room", "Ann Lee"), ("c4", None, "Ann Lee")]
    return pd.DataFrame([{"child_id": c, "timepoint": tp, "group_id": g, "facilitator_id": f,
                          **{q: 2 for q in EAQ_ITEMS}} for c, g, f in people for tp in ("pre", "post")])


def _facilitators(dates):
    """Facilitators' questionnaires (pre and post rows) with a training date column and a site."""
    return pd.DataFrame([{"facilitator_id": f, "timepoint": tp, "training_date": d, "site": s,
                          **{i: 3 for i in TIP_ITEMS}}
                         for f, (d, s) in dates.items() for tp in ("pre", "post")])


SESSIONS = [  # group, facilitator, site, date, session, present, core_1, core_2
    ["Blue Room", "Jane Smith", "North", "2025-10-01", "1", "2", "1", "yes"],
    ["blue room ", "Jane Smith", "north", "08/10/2025", "2", "2", "Y", "No"],
    ["Blue Room", "Jane Smith", "North", "15/10/2025", "3", "1", "TRUE", "false"],
    ["Blue Room", "Jane Smith", "North", "15/10/2025", "3", "1", "TRUE", "false"],  # exact duplicate
    ["Green Room", "Bob Jones", "South", "2025-11-03", "1", "5", "maybe", "1"],  # only in sessions
    ["", "Ann Lee", "South", "2025-11-04", "1", "3", "1", "1"],  # missing group
    ["Red Room", "Ann Lee", "South", "", "1", "3", "1", "1"],  # missing date
    ["Red Room", "Ann Lee", "South", "Zoe Park's", "1", "3", "1", "1"],  # date not a date (holds a name)
    ["Red Room", "Ann Lee", "South", "2025-11-10", "first", "-1", "0", "n"],
    ["", "", "", "", "", "", "", ""],  # blank row
]


def _cohort(tmp_path, sessions=SESSIONS, system=None, training=None, extra=None):
    folder = tmp_path / "in"
    fac = _facilitators(training) if training is not None else None
    path = write_cohort(folder, _kids(), fac, children_cfg={
        "columns": {"id": "child_id", "timepoint": "timepoint", "group": "group_id",
                    "facilitator": "facilitator_id"}}, extra=extra)
    raw = yaml.safe_load(path.read_text())
    if sessions is not None:
        pd.DataFrame(sessions, columns=["group_id", "facilitator_id", "site", "session_date", "session_number",
                                        "children_present", "core_1", "core_2"]).to_csv(folder / "sessions.csv",
                                                                                        index=False)
        raw["sessions"] = SESSIONS_CFG
    if system is not None:
        system.to_csv(folder / "system.csv", index=False)
        raw["system"] = SYSTEM_CFG
    if training is not None:
        raw["facilitators"]["columns"].update(trained_on="training_date", site="site")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def cohort(tmp_path):
    return prepare_cohort(_cohort(tmp_path))


def _text_of(cohort):
    """Every table and sentence the cohort carries about the children, sessions, training and system, as one text.

    (The facilitators' questionnaires are keyed by their own ids, as before issue 13: not checked here.)
    """
    mine = ["children", "sessions", "training", "system"]
    parts = [t[t["section"].isin(mine)] for t in (cohort.log, cohort.summary, cohort.problems, cohort.rows)]
    parts += [x for x in (cohort.sessions, cohort.training, cohort.system) if x is not None]
    parts += [s.waves for s in cohort.sections.values() if s.section == "children"]
    notes = {k: v for k, v in cohort.notes.items() if k != "facilitators"}
    return "\n".join([p.to_csv(index=False) for p in parts] + [json.dumps(notes), json.dumps(cohort.reading)])


# ----------------------------------------------------------------------------- sessions

def test_sessions_table_has_the_documented_columns_and_dtypes(cohort):
    s = cohort.sessions
    assert list(s.columns) == ["group", "facilitator", "site", "date", "session", "attended", "core_1", "core_2"]
    assert s["date"].dtype == "datetime64[ns]"
    assert str(s["session"].dtype) == "Int64" and str(s["attended"].dtype) == "Int64"
    assert s["core_1"].dtype == float and s["core_2"].dtype == float
    assert s["group"].map(type).eq(str).all()


def test_sessions_share_the_childrens_codes_and_extend_them(tmp_path, cohort):
    alone = prepare_cohort(_cohort(tmp_path / "alone", sessions=None))
    kids = cohort.children.waves.drop_duplicates("id").set_index("id")[["group", "facilitator"]]
    before = alone.children.waves.drop_duplicates("id").set_index("id")[["group", "facilitator"]]
    pd.testing.assert_frame_equal(kids, before)  # the children's codes stay exactly as they were
    blue = kids.loc["c1", "group"]
    jane = kids.loc["c1", "facilitator"]
    assert (blue, jane, kids.loc["c3", "group"]) == ("G001", "F001", "G002")
    s = cohort.sessions
    # Blue Room (and 'blue room ') is the children's G001, run by their F001; Green Room and Bob Jones are new
    assert s.loc[s["group"] == "G001", "facilitator"].unique().tolist() == ["F001"]
    assert s.loc[s["group"] == "G001", "session"].tolist() == [1, 2, 3]
    assert s.loc[s["group"] == "G003", "facilitator"].tolist() == ["F003"]
    assert set(s["group"]) == {"G001", "G002", "G003"}


def test_session_values_are_cleaned(cohort):
    s = cohort.sessions.set_index(["group", "session"], drop=False)
    blue = cohort.sessions[cohort.sessions["group"] == "G001"]
    assert blue["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-10-01", "2025-10-08", "2025-10-15"]  # d/m/y
    assert blue["core_1"].tolist() == [1.0, 1.0, 1.0] and blue["core_2"].tolist() == [1.0, 0.0, 0.0]
    assert blue["site"].tolist() == ["North"] * 3  # 'north' folded into the most common spelling
    green = s.loc[("G003", 1)]
    assert np.isnan(green["core_1"]) and green["core_2"] == 1.0 and green["attended"] == 5
    red = cohort.sessions[cohort.sessions["group"] == "G002"].iloc[0]
    assert red["session"] is pd.NA and red["attended"] is pd.NA and (red["core_1"], red["core_2"]) == (0.0, 0.0)


def test_every_excluded_session_row_is_logged_and_accounted(cohort):
    summary = cohort.summary.set_index(["section", "file"])
    row = summary.loc[("sessions", "sessions.csv")]
    assert (row["rows_in"], row["rows_kept"], row["rows_excluded"]) == (10, 5, 5)
    assert {k: row[k] for k in ("blank row", "missing group", "missing date", "date not a date",
                                "exact duplicate")} == dict.fromkeys(
        ("blank row", "missing group", "missing date", "date not a date", "exact duplicate"), 1)
    log = cohort.log[cohort.log["section"] == "sessions"]
    excluded = log[log["action"] == "excluded"].set_index("row")["reason"].to_dict()
    # spreadsheet rows: the header is row 1
    assert excluded == {5: "exact duplicate", 7: "missing group", 8: "missing date", 9: "date not a date",
                        11: "blank row"}
    assert log.loc[log["row"] == 5, "detail"].item() == "same values as sessions.csv row 4"
    assert log.loc[log["row"] == 9, "id"].item() == "G002"  # the group's code, never its name
    missing = log[log["action"] == "set missing"].set_index(["row", "column"])["reason"].to_dict()
    assert missing == {(6, "core_1"): "fidelity not yes/no or 1/0",
                       (10, "session"): "session number not a whole number of 1 or more",
                       (10, "attended"): "children present not a whole number of 0 or more"}
    rows = cohort.rows[cohort.rows["section"] == "sessions"]
    assert len(rows) == 10 and (rows["status"] == "kept").sum() == 5


def test_no_group_or_facilitator_name_reaches_any_table_or_note(tmp_path, cohort):
    text = _text_of(cohort)
    out = io.StringIO()
    validate(_cohort(tmp_path / "again"), out=out)
    for name in NAMES + ["blue room", "Zoe"]:
        assert name.casefold() not in text.casefold(), name
        assert name.casefold() not in out.getvalue().casefold(), name


def test_validation_findings_count_rows_and_never_quote_values(cohort):
    p = cohort.problems[cohort.problems["section"] == "sessions"].set_index("problem")
    assert p.loc["date not a date", ["column", "rows", "example_rows", "severity"]].tolist() == [
        "session_date", 1, "9", "error"]
    assert p.loc["fidelity not yes/no or 1/0", "handling"] == "set missing"


def test_missing_optional_and_fidelity_columns_are_warnings(tmp_path):
    frame = pd.DataFrame({"group_id": ["Blue Room"], "session_date": ["2025-10-01"]})
    path = _cohort(tmp_path)
    frame.to_csv(path.parent / "sessions.csv", index=False)
    cohort = prepare_cohort(path)
    p = cohort.problems[cohort.problems["section"] == "sessions"]
    assert set(p["column"]) == {"facilitator_id", "site", "session_number", "children_present", "core_1", "core_2"}
    assert (p["severity"] == "warning").all()
    s = cohort.sessions
    assert len(s) == 1 and s["facilitator"].isna().all() and s[["core_1", "core_2"]].isna().all().all()


def test_a_required_column_missing_is_a_data_error_naming_the_fix(tmp_path):
    path = _cohort(tmp_path)
    pd.DataFrame({"group_id": ["Blue Room"], "date": ["2025-10-01"]}).to_csv(path.parent / "sessions.csv",
                                                                             index=False)
    with pytest.raises(DataError, match="required date column 'session_date' not found.*set 'sessions.columns"
                                        ".date'"):
        prepare_cohort(path)


def test_input_files_are_never_modified(tmp_path):
    path = _cohort(tmp_path, system=_system_frame(), training={"Jane Smith": ("2025-09-01", "North")})
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.parent.iterdir()}
    prepare_cohort(path)
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.parent.iterdir()}


# ----------------------------------------------------------------------------- training

def test_training_is_one_row_per_trained_facilitator_with_their_first_session(tmp_path):
    dates = {"Jane Smith": ("2025-09-01", "North"), "Ann Lee": ("20/08/2025", "South"),
             "Bob Jones": ("", "South"), "Zoe Park": ("soon", "North")}
    cohort = prepare_cohort(_cohort(tmp_path, training=dates))
    t = cohort.training
    assert list(t.columns) == ["facilitator", "site", "trained_on", "first_session"]
    assert t["trained_on"].dtype == "datetime64[ns]" and t["first_session"].dtype == "datetime64[ns]"
    got = t.assign(trained_on=t["trained_on"].dt.strftime("%Y-%m-%d"),
                   first_session=t["first_session"].dt.strftime("%Y-%m-%d")).to_dict("records")
    # Jane Smith is the children's F001, Ann Lee F002, Bob Jones (sessions only) F003
    assert got == [{"facilitator": "F001", "site": "North", "trained_on": "2025-09-01", "first_session": "2025-10-01"},
                   {"facilitator": "F002", "site": "South", "trained_on": "2025-08-20", "first_session": "2025-11-10"}]
    log = cohort.log[cohort.log["section"] == "training"].set_index("id")["reason"].to_dict()
    assert log == {"F003": "no training date", "F004": "training date not a date"}
    row = cohort.summary.set_index(["section", "file"]).loc[("training", "facilitators.csv")]
    assert (row["rows_in"], row["rows_kept"], row["no training date"], row["training date not a date"]) == (4, 2, 1, 1)
    for name in NAMES:
        assert name.casefold() not in _text_of(cohort).casefold()


def test_a_facilitator_never_delivering_has_no_first_session(tmp_path):
    cohort = prepare_cohort(_cohort(tmp_path, sessions=None, training={"Jane Smith": ("2025-09-01", "North")}))
    assert cohort.sessions is None
    assert cohort.training["first_session"].isna().all() and cohort.training["facilitator"].tolist() == ["F001"]


def test_training_dates_that_differ_between_rows_keep_the_first(tmp_path):
    path = _cohort(tmp_path, training={"Jane Smith": ("2025-09-01", "North")})
    fac = pd.read_csv(path.parent / "facilitators.csv", dtype=str)
    fac.loc[1, "training_date"] = "2025-09-08"
    fac.to_csv(path.parent / "facilitators.csv", index=False)
    cohort = prepare_cohort(path)
    assert cohort.training["trained_on"].dt.strftime("%Y-%m-%d").tolist() == ["2025-09-01"]
    noted = cohort.log[(cohort.log["section"] == "training") & (cohort.log["action"] == "noted")]
    assert noted[["row", "id", "reason"]].values.tolist() == [[3, "F001", "training date differs from the first given"]]


def test_training_is_none_without_trained_on_and_a_warning_when_its_column_is_absent(tmp_path, cohort):
    assert cohort.training is None
    path = _cohort(tmp_path, training={"Jane Smith": ("2025-09-01", "North")})
    fac = pd.read_csv(path.parent / "facilitators.csv").drop(columns="training_date")
    fac.to_csv(path.parent / "facilitators.csv", index=False)
    cohort = prepare_cohort(path)
    assert cohort.training is None
    assert cohort.problems.query("section == 'training'")["problem"].tolist() == ["trained_on column not found"]


# ----------------------------------------------------------------------------- system outcomes

def _system_frame():
    rows = [["Kent North", "2025-08", "referrals_on", "40", "2,400"],
            ["kent  north", "Sep 2025", "Referrals_On", "30", "2400"],
            ["Kent North", "01/10/2025", "referrals_on", "31", "2400"],
            ["Kent North", "2025-11", "waiting_times", "3", "2400"],  # measure not configured
            ["Kent North", "2025-11", "referrals_on", "-2", "2400"],  # negative count
            ["Kent North", "2025-12", "referrals_on", "3.5", "2400"],  # not a whole number
            ["Kent North", "2026-01", "referrals_on", "30", "0"],  # denominator not above 0
            ["Kent North", "2026-02", "referrals_on", "", "2400"],  # missing count
            ["Kent North", "later", "referrals_on", "30", "2400"],  # month not a month
            ["", "2026-03", "referrals_on", "30", "2400"],  # missing locality
            ["Camden", "2025-09", "escalations", "4", "1500"],
            ["Camden", "2025-09", "escalations", "4", "1500"],  # exact duplicate
            ["Camden", "2025-10", "escalations", "4", "1500"],
            ["Camden", "2025-10", "escalations", "5", "1500"],  # the same month twice, different counts
            ]
    return pd.DataFrame(rows, columns=["area", "month", "measure", "count", "children_open"])


def test_system_table_has_the_documented_columns_and_dtypes(tmp_path):
    cohort = prepare_cohort(_cohort(tmp_path, system=_system_frame()))
    y = cohort.system
    assert list(y.columns) == ["locality", "month", "measure", "count", "denominator"]
    assert str(y["month"].dtype) == "period[M]" and str(y["count"].dtype) == "Int64"
    assert y["denominator"].dtype == float
    got = y.assign(month=y["month"].astype(str)).astype({"count": int}).values.tolist()
    assert got == [["Camden", "2025-09", "escalations", 4, 1500.0],
                   ["Kent North", "2025-08", "referrals_on", 40, 2400.0],
                   ["Kent North", "2025-09", "referrals_on", 30, 2400.0],
                   ["Kent North", "2025-10", "referrals_on", 31, 2400.0]]
    # localities are written as system.embedded_from writes them, so the embedding month can be looked up
    assert cohort.config.system.embedded_from["Kent North"] == y["month"].iloc[2]


def test_every_excluded_system_row_is_logged_with_its_reason(tmp_path):
    cohort = prepare_cohort(_cohort(tmp_path, system=_system_frame()))
    log = cohort.log[(cohort.log["section"] == "system") & (cohort.log["action"] == "excluded")]
    assert log.set_index("row")["reason"].to_dict() == {
        5: "measure not configured", 6: "count not a whole number of 0 or more",
        7: "count not a whole number of 0 or more", 8: "denominator not a number above 0", 9: "missing count",
        10: "month not a month", 11: "missing locality", 13: "exact duplicate",
        14: "duplicate locality, month and measure", 15: "duplicate locality, month and measure"}
    row = cohort.summary.set_index(["section", "file"]).loc[("system", "system.csv")]
    assert (row["rows_in"], row["rows_kept"], row["rows_excluded"]) == (14, 4, 10)
    assert "waiting_times" not in log["detail"].str.cat() and "later" not in log["detail"].str.cat()


def test_old_cohorts_are_unchanged(tmp_path):
    cohort = prepare_cohort(write_cohort(tmp_path, _kids()))
    assert cohort.sessions is None and cohort.training is None and cohort.system is None
    assert set(cohort.summary["section"]) == {"children"}
    assert "missing group" not in cohort.summary.columns


# ----------------------------------------------------------------------------- the sample

@pytest.fixture(scope="module")
def sample():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = prepare_cohort(SAMPLE / "cohort.yml")
    return cohort, json.loads((SAMPLE / "planted.json").read_text())


def test_sample_cleaning_finds_what_was_planted(sample):
    cohort, planted = sample
    for section, key in (("sessions", "sessions"), ("system", "system")):
        log = cohort.log[(cohort.log["section"] == section) & (cohort.log["action"] == "excluded")]
        assert sorted(log[["row", "reason"]].itertuples(index=False, name=None)) == sorted(
            (e["row"], e["reason"]) for e in planted[key]["planted"]["excluded"])
    sessions = cohort.log[cohort.log["section"] == "sessions"]
    missing = sessions[sessions["action"] == "set missing"]
    assert sorted(missing["row"]) == sorted(e["row"] for e in planted["sessions"]["planted"]["fidelity_invalid"]
                                            + planted["sessions"]["planted"]["attended_invalid"])
    assert len(cohort.sessions) == planted["sessions"]["n_sessions"]
    training = cohort.log[cohort.log["section"] == "training"]
    assert len(training) == 2 and len(cohort.training) == planted["training"]["by_site"]["overall"]["trained"]


def test_sample_sessions_recover_the_planted_delivery(sample):
    cohort, planted = sample
    s = cohort.sessions
    marks = s[planted["sessions"]["fidelity"]]
    # the two cells set missing leave the mean of the others; the clean file's mean was planted
    assert abs(100 * np.nanmean(marks.to_numpy()) - planted["sessions"]["fidelity_pct"]) < 0.1
    by_group = s.groupby("group")[planted["sessions"]["fidelity"]]
    per = pd.DataFrame({"n": s.groupby("group").size(),
                        "pct": 100 * by_group.sum().sum(axis=1) / by_group.count().sum(axis=1)})
    assert (per["n"] < 6).sum() == len(planted["sessions"]["short_groups"])
    assert sorted(per.loc[per["n"] < 6, "n"]) == sorted(g["sessions"] for g in planted["sessions"]["short_groups"])
    assert (per["pct"] < 80).sum() == len(planted["sessions"]["under_80"])
    assert len(per) == sum(planted["sessions"]["units"].values())
    # each child's group is delivered by the facilitator the children's file names for it
    kids = cohort.children.waves.dropna(subset=["group"]).drop_duplicates("id")[["group", "facilitator"]]
    pairs = set(map(tuple, s[["group", "facilitator"]].drop_duplicates().to_numpy()))
    assert set(map(tuple, kids.drop_duplicates().to_numpy())) <= pairs
    assert kids["group"].nunique() == planted["children"]["design"]["groups"]["n"]


def test_sample_training_recovers_training_without_embedding(sample):
    cohort, planted = sample
    t = cohort.training
    days = (t["first_session"] - t["trained_on"]).dt.days
    for site, truth in planted["training"]["by_site"].items():
        mine = days if site == "overall" else days[t["site"] == site]
        assert (len(mine), int((mine <= 91).sum()), int((mine <= 182).sum()), int(mine.isna().sum())) == (
            truth["trained"], truth["delivering_3m"], truth["delivering_6m"], truth["never"]), site
    site = planted["training"]["not_embedding_site"]
    share = {s: ((days <= 182) & (t["site"] == s)).sum() / (t["site"] == s).sum() for s in t["site"].unique()}
    assert min(share, key=share.get) == site and share[site] < 0.6


def test_sample_system_recovers_the_planted_level_change(sample):
    """An independent quasi-Poisson fit (statsmodels GLM, as R's glm(family = quasipoisson)) of Kent North's
    referrals: the planted rate ratio of 0.75 lies in the 95% interval of the level change, 1 does not."""
    import statsmodels.api as sm

    cohort, planted = sample
    truth = planted["system"]["level_change"]
    y = cohort.system
    y = y[(y["locality"] == truth["locality"]) & (y["measure"] == truth["measure"])].sort_values("month")
    assert len(y) == 24
    start = cohort.config.system.embedded_from[truth["locality"]]
    t = np.arange(len(y), dtype=float)
    after = (y["month"] >= start).to_numpy(dtype=float)
    t0 = float(np.flatnonzero(after)[0])
    exog = np.column_stack([np.ones_like(t), t, after, (t - t0) * after])
    fit = sm.GLM(y["count"].to_numpy(dtype=float), exog, family=sm.families.Poisson(),
                 offset=np.log(y["denominator"].to_numpy())).fit(scale="X2")
    low, high = np.exp(fit.conf_int()[2])
    assert low < truth["rate_ratio"] < high < 1
    months = y["month"].astype(str).tolist()
    assert [months[0], months[-1]] == planted["system"]["months"]
    medway = cohort.system[cohort.system["locality"] == "Medway"]
    after = medway.loc[medway["month"] >= cohort.config.system.embedded_from["Medway"], "month"].nunique()
    assert after == planted["system"]["months_before_after"]["Medway"][1] < 6


def test_sample_low_fidelity_groups_changed_less(sample):
    """The sample plants its low-fidelity groups among the groups whose children changed least (planted, so
    that the exploratory fidelity table reads the way the programme expects)."""
    cohort, planted = sample
    s = cohort.sessions
    fidelity = planted["sessions"]["fidelity"]
    pct = 100 * s.groupby("group")[fidelity].sum().sum(axis=1) / s.groupby("group")[fidelity].count().sum(axis=1)
    low = set(pct.index[pct < 80])
    assert len(low) == len(planted["sessions"]["low_fidelity_groups"])
    waves = cohort.children.waves
    wide = waves[waves["timepoint"].isin(["pre", "post"])].pivot_table(
        index=["id", "group"], columns="timepoint", values="verbal_sharing")
    change = (wide["post"] - wide["pre"]).dropna().groupby(level="group").mean()
    assert change[change.index.isin(low)].mean() < change[~change.index.isin(low)].mean()
