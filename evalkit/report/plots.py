"""Report figures: tidy computations (no matplotlib) apart from drawing functions that take ``ax=None`` and return the axes.

Every drawing function takes the data first, keyword-only options and
``ax=None``; it draws on ``ax`` (or the current axes) and returns it, so that
figures can be composed in notebooks and their artists read back in tests.
Person ids are used to match pre and post rows but are never drawn.
"""
from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pandas as pd
from scipy import special

from evalkit.errors import DataError, EvalkitError

#: Timepoints, in the order they are drawn.
TIMEPOINTS = ("pre", "post")

#: Reliable change categories, left to right, with their legend labels.
RELIABLE_CHANGE_CATEGORIES = (
    ("deteriorated", "Deteriorated"),
    ("no_change", "No reliable change"),
    ("improved", "Improved"),
)

#: Okabe & Ito (2008) colour-blind-safe colours: vermillion = worse, grey = no change,
#: bluish green = better; the same in every report so readers learn them once.
RELIABLE_CHANGE_COLOURS = {
    "deteriorated": "#D55E00",
    "no_change": "#BBBBBB",
    "improved": "#009E73",
}

#: Effect sizes ``forest_plot`` can draw: column, CI columns and the exact axis label.
EFFECTS = {
    "d_z": ("d_z", "d_z_ci_low", "d_z_ci_high", "Cohen's d_z (mean change / SD of change), 95% CI"),
    "g_av": (
        "g_av",
        "g_av_ci_low",
        "g_av_ci_high",
        "Hedges' g_av (mean change / average of pre and post SD, bias-corrected), 95% CI",
    ),
    "mean_diff": ("mean_diff", "ci_low", "ci_high", "Mean change (post - pre), 95% CI"),
    "adjusted_difference": (
        "adjusted_difference",
        "ci_low",
        "ci_high",
        "End score, took part minus comparison, adjusted for the start score (95% CI)",
    ),
}

#: Above this many people, :func:`paired_plot` draws no line per person (see its ``thin``).
MAX_LINES = 50

_CHANGE_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

#: Item charts: texts wrapped at this many characters; one bar row is this many inches tall, so that a
#: text line (about 0.21 in at the theme's tick font) takes three quarters of a row.
ITEM_WRAP = 36
ITEM_ROW_INCHES = 0.28
_ROWS_PER_TEXT_LINE = 0.21 / ITEM_ROW_INCHES
_ITEM_GAP = 0.6
_MEAN_COLOUR = "#0072B2"  # Okabe-Ito blue
_INDIVIDUAL_COLOUR = "0.55"
_NOTE_STYLE = {"color": "0.35", "fontstyle": "italic"}


# --------------------------------------------------------------------------- helpers


def _check_argument(param, options, value):
    """Raise the same clear error for every option given a value outside ``options``.

    Raises
    ------
    EvalkitError
        When ``value`` is not one of ``options``.
    """
    if value not in options:
        raise EvalkitError(
            f"{param}={value!r} is not a valid option",
            expected=f"one of {', '.join(repr(o) for o in options)}",
        )


def _require_columns(data, columns, what):
    """Raise :class:`DataError` naming the first of ``columns`` missing from ``data``."""
    for col in columns:
        if col not in data.columns:
            raise DataError(
                f"{what} has no such column; columns present: {', '.join(map(str, data.columns))}",
                column=col,
            )


def _get_ax(ax):
    literal_text()
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    if not ax.title.get_parse_math():  # made after mathtext was switched off: so were all its texts
        return ax
    # texts the axes made before mathtext was switched off (titles, axis labels, ticks)
    for text in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None),
                 ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()):
        if text is not None:
            text.set_parse_math(False)
    return ax


def _legend_below(ax, handles=None, labels=None, *, ncol=1, tick_lines=1, **kws):
    """A legend under the axes, clear of the x tick labels and x label, so it never covers data.

    Its distance is counted in points from the font sizes and line counts of the tick labels
    (``tick_lines`` lines; reading them back would make matplotlib work the ticks out early) and the
    x label (no draw needed), so it holds for any axes size; the figure's layout (constrained layout,
    tight_layout) then makes room for it because it belongs to the axes. It is centred under the axes,
    or under the whole figure when the axes are its only ones (long y labels push the axes right), and
    has at most ``ncol`` columns, fewer when they would be wider than the figure (than about the panel,
    when there are several).
    """
    import matplotlib as mpl
    import matplotlib.transforms as mtransforms

    from matplotlib.font_manager import FontProperties

    if handles is None:
        handles, labels = _key_order(*ax.get_legend_handles_labels())
    fig = ax.figure
    tick_size = FontProperties(size=mpl.rcParams["xtick.labelsize"]).get_size_in_points()
    drop = mpl.rcParams["xtick.major.pad"] + tick_size * 1.2 * tick_lines
    if ax.get_xlabel():
        label = ax.xaxis.label
        drop += ax.xaxis.labelpad + label.get_fontsize() * 1.2 * (label.get_text().count("\n") + 1)
    alone = [a for a in fig.axes if a.get_visible()] == [ax]
    across = mtransforms.blended_transform_factory(fig.transFigure if alone else ax.transAxes, ax.transAxes)
    anchor = across + mtransforms.ScaledTranslation(0, -(drop + 4) / 72, fig.dpi_scale_trans)
    # as wide as the figure when alone; else about as wide as its panel, clear of its neighbours' keys
    room = fig.get_figwidth() * (0.95 if alone else 1.1 * ax.get_position().width)
    ncol = _fit_columns(labels, ncol, room)
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=anchor,
                     ncol=ncol, fontsize="small", **kws)


def _fit_columns(labels, ncol, width_inches):
    """At most ``ncol`` legend columns, fewer when the legend (small font, default spacing) would be wider
    than ``width_inches``."""
    from matplotlib.font_manager import FontProperties

    em = FontProperties(size="small").get_size_in_points() / 72
    widths = [max((len(line) for line in str(t).splitlines()), default=0) * 0.58 * em + 2.8 * em for t in labels]
    for n in range(max(1, min(ncol, len(labels))), 1, -1):
        rows = math.ceil(len(widths) / n)
        columns = [max(widths[i * rows:(i + 1) * rows], default=0.0) for i in range(n)]
        if sum(columns) + 2.0 * em * (n - 1) <= width_inches:
            return n
    return 1


#: Order of the marks in a key, by the artist's gid: what a reader looks at first comes first.
_KEY_RANKS = {"individuals": 0, "middle_half": 1, "spread": 2, "median": 3, "means": 4, "zero": 5}


def _key_order(handles, labels):
    """Legend handles and labels sorted by :data:`_KEY_RANKS` (stable; unknown gids keep their place)."""
    from matplotlib.container import Container

    def rank(item):
        handle = item[1][0]
        if isinstance(handle, Container) and len(handle):  # errorbar, bars: the first artist has the gid
            handle = handle[0] if handle[0] is not None else handle
        gid = getattr(handle, "get_gid", lambda: None)()
        return _KEY_RANKS.get(gid, len(_KEY_RANKS) + item[0])

    ranked = sorted(enumerate(zip(handles, labels)), key=rank)
    return [h for _, (h, _) in ranked], [name for _, (_, name) in ranked]


def legend_inches(ax):
    """Height in inches of the legend of ``ax`` (0 when it has none), measured without drawing the figure.

    Lets a figure of panels with legends below them grow by what its legends need, before it is drawn.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> legend_inches(ax)
    0.0
    >>> lines = ax.plot([0, 1], [0, 1], [0, 1], [1, 0])
    >>> stacked = legend_inches(ax) if ax.legend(lines, ["a", "b"]) else None
    >>> side_by_side = legend_inches(ax) if ax.legend(lines, ["a", "b"], ncol=2) else None
    >>> 0 < side_by_side < stacked
    True
    >>> plt.close(fig)
    """
    legend = ax.get_legend()
    if legend is None:
        return 0.0
    fig = ax.figure
    get = getattr(fig.canvas, "get_renderer", None)
    if get is not None:
        renderer = get()
    else:  # a figure without an Agg canvas (closed, or made with matplotlib.figure.Figure)
        from matplotlib.backends.backend_agg import RendererAgg

        renderer = RendererAgg(fig.bbox.width, fig.bbox.height, fig.dpi)
    return float(legend.get_window_extent(renderer).height / fig.dpi)


def _legend_columns(labels, *, most=3, width=26):
    """Legend columns: up to ``most``, one when a label is longer than ``width`` characters."""
    longest = max((max(len(line) for line in str(t).splitlines() or [""]) for t in labels), default=0)
    return 1 if longest > width else max(1, min(most, len(labels)))


def _wrap_label(text, width=28):
    """Group names wrapped so that a legend entry stays narrow."""
    return textwrap.fill(str(text), width, break_long_words=False) if len(str(text)) > width else str(text)


def _t_halfwidth(sd, n, confidence):
    """Half-width of a t interval ``t_{(1+confidence)/2, n-1} * sd / sqrt(n)`` (NaN when n < 2)."""
    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = special.stdtrit(np.where(n >= 2, n - 1, np.nan), (1 + confidence) / 2)  # t quantile
        return tq * sd / np.sqrt(n)


def _level_order(values):
    """Factor levels in display order: categorical order if set, else natural order ("8-10" before "11-13")."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna())
        return [c for c in values.cat.categories if c in present]

    def key(level):
        text = str(level)
        m = re.match(r"\s*(-?\d+(?:\.\d+)?)", text)
        return (0, float(m.group(1)), text) if m else (1, 0.0, text)

    return sorted(pd.unique(values.dropna()), key=key)


def _paired_wide(scores, measure, factor=None):
    """One row per person with both a pre and a post score: columns ``pre``, ``post`` (and ``level``).

    Sorted by id, so subsets drawn from it depend on the data, not on row order.
    The factor level is the person's value at ``pre`` (baseline), else at ``post``.
    """
    return _paired_frames(scores, [measure], factor)[measure]


def _paired_frames(scores, measures, factor=None):
    """:func:`_paired_wide` of every measure in ``measures``, from one reshaping of ``scores``."""
    measures = list(dict.fromkeys(measures))
    values = measures + ([factor] if factor is not None and factor not in measures else [])
    cols = ["id", "timepoint", *values]
    _require_columns(scores, cols, "scores")
    sub = scores.loc[scores["timepoint"].isin(TIMEPOINTS), cols]
    repeated = int(sub.duplicated(["id", "timepoint"]).sum())
    if repeated:
        raise DataError(
            f"{repeated} person-timepoint rows are repeated",
            column="id",
            expected="one row per person and timepoint (clean the data first)",
        )
    # one slot per person (ids sorted), filled from the pre and the post rows
    codes, ids = pd.factorize(sub["id"], sort=True)
    at = {tp: (sub["timepoint"] == tp).to_numpy() for tp in TIMEPOINTS}
    slots = {tp: codes[at[tp]] for tp in TIMEPOINTS}
    level = None
    if factor is not None:
        column = sub[factor]
        by_time = {}
        for tp in TIMEPOINTS:  # the level at each timepoint, NaN where the person has no row then
            rows = np.full(len(ids), -1)
            rows[slots[tp]] = np.flatnonzero(at[tp])
            values = column.iloc[np.maximum(rows, 0)].reset_index(drop=True)
            by_time[tp] = values.where(pd.Series(rows >= 0))
        level = by_time[TIMEPOINTS[0]].where(by_time[TIMEPOINTS[0]].notna(), by_time[TIMEPOINTS[1]])
        level.index = pd.Index(ids, name="id")
    out = {}
    for measure in measures:
        values = pd.to_numeric(sub[measure], errors="coerce").to_numpy(dtype=float)
        both = {}
        for tp in TIMEPOINTS:
            both[tp] = np.full(len(ids), np.nan)
            both[tp][slots[tp]] = values[at[tp]]
        keep = ~(np.isnan(both[TIMEPOINTS[0]]) | np.isnan(both[TIMEPOINTS[1]]))
        wide = pd.DataFrame({tp: both[tp][keep] for tp in TIMEPOINTS}, index=pd.Index(ids[keep], name="id"))
        if level is not None:
            wide["level"] = level[keep]  # same ids, same order; keeps a categorical factor's order
        out[measure] = wide
    return out


def _label_of(row, fallback):
    label = row.get("label") if hasattr(row, "get") else None
    if label is None or (isinstance(label, float) and math.isnan(label)) or str(label) == "":
        return str(fallback)
    return str(label)


# --------------------------------------------------------------------------- theme


def set_theme(*, font_scale=1.1, context="notebook"):
    """Set the evalkit look: seaborn ``whitegrid``, readable fonts, colour-blind-safe palette.

    Call once at the top of a notebook; it changes matplotlib's global rcParams.

    Parameters
    ----------
    font_scale : float, default 1.1
        Multiplier on seaborn's font sizes for ``context``.
    context : {"notebook", "paper", "talk"}, default "notebook"
        seaborn plotting context.

    Returns
    -------
    None

    Examples
    --------
    >>> import matplotlib as mpl
    >>> with mpl.rc_context():
    ...     set_theme()
    ...     mpl.rcParams["axes.spines.top"], mpl.rcParams["axes.grid"]
    (False, True)
    """
    import matplotlib as mpl

    _check_argument("context", ("notebook", "paper", "talk"), context)
    if context == "notebook" and font_scale == 1.1:
        # the stored copy of exactly these settings (evalkit/report/_theme.py, checked against seaborn
        # by the tests) spares every report kernel the import of seaborn
        from cycler import cycler

        from ._theme import COLORBLIND, THEME_RC

        mpl.rcParams.update(THEME_RC)
        mpl.rcParams["axes.prop_cycle"] = cycler(color=COLORBLIND)
        literal_text()
        return
    _seaborn_theme(context=context, font_scale=font_scale)
    literal_text()


def literal_text():
    """Show every figure text literally: matplotlib's mathtext off (``text.parse_math``).

    Labels come from instruments, configs and data files; with mathtext on, a
    label such as ``"$\\alpha$"`` is drawn as a Greek letter and an unbalanced
    ``"$5 voucher"`` raises an error when the figure is drawn. evalkit's own
    labels use no mathtext. Called by :func:`set_theme` and by every plot function.

    Examples
    --------
    >>> import matplotlib as mpl, matplotlib.pyplot as plt
    >>> literal_text()
    >>> fig, ax = plt.subplots()
    >>> ax.set_title("Cost $5 $x^2").get_parse_math() if hasattr(ax.title, "get_parse_math") else False
    False
    >>> fig.canvas.draw(); plt.close(fig)
    """
    import matplotlib as mpl

    mpl.rcParams["text.parse_math"] = False


def _seaborn_theme(*, context="notebook", font_scale=1.1):
    """Apply the theme through seaborn itself (any context or font scale)."""
    import seaborn as sns

    sns.set_theme(
        context=context,
        style="whitegrid",
        palette="colorblind",
        font_scale=font_scale,
        rc={
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "legend.frameon": False,
            "figure.dpi": 90,  # what notebooks embed: sharp enough, and cheaper to encode
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
        },
    )


def colorblind_palette(n):
    """seaborn's "colorblind" palette of ``n`` colours (cycled past ten), without importing seaborn.

    Examples
    --------
    >>> len(colorblind_palette(12)), colorblind_palette(12)[10] == colorblind_palette(1)[0]
    (12, True)
    """
    from ._theme import COLORBLIND

    return [tuple(COLORBLIND[i % len(COLORBLIND)]) for i in range(n)]


def diverging_palette(n):
    """``n`` colours of matplotlib's BrBG map sampled as ``seaborn.color_palette("BrBG", n)`` does.

    Examples
    --------
    >>> len(diverging_palette(5))
    5
    """
    import matplotlib as mpl

    bins = np.linspace(0, 1, int(n) + 2)[1:-1]
    return [tuple(c) for c in mpl.colormaps["BrBG"](bins)[:, :3]]


# --------------------------------------------------------------------------- paired plot


def within_subject_ci(scores, *, measure, confidence=0.95):
    """Pre and post means with Cousineau-Morey within-subject confidence intervals.

    Only people with both a pre and a post score on ``measure`` are used, so
    both means describe the same people.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores (``SectionData.scores``): ``id``, ``timepoint`` and ``measure``.
    measure : str
        Score column.
    confidence : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Two rows (``pre``, ``post``) with columns

        - ``timepoint``
        - ``mean`` : mean score of the matched people
        - ``ci_low``, ``ci_high`` : within-subject confidence limits (NaN when n < 2)
        - ``n`` : number of matched people

    Raises
    ------
    DataError
        When a column is missing or a person has two rows at one timepoint.

    Notes
    -----
    Each score is normalised by removing the person's own mean and adding the
    grand mean, :math:`y_{ij} = x_{ij} - \\bar{x}_{i\\cdot} + \\bar{x}_{\\cdot\\cdot}`
    (Cousineau, 2005). The standard error of each condition is that of the
    normalised scores multiplied by :math:`\\sqrt{J/(J-1)}` with :math:`J = 2`
    conditions (Morey, 2008), and the interval is mean :math:`\\pm
    t_{(1+c)/2,\\,n-1}` SE. The intervals show how precisely the change is
    estimated, not between-person spread; they are the right bars for a
    pre/post comparison of the same people.

    References
    ----------
    Cousineau, D. (2005). Confidence intervals in within-subject designs.
    Tutorials in Quantitative Methods for Psychology, 1(1), 42-45.

    Morey, R. D. (2008). Confidence intervals from normalized data: A
    correction to Cousineau (2005). Tutorials in Quantitative Methods for
    Psychology, 4(2), 61-64.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c", "d"],
    ...     "timepoint": ["pre", "post"] * 3 + ["pre"],
    ...     "differentiating": [1.0, 2.0, 2.0, 2.5, 1.5, 2.5, 3.0],
    ... })
    >>> within_subject_ci(scores, measure="differentiating").round(3)
      timepoint   mean  ci_low  ci_high  n
    0       pre  1.500   0.993    2.007  3
    1      post  2.333   1.826    2.840  3
    """
    if not 0 < confidence < 1:
        raise EvalkitError(f"confidence={confidence!r} is outside (0, 1)", expected="e.g. 0.95")
    wide = _paired_wide(scores, measure)
    values = wide[list(TIMEPOINTS)].to_numpy(dtype=float)
    n, n_conditions = values.shape
    if n:
        normalised = values - values.mean(axis=1, keepdims=True) + values.mean()
        means = values.mean(axis=0)
        sd = normalised.std(axis=0, ddof=1) if n > 1 else np.full(n_conditions, np.nan)
    else:
        means = sd = np.full(n_conditions, np.nan)
    half = _t_halfwidth(sd * math.sqrt(n_conditions / (n_conditions - 1)), n, confidence)
    return pd.DataFrame(
        {
            "timepoint": list(TIMEPOINTS),
            "mean": means,
            "ci_low": means - half,
            "ci_high": means + half,
            "n": n,
        }
    )


def change_distribution(scores, *, measure, confidence=0.95):
    """Each person's change (post − pre) summarised without counts: quantiles, and the mean with its CI.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint`` and ``measure``.
    measure : str
        Score column.
    confidence : float, default 0.95
        Confidence level of the interval of the mean change.

    Returns
    -------
    pandas.Series
        ``n`` (matched people), ``mean``, ``ci_low``, ``ci_high`` (t interval of
        the mean change: mean :math:`\\pm t_{(1+c)/2, n-1}\\,sd/\\sqrt{n}`, NaN
        when n < 2) and the quantiles ``q10``, ``q25``, ``q50``, ``q75``, ``q90``
        of the changes (linear interpolation, as ``numpy.quantile``; NaN when
        n = 0). No count of people in any range can be read from them.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...     "timepoint": ["pre", "post"] * 4,
    ...     "m": [1.0, 2.0, 2.0, 2.5, 1.5, 1.5, 2.0, 3.0],
    ... })
    >>> change_distribution(scores, measure="m").round(3).to_dict()
    {'n': 4.0, 'mean': 0.625, 'ci_low': -0.137, 'ci_high': 1.387, 'q10': 0.15, 'q25': 0.375, 'q50': 0.75, \
'q75': 1.0, 'q90': 1.0}
    """
    if not 0 < confidence < 1:
        raise EvalkitError(f"confidence={confidence!r} is outside (0, 1)", expected="e.g. 0.95")
    return _change_summary(_paired_wide(scores, measure), confidence)


def _change_summary(wide, confidence=0.95):
    """:func:`change_distribution` from the matched pairs (:func:`_paired_wide`)."""
    change = (wide["post"] - wide["pre"]).to_numpy(dtype=float)
    n = len(change)
    mean = change.mean() if n else np.nan
    half = float(_t_halfwidth(change.std(ddof=1) if n > 1 else np.nan, n, confidence))
    quantiles = np.quantile(change, _CHANGE_QUANTILES) if n else np.full(len(_CHANGE_QUANTILES), np.nan)
    out = {"n": float(n), "mean": mean, "ci_low": mean - half, "ci_high": mean + half}
    out.update({f"q{round(q * 100)}": float(v) for q, v in zip(_CHANGE_QUANTILES, quantiles)})
    return pd.Series(out, dtype=float)


def _thinning_statement(unit, max_lines, thin):
    """The sentence that says how a panel of more than ``max_lines`` people is drawn."""
    if thin == "distribution":
        return (f"More than {max_lines} {unit}, so the spread of their changes (post − pre) is shown "
                f"instead of a line for each; lines are drawn for {max_lines} or fewer")
    return (f"More than {max_lines} {unit}: lines for a random {max_lines} (means use everyone); "
            f"all lines are drawn for {max_lines} or fewer")


def paired_plot(
    scores,
    *,
    measure,
    label=None,
    scale=None,
    ax=None,
    max_lines=MAX_LINES,
    thin="distribution",
    seed=0,
    unit="children",
    legend=True,
    min_cell=None,
):
    """Each person's pre to post change as a thin line, with the means and within-subject 95% CIs;
    for more than ``max_lines`` people, the spread of the changes instead.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint`` and ``measure``.
    measure : str
        Score column.
    label : str, optional
        Human name of the measure for the title and y axis (default ``measure``).
    scale : tuple of (float, float), optional
        Possible score range ``(min, max)``; fixes the y axis to it (of the
        line panel; the change panel is centred on zero).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).
    max_lines : int, default 50
        Draw one line per person for at most this many people; above it more
        lines are an unreadable tangle, and ``thin`` says what is drawn instead.
    thin : {"distribution", "sample"}, default "distribution"
        Above ``max_lines`` people: ``"distribution"`` draws the spread of each
        person's change, post − pre (see :func:`change_distribution`: a grey box
        from the 25th to the 75th percentile, a grey whisker from the 10th to
        the 90th, a dark median line, and the mean change with its 95% CI in
        blue, beside a dashed line at zero, no change); ``"sample"`` draws the
        lines of a random ``max_lines`` people, fixed by ``seed``, with the
        means and CIs of everyone.
    seed : int, default 0
        Seed of the sample (``thin="sample"``), so reruns draw the same lines.
    unit : str, default "children"
        Who the rows are, for the labels ("n = 12 children with pre and post scores").
    legend : bool, default True
        Draw the legend, and the sentence saying how more than ``max_lines``
        people are drawn, below the axes (:func:`paired_grid` draws them once
        for the figure instead).
    min_cell : int, optional
        Disclosure control: with 1 to ``min_cell - 1`` matched people nothing is
        drawn (so few lines are individuals) and the x label says "n < min_cell".
        Nothing drawn shows a count of people.

    Returns
    -------
    matplotlib.axes.Axes
        Title ``label``; x label the number of matched people. Line panel: a
        ``LineCollection`` of individual lines (gid ``"individuals"``, at most
        ``max_lines`` segments) and an errorbar whose data line has gid
        ``"means"`` and whose bars have gid ``"ci"`` (x = 0 for pre, 1 for
        post). Change panel (``thin="distribution"``, more than ``max_lines``
        people): no individual lines; the box is a patch with gid
        ``"middle_half"``, the whisker gid ``"spread"``, the median gid
        ``"median"``, the zero line gid ``"zero"``, and the mean change an
        errorbar with gids ``"means"`` and ``"ci"`` (y = change). The axes' gid
        says what was drawn: ``"lines"``, ``"sample"``, ``"distribution"`` or
        ``"not_drawn"`` (``min_cell``).

    See Also
    --------
    within_subject_ci : the means and intervals of the line panel.
    change_distribution : what the change panel draws.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c"],
    ...     "timepoint": ["pre", "post"] * 3,
    ...     "differentiating": [1.0, 2.0, 2.0, 2.5, 1.5, 2.5],
    ... })
    >>> ax = paired_plot(scores, measure="differentiating", label="Differentiating Emotions", scale=(1, 3))
    >>> ax.get_title(), ax.get_xlabel()
    ('Differentiating Emotions', 'n = 3 children with pre and post scores')
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['Pre', 'Post']
    >>> ax = paired_plot(scores, measure="differentiating", max_lines=2, ax=plt.figure().gca())
    >>> print(ax.get_xlabel())
    n = 3 children with pre and post scores
    More than 2 children, so the spread of their changes (post − pre) is shown instead of a line for each; lines are drawn for 2 or fewer
    >>> plt.close("all")
    """
    from matplotlib.collections import LineCollection

    if int(max_lines) < 1:
        raise EvalkitError(f"max_lines={max_lines!r} must be at least 1", expected="a positive integer")
    _check_argument("thin", ("distribution", "sample"), thin)
    ax = _get_ax(ax)
    label = measure if label is None else label
    wide = _paired_wide(scores, measure)
    n = len(wide)
    ax.set_title(label, fontsize="medium")
    if min_cell is not None and 0 < n < min_cell:
        ax.set_xlabel(f"n < {min_cell} {unit} with pre and post scores", fontsize="small")
        ax.text(0.5, 0.5, f"not shown: fewer than {min_cell} {unit}", transform=ax.transAxes,
                ha="center", va="center", gid="not_drawn", **_NOTE_STYLE)
        ax.set_xticks([0, 1], labels=[t.capitalize() for t in TIMEPOINTS])
        ax.set_gid("not_drawn")
        return ax

    note = f"n = {n} {unit} with pre and post scores"
    if n > max_lines:
        if legend:
            note += "\n" + _thinning_statement(unit, max_lines, thin)
        if thin == "distribution":
            _draw_change_distribution(ax, _change_summary(wide), unit)
            ax.set_xlabel(note, fontsize="small")
            ax.set_gid("distribution")
            if legend:
                _legend_below(ax, ncol=2, tick_lines=2)
            return ax

    values = wide[list(TIMEPOINTS)].to_numpy(dtype=float)
    shown = np.arange(n)
    if n > max_lines:
        rng = np.random.default_rng(seed)
        shown = np.sort(rng.choice(n, size=int(max_lines), replace=False))
    segments = np.stack([np.column_stack([np.zeros(len(shown)), values[shown, 0]]),
                         np.column_stack([np.ones(len(shown)), values[shown, 1]])], axis=1)
    lines = LineCollection(segments, colors=_INDIVIDUAL_COLOUR, linewidths=0.8, alpha=0.6,
                           label="Individual change", zorder=1)
    lines.set_gid("individuals")
    ax.add_collection(lines)
    ax.set_gid("sample" if n > max_lines else "lines")

    summary = within_subject_ci(scores, measure=measure)
    means = summary["mean"].to_numpy()
    yerr = np.vstack([means - summary["ci_low"], summary["ci_high"] - means])
    bars = ax.errorbar(
        [0, 1],
        means,
        yerr=np.nan_to_num(yerr),
        fmt="o-",
        color=_MEAN_COLOUR,
        markersize=9,
        linewidth=3,
        elinewidth=3,
        capsize=7,
        capthick=3,
        label="Mean with 95% within-subject CI",
        zorder=3,
    )
    bars.lines[0].set_gid("means")
    for collection in bars.lines[2]:
        collection.set_gid("ci")

    ax.set_xlabel(note, fontsize="small")
    if n == 0:
        ax.text(0.5, 0.5, "no matched pre and post scores", transform=ax.transAxes,
                ha="center", va="center", **_NOTE_STYLE)
    ax.set_xticks([0, 1], labels=[t.capitalize() for t in TIMEPOINTS])
    ax.set_xlim(-0.35, 1.35)
    ax.set_ylabel("Score")
    if scale is not None:
        lo, hi = scale
        pad = 0.04 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
    elif n:
        ax.autoscale_view(scalex=False)
    if legend:
        _legend_below(ax, ncol=2)
    return ax


def _singular(unit):
    """"children" -> "child", "facilitators" -> "facilitator"."""
    irregular = {"children": "child", "people": "person"}
    return irregular.get(unit, unit[:-1] if unit.endswith("s") else unit)


def _draw_change_distribution(ax, dist, unit):
    """The change panel of :func:`paired_plot`: quantile box and whisker at x = 0, mean change (CI) at x = 1."""
    from matplotlib.ticker import MaxNLocator

    ax.axhline(0, color="0.15", linestyle="--", linewidth=1.2, zorder=1, gid="zero", label="No change (0)")
    ax.vlines([0], dist["q10"], dist["q90"], color=_INDIVIDUAL_COLOUR, linewidth=2, zorder=2, gid="spread",
              label=f"10th to 90th percentile of {unit}")
    ax.bar([0], [dist["q75"] - dist["q25"]], bottom=[dist["q25"]], width=0.5, color="0.82",
           edgecolor=_INDIVIDUAL_COLOUR, linewidth=1.2, zorder=2, gid="middle_half",
           label=f"Middle half of {unit} (25th to 75th percentile)")
    ax.hlines([dist["q50"]], [-0.25], [0.25], color="0.15", linewidth=2.5, zorder=3, gid="median",
              label="Median change")
    err = np.nan_to_num([[dist["mean"] - dist["ci_low"]], [dist["ci_high"] - dist["mean"]]])
    bars = ax.errorbar([1], [dist["mean"]], yerr=err, fmt="o", color=_MEAN_COLOUR, markersize=9,
                       elinewidth=3, capsize=7, capthick=3, zorder=3, label="Mean change with 95% CI")
    bars.lines[0].set_gid("means")
    for collection in bars.lines[2]:
        collection.set_gid("ci")
    ax.set_xticks([0, 1], labels=[f"Each {_singular(unit)}'s\nchange", "Mean\nchange"])
    ax.set_xlim(-0.6, 1.6)
    reach = np.nanmax(np.abs([dist["q10"], dist["q90"], dist["ci_low"], dist["ci_high"], 0.1]))
    ax.set_ylim(-1.15 * reach, 1.15 * reach)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10], symmetric=True))
    ax.set_ylabel("Change, post − pre")


# --------------------------------------------------------------------------- forest plot


def forest_plot(outcomes, *, effect="d_z", ax=None):
    """One row per measure: the standardised change with its 95% CI, and a line at zero.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        The outcomes table, one row per measure: ``measure``, optional
        ``label``, ``n`` and the effect and CI columns.
    effect : {"d_z", "g_av", "mean_diff"}, default "d_z"
        Which effect size to draw (``d_z`` with ``d_z_ci_low``/``d_z_ci_high``,
        ``g_av`` with ``g_av_ci_low``/``g_av_ci_high``, ``mean_diff`` with
        ``ci_low``/``ci_high``). The x label names it exactly.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).

    Returns
    -------
    matplotlib.axes.Axes
        Rows run top to bottom in table order (y = 0, 1, ...; y axis inverted).
        Points are a ``Line2D`` with gid ``"effect"``, whiskers a
        ``LineCollection`` with gid ``"ci"``. A measure whose effect is NaN
        keeps its tick and gets a "not estimable" text (gid ``"not_estimable"``)
        instead of being dropped.

    Raises
    ------
    DataError
        When a needed column is missing or the table is empty.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> outcomes = pd.DataFrame({
    ...     "measure": ["differentiating", "not_hiding"],
    ...     "label": ["Differentiating Emotions", "Not Hiding Emotions"],
    ...     "n": [24, 1],
    ...     "d_z": [0.52, float("nan")],
    ...     "d_z_ci_low": [0.09, float("nan")],
    ...     "d_z_ci_high": [0.94, float("nan")],
    ... })
    >>> ax = forest_plot(outcomes)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Differentiating Emotions (n = 24)', 'Not Hiding Emotions (n = 1)']
    >>> ax.get_xlabel()
    "Cohen's d_z (mean change / SD of change), 95% CI"
    >>> plt.close(ax.figure)
    """
    import matplotlib.transforms as mtransforms

    _check_argument("effect", tuple(EFFECTS), effect)
    col, low_col, high_col, xlabel = EFFECTS[effect]
    _require_columns(outcomes, ["measure", col, low_col, high_col], "outcomes")
    if outcomes.empty:
        raise DataError("outcomes table has no rows", expected="one row per measure")
    ax = _get_ax(ax)
    table = outcomes.reset_index(drop=True)
    est = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
    low = pd.to_numeric(table[low_col], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(table[high_col], errors="coerce").to_numpy(dtype=float)
    y = np.arange(len(table), dtype=float)

    ax.axvline(0, color="0.3", linewidth=1, zorder=1, gid="zero")
    has_ci = np.isfinite(est) & np.isfinite(low) & np.isfinite(high)
    whiskers = ax.hlines(y[has_ci], low[has_ci], high[has_ci], color=_MEAN_COLOUR, linewidth=2, zorder=2)
    whiskers.set_gid("ci")
    ok = np.isfinite(est)
    (points,) = ax.plot(est[ok], y[ok], "o", color=_MEAN_COLOUR, markersize=8, zorder=3)
    points.set_gid("effect")

    # x in axes fraction, y in data: texts stay at the panel edges whatever the x range
    row_text = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
    ticklabels = []
    for i, row in table.iterrows():
        text = _label_of(row, row["measure"])
        n = pd.to_numeric(pd.Series([row.get("n")]), errors="coerce").iloc[0]
        if pd.notna(n):
            text += f" (n = {int(n)})"
        elif isinstance(row.get("n"), str):
            text += f" (n {row['n']})" if row["n"].startswith("<") else f" (n = {row['n']})"
        ticklabels.append(text)
        if ok[i]:
            value = f"{est[i]:.2f}"
            if has_ci[i]:
                value += f" [{low[i]:.2f}, {high[i]:.2f}]"
            value = value.replace("-", "\u2212")  # a true minus, as the tables write it
            ax.text(1.02, y[i], value, transform=row_text, va="center", ha="left",
                    fontsize="small", gid="effect_text")
        else:
            note = row.get("note")
            reason = f" ({note})" if isinstance(note, str) and note.strip() else ""
            ax.text(0.02, y[i], f"not estimable{reason}", transform=row_text, va="center", ha="left",
                    gid="not_estimable", **_NOTE_STYLE)

    ax.set_yticks(y, labels=ticklabels)
    ax.set_ylim(len(table) - 0.5, -0.5)  # first measure on top
    finite = np.concatenate([est[ok], low[has_ci], high[has_ci], [0.0]])
    span = max(float(np.max(np.abs(finite))), 0.5)
    ax.set_xlim(min(finite.min(), 0) - 0.1 * span, max(finite.max(), 0) + 0.1 * span)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    return ax


# --------------------------------------------------------------------------- interaction plot


def group_time_means(scores, *, measure, factor, min_group_n=10, confidence=0.95):
    """Pre and post means with 95% CIs for each level of a factor, matched people only.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint``, ``measure`` and ``factor``.
    measure : str
        Score column.
    factor : str
        Grouping column (e.g. ``delivery``, ``age_band``). A person's level is
        their value at ``pre`` (at ``post`` if missing at pre); people with no
        level are left out.
    min_group_n : int, default 10
        Levels with fewer matched people are left out of the result, so that
        small groups are neither drawn nor reported.
    confidence : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Two rows per level kept, levels in natural (or categorical) order, with
        columns ``<factor>``, ``timepoint``, ``mean``, ``ci_low``, ``ci_high``
        (t interval of each mean: mean :math:`\\pm t_{(1+c)/2, n-1}\\,sd/\\sqrt{n}`)
        and ``n`` (matched people in the level).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"],
    ...     "timepoint": ["pre", "post"] * 5,
    ...     "delivery": ["group"] * 6 + ["one-to-one"] * 4,
    ...     "not_hiding": [1.0, 2.0, 2.0, 2.5, 1.5, 2.0, 3.0, 3.0, 2.0, 2.5],
    ... })
    >>> group_time_means(scores, measure="not_hiding", factor="delivery", min_group_n=3).round(2)
      delivery timepoint  mean  ci_low  ci_high  n
    0    group       pre  1.50    0.26     2.74  3
    1    group      post  2.17    1.45     2.88  3
    """
    return _group_time_means(_paired_wide(scores, measure, factor=factor), factor, min_group_n, confidence)


def _group_time_means(wide, factor, min_group_n, confidence=0.95):
    """:func:`group_time_means` from the matched pairs (:func:`_paired_wide` with the factor)."""
    columns = [factor, "timepoint", "mean", "ci_low", "ci_high", "n"]
    wide = wide.dropna(subset=["level"])
    rows = []
    for level in _level_order(wide["level"]):
        group = wide[wide["level"] == level]
        n = len(group)
        if n < min_group_n:
            continue
        for tp in TIMEPOINTS:
            mean = group[tp].mean()
            half = float(_t_halfwidth(group[tp].std(ddof=1), n, confidence))
            rows.append((level, tp, mean, mean - half, mean + half, n))
    return pd.DataFrame(rows, columns=columns)


def group_changes(scores, *, measures, factor, min_group_n=10, confidence=0.95):
    """Mean change (post − pre) with its 95% CI for each level of a factor and each measure.

    With two timepoints the time × factor interaction of a mixed ANOVA tests
    exactly whether these mean changes differ between the levels.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint``, the measures and ``factor``.
    measures : list of str
        Score columns.
    factor : str
        Grouping column; a person's level is their value at ``pre``.
    min_group_n : int, default 10
        Levels with fewer matched people for a measure are left out.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``measure, level, n, mean_change, ci_low, ci_high`` (t interval of the mean change).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...     "timepoint": ["pre", "post"] * 4,
    ...     "delivery": ["group"] * 4 + ["one-to-one"] * 4,
    ...     "not_hiding": [1.0, 2.0, 2.0, 2.5, 1.5, 2.0, 3.0, 3.0],
    ... })
    >>> group_changes(scores, measures=["not_hiding"], factor="delivery", min_group_n=2).round(2)
          measure       level  n  mean_change  ci_low  ci_high
    0  not_hiding       group  2         0.75   -2.43     3.93
    1  not_hiding  one-to-one  2         0.25   -2.93     3.43
    """
    return _group_changes(_paired_frames(scores, measures, factor), measures, min_group_n, confidence)


def _group_changes(frames, measures, min_group_n, confidence=0.95):
    """:func:`group_changes` from the matched pairs of each measure (:func:`_paired_frames`)."""
    rows = []
    for measure in measures:
        wide = frames[measure].dropna(subset=["level"])
        for level in _level_order(wide["level"]):
            change = (wide.loc[wide["level"] == level, "post"] - wide.loc[wide["level"] == level, "pre"])
            n = len(change)
            if n < min_group_n:
                continue
            half = float(_t_halfwidth(change.std(ddof=1), n, confidence))
            rows.append((measure, level, n, change.mean(), change.mean() - half, change.mean() + half))
    return pd.DataFrame(rows, columns=["measure", "level", "n", "mean_change", "ci_low", "ci_high"])


def _hidden_group_sizes(frames, measures, factor, kept, min_cell):
    """True when the shown group sizes and the matched n (shown in the tables) would give away the size of
    the groups left out: 1 to ``min_cell - 1`` people, for some measure. ``frames`` holds each measure's
    matched pairs with the factor level (:func:`_paired_frames`)."""
    if min_cell is None:
        return False
    for measure in measures:
        matched = int(frames[measure]["level"].notna().sum())  # matched people with a level
        shown = kept.loc[kept["measure"] == measure, "n"] if "measure" in kept else kept.drop_duplicates(factor)["n"]
        if 0 < matched - int(shown.sum()) < min_cell:
            return True
    return False


def change_by_group_plot(scores, *, measures, factor, labels=None, min_group_n=10, ax=None, unit="children",
                         min_cell=None):
    """Mean change with 95% CI per group, one row per measure: the interaction at a glance.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores.
    measures : list of str
    factor : str
    labels : dict, optional
        Measure id -> label for the y axis.
    min_group_n : int, default 10
        Smaller groups are not drawn (the title says how many were left out).
    ax : matplotlib.axes.Axes, optional
    unit : str
        Who the people are, for the note.
    min_cell : int, optional
        Disclosure control: when the groups left out hold 1 to ``min_cell - 1``
        people for a measure (the matched n minus the shown group sizes), the
        legend gives no group sizes and the title says so.

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per group (gid ``"change"``, label ``"<level> (n = …)"``), a zero line.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": list("aabbccdd"), "timepoint": ["pre", "post"] * 4,
    ...     "delivery": ["group"] * 4 + ["one-to-one"] * 4,
    ...     "not_hiding": [1.0, 2.0, 2.0, 2.5, 1.5, 2.0, 3.0, 3.0]})
    >>> ax = change_by_group_plot(scores, measures=["not_hiding"], factor="delivery", min_group_n=2)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['group (n = 2)', 'one-to-one (n = 2)']
    >>> plt.close(ax.figure)
    """
    ax = _get_ax(ax)
    labels = labels or {}
    frames = _paired_frames(scores, measures, factor)
    table = _group_changes(frames, measures, min_group_n)
    levels = list(pd.unique(table["level"])) if len(table) else []
    sizes = not _hidden_group_sizes(frames, measures, factor, table, min_cell)
    colours = colorblind_palette(max(len(levels), 1))
    width = 0.7 / max(len(levels), 1)
    positions = {m: len(measures) - 1 - i for i, m in enumerate(measures)}
    for k, level in enumerate(levels):
        rows = table[table["level"] == level]
        # the first group on top of each measure's row, as in the legend
        y = np.array([positions[m] for m in rows["measure"]]) + width * ((len(levels) - 1) / 2 - k)
        x = rows["mean_change"].to_numpy()
        err = np.vstack([x - rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy() - x])
        n_text = f"{int(rows['n'].min())}" if rows["n"].nunique() == 1 else \
            f"{int(rows['n'].min())}–{int(rows['n'].max())}"
        name = _wrap_label(level)
        container = ax.errorbar(x, y, xerr=err, fmt="o", color=colours[k], capsize=2.5, markersize=5,
                                label=f"{name} (n = {n_text})" if sizes else name)
        container.lines[0].set_gid("change")
    ax.axvline(0, color="0.3", linewidth=1, zorder=0)
    ax.set_yticks(list(positions.values()), [labels.get(m, m) for m in positions])
    ax.set_ylim(-0.6, len(measures) - 0.4)
    ax.set_xlabel("Mean change, post − pre (95% CI)")
    title = f"By {factor.replace('_', ' ')}"
    all_levels = _level_order(frames[measures[0]].dropna(subset=["level"])["level"])
    omitted = len(all_levels) - len(levels)
    if omitted > 0:
        title += f"\n{omitted} group{'s' if omitted > 1 else ''} with fewer than {min_group_n} {unit} not shown"
    if not sizes:
        title += " (nor group sizes)"
    ax.set_title(title, fontsize="medium")
    if levels:
        names = ax.get_legend_handles_labels()[1]
        _legend_below(ax, ncol=_legend_columns(names, most=2))
    return ax


def interaction_plot(scores, *, measure, factor, min_group_n=10, label=None, ax=None, unit="children",
                     min_cell=None):
    """Pre and post means (95% CI) with one line per factor level; small groups left out and said so.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint``, ``measure`` and ``factor``.
    measure : str
        Score column.
    factor : str
        Grouping column; one line per level.
    min_group_n : int, default 10
        Levels with fewer matched people are not drawn; the title says how many
        were left out (without naming them).
    label : str, optional
        Human name of the measure (default ``measure``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).
    unit : str, default "children"
        Who the rows are, for the note on omitted groups.
    min_cell : int, optional
        As in :func:`change_by_group_plot`: no group sizes when they would give
        away the size of the groups left out.

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar per level kept, in legend order; each data line has gid
        ``"means"`` and label ``"<level> (n = <n>)"``. Points are dodged
        slightly around x = 0 (pre) and 1 (post).

    See Also
    --------
    group_time_means : the means and intervals drawn.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"],
    ...     "timepoint": ["pre", "post"] * 5,
    ...     "delivery": ["group"] * 6 + ["one-to-one"] * 4,
    ...     "not_hiding": [1.0, 2.0, 2.0, 2.0, 1.0, 1.5, 3.0, 3.0, 2.0, 2.5],
    ... })
    >>> ax = interaction_plot(scores, measure="not_hiding", factor="delivery", min_group_n=3)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['group (n = 3)']
    >>> print(ax.get_title())
    not_hiding by delivery
    1 group with fewer than 3 children not shown
    >>> plt.close(ax.figure)
    """
    ax = _get_ax(ax)
    label = measure if label is None else label
    wide = _paired_wide(scores, measure, factor=factor)
    table = _group_time_means(wide, factor, min_group_n)
    all_levels = _level_order(wide["level"].dropna())
    kept = list(pd.unique(table[factor]))
    omitted = len(all_levels) - len(kept)
    sizes = not _hidden_group_sizes({measure: wide}, [measure], factor, table, min_cell)

    colours = colorblind_palette(max(len(all_levels), 1))
    width = 0.05
    for i, level in enumerate(kept):
        rows = table[table[factor] == level].set_index("timepoint").loc[list(TIMEPOINTS)]
        offset = width * (i - (len(kept) - 1) / 2)
        means = rows["mean"].to_numpy()
        yerr = np.vstack([means - rows["ci_low"], rows["ci_high"] - means])
        bars = ax.errorbar(
            np.array([0.0, 1.0]) + offset,
            means,
            yerr=np.nan_to_num(yerr),
            fmt="o-",
            color=colours[all_levels.index(level)],
            linewidth=2,
            markersize=7,
            capsize=4,
            label=f"{_wrap_label(level)} (n = {int(rows['n'].iloc[0])})" if sizes else _wrap_label(level),
        )
        bars.lines[0].set_gid("means")
        for collection in bars.lines[2]:
            collection.set_gid("ci")

    title = f"{label} by {factor.replace('_', ' ')}"
    if omitted:
        groups = "group" if omitted == 1 else "groups"
        title += f"\n{omitted} {groups} with fewer than {min_group_n} {unit} not shown"
        title += "" if sizes else " (nor group sizes)"
    ax.set_title(title, fontsize="medium")
    if not kept:
        ax.text(0.5, 0.5, f"no group has {min_group_n} or more {unit} with pre and post scores",
                transform=ax.transAxes, ha="center", va="center", wrap=True, **_NOTE_STYLE)
    ax.set_xticks([0, 1], labels=[t.capitalize() for t in TIMEPOINTS])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel(f"{label} (mean, 95% CI)")
    if kept:  # below the panel: the lines cross anywhere, so no corner inside is safe
        _legend_below(ax, ncol=_legend_columns(ax.get_legend_handles_labels()[1], most=2, width=22))
    return ax


# --------------------------------------------------------------------------- reliable change


def reliable_change_plot(rc_table, *, ax=None, unit="children"):
    """Horizontal 100% bars per measure: deteriorated / no reliable change / improved, counts annotated.

    Parameters
    ----------
    rc_table : pandas.DataFrame
        Reliable change table: ``measure``, optional ``label``, ``improved``,
        ``no_change``, ``deteriorated`` (counts). A row whose counts are not
        all numbers (NaN, or text such as ``"<5"`` left by disclosure control)
        is not drawn; its tick stays with a note saying why.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).
    unit : str, default "children"
        Who is counted, for the x label.

    Returns
    -------
    matplotlib.axes.Axes
        One ``BarContainer`` per category in ``ax.containers`` (labels
        "Deteriorated", "No reliable change", "Improved"; fixed colours in
        ``RELIABLE_CHANGE_COLOURS``), bar widths in percent of the row total,
        rows top to bottom in table order. Each non-zero segment carries a text
        with its count (and percent when wide enough).

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> rc = pd.DataFrame({
    ...     "measure": ["differentiating", "not_hiding"],
    ...     "n": [20, 8], "rci_threshold": [0.9, 1.1],
    ...     "improved": [6, "<5"], "no_change": [12, 6], "deteriorated": [2, "<5"],
    ... })
    >>> ax = reliable_change_plot(rc)
    >>> [round(p.get_width()) for p in ax.containers[2]]  # improved, % of 20
    [30]
    >>> [t.get_text() for t in ax.texts if "not shown" in t.get_text()]
    ['not shown: small counts suppressed']
    >>> plt.close(ax.figure)
    """
    keys = [k for k, _ in RELIABLE_CHANGE_CATEGORIES]
    _require_columns(rc_table, ["measure", *keys], "reliable change table")
    ax = _get_ax(ax)
    table = rc_table.reset_index(drop=True)
    counts = table[keys].apply(pd.to_numeric, errors="coerce")
    drawable = counts.notna().all(axis=1) & (counts.sum(axis=1) > 0)
    y = np.arange(len(table), dtype=float)
    totals = counts.sum(axis=1)
    percent = counts.div(totals.where(totals > 0), axis=0) * 100

    left = np.zeros(int(drawable.sum()))
    yd = y[drawable.to_numpy()]
    for key, name in RELIABLE_CHANGE_CATEGORIES:
        widths = percent.loc[drawable, key].to_numpy(dtype=float)
        ax.barh(yd, widths, left=left, height=0.6, color=RELIABLE_CHANGE_COLOURS[key],
                label=name, edgecolor="white", linewidth=0.8)
        for yy, x0, w, c in zip(yd, left, widths, counts.loc[drawable, key].to_numpy()):
            if c > 0:
                text = f"{int(c)} ({w:.0f}%)" if w >= 14 else f"{int(c)}"
                ax.text(x0 + w / 2, yy, text, ha="center", va="center", fontsize="small",
                        color="white" if key != "no_change" else "black", gid="count")
        left = left + widths

    ticklabels = []
    for i, row in table.iterrows():
        text = _label_of(row, row["measure"])
        if drawable[i]:
            text += f" (n = {int(totals[i])})"
        else:
            raw = row[keys]
            suppressed = any(isinstance(v, str) and v.strip() != "" for v in raw)
            note = "not shown: small counts suppressed" if suppressed else "not shown: counts not available"
            ax.text(50, y[i], note, ha="center", va="center", gid="not_drawn", **_NOTE_STYLE)
        ticklabels.append(text)
    ax.set_yticks(y, labels=ticklabels)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of {unit} with pre and post scores")
    ax.grid(axis="y", visible=False)
    _legend_below(ax, ncol=3)
    return ax


# --------------------------------------------------------------------------- diverging bars


def _hidden_segments(data, min_cell):
    """(item, timepoint, response) of the segments whose percent is not printed: small counts, and
    what complementary suppression adds so that the printed percents do not give them away."""
    from .privacy import protect_cells

    out = set()
    n = pd.to_numeric(data["n"], errors="coerce")
    for (item, tp), group in n.groupby([data["item"], data["timepoint"]], sort=False):
        values = {int(r): float(v) for r, v in zip(data.loc[group.index, "response"], group) if pd.notna(v)}
        primary, secondary = protect_cells(values, [(None, list(values))], min_cell=min_cell)
        out |= {(item, tp, r) for r in primary | secondary}
    return out


def diverging_layout(distributions, *, scale=None):
    """Segments of Likert-style diverging bars: lower responses left of 0, higher right, midpoint centred.

    Parameters
    ----------
    distributions : pandas.DataFrame
        Long item distributions: ``item``, ``timepoint``, ``response``,
        ``label`` and ``percent`` (or ``n``, from which percents are computed
        per item and timepoint).
    scale : tuple of (int, int), optional
        Response range ``(min, max)``; default the smallest and largest
        response in ``distributions``.

    Returns
    -------
    pandas.DataFrame
        One row per item, timepoint and response (responses missing from a
        row get width 0), in item order of first appearance, with columns
        ``item``, ``timepoint``, ``response``, ``label``, ``left`` and
        ``width`` (percent). Segments of a row are contiguous in response
        order; responses below the scale midpoint lie left of 0, above it right
        of 0, and a neutral midpoint (odd number of responses) is split half
        and half across 0.

    Examples
    --------
    >>> import pandas as pd
    >>> dist = pd.DataFrame({
    ...     "item": ["q1"] * 3, "timepoint": ["pre"] * 3, "response": [1, 2, 3],
    ...     "label": ["not true", "sometimes true", "often true"],
    ...     "n": [2, 4, 4], "percent": [20.0, 40.0, 40.0],
    ... })
    >>> diverging_layout(dist)
      item timepoint  response           label  left  width
    0   q1       pre         1        not true -40.0   20.0
    1   q1       pre         2  sometimes true -20.0   40.0
    2   q1       pre         3      often true  20.0   40.0
    """
    _require_columns(distributions, ["item", "timepoint", "response"], "item distributions")
    if "percent" not in distributions.columns and "n" not in distributions.columns:
        raise DataError("item distributions need a 'percent' or an 'n' column", column="percent")
    columns = ["item", "timepoint", "response", "label", "left", "width"]
    data = distributions.copy()
    if data.empty:
        return pd.DataFrame(columns=columns)
    data["response"] = pd.to_numeric(data["response"], errors="coerce")
    if data["response"].isna().any():
        raise DataError("responses must be numbers", column="response", expected="1 .. scale maximum")
    if "percent" in data.columns:
        data["width"] = pd.to_numeric(data["percent"], errors="coerce").fillna(0.0)
    else:
        n = pd.to_numeric(data["n"], errors="coerce").fillna(0.0)
        total = n.groupby([data["item"], data["timepoint"]]).transform("sum")
        data["width"] = (n / total.where(total > 0) * 100).fillna(0.0)
    lo, hi = (data["response"].min(), data["response"].max()) if scale is None else scale
    responses = np.arange(int(lo), int(hi) + 1)
    mid = (lo + hi) / 2

    labels = {}
    if "label" in data.columns:
        labels = data.dropna(subset=["label"]).drop_duplicates("response").set_index("response")["label"].to_dict()
    rows = []
    for (item, tp), group in data.groupby(["item", "timepoint"], sort=False):
        width = group.groupby("response")["width"].sum().reindex(responses, fill_value=0.0)
        below = width[width.index < mid].sum() + width[width.index == mid].sum() / 2
        edges = -below + np.concatenate([[0.0], np.cumsum(width.to_numpy())[:-1]])
        for r, x0, w in zip(responses, edges, width.to_numpy()):
            rows.append((item, tp, int(r), labels.get(r, str(r)), float(x0), float(w)))
    out = pd.DataFrame(rows, columns=columns)
    item_order = {item: i for i, item in enumerate(pd.unique(data["item"]))}
    out = out.sort_values(["item", "timepoint", "response"],
                          key=lambda s: s.map(item_order) if s.name == "item" else s,
                          kind="stable")
    return out.reset_index(drop=True)


def diverging_rows(distributions, *, timepoints=TIMEPOINTS, item_labels=None, wrap=ITEM_WRAP):
    """Height of :func:`diverging_bar_plot`'s bars and labels in bar rows: size its figure with it.

    An item takes one row per timepoint drawn, or more when its wrapped text
    needs them (a text line is three quarters of a row at
    :data:`ITEM_ROW_INCHES` per row), plus a gap between items.

    Examples
    --------
    >>> import pandas as pd
    >>> dist = pd.DataFrame({"item": ["q1", "q1", "q2", "q2"], "timepoint": ["pre", "post"] * 2,
    ...                      "response": [1, 1, 1, 1], "n": [3, 3, 3, 3]})
    >>> diverging_rows(dist)  # two items of two rows, one gap between them
    4.6
    >>> text = "I understand how the Healing Together sessions build on each other."
    >>> diverging_rows(dist, item_labels={"q1": text}, wrap=20)  # 4 lines of 0.75 rows, 2 rows, the gap
    5.6
    """
    item_labels = {} if item_labels is None else dict(item_labels)
    timepoints = list(timepoints)
    data = distributions[distributions["timepoint"].isin(timepoints)]
    if "reverse" in data.columns:
        item_labels.update({item: f"{_item_label(item, item_labels, 10**6)} {_REVERSED_NOTE}" for item in
                            pd.unique(data.loc[data["reverse"].fillna(False).astype(bool), "item"])})
    present = data.groupby("item", sort=False)["timepoint"].agg(set)
    rows = [max(len(asked & set(timepoints)),
                _ROWS_PER_TEXT_LINE * (_item_label(item, item_labels, wrap).count("\n") + 1))
            for item, asked in present.items()]
    return float(round(sum(rows) + _ITEM_GAP * max(len(rows) - 1, 0), 10))


_REVERSED_NOTE = "(reverse-scored item: answers as given)"


def _as_answered(data, scale):
    """Reverse-scored items (``reverse`` true, counted keyed as ``item_distributions`` gives them) turned
    back into the answers as given, so that the bars match the question text; and those items' ids."""
    if "reverse" not in data.columns or "response" not in data.columns:
        return data, []
    flip = data["reverse"].fillna(False).astype(bool).to_numpy()
    if not flip.any():
        return data, []
    response = pd.to_numeric(data["response"], errors="coerce")
    lo, hi = (response.min(), response.max()) if scale is None else scale
    out = data.copy()
    out.loc[flip, "response"] = lo + hi - response[flip]
    if "label" in out.columns:  # a label belongs to a response value, whichever item it came from
        names = data.dropna(subset=["label"]).drop_duplicates("response").set_index("response")["label"]
        out.loc[flip, "label"] = out.loc[flip, "response"].map(names)
    return out, list(pd.unique(data.loc[flip, "item"]))


def _item_label(item, item_labels, wrap):
    """The question as asked, wrapped at ``wrap`` characters; the item id when there is no text."""
    text = item_labels.get(item)
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        text = item
    return textwrap.fill(" ".join(str(text).split()), wrap, break_long_words=False, break_on_hyphens=False)


def diverging_bar_plot(distributions, *, timepoints=TIMEPOINTS, ax=None, item_labels=None, scale=None,
                       wrap=ITEM_WRAP, min_cell=None):
    """Likert-style diverging stacked bars per item and timepoint.

    Parameters
    ----------
    distributions : pandas.DataFrame
        Long item distributions (see :func:`diverging_layout`); ``n`` is used,
        when present, to print each bar's number of responses.
    timepoints : sequence of str, default ("pre", "post")
        Timepoints to draw, top to bottom within each item.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: current axes).
    item_labels : dict, optional
        Item id -> the question as asked (``Instrument.item_texts``), the y
        tick label of its bars; an item without text is labelled with its id.
        A reverse-scored item (column ``reverse`` true; its rows counted keyed,
        as :func:`evalkit.stats.item_distributions` gives them) is drawn as
        answered, so that its bars match its question, and its label ends
        with "(reverse-scored item: answers as given)".
    scale : tuple of (int, int), optional
        Response range, passed to :func:`diverging_layout`.
    wrap : int, default 36
        Wrap item texts at this many characters. An item whose text needs more
        lines gets taller room (see :func:`diverging_rows`, which gives the
        height to make the figure).
    min_cell : int, optional
        Disclosure control (needs ``n``): a segment standing for 1 to
        ``min_cell - 1`` responses gets no percent label, nor does the next
        segment that would let ``100% - the other labels`` give it away
        (complementary suppression within the bar, as in tables); a bar of
        fewer than ``min_cell`` responses is labelled ``n < min_cell``.

    Returns
    -------
    matplotlib.axes.Axes
        One ``BarContainer`` per response in ``ax.containers``, in response
        order, labelled with the response label (legend in the same order).
        Major y tick labels are the item texts (at the centre of each item's
        bars), minor y tick labels the timepoints. x is percent, with tick
        labels shown as absolute values.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> dist = pd.DataFrame({
    ...     "item": ["q1"] * 6, "timepoint": ["pre"] * 3 + ["post"] * 3,
    ...     "response": [1, 2, 3] * 2,
    ...     "label": ["not true", "sometimes true", "often true"] * 2,
    ...     "n": [2, 4, 4, 1, 3, 6], "percent": [20.0, 40.0, 40.0, 10.0, 30.0, 60.0],
    ... })
    >>> ax = diverging_bar_plot(dist, item_labels={"q1": "I know how I feel"})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['not true', 'sometimes true', 'often true']
    >>> [t.get_text() for t in ax.get_yticklabels(minor=True)]
    ['Pre (n = 10)', 'Post (n = 10)']
    >>> plt.close(ax.figure)
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import FuncFormatter

    ax = _get_ax(ax)
    item_labels = {} if item_labels is None else dict(item_labels)
    timepoints = list(timepoints)
    _require_columns(distributions, ["timepoint"], "item distributions")
    data, reversed_items = _as_answered(distributions[distributions["timepoint"].isin(timepoints)], scale)
    item_labels.update({item: f"{_item_label(item, item_labels, 10**6)} {_REVERSED_NOTE}"
                        for item in reversed_items})
    layout = diverging_layout(data, scale=scale)
    if layout.empty:
        ax.text(0.5, 0.5, "no item responses to show", transform=ax.transAxes,
                ha="center", va="center", **_NOTE_STYLE)
        return ax
    responses = sorted(layout["response"].unique())
    k = len(responses)
    colours = diverging_palette(k)
    if k % 2:
        colours[k // 2] = (0.78, 0.78, 0.78)  # neutral grey, visible on white

    # y positions: items top to bottom, their timepoints inside, a gap between items
    positions, minor_labels, major_ticks, major_labels = {}, [], [], []
    y = 0.0
    totals = None
    hidden = set()
    if "n" in data.columns:
        totals = pd.to_numeric(data["n"], errors="coerce").groupby([data["item"], data["timepoint"]]).sum(min_count=1)
        if min_cell is not None:
            hidden = _hidden_segments(data, min_cell)
    present = layout.groupby("item", sort=False)["timepoint"].agg(set)
    for item, asked in present.items():
        label = _item_label(item, item_labels, wrap)
        # an item takes a row per timepoint, more when its wrapped text is taller; bars centred in it
        rows = [tp for tp in timepoints if tp in asked]
        block = max(len(rows), _ROWS_PER_TEXT_LINE * (label.count("\n") + 1))
        y += (block - len(rows)) / 2
        ys = []
        for tp in rows:
            positions[(item, tp)] = y
            text = str(tp).capitalize()
            if totals is not None and pd.notna(totals.get((item, tp), np.nan)):
                n = int(totals[(item, tp)])
                text += f" (n < {min_cell})" if min_cell is not None and 0 < n < min_cell else f" (n = {n})"
            minor_labels.append((y, text))
            ys.append(y)
            y += 1.0
        y += (block - len(rows)) / 2
        major_ticks.append(float(np.mean(ys)))
        major_labels.append(label)
        y += _ITEM_GAP

    layout = layout.assign(y=[positions[(i, t)] for i, t in zip(layout["item"], layout["timepoint"])])
    for colour, response in zip(colours, responses):
        seg = layout[layout["response"] == response]
        name = seg["label"].iloc[0]
        ax.barh(seg["y"], seg["width"], left=seg["left"], height=0.8, color=colour,
                edgecolor="white", linewidth=0.6, label=name)
        for s in seg[seg["width"] >= 8].itertuples():
            if (s.item, s.timepoint, s.response) in hidden:
                continue
            ax.text(s.left + s.width / 2, s.y, f"{s.width:.0f}%", ha="center", va="center",
                    fontsize="x-small", gid="percent")

    ax.axvline(0, color="0.2", linewidth=1, gid="zero")
    ax.set_yticks(major_ticks, labels=major_labels)
    ax.set_yticks([p for p, _ in minor_labels], labels=[t for _, t in minor_labels], minor=True)
    ax.tick_params(axis="y", which="minor", length=0, labelsize="small")
    # item texts sit left of the timepoint labels: pad by the longest one (~0.6 em per character)
    size = FontProperties(size="small").get_size_in_points()
    longest = max(len(t) for _, t in minor_labels)
    ax.tick_params(axis="y", which="major", length=0, pad=10 + 0.62 * size * longest)
    ax.set_ylim(y - _ITEM_GAP - 0.5, -0.5)
    extent = np.maximum(np.abs(layout["left"]), np.abs(layout["left"] + layout["width"])).max()
    lim = max(10.0, math.ceil(extent / 10.0) * 10.0)
    ax.set_xlim(-lim, lim)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{abs(x):.0f}%"))
    ax.set_xlabel("% of responses (lower responses left of 0, higher right; midpoint split across 0)")
    ax.grid(axis="y", visible=False)
    _legend_below(ax, ncol=min(k, 3))
    return ax


# --------------------------------------------------------------------------- grids


def _panel_grid(n_panels, *, col_wrap, height, aspect, sharey):
    import matplotlib.pyplot as plt

    literal_text()

    ncols = max(1, min(col_wrap, n_panels))
    nrows = max(1, math.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * height * aspect, nrows * height),
                             sharey=sharey, squeeze=False, layout="constrained")
    flat = axes.ravel()
    for extra in flat[n_panels:]:
        extra.set_visible(False)
    return fig, flat[:n_panels]


def paired_grid(scores, *, measures, labels=None, col_wrap=3, height=3.8, aspect=1.0, sharey=False, **kws):
    """Lay out one :func:`paired_plot` per measure.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores.
    measures : sequence of str
        One panel per measure, in this order.
    labels : dict, optional
        Measure id -> label (e.g. ``SectionData.labels``).
    col_wrap : int, default 3
        Panels per row.
    height, aspect : float
        Panel height (inches) and width/height ratio.
    sharey : bool, default False
        Share the y axis (sensible when all measures use one scale).
    **kws
        Passed to :func:`paired_plot` (``scale``, ``max_lines``, ``seed``, ``unit``);
        ``legend=False`` drops the figure legend.

    Returns
    -------
    matplotlib.figure.Figure
        Its visible axes are the panels, in ``measures`` order.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b"], "timepoint": ["pre", "post"] * 2,
    ...     "differentiating": [1.0, 2.0, 2.0, 2.5], "not_hiding": [2.0, 2.0, 1.0, 3.0],
    ... })
    >>> fig = paired_grid(scores, measures=["differentiating", "not_hiding"])
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
    ['differentiating', 'not_hiding']
    >>> plt.close(fig)
    """
    labels = {} if labels is None else labels
    fig, axes = _panel_grid(len(measures), col_wrap=col_wrap, height=height, aspect=aspect, sharey=sharey)
    legend = kws.pop("legend", True)
    for measure, ax in zip(measures, axes):
        paired_plot(scores, measure=measure, label=labels.get(measure, measure), ax=ax, legend=False, **kws)
    drawn = [ax.get_gid() for ax in axes]
    change_panels = [ax for ax in axes if ax.get_gid() == "distribution"]
    if len(change_panels) > 1:  # one change axis for all, so that the spreads compare directly
        reach = max(ax.get_ylim()[1] for ax in change_panels)
        ncols = max(1, min(col_wrap, len(measures)))
        for i, ax in enumerate(axes):
            if ax.get_gid() != "distribution":
                continue
            ax.set_ylim(-reach, reach)
            if i % ncols and axes[i - 1].get_gid() == "distribution":  # its left neighbour labels the axis
                ax.tick_params(axis="y", labelleft=False)
                ax.set_ylabel("")
    if "distribution" in drawn or "sample" in drawn:
        fig.suptitle(_thinning_statement(kws.get("unit", "children"), kws.get("max_lines", MAX_LINES),
                                         kws.get("thin", "distribution")),
                     fontsize="medium").set_gid("thinning")
    if legend and len(axes):
        handles = {}
        for ax in axes:  # every kind of mark drawn, once (panels of lines and of spreads may be mixed)
            for handle, name in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(name, handle)
        if handles:
            marks, names = _key_order(list(handles.values()), list(handles))
            fig.legend(marks, names, loc="outside lower center", fontsize="small",
                       ncol=_fit_columns(names, 2 if len(names) <= 2 else 3, 0.95 * fig.get_figwidth()))
    return fig


def paired_alt(fig, *, unit="children", noun="measure"):
    """One sentence saying what a :func:`paired_grid` figure shows, read from its panels (for alt text).

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b"], "timepoint": ["pre", "post"] * 2,
    ...     "differentiating": [1.0, 2.0, 2.0, 2.5], "not_hiding": [2.0, 2.0, 1.0, 3.0],
    ... })
    >>> fig = paired_grid(scores, measures=["differentiating", "not_hiding"])
    >>> paired_alt(fig, noun="subscale")  # doctest: +NORMALIZE_WHITESPACE
    "Each child's score before and after as a grey line, with the means and their within-subject 95%
    confidence intervals in blue, for each of 2 subscales: differentiating, not_hiding."
    >>> plt.close(fig)
    """
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_gid()]
    kinds = [ax.get_gid() for ax in panels]
    one = _singular(unit)
    parts = []
    if "lines" in kinds or "sample" in kinds:
        lines = "as a grey line" if "sample" not in kinds else f"as a grey line (a random {MAX_LINES} of them)"
        parts.append(f"each {one}'s score before and after {lines}, with the means and their within-subject "
                     f"95% confidence intervals in blue")
    if "distribution" in kinds:
        parts.append(f"the spread of each {one}'s change (post − pre) as a grey box (middle half) and whisker "
                     f"(10th to 90th percentile) with a black median line, and the mean change with its 95% "
                     f"confidence interval in blue, beside a dashed line at zero")
    if "not_drawn" in kinds:
        parts.append(f"no drawing where fewer {unit} than the disclosure limit have both scores")
    what = "; ".join(parts) if parts else "no scores"
    nouns = noun if len(panels) == 1 else f"{noun}s"
    titles = ", ".join(" ".join(t for t in (ax.get_title(loc) for loc in ("left", "center", "right")) if t)
                       for ax in panels)
    return f"{what[:1].upper()}{what[1:]}, for each of {len(panels)} {nouns}: {titles}."


def interaction_grid(scores, *, measure, factors, label=None, col_wrap=2, height=3.8, aspect=1.2,
                     sharey=True, **kws):
    """Lay out one :func:`interaction_plot` of ``measure`` per factor.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores.
    measure : str
        Score column.
    factors : sequence of str
        One panel per factor (e.g. ``SectionData.factors``).
    label : str, optional
        Human name of the measure.
    col_wrap : int, default 2
        Panels per row.
    height, aspect : float
        Panel height (inches) and width/height ratio.
    sharey : bool, default True
        Share the y axis so that panels compare directly.
    **kws
        Passed to :func:`interaction_plot` (``min_group_n``, ``unit``).

    Returns
    -------
    matplotlib.figure.Figure
        Its visible axes are the panels, in ``factors`` order.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b"], "timepoint": ["pre", "post"] * 2,
    ...     "delivery": ["group", "group", "one-to-one", "one-to-one"],
    ...     "site": ["north"] * 4, "not_hiding": [2.0, 2.0, 1.0, 3.0],
    ... })
    >>> fig = interaction_grid(scores, measure="not_hiding", factors=["delivery", "site"], min_group_n=1)
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes if ax.get_visible()]
    ['not_hiding by delivery', 'not_hiding by site']
    >>> plt.close(fig)
    """
    fig, axes = _panel_grid(len(factors), col_wrap=col_wrap, height=height, aspect=aspect, sharey=sharey)
    for factor, ax in zip(factors, axes):
        interaction_plot(scores, measure=measure, factor=factor, label=label, ax=ax, **kws)
    return fig


# --------------------------------------------------------------------------- issue 12: clustering, follow-up, dose

#: The waves of a follow-up figure, in the order drawn, with their axis labels.
WAVES = (("pre", "Start"), ("post", "End"), ("follow_up", "Follow-up"))
_NAIVE_COLOUR = "0.55"


def interval_comparison_plot(table, *, ax=None, unit="children", cluster="delivery group"):
    """Each measure's mean change with two 95% intervals: treating people as independent, and allowing for
    clusters.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per measure: ``label`` (or ``measure``), ``mean_change``, ``naive_ci_low``,
        ``naive_ci_high``, ``robust_ci_low``, ``robust_ci_high``.
    ax : matplotlib.axes.Axes, optional
    unit : str
        The people, as the key names them.
    cluster : str
        The kind of cluster, as the key names it ("delivery group").

    Returns
    -------
    matplotlib.axes.Axes
        Measures top to bottom (y = 0, 1, ...; inverted). The naive intervals are a ``LineCollection`` with gid
        ``"naive"`` (grey, just above each row), the cluster-robust ones gid ``"robust"`` (blue, just below),
        the mean change black points (gid ``"means"``) on both, and a dark grey line at zero (gid ``"zero"``);
        the key is below the axes.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"label": ["Knowledge"], "mean_change": [0.3], "naive_ci_low": [0.2],
    ...                   "naive_ci_high": [0.4], "robust_ci_low": [0.1], "robust_ci_high": [0.5]})
    >>> ax = interval_comparison_plot(t)
    >>> [c.get_gid() for c in ax.collections], ax.collections[1].get_segments()[0][:, 0].tolist()
    (['naive', 'robust'], [0.1, 0.5])
    >>> plt.close(ax.figure)
    """
    from matplotlib.lines import Line2D

    _require_columns(table, ["mean_change", "naive_ci_low", "naive_ci_high", "robust_ci_low", "robust_ci_high"],
                     "clustering table")
    ax = _get_ax(ax)
    table = table.reset_index(drop=True)
    y = np.arange(len(table), dtype=float)
    mean = table["mean_change"].to_numpy(dtype=float)
    ax.axvline(0, color="0.3", linewidth=1, zorder=1, gid="zero")
    naive = ax.hlines(y - 0.16, table["naive_ci_low"], table["naive_ci_high"], color=_NAIVE_COLOUR, linewidth=2.2,
                      zorder=2)
    naive.set_gid("naive")
    robust = ax.hlines(y + 0.16, table["robust_ci_low"], table["robust_ci_high"], color=_MEAN_COLOUR,
                       linewidth=2.2, zorder=2)
    robust.set_gid("robust")
    (points,) = ax.plot(np.concatenate([mean, mean]), np.concatenate([y - 0.16, y + 0.16]), "o", color="black",
                        markersize=5, zorder=3, linestyle="None")
    points.set_gid("means")
    labels = [_label_of(row, row.get("measure", "")) for _, row in table.iterrows()]
    ax.set_yticks(y, labels=labels)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("Mean change (post − pre), 95% CI")
    ax.grid(axis="y", visible=False)
    handles = [Line2D([], [], color=_NAIVE_COLOUR, linewidth=2.2),
               Line2D([], [], color=_MEAN_COLOUR, linewidth=2.2),
               Line2D([], [], color="black", marker="o", linestyle="None", markersize=5),
               Line2D([], [], color="0.3", linewidth=1)]
    names = [f"Treating {unit} as independent (paired t)", f"Allowing for {cluster}s (CR1, t on clusters − 1 df)",
             "Mean change", "No change (0)"]
    _legend_below(ax, handles, names, ncol=1)
    return ax


def wave_means(waves, *, measures, min_cell=5, confidence=0.95):
    """Mean score at the start, end and follow-up of the people with all three, per measure.

    Parameters
    ----------
    waves : pandas.DataFrame
        Long scores: ``id``, ``timepoint`` (``pre``, ``post``, ``follow_up``) and the measures.
    measures : list of str
    min_cell : int, default 5
        A measure with fewer people with all three scores gets no means (``n`` is then NaN and
        ``note`` says why): nothing about so few is drawn.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        Three rows per measure, waves in order: ``measure``, ``timepoint``, ``n`` (people with all three
        scores on the measure), ``mean``, ``ci_low``, ``ci_high`` (t interval of each mean:
        mean ± t_{(1+c)/2, n-1} sd / sqrt(n)) and ``note``.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"id": list("aaabbbccc"), "timepoint": ["pre", "post", "follow_up"] * 3,
    ...                   "m": [1.0, 2, 2, 2, 3, 2, 1, 3, 3]})
    >>> wave_means(w, measures=["m"], min_cell=3)[["timepoint", "n", "mean"]].round(2).values.tolist()
    [['pre', 3, 1.33], ['post', 3, 2.67], ['follow_up', 3, 2.33]]
    """
    order = [tp for tp, _ in WAVES]
    rows = []
    for m in measures:
        wide = waves[waves["timepoint"].isin(order)].pivot_table(index="id", columns="timepoint", values=m,
                                                                  aggfunc="first")
        wide = wide.reindex(columns=order).dropna()
        n = len(wide)
        for tp in order:
            if n < min_cell:
                rows.append((m, tp, np.nan, np.nan, np.nan, np.nan,
                             f"fewer than {min_cell} people with all three questionnaires"))
                continue
            mean = float(wide[tp].mean())
            half = float(_t_halfwidth(wide[tp].std(ddof=1), n, confidence))
            rows.append((m, tp, n, mean, mean - half, mean + half, ""))
    return pd.DataFrame(rows, columns=["measure", "timepoint", "n", "mean", "ci_low", "ci_high", "note"])


def wave_means_plot(table, *, ax=None, label=None, show_n=True):
    """One measure's means at the start, end and follow-up, with their 95% CIs, joined by a line.

    Parameters
    ----------
    table : pandas.DataFrame
        The measure's rows of :func:`wave_means`.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Panel title (default: the measure id).
    show_n : bool
        Put the number of people in the title (False where it would give a small count away).

    Returns
    -------
    matplotlib.axes.Axes
        Means are a blue ``Line2D`` with gid ``"means"`` at x = 0, 1, 2; the intervals a ``LineCollection``
        with gid ``"ci"``. Without means (too few people) the axes get gid ``"not_drawn"`` and say why.
    """
    ax = _get_ax(ax)
    table = table.set_index("timepoint").reindex([tp for tp, _ in WAVES])
    title = str(label if label is not None else table["measure"].dropna().iloc[0])
    x = np.arange(len(WAVES), dtype=float)
    ax.set_xticks(x, labels=[name for _, name in WAVES])
    ax.set_xlim(-0.4, len(WAVES) - 0.6)
    if table["mean"].isna().all():
        note = table["note"].dropna().iloc[0] if table["note"].notna().any() else "not estimable"
        ax.text(0.5, 0.5, f"Not drawn: {note}", transform=ax.transAxes, ha="center", va="center", wrap=True,
                **_NOTE_STYLE)
        ax.set_gid("not_drawn")
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
        return ax
    ci = ax.vlines(x, table["ci_low"], table["ci_high"], color=_MEAN_COLOUR, linewidth=2, zorder=2)
    ci.set_gid("ci")
    (means,) = ax.plot(x, table["mean"].to_numpy(dtype=float), "-o", color=_MEAN_COLOUR, markersize=7, zorder=3)
    means.set_gid("means")
    n = table["n"].dropna()
    ax.set_title(title + (f" (n = {int(n.iloc[0])})" if show_n and len(n) else ""), fontsize=10)
    ax.set_gid("drawn")
    return ax


def dose_bins(changes, *, measures, sessions="sessions", full_dose=5, min_cell=5, confidence=0.95):
    """Mean change by sessions attended, in bins of at least ``min_cell`` people.

    Sessions attended are pooled with their neighbours, on each side of ``full_dose`` separately (so that
    every bin is wholly a partial or a full dose), until each bin holds at least ``min_cell`` people; a
    remainder too small for a bin of its own joins the bin before it. A side with fewer than ``min_cell``
    people in all is left out (``note`` says so), so no bin describes fewer than ``min_cell`` people.

    Parameters
    ----------
    changes : pandas.DataFrame
        One row per person: the change (post − pre) of each measure and the ``sessions`` column.
    measures : list of str
    sessions : str
    full_dose : int
    min_cell : int
    confidence : float

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``dose`` (``"partial"``/``"full"``), ``low``, ``high`` (sessions in the bin), ``bin``
        (its label, "0–2" or "5"), ``n``, ``mean_change``, ``ci_low``, ``ci_high`` and ``note``.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"m": [0.1, 0.2, 0.3, 0.1, 0.4, 0.6, 0.5, 0.7], "sessions": [1, 2, 2, 3, 5, 5, 6, 6]})
    >>> dose_bins(c, measures=["m"], min_cell=2)[["dose", "bin", "n"]].values.tolist()
    [['partial', '1–3', 4], ['full', '5', 2], ['full', '6', 2]]
    """
    rows = []
    for m in measures:
        frame = changes[[m, sessions]].apply(pd.to_numeric, errors="coerce").dropna()
        for dose, side in (("partial", frame[frame[sessions] < full_dose]), ("full", frame[frame[sessions] >= full_dose])):
            counts = side[sessions].value_counts().sort_index()
            if counts.sum() < min_cell:
                if counts.sum():
                    rows.append((m, dose, np.nan, np.nan, "", np.nan, np.nan, np.nan, np.nan,
                                 f"fewer than {min_cell} people with a {dose} dose: not drawn"))
                continue
            bins, current = [], []
            for value, count in counts.items():
                current.append((value, count))
                if sum(c for _, c in current) >= min_cell:
                    bins.append(current)
                    current = []
            if current:
                bins[-1] = bins[-1] + current
            for members in bins:
                low, high = members[0][0], members[-1][0]
                y = side.loc[side[sessions].between(low, high), m].to_numpy(dtype=float)
                half = float(_t_halfwidth(y.std(ddof=1), y.size, confidence)) if y.size > 1 else np.nan
                name = f"{low:g}" if low == high else f"{low:g}–{high:g}"
                rows.append((m, dose, low, high, name, y.size, float(y.mean()), y.mean() - half, y.mean() + half, ""))
    out = pd.DataFrame(rows, columns=["measure", "dose", "low", "high", "bin", "n", "mean_change", "ci_low",
                                      "ci_high", "note"])
    out["n"] = out["n"].astype("Int64")
    return out


def dose_plot(table, *, ax=None, label=None, full_dose=5, show_n=True):
    """One measure's mean change per bin of sessions attended, with 95% CIs.

    Parameters
    ----------
    table : pandas.DataFrame
        The measure's rows of :func:`dose_bins`.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Panel title.
    full_dose : int
        Sessions from which a dose is full: a dotted line separates the partial from the full bins.
    show_n : bool
        Put each bin's number of people under its label.

    Returns
    -------
    matplotlib.axes.Axes
        Mean changes are a blue ``Line2D`` (gid ``"means"``, no joining line), their intervals a
        ``LineCollection`` (gid ``"ci"``), zero a dark grey dashed line (gid ``"zero"``).
    """
    ax = _get_ax(ax)
    drawn = table.dropna(subset=["mean_change"]).reset_index(drop=True)
    x = np.arange(len(drawn), dtype=float)
    ax.axhline(0, color="0.3", linewidth=1, linestyle="--", zorder=1, gid="zero")
    ci = ax.vlines(x, drawn["ci_low"].astype(float), drawn["ci_high"].astype(float), color=_MEAN_COLOUR,
                   linewidth=2, zorder=2)
    ci.set_gid("ci")
    (means,) = ax.plot(x, drawn["mean_change"].to_numpy(dtype=float), "o", color=_MEAN_COLOUR, markersize=7,
                       zorder=3)
    means.set_gid("means")
    ticks = [f"{b}\nn={int(n)}" if show_n else str(b) for b, n in zip(drawn["bin"], drawn["n"])]
    ax.set_xticks(x, labels=ticks)
    ax.set_xlim(-0.6, max(len(drawn), 1) - 0.4)
    full = (drawn["dose"] == "full").to_numpy()
    if full.any() and (~full).any():
        edge = np.flatnonzero(full)[0] - 0.5
        ax.axvline(edge, color="0.3", linewidth=1, linestyle=":", zorder=1, gid="full_dose")
        ax.text(edge + 0.05, 1.0, f"full dose ({full_dose}+)", transform=ax.get_xaxis_transform(), ha="left",
                va="bottom", fontsize="small", color="0.3")
    ax.set_xlabel("Sessions attended")
    ax.set_title(str(label if label is not None else drawn["measure"].iloc[0] if len(drawn) else ""), fontsize=10,
                 pad=14)
    ax.grid(axis="x", visible=False)
    return ax
