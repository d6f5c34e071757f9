"""Drawing of the delivery and system-outcome figures: fidelity per group, embedding shares, rates over time.

Every function takes the tidy table it draws (computed in :mod:`evalkit.report.service`), draws on ``ax``
(the current axes when None) and returns the axes; nothing here computes a statistic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .plots import _MEAN_COLOUR, _get_ax, _require_columns

#: Okabe-Ito orange: a group below the fidelity line.
FLAG_COLOUR = "#D55E00"
#: Okabe-Ito sky blue: the 3-month share.
EARLY_COLOUR = "#56B4E9"
LINE_GREY = "0.45"


def fidelity_plot(groups, *, ax=None, flag=80):
    """Each group's fidelity (percent of core components delivered) as a dot in its site's row, with a dashed
    line at ``flag``; dots of the same whole percentage stack, so that many groups at 100% stay countable.

    Parameters
    ----------
    groups : pandas.DataFrame
        One row per group: ``site`` and ``fidelity_pct``.
    ax : matplotlib.axes.Axes, optional
    flag : float
        Groups below it are drawn in orange.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.collections[0]``: the dots at or above the line (blue), ``[1]``: those below (orange); one y
        tick per site, ``"<site> (<k> groups)"``, top to bottom in the table's order; ``ax.lines[0]`` is
        the dashed line at ``flag``.
    """
    _require_columns(groups, ["site", "fidelity_pct"], "the groups table")
    ax = _get_ax(ax)
    sites = list(dict.fromkeys(groups["site"]))
    xs, ys = [], []
    for i, site in enumerate(sites):
        pct = pd.to_numeric(groups.loc[groups["site"] == site, "fidelity_pct"], errors="coerce").dropna()
        stack = pct.round().groupby(pct.round()).cumcount().to_numpy()  # 0, 1, 2 ... among equal percentages
        deepest = max(int(stack.max()) + 1, 1) if len(stack) else 1
        step = min(0.07, 0.76 / deepest)
        offset = np.where(stack % 2 == 0, 1, -1) * ((stack + 1) // 2) * step
        xs.extend(pct.to_numpy())
        ys.extend(len(sites) - 1 - i + offset)
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    ok = xs >= flag
    ax.axvline(flag, color=LINE_GREY, linestyle="--", linewidth=1)
    ax.scatter(xs[ok], ys[ok], color=_MEAN_COLOUR, s=18, zorder=3, label=f"{flag}% or more")
    ax.scatter(xs[~ok], ys[~ok], color=FLAG_COLOUR, s=30, zorder=3, label=f"under {flag}%")
    counts = groups["site"].value_counts()
    ax.set_yticks([len(sites) - 1 - i for i in range(len(sites))],
                  [f"{s} ({counts[s]} group{'s' if counts[s] != 1 else ''})" for s in sites])
    low = np.nanmin(xs) if xs.size else flag
    ax.set_xlim(min(flag - 10, 10 * np.floor(low / 10) - 5), 102)
    ax.set_ylim(-0.6, len(sites) - 0.4)
    ax.set_xlabel("Core components delivered (%)")
    ax.set_title("Fidelity of each group")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize="small")
    return ax


def embedding_plot(rows, *, ax=None):
    """Share delivering within 3 and within 6 months of training, per site and overall, with their intervals.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`evalkit.report.service.embedding_rows`: ``level``, ``site``, ``window`` (``3m``/``6m``),
        ``share``, ``ci_low``, ``ci_high`` (percent; blank where not shown).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line (the interval, ``ax.lines``) and one point per site and window that is shown; the
        3-month point sits a little above the 6-month point of the same site.
    """
    _require_columns(rows, ["level", "site", "window", "share", "ci_low", "ci_high"], "the embedding table")
    ax = _get_ax(ax)
    places = list(dict.fromkeys(zip(rows["level"], rows["site"])))
    y_of = {p: len(places) - 1 - i for i, p in enumerate(places)}
    for window, colour, shift, name in (("3m", EARLY_COLOUR, 0.15, "within 3 months"),
                                        ("6m", _MEAN_COLOUR, -0.15, "within 6 months")):
        part = rows[(rows["window"] == window) & np.isfinite(pd.to_numeric(rows["share"], errors="coerce"))]
        ys = np.array([y_of[(lv, s)] + shift for lv, s in zip(part["level"], part["site"])], dtype=float)
        for y, lo, hi in zip(ys, part["ci_low"], part["ci_high"]):
            ax.plot([lo, hi], [y, y], color=colour, linewidth=2, solid_capstyle="butt")
        ax.scatter(part["share"], ys, color=colour, s=40, zorder=3, label=name)
    ax.set_yticks([y_of[p] for p in places], [s for _, s in places])
    ax.set_ylim(-0.6, len(places) - 0.4)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Trained facilitators delivering (%)")
    ax.set_title("Training that becomes practice")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize="small")
    return ax


def its_plot(lines, *, ax=None, embedded=None, min_cell=5, title="", note=""):
    """One locality's monthly rate of one measure, the embedding month, the fit and the earlier trend carried on.

    Parameters
    ----------
    lines : pandas.DataFrame
        :func:`evalkit.stats.its.fitted_rates` rows of one locality and measure: ``month`` (``YYYY-MM``),
        ``count``, ``rate``, ``after``, ``fitted``, ``projected``.
    ax : matplotlib.axes.Axes, optional
    embedded : str, optional
        The embedding month (``YYYY-MM``); a vertical line is drawn there.
    min_cell : int
        Months with 1 to ``min_cell - 1`` events are drawn as hollow points (no count is written).
    title : str
    note : str
        Written inside the axes (top left) when given: why the panel has no model.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines`` in order: the observed rate, then (with a model) the fit before and after the
        embedding month (solid) and the projected earlier trend (dashed, after embedding only), then the
        embedding month's vertical line. No text on the axes shows a count.
    """
    _require_columns(lines, ["month", "count", "rate", "after", "fitted", "projected"], "the rates table")
    ax = _get_ax(ax)
    x = pd.PeriodIndex(lines["month"].astype(str), freq="M").to_timestamp()
    rate = lines["rate"].to_numpy(dtype=float)
    count = pd.to_numeric(lines["count"], errors="coerce").to_numpy(dtype=float)
    small = (count > 0) & (count < min_cell)
    ax.plot(x, rate, color=_MEAN_COLOUR, linewidth=1, alpha=0.8)
    ax.scatter(x[~small], rate[~small], color=_MEAN_COLOUR, s=14, zorder=3)
    if small.any():
        ax.scatter(x[small], rate[small], facecolor="white", edgecolor=_MEAN_COLOUR, s=14, zorder=3)
    fitted = lines["fitted"].to_numpy(dtype=float)
    if np.isfinite(fitted).any():
        after = lines["after"].to_numpy(dtype=bool)
        ax.plot(x[~after], fitted[~after], color="black", linewidth=1.4)
        ax.plot(x[after], fitted[after], color="black", linewidth=1.4)
        ax.plot(x[after], lines["projected"].to_numpy(dtype=float)[after], color="black", linewidth=1.4,
                linestyle="--")
    if embedded:
        ax.axvline(pd.Period(str(embedded), freq="M").to_timestamp(), color="0.35", linewidth=1.2)
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(title, 30)), fontsize="small", loc="left")
    if note:
        ax.text(0.02, 0.04, "\n".join(textwrap.wrap(note, 34)), transform=ax.transAxes, fontsize="x-small",
                color="0.3", style="italic", va="bottom")
    ax.set_ylim(bottom=0)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    return ax


def its_legend(fig, *, min_cell=5):
    """The key of :func:`its_plot`'s lines under the panels, then the figure laid out around it.

    Returns
    -------
    matplotlib.legend.Legend
        Five entries: the monthly rate, a month with fewer than ``min_cell`` events (hollow), the model's
        fit, the earlier trend carried forward (dashed) and the embedding month.
    """
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_MEAN_COLOUR, marker="o", markersize=4, linewidth=1, label="Monthly rate"),
               Line2D([], [], color=_MEAN_COLOUR, marker="o", markersize=4, markerfacecolor="white", linewidth=0,
                      label=f"Month with fewer than {min_cell} events"),
               Line2D([], [], color="black", linewidth=1.4, label="Model fit"),
               Line2D([], [], color="black", linewidth=1.4, linestyle="--", label="Earlier trend carried forward"),
               Line2D([], [], color="0.35", linewidth=1.2, label="Month embedded")]
    legend = fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize="small")
    # fixed margins in inches (a tight layout pass costs a second on six date axes): titles of two lines
    # above, two-line month ticks and the key below, the y label on the left
    width, height = fig.get_figwidth(), fig.get_figheight()
    rows = max(1, len({ax.get_subplotspec().rowspan.start for ax in fig.axes if ax.get_subplotspec()}))
    top, bottom, gap = 0.55, 1.35, 0.7  # inches: the first titles; ticks and key; a title between rows
    panel = max((height - top - bottom - gap * (rows - 1)) / rows, 0.5)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, top=1 - top / height, bottom=bottom / height,
                        wspace=0.3, hspace=gap / panel)
    return legend
