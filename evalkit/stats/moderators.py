"""Does change differ between groups? Mixed ANOVA (time x factor), ANCOVA and group means."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from ..errors import DataError
from .paired import _PrePost, holm

ANCOVA_COLUMNS = [
    "measure", "factor", "source", "ss", "F", "df1", "df2", "p", "np2", "ss_type", "n",
    "n_groups", "groups", "note",
]
#: The ANCOVA columns and ``p_holm_family``: the interaction p Holm-adjusted across every moderator test.
MODERATOR_COLUMNS = [*ANCOVA_COLUMNS, "p_holm_family"]
GROUP_MEANS_COLUMNS = [
    "measure", "factor", "level", "timepoint", "n", "mean", "sd", "se", "ci_low", "ci_high",
]


def _groups(split, measure, factor, min_group_n):
    """Matched pre/post arrays and group codes after dropping missing and small groups.

    ``split`` is a :class:`evalkit.stats._PrePost`; the factor value comes from
    the pre row. Returns ``(x, y, levels, codes, notes)``: ``levels`` are the
    groups kept (sorted as strings) and ``codes`` index them; ``x`` is None when
    a column is missing. Factors are coded once per split, so each measure x
    factor combination is pure numpy.
    """
    key = ("groups", measure, factor, min_group_n)
    if key not in split.cache:  # moderators and ancova ask for the same groups
        split.cache[key] = _find_groups(split, measure, factor, min_group_n)
    x, y, levels, codes, notes = split.cache[key]
    return x, y, levels, codes, list(notes)


def _find_groups(split, measure, factor, min_group_n):
    if factor not in split.columns:
        return None, None, None, None, [f"no column '{factor}' in the scores"]
    if measure not in split.columns:
        return None, None, None, None, [f"no column '{measure}' in the scores"]
    x, y = split.measure(measure)
    levels, codes = split.factor(factor)
    both = ~np.isnan(x) & ~np.isnan(y)
    notes = []
    if (both & (codes < 0)).any():
        notes.append(f"people with no '{factor}' value left out")
    keep = both & (codes >= 0)
    sizes = np.bincount(codes[keep], minlength=levels.size)
    small = (sizes > 0) & (sizes < min_group_n)
    if small.any():
        shown = ", ".join(f"'{g}'" for g in levels[small])
        notes.append(f"group(s) {shown} left out (fewer than {min_group_n} matched pairs)")
    kept = sizes >= max(min_group_n, 1)
    keep &= kept[np.maximum(codes, 0)]
    renumber = np.cumsum(kept) - 1
    return x[keep], y[keep], levels[kept], renumber[codes[keep]], notes


def _skip_row(measure, factor, note, ss_type):
    row = {c: np.nan for c in ANCOVA_COLUMNS}
    row.update(measure=measure, factor=factor, source=factor, ss_type=ss_type, n=0, n_groups=0,
               groups="", note=note)
    return row


def _mixed_rows(x, y, levels, g, *, measure, factor, ss_type, note):
    """Mixed ANOVA rows (factor, time, interaction) for two timepoints; ``g`` codes ``levels``."""
    k, n = levels.size, x.size
    n_g = np.bincount(g, minlength=k).astype(float)
    d = y - x
    s = (x + y) / 2
    d_g = np.bincount(g, weights=d, minlength=k) / n_g
    s_g = np.bincount(g, weights=s, minlength=k) / n_g
    ss_between = 2 * np.sum(n_g * (s_g - s.mean()) ** 2)
    ss_between_err = 2 * np.sum((s - s_g[g]) ** 2)
    ss_within_err = np.sum((d - d_g[g]) ** 2) / 2
    ss_inter = np.sum(n_g * (d_g - d.mean()) ** 2) / 2
    if ss_type == "II":
        ss_time = n * d.mean() ** 2 / 2
    else:  # type III: unweighted mean of the group mean changes
        ss_time = d_g.mean() ** 2 / (np.sum(1 / n_g) / k ** 2) / 2
    df_err = n - k
    ss = np.array([ss_between, ss_time, ss_inter])
    df1 = np.array([k - 1, 1, k - 1], dtype=float)
    err = np.array([ss_between_err, ss_within_err, ss_within_err])
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (ss / df1) / (err / df_err)
        np2 = ss / (ss + err)
    # An error sum of squares that is rounding noise (every change equal within its group, say)
    # leaves F undefined rather than infinite.
    flat = err <= _RESIDUAL_EPS * max(float(np.sum((d - d.mean()) ** 2) + np.sum((s - s.mean()) ** 2)), 1e-300)
    f = np.where(flat, np.nan, f)
    p = st.f.sf(f, df1, df_err)
    groups = "; ".join(levels)
    return [{"measure": measure, "factor": factor, "source": src, "ss": ss[i], "F": f[i],
             "df1": df1[i], "df2": float(df_err), "p": p[i], "np2": np2[i], "ss_type": ss_type,
             "n": n, "n_groups": k, "groups": groups,
             "note": _join_notes(note, _NO_RESIDUAL if flat[i] else "")}
            for i, src in enumerate((factor, "time", "interaction"))]


#: Relative size below which an error sum of squares counts as zero.
_RESIDUAL_EPS = 1e-12
_NO_RESIDUAL = "no residual variance (the scores fit exactly): F and p undefined"


def _join_notes(*notes):
    return "; ".join(n for n in notes if n)


def _check_ss_type(ss_type):
    if ss_type not in ("II", "III"):
        raise DataError(f"ss_type must be 'II' or 'III', not {ss_type!r}", column="ss_type",
                        expected="'II' or 'III'")


def moderators(scores, *, measures, factors, min_group_n=10, ss_type="III"):
    """Time x factor mixed ANOVA of each measure on matched pairs.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint``, factor columns, measure columns.
    measures : list of str
        Measures to analyse.
    factors : list of str
        Between-person factors (e.g. ``delivery``, ``age_band``, ``site``).
    min_group_n : int
        Groups with fewer matched pairs are left out (named in ``note``, their
        size is never printed).
    ss_type : {"III", "II"}
        Sums of squares. ``"III"`` (default) matches JASP, jamovi and SPSS
        defaults; ``"II"`` matches :func:`pingouin.mixed_anova`. Only the
        ``time`` row differs, and only when group sizes differ.

    Returns
    -------
    pandas.DataFrame
        Three rows per measure x factor (``source`` = the factor name, ``"time"``,
        ``"interaction"``), or one row with NaN and a ``note`` when the factor
        is skipped:

        * ``measure``, ``factor``, ``source``.
        * ``ss``: sum of squares; ``F``; ``df1``, ``df2``: numerator and error df.
        * ``p``: uncorrected p (with two timepoints sphericity holds trivially).
        * ``np2``: partial eta squared ``ss / (ss + ss_error)``.
        * ``ss_type``: ``"III"`` or ``"II"``.
        * ``n``: matched pairs analysed; ``n_groups``; ``groups``: levels analysed.
        * ``note``: groups or people left out, or why the factor was skipped.
        * ``p_holm_family``: on ``interaction`` rows, ``p`` Holm-adjusted across
          every interaction test of the table (the family of moderator tests,
          :func:`interaction_holm`); NaN on other rows.

    Notes
    -----
    With ``D = post - pre`` and ``S = (pre + post) / 2`` per person, ``k`` groups
    and ``N`` people (group factor taken from the pre row):

    * factor: one-way ANOVA of ``S``, ``SS = 2 sum_g n_g (S_g - S)^2``,
      error ``2 sum (S_i - S_g)^2`` on ``N - k`` df;
    * interaction: ``SS = sum_g n_g (D_g - D)^2 / 2``, error
      ``SS_w = sum (D_i - D_g)^2 / 2`` on ``N - k`` df, so F equals the one-way
      ANOVA F of the change scores across groups;
    * time: type II ``SS = N D^2 / 2``; type III ``SS = (mean_g D_g)^2 /
      (sum_g 1/n_g / k^2) / 2``; error ``SS_w``.

    These are the sums of squares of :func:`pingouin.mixed_anova` (type II,
    checked in the tests) and of JASP/jamovi/SPSS (type III), computed in closed
    form so that 100,000 people take milliseconds. A factor with fewer than 2
    groups left is skipped with a note.

    Moderator analyses are exploratory: every measure x factor pair is a test,
    so ``p_holm_family`` corrects the interaction p values for their number.

    References
    ----------
    Maxwell, S. E., Delaney, H. D., & Kelley, K. (2018). Designing experiments
    and analyzing data (3rd ed.), ch. 12. Routledge.

    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    Scandinavian Journal of Statistics, 6(2), 65-70.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": [str(i) for i in range(6)] * 2,
    ...     "timepoint": ["pre"] * 6 + ["post"] * 6,
    ...     "site": ["a", "a", "a", "b", "b", "b"] * 2,
    ...     "m": [1.0, 2.0, 1.5, 2.0, 2.5, 1.0, 2.0, 2.5, 2.5, 2.0, 2.5, 1.5]})
    >>> moderators(scores, measures=["m"], factors=["site"], min_group_n=3)[
    ...     ["source", "F", "df1", "df2", "p"]].round(3)
            source     F  df1  df2      p
    0         site   0.0  1.0  4.0  1.000
    1         time  18.0  1.0  4.0  0.013
    2  interaction   8.0  1.0  4.0  0.047
    """
    _check_ss_type(ss_type)
    split = _PrePost.of(scores)
    rows = []
    for m in measures:
        for fac in factors:
            x, y, levels, g, notes = _groups(split, m, fac, min_group_n)
            note = "; ".join(notes)
            if x is None or levels.size < 2:
                why = note if x is None else "; ".join(
                    notes + [f"fewer than 2 '{fac}' groups left: not tested"])
                rows.append(_skip_row(m, fac, why, ss_type))
                continue
            rows.extend(_mixed_rows(x, y, levels, g, measure=m, factor=fac, ss_type=ss_type,
                                    note=note))
    out = pd.DataFrame(rows, columns=ANCOVA_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["n_groups"] = out["n_groups"].astype(int)
    out["p_holm_family"] = interaction_holm(out)
    return out


def interaction_holm(table):
    """The interaction p values of a moderators table, Holm-adjusted across all of them.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`moderators` (``source`` and ``p`` columns).

    Returns
    -------
    pandas.Series
        Same index as ``table``: on ``source == "interaction"`` rows with a p
        value, that p Holm-adjusted across every such row (the family of
        moderator tests); NaN on the other rows (factor and time effects,
        skipped factors), which do not count towards the family size.

    Notes
    -----
    The number of tests in the family, ``m``, is the number of interaction
    rows with a p value: every measure x factor pair that could be tested.
    See :func:`evalkit.stats.holm` for the adjustment.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": ["site", "time", "interaction"] * 2 + ["site"],
    ...                   "p": [0.5, 0.001, 0.01, 0.2, 0.001, 0.04, float("nan")]})
    >>> interaction_holm(t).round(3).tolist()
    [nan, nan, 0.02, nan, nan, 0.04, nan]
    """
    family = (table["source"] == "interaction").to_numpy()
    out = np.full(len(table), np.nan)
    out[family] = holm(table["p"].to_numpy(dtype=float)[family])
    return pd.Series(out, index=table.index, name="p_holm_family")


def _ancova_sse(x, y, g, k):
    """Residual sums of squares of ``y ~ 1 + x + group``, ``y ~ 1 + x`` and ``y ~ group``.

    Closed forms of the three least-squares fits: with sums of squares and
    cross-products of deviations from the group means (within, ``w``) or from
    the grand means (total, ``t``), ``SSE(x + group) = Syy_w - Sxy_w^2 / Sxx_w``,
    ``SSE(x) = Syy_t - Sxy_t^2 / Sxx_t`` and ``SSE(group) = Syy_w``. A slope
    that cannot be estimated (``Sxx = 0``) explains nothing, as the
    minimum-norm least-squares solution.
    """
    n_g = np.bincount(g, minlength=k).astype(float)
    dx = x - (np.bincount(g, weights=x, minlength=k) / n_g)[g]
    dy = y - (np.bincount(g, weights=y, minlength=k) / n_g)[g]
    tx, ty = x - x.mean(), y - y.mean()

    def dot(a, b):  # pairwise-summed numpy, not BLAS ddot: no thread start-up per call
        return float(np.sum(a * b))

    scale = 1e-20 * dot(x, x)  # below this, Sxx is rounding noise of a constant x

    def sse(sxx, sxy, syy):
        return syy - sxy * sxy / sxx if sxx > scale else syy

    syy_w = dot(dy, dy)
    full = sse(dot(dx, dx), dot(dx, dy), syy_w)
    pre_only = sse(dot(tx, tx), dot(tx, ty), dot(ty, ty))
    return max(full, 0.0), max(pre_only, 0.0), syy_w


def _ancova_rows(x, y, levels, g, *, measure, factor, note):
    """ANCOVA ``post ~ pre + factor`` rows (factor, pre) from nested least-squares fits."""
    k, n = levels.size, x.size
    sse_full, sse_pre, sse_group = _ancova_sse(x, y, g, k)
    ss_factor = sse_pre - sse_full
    ss_pre = sse_group - sse_full
    df_err = n - k - 1
    flat = sse_full <= _RESIDUAL_EPS * max(float(np.sum((y - y.mean()) ** 2)), 1e-300)
    out = []
    for src, ss, df1 in ((factor, ss_factor, k - 1), ("pre", ss_pre, 1)):
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.float64(ss / df1) / np.float64(sse_full / df_err) if df_err > 0 and not flat else np.nan
            np2 = np.float64(ss) / np.float64(ss + sse_full) if ss + sse_full > 0 else np.nan
        out.append({"measure": measure, "factor": factor, "source": src, "ss": ss, "F": f,
                    "df1": float(df1), "df2": float(df_err),
                    "p": float(st.f.sf(f, df1, df_err)) if df_err > 0 and not flat else np.nan,
                    "np2": np2, "ss_type": "II", "n": n, "n_groups": k,
                    "groups": "; ".join(levels), "note": _join_notes(note, _NO_RESIDUAL if flat else "")})
    return out


def ancova(scores, *, measures, factors, min_group_n=10):
    """ANCOVA of post scores on group, adjusting for pre scores (``post ~ pre + factor``).

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint``, factor columns, measure columns.
    measures : list of str
        Measures to analyse.
    factors : list of str
        Between-person factors, analysed one at a time.
    min_group_n : int
        Groups with fewer matched pairs are left out (named in ``note``).

    Returns
    -------
    pandas.DataFrame
        Two rows per measure x factor (``source`` = the factor name, then
        ``"pre"``, the covariate), or one NaN row with a ``note`` when skipped;
        same columns as :func:`moderators`: ``measure, factor, source, ss, F,
        df1, df2, p, np2, ss_type, n, n_groups, groups, note`` (without its
        ``p_holm_family``).

    Notes
    -----
    Each term's sum of squares is the increase in residual SS when it is
    removed from the full model ``post = b0 + b1 pre + group dummies`` (type II;
    identical to type III here because the model has no interaction), error
    df ``N - k - 1``, ``np2 = ss / (ss + SSE_full)``. Same numbers as
    :func:`pingouin.ancova` and ``statsmodels`` ``anova_lm(typ=2)`` (checked
    in the tests) and JASP/jamovi ANCOVA; computed with least squares so that
    large cohorts stay fast. Homogeneity of regression slopes is assumed,
    not tested.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": [str(i) for i in range(6)] * 2,
    ...     "timepoint": ["pre"] * 6 + ["post"] * 6,
    ...     "site": ["a", "a", "a", "b", "b", "b"] * 2,
    ...     "m": [1.0, 2.0, 1.5, 2.0, 2.5, 1.0, 2.0, 2.5, 2.5, 2.0, 2.5, 1.5]})
    >>> ancova(scores, measures=["m"], factors=["site"], min_group_n=3)[
    ...     ["source", "F", "df1", "df2", "p"]].round(3)
      source       F  df1  df2      p
    0   site  17.455  1.0  3.0  0.025
    1    pre  27.000  1.0  3.0  0.014
    """
    split = _PrePost.of(scores)
    rows = []
    for m in measures:
        for fac in factors:
            x, y, levels, g, notes = _groups(split, m, fac, min_group_n)
            note = "; ".join(notes)
            if x is None or levels.size < 2:
                why = note if x is None else "; ".join(
                    notes + [f"fewer than 2 '{fac}' groups left: not tested"])
                rows.append(_skip_row(m, fac, why, "II"))
                continue
            rows.extend(_ancova_rows(x, y, levels, g, measure=m, factor=fac, note=note))
    out = pd.DataFrame(rows, columns=ANCOVA_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["n_groups"] = out["n_groups"].astype(int)
    return out


def group_means(scores, *, measure, factor, min_group_n=1, confidence=0.95):
    """Mean score of each group at each timepoint, matched pairs only (for interaction plots).

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores.
    measure : str
        Measure column.
    factor : str
        Factor column (value from the pre row).
    min_group_n : int
        Groups with fewer matched pairs are left out.
    confidence : float
        Level of the t interval of each mean.

    Returns
    -------
    pandas.DataFrame
        One row per level (sorted) x timepoint (pre, post): ``measure``,
        ``factor``, ``level``, ``timepoint``, ``n``, ``mean``, ``sd`` (n - 1),
        ``se``, ``ci_low``, ``ci_high`` (``mean ± t_{1-a/2, n-1} se``).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": [str(i) for i in range(6)] * 2,
    ...     "timepoint": ["pre"] * 6 + ["post"] * 6,
    ...     "site": ["a", "a", "a", "b", "b", "b"] * 2,
    ...     "m": [1.0, 2.0, 1.5, 2.0, 2.5, 1.0, 2.0, 2.5, 2.5, 2.0, 2.5, 1.5]})
    >>> group_means(scores, measure="m", factor="site")[["level", "timepoint", "n", "mean"]].round(3)
      level timepoint  n   mean
    0     a       pre  3  1.500
    1     a      post  3  2.333
    2     b       pre  3  1.833
    3     b      post  3  2.000
    """
    x, y, levels, g, _ = _groups(_PrePost.of(scores), measure, factor,
                                 min_group_n)
    if x is None:
        return pd.DataFrame(columns=GROUP_MEANS_COLUMNS)
    k = levels.size
    n_g = np.bincount(g, minlength=k).astype(float)
    stats = []
    for v in (x, y):
        mean = np.bincount(g, weights=v, minlength=k) / n_g
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.bincount(g, weights=(v - mean[g]) ** 2, minlength=k) / (n_g - 1)
        stats.append((mean, np.where(n_g > 1, np.sqrt(var), np.nan)))
    # rows: each level (sorted) at pre, then at post
    out = pd.DataFrame({"level": np.repeat(levels, 2), "timepoint": np.tile(["pre", "post"], k),
                        "n": np.repeat(n_g, 2),
                        "mean": np.column_stack([stats[0][0], stats[1][0]]).ravel(),
                        "sd": np.column_stack([stats[0][1], stats[1][1]]).ravel()})
    out["se"] = out["sd"] / np.sqrt(out["n"])
    with np.errstate(invalid="ignore"):
        tcrit = st.t.ppf(1 - (1 - confidence) / 2, out["n"] - 1)
    out["ci_low"] = out["mean"] - tcrit * out["se"]
    out["ci_high"] = out["mean"] + tcrit * out["se"]
    out["measure"], out["factor"] = measure, factor
    out["n"] = out["n"].astype(int)
    return out[GROUP_MEANS_COLUMNS]
