"""Pooled across cohorts as people see it: the forest plot of cohorts and pooled diamond, and the sentence.

The numbers come from :func:`evalkit.stats.meta.pool_cohorts` and :func:`evalkit.stats.meta.cohort_effects`;
nothing here computes a statistic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .findings import format_number, size_words
from .plots import _check_argument, _get_ax, _require_columns

#: x label of each pooled effect.
XLABELS = {"d_z": "Cohen's d_z (mean change / SD of change), 95% CI",
           "mean_change": "Mean change (post \u2212 pre, scale points), 95% CI"}
_COHORT_COLOUR = "0.25"
_POOLED_COLOUR = "#0072B2"  # Okabe-Ito blue, as the report's other means


def _interval(low, high, digits=2):
    return f"[{format_number(low, digits)}, {format_number(high, digits)}]"


def pooled_forest_plot(cohorts, pooled, *, label=None, ax=None):
    """One row per cohort (square sized by its weight, line its 95% CI) and the pooled diamond below.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Rows of :func:`evalkit.stats.meta.cohort_effects` for one measure and one effect: ``cohort`` (or
        ``name``, shown instead when present), ``estimate``, ``ci_low``, ``ci_high``, ``weight_pct``.
    pooled : pandas.Series or dict
        The matching row of :func:`evalkit.stats.meta.pool_cohorts`: ``effect``, ``k``, ``estimate``,
        ``ci_low``, ``ci_high``, ``prediction_low``, ``prediction_high`` (NaN when k < 3).
    label : str, optional
        Title (the measure's label).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).

    Returns
    -------
    matplotlib.axes.Axes
        Cohorts run top to bottom in table order (y = 0, 1, ...; axis inverted), the pooled row at
        y = k + 0.5. Artists carry gids: ``"cohort_effect"`` (the squares, a PathCollection),
        ``"cohort_ci"`` (LineCollection), ``"pooled_diamond"`` (Polygon: low, estimate, high),
        ``"prediction"`` (dashed LineCollection, only when k >= 3), ``"zero"`` and ``"effect_text"``.

    Raises
    ------
    DataError
        A needed column is missing or there is no cohort.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> cohorts = pd.DataFrame({"cohort": ["north", "south"], "estimate": [0.4, 0.6], "ci_low": [0.1, 0.3],
    ...                         "ci_high": [0.7, 0.9], "weight_pct": [50.0, 50.0]})
    >>> pooled = {"effect": "d_z", "k": 2, "estimate": 0.5, "ci_low": 0.29, "ci_high": 0.71,
    ...           "prediction_low": float("nan"), "prediction_high": float("nan")}
    >>> ax = pooled_forest_plot(cohorts, pooled, label="Knowledge")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['north', 'south', 'Pooled (random effects)']
    >>> [gid for gid in ("pooled_diamond", "prediction") if any(a.get_gid() == gid for a in ax.get_children())]
    ['pooled_diamond']
    >>> plt.close(ax.figure)
    """
    import matplotlib.transforms as mtransforms
    from matplotlib.patches import Polygon

    from ..errors import DataError

    _require_columns(cohorts, ["estimate", "ci_low", "ci_high", "weight_pct"], "pooled cohorts")
    if cohorts.empty:
        raise DataError("pooled cohorts table has no rows", expected="one row per cohort pooled")
    pooled = pd.Series(pooled)
    effect = str(pooled.get("effect", "d_z"))
    _check_argument("effect", tuple(XLABELS), effect)
    ax = _get_ax(ax)
    table = cohorts.reset_index(drop=True)
    names = table["name"] if "name" in table else table.get("cohort", pd.Series(range(len(table))))
    est, low, high = (table[c].to_numpy(dtype=float) for c in ("estimate", "ci_low", "ci_high"))
    weight = table["weight_pct"].to_numpy(dtype=float)
    y = np.arange(len(table), dtype=float)
    y_pooled = len(table) + 0.5

    ax.axvline(0, color="0.3", linewidth=1, zorder=1, gid="zero")
    ax.hlines(y, low, high, color=_COHORT_COLOUR, linewidth=1.5, zorder=2, gid="cohort_ci")
    # square area proportional to the cohort's weight, as in Cochrane's forest plots
    ax.scatter(est, y, s=20 + 2.5 * weight, marker="s", color=_COHORT_COLOUR, zorder=3, gid="cohort_effect")
    mu, lo, hi = (float(pooled[c]) for c in ("estimate", "ci_low", "ci_high"))
    ax.add_patch(Polygon([(lo, y_pooled), (mu, y_pooled - 0.35), (hi, y_pooled), (mu, y_pooled + 0.35)],
                         closed=True, facecolor=_POOLED_COLOUR, edgecolor=_POOLED_COLOUR, zorder=3,
                         gid="pooled_diamond"))
    p_lo, p_hi = float(pooled.get("prediction_low", np.nan)), float(pooled.get("prediction_high", np.nan))
    extent = [0.0, *low, *high, lo, hi]
    if np.isfinite(p_lo) and np.isfinite(p_hi):
        ax.hlines([y_pooled], [p_lo], [p_hi], color=_POOLED_COLOUR, linewidth=1.2, linestyles="dashed", zorder=2,
                  gid="prediction")
        extent += [p_lo, p_hi]

    row_text = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
    for i in range(len(table)):
        ax.text(1.02, y[i], f"{format_number(est[i])} {_interval(low[i], high[i])}  {weight[i]:.0f}%",
                transform=row_text, va="center", ha="left", fontsize="small", gid="effect_text")
    ax.text(1.02, y_pooled, f"{format_number(mu)} {_interval(lo, hi)}", transform=row_text, va="center",
            ha="left", fontsize="small", fontweight="bold", gid="effect_text")
    # the value column's heading sits on a row of its own above the first cohort, clear of the title
    ax.text(1.02, -1.0, "estimate [95% CI]  weight", transform=row_text, va="center", ha="left",
            fontsize="small", color="0.35", gid="column_header")
    ax.set_yticks([*y, y_pooled], labels=[*map(str, names), "Pooled (random effects)"])
    ax.set_ylim(y_pooled + 0.7, -1.4)
    finite = np.asarray([v for v in extent if np.isfinite(v)])
    span = max(float(finite.max() - finite.min()), 0.2)
    ax.set_xlim(finite.min() - 0.05 * span, finite.max() + 0.05 * span)
    ax.set_xlabel(XLABELS[effect])
    ax.grid(axis="y", visible=False)
    if label:
        ax.set_title(str(label))
    return ax


def _consistency(i2):
    """I² in words, after Higgins et al. (2003): 25% low, 50% moderate, 75% high heterogeneity."""
    if not np.isfinite(i2) or i2 < 25:
        return "the cohorts' results were consistent with one another"
    if i2 < 50:
        return "the cohorts' results varied a little"
    if i2 < 75:
        return "the cohorts' results varied moderately"
    return "the cohorts' results varied a lot"


def pooled_sentence(d_z, mean_change=None, *, label, section="children"):
    """The pooled change of one measure in plain words, for a commissioner.

    Parameters
    ----------
    d_z : pandas.Series or dict
        The measure's ``d_z`` row of :func:`evalkit.stats.meta.pool_cohorts`.
    mean_change : pandas.Series or dict, optional
        Its ``mean_change`` row (the change in scale points).
    label : str
        The measure's name as the reports show it.
    section : {"children", "facilitators"}

    Returns
    -------
    str
        E.g. "Across 3 cohorts, children's Knowledge scores rose by 0.30 points on average (95% CI 0.20 to
        0.40), a moderate standardised change (d_z 0.52, 95% CI 0.36 to 0.68); the cohorts' results were
        consistent with one another (I² 0%), and in a new cohort like these the standardised change could
        be anywhere from 0.21 to 0.83 (95% prediction interval)."

    Examples
    --------
    >>> d = {"k": 2, "estimate": -0.25, "ci_low": -0.4, "ci_high": -0.1, "i2": 30.0,
    ...      "prediction_low": float("nan"), "prediction_high": float("nan")}
    >>> pooled_sentence(d, label="Worry", section="facilitators")  # doctest: +NORMALIZE_WHITESPACE
    "Across 2 cohorts, facilitators' Worry scores fell on average, a small standardised change (d_z \u22120.25,
    95% CI \u22120.40 to \u22120.10); the cohorts' results varied a little (I² 30%); a prediction interval for a
    new cohort needs 3 or more cohorts."
    """
    d = pd.Series(d_z)
    who = "children's" if section == "children" else "facilitators'" if section == "facilitators" else f"{section}'s"
    k = int(d["k"])
    est, lo, hi = (float(d[c]) for c in ("estimate", "ci_low", "ci_high"))
    direction = "rose" if est > 0 else "fell" if est < 0 else "did not change"
    crosses = lo <= 0 <= hi
    if mean_change is not None:
        m = pd.Series(mean_change)
        size = abs(float(m["estimate"]))
        if format_number(size) == "0.00":  # "rose by 0.00 points" would read as no change and as a rise
            direction, change = "changed", " by less than 0.01 points"
        else:
            change = f" by {format_number(size)} points" if direction != "did not change" else ""
        change += (f" on average (95% CI {format_number(float(m['ci_low']))} to "
                   f"{format_number(float(m['ci_high']))}{', which includes no change' if crosses else ''})")
    else:
        change = " on average"
    text = (f"Across {k} cohorts, {who} {label} scores {direction}{change}, a {size_words(est)} standardised "
            f"change (d_z {format_number(est)}, 95% CI {format_number(lo)} to {format_number(hi)}); "
            f"{_consistency(float(d['i2']))} (I² {float(d['i2']):.0f}%)")
    p_lo, p_hi = float(d.get("prediction_low", np.nan)), float(d.get("prediction_high", np.nan))
    if np.isfinite(p_lo) and np.isfinite(p_hi):
        text += (f", and in a new cohort like these the standardised change could be anywhere from "
                 f"{format_number(p_lo)} to {format_number(p_hi)} (95% prediction interval).")
    else:
        text += "; a prediction interval for a new cohort needs 3 or more cohorts."
    return text
