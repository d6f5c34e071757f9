"""Plain-English, APA-formatted sentences describing each outcome, built from the results tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

FINDINGS_COLUMNS = ["measure", "label", "direction", "primary_test", "p_reported", "sentence"]
#: Default smallest count printed (``disclosure.min_cell``); smaller counts read "fewer than ...".
MIN_PRINTED_N = 5
MINUS = "\u2212"
EN_DASH = "\u2013"


def format_p(p):
    """APA-style p value: ``"p < .001"``, ``"p = .034"``, ``"p > .999"``.

    Parameters
    ----------
    p : float

    Returns
    -------
    str
        Empty string when ``p`` is NaN.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.03449), format_p(0.5), format_p(0.99999)
    ('p < .001', 'p = .034', 'p = .500', 'p > .999')
    """
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.001:
        return "p < .001"
    if round(p, 3) >= 1:
        return "p > .999"
    return "p = " + f"{p:.3f}".lstrip("0")


def format_number(x, digits=2, *, sign=False):
    """Fixed decimals with a true minus sign (and ``+`` when ``sign``).

    Examples
    --------
    >>> format_number(-0.456), format_number(0.37, sign=True), format_number(12.0, 0)
    ('−0.46', '+0.37', '12')
    """
    if x is None or not np.isfinite(x):
        return "NA"
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0:
        return text
    if x < 0:
        return MINUS + text
    return ("+" + text) if sign else text


#: Words for the size of a standardised effect (|d|), after Cohen (1988): below 0.2 negligible, then small,
#: moderate from 0.5 and large from 0.8. Named wherever the words are used.
SIZE_CONVENTION = ("Sizes in words follow Cohen's (1988) convention for standardised differences: below 0.2 "
                   "negligible, 0.2 small, 0.5 moderate, 0.8 large.")
SIZE_BANDS = ((0.8, "large"), (0.5, "moderate"), (0.2, "small"), (0.0, "negligible"))


def size_words(d):
    """The size of a standardised effect in words, after Cohen (1988); the sign is ignored.

    Parameters
    ----------
    d : float
        A standardised mean difference (d_z, g) or, for a Wilcoxon test, the
        rank-biserial r (read on the same thresholds, as a rough guide).

    Returns
    -------
    str
        ``"negligible"`` (|d| < 0.2), ``"small"`` (0.2 to < 0.5), ``"moderate"``
        (0.5 to < 0.8), ``"large"`` (0.8 and above); empty when ``d`` is missing.

    Examples
    --------
    >>> [size_words(d) for d in (0.05, -0.2, 0.49, 0.5, 0.79, 1.3, float("nan"))]
    ['negligible', 'small', 'small', 'moderate', 'moderate', 'large', '']
    """
    if d is None or not np.isfinite(d):
        return ""
    size = abs(float(d))
    return next(word for edge, word in SIZE_BANDS if size >= edge)


def _scale(instrument):
    if instrument is None:
        return ""
    lo, hi = (f"{v:g}" for v in (float(instrument.min), float(instrument.max)))
    return f" on the {lo}{EN_DASH}{hi} scale"


def _people(n, population, min_cell=MIN_PRINTED_N):
    if n < min_cell:
        return f"fewer than {min_cell} matched {population}"
    return f"{n:,} matched {population}"


def _test_text(row):
    """Test statistic, adjusted p and effect size of the primary test."""
    p = format_p(row["p_primary_holm"])
    if row["primary_test"] == "Wilcoxon":
        return (f"Wilcoxon signed-rank W = {row['wilcoxon_w']:g}, {p}, Holm-adjusted; "
                f"rank-biserial r = {format_number(row['rank_biserial'])}")
    return (f"t({row['df']:.0f}) = {format_number(row['t'])}, {p}, Holm-adjusted; "
            f"d_z = {format_number(row['d_z'])}")


def _sentence(row, *, scale, population, alpha, min_cell=MIN_PRINTED_N):
    label, n = row["label"], int(row["n"])
    if row["primary_test"] not in ("paired t", "Wilcoxon"):
        why = row["note"] or "not tested"
        return "not tested", f"{label} was not tested: {why} ({_people(n, population, min_cell)})."
    level = f"{row['confidence'] * 100:g}% CI"
    change = (f"mean change {format_number(row['mean_diff'], sign=True)}, {level} "
              f"{format_number(row['ci_low'])} to {format_number(row['ci_high'])}")
    if row["primary_test"] == "Wilcoxon":
        change = f"median change {format_number(row['median_diff'], sign=True)}, {change}"
    stats = f"{change}; {_test_text(row)}"
    pre, post = format_number(row["mean_pre"]), format_number(row["mean_post"])
    if not row["p_primary_holm"] < alpha:
        return "no significant change", (
            f"{label} scores did not change significantly ({pre} before and {post} after"
            f"{scale}; {stats}), {_people(n, population, min_cell)}.")
    effect = row["rank_biserial"] if row["primary_test"] == "Wilcoxon" else row["mean_diff"]
    direction = "rose" if (effect if effect != 0 else row["mean_diff"]) > 0 else "fell"
    return direction, (f"{label} scores {direction} from {pre} to {post}{scale} ({stats}), "
                       f"{_people(n, population, min_cell)}.")


_RELIABLE = ("improved", "no_change", "deteriorated")


def _reliable_text(rc_row, min_cell=MIN_PRINTED_N):
    """The reliable-change sentence, with the table's disclosure control: a count of 1 to
    ``min_cell - 1`` reads "fewer than ...", and a further share is left out ("not shown") wherever
    the matched n and the other shares would give the small one away (complementary suppression)."""
    from .privacy import protect_cells

    if not isinstance(rc_row, pd.Series) or rc_row.get("note") or not rc_row["n"] > 0:
        return ""
    counts = {k: float(rc_row[k]) for k in _RELIABLE}
    if not all(np.isfinite(v) for v in counts.values()):
        return ""
    if rc_row["n"] < min_cell:  # the sentence before says "fewer than min_cell matched"
        return ""
    r = f"{rc_row['r_used']:.2f}".lstrip("0") if rc_row["r_used"] >= 0 else \
        format_number(rc_row["r_used"])
    # n is in the sentence before: n = improved + no change + deteriorated
    small, extra = protect_cells(counts, [(None, list(_RELIABLE))], min_cell=min_cell)
    parts = []
    for k in _RELIABLE:
        if k in small:
            parts.append(f"fewer than {min_cell} people")
        elif k in extra:
            parts.append("a number not shown")
        else:
            parts.append(f"{rc_row[f'{k}_pct']:.0f}%")
    text = (f" Reliable change (Jacobson{EN_DASH}Truax, r = {r}): "
            f"{parts[0]} improved, {parts[1]} did not change reliably, {parts[2]} deteriorated.")
    if extra:
        text = text[:-1] + " (not shown so that a small number cannot be worked out)."
    return text


def findings(outcomes, *, instrument=None, population="children", alpha=0.05,
             reliable_change=None, min_cell=5):
    """One plain-English sentence per measure from a :func:`evalkit.stats.paired_outcomes` table.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Output of :func:`evalkit.stats.paired_outcomes`.
    instrument : evalkit.data.cohort.Instrument, optional
        Gives the response scale ("on the 1–3 scale").
    population : str
        Plural noun for the people ("children", "facilitators").
    alpha : float
        Significance level applied to the Holm-adjusted p of the primary test.
    reliable_change : pandas.DataFrame, optional
        Output of :func:`evalkit.stats.reliable_change`; when given, a second
        sentence gives the percentages that reliably improved/deteriorated.
    min_cell : int, default 5
        The cohort's ``disclosure.min_cell``: counts below it are written as
        "fewer than {min_cell}", and reliable-change shares follow the tables'
        complementary suppression.

    Returns
    -------
    pandas.DataFrame
        One row per measure, same order as ``outcomes``:

        * ``measure``, ``label``.
        * ``direction``: ``"rose"``, ``"fell"``, ``"no significant change"`` or
          ``"not tested"``.
        * ``primary_test``: as in ``outcomes``.
        * ``p_reported``: the APA-formatted Holm-adjusted p of the primary test.
        * ``sentence``: the finding.

    Notes
    -----
    A change is reported as a rise or fall when the Holm-adjusted p of the
    primary test (``p_primary_holm``) is below ``alpha``; the direction is the
    sign of the mean change (paired t) or of the rank-biserial r (Wilcoxon).
    Means and effect sizes have 2 decimals, p values 3 (APA: no leading zero,
    "p < .001"). Counts below ``min_cell`` are written as "fewer than {min_cell}".
    "Did not change significantly" is used rather than "reliably" so as not to
    be confused with the Jacobson–Truax reliable change index.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.stats import paired_outcomes
    >>> g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> ids = [str(i) for i in range(1, 11)]
    >>> scores = pd.DataFrame({"id": ids * 2, "timepoint": ["pre"] * 10 + ["post"] * 10,
    ...                        "extra": g1 + g2})
    >>> out = paired_outcomes(scores, measures=["extra"], labels={"extra": "Extra sleep"},
    ...                       large_n=5)
    >>> print(findings(out, population="patients").loc[0, "sentence"])
    Extra sleep scores rose from 0.75 to 2.33 (mean change +1.58, 95% CI 0.70 to 2.46; t(9) = 4.06, p = .003, Holm-adjusted; d_z = 1.28), 10 matched patients.
    """
    scale = _scale(instrument)
    rc = reliable_change.set_index("measure") if reliable_change is not None else None
    rows = []
    for _, row in outcomes.iterrows():
        direction, text = _sentence(row, scale=scale, population=population, alpha=alpha,
                                    min_cell=min_cell)
        if rc is not None and row["measure"] in rc.index:
            text += _reliable_text(rc.loc[row["measure"]], min_cell)
        rows.append({"measure": row["measure"], "label": row["label"], "direction": direction,
                     "primary_test": row["primary_test"],
                     "p_reported": format_p(row["p_primary_holm"]), "sentence": text})
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)



#: ``direction`` of a follow-up finding (:func:`sustained`).
SUSTAINED_DIRECTIONS = ("sustained", "partly sustained", "not sustained", "later change",
                        "no significant change", "not tested")


def _tested(row):
    return isinstance(row, pd.Series) and row["primary_test"] in ("paired t", "Wilcoxon")


def _significant(row, alpha):
    """+1 / -1 for a significant rise / fall of the primary test (Holm-adjusted), 0 otherwise."""
    if not _tested(row) or not row["p_primary_holm"] < alpha:
        return 0
    effect = row["rank_biserial"] if row["primary_test"] == "Wilcoxon" else row["mean_diff"]
    effect = effect if np.isfinite(effect) and effect != 0 else row["mean_diff"]
    return 1 if effect > 0 else -1


def _follow_up_stats(row, since):
    """'mean change from before +0.30, 95% CI ..., p = .004' for a follow-up contrast row."""
    level = f"{row['confidence'] * 100:g}% CI"
    return (f"mean change since {since} {format_number(row['mean_diff'], sign=True)}, {level} "
            f"{format_number(row['ci_low'])} to {format_number(row['ci_high'])}; "
            f"{format_p(row['p_primary_holm'])} ({row['primary_test']})")


def _sustained_row(label, main, from_pre, from_post, *, population, alpha, min_cell):
    """(direction, sentence) of one measure at follow-up."""
    if not _tested(from_pre):
        why = from_pre["note"] if isinstance(from_pre, pd.Series) and from_pre["note"] else "no follow-up scores"
        n = int(from_pre["n"]) if isinstance(from_pre, pd.Series) else 0
        return "not tested", (f"{label} was not compared at follow-up: {why} "
                              f"({_people(n, population, min_cell)} at the start and at follow-up).")
    before, after = _significant(main, alpha), _significant(from_pre, alpha)
    people = _people(int(from_pre["n"]), population, min_cell)
    since_start = _follow_up_stats(from_pre, "the start")
    since_end = _follow_up_stats(from_post, "the end") if _tested(from_post) else ""
    family = "p values Holm-adjusted across the follow-up tests"
    if before == 0:
        if after == 0:
            return "no significant change", (
                f"At follow-up, {label} scores were still not significantly different from the start "
                f"({since_start}; {family}), {people}.")
        higher = "higher" if after > 0 else "lower"
        return "later change", (
            f"{label} scores did not change significantly by the end of the programme, but at follow-up they "
            f"were significantly {higher} than at the start ({since_start}; {family}), {people}.")
    higher = "higher" if before > 0 else "lower"
    if after != before:
        return "not sustained", (
            f"The change in {label} did not clearly last: at follow-up, scores were no longer significantly "
            f"{higher} than at the start ({since_start}; {family}), {people}.")
    back, since = ("fell", "fallen") if before > 0 else ("rose", "risen")
    if _significant(from_post, alpha) == -before:
        return "partly sustained", (
            f"The change in {label} partly lasted: at follow-up, scores were still {higher} than at the start, "
            f"but they {back} significantly after the end of the programme ({since_start}; {since_end}; "
            f"{family}), {people}.")
    tail = f"; {since_end}" if since_end else ""
    return "sustained", (
        f"The change in {label} lasted: at follow-up, scores were still significantly {higher} than at the "
        f"start, and they had not {since} significantly since the end of the programme ({since_start}{tail}; "
        f"{family}), {people}.")


def sustained(outcomes, *, instrument=None, population="children", alpha=0.05, min_cell=5):
    """One plain-English sentence per measure on whether the change lasted to the follow-up.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        An outcomes table with ``contrast``: the ``post-pre`` rows and the ``follow_up-pre`` and
        ``follow_up-post`` rows of :func:`evalkit.report.analysis.follow_up_outcomes`.
    instrument : evalkit.data.cohort.Instrument, optional
        Unused for now (the follow-up sentences give no scale); kept for the same call as :func:`findings`.
    population : str
    alpha : float
        Applied to ``p_primary_holm``: the post-pre family for the change over the programme, the
        follow-up family for the follow-up contrasts.
    min_cell : int
        Counts below it are written "fewer than {min_cell}".

    Returns
    -------
    pandas.DataFrame
        ``FINDINGS_COLUMNS``, one row per measure with follow-up rows; ``primary_test`` and
        ``p_reported`` are those of the ``follow_up-pre`` contrast. ``direction``:

        * ``sustained``: the change over the programme was significant, scores at follow-up were still
          significantly different from the start in the same direction, and they had not moved
          significantly back since the end;
        * ``partly sustained``: still different from the start, but significantly back since the end;
        * ``not sustained``: no longer significantly different from the start (in that direction);
        * ``later change``: no significant change by the end, a significant one by the follow-up;
        * ``no significant change``: neither;
        * ``not tested``: too few people at the start and at follow-up.

    Examples
    --------
    >>> import pandas as pd
    >>> base = {"measure": "m", "label": "Calm", "primary_test": "paired t", "confidence": 0.95, "note": "",
    ...         "rank_biserial": 0.5, "ci_low": 0.1, "ci_high": 0.5}
    >>> rows = [dict(base, contrast="post-pre", n=40, mean_diff=0.3, p_primary_holm=0.001),
    ...         dict(base, contrast="follow_up-pre", n=30, mean_diff=0.25, p_primary_holm=0.01),
    ...         dict(base, contrast="follow_up-post", n=30, mean_diff=-0.05, p_primary_holm=0.6,
    ...              ci_low=-0.2, ci_high=0.1)]
    >>> sustained(pd.DataFrame(rows)).loc[0, "direction"]
    'sustained'
    """
    if "contrast" not in outcomes:
        return pd.DataFrame(columns=FINDINGS_COLUMNS)
    by = {c: outcomes[outcomes["contrast"] == c].set_index("measure")
          for c in ("post-pre", "follow_up-pre", "follow_up-post")}
    rows = []
    for measure in by["follow_up-pre"].index:
        pick = {c: (t.loc[measure] if measure in t.index else None) for c, t in by.items()}
        label = pick["follow_up-pre"]["label"]
        direction, text = _sustained_row(label, pick["post-pre"], pick["follow_up-pre"], pick["follow_up-post"],
                                         population=population, alpha=alpha, min_cell=min_cell)
        row = pick["follow_up-pre"]
        rows.append({"measure": measure, "label": label, "direction": direction, "primary_test": row["primary_test"],
                     "p_reported": format_p(row["p_primary_holm"]), "sentence": text})
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)
