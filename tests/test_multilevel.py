"""Tests of evalkit.stats.multilevel: the intention-to-treat mixed model against R's lme4 and dense numpy."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.stats.multilevel import INTENTION_TO_TREAT_COLUMNS, _NestedREML, intention_to_treat

REFERENCE = Path(__file__).parent / "data" / "reference" / "itt_groups.csv"


@pytest.fixture
def itt_data():
    """55 people (47 in 10 groups, 8 one-to-one), 132 questionnaires: pre, post (some missing), follow-up."""
    data = pd.read_csv(REFERENCE, keep_default_na=False, dtype={"group": str})
    data["group"] = data["group"].replace("", pd.NA)
    return data.rename(columns={"score": "m"})


# R 4.x, lme4 1.1.31, on tests/data/reference/itt_groups.csv (blank group -> "alone:<id>"):
#   d$timepoint <- relevel(factor(d$timepoint), ref = "pre")
#   f <- lmer(score ~ timepoint + (1 | group/id), data = d, REML = TRUE); summary(f)$coefficients
#     timepointfollow_up 0.3016343048 0.10001802175; timepointpost 0.3685810902 0.08778565021
#   f2 <- lmer(score ~ timepoint + (1 | id), data = d, REML = TRUE); summary(f2)$coefficients
#     timepointfollow_up 0.3017432388 0.10002433221; timepointpost 0.3684577043 0.08779403497
R_NESTED = {"post-pre": (0.3685810902, 0.08778565021), "follow_up-pre": (0.3016343048, 0.10001802175)}
R_PERSON = {"post-pre": (0.3684577043, 0.08779403497), "follow_up-pre": (0.3017432388, 0.10002433221)}


@pytest.mark.parametrize("group, reference", [("group", R_NESTED), (None, R_PERSON)])
def test_estimates_and_se_equal_lme4(itt_data, group, reference):
    res = intention_to_treat(itt_data, measures=["m"], group=group).set_index("contrast")
    assert sorted(res.reset_index().columns) == sorted(INTENTION_TO_TREAT_COLUMNS)
    for contrast, (estimate, se) in reference.items():
        assert res.loc[contrast, "estimate"] == pytest.approx(estimate, abs=1e-4)
        assert res.loc[contrast, "se"] == pytest.approx(se, abs=1e-4)
        # Wald z, as statsmodels gives them
        z = res.loc[contrast, "estimate"] / res.loc[contrast, "se"]
        from scipy import stats
        assert res.loc[contrast, "p"] == pytest.approx(2 * stats.norm.sf(abs(z)))
        assert res.loc[contrast, "ci_low"] == pytest.approx(res.loc[contrast, "estimate"]
                                                            - 1.959963985 * res.loc[contrast, "se"])
    assert (res["n_people"] == 55).all() and (res["n_observations"] == 132).all()
    if group:
        assert (res["n_groups"] == 18).all()  # 10 groups and 8 groups of one
        assert "nested" in res["method"].iloc[0]


def test_complete_case_estimate_is_the_mean_change_of_matched_pairs(itt_data):
    res = intention_to_treat(itt_data, measures=["m"], group="group").set_index("contrast")
    wide = itt_data.pivot(index="id", columns="timepoint", values="m")
    for wave in ("post", "follow_up"):
        cc = (wide[wave] - wide["pre"]).dropna().mean()
        assert res.loc[f"{wave}-pre", "complete_case_estimate"] == pytest.approx(cc)
        assert res.loc[f"{wave}-pre", "difference"] == pytest.approx(res.loc[f"{wave}-pre", "estimate"] - cc)


def test_reml_sums_give_the_dense_gls_covariance():
    # reference: numpy, forming V = s2 I + vp Zp Zp' + vg Zg Zg' and inverting X' V^-1 X directly
    rng = np.random.default_rng(3)
    person = np.repeat(np.arange(30), rng.integers(1, 4, 30))
    group_of_person = rng.integers(0, 7, 30)
    group = group_of_person[person]
    x = np.column_stack([np.ones(person.size), rng.integers(0, 2, person.size), rng.normal(size=person.size)])
    s2, vp, vg = 0.4, 0.7, 0.2
    zp = (person[:, None] == np.arange(30)).astype(float)
    zg = (group[:, None] == np.arange(7)).astype(float)
    v = s2 * np.eye(person.size) + vp * zp @ zp.T + vg * zg @ zg.T
    dense = np.linalg.inv(x.T @ np.linalg.solve(v, x))
    y = rng.normal(size=person.size)
    _, _, xhx, _ = _NestedREML(x, y, person, pd.factorize(group)[0]).parts(vp / s2, vg / s2)
    fast = s2 * np.linalg.inv(xhx)  # X' V^-1 X with V = s2 H
    np.testing.assert_allclose(fast, dense, rtol=1e-10)


def test_statsmodels_is_the_fit(itt_data):
    # the estimate is statsmodels MixedLM's own REML fixed effect
    import statsmodels.formula.api as smf

    d = itt_data.assign(g=itt_data["group"].fillna("alone:" + itt_data["id"]))
    fit = smf.mixedlm("m ~ C(timepoint, Treatment('pre'))", d, groups="g", re_formula="1",
                      vc_formula={"person": "0 + C(id)"}).fit(reml=True)
    res = intention_to_treat(itt_data, measures=["m"], group="group").set_index("contrast")
    assert res.loc["post-pre", "estimate"] == pytest.approx(fit.fe_params.iloc[2], abs=1e-5)


def test_edge_cases_give_notes():
    only_pre = pd.DataFrame({"id": list("abcdef"), "timepoint": ["pre"] * 6, "m": np.arange(6.0)})
    assert "has a later questionnaire" in intention_to_treat(only_pre, measures=["m"]).loc[0, "note"]
    few = pd.DataFrame({"id": list("aabb"), "timepoint": ["pre", "post"] * 2, "m": [1.0, 2, 2, 3]})
    assert "fewer than 5" in intention_to_treat(few, measures=["m"]).loc[0, "note"]


def test_an_exact_fit_gives_a_note_not_an_error():
    """Every child scores 2 at both waves (tests/test_ages.py's cohort): the change is 0, as numpy's mean
    change, and there is no error left to give an SE, interval or p (it used to divide by zero)."""
    scores = pd.DataFrame({"id": np.repeat([f"c{i}" for i in range(8)], 2), "timepoint": ["pre", "post"] * 8,
                           "m": 2.0})
    res = intention_to_treat(scores, measures=["m"]).iloc[0]
    assert res["estimate"] == pytest.approx(np.mean(np.diff(scores["m"].to_numpy())[::2]), abs=1e-12)
    assert np.isnan(res["se"]) and np.isnan(res["p"]) and "no variation" in res["note"]
