"""Tests of evalkit.stats.comparison against R (lm, sandwich::vcovCL) and independent numpy/scipy."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.stats.comparison import (COMPARISON_COLUMNS, attrition_standard, baseline_equivalence, compare_arms,
                                      hedges_g_between)

REFERENCE = Path(__file__).parent / "data" / "reference" / "arms_groups.csv"


@pytest.fixture
def arms():
    data = pd.read_csv(REFERENCE, keep_default_na=False, dtype={"group": str})
    data["group"] = data["group"].replace("", pd.NA)
    return data.rename(columns={"score": "m"})


def _wide(arms):
    pre = arms[arms["timepoint"] == "pre"].set_index("id")
    post = arms[arms["timepoint"] == "post"].set_index("id")["m"]
    return pre.join(post.rename("post"), how="inner")


def test_adjusted_difference_equals_r_lm_and_vcovcl(arms):
    # R 4.x (tests/data/reference/arms_groups.csv, matched pairs, blank group -> "alone:<id>"):
    #   f <- lm(score_post ~ score_pre + arm1, data = w); coef(summary(f))["arm1", ]
    #     Estimate 0.11106062276, Std. Error 0.07914974819, Pr(>|t|) 0.16458558906
    #   V <- sandwich::vcovCL(f, cluster = ~cl, type = "HC1"); sqrt(V["arm1", "arm1"])  0.09005063481
    #   G = 44 clusters; 2 * pt(-abs(t), G - 1) = 0.22415856808
    clustered = compare_arms(arms, measures=["m"], arm="arm", intervention=["healing together"],
                             comparison=["waiting list"], group="group").iloc[0]
    assert list(compare_arms(arms, measures=["m"], arm="arm", intervention=["healing together"],
                             comparison=["waiting list"]).columns) == COMPARISON_COLUMNS
    assert clustered["adjusted_difference"] == pytest.approx(0.11106062276, abs=1e-9)
    assert clustered["se"] == pytest.approx(0.09005063481, abs=1e-9)
    assert clustered["df"] == 43 and clustered["p"] == pytest.approx(0.22415856808, abs=1e-8)
    assert "CR1" in clustered["se_type"]
    classical = compare_arms(arms, measures=["m"], arm="arm", intervention=["healing together"],
                             comparison=["waiting list"]).iloc[0]
    assert classical["se"] == pytest.approx(0.07914974819, abs=1e-9)
    assert classical["p"] == pytest.approx(0.16458558906, abs=1e-8)
    assert classical["se_type"] == "classical OLS"
    assert (clustered["n_intervention"], clustered["n_comparison"]) == (50, 30)  # R: table(w$arm1)


def test_baseline_g_effect_g_and_attrition_from_numpy(arms):
    res = compare_arms(arms, measures=["m"], arm="arm", intervention=["healing together"],
                       comparison=["waiting list"]).iloc[0]
    w = _wide(arms)
    i, c = w[w["arm"] == "healing together"], w[w["arm"] == "waiting list"]
    j = 1 - 3 / (4 * (len(i) + len(c)) - 9)
    pooled = lambda a, b: np.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var()) / (len(a) + len(b) - 2))
    assert res["baseline_g"] == pytest.approx((i["m"].mean() - c["m"].mean()) / pooled(i["m"], c["m"]) * j)
    assert res["effect_g"] == pytest.approx(res["adjusted_difference"] / pooled(i["post"], c["post"]) * j)
    base = arms[arms["timepoint"] == "pre"].groupby("arm")["id"].nunique()
    a_i = 1 - len(i) / base["healing together"]
    a_c = 1 - len(c) / base["waiting list"]
    assert res["attrition_intervention"] == pytest.approx(a_i)
    assert res["overall_attrition"] == pytest.approx(1 - (len(i) + len(c)) / base.sum())
    assert res["differential_attrition"] == pytest.approx(abs(a_i - a_c))


def test_hedges_g_matches_scipy_t_identity():
    # d = t * sqrt(1/n1 + 1/n2) for the pooled-variance t test (scipy.stats.ttest_ind)
    rng = np.random.default_rng(1)
    x, y = rng.normal(1, 1, 14), rng.normal(0.4, 1, 11)
    t = stats.ttest_ind(x, y).statistic
    j = 1 - 3 / (4 * 25 - 9)
    assert hedges_g_between(x, y) == pytest.approx(t * np.sqrt(1 / 14 + 1 / 11) * j)


def test_equivalence_and_attrition_words():
    assert [baseline_equivalence(g) for g in (0.05, -0.0501, 0.25, 0.2501, np.nan)] == [
        "satisfied", "requires adjustment", "requires adjustment", "not satisfied", ""]
    # WWC Standards Handbook 4.1 Table II.1 anchors: 0% overall allows 5.7 (cautious) / 10.0 (optimistic)
    assert attrition_standard(0.0, 0.057).startswith("low")
    assert attrition_standard(0.0, 0.058).startswith("high")
    assert attrition_standard(0.0, 0.099, boundary="optimistic").startswith("low")
    assert attrition_standard(0.60, 0.0).startswith("high")           # cautious: nothing is low past 57%
    assert attrition_standard(0.60, 0.0, boundary="optimistic").startswith("low")


def test_small_arms_give_a_note():
    rows = [{"id": f"{a}{i}", "timepoint": t, "arm": a, "m": float(i)} for a in "IC" for i in range(2)
            for t in ("pre", "post")]
    res = compare_arms(pd.DataFrame(rows), measures=["m"], arm="arm", intervention=["I"], comparison=["C"])
    assert "fewer than 3" in res.loc[0, "note"] and np.isnan(res.loc[0, "adjusted_difference"])
