"""Tests of evalkit.stats.clustering against statsmodels (one-way ANOVA, cluster-robust OLS) and numpy."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as st

from evalkit.stats.clustering import CLUSTERING_COLUMNS, clustering, cr1_se_of_mean, icc1


def grouped(seed=0, sizes=(3, 8, 5, 12, 6, 9, 4, 7), icc=0.3, lone=5):
    rng = np.random.default_rng(seed)
    rows = []
    for j, size in enumerate(sizes):
        u = rng.normal(0, np.sqrt(icc))
        rows += [{"m": 0.4 + u + rng.normal(0, np.sqrt(1 - icc)), "group": f"g{j}", "site": f"s{j % 3}"}
                 for _ in range(size)]
    rows += [{"m": 0.4 + rng.normal(), "group": None, "site": "s0"} for _ in range(lone)]  # one-to-one
    return pd.DataFrame(rows)


def test_icc_from_statsmodels_one_way_anova():
    # reference: statsmodels anova_lm of m ~ C(cluster), with lone children as clusters of their own,
    # and the ICC(1) formula of the issue, n0 = (N - sum n_j^2 / N) / (k - 1)
    data = grouped()
    cluster = data["group"].fillna(pd.Series([f"lone{i}" for i in range(len(data))]))
    table = sm.stats.anova_lm(smf.ols("m ~ C(cluster)", data=data.assign(cluster=cluster)).fit())
    msb, msw = table.loc["C(cluster)", "mean_sq"], table.loc["Residual", "mean_sq"]
    n_j = cluster.value_counts().to_numpy()
    n, k = n_j.sum(), n_j.size
    n0 = (n - np.sum(n_j ** 2) / n) / (k - 1)
    icc, msb_e, msw_e, n0_e = icc1(data["m"], data["group"])
    assert (msb_e, msw_e, n0_e) == pytest.approx((msb, msw, n0))
    assert icc == pytest.approx((msb - msw) / (msb + (n0 - 1) * msw))


def test_cr1_equals_statsmodels_cluster_robust_intercept():
    # reference: statsmodels OLS m ~ 1 with cov_type="cluster" (CR1: G/(G-1) * (N-1)/(N-K), K = 1)
    data = grouped(seed=1)
    codes = data["group"].fillna(pd.Series([f"lone{i}" for i in range(len(data))])).factorize()[0]
    fit = sm.OLS(data["m"], np.ones(len(data))).fit(cov_type="cluster", cov_kwds={"groups": codes})
    assert cr1_se_of_mean(data["m"], data["group"]) == pytest.approx(fit.bse.iloc[0], rel=1e-12)


def test_clustering_table_against_independent_formulas():
    data = grouped(seed=2)
    res = clustering(data, measures=["m"], levels=["group", "site"])
    assert list(res.columns) == CLUSTERING_COLUMNS
    row = res.set_index("level").loc["group"]
    y = data["m"].to_numpy()
    n, k = len(y), data["group"].nunique() + data["group"].isna().sum()
    icc, *_ = icc1(y, data["group"])
    used = max(icc, 0)
    assert row["n_clusters"] == k and row["mean_cluster_size"] == pytest.approx(n / k)
    assert row["design_effect"] == pytest.approx(1 + (n / k - 1) * used)
    assert row["effective_n"] == pytest.approx(n / (1 + (n / k - 1) * used))
    se = cr1_se_of_mean(y, data["group"])
    half = st.t.ppf(0.975, k - 1) * se
    assert (row["robust_ci_low"], row["robust_ci_high"]) == pytest.approx((y.mean() - half, y.mean() + half))
    # the naive interval is scipy's one-sample t interval of the changes
    naive = st.ttest_1samp(y, 0).confidence_interval(0.95)
    assert (row["naive_ci_low"], row["naive_ci_high"]) == pytest.approx((naive.low, naive.high))


def test_negative_icc_is_shown_as_zero_with_a_note():
    # within-cluster spread larger than between: clusters {0, 10}, {0, 10}, {1, 9}, {1, 9}
    data = pd.DataFrame({"m": [0, 10, 0, 10, 1, 9, 1, 9], "group": list("aabbccdd")})
    raw, *_ = icc1(data["m"], data["group"])
    assert raw < 0
    row = clustering(data, measures=["m"], levels=["group"]).iloc[0]
    assert row["icc"] == 0 and row["design_effect"] == 1 and "negative" in row["note"]


def test_edge_cases_give_notes():
    one = pd.DataFrame({"m": [1.0, 2, 3, 4], "group": ["a"] * 4})
    assert "one cluster" in clustering(one, measures=["m"], levels=["group"]).loc[0, "note"]
    alone = pd.DataFrame({"m": [1.0, 2, 3, 4], "group": [None] * 4})
    row = clustering(alone, measures=["m"], levels=["group"]).iloc[0]
    assert row["design_effect"] == 1 and "own" in row["note"]
    tiny = pd.DataFrame({"m": [1.0, 2], "group": ["a", "b"]})
    assert "fewer than 3" in clustering(tiny, measures=["m"], levels=["group"]).loc[0, "note"]
    assert "no site column" in clustering(one, measures=["m"], levels=["site"]).loc[0, "note"]
