"""Issue 12's data layer: follow-up waves (long, file per wave, wide), arms, groups and facilitators as opaque
codes, sessions attended, ``SectionData.waves``, and the accounting that stays exact through all of it."""
import io

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS, SAMPLE, write_cohort
from evalkit.data.cleaning import SESSIONS_INVALID
from evalkit.data.cohort import SectionData
from evalkit.data.pipeline import prepare_cohort
from evalkit.validate import validate

TIMEPOINTS = {"pre": ["pre"], "post": ["post"], "follow_up": ["follow-up", "6 months"]}
ROLES = {"id": "child_id", "timepoint": "timepoint", "group": "group_id", "facilitator": "facilitator_id",
         "sessions": "sessions_attended", "arm": "arm"}
COMPARISON = {"analysis": {"comparison": {"intervention": ["healing together"], "comparison": ["waiting list"]},
                           "full_dose": 5}}
#: Raw cluster names that must never reach SectionData or the cleaning log.
NAMES = ("Rainbow Room", "Sunflower Group", "Ms Jones", "Mr Patel")


def _row(child, tp, value=2, **extra):
    return {"child_id": child, "timepoint": tp, **{q: value for q in EAQ_ITEMS}, **extra}


def _people():
    """Ten children: c0-c5 intervention in two named groups (c5 one-to-one), c6-c7 waiting list, c8 an unknown arm
    level on every row, c9 no arm at all; c0-c2 answer a follow-up, labelled two ways."""
    person = {
        "c0": dict(group_id="Rainbow Room", facilitator_id="Ms Jones", sessions_attended="6", arm="Healing Together"),
        "c1": dict(group_id="rainbow  room", facilitator_id="Ms Jones", sessions_attended="5", arm="healing together"),
        "c2": dict(group_id="Rainbow Room", facilitator_id="Ms Jones", sessions_attended="three",
                   arm="Healing together"),
        "c3": dict(group_id="Sunflower Group", facilitator_id="Mr Patel", sessions_attended="2.5",
                   arm="healing together"),
        "c4": dict(group_id="Sunflower Group", facilitator_id="Mr Patel", sessions_attended="-1",
                   arm="healing together"),
        "c5": dict(group_id="", facilitator_id="Mr Patel", sessions_attended="4", arm="healing together"),
        "c6": dict(group_id="", facilitator_id="", sessions_attended="", arm=" WAITING list"),
        "c7": dict(group_id="", facilitator_id="", sessions_attended="", arm="waiting list"),
        "c8": dict(group_id="", facilitator_id="", sessions_attended="", arm="Mrs Bloggs' class"),
        "c9": dict(group_id="", facilitator_id="", sessions_attended="", arm=""),
    }
    rows = []
    for k, (child, extra) in enumerate(person.items()):
        rows.append(_row(child, "pre", 1, **extra))
        rows.append(_row(child, "post", 2, **extra))
        if k < 3:
            rows.append(_row(child, "6 months" if k else "Follow-up", 3, **extra))
    return pd.DataFrame(rows)


@pytest.fixture
def cohort(tmp_path):
    path = write_cohort(tmp_path, _people(), children_cfg={"columns": ROLES, "timepoints": TIMEPOINTS},
                        extra=COMPARISON)
    return prepare_cohort(path)


def test_scores_hold_pre_and_post_of_the_intervention_arm_only(cohort):
    scores = cohort.children.scores
    assert set(scores["timepoint"]) == {"pre", "post"}
    assert sorted(scores["id"].unique()) == [f"c{k}" for k in range(6)]
    assert set(scores["arm"]) == {"intervention"}
    assert len(cohort.children.items) == len(scores)
    assert (cohort.children.items[["id", "timepoint"]].to_numpy() == scores[["id", "timepoint"]].to_numpy()).all()


def test_waves_hold_every_kept_person_every_wave_every_arm(cohort):
    waves = cohort.children.waves
    assert list(waves.columns) == list(cohort.children.scores.columns)
    assert sorted(waves["id"].unique()) == [f"c{k}" for k in range(8)]
    assert waves.groupby("timepoint")["id"].nunique().to_dict() == {"pre": 8, "post": 8, "follow_up": 3}
    assert waves.set_index("id")["arm"].groupby(level=0).first().to_dict() == {
        **{f"c{k}": "intervention" for k in range(6)}, "c6": "comparison", "c7": "comparison"}
    by_wave = waves.set_index(["timepoint", "id"])["differentiating"]
    np.testing.assert_allclose(by_wave["follow_up"], 4 - by_wave["pre"].loc[by_wave["follow_up"].index])
    assert list(waves["timepoint"][waves["id"] == "c0"]) == ["pre", "post", "follow_up"]
    assert len(cohort.children.waves_items) == len(waves)


def test_arm_levels_outside_the_config_and_blank_arms_are_excluded_and_logged_without_their_text(cohort):
    rows, log = cohort.rows, cohort.log
    c8 = rows[rows["id"] == "c8"]
    c9 = rows[rows["id"] == "c9"]
    assert (c8["status"] == "excluded").all() and set(c8["reason"]) == {"arm not a listed level"}
    assert (c9["status"] == "excluded").all() and set(c9["reason"]) == {"no arm"}
    logged = log[log["action"] == "excluded"]
    assert set(logged.loc[logged["id"] == "c8", "reason"]) == {"arm not a listed level"}
    assert set(logged.loc[logged["id"] == "c9", "reason"]) == {"no arm"}
    assert not log.astype(str).apply(lambda c: c.str.contains("Bloggs", case=False)).any().any()


def test_accounting_stays_exact_and_follow_up_rows_are_kept(cohort):
    rows, summary = cohort.rows, cohort.summary
    total = summary[summary["file"] == "all files"].iloc[0]
    assert total.rows_in == len(_people()) == total.rows_kept + total.rows_excluded
    assert total.rows_kept == len(cohort.children.waves) == 19
    assert total["arm not a listed level"] == 2 and total["no arm"] == 2
    excluded = rows[rows["status"] == "excluded"]
    logged = cohort.log[cohort.log["action"] == "excluded"]
    assert sorted(zip(excluded["_file"], excluded["_row"])) == sorted(zip(logged["file"], logged["row"]))
    assert (rows.loc[rows["timepoint"] == "follow_up", "status"] == "kept").all()


def test_groups_and_facilitators_become_opaque_codes(cohort):
    waves, log = cohort.children.waves, cohort.log
    person = waves.drop_duplicates("id").set_index("id")
    assert person.loc[["c0", "c1", "c2", "c3", "c4"], "group"].tolist() == ["G001"] * 3 + ["G002"] * 2
    assert person.loc[["c5", "c6", "c7"], "group"].isna().all()  # one-to-one and waiting list: no group
    assert person.loc[["c0", "c1", "c2", "c3", "c4", "c5"], "facilitator"].tolist() == ["F001"] * 3 + ["F002"] * 3
    shown = pd.concat([waves.astype(str), cohort.children.scores.astype(str), log.astype(str),
                       cohort.rows.astype(str), cohort.problems.astype(str)])
    for name in NAMES:
        for word in name.split():
            if len(word) > 3:
                assert not shown.apply(lambda c: c.str.contains(word, case=False)).any().any(), word


def test_sessions_are_whole_numbers_of_zero_or_more(cohort):
    person = cohort.children.waves.drop_duplicates("id").set_index("id")["sessions"]
    assert person.dtype == float
    assert person.loc[["c0", "c1", "c5"]].tolist() == [6.0, 5.0, 4.0]
    assert person.loc[["c2", "c3", "c4", "c6"]].isna().all()
    bad = cohort.log[cohort.log["reason"] == SESSIONS_INVALID]
    assert set(bad["id"]) == {"c2", "c3", "c4"} and set(bad["action"]) == {"set missing"}
    assert not bad["detail"].str.contains("three|2.5|-1").any()


def test_person_level_values_come_from_the_pre_row_and_a_disagreement_is_logged(tmp_path):
    frame = pd.DataFrame([_row("a", "pre", group_id="Blue", sessions_attended=3, arm="healing together"),
                          _row("a", "post", group_id="Green", sessions_attended=6, arm="waiting list"),
                          _row("b", "pre", group_id="Green", sessions_attended=5, arm="healing together"),
                          _row("b", "post", group_id="Green", sessions_attended=5, arm="")])
    cohort = prepare_cohort(write_cohort(tmp_path, frame, children_cfg={"columns": ROLES}, extra=COMPARISON))
    waves = cohort.children.waves
    a = waves[waves["id"] == "a"]
    assert set(a["group"]) == {"G001"} and set(a["sessions"]) == {3.0} and set(a["arm"]) == {"intervention"}
    assert set(waves.loc[waves["id"] == "b", "arm"]) == {"intervention"}  # a blank cell of a person with an arm
    noted = cohort.log[(cohort.log["id"] == "a") & (cohort.log["action"] == "noted")]
    assert set(noted["column"]) >= {"group", "sessions", "arm"}
    assert not noted["detail"].str.contains("Blue|Green").any()
    assert (cohort.rows["status"] == "kept").all()


def _wide_and_per_wave(tmp_path):
    people = _people()
    people = people[people["child_id"].isin(["c0", "c1", "c2", "c3"])]
    return people


def test_follow_up_from_a_file_per_wave_gives_the_same_waves(tmp_path, cohort):
    people = _wide_and_per_wave(tmp_path)
    folder = tmp_path / "per_wave"
    folder.mkdir()
    files = {}
    for wave, labels in (("pre", ["pre"]), ("post", ["post"]), ("follow_up", ["follow-up", "6 months"])):
        part = people[people["timepoint"].str.casefold().isin(labels)].drop(columns="timepoint")
        part.to_csv(folder / f"{wave}.csv", index=False)
        files[wave] = f"{wave}.csv"
    cfg = {"children": {"file": files, "instrument": "eaq30",
                        "columns": {k: v for k, v in ROLES.items() if k != "timepoint"},
                        "timepoints": TIMEPOINTS}, **COMPARISON}
    (folder / "cohort.yml").write_text(yaml.safe_dump(cfg))
    per_wave = prepare_cohort(folder / "cohort.yml").children.waves
    expected = cohort.children.waves
    expected = expected[expected["id"].isin(["c0", "c1", "c2", "c3"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(per_wave.drop(columns=["group", "facilitator"]),
                                  expected.drop(columns=["group", "facilitator"]), check_dtype=False)
    assert per_wave.groupby("timepoint")["id"].nunique().to_dict() == {"pre": 4, "post": 4, "follow_up": 3}


@pytest.mark.parametrize("suffix", ["follow_up", "6 months", "follow-up"])
def test_follow_up_from_a_wide_file(tmp_path, suffix):
    rows = []
    for k in range(4):
        row = {"child_id": f"k{k}", "group_id": "Room 1" if k < 3 else "", "arm": "healing together"}
        for wave, value in (("pre", 1), ("post", 2), (suffix, 3)):
            if wave == suffix and k == 3:
                value = ""  # k3 answered no follow-up
            row.update({f"{q}_{wave}": value for q in EAQ_ITEMS})
        rows.append(row)
    path = write_cohort(tmp_path, pd.DataFrame(rows), extra=COMPARISON, children_cfg={
        "layout": "wide", "columns": {"id": "child_id", "group": "group_id", "arm": "arm"}, "timepoints": TIMEPOINTS})
    cohort = prepare_cohort(path)
    waves = cohort.children.waves
    assert waves.groupby("timepoint")["id"].nunique().to_dict() == {"pre": 4, "post": 4, "follow_up": 3}
    by_wave = waves.set_index(["timepoint", "id"])["differentiating"]
    # every raw answer 3 at follow-up and 1 at pre: keyed, 3 is 4 minus what 1 is (reverse items included)
    np.testing.assert_allclose(by_wave["follow_up"], 4 - by_wave["pre"].loc[by_wave["follow_up"].index])
    assert set(cohort.children.scores["timepoint"]) == {"pre", "post"}
    total = cohort.summary.iloc[-1]
    assert total.rows_in == 12 == total.rows_kept + total.rows_excluded and total["no answers"] == 1


def test_old_shape_cohort_is_unchanged(tmp_path):
    """A cohort without groups, arms, follow-up or sessions: ``waves`` equals ``scores``, no new column."""
    frame = pd.DataFrame([_row(f"c{k}", tp) for k in range(4) for tp in ("pre", "post")])
    cohort = prepare_cohort(write_cohort(tmp_path, frame))
    sec = cohort.children
    pd.testing.assert_frame_equal(sec.waves, sec.scores)
    pd.testing.assert_frame_equal(sec.waves_items, sec.items)
    assert not {"group", "facilitator", "sessions", "arm"} & set(sec.scores.columns)


def test_section_data_built_without_waves_reads_waves_as_scores():
    scores = pd.DataFrame({"id": ["a"], "timepoint": ["pre"], "x": [1.0]})
    sec = SectionData(section="children", instrument=None, scores=scores, items=scores[["id", "timepoint"]],
                      measures=["x"], factors=[])
    assert sec.waves is sec.scores and sec.waves_items is sec.items


def test_validate_prints_the_roles_and_waves_found(tmp_path):
    path = write_cohort(tmp_path, _people(), children_cfg={"columns": ROLES, "timepoints": TIMEPOINTS},
                        extra=COMPARISON)
    out = io.StringIO()
    assert validate(path, out=out) == 0
    text = out.getvalue()
    assert "waves present (people, every arm): pre 8, post 8, follow_up 3" in text
    assert "arm: arm (intervention or comparison): intervention 6, comparison 2" in text
    assert "group: delivery groups (clusters; names replaced by codes): 2 groups, 5 of 8 people in one" in text
    assert "sessions: sessions attended (dose): 3 people with a value, 4 to 6 sessions" in text
    for name in NAMES:
        assert name not in text


def test_the_sample_has_every_new_role_and_wave():
    cohort = prepare_cohort(SAMPLE / "cohort.yml")
    sec = cohort.children
    assert {"group", "facilitator", "sessions", "arm"} <= set(sec.waves.columns)
    assert set(sec.waves["timepoint"]) == {"pre", "post", "follow_up"}
    assert set(sec.waves["arm"]) == {"intervention", "comparison"} and set(sec.scores["arm"]) == {"intervention"}
    assert sec.waves["group"].dropna().str.fullmatch(r"G\d{3}").all()
    assert set(cohort.facilitators.waves["timepoint"]) == {"pre", "post", "follow_up"}
    total = cohort.summary.groupby("section").last()
    assert (total["rows_in"] == total["rows_kept"] + total["rows_excluded"]).all()


# ----------------------------------------------------------------------------- the sample's planted design

def _keyed_mean(frame, inst, sid):
    sub = inst.measure(sid)
    values = frame[list(sub.items)].astype(float)
    for item in sub.reverse:
        values[item] = inst.min + inst.max - values[item]
    return values.mean(axis=1)


@pytest.fixture(scope="module")
def full_design():
    from evalkit.sample import make_children
    return make_children(4000, seed=3, messy=False, design="full")


def _change(kids, sid):
    """Change post - pre and follow-up - pre per child, with the child's pre row (independent of evalkit's cleaning)."""
    from evalkit.data.instruments import load_instrument
    from evalkit.sample import FOLLOW_UP_LABELS
    tp = kids["timepoint"].replace({label: "follow_up" for label in FOLLOW_UP_LABELS.values()})
    wide = pd.DataFrame({"id": kids["child_id"], "tp": tp, "s": _keyed_mean(kids, load_instrument("eaq30"), sid)}
                        ).pivot(index="id", columns="tp", values="s")
    person = kids[kids["timepoint"] == "pre"].set_index("child_id").loc[wide.index]
    return wide["post"] - wide["pre"], wide["follow_up"] - wide["pre"], person


def _icc1(d, cluster):
    """ICC(1) from a one-way ANOVA of ``d`` on ``cluster`` (issue 12's formula, computed here with pandas)."""
    grp = d.groupby(cluster)
    n, k, sizes = len(d), grp.ngroups, grp.size()
    msb = (sizes * (grp.mean() - d.mean()) ** 2).sum() / (k - 1)
    msw = ((d - grp.transform("mean")) ** 2).sum() / (n - k)
    n0 = (n - (sizes ** 2).sum() / n) / (k - 1)
    return (msb - msw) / (msb + (n0 - 1) * msw)


def test_full_design_columns_and_group_sizes(full_design):
    from evalkit.sample import DESIGN_COLUMNS
    kids = full_design
    assert list(kids.columns[6:10]) == list(DESIGN_COLUMNS)
    person = kids[kids["timepoint"] == "pre"]
    in_group = person.dropna(subset=["group_id"])
    assert in_group.groupby("group_id").size().between(4, 8).all()
    assert (in_group.groupby("group_id")["facilitator_id"].nunique() == 1).all()
    assert (in_group.groupby("group_id")["site"].nunique() == 1).all()
    assert person.loc[person["delivery"] == "one-to-one", "group_id"].isna().all()
    waiting = person["arm"] == "waiting list"
    assert set(person.loc[waiting, "site"]) == {"Site C"} and 0.3 < waiting[person["site"] == "Site C"].mean() < 0.7
    assert person.loc[waiting, ["group_id", "facilitator_id", "sessions_attended"]].isna().all().all()
    assert person.loc[~waiting, "sessions_attended"].between(0, 6).all()


def test_planted_effects_are_there(full_design):
    for sid in ("differentiating", "verbal_sharing", "not_hiding"):
        post, later, person = _change(full_design, sid)
        intervention = person["arm"] == "healing together"
        assert post[~intervention].mean() < 0.4 * post[intervention].mean(), sid  # the waiting list improves less
        kept = later.notna()
        assert later[kept].mean() > 0.7 * post[kept].mean() > 0, sid  # change mostly sustained
        assert later[kept & ~intervention].empty  # no waiting-list follow-up
        d = post[intervention].dropna()
        sessions = person.loc[d.index, "sessions_attended"].astype(float)
        assert np.polyfit(sessions, d, 1)[0] > 0.005, sid  # more sessions, a bit more change
        cluster = person.loc[d.index, "group_id"].fillna(pd.Series(d.index, index=d.index))
        assert 0.02 < _icc1(d, cluster) < 0.3, sid  # a modest positive ICC of change


def test_facilitator_confidence_fades_at_follow_up():
    from evalkit.data.instruments import load_instrument
    from evalkit.sample import make_facilitators
    fac = make_facilitators(600, seed=3, messy=False, design="full")
    tip = load_instrument("facilitator_tip")
    kept = {}
    for sid in ("knowledge", "confidence"):
        wide = pd.DataFrame({"id": fac["facilitator_id"], "tp": fac["timepoint"],
                             "s": _keyed_mean(fac, tip, sid)}).pivot(index="id", columns="tp", values="s")
        both = wide.dropna()
        kept[sid] = (both["follow-up"] - both["pre"]).mean() / (both["post"] - both["pre"]).mean()
    assert kept["knowledge"] > 0.7 and kept["confidence"] < 0.5


def test_pre_post_design_is_the_old_shape(tmp_path):
    from evalkit.sample import CHILD_COLUMNS, make_children, write_sample
    kids = make_children(60, seed=1, messy=False)
    assert list(kids.columns[:6]) == list(CHILD_COLUMNS) and "arm" not in kids.columns
    assert set(kids["timepoint"]) == {"pre", "post"}
    record = write_sample(tmp_path, n_children=60, n_facilitators=20, xlsx_site=False, design="pre-post")
    assert "design" not in record["children"] and "n_with_follow_up" not in record["children"]
    config = yaml.safe_load((tmp_path / "cohort.yml").read_text())
    assert "follow_up" not in config["children"]["timepoints"] and "comparison" not in config["analysis"]


def test_old_shape_fixture_is_a_cohort_without_groups_arms_follow_up_or_sessions():
    folder = SAMPLE.parents[1] / "tests" / "data" / "old_shape"
    cohort = prepare_cohort(folder / "cohort.yml")
    for sec in cohort.sections.values():
        assert not {"group", "facilitator", "sessions", "arm"} & set(sec.waves.columns)
        assert set(sec.waves["timepoint"]) == {"pre", "post"}
        pd.testing.assert_frame_equal(sec.waves, sec.scores)
    assert cohort.config.analysis["comparison"] is None


def test_planted_design_record_matches_the_sample_files():
    import json
    record = json.loads((SAMPLE / "planted.json").read_text(encoding="utf-8"))
    design = record["children"]["design"]
    files = [pd.read_csv(SAMPLE / "children_site_a.csv", dtype=str, encoding="utf-8-sig"),
             pd.read_csv(SAMPLE / "children_site_b.csv", dtype=str, encoding="cp1252"),
             pd.read_excel(SAMPLE / "children_site_c.xlsx", dtype=str)]
    rows = pd.concat(files, ignore_index=True)
    person = rows.assign(child_id=rows["child_id"].str.strip().str.upper()).drop_duplicates("child_id")
    assert (person["arm"] == "waiting list").sum() == design["arms"]["comparison"]
    assert person["group_id"].nunique() == design["groups"]["n"] == len(design["groups"]["sizes"])
    assert person.groupby("group_id").size().sort_values().tolist() == sorted(design["groups"]["sizes"])
    assert rows["timepoint"].isin(design["follow_up"]["labels"].values()).sum() == design["follow_up"]["n_rows"]
    counts = person["sessions_attended"].dropna().astype(float).astype(int).value_counts()
    assert {str(k): int(counts.get(k, 0)) for k in range(7)} == design["sessions"]["counts"]
    planted = (SAMPLE / "PLANTED.md").read_text(encoding="utf-8")
    assert f"{design['groups']['n']} groups of 4 to 8" in planted and "training that does not last" in planted
