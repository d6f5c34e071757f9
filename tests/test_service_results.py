"""Issue 13 results: implementation.csv, embedding.csv and system_its.csv as the data team gets them.

Each number is checked against an outside reference named beside it: pandas groupby arithmetic for fidelity,
statsmodels ``proportion_confint(method="wilson")`` for the delivery shares, and a statsmodels GLM
quasi-Poisson fit written out independently here (formula interface, R's ``glm(..., family = quasipoisson)``
model) for the interrupted time series; the planted level drop of the sample is recovered within its interval.
"""
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.proportion import proportion_confint

from evalkit.report.analysis import write_results
from evalkit.report.service import (FIDELITY_OUTCOMES_COLUMNS, fidelity_band, points, service_results,
                                    trust_rows)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

# the issue's contracts, spelled as issue 13 spells them (extras may only follow)
IMPLEMENTATION = ["level", "site", "group", "sessions_delivered", "sessions_planned", "fidelity_pct", "mean_attended",
                  "children_reached", "note"]
EMBEDDING = ["level", "site", "trained", "delivering_3m", "delivering_3m_ci_low", "delivering_3m_ci_high",
             "delivering_6m", "delivering_6m_ci_low", "delivering_6m_ci_high", "median_days_to_first_session", "note"]
SYSTEM_ITS = ["locality", "measure", "months_before", "months_after", "rate_before", "rate_after", "level_change_rr",
              "level_ci_low", "level_ci_high", "slope_change_rr", "slope_ci_low", "slope_ci_high", "p_level",
              "p_slope", "model", "note"]


def _sessions(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(1, 9):
        site = "Site A" if g <= 5 else "Site B"
        for s in range(1, (6 if g != 3 else 4) + 1):
            p = 0.95 if g % 4 else 0.6
            rows.append({"group": f"G{g:03d}", "facilitator": f"F{g:03d}", "site": site,
                         "date": pd.Timestamp("2025-10-01") + pd.Timedelta(days=7 * s), "session": s,
                         "attended": int(rng.integers(4, 9)),
                         **{f"core_{k}": float(rng.random() < p) if rng.random() > 0.05 else np.nan
                            for k in range(1, 5)}})
    out = pd.DataFrame(rows)
    return out.astype({"session": "Int64", "attended": "Int64"})


def _training():
    trained = pd.Timestamp("2025-06-02")
    days = [10, 60, 91, 92, 150, 182, 183, None, 40, 300, None, 20]
    return pd.DataFrame({"facilitator": [f"F{i:03d}" for i in range(1, 13)],
                         "site": ["Site A"] * 7 + ["Site B"] * 5, "trained_on": trained,
                         "first_session": [trained + pd.Timedelta(days=d) if d is not None else pd.NaT for d in days]})


def _system(seed=1, short_after=5):
    """Three localities over 24 months: two embed at month 12 and 14 with a 30% drop in referrals; the third
    embeds with only ``short_after`` months after."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2024-01", periods=24, freq="M")
    rows = []
    for loc, start in (("Kent North", 12), ("Camden", 14), ("Kent South", 24 - short_after)):
        for m, base in (("referrals_on", 0.04), ("escalations", 0.01)):
            for i, month in enumerate(months):
                den = float(rng.integers(1800, 2200))
                mu = den * base * np.exp(0.004 * i) * (0.7 if (m == "referrals_on" and i >= start) else 1)
                rows.append({"locality": loc, "month": month, "measure": m,
                             "count": int(rng.poisson(mu * rng.gamma(40, 1 / 40))), "denominator": den})
    out = pd.DataFrame(rows)
    out["count"] = out["count"].astype("Int64")
    embedded = {"Kent North": months[12], "Camden": months[14], "Kent South": months[24 - short_after]}
    return out, embedded


def _cohort(**parts):
    system, embedded = _system()
    config = SimpleNamespace(
        sessions=SimpleNamespace(fidelity=[f"core_{k}" for k in range(1, 5)], planned_sessions=6),
        system=SimpleNamespace(embedded_from=embedded,
                               measures={"referrals_on": {"label": "Referrals to specialist services",
                                                          "lower_is": "better"},
                                         "escalations": {"label": "Escalations to children's social care",
                                                         "lower_is": "better"}}))
    cohort = SimpleNamespace(config=config, sections={}, sessions=_sessions(), training=_training(), system=system)
    for key, value in parts.items():
        setattr(cohort, key, value)
    return cohort


@pytest.fixture(scope="module")
def results():
    return service_results(_cohort())


def test_results_files_have_the_issue_columns(results, tmp_path):
    write_results(results, tmp_path)
    for stem, contract in (("implementation", IMPLEMENTATION), ("embedding", EMBEDDING),
                           ("system_its", SYSTEM_ITS)):
        header = (tmp_path / f"{stem}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header[:len(contract)] == contract, stem
    assert (tmp_path / "system_its.csv").read_text().splitlines()[0].endswith(",note,dispersion")


def test_sections_absent_give_no_tables():
    cohort = _cohort(sessions=None, training=None, system=None)
    assert service_results(cohort) == {}
    assert points(SimpleNamespace(results={}, cohort=cohort, min_cell=5)).empty


def test_fidelity_is_pooled_over_sessions_as_pandas_groupby_counts_it(results):
    sessions = _sessions()
    cores = [f"core_{k}" for k in range(1, 5)]
    marks = sessions.melt(id_vars=["group", "site"], value_vars=cores, value_name="mark").dropna(subset=["mark"])
    # outside reference: pandas groupby arithmetic, delivered components over recorded components
    by_group = 100 * marks.groupby("group")["mark"].sum() / marks.groupby("group")["mark"].count()
    by_site = 100 * marks.groupby("site")["mark"].sum() / marks.groupby("site")["mark"].count()
    table = results["implementation"]
    groups = table[table["level"] == "group"].set_index("group")
    assert groups["fidelity_pct"].to_dict() == pytest.approx(by_group.to_dict())
    sites = table[table["level"] == "site"].set_index("site")
    assert sites["fidelity_pct"].to_dict() == pytest.approx(by_site.to_dict())
    overall = table[table["level"] == "overall"].iloc[0]
    assert overall["fidelity_pct"] == pytest.approx(100 * marks["mark"].mean())
    assert overall["mean_attended"] == pytest.approx(sessions["attended"].astype(float).mean())
    assert groups.loc["G003", "sessions_delivered"] == 4 and "fewer sessions than planned (4 of 6)" in \
        groups.loc["G003", "note"]
    assert (sites["sessions_planned"] == pd.Series({"Site A": 30, "Site B": 18})).all()
    # blank, not zero, where children's data carry no group
    assert table["children_reached"].isna().all()


def test_delivery_shares_carry_statsmodels_wilson_intervals(results):
    table = results["embedding"].set_index(["level", "site"])
    days = (_training()["first_session"] - _training()["trained_on"]).dt.days
    sites = _training()["site"]
    for (level, site), row in table.iterrows():
        d = days if level == "overall" else days[sites == site]
        for key, limit in (("3m", 91), ("6m", 182)):
            k = int(((d >= 0) & (d <= limit)).sum())
            assert row[f"delivering_{key}"] == k
            # outside reference: statsmodels proportion_confint, Wilson score interval
            low, high = proportion_confint(k, len(d), alpha=0.05, method="wilson")
            assert (row[f"delivering_{key}_ci_low"], row[f"delivering_{key}_ci_high"]) == pytest.approx((low, high))
        assert row["median_days_to_first_session"] == d.dropna().median()
    # 91 days counts at 3 months, 92 does not; 182 counts at 6 months, 183 does not
    assert table.loc[("site", "Site A"), ["delivering_3m", "delivering_6m"]].tolist() == [3, 6]


def _independent_fit(frame, start, pooled=False):
    """R's model written out with the statsmodels formula interface: t in months from each locality's first
    month, after = 1 from the embedding month, ta = (t - t0) * after; quasi-Poisson scale by Pearson."""
    frame = frame.sort_values(["locality", "month"]).copy()
    index = frame["month"].map(lambda p: p.year * 12 + p.month - 1)
    first = index.groupby(frame["locality"]).transform("min")
    t0 = frame["locality"].map(start) - first
    frame["t"] = (index - first).astype(float)
    frame["after"] = (frame["t"] >= t0).astype(float)
    frame["ta"] = (frame["t"] - t0) * frame["after"]
    frame["count"] = frame["count"].astype(float)
    formula = "count ~ 0 + C(locality) + t + after + ta" if pooled else "count ~ t + after + ta"
    return smf.glm(formula, data=frame, family=sm.families.Poisson(),
                   offset=np.log(frame["denominator"])).fit(scale="X2")


def test_its_coefficients_equal_an_independent_statsmodels_quasi_poisson_fit(results):
    system, embedded = _system()
    start = {k: v.year * 12 + v.month - 1 for k, v in embedded.items()}
    table = results["system_its"].set_index(["measure", "locality"])
    for measure in ("referrals_on", "escalations"):
        data = system[system["measure"] == measure]
        for locality in ("Kent North", "Camden"):
            fit = _independent_fit(data[data["locality"] == locality], start)
            row = table.loc[(measure, locality)]
            ci = fit.conf_int()
            assert row["level_change_rr"] == pytest.approx(np.exp(fit.params["after"]), rel=1e-8)
            assert row["slope_change_rr"] == pytest.approx(np.exp(fit.params["ta"]), rel=1e-8)
            assert (row["level_ci_low"], row["level_ci_high"]) == pytest.approx(tuple(np.exp(ci.loc["after"])),
                                                                                rel=1e-8)
            assert (row["slope_ci_low"], row["slope_ci_high"]) == pytest.approx(tuple(np.exp(ci.loc["ta"])),
                                                                                rel=1e-8)
            assert (row["p_level"], row["p_slope"]) == pytest.approx((fit.pvalues["after"], fit.pvalues["ta"]),
                                                                     rel=1e-6)
            assert row["dispersion"] == pytest.approx(fit.scale, rel=1e-8)
            before = data[(data["locality"] == locality) & (data["month"] < embedded[locality])]
            assert row["rate_before"] == pytest.approx(1000 * before["count"].sum() / before["denominator"].sum())
        # pooled: one intercept per modelled locality, shared trend, step and slope change
        both = data[data["locality"].isin(["Kent North", "Camden"])]
        fit = _independent_fit(both, start, pooled=True)
        row = table.loc[(measure, "all")]
        assert row["level_change_rr"] == pytest.approx(np.exp(fit.params["after"]), rel=1e-8)
        assert row["slope_change_rr"] == pytest.approx(np.exp(fit.params["ta"]), rel=1e-8)
        assert (row["level_ci_low"], row["level_ci_high"]) == pytest.approx(
            tuple(np.exp(fit.conf_int().loc["after"])), rel=1e-8)
        assert row["dispersion"] == pytest.approx(fit.scale, rel=1e-8)


def test_a_locality_with_too_few_months_gets_a_note_and_no_model(results):
    table = results["system_its"].set_index(["measure", "locality"])
    for measure in ("referrals_on", "escalations"):
        row = table.loc[(measure, "Kent South")]
        assert (row["months_before"], row["months_after"]) == (19, 5)
        assert "fewer than 6 months" in row["note"] and row["model"] == ""
        assert np.isnan([row["level_change_rr"], row["level_ci_low"], row["slope_change_rr"], row["p_level"]]).all()
        assert np.isfinite(row["rate_before"]) and np.isfinite(row["rate_after"])  # the rates are still given
        pooled = table.loc[(measure, "all")]
        assert "Kent South" not in pooled["note"] and pooled["months_after"] == 10 + 12


def test_fidelity_bands():
    assert [fidelity_band(v) for v in (100, 80, 79.99, np.nan)] == ["80% or more", "80% or more", "under 80%", None]


def _sample_has_service():
    return (SAMPLE / "sessions.csv").is_file() and (SAMPLE / "system.csv").is_file()


needs_sample = pytest.mark.skipif(not _sample_has_service(), reason="the sample has no sessions or system outcomes")


@pytest.fixture(scope="module")
def sample():
    import evalkit.notebook as ek

    return ek.load(str(SAMPLE / "cohort.yml"))


@needs_sample
def test_planted_level_drop_is_recovered_within_its_interval(sample):
    system = json.loads((SAMPLE / "planted.json").read_text(encoding="utf-8"))["system"]
    planted = system["level_change"]  # {"locality", "measure", "rate_ratio"}: the planted step
    rows = sample.results["system_its"].set_index(["measure", "locality"])
    row = rows.loc[(planted["measure"], planted["locality"])]
    assert row["level_ci_low"] < planted["rate_ratio"] < row["level_ci_high"], row
    # the locality planted with too few months is withheld, and left out of the pooled row
    short = sample.results["system_its"]
    short = short[short["locality"] == system["too_few_months"]]
    assert len(short) and short["level_change_rr"].isna().all()
    assert short["note"].str.contains("fewer than 6 months").all()
    pooled = sample.results["system_its"]
    assert not pooled.loc[pooled["locality"] == "all", "note"].str.contains(system["too_few_months"]).any()


@needs_sample
def test_sample_children_reached_and_fidelity_outcomes_count_the_children(sample):
    table = sample.results["implementation"]
    waves = sample.cohort.children.waves
    waves = waves[waves["arm"].astype("string").fillna("intervention") != "comparison"].dropna(subset=["group"])
    # outside reference: pandas, children of the programme arm by their (first) group
    expected = waves.drop_duplicates("id").groupby("group")["id"].nunique()
    groups = table[(table["level"] == "group") & table["children_reached"].notna()].set_index("group")
    assert groups["children_reached"].astype(int).to_dict() == expected.reindex(groups.index).astype(int).to_dict()
    linked = sample.results["fidelity_outcomes"]
    assert list(linked.columns) == FIDELITY_OUTCOMES_COLUMNS
    assert linked["note"].str.startswith("exploratory").all()


def test_trust_rows_name_the_caveats(results):
    data = SimpleNamespace(results=results, cohort=_cohort(), min_cell=5)
    said = dict(trust_rows(data))
    assert "association in time, not that the programme caused it" in said["System outcomes over time"]
    assert "self-reported" in said["Delivery records"]


def test_training_without_sessions_says_first_sessions_are_unknown():
    cohort = _cohort(sessions=None)
    table = service_results(cohort)["embedding"]
    assert (table["note"] == "no sessions were recorded, so no first session is known").all()
    said = points(SimpleNamespace(results={"embedding": table}, cohort=cohort, min_cell=5), "delivery")
    assert said["sentence"].tolist() == ["No sessions were recorded, so whether the 12 facilitators trained went on "
                                         "to deliver is not known; add a `sessions:` section to the cohort config."]


@needs_sample
def test_change_by_group_fidelity_equals_a_pandas_pivot_and_scipy_t_intervals(sample):
    from scipy import stats

    waves = sample.cohort.children.waves
    waves = waves[waves["arm"].astype("string").fillna("intervention") != "comparison"]
    impl = sample.results["implementation"]
    pct = impl[impl["level"] == "group"].set_index("group")["fidelity_pct"]
    band = (pct >= 80).map({True: "80% or more", False: "under 80%"})
    table = sample.results["fidelity_outcomes"].set_index(["measure", "fidelity_band"])
    for measure in sample.cohort.children.measures:
        # outside reference: a pandas pivot of post - pre per child, grouped by the band of the child's group
        wide = waves.pivot_table(index="id", columns="timepoint", values=measure, aggfunc="first")
        change = (wide["post"] - wide["pre"]).dropna()
        group = waves.dropna(subset=["group"]).groupby("id")["group"].first()
        by = pd.DataFrame({"change": change, "band": group.reindex(change.index).map(band)}).dropna()
        for name, part in by.groupby("band"):
            row = table.loc[(measure, name)]
            assert row["n"] == len(part) and row["mean_change"] == pytest.approx(part["change"].mean())
            low, high = stats.t.interval(0.95, len(part) - 1, loc=part["change"].mean(),
                                         scale=stats.sem(part["change"]))
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
