"""Tests of evalkit.report.evidence: the appraisal's checks on synthetic cohorts of known design.

Numbers in the sentences are checked against outside computations: statsmodels' TTestPower for the
minimum detectable effect, numpy for Hedges' g, attrition, age shares and the regression-to-the-mean
drift, and the What Works Clearinghouse tables as tabulated by CRAN baselinr (evalkit.stats.comparison).
"""
import re

import numpy as np
import pandas as pd
import pytest

from evalkit.data.cohort import Instrument, SectionData, Subscale
from evalkit.report.analysis import analyse_section
from evalkit.report.evidence import CHECKS, EVIDENCE_COLUMNS, STATUSES, appraise
from evalkit.report.findings import format_number
from evalkit.stats.comparison import WWC_BOUNDARY

MEASURES = ("calm", "words")
ARMS = {"intervention": ["programme"], "comparison": ["waiting list"]}


class WithExtras:
    """An instrument with ``ages`` and ``norms`` added (whatever the Instrument class of the day holds)."""

    def __init__(self, inst, **extra):
        self._inst = inst
        self.__dict__.update(extra)

    def __getattr__(self, name):
        return getattr(self._inst, name)


def instrument(reliability=None):
    subs = tuple(Subscale(m, m.capitalize(), (f"i_{m}",), higher_is="better") for m in MEASURES)
    return Instrument(id="x", name="Feelings Scale", min=1, max=5, labels={}, scoring="mean", min_answered=1,
                      subscales=subs, reliability=dict(reliability or {}))


def cohort(n=120, *, arms=False, follow=False, groups=False, seed=0, lost=0.15, comparison_shift=0.0,
           comparison_lost=None, ages=(8, 16)):
    """Long waves of ``n`` children: two measures, a rise of 0.5 SD in the programme (0.1 in a comparison)."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n)]
    arm = np.where(np.arange(n) % 3 == 0, "waiting list", "programme") if arms else np.full(n, "programme")
    group = np.array([f"G{i % 12:02d}" for i in range(n)], dtype=object)
    group[(np.arange(n) % 10 == 0) | (arm == "waiting list")] = None
    effect = {g: rng.normal(0, 0.25) for g in set(group) if g}
    age = rng.integers(ages[0], ages[1] + 1, n).astype(float)
    base = rng.normal(0, 1, n) + np.where(arm == "waiting list", comparison_shift, 0)
    rows = []
    for tp, shift in (("pre", 0.0), ("post", 0.5), ("follow_up", 0.45)):
        if tp == "follow_up" and not follow:
            continue
        for i in range(n):
            drop = lost if (arm[i] == "programme" or comparison_lost is None) else comparison_lost
            if tp != "pre" and rng.random() < drop:
                continue
            step = shift * (1 if arm[i] == "programme" else 0.2) + (effect.get(group[i], 0) if tp != "pre" else 0)
            row = {"id": ids[i], "timepoint": tp, "age": age[i],
                   "delivery": "group" if group[i] else "one-to-one", "arm": arm[i]}
            if groups:
                row.update(group=group[i], facilitator=f"F{int(group[i][1:]) % 4}" if group[i] else None)
            for j, m in enumerate(MEASURES):
                row[m] = 3 + 0.5 * (base[i] + step + rng.normal(0, 0.6))
            rows.append(row)
    return pd.DataFrame(rows)


def section_of(waves, *, arms=False, inst=None):
    scores = waves[waves["timepoint"].isin(["pre", "post"])]
    if arms:
        scores = scores[scores["arm"] == "programme"]
    scores = scores.reset_index(drop=True)
    items = scores[["id", "timepoint"]].assign(**{f"i_{m}": scores[m] for m in MEASURES})
    sec = SectionData(section="children", instrument=inst or instrument(), scores=scores, items=items,
                      measures=list(MEASURES), factors=[])
    sec.waves = waves if arms else waves.drop(columns="arm")
    return sec


def run(waves, *, arms=False, roles=("group", "facilitator"), primary=None, min_cell=5, inst=None):
    """(appraisal indexed by check, results, section) as analyse_cohort makes them."""
    sec = section_of(waves, arms=arms, inst=inst)
    columns = {"id": "id", "timepoint": "timepoint", **{r: r for r in roles if r in waves}}
    if arms:
        columns["arm"] = "arm"
    results = analyse_section(sec, comparison=ARMS if arms else None, columns=columns, min_cell=min_cell)
    levels = [c for c in ("group", "facilitator", "site") if c in columns]
    table = appraise(results, section=sec, primary=primary, levels=levels, arm=arms, min_cell=min_cell)
    return table, results, sec


@pytest.fixture(scope="module")
def single():
    return run(cohort(), roles=())


@pytest.fixture(scope="module")
def two_arms():
    return run(cohort(arms=True, follow=True, groups=True, seed=1), arms=True, primary=["calm"])


def test_columns_checks_and_statuses(single, two_arms):
    for table, *_ in (single, two_arms):
        assert list(table.columns) == EVIDENCE_COLUMNS
        assert table.columns[1:].tolist() == ["check", "status", "detail", "to_strengthen"]  # the names
        assert table["check"].tolist() == [*CHECKS, "claim"]
        assert CHECKS[:6] == ("design", "comparison_group", "baseline_equivalence", "attrition", "clustering",
                              "follow_up")
        assert set(table["status"].iloc[:-1]) <= set(STATUSES) and table["status"].iloc[-1] == ""
        assert table["detail"].str.len().gt(0).all()
        assert not table["detail"].str.contains("EIF rating|Level [1-4]", regex=True).any()  # never awarded


def test_single_group_before_and_after(single):
    table = single[0].set_index("check")
    assert table.loc["design", "status"] == "not met"
    assert table.loc["comparison_group", "status"] == "not met"
    assert table.loc["baseline_equivalence", "status"] == "not applicable"
    assert table.loc["follow_up", "status"] == "not met"
    assert table.loc["primary_declared", "status"] == "not met"
    claim = table.loc["claim", "detail"]
    assert claim == ("Scores improved between the start and end of the programme; with no comparison group this "
                     "cannot show the programme caused it.")


def test_attrition_without_a_comparison_uses_everyone_who_started(single):
    table, results, sec = single
    detail = table.set_index("check").loc["attrition"]
    started = sec.waves.loc[sec.waves["timepoint"] == "pre", "id"].nunique()
    matched = int(results["child_outcomes"]["n"].min())
    assert detail["status"] == "partly"
    assert f"Of the {started} children who answered at the start, {100 * (started - matched) / started:.0f}%" \
        in detail["detail"]


def test_comparison_arm(two_arms):
    table, results, sec = two_arms
    table = table.set_index("check")
    assert table.loc["comparison_group", "status"] == "met" and table.loc["design", "status"] == "partly"
    # baseline equivalence of the primary measure: Hedges' g of the pre scores of the analysed people (numpy)
    waves = sec.waves
    wide = waves.pivot(index="id", columns="timepoint", values="calm")[["pre", "post"]].dropna()
    arm = waves.drop_duplicates("id").set_index("id").loc[wide.index, "arm"]
    x, y = wide.loc[arm == "programme", "pre"], wide.loc[arm == "waiting list", "pre"]
    pooled = np.sqrt(((len(x) - 1) * x.var() + (len(y) - 1) * y.var()) / (len(x) + len(y) - 2))
    g = (x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (len(x) + len(y)) - 9))
    assert table.loc["baseline_equivalence", "status"] == ("met" if abs(g) <= 0.25 else "not met")
    # attrition: the WWC cautious boundary (baselinr's table) at the overall attrition
    started = waves[waves["timepoint"] == "pre"].drop_duplicates("id").set_index("id")["arm"]
    a_i = 1 - (arm == "programme").sum() / (started == "programme").sum()
    a_c = 1 - (arm == "waiting list").sum() / (started == "waiting list").sum()
    overall = 1 - len(wide) / len(started)
    low = abs(a_i - a_c) * 100 <= WWC_BOUNDARY["cautious"][round(overall * 100)]
    assert table.loc["attrition", "status"] == ("met" if low else "not met")
    assert "cautious" in table.loc["attrition", "detail"]
    assert table.loc["clustering", "status"] == "met" and table.loc["follow_up", "status"] == "met"
    assert table.loc["primary_declared", "status"] == "met" and "Calm" in table.loc["primary_declared", "detail"]
    assert "comparison group" in table.loc["claim", "detail"] and "cannot" in table.loc["claim", "detail"]


def test_baseline_difference_above_a_quarter_sd_is_not_met():
    table = run(cohort(arms=True, seed=2, comparison_shift=1.0), arms=True, roles=())[0].set_index("check")
    assert table.loc["baseline_equivalence", "status"] == "not met"
    assert "0.25 standard deviations" in table.loc["baseline_equivalence", "detail"]
    claim = table.loc["claim", "detail"]
    assert "cannot" in claim and ("did not change clearly" in claim or "the groups differed at the start" in claim)


def test_high_differential_attrition_is_not_met():
    waves = cohort(arms=True, seed=4, lost=0.05, comparison_lost=0.45)
    table = run(waves, arms=True, roles=())[0].set_index("check")
    assert table.loc["attrition", "status"] == "not met"
    assert table.loc["attrition", "detail"].startswith("Attrition was high by the What Works Clearinghouse's cautious")


def test_precision_is_statsmodels_minimum_detectable_d_z(two_arms):
    from statsmodels.stats.power import TTestIndPower, TTestPower

    table, results, _ = run(cohort(groups=True, seed=5), roles=("group",))
    row = table.set_index("check").loc["precision"]
    n = int(results["child_outcomes"]["n"].min())
    clusters = results["clustering"]
    worst = clusters.loc[clusters["design_effect"].idxmax()]
    # solve_power returns a 1-element array when brentq falls back to fsolve (it did on CI), so squeeze it
    mde = float(np.squeeze(TTestPower().solve_power(effect_size=None, nobs=n / worst["design_effect"], alpha=0.05,
                                                    power=0.8, alternative="two-sided")))
    assert f"is {mde:.2f}" in row["detail"] and f"design effect of {worst['design_effect']:.2f}" in row["detail"]
    assert row["status"] == ("met" if mde <= 0.2 else "partly" if mde <= 0.5 else "not met")
    # two arms: d between groups, unequal arms as equal arms of their harmonic mean
    table, results, _ = two_arms
    comp = results["comparison"].iloc[0]
    clusters = results["clustering"][results["clustering"]["measure"] == "calm"]
    worst = clusters.loc[clusters["design_effect"].idxmax()]
    # the design effect shrinks the programme arm only; unequal arms as equal arms of their harmonic mean
    per_arm = 2 / (worst["design_effect"] / comp["n_intervention"] + 1 / comp["n_comparison"])
    mde = float(np.squeeze(TTestIndPower().solve_power(effect_size=None, nobs1=per_arm, ratio=1, alpha=0.05,
                                                       power=0.8)))
    assert f"is {mde:.2f}" in table.set_index("check").loc["precision", "detail"]


def test_clustering_statuses():
    waves = cohort(groups=True, seed=6)
    assert run(waves, roles=("group",))[0].set_index("check").loc["clustering", "status"] == "met"
    assert run(waves, roles=("facilitator",))[0].set_index("check").loc["clustering", "status"] == "partly"
    missing = run(waves.drop(columns=["group", "facilitator"]), roles=())[0].set_index("check").loc["clustering"]
    assert missing["status"] == "not met" and "do not say which group" in missing["detail"]
    alone = cohort(seed=6).assign(delivery="one-to-one")
    assert run(alone, roles=())[0].set_index("check").loc["clustering", "status"] == "not applicable"


def test_measure_validity_share_outside_the_ages():
    waves = cohort(seed=7, ages=(6, 17))
    inst = WithExtras(instrument(), ages=(8, 16), norms={})
    row = run(waves, roles=(), inst=inst)[0].set_index("check").loc["measure_validity"]
    age = waves[waves["timepoint"] == "pre"].drop_duplicates("id")["age"]
    share = ((age < 8) | (age > 16)).mean()
    assert row["status"] == "partly" and row["detail"].startswith(f"{100 * share:.0f}% of the {len(age)} children")
    assert "ages of 8 to 16" in row["detail"]
    assert run(waves, roles=())[0].set_index("check").loc["measure_validity", "status"] == "not applicable"


def test_measure_validity_hides_a_small_count():
    waves = cohort(seed=8)
    first = waves["id"].isin(["C0000", "C0001"])
    waves.loc[first, "age"] = 5.0  # two children under the validated ages
    row = run(waves, roles=(), inst=WithExtras(instrument(), ages=(8, 16), norms={}),
              min_cell=5)[0].set_index("check").loc["measure_validity"]
    assert row["detail"].startswith("Fewer than 5 of the 120 children") and not re.search(r"\b2\b", row["detail"])
    assert "%" not in row["detail"]


def test_regression_to_the_mean_from_the_norms():
    waves = cohort(seed=9)
    norms = {"calm": {"mean": 3.6, "sd": 0.5, "source": "Test norms (2020)"}}
    inst = WithExtras(instrument(reliability={"calm": 0.8, "words": 0.8}), ages=None, norms=norms)
    table, results, _ = run(waves, roles=(), inst=inst)
    row = table.set_index("check").loc["regression_to_the_mean"]
    out = results["child_outcomes"].set_index("measure").loc["calm"]
    rc = results["reliable_change"].set_index("measure").loc["calm"]
    drift = (1 - rc["r_used"]) * (3.6 - out["mean_pre"])  # (1 - r)(norm mean - baseline mean)
    beyond = out["mean_diff"] - drift
    assert f"move it by {format_number(drift, sign=True)}" in row["detail"]
    assert f"the change beyond that is {format_number(beyond, sign=True)}" in row["detail"]
    assert rc["r_source"] in row["detail"] and "Test norms (2020)" in row["detail"]
    clear = (out["ci_low"] - drift > 0) or (out["ci_high"] - drift < 0)
    assert row["status"] == ("met" if clear and np.sign(beyond) == np.sign(out["mean_diff"]) else
                             "partly" if np.sign(beyond) == np.sign(out["mean_diff"]) else "not met")
    assert table.set_index("check").loc["measure_validity", "status"] == "not applicable"  # no ages
    plain = run(waves, roles=())[0].set_index("check").loc["regression_to_the_mean", "status"]
    assert plain == "not applicable"
    no_r = run(waves, roles=(), inst=WithExtras(instrument(), ages=None, norms=norms))[0]
    assert "no reliability coefficient" in no_r.set_index("check").loc["regression_to_the_mean", "detail"]


def test_multiple_testing_counts_the_tests(two_arms):
    row = two_arms[0].set_index("check").loc["multiple_testing"]
    assert row["status"] == "met"
    assert row["detail"].startswith("2 measures were tested for change over the programme")
    assert "the 4 follow-up tests are adjusted as a family of their own" in row["detail"]


def test_no_count_below_min_cell_in_any_sentence():
    waves = cohort(n=14, seed=10, arms=True, follow=True)
    table = run(waves, arms=True, roles=(), min_cell=10)[0]
    for text in table["detail"]:
        for number in re.findall(r"\b(\d+) (?:children|child)\b", text):
            assert int(number) >= 10 or int(number) == 0, text
        assert not re.search(r"fewer than (\d+)", text) or "fewer than 10" in text


def test_no_change_claim():
    waves = cohort(seed=11)
    for m in MEASURES:  # no change at all: post equals pre plus noise around 0
        pre = waves[waves["timepoint"] == "pre"].set_index("id")[m]
        post = waves["timepoint"] == "post"
        waves.loc[post, m] = waves.loc[post, "id"].map(pre).to_numpy() + np.random.default_rng(1).normal(
            0, 0.3, post.sum())
    claim = run(waves, roles=())[0]["detail"].iloc[-1]
    assert claim.startswith("Scores did not change clearly") and "cannot show" in claim
