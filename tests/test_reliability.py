"""Tests of evalkit.stats.reliability against pingouin's documented examples, statsmodels and closed forms."""
import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats as st
from statsmodels.multivariate.factor import Factor

from evalkit.data.cohort import Instrument, Subscale
from evalkit.stats.reliability import RELIABILITY_COLUMNS, item_statistics, measure_items, reliability


def instrument_for(items, subscale_id="s", total=False):
    return Instrument(id="inst", name="Inst", min=0, max=10, labels={}, scoring="mean",
                      min_answered=1, subscales=(Subscale(subscale_id, "S", tuple(items)),),
                      total=Subscale("total", "Total", ()) if total else None)


def as_long(wide, timepoint="pre"):
    out = wide.reset_index(drop=True).astype(float)
    out.insert(0, "timepoint", timepoint)
    out.insert(0, "id", [f"r{i}" for i in range(len(out))])
    return out


def test_pingouin_documented_long_example():
    # pingouin 0.7.0 cronbach_alpha docstring ("Likert-type long-format dataframe"):
    # pg.cronbach_alpha(data=read_dataset("cronbach_alpha"), items="Items", scores="Scores",
    #                   subject="Subj") -> (0.5917188485995826, array([0.195, 0.84 ]))
    data = pg.read_dataset("cronbach_alpha")
    wide = data.pivot(index="Subj", columns="Items", values="Scores")
    res = reliability(as_long(wide), instrument=instrument_for(wide.columns),
                      timepoints=("pre",)).iloc[0]
    assert res["alpha"] == pytest.approx(0.5917188485995826, rel=1e-12)
    assert res["alpha_ci_low"] == pytest.approx(0.195, abs=5e-4)  # pingouin rounds to 3 dp
    assert res["alpha_ci_high"] == pytest.approx(0.84, abs=5e-4)
    assert (res["n"], res["n_items"]) == (15, 10)


def test_listwise_deletion_matches_pingouin_and_psych():
    # pingouin 0.7.0 docstring: "In R: psych:alpha(data, use="complete.obs")"
    # pg.cronbach_alpha(data=read_dataset("cronbach_wide_missing"), nan_policy="listwise")
    # -> (0.8016949152542373, array([0.581, 0.933]))
    wide = pg.read_dataset("cronbach_wide_missing")
    res = reliability(as_long(wide), instrument=instrument_for(wide.columns),
                      timepoints=("pre",)).iloc[0]
    assert res["alpha"] == pytest.approx(0.8016949152542373, rel=1e-12)
    assert res["n"] == wide.dropna().shape[0] == 9
    # pingouin's interval [0.581, 0.933] uses n = 12 (rows *before* listwise deletion); evalkit
    # uses the 9 complete rows actually analysed. Feldt by hand with scipy's F quantiles:
    df1, df2 = 9 - 1, (9 - 1) * (11 - 1)
    low = 1 - (1 - res["alpha"]) * st.f.ppf(0.975, df1, df2)
    high = 1 - (1 - res["alpha"]) * st.f.ppf(0.025, df1, df2)
    assert (res["alpha_ci_low"], res["alpha_ci_high"]) == pytest.approx((low, high))
    assert 1 - (1 - res["alpha"]) * st.f.ppf(0.975, 11, 110) == pytest.approx(0.581, abs=5e-4)


def congeneric(n, loadings, seed, scales=None):
    rng = np.random.default_rng(seed)
    lam = np.asarray(loadings)
    f = rng.normal(size=n)
    x = f[:, None] * lam + rng.normal(size=(n, lam.size)) * np.sqrt(1 - lam ** 2)
    if scales is not None:
        x = x * np.asarray(scales)
    return pd.DataFrame(x, columns=[f"i{j + 1}" for j in range(lam.size)])


def test_omega_three_items_closed_form():
    # A one-factor model of 3 items is just identified: lambda_1^2 = r12 r13 / r23 (standardized)
    wide = congeneric(200, [0.8, 0.6, 0.5], seed=4, scales=[1, 2, 0.5])
    r = wide.corr().to_numpy()
    sd = wide.std().to_numpy()
    std_load = np.sqrt([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2],
                        r[0, 2] * r[1, 2] / r[0, 1]])
    assert (std_load < 1).all()  # no Heywood case in this sample
    lam, theta = std_load * sd, (1 - std_load ** 2) * sd ** 2
    expected = lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum())
    res = reliability(as_long(wide), instrument=instrument_for(wide.columns),
                      timepoints=("pre",)).iloc[0]
    assert res["omega"] == pytest.approx(expected, rel=1e-6)
    assert res["note"] == ""


def test_omega_matches_statsmodels_ml_factor():
    wide = congeneric(300, [0.8, 0.7, 0.6, 0.5, 0.4], seed=0, scales=[1, 2, 0.5, 1, 3])
    fa = Factor(wide.to_numpy(), n_factor=1, method="ml").fit()  # independent ML implementation
    sd = wide.std().to_numpy()
    lam = np.abs(fa.loadings.ravel()) * sd
    theta = fa.uniqueness * sd ** 2
    expected = lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum())
    res = reliability(as_long(wide), instrument=instrument_for(wide.columns),
                      timepoints=("pre",)).iloc[0]
    assert res["omega"] == pytest.approx(expected, rel=1e-5)


def test_omega_equals_alpha_for_parallel_items_in_large_sample():
    wide = congeneric(20000, [0.7] * 6, seed=9)
    res = reliability(as_long(wide), instrument=instrument_for(wide.columns),
                      timepoints=("pre",)).iloc[0]
    assert res["omega"] == pytest.approx(res["alpha"], abs=0.005)


def test_item_statistics_against_pingouin_and_numpy():
    wide = congeneric(60, [0.8, 0.7, 0.6, 0.5], seed=1)
    stats = item_statistics(as_long(wide), instrument=instrument_for(wide.columns)).set_index("item")
    for item in wide.columns:
        rest = wide.drop(columns=item)
        assert stats.loc[item, "alpha_if_dropped"] == pytest.approx(pg.cronbach_alpha(rest)[0])
        assert stats.loc[item, "item_rest_r"] == pytest.approx(
            np.corrcoef(wide[item], rest.sum(axis=1))[0, 1])
        assert stats.loc[item, "sd"] == pytest.approx(wide[item].std())


def test_timepoints_and_total_use_all_items():
    wide = congeneric(50, [0.8, 0.7, 0.6], seed=2)
    items = pd.concat([as_long(wide, "pre"), as_long(wide + 1, "post")])
    inst = instrument_for(wide.columns, total=True)
    assert measure_items(inst, "total") == ["i1", "i2", "i3"]
    res = reliability(items, instrument=inst)
    assert list(res.columns) == RELIABILITY_COLUMNS
    assert list(zip(res["measure"], res["timepoint"])) == [
        ("s", "pre"), ("s", "post"), ("total", "pre"), ("total", "post")]
    assert res["alpha"].iloc[0] == pytest.approx(res["alpha"].iloc[1])  # shift-invariant


def test_edge_cases_give_notes():
    two = congeneric(30, [0.8, 0.7], seed=3)
    res = reliability(as_long(two), instrument=instrument_for(two.columns), timepoints=("pre",))
    assert np.isfinite(res.loc[0, "alpha"]) and np.isnan(res.loc[0, "omega"])
    assert "at least 3 items" in res.loc[0, "note"]
    one = reliability(as_long(two[["i1"]]), instrument=instrument_for(["i1"]), timepoints=("pre",))
    assert np.isnan(one.loc[0, "alpha"]) and one.loc[0, "note"] == "not estimable from one item (a pre-scored measure)"
    empty = as_long(two)
    empty[["i1", "i2"]] = np.nan
    res = reliability(empty, instrument=instrument_for(two.columns), timepoints=("pre", "post"))
    assert (res["n"] == 0).all() and res["alpha"].isna().all()
    assert res["note"].str.contains("fewer than 2 respondents").all()
    constant = as_long(pd.DataFrame({"i1": [1.0] * 5, "i2": [2.0] * 5, "i3": [1.0] * 5}))
    res = reliability(constant, instrument=instrument_for(["i1", "i2", "i3"]), timepoints=("pre",))
    assert np.isnan(res.loc[0, "alpha"]) and "no variance" in res.loc[0, "note"]


def test_just_identified_model_converges_at_exact_fit():
    # regression: L-BFGS-B (the previous optimiser) stopped with "ABNORMAL" line search on this
    # sample-cohort matrix (EAQ-30 verbal sharing, post); the exact solution is
    # lambda_1^2 = r12 r13 / r23 etc.
    from evalkit.stats.reliability import _one_factor_ml

    r = np.array([[1, 0.37080091, 0.39235332], [0.37080091, 1, 0.36656195],
                  [0.39235332, 0.36656195, 1]])
    load, psi, status = _one_factor_ml(r)
    expected = np.sqrt([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2],
                        r[0, 2] * r[1, 2] / r[0, 1]])
    assert status == "ok"
    assert load == pytest.approx(expected, abs=1e-5)
    assert psi == pytest.approx(1 - expected ** 2, abs=1e-5)


def test_heywood_case_is_held_at_the_bound():
    # closed form lambda_1^2 = r12 r13 / r23 = 0.64 / 0.4 = 1.6 > 1: the ML solution puts
    # the first uniqueness at its lower bound (R factanal's 0.005)
    from evalkit.stats.reliability import MIN_UNIQUENESS, _one_factor_ml

    r = np.array([[1, 0.8, 0.8], [0.8, 1, 0.4], [0.8, 0.4, 1]])
    load, psi, status = _one_factor_ml(r)
    assert status == "heywood"
    assert psi[0] == pytest.approx(MIN_UNIQUENESS)
    assert (psi[1:] > 0.3).all() and (load > 0).all()


def test_gradient_and_hessian_match_finite_differences():
    from evalkit.stats.reliability import _fit_parts, _ml_gradient_hessian, _ml_objective

    r = congeneric(150, [0.8, 0.7, 0.6, 0.5, 0.4, 0.3], seed=6).corr().to_numpy()
    psi = np.linspace(0.3, 0.9, 6)

    def f(x):
        return _ml_objective(_fit_parts(r, x)[1])

    def g(x):
        return _ml_gradient_hessian(r, x, *_fit_parts(r, x))[0]

    grad, hess = g(psi), _ml_gradient_hessian(r, psi, *_fit_parts(r, psi))[1]
    h, eye = 1e-6, np.eye(6)
    assert grad == pytest.approx([(f(psi + h * e) - f(psi - h * e)) / (2 * h) for e in eye],
                                 abs=1e-7)
    assert hess == pytest.approx(np.array([(g(psi + h * e) - g(psi - h * e)) / (2 * h)
                                           for e in eye]), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_fit_reaches_factanal_lbfgsb_optimum(seed):
    # R factanal minimises the same objective with L-BFGS-B from the same start; the
    # projected Newton fit must reach that optimum (same uniquenesses, same omega)
    from scipy import optimize

    from evalkit.stats.reliability import (MIN_UNIQUENESS, _fit_parts, _ml_gradient_hessian,
                                     _ml_objective, _one_factor_ml)

    rng = np.random.default_rng(seed)
    k = 30 if seed == 0 else 7
    r = congeneric(400, rng.uniform(0.3, 0.85, k), seed=seed).corr().to_numpy()
    start = (1 - 0.5 / k) / np.diag(np.linalg.inv(r))
    ref = optimize.minimize(lambda x: _ml_objective(_fit_parts(r, x)[1]), start,
                            jac=lambda x: _ml_gradient_hessian(r, x, *_fit_parts(r, x))[0],
                            method="L-BFGS-B", bounds=[(MIN_UNIQUENESS, 1)] * k,
                            options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10})
    load, psi, status = _one_factor_ml(r)
    assert status == "ok"
    assert _ml_objective(_fit_parts(r, psi)[1]) <= ref.fun + 1e-12
    assert psi == pytest.approx(ref.x, abs=1e-5)
    omega = load.sum() ** 2 / (load.sum() ** 2 + psi.sum())
    sc = 1 / np.sqrt(ref.x)
    vals, vecs = np.linalg.eigh(r * np.outer(sc, sc))
    ref_load = np.abs(np.sqrt(ref.x) * vecs[:, -1] * np.sqrt(vals[-1] - 1))
    assert omega == pytest.approx(ref_load.sum() ** 2 / (ref_load.sum() ** 2 + ref.x.sum()),
                                  abs=1e-7)


def test_single_item_measure_gives_notes_not_an_index_error():
    # issue 9/11: a pre-scored total is a one-item instrument; np.cov of one column is 0-d and used to
    # raise IndexError when every answer was present (the one-covariance-matrix fast path)
    from evalkit.stats.reliability import _alphas

    one = congeneric(40, [0.8], seed=5)
    items = pd.concat([as_long(one, "pre"), as_long(one + 1, "post")])
    inst = instrument_for(["i1"])
    res = reliability(items, instrument=inst)
    assert res["alpha"].isna().all() and (res["note"] == "not estimable from one item (a pre-scored measure)").all()
    stats = item_statistics(items, instrument=inst)
    assert stats["note"].str.contains("not estimable from one item").all()
    assert np.isnan(_alphas(items, instrument=inst, measures=["s"], timepoint="pre")["s"])
