"""Does change differ between groups? Mixed ANOVA (time x factor), ANCOVA and group means."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from .errors import DataError
from .stats import _check_long, _numeric, _pre_post

MODERATOR_COLUMNS = [
    "measure", "factor", "source", "ss", "F", "df1", "df2", "p", "np2", "ss_type", "n",
    "n_groups", "groups", "note",
]
ANCOVA_COLUMNS = MODERATOR_COLUMNS
GROUP_MEANS_COLUMNS = [
    "measure", "factor", "level", "timepoint", "n", "mean", "sd", "se", "ci_low", "ci_high",
]


def _split(scores, measures, factors):
    """Pre and post frames (aligned on id) holding every measure and factor column present."""
    _check_long(scores)
    return _pre_post(scores, [*measures, *factors])


def _groups(pre, post, measure, factor, min_group_n):
    """Matched pre/post arrays and group labels after dropping missing and small groups.

    ``pre``/``post`` come from :func:`_split`. Returns ``(x, y, labels, notes)``;
    the factor value comes from the pre row.
    """
    if factor not in pre.columns:
        return None, None, None, [f"no column '{factor}' in the scores"]
    if measure not in pre.columns:
        return None, None, None, [f"no column '{measure}' in the scores"]
    x, y = _numeric(pre[measure], measure), _numeric(post[measure], measure)
    level = pre[factor]
    both = x.notna() & y.notna()
    notes = []
    if (both & level.isna()).any():
        notes.append(f"people with no '{factor}' value left out")
    keep = both & level.notna()
    level = level[keep].astype(str)
    sizes = level.value_counts().sort_index()
    small = sizes[sizes < min_group_n].index.tolist()
    if small:
        shown = ", ".join(f"'{g}'" for g in small)
        notes.append(f"group(s) {shown} left out (fewer than {min_group_n} matched pairs)")
        keep = keep & ~pre[factor].astype(str).isin(small)
        level = level[~level.isin(small)]
    return x[keep].to_numpy(), y[keep].to_numpy(), level.to_numpy(), notes


def _codes(labels):
    """Sorted distinct labels and each element's code (hash-based, fast for many rows)."""
    codes, levels = pd.factorize(labels, sort=True)
    return np.asarray(levels, dtype=object), codes


def _skip_row(measure, factor, note, ss_type):
    row = {c: np.nan for c in MODERATOR_COLUMNS}
    row.update(measure=measure, factor=factor, source=factor, ss_type=ss_type, n=0, n_groups=0,
               groups="", note=note)
    return row


def _mixed_rows(x, y, labels, *, measure, factor, ss_type, note):
    """Mixed ANOVA rows (factor, time, interaction) for two timepoints."""
    levels, g = _codes(labels)
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
    p = st.f.sf(f, df1, df_err)
    groups = "; ".join(levels)
    return [{"measure": measure, "factor": factor, "source": src, "ss": ss[i], "F": f[i],
             "df1": df1[i], "df2": float(df_err), "p": p[i], "np2": np2[i], "ss_type": ss_type,
             "n": n, "n_groups": k, "groups": groups, "note": note}
            for i, src in enumerate((factor, "time", "interaction"))]


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

    References
    ----------
    Maxwell, S. E., Delaney, H. D., & Kelley, K. (2018). Designing experiments
    and analyzing data (3rd ed.), ch. 12. Routledge.

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
    pre, post = _split(scores, measures, factors)
    rows = []
    for m in measures:
        for fac in factors:
            x, y, labels, notes = _groups(pre, post, m, fac, min_group_n)
            note = "; ".join(notes)
            if x is None or pd.unique(labels).size < 2:
                why = note if x is None else "; ".join(
                    notes + [f"fewer than 2 '{fac}' groups left: not tested"])
                rows.append(_skip_row(m, fac, why, ss_type))
                continue
            rows.extend(_mixed_rows(x, y, labels, measure=m, factor=fac, ss_type=ss_type,
                                    note=note))
    out = pd.DataFrame(rows, columns=MODERATOR_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["n_groups"] = out["n_groups"].astype(int)
    return out


def _sse(design, target):
    beta, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ beta
    return float(resid @ resid)


def _ancova_rows(x, y, labels, *, measure, factor, note):
    """ANCOVA ``post ~ pre + factor`` rows (factor, pre) by nested least squares."""
    levels, g = _codes(labels)
    k, n = levels.size, x.size
    ones = np.ones((n, 1))
    dummies = (g[:, None] == np.arange(1, k)[None, :]).astype(float)
    full = np.hstack([ones, x[:, None], dummies])
    sse_full = _sse(full, y)
    ss_factor = _sse(np.hstack([ones, x[:, None]]), y) - sse_full
    ss_pre = _sse(np.hstack([ones, dummies]), y) - sse_full
    df_err = n - k - 1
    out = []
    for src, ss, df1 in ((factor, ss_factor, k - 1), ("pre", ss_pre, 1)):
        with np.errstate(invalid="ignore", divide="ignore"):
            f = (ss / df1) / (sse_full / df_err) if df_err > 0 else np.nan
            np2 = ss / (ss + sse_full)
        out.append({"measure": measure, "factor": factor, "source": src, "ss": ss, "F": f,
                    "df1": float(df1), "df2": float(df_err),
                    "p": float(st.f.sf(f, df1, df_err)) if df_err > 0 else np.nan,
                    "np2": np2, "ss_type": "II", "n": n, "n_groups": k,
                    "groups": "; ".join(levels), "note": note})
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
        df1, df2, p, np2, ss_type, n, n_groups, groups, note``.

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
    pre, post = _split(scores, measures, factors)
    rows = []
    for m in measures:
        for fac in factors:
            x, y, labels, notes = _groups(pre, post, m, fac, min_group_n)
            note = "; ".join(notes)
            if x is None or pd.unique(labels).size < 2:
                why = note if x is None else "; ".join(
                    notes + [f"fewer than 2 '{fac}' groups left: not tested"])
                rows.append(_skip_row(m, fac, why, "II"))
                continue
            rows.extend(_ancova_rows(x, y, labels, measure=m, factor=fac, note=note))
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
    pre, post = _split(scores, [measure], [factor])
    x, y, labels, _ = _groups(pre, post, measure, factor, min_group_n)
    if x is None:
        return pd.DataFrame(columns=GROUP_MEANS_COLUMNS)
    long = pd.DataFrame({"level": np.concatenate([labels, labels]),
                         "timepoint": ["pre"] * x.size + ["post"] * y.size,
                         "value": np.concatenate([x, y])})
    agg = long.groupby(["level", "timepoint"], sort=False)["value"].agg(["size", "mean", "std"])
    index = pd.MultiIndex.from_product([sorted(set(labels)), ["pre", "post"]],
                                       names=["level", "timepoint"])
    out = agg.reindex(index).reset_index().rename(columns={"size": "n", "std": "sd"})
    out["se"] = out["sd"] / np.sqrt(out["n"])
    with np.errstate(invalid="ignore"):
        tcrit = st.t.ppf(1 - (1 - confidence) / 2, out["n"] - 1)
    out["ci_low"] = out["mean"] - tcrit * out["se"]
    out["ci_high"] = out["mean"] + tcrit * out["se"]
    out["measure"], out["factor"] = measure, factor
    out["n"] = out["n"].astype(int)
    return out[GROUP_MEANS_COLUMNS]
