"""Tests of evalkit.stats.meta against R's metafor::rma and statsmodels' combine_effects."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from evalkit.stats.meta import POOLED_COLUMNS, d_z_variance, pool_cohorts, random_effects

YI = [0.42, 0.61, 0.28, 0.55, 0.12]
N = [40, 85, 26, 120, 33]


def _vi():
    return [d_z_variance(y, n) for y, n in zip(YI, N)]


def test_dersimonian_laird_equals_metafor():
    # R 4.x, metafor: vi <- 1/n + yi^2/(2*n); a <- rma(yi, vi, method = "DL")
    #   b 0.43901642826, se 0.08531663365, ci 0.27179889903 to 0.60623395749, tau2 0.01540073259,
    #   I2 43.50356522560, QE 7.08009278103, QEp 0.13171574039
    res = random_effects(YI, _vi())
    assert res["estimate"] == pytest.approx(0.43901642826, abs=1e-9)
    assert res["se"] == pytest.approx(0.08531663365, abs=1e-9)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((0.27179889903, 0.60623395749), abs=1e-9)
    assert res["tau2"] == pytest.approx(0.01540073259, abs=1e-10)
    assert res["i2"] == pytest.approx(43.50356522560, abs=1e-7)
    assert (res["q"], res["q_p"]) == pytest.approx((7.08009278103, 0.13171574039), abs=1e-9)
    # prediction interval, t on k - 2 df (Higgins et al. 2009) from metafor's own mu, se and tau2
    half = stats.t.ppf(0.975, 3) * np.sqrt(0.01540073259 + 0.08531663365 ** 2)
    assert (res["prediction_low"], res["prediction_high"]) == pytest.approx(
        (0.43901642826 - half, 0.43901642826 + half), abs=1e-8)


def test_hartung_knapp_equals_metafor_knha():
    # R: rma(yi, vi, method = "DL", test = "knha"): se 0.08711181793, ci 0.19715524776 to 0.68087760876
    res = random_effects(YI, _vi(), hartung_knapp=True)
    assert res["se"] == pytest.approx(0.08711181793, abs=1e-9)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((0.19715524776, 0.68087760876), abs=1e-9)
    assert "Hartung-Knapp" in res["method"]


def test_equals_statsmodels_combine_effects():
    sm = combine_effects(np.array(YI), np.array(_vi()), method_re="dl")
    res = random_effects(YI, _vi())
    assert res["estimate"] == pytest.approx(sm.mean_effect_re)
    assert res["se"] == pytest.approx(sm.sd_eff_w_re)
    assert res["tau2"] == pytest.approx(sm.tau2)


def test_pool_cohorts_needs_two_cohorts_and_uses_post_pre():
    outcomes = pd.DataFrame({
        "cohort": ["a", "b", "c", "a", "a"], "measure": ["m", "m", "m", "only_a", "m"],
        "contrast": ["post-pre", "post-pre", "post-pre", "post-pre", "follow_up-pre"],
        "n": [40, 85, 26, 30, 40], "d_z": [0.42, 0.61, 0.28, 0.3, 9.0], "mean_diff": [0.2, 0.3, 0.1, 0.1, 9.0],
        "sd_diff": [0.5, 0.6, 0.4, 0.3, 1.0]})
    res = pool_cohorts(outcomes)
    assert list(res.columns) == POOLED_COLUMNS
    assert set(res["measure"]) == {"m"} and list(res["effect"]) == ["d_z", "mean_change"]
    d = res.set_index("effect").loc["d_z"]
    assert d["k"] == 3 and d["estimate"] == pytest.approx(
        random_effects([0.42, 0.61, 0.28], [d_z_variance(0.42, 40), d_z_variance(0.61, 85),
                                            d_z_variance(0.28, 26)])["estimate"])
    mc = res.set_index("effect").loc["mean_change"]
    assert mc["estimate"] == pytest.approx(random_effects([0.2, 0.3, 0.1], [0.25 / 40, 0.36 / 85, 0.16 / 26])["estimate"])
