"""Tests of evalkit.stats against R, pingouin, scipy and hand computations."""
import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import integrate
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from evalkit.data.cohort import Instrument, Subscale
from evalkit.errors import DataError
from evalkit.stats import (
    PAIRED_COLUMNS, attrition, hedges_j, holm, item_distributions, paired_outcomes, reliable_change,
    reliable_change_scores,
)
from evalkit.stats.paired import _bayes_factor, _log_jzs_bf10

# R's datasets::sleep: extra hours of sleep with drug 1 (group 1) and drug 2 (group 2), IDs 1..10
SLEEP_G1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_G2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def long_frame(pre, post, measure="m", ids=None):
    ids = ids or [str(i + 1) for i in range(len(pre))]
    return pd.DataFrame({"id": list(ids) * 2, "timepoint": ["pre"] * len(pre) + ["post"] * len(post),
                         measure: list(pre) + list(post)})


@pytest.fixture
def sleep():
    # group 1 = post, group 2 = pre, so post - pre = group 1 - group 2 as in R's t.test(extra ~ group)
    return long_frame(SLEEP_G2, SLEEP_G1, "extra")


def test_sleep_paired_t_matches_r(sleep):
    # R 4.x: t.test(extra ~ group, data = sleep, paired = TRUE)
    # t = -4.0621, df = 9, p-value = 0.002833; 95% CI -2.4598858 -0.7001142; mean difference -1.58
    row = paired_outcomes(sleep, measures=["extra"]).iloc[0]
    assert row["n"] == 10
    assert row["t"] == pytest.approx(-4.0621, abs=1e-4)
    assert row["df"] == 9
    assert row["p"] == pytest.approx(0.002833, abs=1e-6)
    assert row["mean_diff"] == pytest.approx(-1.58)
    assert row["ci_low"] == pytest.approx(-2.4598858, abs=1e-6)
    assert row["ci_high"] == pytest.approx(-0.7001142, abs=1e-6)
    # means of R's sleep by group: group 1 = 0.75, group 2 = 2.33
    assert row["mean_post"] == pytest.approx(0.75)
    assert row["mean_pre"] == pytest.approx(2.33)


def test_direction_is_post_minus_pre():
    swapped = long_frame(SLEEP_G1, SLEEP_G2, "extra")
    row = paired_outcomes(swapped, measures=["extra"]).iloc[0]
    assert row["t"] == pytest.approx(4.0621, abs=1e-4)
    assert row["ci_low"] == pytest.approx(0.7001142, abs=1e-6)
    assert row["d_z"] > 0 and row["rank_biserial"] > 0 and row["wilcoxon_w"] == 45


def test_sleep_wilcoxon_and_shapiro_match_r(sleep):
    row = paired_outcomes(sleep, measures=["extra"]).iloc[0]
    # R: wilcox.test(extra ~ group, data = sleep, paired = TRUE)
    # V = 0, p-value = 0.009091 (with warnings: ties and zeroes -> normal approximation)
    assert row["wilcoxon_w"] == 0
    assert row["wilcoxon_p"] == pytest.approx(0.009091, abs=1e-6)
    assert row["wilcoxon_n_nonzero"] == 9  # one zero difference (patient 5) dropped
    assert row["rank_biserial"] == pytest.approx(-1.0)
    # same p from scipy with R's settings (zeros dropped, continuity correction)
    d = np.array(SLEEP_G1) - np.array(SLEEP_G2)
    ref = st.wilcoxon(d, zero_method="wilcox", correction=True, method="asymptotic")
    assert row["wilcoxon_p"] == pytest.approx(ref.pvalue, rel=1e-12)
    # pingouin's RBC on the same data (x = post, y = pre)
    pgw = pg.wilcoxon(SLEEP_G1, SLEEP_G2)
    assert row["rank_biserial"] == pytest.approx(pgw["RBC"].iloc[0])
    # R: shapiro.test(with(sleep, extra[group == 1] - extra[group == 2])): W = 0.82987, p = 0.03334
    assert row["shapiro_p"] == pytest.approx(0.03334, abs=1e-5)
    # n < 30 and Shapiro p < .05: the Wilcoxon test is primary
    assert row["primary_test"] == "Wilcoxon"
    assert row["p_primary"] == row["wilcoxon_p"]


def test_wilcoxon_exact_without_ties_matches_scipy():
    rng = np.random.default_rng(3)
    pre = rng.normal(0, 1, 20)
    post = pre + rng.normal(0.4, 1, 20)
    row = paired_outcomes(long_frame(pre, post), measures=["m"]).iloc[0]
    d = post - pre
    ref = st.wilcoxon(post, pre, method="exact")  # R uses the exact test for n < 50 and no ties
    ranks = st.rankdata(np.abs(d))
    v = ranks[d > 0].sum()
    assert row["wilcoxon_method"] == "exact, as R's wilcox.test(..., digits.rank = 7)"
    assert row["wilcoxon_w"] == pytest.approx(v)
    assert min(v, 210 - v) == pytest.approx(ref.statistic)  # scipy's statistic is min(V, n(n+1)/2 - V)
    assert row["wilcoxon_p"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert row["rank_biserial"] == pytest.approx((v - (210 - v)) / 210)


def test_wilcoxon_rounding_keeps_ties_of_mean_scores():
    # 2.2 - 1.8 and 1.4 - 1.0 are both 0.4 but differ in binary floating point
    pre = [1.8, 1.0, 2.0, 1.5, 1.2]
    post = [2.2, 1.4, 2.9, 1.6, 2.0]
    row = paired_outcomes(long_frame(pre, post), measures=["m"]).iloc[0]
    assert row["wilcoxon_method"].startswith("normal approximation")  # a tie was detected


def test_effect_sizes_formulas(sleep):
    row = paired_outcomes(sleep, measures=["extra"]).iloc[0]
    d = np.array(SLEEP_G1) - np.array(SLEEP_G2)
    sd_pre, sd_post = np.std(SLEEP_G2, ddof=1), np.std(SLEEP_G1, ddof=1)
    assert row["sd_diff"] == pytest.approx(d.std(ddof=1))
    assert row["d_z"] == pytest.approx(row["t"] / math.sqrt(10))  # d_z = t / sqrt(n)
    assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    d_av = d.mean() / ((sd_pre + sd_post) / 2)
    assert row["d_av"] == pytest.approx(d_av)
    j = math.gamma(4.5) / (math.sqrt(4.5) * math.gamma(4))  # Hedges J(9), exact gamma form
    assert row["g_av"] == pytest.approx(d_av * j)
    assert hedges_j(9) == pytest.approx(j)
    # g_av limits are the d_z (ncp) limits rescaled by J * sd_diff / s_av (Algina & Keselman)
    scale = j * d.std(ddof=1) / ((sd_pre + sd_post) / 2)
    assert row["g_av_ci_low"] == pytest.approx(row["d_z_ci_low"] * scale)
    assert row["g_av_ci_high"] == pytest.approx(row["d_z_ci_high"] * scale)
    assert row["g_av_ci_low"] < row["g_av"] < row["g_av_ci_high"]


def _nct_cdf_by_integration(t, df, ncp):
    """P(T <= t) for noncentral t, integrating Phi(t sqrt(V/df) - ncp) over V ~ chi2(df)."""
    f = lambda v: st.norm.cdf(t * math.sqrt(v / df) - ncp) * st.chi2.pdf(v, df)
    return integrate.quad(f, 0, np.inf, limit=200)[0]


@pytest.mark.parametrize("pre_mu, n", [(0.3, 12), (0.1, 40)])
def test_d_z_interval_by_independent_noncentral_t(pre_mu, n):
    rng = np.random.default_rng(n)
    pre = rng.normal(2, 0.5, n)
    post = pre + rng.normal(pre_mu, 0.5, n)
    row = paired_outcomes(long_frame(pre, post), measures=["m"]).iloc[0]
    df = n - 1
    lo, hi = row["d_z_ci_low"] * math.sqrt(n), row["d_z_ci_high"] * math.sqrt(n)
    # the observed t is the 97.5% quantile at the lower ncp limit and the 2.5% quantile at the upper
    assert _nct_cdf_by_integration(row["t"], df, lo) == pytest.approx(0.975, abs=1e-6)
    assert _nct_cdf_by_integration(row["t"], df, hi) == pytest.approx(0.025, abs=1e-6)


def test_sleep_d_z_interval_values(sleep):
    # computed here by the noncentral-t method; independently confirmed by the integration test above
    row = paired_outcomes(sleep, measures=["extra"]).iloc[0]
    assert row["d_z"] == pytest.approx(-1.2846, abs=1e-4)
    assert row["d_z_ci_low"] == pytest.approx(-2.1180, abs=1e-3)
    assert row["d_z_ci_high"] == pytest.approx(-0.4146, abs=1e-3)


def test_bayes_factor_matches_pingouin_and_jasp_prior(sleep):
    row = paired_outcomes(sleep, measures=["extra"]).iloc[0]
    # pingouin 0.7.0: pg.ttest(g1, g2, paired=True) prints BF10 = 17.258 (JZS, r = 0.707)
    assert row["bf10"] == pytest.approx(17.258, abs=1e-3)
    assert row["log_bf10"] == pytest.approx(math.log(row["bf10"]))


@pytest.mark.parametrize("t, n", [(2.5, 30), (-4.0621, 10), (0.3, 200), (0.0, 3), (1.96, 5),
                                  (-8.0, 40), (12.0, 300), (3.0, 10_000), (-0.5, 100_000),
                                  (35.0, 100_000)])
def test_bayes_factor_equals_pingouin(t, n):
    # pingouin.bayesfactor_ttest is the documented reference (quad of Rouder et al. 2009, eq. 1
    # over g); evalkit integrates the same function over log g so that it never imports pingouin
    ref = pg.bayesfactor_ttest(t, n, paired=True, r=0.707)
    assert math.exp(_log_jzs_bf10(t, n)) == pytest.approx(ref, rel=1e-6)
    bf, log_bf = _bayes_factor(t, n)
    assert bf == pytest.approx(ref, rel=1e-6) and log_bf == pytest.approx(math.log(ref), abs=1e-6)


def test_log_space_bayes_factor_survives_huge_t():
    # pingouin raises ZeroDivisionError here; the log-space fallback stays finite
    log_bf = _log_jzs_bf10(180.0, 100_000)
    assert np.isfinite(log_bf) and log_bf > 1000


def test_holm_against_hand_and_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005]
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005=.02, 3*.01=.03, 2*.03=.06, max(.06, 1*.04)=.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    out = holm([0.2, np.nan, 0.9])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.4) and out[2] == pytest.approx(0.9)


def test_holm_applied_across_measures(sleep):
    data = sleep.assign(other=sleep["extra"] * 0.5 + np.tile(np.linspace(0, 3, 10), 2))
    res = paired_outcomes(data, measures=["extra", "other"])
    assert res["p_holm"].to_numpy() == pytest.approx(holm(res["p"]))
    assert res["p_primary_holm"].to_numpy() == pytest.approx(holm(res["p_primary"]))
    assert (res["p_holm_method"] == "holm").all()


def test_large_non_normal_sample_keeps_t_primary():
    rng = np.random.default_rng(5)
    pre = rng.normal(2, 0.3, 60)
    post = pre + rng.exponential(0.3, 60)  # skewed differences
    row = paired_outcomes(long_frame(pre, post), measures=["m"]).iloc[0]
    assert row["shapiro_p"] < 0.05
    assert row["primary_test"] == "paired t"
    assert row["p_primary"] == row["p"]


def test_columns_and_order():
    res = paired_outcomes(long_frame([1, 2, 3.0], [2, 2, 4.0]), measures=["m"])
    assert list(res.columns) == PAIRED_COLUMNS


# --- edge cases: notes, never exceptions ---------------------------------------------------

def test_fewer_than_three_pairs():
    res = paired_outcomes(long_frame([1.0, 2.0], [2.0, 2.5]), measures=["m"]).iloc[0]
    assert res["n"] == 2 and np.isnan(res["t"]) and np.isnan(res["p"])
    assert res["primary_test"] == "none" and "fewer than 3" in res["note"]


def test_zero_variance_of_differences():
    res = paired_outcomes(long_frame([1.0, 2.0, 3.0, 2.0], [1.5, 2.5, 3.5, 2.5]),
                          measures=["m"]).iloc[0]
    assert np.isnan(res["t"]) and np.isnan(res["d_z"]) and res["primary_test"] == "none"
    assert "zero variance" in res["note"]
    assert res["mean_diff"] == pytest.approx(0.5)


def test_all_missing_and_absent_measures():
    data = long_frame([np.nan] * 3, [np.nan] * 3)
    res = paired_outcomes(data, measures=["m", "ghost"])
    assert list(res["n"]) == [0, 0]
    assert "no matched pairs" in res.loc[0, "note"]
    assert "no column 'ghost'" in res.loc[1, "note"]
    assert res["p_holm"].isna().all()


def test_only_matched_pairs_count():
    data = pd.DataFrame({"id": ["a", "b", "c", "d", "a", "b", "c", "e"],
                         "timepoint": ["pre"] * 4 + ["post"] * 4,
                         "m": [1.0, 2.0, np.nan, 3.0, 2.0, 2.5, 3.0, 1.0]})
    res = paired_outcomes(data, measures=["m"]).iloc[0]
    assert res["n"] == 2  # c has no pre score, d no post, e no pre row
    assert res["mean_pre"] == pytest.approx(1.5)


def test_duplicate_rows_raise_data_error():
    data = long_frame([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    data = pd.concat([data, data.iloc[[0]]])
    with pytest.raises(DataError, match="more than one row"):
        paired_outcomes(data, measures=["m"])


# --- reliable change ----------------------------------------------------------------------

def test_reliable_change_hand_example():
    pre = [10.0, 12.0, 14.0, 16.0, 18.0]
    post = [16.0, 12.5, 13.0, 10.0, 18.0]
    data = long_frame(pre, post)
    # by hand: SD_pre = sqrt(10) = 3.1623; SE = 3.1623 * sqrt(1 - .8) = 1.4142; S_diff = sqrt(2) * SE = 2
    # RCI = change / 2 -> 3.0, 0.25, -0.5, -3.0, 0.0
    people = reliable_change_scores(data, measures=["m"], reliability={"m": 0.8})
    assert people["rci"].to_numpy() == pytest.approx([3.0, 0.25, -0.5, -3.0, 0.0])
    assert list(people["category"]) == ["improved", "no change", "no change", "deteriorated",
                                        "no change"]
    summary = reliable_change(data, measures=["m"], reliability={"m": 0.8}).iloc[0]
    assert summary["sdiff"] == pytest.approx(2.0)
    assert summary["rci_threshold"] == pytest.approx(1.959964, abs=1e-6)
    assert (summary["improved"], summary["no_change"], summary["deteriorated"]) == (1, 3, 1)
    assert summary["improved_pct"] == pytest.approx(20.0)
    assert summary["r_source"].startswith("given")


def test_reliable_change_uses_cohort_baseline_alpha():
    rng = np.random.default_rng(11)
    n = 40
    f = rng.normal(size=n)
    pre_items = np.clip(np.round(2 + 0.6 * f[:, None] + rng.normal(0, 0.5, (n, 3))), 1, 3)
    post_items = np.clip(pre_items + rng.integers(0, 2, (n, 3)), 1, 3)
    ids = [f"p{i}" for i in range(n)]
    items = pd.DataFrame(np.vstack([pre_items, post_items]), columns=["i1", "i2", "i3"])
    items.insert(0, "timepoint", ["pre"] * n + ["post"] * n)
    items.insert(0, "id", ids * 2)
    scores = items[["id", "timepoint"]].assign(s=items[["i1", "i2", "i3"]].mean(axis=1))
    inst = Instrument(id="t", name="T", min=1, max=3, labels={}, scoring="mean", min_answered=1,
                      subscales=(Subscale("s", "S", ("i1", "i2", "i3")),))
    res = reliable_change(scores, measures=["s"], items=items, instrument=inst).iloc[0]
    alpha = pg.cronbach_alpha(pd.DataFrame(pre_items))[0]  # no missing: pairwise = listwise
    assert res["r_used"] == pytest.approx(alpha)
    assert res["r_source"] == "cohort baseline Cronbach's alpha"
    sd_pre = np.std(pre_items.mean(axis=1), ddof=1)
    assert res["sdiff"] == pytest.approx(math.sqrt(2) * sd_pre * math.sqrt(1 - alpha))
    assert res["improved"] + res["no_change"] + res["deteriorated"] == n
    # a given coefficient wins over the cohort's alpha
    given = reliable_change(scores, measures=["s"], items=items, instrument=inst,
                            reliability={"s": 0.9}).iloc[0]
    assert given["r_used"] == 0.9


def test_reliable_change_without_reliability_gives_note():
    res = reliable_change(long_frame([1.0, 2, 3], [2.0, 2, 3]), measures=["m"]).iloc[0]
    assert pd.isna(res["improved"]) and "no reliability" in res["note"]


# --- attrition ----------------------------------------------------------------------------

def test_attrition_welch_hedges_and_chi_square():
    rng = np.random.default_rng(2)
    n = 80
    ids = [f"c{i}" for i in range(n)]
    site = np.where(np.arange(n) % 2 == 0, "north", "south")
    pre = rng.normal(2, 0.4, n)
    done = rng.random(n) < np.where(site == "north", 0.8, 0.5)
    pre_rows = pd.DataFrame({"id": ids, "timepoint": "pre", "site": site, "m": pre})
    post_rows = pd.DataFrame({"id": ids, "timepoint": "post", "site": site,
                              "m": pre + 0.2}).loc[done]
    res = attrition(pd.concat([pre_rows, post_rows]), measures=["m"], factors=["site"])
    base, fac = res.iloc[0], res.iloc[1]
    comp, drop = pre[done], pre[~done]
    ref = st.ttest_ind(comp, drop, equal_var=False)
    assert base["statistic"] == pytest.approx(ref.statistic)
    assert base["p"] == pytest.approx(ref.pvalue)
    assert base["df"] == pytest.approx(ref.df)
    sp = math.sqrt(((comp.size - 1) * comp.var(ddof=1) + (drop.size - 1) * drop.var(ddof=1))
                   / (n - 2))
    assert base["effect"] == pytest.approx(hedges_j(n - 2) * (comp.mean() - drop.mean()) / sp)
    assert (base["completers_n"], base["dropouts_n"]) == (done.sum(), (~done).sum())
    table = pd.crosstab(site, done).to_numpy()
    chi2, p, dof, _ = st.chi2_contingency(table, correction=False)
    assert fac["statistic"] == pytest.approx(chi2) and fac["p"] == pytest.approx(p)
    assert fac["effect"] == pytest.approx(math.sqrt(chi2 / n))  # Cramer's V, 2x2
    assert fac["test"].startswith("Pearson chi-square")


def test_attrition_fisher_for_small_table_and_single_group():
    data = pd.DataFrame({"id": list("abcdef") + list("abc"), "timepoint": ["pre"] * 6 + ["post"] * 3,
                         "site": list("xxxyyy") + list("xxx"), "one": "z",
                         "m": [1, 2, 3, 2, 1, 2, 2, 3, 3.0]})
    res = attrition(data, measures=["m"], factors=["site", "one"]).set_index("variable")
    ref = st.fisher_exact([[3, 0], [0, 3]])
    assert res.loc["site", "p"] == pytest.approx(ref.pvalue)
    assert res.loc["site", "effect_label"] == "odds ratio"
    assert "only one" in res.loc["one", "note"] and np.isnan(res.loc["one", "p"])


# --- item distributions -------------------------------------------------------------------

def test_item_distributions_counts_keyed_items():
    inst = Instrument(id="f", name="F", min=1, max=5,
                      labels={"strongly disagree": 1, "disagree": 2, "neutral": 3,
                              "neither agree nor disagree": 3, "agree": 4, "strongly agree": 5},
                      scoring="mean", min_answered=1,
                      subscales=(Subscale("c", "C", ("c1", "c4"), reverse=("c4",)),))
    items = pd.DataFrame({"id": list("abcd") * 2, "timepoint": ["pre"] * 4 + ["post"] * 4,
                          "c1": [1, 2, 2, np.nan, 4, 5, 5, 5], "c4": [5, 5, 4, 3, 5, 5, 5, 5.0]})
    out = item_distributions(items, instrument=inst)
    assert len(out) == 2 * 2 * 5
    pre_c1 = out.query("item == 'c1' and timepoint == 'pre'").set_index("response")
    assert pre_c1["n"].tolist() == [1, 2, 0, 0, 0]
    assert pre_c1["answered"].iloc[0] == 3
    assert pre_c1.loc[2, "percent"] == pytest.approx(200 / 3)
    assert pre_c1.loc[3, "label"] == "neutral"  # first label given for 3
    assert out.query("item == 'c4'")["reverse"].all()
    assert out.groupby(["item", "timepoint"])["percent"].sum().to_numpy() == pytest.approx(100)


# --- properties ---------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(hs.lists(hs.floats(min_value=0, max_value=1), min_size=1, max_size=12))
def test_holm_properties(p):
    adj = holm(p)
    assert np.all(adj >= np.asarray(p) - 1e-15) and np.all(adj <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)  # monotone in the raw p
    assert adj == pytest.approx(multipletests(p, method="holm")[1])


@settings(max_examples=25, deadline=None)
@given(hs.lists(hs.integers(min_value=1, max_value=3), min_size=8, max_size=30),
       hs.integers(min_value=0, max_value=2**16))
def test_paired_identities_on_likert_data(pre, seed):
    rng = np.random.default_rng(seed)
    post = np.clip(np.asarray(pre) + rng.integers(-1, 2, len(pre)), 1, 3)
    row = paired_outcomes(long_frame(np.asarray(pre, float), post.astype(float)),
                          measures=["m"]).iloc[0]
    d = post - np.asarray(pre)
    assert row["mean_diff"] == pytest.approx(d.mean())
    if np.isfinite(row["t"]):
        assert row["d_z"] == pytest.approx(row["t"] / math.sqrt(len(pre)))
        assert row["d_z_ci_low"] <= row["d_z"] <= row["d_z_ci_high"]
        assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"]
    if (d != 0).any():
        nz = d[d != 0]
        ranks = st.rankdata(np.abs(nz))
        assert row["wilcoxon_w"] == pytest.approx(ranks[nz > 0].sum())
        ref = st.wilcoxon(nz, correction=True, method="asymptotic") if (
            len(nz) >= 50 or len(np.unique(np.abs(nz))) < len(nz) or len(nz) < len(d)) \
            else st.wilcoxon(nz, method="exact")
        assert row["wilcoxon_p"] == pytest.approx(ref.pvalue)


@pytest.mark.parametrize("n", [60, 5_000, 200_000])
def test_wilcoxon_by_counting_ties_matches_scipy_at_scale(n):
    # evalkit ranks |d| from the counts of its distinct values and computes R's normal approximation
    # itself (no second ranking inside scipy); the reference is scipy.stats.rankdata + scipy.stats.wilcoxon
    rng = np.random.default_rng(n)
    pre = rng.integers(1, 4, size=(n, 6)).mean(axis=1)
    post = np.clip(pre + rng.choice([-1 / 6, 0, 1 / 6], p=[0.34, 0.33, 0.33], size=n), 1, 3)
    row = paired_outcomes(long_frame(pre, post), measures=["m"]).iloc[0]
    d = np.round(post - pre, 10)
    nz = d[d != 0]
    assert row["wilcoxon_n_nonzero"] == nz.size
    assert row["wilcoxon_w"] == st.rankdata(np.abs(nz))[nz > 0].sum()
    ref = st.wilcoxon(nz, zero_method="wilcox", correction=True, method="asymptotic")
    assert 0 < ref.pvalue < 1
    assert row["wilcoxon_p"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_wilcoxon_ranks_as_r_with_digits_rank_7():
    # R 4.x: pre <- c(2.1, 1.9, 2.4, 2.0, 1.7, 2.6, 2.2, 1.8, 2.3, 2.5, 1.6, 2.0)
    #        post <- pre + c(0.1 + 0.2, 0.3, 0.7, 0.2, 0.5, 0.3, 0.4, 0.2, 0.1, 0.6, 0.3, 0.2); post <- (post * 3) / 3
    #   wilcox.test(post, pre, paired = TRUE, digits.rank = 7): V = 78, p = 0.00239275765548
    #   wilcox.test(post, pre, paired = TRUE, exact = FALSE) (digits.rank = Inf, floating noise kept
    #   as distinct values): V = 78, p = 0.00250684166153
    pre = np.array([2.1, 1.9, 2.4, 2.0, 1.7, 2.6, 2.2, 1.8, 2.3, 2.5, 1.6, 2.0])
    post = (pre + np.array([0.1 + 0.2, 0.3, 0.7, 0.2, 0.5, 0.3, 0.4, 0.2, 0.1, 0.6, 0.3, 0.2])) * 3 / 3
    row = paired_outcomes(long_frame(list(pre), list(post)), measures=["m"]).iloc[0]
    assert row["wilcoxon_w"] == 78
    assert row["wilcoxon_p"] == pytest.approx(0.00239275765548, abs=1e-12)
    assert "digits.rank = 7" in row["wilcoxon_method"]
