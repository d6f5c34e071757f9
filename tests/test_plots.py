"""Tests for evalkit.report.plots: computations checked numerically, figures checked by reading their artists back."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from scipy import stats  # noqa: E402

from evalkit.report import plots  # noqa: E402
from evalkit.errors import DataError, EvalkitError  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def scores():
    """30 matched children (ids P001..P030) plus 2 with only a pre score; 3 delivery levels, one small."""
    rng = np.random.default_rng(42)
    n = 32
    ids = [f"P{i:03d}" for i in range(1, n + 1)]
    pre = np.round(rng.uniform(1, 3, n), 2)
    post = np.round(np.clip(pre + rng.normal(0.3, 0.4, n), 1, 3), 2)
    post[-2:] = np.nan  # P031, P032 have no post score
    delivery = np.array(["group"] * 15 + ["one-to-one"] * 12 + ["online"] * 3 + ["group"] * 2)
    return pd.DataFrame(
        {
            "id": np.repeat(ids, 2),
            "timepoint": ["pre", "post"] * n,
            "delivery": np.repeat(delivery, 2),
            "site": "north",
            "differentiating": np.ravel(np.column_stack([pre, post])),
        }
    )


def _matched(scores, measure="differentiating"):
    wide = scores.pivot(index="id", columns="timepoint", values=measure)[["pre", "post"]]
    return wide.dropna()


def _ci_segments(ax):
    """(x, low, high) of every errorbar bar drawn with gid 'ci'."""
    out = []
    for coll in ax.collections:
        if coll.get_gid() == "ci":
            for seg in coll.get_segments():
                out.append((seg[0][0], min(seg[0][1], seg[1][1]), max(seg[0][1], seg[1][1])))
    return sorted(out)


def _all_text(fig):
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(texts)


# --------------------------------------------------------------------------- within_subject_ci


def test_within_subject_ci_hand_computed():
    # Hand computation, Morey (2008) with J = 2: normalised scores have SD = SD(diff) / 2, times
    # sqrt(J / (J - 1)) = sqrt(2) gives SE = SD(diff) / sqrt(2 n). Diffs 1, 0.5, 1 -> SD = 0.288675;
    # t(0.975, df = 2) = 4.302653 (standard t table).
    scores = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c"],
            "timepoint": ["pre", "post"] * 3,
            "m": [1.0, 2.0, 2.0, 2.5, 1.5, 2.5],
        }
    )
    half = 4.302653 * 0.288675 / np.sqrt(2 * 3)
    out = plots.within_subject_ci(scores, measure="m")
    assert list(out.columns) == ["timepoint", "mean", "ci_low", "ci_high", "n"]
    assert list(out["timepoint"]) == ["pre", "post"]
    np.testing.assert_allclose(out["mean"], [1.5, 7 / 3])
    np.testing.assert_allclose(out["ci_low"], [1.5 - half, 7 / 3 - half], rtol=1e-5)
    np.testing.assert_allclose(out["ci_high"], [1.5 + half, 7 / 3 + half], rtol=1e-5)
    assert list(out["n"]) == [3, 3]


def test_within_subject_ci_matches_numpy_on_cohort(scores):
    # Independent route: Cousineau (2005) normalisation done by hand in numpy, Morey (2008)
    # correction factor sqrt(J / (J - 1)), scipy t quantile.
    wide = _matched(scores).to_numpy()
    n, j = wide.shape
    norm = wide - wide.mean(axis=1, keepdims=True) + wide.mean()
    se = norm.std(axis=0, ddof=1) / np.sqrt(n) * np.sqrt(j / (j - 1))
    half = stats.t.ppf(0.975, n - 1) * se
    out = plots.within_subject_ci(scores, measure="differentiating")
    np.testing.assert_allclose(out["mean"], wide.mean(axis=0))
    np.testing.assert_allclose(out["ci_high"] - out["mean"], half)
    assert (out["n"] == 30).all()
    # Both halves equal for J = 2, and narrower at 90%
    narrow = plots.within_subject_ci(scores, measure="differentiating", confidence=0.90)
    assert (narrow["ci_high"] - narrow["ci_low"] < out["ci_high"] - out["ci_low"]).all()


def test_within_subject_ci_too_few_people():
    one = pd.DataFrame({"id": ["a", "a"], "timepoint": ["pre", "post"], "m": [1.0, 2.0]})
    out = plots.within_subject_ci(one, measure="m")
    assert list(out["mean"]) == [1.0, 2.0]
    assert out[["ci_low", "ci_high"]].isna().all().all()
    none = pd.DataFrame({"id": ["a", "b"], "timepoint": ["pre", "post"], "m": [1.0, 2.0]})
    out = plots.within_subject_ci(none, measure="m")
    assert (out["n"] == 0).all() and out["mean"].isna().all()


def test_within_subject_ci_errors(scores):
    with pytest.raises(DataError, match="nope"):
        plots.within_subject_ci(scores, measure="nope")
    doubled = pd.concat([scores, scores.iloc[:1]])
    with pytest.raises(DataError, match="repeated"):
        plots.within_subject_ci(doubled, measure="differentiating")
    with pytest.raises(EvalkitError, match="confidence"):
        plots.within_subject_ci(scores, measure="differentiating", confidence=95)


# --------------------------------------------------------------------------- paired_plot


def test_paired_plot_means_cis_and_lines(scores):
    fig, ax = plt.subplots()
    out = plots.paired_plot(scores, measure="differentiating", label="Differentiating Emotions", ax=ax)
    assert out is ax
    wide = _matched(scores)
    (means,) = [line for line in ax.lines if line.get_gid() == "means"]
    np.testing.assert_array_equal(means.get_xdata(), [0, 1])
    np.testing.assert_allclose(means.get_ydata(), [wide["pre"].mean(), wide["post"].mean()])
    ci = plots.within_subject_ci(scores, measure="differentiating")
    segs = _ci_segments(ax)
    np.testing.assert_allclose([s[1] for s in segs], ci["ci_low"])
    np.testing.assert_allclose([s[2] for s in segs], ci["ci_high"])
    (individuals,) = [c for c in ax.collections if c.get_gid() == "individuals"]
    drawn = individuals.get_segments()
    assert len(drawn) == 30  # the two unmatched children are not drawn
    drawn_pairs = sorted((s[0][1], s[1][1]) for s in drawn)
    assert drawn_pairs == sorted(zip(wide["pre"], wide["post"]))
    assert ax.get_xlabel() == "n = 30 children with pre and post scores"
    assert ax.get_title() == "Differentiating Emotions"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Pre", "Post"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Individual change",
        "Mean with 95% within-subject CI",
    ]


def test_paired_plot_subset_rule(scores):
    ax = plots.paired_plot(scores, measure="differentiating", max_lines=10, seed=3, thin="sample",
                           ax=plt.figure().gca())
    (individuals,) = [c for c in ax.collections if c.get_gid() == "individuals"]
    first = [tuple(map(tuple, s)) for s in individuals.get_segments()]
    assert len(first) == 10
    assert ax.get_gid() == "sample"
    assert ax.get_xlabel().splitlines() == [
        "n = 30 children with pre and post scores",
        "More than 10 children: lines for a random 10 (means use everyone); all lines are drawn for 10 or fewer"]
    # every drawn line is a real person's pair
    wide = _matched(scores)
    real = set(zip(wide["pre"], wide["post"]))
    assert all((s[0][1], s[1][1]) in real for s in first)
    # the means still use everyone
    (means,) = [line for line in ax.lines if line.get_gid() == "means"]
    np.testing.assert_allclose(means.get_ydata(), wide.mean().to_numpy())
    # same seed -> same subset, whatever the row order; another seed -> another subset
    shuffled = scores.sample(frac=1, random_state=1)
    ax2 = plots.paired_plot(shuffled, measure="differentiating", max_lines=10, seed=3, thin="sample",
                            ax=plt.figure().gca())
    (again,) = [c for c in ax2.collections if c.get_gid() == "individuals"]
    assert [tuple(map(tuple, s)) for s in again.get_segments()] == first
    ax3 = plots.paired_plot(scores, measure="differentiating", max_lines=10, seed=4, thin="sample",
                            ax=plt.figure().gca())
    (other,) = [c for c in ax3.collections if c.get_gid() == "individuals"]
    assert [tuple(map(tuple, s)) for s in other.get_segments()] != first


def test_paired_plot_scale_and_empty():
    scores = pd.DataFrame({"id": ["a", "b"], "timepoint": ["pre", "post"], "m": [1.0, 2.0]})
    ax = plots.paired_plot(scores, measure="m", scale=(1, 3))
    lo, hi = ax.get_ylim()
    assert lo < 1 and hi > 3
    assert any("no matched" in t.get_text() for t in ax.texts)
    with pytest.raises(EvalkitError, match="max_lines"):
        plots.paired_plot(scores, measure="m", max_lines=0)


def test_paired_plot_never_draws_ids(scores):
    ax = plots.paired_plot(scores, measure="differentiating", max_lines=5)
    ax.figure.canvas.draw()
    text = _all_text(ax.figure)
    assert not any(pid in text for pid in scores["id"].unique())


# --------------------------------------------------------------------------- forest_plot


@pytest.fixture
def outcomes():
    return pd.DataFrame(
        {
            "measure": ["differentiating", "not_hiding", "verbal_sharing"],
            "label": ["Differentiating Emotions", "Not Hiding Emotions", np.nan],
            "n": [30, 1, 28],
            "mean_diff": [0.3, np.nan, -0.05],
            "ci_low": [0.1, np.nan, -0.2],
            "ci_high": [0.5, np.nan, 0.1],
            "d_z": [0.55, np.nan, -0.12],
            "d_z_ci_low": [0.16, np.nan, -0.49],
            "d_z_ci_high": [0.93, np.nan, 0.25],
            "g_av": [0.40, np.nan, -0.08],
            "g_av_ci_low": [0.10, np.nan, -0.30],
            "g_av_ci_high": [0.70, np.nan, 0.14],
            "note": ["", "fewer than 2 pairs", ""],
        }
    )


def test_forest_plot_rows_points_and_nan_row(outcomes):
    ax = plots.forest_plot(outcomes)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # table order, label falling back to the measure id, NaN row kept
    assert labels == [
        "Differentiating Emotions (n = 30)",
        "Not Hiding Emotions (n = 1)",
        "verbal_sharing (n = 28)",
    ]
    (points,) = [line for line in ax.lines if line.get_gid() == "effect"]
    np.testing.assert_allclose(points.get_xdata(), [0.55, -0.12])
    np.testing.assert_allclose(points.get_ydata(), [0, 2])
    (ci,) = [c for c in ax.collections if c.get_gid() == "ci"]
    ends = sorted((s[0][1], min(s[0][0], s[1][0]), max(s[0][0], s[1][0])) for s in ci.get_segments())
    np.testing.assert_allclose(ends, [(0, 0.16, 0.93), (2, -0.49, 0.25)])
    (missing,) = [t for t in ax.texts if t.get_gid() == "not_estimable"]
    assert missing.get_text().startswith("not estimable")
    assert missing.get_position()[1] == 1  # on the Not Hiding row
    (zero,) = [line for line in ax.lines if line.get_gid() == "zero"]
    assert list(zero.get_xdata()) == [0, 0]
    assert ax.get_xlabel() == "Cohen's d_z (mean change / SD of change), 95% CI"
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first measure on top


def test_forest_plot_g_av_uses_its_own_columns(outcomes):
    ax = plots.forest_plot(outcomes, effect="g_av")
    (points,) = [line for line in ax.lines if line.get_gid() == "effect"]
    np.testing.assert_allclose(points.get_xdata(), [0.40, -0.08])
    (ci,) = [c for c in ax.collections if c.get_gid() == "ci"]
    lows = sorted(min(s[0][0], s[1][0]) for s in ci.get_segments())
    np.testing.assert_allclose(lows, [-0.30, 0.10])
    assert ax.get_xlabel().startswith("Hedges' g_av")


def test_forest_plot_errors(outcomes):
    with pytest.raises(EvalkitError, match="effect='dz'"):
        plots.forest_plot(outcomes, effect="dz")
    with pytest.raises(DataError, match="d_z_ci_low"):
        plots.forest_plot(outcomes.drop(columns="d_z_ci_low"))
    with pytest.raises(DataError, match="no rows"):
        plots.forest_plot(outcomes.iloc[:0])


# --------------------------------------------------------------------------- interaction


def test_group_time_means_against_pandas(scores):
    out = plots.group_time_means(scores, measure="differentiating", factor="delivery", min_group_n=10)
    assert list(out.columns) == ["delivery", "timepoint", "mean", "ci_low", "ci_high", "n"]
    # online (3 children) is below 10 and left out entirely
    assert list(out["delivery"]) == ["group", "group", "one-to-one", "one-to-one"]
    matched = _matched(scores).join(scores.drop_duplicates("id").set_index("id")["delivery"])
    for _, row in out.iterrows():
        values = matched.loc[matched["delivery"] == row["delivery"], row["timepoint"]]
        assert row["n"] == len(values) == {"group": 15, "one-to-one": 12}[row["delivery"]]
        assert row["mean"] == pytest.approx(values.mean())
        # scipy's t interval of a mean
        lo, hi = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))


def test_group_time_means_level_from_pre_and_natural_order():
    scores = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c"],
            "timepoint": ["pre", "post"] * 3,
            "age_band": ["8-10", "11-13", "11-13", "11-13", "5-7", "5-7"],
            "m": [1.0, 2.0, 2.0, 3.0, 1.0, 1.0],
        }
    )
    out = plots.group_time_means(scores, measure="m", factor="age_band", min_group_n=1)
    assert list(out["age_band"].unique()) == ["5-7", "8-10", "11-13"]
    assert out.loc[out["age_band"] == "8-10", "mean"].tolist() == [1.0, 2.0]  # a counted at its pre band


def test_interaction_plot_omits_small_groups(scores):
    ax = plots.interaction_plot(scores, measure="differentiating", factor="delivery")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["group (n = 15)", "one-to-one (n = 12)"]
    assert "1 group with fewer than 10 children not shown" in ax.get_title()
    means = [line for line in ax.lines if line.get_gid() == "means"]
    assert len(means) == 2
    table = plots.group_time_means(scores, measure="differentiating", factor="delivery")
    for line, level in zip(means, ["group", "one-to-one"]):
        np.testing.assert_allclose(line.get_ydata(), table.loc[table["delivery"] == level, "mean"])
    segs = _ci_segments(ax)
    np.testing.assert_allclose(sorted(s[1] for s in segs), sorted(table["ci_low"]))
    assert "online" not in _all_text(ax.figure)


def test_interaction_plot_all_groups_small(scores):
    ax = plots.interaction_plot(scores, measure="differentiating", factor="delivery", min_group_n=100)
    assert not [line for line in ax.lines if line.get_gid() == "means"]
    assert "3 groups with fewer than 100 children not shown" in ax.get_title()
    assert any("no group has 100" in t.get_text() for t in ax.texts)


def test_interaction_plot_missing_factor(scores):
    with pytest.raises(DataError, match="age_band"):
        plots.interaction_plot(scores, measure="differentiating", factor="age_band")


# --------------------------------------------------------------------------- reliable change


def test_reliable_change_plot_percentages_counts_colours():
    rc = pd.DataFrame(
        {
            "measure": ["differentiating", "not_hiding", "analyses"],
            "n": [20, 9, np.nan],
            "rci_threshold": [0.9, 1.1, 1.0],
            "improved": [6, "<5", np.nan],
            "no_change": [12, 5, np.nan],
            "deteriorated": [2, "<5", np.nan],
        }
    )
    ax = plots.reliable_change_plot(rc)
    assert [c.get_label() for c in ax.containers] == ["Deteriorated", "No reliable change", "Improved"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Deteriorated",
        "No reliable change",
        "Improved",
    ]
    widths = [[p.get_width() for p in c] for c in ax.containers]
    np.testing.assert_allclose(widths, [[10.0], [60.0], [30.0]])
    lefts = [c[0].get_x() for c in ax.containers]
    np.testing.assert_allclose(lefts, [0, 10, 70])
    assert ax.containers[0][0].get_facecolor() == to_rgba(plots.RELIABLE_CHANGE_COLOURS["deteriorated"])
    assert ax.containers[2][0].get_facecolor() == to_rgba(plots.RELIABLE_CHANGE_COLOURS["improved"])
    counts = sorted(t.get_text() for t in ax.texts if t.get_gid() == "count")
    assert counts == ["12 (60%)", "2", "6 (30%)"]
    notes = {t.get_position()[1]: t.get_text() for t in ax.texts if t.get_gid() == "not_drawn"}
    assert notes == {1: "not shown: small counts suppressed", 2: "not shown: counts not available"}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["differentiating (n = 20)", "not_hiding", "analyses"]
    assert ax.get_xlim() == (0, 100)


# --------------------------------------------------------------------------- diverging bars


def _likert(points=5, items=("k1", "k2"), timepoints=("pre", "post"), seed=0):
    rng = np.random.default_rng(seed)
    labels = ["strongly disagree", "disagree", "neither", "agree", "strongly agree"][:points]
    rows = []
    for item in items:
        for tp in timepoints:
            n = rng.integers(1, 10, points)
            for r in range(points):
                rows.append((item, tp, r + 1, labels[r], int(n[r]), 100 * n[r] / n.sum()))
    return pd.DataFrame(rows, columns=["item", "timepoint", "response", "label", "n", "percent"])


def test_diverging_layout_widths_sum_to_100_and_midpoint_centred():
    dist = _likert(points=5)
    out = plots.diverging_layout(dist)
    assert list(out.columns) == ["item", "timepoint", "response", "label", "left", "width"]
    for _, row in out.groupby(["item", "timepoint"]):
        assert row["width"].sum() == pytest.approx(100)
        # contiguous in response order
        np.testing.assert_allclose(row["left"].iloc[1:], (row["left"] + row["width"]).iloc[:-1])
        mid = row[row["response"] == 3].iloc[0]
        assert mid["left"] + mid["width"] / 2 == pytest.approx(0)
        # responses 1-2 entirely left of 0, 4-5 entirely right
        assert (row.loc[row["response"] < 3, "left"] + row.loc[row["response"] < 3, "width"] <= 1e-9).all()
        assert (row.loc[row["response"] > 3, "left"] >= -1e-9).all()


def test_diverging_layout_even_scale_splits_at_zero():
    dist = pd.DataFrame(
        {
            "item": ["x"] * 4,
            "timepoint": ["pre"] * 4,
            "response": [1, 2, 3, 4],
            "label": list("abcd"),
            "percent": [10.0, 20.0, 30.0, 40.0],
        }
    )
    out = plots.diverging_layout(dist)
    np.testing.assert_allclose(out["left"], [-30, -20, 0, 30])


def test_diverging_layout_fills_missing_responses_and_uses_n():
    dist = pd.DataFrame(
        {"item": ["x", "x"], "timepoint": ["pre", "pre"], "response": [1, 3], "label": ["no", "yes"], "n": [1, 3]}
    )
    out = plots.diverging_layout(dist, scale=(1, 3))
    assert list(out["response"]) == [1, 2, 3]
    np.testing.assert_allclose(out["width"], [25, 0, 75])
    np.testing.assert_allclose(out["left"], [-25, 0, 0])


def test_diverging_bar_plot_reads_back():
    dist = _likert(points=5, timepoints=("pre", "post", "follow_up"))
    ax = plots.diverging_bar_plot(dist, item_labels={"k1": "I know the signs"})
    # one container per response, in response order, legend in the same order
    assert [c.get_label() for c in ax.containers] == [
        "strongly disagree",
        "disagree",
        "neither",
        "agree",
        "strongly agree",
    ]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [c.get_label() for c in ax.containers]
    # 2 items x 2 timepoints drawn (follow_up not asked for); every bar sums to 100% width
    bars = {}
    for container in ax.containers:
        for patch in container:
            bars.setdefault(round(patch.get_y() + patch.get_height() / 2, 6), []).append(patch)
    assert len(bars) == 4
    for patches in bars.values():
        assert sum(p.get_width() for p in patches) == pytest.approx(100)
        neutral = patches[2]
        assert neutral.get_x() + neutral.get_width() / 2 == pytest.approx(0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["I know the signs", "k2"]
    minor = [t.get_text() for t in ax.get_yticklabels(minor=True)]
    assert [m.split(" ")[0] for m in minor] == ["Pre", "Post", "Pre", "Post"]
    assert ax.get_xlim()[0] == -ax.get_xlim()[1]


# --------------------------------------------------------------------------- theme and grids


def test_stored_theme_equals_seaborn_set_theme():
    """evalkit/report/_theme.py must hold exactly what seaborn.set_theme gives (seaborn is the reference)."""
    import seaborn as sns

    with mpl.rc_context():
        plots._seaborn_theme()
        plots.literal_text()  # set_theme switches mathtext off after either path
        reference = dict(mpl.rcParams)
    with mpl.rc_context():
        plots.set_theme()
        stored = dict(mpl.rcParams)
    # image.cmap is seaborn's "rocket", registered only when seaborn is imported; evalkit draws no images
    differs = sorted(k for k in reference if reference[k] != stored[k] and k != "image.cmap")
    assert differs == [], f"regenerate evalkit/report/_theme.py with `python -m evalkit.report._theme`: {differs}"
    for n in (3, 4, 5, 7):  # seaborn.color_palette is the reference for both palettes
        assert np.allclose(plots.diverging_palette(n), sns.color_palette("BrBG", n), atol=1e-12)
    for n in (4, 12):
        assert plots.colorblind_palette(n) == [tuple(c) for c in sns.color_palette("colorblind", n)]


def test_t_quantile_matches_scipy_stats():
    from scipy import special, stats

    for df in (1, 5, 29, 1000):
        assert special.stdtrit(df, 0.975) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-12)


def test_figure_notebooks_need_no_seaborn_import():
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('Agg'); import sys, evalkit.report.plots as p; p.set_theme(); "
            "import matplotlib.pyplot as plt; plt.imshow([[0, 1]]); "  # the default colour map must exist
            "print('seaborn' in sys.modules, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_set_theme_sets_whitegrid_and_colourblind_palette():
    import seaborn as sns

    with mpl.rc_context():
        plots.set_theme()
        assert mpl.rcParams["axes.grid"] is True
        cycle = [c for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
        assert [to_rgba(c) for c in cycle[:3]] == [to_rgba(c) for c in sns.color_palette("colorblind")[:3]]
    with pytest.raises(EvalkitError, match="context"):
        plots.set_theme(context="poster-ish")


def test_grids_lay_out_one_panel_each(scores):
    fig = plots.paired_grid(scores, measures=["differentiating"] * 4, col_wrap=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4 and len(fig.axes) == 6
    assert all(ax.get_legend() is None for ax in fig.axes)  # one figure legend instead
    assert [t.get_text() for t in fig.legends[0].get_texts()][0] == "Individual change"
    fig = plots.interaction_grid(scores, measure="differentiating", factors=["delivery", "site"])
    titles = [ax.get_title().splitlines()[0] for ax in fig.axes if ax.get_visible()]
    assert titles == ["differentiating by delivery", "differentiating by site"]


# --------------------------------------------------------------------------- issue 9: text drawn literally, bars that hide small counts

@pytest.mark.parametrize("label", ["$\\alpha$", "Cost $5", "$x^2$ and $", "a_b^c {{ }}"])
def test_labels_with_dollars_draw_literally(scores, label):
    """A label holding $...$ is text, not mathtext: it draws without error and keeps its characters."""
    with mpl.rc_context({"text.parse_math": True}):
        fig, ax = plt.subplots()  # made while mathtext was on
        plots.paired_plot(scores, measure="differentiating", label=label, ax=ax)
        fig.canvas.draw()
        assert ax.get_title() == label and not ax.title.get_parse_math()
        assert all(not t.get_parse_math() for t in ax.get_yticklabels() + ax.get_xticklabels())
    grid = plots.paired_grid(scores, measures=["differentiating"], labels={"differentiating": label})
    grid.canvas.draw()
    assert [a.get_title() for a in grid.axes if a.get_visible()] == [label]


def test_theme_switches_mathtext_off():
    with mpl.rc_context({"text.parse_math": True}):
        plots.set_theme()
        assert mpl.rcParams["text.parse_math"] is False


def _bars(counts):
    rows = []
    for tp, values in counts.items():
        for response, n in enumerate(values, start=1):
            rows.append({"item": "k1", "timepoint": tp, "response": response, "label": f"r{response}",
                         "n": n, "percent": 100 * n / sum(values)})
    return pd.DataFrame(rows)


def test_item_bars_hide_a_small_share_and_the_one_that_would_give_it_away():
    # pre: 2 of 40 answered 1 (5%), 10 answered 2 (25%), 28 answered 3 (70%); 25% + 70% would leave 5%
    dist = _bars({"pre": [2, 10, 28], "post": [0, 12, 28]})
    ax = plots.diverging_bar_plot(dist, min_cell=5)
    labels = sorted(t.get_text() for t in ax.texts if t.get_gid() == "percent")
    assert labels == ["30%", "70%", "70%"]  # post: 30% and 70%; pre: only the 70%
    plain = plots.diverging_bar_plot(dist, ax=plt.figure().gca())
    assert sorted(t.get_text() for t in plain.texts if t.get_gid() == "percent") == ["25%", "30%", "70%", "70%"]


def test_item_bars_of_few_answers_say_so():
    ax = plots.diverging_bar_plot(_bars({"pre": [1, 1, 2], "post": [0, 6, 4]}), min_cell=5)
    assert [t.get_text() for t in ax.get_yticklabels(minor=True)] == ["Pre (n < 5)", "Post (n = 10)"]
    assert [t.get_text() for t in ax.texts if t.get_gid() == "percent"] == []  # 6 and 4: the 4 hides the 6


def test_paired_plot_draws_nothing_for_fewer_than_min_cell(scores):
    few = scores[scores["id"].isin(["P001", "P002", "P003"])]
    ax = plots.paired_plot(few, measure="differentiating", min_cell=5)
    assert ax.get_xlabel() == "n < 5 children with pre and post scores"
    assert [t.get_text() for t in ax.texts] == ["not shown: fewer than 5 children"] and not ax.collections
    plain = plots.paired_plot(few, measure="differentiating", ax=plt.figure().gca())
    assert plain.get_xlabel() == "n = 3 children with pre and post scores"


def test_group_plots_hide_sizes_that_give_a_small_group_away(scores):
    # online: 3 children, left out (min_group_n 10); 30 matched - 15 group - 12 one-to-one = 3
    ax = plots.change_by_group_plot(scores, measures=["differentiating"], factor="delivery", min_cell=5)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["group", "one-to-one"]
    assert ax.get_title().endswith("not shown (nor group sizes)")
    shown = plots.change_by_group_plot(scores, measures=["differentiating"], factor="delivery", min_cell=3,
                                       ax=plt.figure().gca())
    assert [t.get_text() for t in shown.get_legend().get_texts()] == ["group (n = 15)", "one-to-one (n = 12)"]
    ax = plots.interaction_plot(scores, measure="differentiating", factor="delivery", min_cell=5,
                                ax=plt.figure().gca())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["group", "one-to-one"]


# --------------------------------------------------------------------------- issue 10: legends, thinning, item texts

import textwrap  # noqa: E402

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from tests.conftest import SAMPLE, write_cohort  # noqa: E402


def _drawn(fig):
    """Draw ``fig`` (also a closed one, whose canvas is gone) and return the renderer used."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _data_extents(fig, renderer):
    """Window extents of every data artist of every visible axes: lines with data, collections (errorbar
    bars, line collections), patches (bars, boxes) and texts in the axes; the axes background, spines and
    artists with an empty extent are left out. Clipped artists are cut to their axes."""
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        artists = [line for line in ax.lines if len(line.get_xdata())]
        artists += list(ax.collections) + list(ax.patches) + list(ax.texts)
        for artist in artists:
            if not artist.get_visible():
                continue
            box = artist.get_window_extent(renderer)
            if artist.get_clip_on():
                box = Bbox.intersection(box, ax.bbox)
            if box is None or not np.isfinite(box.get_points()).all() or (box.width <= 0 and box.height <= 0):
                continue
            out.append((ax, artist, box))
    return out


def _legends(fig):
    return [ax.get_legend() for ax in fig.axes if ax.get_visible() and ax.get_legend()] + list(fig.legends)


def _legend_clashes(fig):
    """Every legend that covers a data artist of any axes or another legend, or reaches outside the figure
    (would be cut off)."""
    renderer = _drawn(fig)
    data = _data_extents(fig, renderer)
    clashes = []
    boxes = [legend.get_window_extent(renderer) for legend in _legends(fig)]
    clashes += [f"legends {i} and {j} overlap" for i, a in enumerate(boxes) for j, b in enumerate(boxes)
                if i < j and a.overlaps(b)]
    for legend in _legends(fig):
        box = legend.get_window_extent(renderer)
        name = legend.get_texts()[0].get_text() if legend.get_texts() else "legend"
        for ax, artist, extent in data:
            if box.overlaps(extent):
                clashes.append(f"legend {name!r} covers {type(artist).__name__} {artist.get_gid() or artist.get_label()!r}"
                               f" of the panel {ax.get_title(loc='left') or ax.get_title()!r}")
        page = fig.bbox
        if box.x0 < page.x0 - 0.5 or box.y0 < page.y0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y1 > page.y1 + 0.5:
            clashes.append(f"legend {name!r} reaches outside the figure: {box.bounds} of {page.bounds}")
    return clashes


def test_legend_check_sees_a_legend_on_the_data_and_one_off_the_page():
    """The check itself: a legend in the middle of dense data, and one pushed below the figure, are caught."""
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 50)
    for k in range(10):
        ax.plot(x, x * k, label=f"line {k}")
    ax.legend(loc="center")
    clashes = _legend_clashes(fig)
    assert clashes and all("covers Line2D" in c for c in clashes)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="one")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5))
    assert [c.split(":")[0] for c in _legend_clashes(fig)] == ["legend 'one' reaches outside the figure"]


def _long_names_cohort(folder):
    """The sample's design (300 children, 60 facilitators) with long group, referral and site names."""
    from evalkit.sample import make_children, make_facilitators

    kids = make_children(300, seed=7, messy=False)
    kids["delivery"] = kids["delivery"].map({
        "group": "group sessions for six to eight children in a school",
        "one-to-one": "one-to-one sessions at home with a trained facilitator"})
    kids["referral_reason"] = kids["referral_reason"] + ", as recorded by the referring agency on the form"
    kids["site"] = kids["site"] + " (Northern Community Family Support Partnership)"
    return write_cohort(folder, kids, make_facilitators(60, seed=7, messy=False))


@pytest.fixture(scope="module", params=["sample", "long_names"])
def report_data(request, tmp_path_factory):
    import evalkit.notebook as ek

    if request.param == "sample":
        return ek.load(str(SAMPLE / "cohort.yml"))
    return ek.load(str(_long_names_cohort(tmp_path_factory.mktemp("long_names"))))


def _notebook_figures(data):
    import evalkit.notebook as ek

    overview, pairs = ek.interaction_figures(data, "children")
    return {
        "paired_children": ek.paired_figure(data, "children"),
        "paired_facilitators": ek.paired_figure(data, "facilitators"),
        "forest": ek.forest_figure(data, "children"),
        "interaction_overview": overview,
        "interaction_pairs": pairs,
        "reliable_change": ek.reliable_change_figure(data, "children"),
        "items": ek.item_figure(data, "facilitators"),
    }


def test_no_legend_covers_data_in_any_report_figure(report_data):
    figures = _notebook_figures(report_data)
    assert all(hasattr(image, "figure") for image in figures.values()), figures  # all seven drawn
    legends = {name: len(_legends(image.figure)) for name, image in figures.items()}
    assert legends["forest"] == 0 and all(n > 0 for name, n in legends.items() if name != "forest")
    assert legends["interaction_overview"] == 4  # one key per factor panel
    for name, image in figures.items():
        assert _legend_clashes(image.figure) == [], name
    delivery = set(report_data.cohort.sections["children"].scores["delivery"].dropna())
    if "one-to-one" not in delivery:  # the long names: wrapped in the keys, not cut
        texts = [t.get_text() for t in figures["interaction_overview"].figure.legends or []] + [
            t.get_text() for ax in figures["interaction_overview"].figure.axes if ax.get_legend()
            for t in ax.get_legend().get_texts()]
        assert "group sessions for six to\neight children in a school (n = 202)" in texts


def _wide_cohort(n, seed=1):
    rng = np.random.default_rng(seed)
    pre = np.round(rng.uniform(1, 3, n), 2)
    post = np.round(np.clip(pre + rng.normal(0.3, 0.4, n), 1, 3), 2)
    return pd.DataFrame({"id": np.repeat([f"P{i:03d}" for i in range(n)], 2), "timepoint": ["pre", "post"] * n,
                         "delivery": np.repeat(rng.choice(["group", "one-to-one"], n), 2),
                         "m": np.ravel(np.column_stack([pre, post])), "k": np.ravel(np.column_stack([post, pre]))})


def _individual_lines(fig):
    """Individual pre->post lines drawn: segments of the 'individuals' collections and any other Line2D drawn
    as a line from pre to post (x = 0 to 1), but for the means and the zero line."""
    count = 0
    for ax in fig.axes:
        count += sum(len(c.get_segments()) for c in ax.collections if c.get_gid() == "individuals")
        count += sum(1 for line in ax.lines if list(line.get_xdata()) == [0, 1] and line.get_linestyle() != "None"
                     and line.get_gid() not in ("means", "zero"))
    return count


@pytest.mark.parametrize("kind", ["standalone", "grid"])
def test_more_than_50_people_get_the_spread_of_change_and_say_so(kind):
    big = _wide_cohort(270)
    if kind == "standalone":
        fig, ax = plt.subplots(layout="constrained")
        plots.paired_plot(big, measure="m", ax=ax)
        statement = ax.get_xlabel().splitlines()[1]
        axes = [ax]
    else:
        fig = plots.paired_grid(big, measures=["m", "k"], scale=(1, 3))
        statement = fig._suptitle.get_text()
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert fig._suptitle.get_gid() == "thinning"
        assert axes[0].get_ylim() == axes[1].get_ylim()  # one change axis, spreads compare directly
    assert statement == ("More than 50 children, so the spread of their changes (post − pre) is shown instead of "
                         "a line for each; lines are drawn for 50 or fewer")
    assert _individual_lines(fig) == 0 and all(len(ax.lines) <= 50 for ax in axes)
    wide = big.pivot(index="id", columns="timepoint", values="m")
    change = (wide["post"] - wide["pre"]).to_numpy()
    ax = axes[0]
    assert ax.get_gid() == "distribution"
    (box,) = [p for p in ax.patches if p.get_gid() == "middle_half"]
    q10, q25, q50, q75, q90 = np.quantile(change, [0.1, 0.25, 0.5, 0.75, 0.9])
    assert box.get_y() == pytest.approx(q25) and box.get_y() + box.get_height() == pytest.approx(q75)
    (median,) = [c for c in ax.collections if c.get_gid() == "median"]
    assert median.get_segments()[0][:, 1] == pytest.approx([q50, q50])
    (spread,) = [c for c in ax.collections if c.get_gid() == "spread"]
    assert sorted(spread.get_segments()[0][:, 1]) == pytest.approx([q10, q90])
    (mean,) = [line for line in ax.lines if line.get_gid() == "means"]
    assert mean.get_ydata()[0] == pytest.approx(change.mean())
    half = stats.t.ppf(0.975, len(change) - 1) * change.std(ddof=1) / np.sqrt(len(change))
    (ci,) = _ci_segments(ax)
    assert ci[1:] == pytest.approx((change.mean() - half, change.mean() + half))
    (zero,) = [line for line in ax.lines if line.get_gid() == "zero"]
    assert list(zero.get_ydata()) == [0, 0]
    legend = fig.legends[0] if kind == "grid" else ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "Middle half of children (25th to 75th percentile)", "10th to 90th percentile of children",
        "Median change", "Mean change with 95% CI", "No change (0)"]
    assert _legend_clashes(fig) == []


def test_50_or_fewer_people_keep_a_line_each_and_the_sample_rule_draws_50():
    fig = plots.paired_grid(_wide_cohort(50), measures=["m"], scale=(1, 3))
    assert _individual_lines(fig) == 50 and fig._suptitle is None
    assert [ax.get_gid() for ax in fig.axes if ax.get_visible()] == ["lines"]
    fig = plots.paired_grid(_wide_cohort(51), measures=["m"], scale=(1, 3))
    assert _individual_lines(fig) == 0 and fig._suptitle.get_gid() == "thinning"
    fig = plots.paired_grid(_wide_cohort(270), measures=["m"], scale=(1, 3), thin="sample")
    assert _individual_lines(fig) == 50
    assert fig._suptitle.get_text().startswith("More than 50 children: lines for a random 50 (means use everyone)")
    assert _legend_clashes(fig) == []


def test_change_distribution_shows_nothing_for_fewer_than_min_cell():
    few = _wide_cohort(4)
    ax = plots.paired_plot(few, measure="m", max_lines=2, min_cell=5)
    assert ax.get_gid() == "not_drawn" and not ax.patches and not ax.collections
    with pytest.raises(EvalkitError, match="thin"):
        plots.paired_plot(few, measure="m", thin="hairball")


def test_standalone_plots_keep_their_legends_off_the_data(scores):
    long = scores.assign(delivery=scores["delivery"].map(
        {"group": "group sessions at school with six to eight children", "one-to-one": "one-to-one at home",
         "online": "online"}))
    draws = [
        lambda ax: plots.paired_plot(scores, measure="differentiating", ax=ax),
        lambda ax: plots.paired_plot(scores, measure="differentiating", max_lines=10, ax=ax),
        lambda ax: plots.change_by_group_plot(long, measures=["differentiating"] * 3, factor="delivery", ax=ax),
        lambda ax: plots.interaction_plot(long, measure="differentiating", factor="delivery", ax=ax),
        lambda ax: plots.reliable_change_plot(pd.DataFrame({"measure": ["a", "b"], "improved": [6, 9],
                                                            "no_change": [12, 10], "deteriorated": [2, 5]}), ax=ax),
        lambda ax: plots.diverging_bar_plot(_likert(), ax=ax),
    ]
    for draw in draws:
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        draw(ax)
        assert ax.get_legend() is not None
        assert _legend_clashes(fig) == []


def test_group_keys_list_groups_in_the_order_drawn_top_down(scores):
    ax = plots.change_by_group_plot(scores, measures=["differentiating"], factor="delivery")
    (first, second) = [line for line in ax.lines if line.get_gid() == "change"]
    assert first.get_ydata()[0] > second.get_ydata()[0]  # "group", first in the key, on top
    assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["group", "one-to-one"]


def test_item_chart_rows_are_the_questions_as_asked():
    import evalkit.notebook as ek

    data = ek.load(str(SAMPLE / "cohort.yml"))
    texts = data.cohort.sections["facilitators"].instrument.item_texts
    assert len(texts) == 12
    image = ek.item_figure(data, "facilitators")
    (ax,) = image.figure.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    expected = [textwrap.fill(texts[i], plots.ITEM_WRAP, break_on_hyphens=False) for i in texts]
    expected[-1] = textwrap.fill(texts["c4"] + " (reverse-scored item: answers as given)", plots.ITEM_WRAP,
                                 break_on_hyphens=False)
    assert labels == expected
    assert labels[0] == "I know how domestic abuse can affect\na child's development."
    assert all(max(len(line) for line in label.splitlines()) <= plots.ITEM_WRAP for label in labels)
    assert all(t.get_fontsize() >= 10 for t in ax.get_yticklabels())  # readable at 1280 px
    # the figure is as tall as its rows: 2 per item (2 text lines fit), a line of 0.21 in more for u3, 2 for c4,
    # and 11 gaps
    lines = [label.count("\n") + 1 for label in labels]
    assert lines == [2] * 6 + [3] + [2] * 4 + [4]
    rows = sum(max(2, n * 0.21 / plots.ITEM_ROW_INCHES) for n in lines) + 11 * 0.6
    assert rows > 12 * 2 + 11 * 0.6
    assert image.figure.get_figheight() == pytest.approx(plots.ITEM_ROW_INCHES * rows + 1.9)
    assert "12 questions" in image.alt and "“strongly disagree” in brown" in image.alt


def test_item_chart_grows_with_wrapped_lines_and_falls_back_to_the_id():
    dist = _likert(items=("k1", "k2", "k3"))
    short = plots.diverging_rows(dist, item_labels={"k1": "I know the signs."})
    long = plots.diverging_rows(dist, item_labels={"k1": "I know the signs " * 12})  # 6 lines of 36
    assert short == pytest.approx(3 * 2 + 2 * 0.6)
    assert long == pytest.approx(short - 2 + 6 * 0.21 / plots.ITEM_ROW_INCHES)
    ax = plots.diverging_bar_plot(dist, item_labels={"k1": "I know the signs.", "k2": "  ", "k3": float("nan")})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["I know the signs.", "k2", "k3"]


def test_reverse_scored_item_is_drawn_as_answered():
    # keyed counts of a 1-5 item: 10 people keyed 5 (answered 1 on the form), 2 keyed 1 (answered 5)
    keyed = pd.DataFrame({"item": "c4", "timepoint": "pre", "response": [1, 2, 3, 4, 5], "reverse": True,
                          "label": ["strongly disagree", "disagree", "neither", "agree", "strongly agree"],
                          "n": [2, 0, 0, 0, 10]})
    ax = plots.diverging_bar_plot(keyed, item_labels={"c4": "I feel out of my depth."}, scale=(1, 5))
    widths = {c.get_label(): c[0].get_width() for c in ax.containers}
    assert widths["strongly disagree"] == pytest.approx(100 * 10 / 12)
    assert widths["strongly agree"] == pytest.approx(100 * 2 / 12)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "I feel out of my depth.\n(reverse-scored item: answers as\ngiven)"]


# --------------------------------------------------------------------------- issue 10: captions say what is drawn

import re  # noqa: E402

import nbformat  # noqa: E402

#: Plain colour words a caption may use, with a typical colour each; an artist's colour is named by the
#: nearest one, so a caption that says "black points" for blue points cannot pass.
COLOUR_WORDS = {
    "black": (0.0, 0.0, 0.0), "dark grey": (0.33, 0.33, 0.33), "grey": (0.58, 0.58, 0.58),
    "light grey": (0.8, 0.8, 0.8), "blue": (0.0, 0.45, 0.7), "orange-red": (0.84, 0.37, 0.0),
    "green": (0.0, 0.62, 0.45), "brown": (0.65, 0.45, 0.15), "light brown": (0.87, 0.76, 0.5),
    "teal": (0.15, 0.52, 0.48), "light teal": (0.6, 0.84, 0.79),
}


def _colour_word(colour):
    rgb = np.array(to_rgba(colour)[:3])
    return min(COLOUR_WORDS, key=lambda word: np.linalg.norm(rgb - np.array(COLOUR_WORDS[word])))


def _caption(notebook, call):
    """The markdown cell directly above the code cell ``call`` in ``notebooks/<notebook>.ipynb``, one line."""
    nb = nbformat.read(str(SAMPLE.parents[1] / "notebooks" / f"{notebook}.ipynb"), as_version=4)
    (i,) = [k for k, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip() == call]
    assert nb.cells[i - 1].cell_type == "markdown"
    return " ".join(nb.cells[i - 1].source.split())


def _named_points(caption):
    """Colour words a caption puts before "point(s)"."""
    words = "|".join(sorted(map(re.escape, COLOUR_WORDS), key=len, reverse=True))
    return set(re.findall(rf"\b({words}) points?\b", caption))


@pytest.fixture(scope="module")
def sample_data():
    import evalkit.notebook as ek

    return ek.load(str(SAMPLE / "cohort.yml"))


@pytest.mark.parametrize("notebook,section,unit", [("02_child_outcomes", "children", "children"),
                                                   ("03_facilitator_confidence", "facilitators", "facilitators")])
def test_paired_captions_name_the_colours_drawn(sample_data, notebook, section, unit):
    import evalkit.notebook as ek

    caption = _caption(notebook, f'ek.paired_figure(data, "{section}")')
    fig = ek.paired_figure(sample_data, section).figure
    (ax, *_) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_gid() == "distribution"  # the sample has more than 50: the spread of change
    means = next(line for line in ax.lines if line.get_gid() == "means")
    box = next(p for p in ax.patches if p.get_gid() == "middle_half")
    whisker = next(c for c in ax.collections if c.get_gid() == "spread")
    median = next(c for c in ax.collections if c.get_gid() == "median")
    zero = next(line for line in ax.lines if line.get_gid() == "zero")
    assert _named_points(caption) == {_colour_word(means.get_markerfacecolor())} == {"blue"}
    assert f"{_colour_word(box.get_facecolor())} box holds the middle half of the {unit}" in caption
    assert f"{_colour_word(whisker.get_color()[0])} whisker runs from the 10th to the 90th percentile" in caption
    assert f"{_colour_word(median.get_color()[0])} line marks the median" in caption
    assert zero.get_linestyle() == "--" and f"dashed {_colour_word(zero.get_color())} line is zero" in caption
    # and the rule, with what 50 or fewer get: their own lines, in the colour drawn
    small = plots.paired_plot(_wide_cohort(20), measure="m", ax=plt.figure().gca())
    lines = next(c for c in small.collections if c.get_gid() == "individuals")
    assert f"With 50 {unit} or fewer" in caption and f"joined by a {_colour_word(lines.get_color()[0])} line" in caption
    assert f"With more than 50 {unit}" in caption and "The line above the panels says which is shown" in caption


@pytest.mark.parametrize("notebook,section", [("02_child_outcomes", "children"),
                                              ("03_facilitator_confidence", "facilitators")])
def test_forest_captions_name_the_colours_drawn(sample_data, notebook, section):
    import evalkit.notebook as ek

    caption = _caption(notebook, f'ek.forest_figure(data, "{section}")')
    (ax,) = ek.forest_figure(sample_data, section).figure.axes
    points = next(line for line in ax.lines if line.get_gid() == "effect")
    ci = next(c for c in ax.collections if c.get_gid() == "ci")
    zero = next(line for line in ax.lines if line.get_gid() == "zero")
    assert _named_points(caption) == {_colour_word(points.get_markerfacecolor())}
    assert f"{_colour_word(ci.get_color()[0])} line for its 95% confidence interval" in caption
    assert f"the {_colour_word(zero.get_color())} vertical line is zero" in caption


def test_group_and_reliable_change_captions_name_the_colours_drawn(sample_data):
    import evalkit.notebook as ek

    caption = _caption("02_child_outcomes", 'ek.interaction_figures(data, "children")')
    overview, pairs = ek.interaction_figures(sample_data, "children")
    ax = overview.figure.axes[0]
    zero = next(line for line in ax.lines if list(line.get_xdata()) == [0, 0])
    assert f"the {_colour_word(zero.get_color())} vertical line is zero" in caption
    colours = {tuple(to_rgba(line.get_color())) for line in ax.lines if line.get_gid() == "change"}
    assert len(colours) == len(ax.get_legend().get_texts()) == 2  # "each group has its own colour"
    assert "each group has its own colour, named with its size in the key below each panel" in caption
    assert all(a.get_legend() is not None for a in pairs.figure.axes if a.get_visible())
    assert "one coloured line per group" in caption

    caption = _caption("02_child_outcomes", 'ek.reliable_change_figure(data, "children")')
    (ax,) = ek.reliable_change_figure(sample_data, "children").figure.axes
    for container, words in zip(ax.containers, ["reliably deteriorated", "no reliable change", "reliably improved"]):
        assert f"{_colour_word(container[0].get_facecolor())} for {words}" in caption


def test_item_caption_names_the_colours_drawn(sample_data):
    import evalkit.notebook as ek

    caption = _caption("03_facilitator_confidence", 'ek.item_figure(data, "facilitators")')
    (ax,) = ek.item_figure(sample_data, "facilitators").figure.axes
    words = [_colour_word(c[0].get_facecolor()) for c in ax.containers]
    assert words == ["brown", "light brown", "light grey", "light teal", "teal"]
    assert "disagreement in shades of brown to the left of zero" in caption
    assert "agreement in shades of teal to the right" in caption
    assert f"the neutral answer in {words[2]} split across zero" in caption
    assert "Each question as it was asked" in caption and "A reverse-scored question is shown with the answers as given" in caption


def test_every_report_figure_has_a_specific_alt_text(sample_data):
    import evalkit.notebook as ek

    alts = {name: image.alt for name, image in _notebook_figures(sample_data).items()}
    labels = sample_data.cohort.sections["children"].labels
    assert alts["paired_children"].startswith("The spread of each child's change (post − pre) as a grey box")
    assert alts["paired_children"].endswith("for each of 6 subscales: " + ", ".join(labels.values()) + ".")
    assert alts["paired_facilitators"].endswith("for each of 4 measures: Knowledge, Understanding, Confidence, "
                                                "Total (all items).")
    assert alts["forest"].startswith("Cohen's d_z (mean change / SD of change) as a blue point")
    assert alts["interaction_overview"].startswith("Mean change (post − pre) with its 95% confidence interval for "
                                                   "each of 6 measures by delivery, age band, referral reason and site")
    mods = sample_data.results["moderators"]
    n_pairs = int(((mods["source"] == "interaction") & (mods["p"] < 0.05)).sum())  # 4 in the sample
    assert n_pairs >= 2
    assert (f"the {n_pairs} measure and factor pairs whose time × group interaction reached p < 0.05"
            in alts["interaction_pairs"])
    labels_of = sample_data.results["child_outcomes"].drop_duplicates("measure").set_index("measure")["label"]
    first = mods[(mods["source"] == "interaction") & (mods["p"] < 0.05)].iloc[0]
    assert f"{labels_of[first['measure']]} by {first['factor'].replace('_', ' ')}" in alts["interaction_pairs"]
    assert alts["reliable_change"] == (
        "Percentage of children who reliably deteriorated (orange-red), showed no reliable change (light grey) or "
        "reliably improved (green), as one bar for each of 6 measures; 2 of them not drawn, to keep small counts "
        "hidden.")
    assert alts["items"].startswith("Answers to each of the 12 questions before and after")
    assert all(alt.count(". ") == 0 and alt.endswith(".") for alt in alts.values())  # one sentence each


def test_paired_frames_equal_a_pivot_of_each_measure():
    """The one-pass reshaping behind every figure gives what a pandas pivot per measure gives."""
    import evalkit.notebook as ek

    scores = ek.load(str(SAMPLE / "cohort.yml")).cohort.sections["children"].scores.copy()
    scores.loc[scores.index[::7], "delivery"] = None  # levels missing at pre (taken from post) or at both
    measures = ["differentiating", "verbal_sharing", "not_hiding"]
    for factor in (None, "delivery", "site"):
        frames = plots._paired_frames(scores, measures, factor)
        for measure in measures:
            cols = ["id", "timepoint", measure] + ([factor] if factor else [])
            sub = scores.loc[scores["timepoint"].isin(["pre", "post"]), cols]
            expected = sub.pivot(index="id", columns="timepoint", values=measure)[["pre", "post"]].astype(float)
            if factor:
                level = sub.pivot(index="id", columns="timepoint", values=factor)
                expected["level"] = level["pre"].where(level["pre"].notna(), level["post"])
            expected = expected.dropna(subset=["pre", "post"]).sort_index()
            expected.columns.name = None
            assert len(expected) > 200  # the sample's programme children with both questionnaires (about 232)
            pd.testing.assert_frame_equal(frames[measure], expected, check_dtype=False)
    ordered = scores.assign(site=pd.Categorical(scores["site"], categories=["Site C", "Site B", "Site A"]))
    level = plots._paired_frames(ordered, measures, "site")["not_hiding"]["level"]
    assert plots._level_order(level) == ["Site C", "Site B", "Site A"]
