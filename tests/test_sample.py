"""Tests for evalkit.sample: determinism, shapes, realism, and that every planted problem is where the record says."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import SAMPLE
from evalkit.errors import EvalkitError
from evalkit.sample import (
    EMBEDDED_FROM,
    FIDELITY_COLUMNS,
    LEVEL_CHANGE,
    LOCALITIES,
    OUT_OF_RANGE,
    SESSION_COLUMNS,
    SITES,
    UNKNOWN_TIMEPOINTS,
    UNPARSEABLE,
    _instrument,
    main,
    make_children,
    make_facilitators,
    write_sample,
)

EAQ = _instrument("eaq30")
TIP = _instrument("facilitator_tip")
CHILD_FILES = ["children_site_a.csv", "children_site_b.csv", "children_site_c.xlsx"]
SUBSCALE = {sid: (items, rev) for sid, items, rev in EAQ["subscales"]}


# ----------------------------------------------------------------------------- helpers (independent of evalkit's readers)

def _read(folder, name):
    """Every cell as the text a person would see, read with the encoding the record promises."""
    path = folder / name
    if name.endswith(".xlsx"):
        return pd.read_excel(path, dtype=str, keep_default_na=False)
    encoding = {"children_site_a.csv": "utf-8-sig", "children_site_b.csv": "cp1252"}.get(name, "utf-8")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


def _cell(files, entry, column):
    return files[entry["file"]].iloc[entry["row"] - 2][column]


def _norm(text):
    return " ".join(str(text).split()).casefold()


def _keyed(frame, inst, sid):
    items, rev = next((i, r) for s, i, r in inst["subscales"] if s == sid)
    values = frame[items].astype(float)
    for item in rev:
        values[item] = inst["min"] + inst["max"] - values[item]
    return values


def _paired(frame, inst, sid, id_col):
    scores = _keyed(frame, inst, sid).mean(axis=1)
    wide = pd.DataFrame({"id": frame[id_col], "tp": frame["timepoint"], "s": scores}).pivot(
        index="id", columns="tp", values="s")
    return wide["pre"], wide["post"]


def _alpha(values):
    k = values.shape[1]
    return k / (k - 1) * (1 - values.var(ddof=1).sum() / values.sum(axis=1).var(ddof=1))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    record = write_sample(folder)
    files = {name: _read(folder, name) for name in CHILD_FILES + ["facilitators.csv", "sessions.csv", "system.csv"]}
    return folder, record, files


@pytest.fixture(scope="module")
def clean_kids():
    return make_children(4000, seed=3, messy=False)


# ----------------------------------------------------------------------------- determinism

def test_same_seed_gives_identical_frames():
    pd.testing.assert_frame_equal(make_children(120, seed=5), make_children(120, seed=5))
    pd.testing.assert_frame_equal(make_children(120, seed=5, messy=False), make_children(120, seed=5, messy=False))
    pd.testing.assert_frame_equal(make_facilitators(30, seed=5), make_facilitators(30, seed=5))


def test_other_seed_gives_other_answers():
    a = make_children(120, seed=5, messy=False)
    b = make_children(120, seed=6, messy=False)
    assert not a.filter(like="q").equals(b.filter(like="q"))


def test_written_files_are_byte_identical(tmp_path, sample):
    folder, record, _ = sample
    again = write_sample(tmp_path)
    assert again == record
    for name in CHILD_FILES + ["facilitators.csv", "sessions.csv", "system.csv", "cohort.yml", "planted.json",
                               "PLANTED.md"]:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


def test_committed_sample_is_what_make_sample_writes(sample):
    """data/sample is exactly a fresh ``python -m evalkit.sample data/sample`` (``make sample``)."""
    folder, _, _ = sample
    committed = sorted(p.name for p in SAMPLE.iterdir() if not p.name.startswith("."))
    assert committed == sorted(p.name for p in folder.iterdir())
    for name in committed:
        assert (SAMPLE / name).read_bytes() == (folder / name).read_bytes(), name


def test_messy_sample_is_the_clean_sample_with_problems_planted():
    clean = make_children(300, messy=False).set_index(["child_id", "timepoint"])
    messy = make_children(300, messy=True)
    messy["timepoint"] = messy["timepoint"].replace({"Baseline": "pre", "End": "post"})  # Site B's wording
    untouched = messy[messy["timepoint"].isin(["pre", "post"]) & messy["child_id"].str.fullmatch(r"C\d{4}")]
    untouched = untouched.drop_duplicates(["child_id", "timepoint"], keep=False)
    items = [f"q{i}" for i in range(1, 31)]
    numeric = untouched[items].apply(pd.to_numeric, errors="coerce")
    plain = numeric.notna().all(axis=1) & numeric.isin([1, 2, 3]).all(axis=1)
    rows = untouched[plain].set_index(["child_id", "timepoint"])
    assert len(rows) > 400
    expected = clean.loc[rows.index, items]
    np.testing.assert_array_equal(rows[items].astype(int).to_numpy(), expected.to_numpy())


# ----------------------------------------------------------------------------- shapes and realism

def test_clean_children_shape_and_factors(clean_kids):
    kids = clean_kids
    assert list(kids.columns) == (["child_id", "timepoint", "age", "delivery", "referral_reason", "site"]
                                  + [f"q{i}" for i in range(1, 31)] + ["notes"])
    assert len(kids) == 8000
    assert kids["child_id"].nunique() == 4000
    assert (kids.groupby("child_id")["timepoint"].agg(sorted).map(tuple) == ("post", "pre")).all()
    assert set(kids["site"]) == set(SITES)
    assert kids["age"].between(5, 16).all() and kids["age"].dtype == np.int64
    assert set(kids["delivery"]) == {"group", "one-to-one"}
    assert 0.58 < (kids["delivery"] == "group").mean() < 0.72
    assert kids["referral_reason"].nunique() == 4
    assert kids.filter(like="q").isin([1, 2, 3]).all().all()
    age = kids.pivot(index="child_id", columns="timepoint", values="age")
    assert set(age["post"] - age["pre"]) <= {0, 1}
    assert (age["post"] <= 16).all()


def test_clean_children_reliability_is_realistic(clean_kids):
    pre = clean_kids[clean_kids["timepoint"] == "pre"]
    for sid in SUBSCALE:
        assert 0.55 < _alpha(_keyed(pre, EAQ, sid)) < 0.85, sid


def test_clean_children_improve_on_three_subscales_only(clean_kids):
    for sid in ("differentiating", "verbal_sharing", "not_hiding"):
        pre, post = _paired(clean_kids, EAQ, sid, "child_id")
        change = post - pre
        assert change.mean() > 0.1, sid
        assert 0.3 < change.mean() / change.std() < 0.7, sid
    for sid in ("bodily_awareness", "attending_others", "analyses"):
        pre, post = _paired(clean_kids, EAQ, sid, "child_id")
        assert abs((post - pre).mean()) < 0.05, sid


def test_gain_is_larger_one_to_one_and_for_older_children(clean_kids):
    pre, post = _paired(clean_kids, EAQ, "differentiating", "child_id")
    change = post - pre
    person = clean_kids[clean_kids["timepoint"] == "pre"].set_index("child_id").loc[change.index]
    by_delivery = change.groupby(person["delivery"]).mean()
    assert by_delivery["one-to-one"] > by_delivery["group"] + 0.05
    older = person["age"] >= 11
    assert change[older].mean() > change[~older].mean() + 0.03


def test_facilitators_gain_on_every_subscale():
    fac = make_facilitators(600, seed=3, messy=False)
    assert list(fac.columns[:2]) == ["facilitator_id", "timepoint"]
    assert fac.filter(regex=r"^[kuc]\d$").isin([1, 2, 3, 4, 5]).all().all()
    for sid in ("knowledge", "understanding", "confidence"):
        pre, post = _paired(fac, TIP, sid, "facilitator_id")
        assert (post - pre).mean() > 0.3, sid


def test_hundred_thousand_children():
    kids = make_children(100_000, seed=1, messy=False)
    assert kids.shape == (200_000, 37)
    assert kids["child_id"].nunique() == 100_000
    assert kids["child_id"].iloc[0] == "C000001"


def test_small_messy_cohort_is_refused():
    with pytest.raises(EvalkitError, match="at least 40 children"):
        make_children(10)
    assert len(make_children(10, messy=False)) == 20


# ----------------------------------------------------------------------------- files and config

def test_files_and_encodings(sample):
    folder, record, files = sample
    assert set(record["files"]) == set(CHILD_FILES) | {"facilitators.csv", "sessions.csv", "system.csv"}
    assert (folder / "children_site_a.csv").read_bytes().startswith(b"\xef\xbb\xbfchild_id,")
    site_b = (folder / "children_site_b.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        site_b.decode("utf-8")
    assert b"\r\n" in site_b
    assert (folder / "children_site_c.xlsx").read_bytes().startswith(b"PK\x03\x04")
    for name, site in zip(CHILD_FILES, SITES):
        assert set(files[name]["site"]) == {site}
    assert sum(len(files[n]) for n in CHILD_FILES) == record["children"]["n_rows"]
    assert len(files["facilitators.csv"]) == record["facilitators"]["n_rows"]


def test_cohort_config_follows_the_contract(sample):
    folder, _, _ = sample
    config = yaml.safe_load((folder / "cohort.yml").read_text())
    assert config == {
        "name": "Sample cohort 2026",
        "children": {
            "file": CHILD_FILES,
            "instrument": "eaq30",
            "columns": {"id": "child_id", "timepoint": "timepoint", "age": "age", "delivery": "delivery",
                        "referral_reason": "referral_reason", "site": "site",
                        # issue 12: the sample's groups, facilitators, sessions and waiting-list arm
                        "group": "group_id", "facilitator": "facilitator_id", "sessions": "sessions_attended",
                        "arm": "arm"},
            "items": {},
            "timepoints": {"pre": ["pre", "baseline"], "post": ["post", "end"],
                           "follow_up": ["follow-up", "6 months"]},
        },
        "facilitators": {
            "file": "facilitators.csv",
            "instrument": "facilitator_tip",
            # issue 13: training dates and the site each facilitator works at
            "columns": {"id": "facilitator_id", "timepoint": "timepoint", "trained_on": "training_date",
                        "site": "site"},
            "timepoints": {"pre": ["pre"], "post": ["post"], "follow_up": ["follow-up"]},
        },
        "sessions": {
            "file": "sessions.csv",
            "columns": {"group": "group_id", "facilitator": "facilitator_id", "site": "site",
                        "date": "session_date", "session": "session_number", "attended": "children_present"},
            "fidelity": ["core_1", "core_2", "core_3", "core_4"],
            "planned_sessions": 6,
        },
        "system": {
            "file": "system.csv",
            "columns": {"locality": "area", "month": "month", "measure": "measure", "count": "count",
                        "denominator": "children_open"},
            "embedded_from": {"Kent North": "2025-09", "Camden": "2025-11", "Medway": "2026-02"},
            "measures": {"referrals_on": {"label": "Referrals to specialist services", "lower_is": "better"},
                         "escalations": {"label": "Escalations to children's social care", "lower_is": "better"}},
        },
        "analysis": {"alpha": 0.05, "age_bands": [5, 11, 17], "min_group_n": 10,
                     "primary": ["differentiating", "verbal_sharing", "not_hiding"],
                     "comparison": {"intervention": ["healing together"], "comparison": ["waiting list"]},
                     "full_dose": 5},
        "disclosure": {"min_cell": 5},
        "about": {"description": "Children referred to Healing Together at three sample sites (synthetic data "
                                 "made by evalkit.sample), and the facilitators trained to deliver it.",
                  "period": "September 2025 to July 2026"},
    }


def test_record_is_written_and_counts_match_lists(sample):
    folder, record, _ = sample
    assert json.loads((folder / "planted.json").read_text(encoding="utf-8")) == record
    assert "conflicting_duplicates" in (folder / "PLANTED.md").read_text(encoding="utf-8")
    for section in ("children", "facilitators"):
        sec = record[section]
        assert sec["counts"], section
        for key, count in sec["counts"].items():
            assert count == len(sec[key]) > 0, (section, key)


# ----------------------------------------------------------------------------- planted problems are where recorded

def test_planted_cells(sample):
    _, record, files = sample
    kids = record["children"]
    labels = {_norm(k): v for k, v in EAQ["labels"].items()}
    for e in kids["text_labels"]:
        text = _cell(files, e, e["item"])
        assert text == e["value"] and not text.strip().isdigit()
        assert labels[_norm(text)] == e["means"]
    assert any(e["value"] != e["value"].strip() for e in kids["text_labels"])
    for e in kids["missing_answers"]:
        assert _cell(files, e, e["item"]) == ""
    for e in kids["out_of_range"]:
        assert e["value"] in OUT_OF_RANGE["eaq30"] and _cell(files, e, e["item"]) == str(e["value"])
    for e in kids["unparseable"]:
        assert e["value"] in UNPARSEABLE and _cell(files, e, e["item"]) == e["value"]
    for e in kids["too_many_missing"]:
        assert all(_cell(files, e, item) == "" for item in e["items"])
    for e in kids["non_ascii"]:
        assert e["file"] == "children_site_b.csv" and not _cell(files, e, "notes").isascii()


def test_unscorable_matches_an_independent_recount(sample):
    _, record, files = sample
    labels = {_norm(k) for k in EAQ["labels"]}
    found = set()
    for name in CHILD_FILES:
        frame = files[name]
        for sid, (items, _) in SUBSCALE.items():
            valid = frame[items].apply(lambda col: col.str.strip().isin(["1", "2", "3"]) | col.map(_norm).isin(labels))
            short = valid.mean(axis=1) < EAQ["min_answered"] - 1e-9
            found |= {(name, int(i) + 2, sid) for i in np.flatnonzero(short)}
    recorded = {(e["file"], e["row"], e["subscale"]) for e in record["children"]["unscorable"]}
    assert found == recorded
    assert recorded == {(e["file"], e["row"], e["subscale"]) for e in record["children"]["too_many_missing"]}


def test_timepoints_and_ids(sample):
    _, record, files = sample
    kids = record["children"]
    for e in kids["timepoint_variants"]:
        raw = _cell(files, e, "timepoint")
        assert raw == e["value"] != e["timepoint"] == _norm(raw)
    for e in kids["timepoint_synonyms"]:
        assert _cell(files, e, "timepoint") == e["value"] == {"pre": "Baseline", "post": "End"}[e["timepoint"]]
    assert " PRE" in {e["value"] for e in kids["timepoint_variants"]}
    site_b = files["children_site_b.csv"]["timepoint"]
    # every Site B row says Baseline or End but one unknown label and the follow-ups (issue 12's sample)
    later = (site_b == "Follow-up").sum()
    assert later > 0
    assert len(kids["timepoint_synonyms"]) == site_b.isin(["Baseline", "End"]).sum() == len(site_b) - 1 - later
    assert {e["value"] for e in kids["unknown_timepoints"]} == set(UNKNOWN_TIMEPOINTS)
    for e in kids["unknown_timepoints"]:
        assert _cell(files, e, "timepoint") == e["value"]
    for e in kids["id_variants"]:
        raw = _cell(files, e, "child_id")
        assert raw == e["value"] != e["pre_value"] == e["id"]
        assert raw.strip().upper() == e["id"]


def test_duplicates(sample):
    _, record, files = sample
    kids = record["children"]
    for e in kids["exact_duplicates"]:
        frame = files[e["file"]]
        first, second = (frame.iloc[r - 2] for r in e["rows"])
        assert first.equals(second)
    for e in kids["conflicting_duplicates"]:
        frame = files[e["file"]]
        same = frame[(frame["child_id"].str.strip().str.upper() == e["id"])
                     & (frame["timepoint"].map(_norm).isin({"pre": {"pre", "baseline"},
                                                             "post": {"post", "end"}}[e["timepoint"]]))]
        assert len(same) == 2
        first, second = same.iloc[0], same.iloc[1]
        assert [c for c in frame.columns if first[c] != second[c]] == e["items"]
    fac = record["facilitators"]
    for e in fac["exact_duplicates"]:
        first, second = (files["facilitators.csv"].iloc[r - 2] for r in e["rows"])
        assert first.equals(second)


def test_attrition(sample):
    _, record, files = sample
    kids = record["children"]
    allrows = pd.concat([files[n] for n in CHILD_FILES])
    tp = allrows["timepoint"].map(_norm).replace({"baseline": "pre", "end": "post"})
    ids = allrows["child_id"].str.strip().str.upper()
    seen = pd.crosstab(ids, tp)
    assert len(seen) == kids["n"]
    assert set(seen.index[(seen["pre"] > 0) & (seen["post"] == 0)]) == set(kids["pre_only"])
    assert set(seen.index[(seen["pre"] == 0) & (seen["post"] > 0)]) == set(kids["post_only"])
    assert ((seen["pre"] > 0) & (seen["post"] > 0)).sum() == kids["n_with_both"]
    assert 0.06 < len(kids["pre_only"]) / kids["n"] < 0.10
    fac = files["facilitators.csv"]
    fac_seen = pd.crosstab(fac["facilitator_id"], fac["timepoint"])
    assert set(fac_seen.index[fac_seen["post"] == 0]) == set(record["facilitators"]["pre_only"])


def test_command_line_writes_a_clean_sample(tmp_path, capsys):
    assert main([str(tmp_path), "--children", "50", "--facilitators", "10", "--clean", "--csv-only"]) == 0
    assert "50 children" in capsys.readouterr().out
    record = json.loads((tmp_path / "planted.json").read_text())
    assert record["messy"] is False and record["children"]["counts"] == {}
    site_c = pd.read_csv(tmp_path / "children_site_c.csv")
    assert set(site_c["timepoint"]) == {"pre", "post", "follow-up"}  # issue 12: the sample has a follow-up
    config = yaml.safe_load((tmp_path / "cohort.yml").read_text())
    assert config["children"]["file"][-1] == "children_site_c.csv"


# ----------------------------------------------------------------------------- issue 13: sessions, training, system

def test_sessions_file_is_one_row_per_delivered_session(sample):
    _, record, files = sample
    ses, planted = files["sessions.csv"], record["sessions"]["planted"]
    assert list(ses.columns) == list(SESSION_COLUMNS)
    assert len(ses) == record["sessions"]["n_rows"] == record["sessions"]["n_sessions"] + 3
    extra = {e["row"] for e in planted["excluded"]}
    kept = ses.drop(index=[r - 2 for r in extra])
    dates = pd.to_datetime(kept["session_date"], format="mixed", dayfirst=True)
    assert dates.min() >= pd.Timestamp("2025-09-01") and dates.max() <= pd.Timestamp("2026-07-31")
    assert set(kept["session_number"].astype(int)) == set(range(1, 7))
    groups = kept.assign(group=kept["group_id"].str.casefold()).groupby("group")["session_number"].size()
    assert sorted(groups[groups < 6]) == sorted(g["sessions"] for g in record["sessions"]["short_groups"])
    assert (groups <= 6).all()
    # the children's group ids and facilitator ids are the sessions' own
    kids = pd.concat([files[n] for n in CHILD_FILES])
    kid_groups = kids.loc[kids["group_id"] != "", ["group_id", "facilitator_id"]].drop_duplicates()
    pairs = set(map(tuple, kept.assign(group_id=kept["group_id"].str.strip())[["group_id", "facilitator_id"]]
                    .to_numpy()))
    assert set(map(tuple, kid_groups.to_numpy())) <= pairs | {(g.lower(), f) for g, f in pairs}


def test_planted_session_cells_are_where_the_record_says(sample):
    _, record, files = sample
    ses, planted = files["sessions.csv"], record["sessions"]["planted"]
    for key in ("fidelity_words", "fidelity_invalid", "attended_invalid", "group_spelling", "site_spelling"):
        for e in planted[key]:
            assert ses.iloc[e["row"] - 2][e["column"]] == e["value"], (key, e)
    reasons = {e["reason"]: e for e in planted["excluded"]}
    assert ses.iloc[reasons["missing group"]["row"] - 2]["group_id"] == ""
    assert ses.iloc[reasons["date not a date"]["row"] - 2]["session_date"] == "TBC"
    twice = reasons["exact duplicate"]
    assert ses.iloc[twice["row"] - 2].equals(ses.iloc[twice["same_as"] - 2])
    kept = ses.drop(index=[e["row"] - 2 for e in planted["excluded"]])
    site_b = kept[kept["site"] == "Site B"]["session_date"]
    assert site_b.str.fullmatch(r"\d{2}/\d{2}/\d{4}").all() and len(site_b) == planted["day_first_dates"]["rows"]
    fid = ses[list(FIDELITY_COLUMNS)].stack().map(str.casefold)
    assert set(fid) <= {"0", "1", "yes", "no", "y", "n", "true", "false", "?", "partly"}


def test_training_columns_on_facilitators_csv(sample):
    _, record, files = sample
    fac = files["facilitators.csv"]
    assert list(fac.columns[:4]) == ["facilitator_id", "timepoint", "training_date", "site"]
    per = fac.groupby("facilitator_id")[["training_date", "site"]].nunique()
    assert (per <= 1).all().all()  # one training date and one site per facilitator, on every row
    truth = record["training"]
    planted = truth["planted"]
    first = fac.drop_duplicates("facilitator_id").set_index("facilitator_id")
    assert [first.loc[e["id"], "training_date"] for e in planted["no_training_date"]] == [""]
    assert [first.loc[e["id"], "training_date"] for e in planted["not_a_date"]] == ["booked"]
    for e in planted["day_first"]:
        assert first.loc[e["id"], "training_date"] == e["value"]
        assert pd.Timestamp(e["date"]) == pd.to_datetime(e["value"], dayfirst=True)
    sites = truth["by_site"]
    assert sum(sites[s]["trained"] for s in SITES) == sites["overall"]["trained"] == truth["n"] - 2
    worst = min(SITES, key=lambda s: sites[s]["delivering_6m"] / sites[s]["trained"])
    assert worst == truth["not_embedding_site"] == "Site C"
    for s in SITES:
        share_3m = sites[s]["delivering_3m"] / sites[s]["trained"]
        assert share_3m > 0.75 if s != worst else share_3m < 0.4


def test_system_file_plants_three_localities_over_24_months(sample):
    _, record, files = sample
    sysm, truth = files["system.csv"], record["system"]
    assert list(sysm.columns) == ["area", "month", "measure", "count", "children_open"]
    extra = [e["row"] - 2 for e in truth["planted"]["excluded"]]
    kept = sysm.drop(index=extra)
    assert list(dict.fromkeys(sorted(kept["area"]))) == sorted(LOCALITIES)
    assert kept.groupby(["area", "measure"])["month"].nunique().eq(24).all() and len(kept) == 3 * 24 * 2
    assert sorted(set(kept["month"]))[0] == truth["months"][0] and sorted(set(kept["month"]))[-1] == truth["months"][1]
    assert truth["embedded_from"] == EMBEDDED_FROM and truth["level_change"] == LEVEL_CHANGE
    for locality, month in EMBEDDED_FROM.items():
        months = kept.loc[kept["area"] == locality, "month"].drop_duplicates()
        assert [int((months < month).sum()), int((months >= month).sum())] == truth["months_before_after"][locality]
    assert min(min(v) for v in truth["months_before_after"].values()) < 6  # Medway: too few months after
    assert sysm.iloc[truth["planted"]["thousands_separator"][0]["row"] - 2]["children_open"].count(",") == 1
    bad = {e["reason"]: sysm.iloc[e["row"] - 2] for e in truth["planted"]["excluded"]}
    assert bad["measure not configured"]["measure"] == "waiting_times" and bad["count not a whole number of 0 or more"][
        "count"] == "n/a"


def test_system_counts_show_the_planted_drop_in_crude_rates(sample):
    """Rates per 1,000 before and after embedding, counted by hand: the planted locality and measure drop by
    about the planted ratio (the seasonal dips and trend move it a little), the others stay within 25%."""
    _, record, files = sample
    kept = files["system.csv"].drop(index=[e["row"] - 2 for e in record["system"]["planted"]["excluded"]])
    kept = kept.assign(count=kept["count"].astype(int), open=kept["children_open"].str.replace(",", "").astype(int))
    for (locality, measure), part in kept[kept["area"] != "Medway"].groupby(["area", "measure"]):
        after = part["month"] >= EMBEDDED_FROM[locality]
        ratio = ((part.loc[after, "count"].sum() / part.loc[after, "open"].sum())
                 / (part.loc[~after, "count"].sum() / part.loc[~after, "open"].sum()))
        if (locality, measure) == (LEVEL_CHANGE["locality"], LEVEL_CHANGE["measure"]):
            assert abs(ratio - LEVEL_CHANGE["rate_ratio"]) < 0.08, ratio
        else:
            assert 0.8 < ratio < 1.25, (locality, measure, ratio)


def test_pre_post_design_writes_no_issue_13_files(tmp_path):
    write_sample(tmp_path, n_children=60, n_facilitators=20, xlsx_site=False, design="pre-post")
    assert not (tmp_path / "sessions.csv").exists() and not (tmp_path / "system.csv").exists()
    assert list(pd.read_csv(tmp_path / "facilitators.csv").columns[:3]) == ["facilitator_id", "timepoint", "k1"]
    config = yaml.safe_load((tmp_path / "cohort.yml").read_text())
    assert "sessions" not in config and "system" not in config
    assert "trained_on" not in config["facilitators"]["columns"]
