"""Tests of evalkit.stats.dose against statsmodels OLS (classical errors) and numpy means."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evalkit.stats.dose import DOSE_COLUMNS, dose_response


def test_slope_equals_statsmodels_ols():
    rng = np.random.default_rng(4)
    sessions = rng.integers(0, 7, 60)
    change = 0.05 * sessions + rng.normal(0, 0.3, 60)
    res = dose_response(pd.DataFrame({"m": change, "sessions": sessions}), measures=["m"], full_dose=5).iloc[0]
    fit = sm.OLS(change, sm.add_constant(sessions.astype(float))).fit()
    assert list(res.index) == DOSE_COLUMNS
    assert res["slope"] == pytest.approx(fit.params[1])
    assert (res["slope_ci_low"], res["slope_ci_high"]) == pytest.approx(tuple(fit.conf_int()[1]))
    assert res["slope_p"] == pytest.approx(fit.pvalues[1])
    full = sessions >= 5
    assert res["full_dose_n"] == full.sum() and res["partial_dose_n"] == (~full).sum()
    assert res["full_dose_mean_change"] == pytest.approx(change[full].mean())
    assert res["partial_dose_mean_change"] == pytest.approx(change[~full].mean())


def test_blank_sessions_are_left_out_and_edge_cases_give_notes():
    data = pd.DataFrame({"m": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "sessions": [6, 6, None, 6, 6, 6]})
    res = dose_response(data, measures=["m"]).iloc[0]
    assert res["n"] == 5 and "same number" in res["note"] and res["full_dose_n"] == 5
    few = dose_response(data.iloc[:3], measures=["m"]).iloc[0]
    assert "fewer than 5" in few["note"]
