"""Tests of evalkit.stats.moderators against pingouin, statsmodels and scipy identities."""
import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as st

from evalkit.errors import DataError
from evalkit.stats.moderators import ANCOVA_COLUMNS, MODERATOR_COLUMNS, ancova, group_means, moderators


@pytest.fixture
def meditation():
    """pingouin's 'mixed_anova' dataset, August as pre and January as post."""
    df = pg.read_dataset("mixed_anova")
    df = df.loc[df["Time"].isin(["August", "January"])].copy()
    df["timepoint"] = df["Time"].map({"August": "pre", "January": "post"})
    return df.rename(columns={"Subject": "id", "Group": "group", "Scores": "score"})


def unbalanced(seed=0, sizes=(12, 25, 40)):
    rng = np.random.default_rng(seed)
    rows = []
    for g, (n, shift) in enumerate(zip(sizes, (0.0, 0.3, 0.6))):
        pre = rng.normal(2, 0.5, n)
        post = pre + shift + rng.normal(0, 0.4, n)
        ids = [f"g{g}-{i}" for i in range(n)]
        rows.append(pd.DataFrame({"id": ids * 2, "timepoint": ["pre"] * n + ["post"] * n,
                                  "site": f"site {g}", "m": np.r_[pre, post]}))
    return pd.concat(rows, ignore_index=True)


def wide(scores, factor="site", measure="m"):
    w = scores.pivot(index="id", columns="timepoint", values=measure)
    w[factor] = scores.loc[scores["timepoint"] == "pre"].set_index("id")[factor]
    return w.assign(d=w["post"] - w["pre"], s=(w["post"] + w["pre"]) / 2)


def test_pingouin_documented_mixed_anova_table():
    # pingouin 0.7.0 mixed_anova docstring, read_dataset("mixed_anova"), .round(3):
    #   Group       SS 5.460 DF1 1 DF2 58  F 5.052 p_unc 0.028 np2 0.080
    #   Time        SS 7.628 DF1 2 DF2 116 F 4.027 p_unc 0.020 np2 0.065
    #   Interaction SS 5.167 DF1 2 DF2 116 F 2.728 p_unc 0.070 np2 0.045
    # (the reference tool itself, run here, reproduces its documentation)
    aov = pg.mixed_anova(dv="Scores", between="Group", within="Time", subject="Subject",
                         data=pg.read_dataset("mixed_anova")).round(3)
    assert aov["F"].tolist() == [5.052, 4.027, 2.728]
    assert aov["p_unc"].tolist() == [0.028, 0.020, 0.070]
    assert aov["np2"].tolist() == [0.080, 0.065, 0.045]


def test_matches_pingouin_mixed_anova_two_timepoints(meditation):
    ref = pg.mixed_anova(dv="score", between="group", within="timepoint", subject="id",
                         data=meditation)
    for ss_type in ("II", "III"):  # balanced groups: types II and III agree
        res = moderators(meditation, measures=["score"], factors=["group"], min_group_n=10,
                         ss_type=ss_type)
        assert res["source"].tolist() == ["group", "time", "interaction"]
        assert res["F"].to_numpy() == pytest.approx(ref["F"].to_numpy(), rel=1e-9)
        assert res["p"].to_numpy() == pytest.approx(ref["p_unc"].to_numpy(), rel=1e-9)
        assert res["np2"].to_numpy() == pytest.approx(ref["np2"].to_numpy(), rel=1e-9)
        assert res["ss"].to_numpy() == pytest.approx(ref["SS"].to_numpy(), rel=1e-9)
        assert res["df1"].tolist() == ref["DF1"].tolist()
        assert res["df2"].tolist() == ref["DF2"].tolist()


def test_type_ii_matches_pingouin_when_unbalanced():
    data = unbalanced()
    ref = pg.mixed_anova(dv="m", between="site", within="timepoint", subject="id", data=data)
    res = moderators(data, measures=["m"], factors=["site"], ss_type="II")
    assert res["F"].to_numpy() == pytest.approx(ref["F"].to_numpy(), rel=1e-9)
    assert res["p"].to_numpy() == pytest.approx(ref["p_unc"].to_numpy(), rel=1e-9)
    assert (res["ss_type"] == "II").all()


def test_identities_with_change_scores():
    data = unbalanced(seed=1)
    w = wide(data)
    groups = [g["d"].to_numpy() for _, g in w.groupby("site")]
    res = moderators(data, measures=["m"], factors=["site"]).set_index("source")
    # interaction = one-way ANOVA of the change scores across groups
    f, p = st.f_oneway(*groups)
    assert res.loc["interaction", "F"] == pytest.approx(f)
    assert res.loc["interaction", "p"] == pytest.approx(p)
    # factor main effect = one-way ANOVA of the person means (pre + post) / 2
    f, p = st.f_oneway(*[g["s"].to_numpy() for _, g in w.groupby("site")])
    assert res.loc["site", "F"] == pytest.approx(f) and res.loc["site", "p"] == pytest.approx(p)
    # time, type III = test of the intercept of d ~ C(site, Sum) (unweighted mean of group changes)
    fit = smf.ols("d ~ C(site, Sum)", data=w).fit()
    typ3 = sm.stats.anova_lm(fit, typ=3)
    assert res.loc["time", "F"] == pytest.approx(typ3.loc["Intercept", "F"])
    assert res.loc["time", "p"] == pytest.approx(typ3.loc["Intercept", "PR(>F)"])
    # time, type II = N mean(d)^2 / pooled within-group variance of d. Not the one-sample t^2:
    # the error term is the within-group variance (df N - k), not the total variance (df N - 1)
    ii = moderators(data, measures=["m"], factors=["site"], ss_type="II").set_index("source")
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (len(w) - 3)
    assert ii.loc["time", "F"] == pytest.approx(len(w) * w["d"].mean() ** 2 / msw)
    t1 = st.ttest_1samp(w["d"], 0).statistic
    assert ii.loc["time", "F"] != pytest.approx(t1 ** 2)


def test_duplicated_groups_time_f_uses_pooled_within_variance():
    data = unbalanced(sizes=(30, 0, 0)).assign(site="only")
    data2 = pd.concat([data, data.assign(id=data["id"] + "b", site="also")])
    w = wide(data2)
    res = moderators(data2, measures=["m"], factors=["site"]).set_index("source")
    # with identical groups the within-group variance of d equals the total, df N - 2 vs N - 1
    assert res.loc["interaction", "F"] == pytest.approx(0, abs=1e-9)
    msw = ((w["d"] - w["d"].mean()) ** 2).sum() / (len(w) - 2)
    assert res.loc["time", "F"] == pytest.approx(len(w) * w["d"].mean() ** 2 / msw)


def test_ancova_matches_statsmodels_and_pingouin():
    data = unbalanced(seed=2)
    w = wide(data).reset_index()
    res = ancova(data, measures=["m"], factors=["site"]).set_index("source")
    fit = smf.ols("post ~ pre + C(site)", data=w).fit()
    typ2 = sm.stats.anova_lm(fit, typ=2)
    assert res.loc["site", "F"] == pytest.approx(typ2.loc["C(site)", "F"])
    assert res.loc["site", "p"] == pytest.approx(typ2.loc["C(site)", "PR(>F)"])
    assert res.loc["pre", "F"] == pytest.approx(typ2.loc["pre", "F"])
    assert res.loc["site", "df2"] == typ2.loc["Residual", "df"]
    ref = pg.ancova(data=w, dv="post", covar="pre", between="site").set_index("Source")
    assert res.loc["site", "np2"] == pytest.approx(ref.loc["site", "np2"])
    assert res.loc["pre", "np2"] == pytest.approx(ref.loc["pre", "np2"])
    assert res.loc["site", "ss"] == pytest.approx(ref.loc["site", "SS"])
    # no interaction term: type III (sum-to-zero contrasts) gives the same test
    typ3 = sm.stats.anova_lm(smf.ols("post ~ pre + C(site, Sum)", data=w).fit(), typ=3)
    assert res.loc["site", "F"] == pytest.approx(typ3.loc["C(site, Sum)", "F"])


def test_small_groups_dropped_without_printing_their_size():
    data = unbalanced(sizes=(4, 25, 40))
    res = moderators(data, measures=["m"], factors=["site"], min_group_n=10)
    note = res["note"].iloc[0]
    assert "'site 0'" in note and "fewer than 10" in note and "4" not in note
    assert res["n"].iloc[0] == 65 and res["n_groups"].iloc[0] == 2
    assert res["groups"].iloc[0] == "site 1; site 2"


def test_one_group_left_gives_single_nan_row():
    data = unbalanced(sizes=(4, 25, 3))
    for fn in (moderators, ancova):
        res = fn(data, measures=["m"], factors=["site", "delivery"], min_group_n=10)
        assert len(res) == 2 and list(res.columns) == (MODERATOR_COLUMNS if fn is moderators else ANCOVA_COLUMNS)
        assert res["F"].isna().all()
        assert "fewer than 2 'site' groups" in res["note"].iloc[0]
        assert "no column 'delivery'" in res["note"].iloc[1]


def test_missing_factor_values_and_bad_ss_type():
    data = unbalanced()
    data.loc[data["id"].isin(["g1-0", "g1-1"]), "site"] = np.nan
    res = moderators(data, measures=["m"], factors=["site"])
    assert "no 'site' value left out" in res["note"].iloc[0]
    assert res["n"].iloc[0] == 12 + 25 + 40 - 2
    with pytest.raises(DataError):
        moderators(data, measures=["m"], factors=["site"], ss_type="I")


def test_group_means():
    data = unbalanced(sizes=(12, 25, 40))
    out = group_means(data, measure="m", factor="site")
    assert len(out) == 6 and out["timepoint"].tolist()[:2] == ["pre", "post"]
    ref = data.groupby(["site", "timepoint"])["m"].agg(["mean", "std", "size"])
    row = out.iloc[1]
    assert row["mean"] == pytest.approx(ref.loc[("site 0", "post"), "mean"])
    assert row["sd"] == pytest.approx(ref.loc[("site 0", "post"), "std"])
    half = st.t.ppf(0.975, 11) * row["sd"] / np.sqrt(12)
    assert row["ci_high"] - row["mean"] == pytest.approx(half)


def test_ancova_closed_form_equals_least_squares_including_collinear_pre():
    # the three nested fits are computed in closed form (within-group sums of squares);
    # numpy lstsq on the dummy-coded designs is the reference, also when pre is constant
    # within each group (slope not estimable once groups are in: it explains nothing)
    rng = np.random.default_rng(3)
    for constant_pre in (False, True):
        data = unbalanced(seed=4)
        if constant_pre:
            pre = data["timepoint"] == "pre"
            data.loc[pre, "m"] = data.loc[pre, "site"].map({"site 0": 1.0, "site 1": 2.0,
                                                            "site 2": 2.5})
        data = data.sample(frac=1, random_state=int(rng.integers(100)))  # row order is irrelevant
        w = wide(data).sort_index()
        x, y = w["pre"].to_numpy(), w["post"].to_numpy()
        dummies = pd.get_dummies(w["site"], drop_first=True, dtype=float).to_numpy()
        ones = np.ones((len(w), 1))

        def sse(design):
            beta = np.linalg.lstsq(design, y, rcond=None)[0]
            return float(((y - design @ beta) ** 2).sum())

        full = sse(np.hstack([ones, x[:, None], dummies]))
        res = ancova(data, measures=["m"], factors=["site"]).set_index("source")
        assert res.loc["site", "ss"] == pytest.approx(sse(np.hstack([ones, x[:, None]])) - full,
                                                      rel=1e-9, abs=1e-9)
        assert res.loc["pre", "ss"] == pytest.approx(sse(np.hstack([ones, dummies])) - full,
                                                     rel=1e-9, abs=1e-9)


def test_group_means_match_pandas_for_every_level():
    data = unbalanced(sizes=(12, 1, 40))
    out = group_means(data, measure="m", factor="site").set_index(["level", "timepoint"])
    ref = data.groupby(["site", "timepoint"])["m"].agg(["mean", "std", "size"])
    assert list(out.index) == [(s, t) for s in ("site 0", "site 1", "site 2")
                               for t in ("pre", "post")]
    for key, row in ref.iterrows():
        assert out.loc[key, "n"] == row["size"]
        assert out.loc[key, "mean"] == pytest.approx(row["mean"])
        if row["size"] > 1:
            assert out.loc[key, "sd"] == pytest.approx(row["std"])
        else:
            assert np.isnan(out.loc[key, "sd"])


def exact_fit(n=24):
    """post = pre + 2 for everyone: no residual variance in the ANCOVA nor in the change scores."""
    pre = np.arange(n, dtype=float) + 5
    return pd.DataFrame({"id": [f"c{i}" for i in range(n)] * 2, "timepoint": ["pre"] * n + ["post"] * n,
                         "delivery": (["group", "one-to-one"] * (n // 2)) * 2, "m": np.r_[pre, pre + 2]})


def test_zero_residual_gives_notes_not_zero_division():
    # issue 9: an exact fit used to raise ZeroDivisionError in the ANCOVA; F is undefined there
    # (statsmodels' anova_lm gives F = inf or nan for the same fit: 0/0 and ss/0)
    scores = exact_fit()
    res = ancova(scores, measures=["m"], factors=["delivery"], min_group_n=5)
    assert res["F"].isna().all() and res["p"].isna().all()
    assert res["note"].str.contains("no residual variance").all()
    fit = smf.ols("post ~ pre + C(delivery)", data=wide(scores, "delivery")).fit()
    assert fit.ssr == pytest.approx(0, abs=1e-9)
    assert res.loc[res["source"] == "pre", "ss"].iloc[0] == pytest.approx(
        sm.stats.anova_lm(fit, typ=2).loc["pre", "sum_sq"])
    mixed = moderators(scores, measures=["m"], factors=["delivery"], min_group_n=5)
    inter = mixed.set_index("source").loc[["time", "interaction"]]
    assert inter["F"].isna().all() and inter["note"].str.contains("no residual variance").all()
    between = mixed.set_index("source").loc["delivery"]
    assert np.isfinite(between["F"]) and between["note"] == ""


def test_moderator_family_holm_matches_statsmodels_multipletests():
    """p_holm_family: the interaction p values Holm-adjusted across every moderator test of the table.

    Reference: statsmodels.stats.multitest.multipletests(p, method="holm") (Holm, 1979), run here on the
    interaction p values; rows that are not interaction tests, or not tested, stay NaN and are not counted.
    """
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    data = unbalanced(sizes=(12, 25, 40))
    data["m2"] = data["m"] + rng.normal(0, 0.3, len(data))
    data["delivery"] = np.where(rng.random(len(data)) < 0.5, "group", "one-to-one")
    data.loc[data["timepoint"] == "post", "delivery"] = data.loc[data["timepoint"] == "pre", "delivery"].to_numpy()
    res = moderators(data, measures=["m", "m2"], factors=["site", "delivery", "referral"], min_group_n=10)
    inter = res["source"] == "interaction"
    assert inter.sum() == 4 and res["factor"].eq("referral").sum() == 2  # the missing factor: 2 skipped rows
    expected = multipletests(res.loc[inter, "p"], method="holm")[1]
    assert res.loc[inter, "p_holm_family"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert res.loc[~inter, "p_holm_family"].isna().all()
    assert (res.loc[inter, "p_holm_family"] >= res.loc[inter, "p"]).all()
    # the adjustment is across the whole table: one measure's own interaction tests alone give less
    alone = moderators(data, measures=["m"], factors=["site", "delivery"], min_group_n=10)
    assert alone.loc[alone["source"] == "interaction", "p_holm_family"].to_numpy() == pytest.approx(
        multipletests(alone.loc[alone["source"] == "interaction", "p"], method="holm")[1], rel=1e-12)


def test_moderator_family_holm_by_hand():
    # Holm (1979) by hand on three interaction p values 0.01, 0.04, 0.03 (m = 3):
    # sorted 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, max(0.06, 0.04 * 1) = 0.06
    from evalkit.stats.moderators import interaction_holm

    t = pd.DataFrame({"source": ["interaction", "time", "interaction", "site", "interaction"],
                      "p": [0.01, 0.0001, 0.04, 0.5, 0.03]})
    out = interaction_holm(t)
    assert out.iloc[[0, 2, 4]].tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert out.iloc[[1, 3]].isna().all()
