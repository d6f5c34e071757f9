"""Paired pre/post tests and effect sizes (t, Wilcoxon, d_z, g_av, Bayes factor) and their shared helpers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special
from scipy import stats as st

from ..errors import DataError

#: The two timepoints every analysis compares; direction is always post minus pre.
TIMEPOINTS = ("pre", "post")
#: Fewest matched pairs for which paired tests are computed.
MIN_PAIRS = 3
#: Largest n for which the Shapiro-Wilk test is computed (R's ``shapiro.test`` limit).
SHAPIRO_MAX_N = 5000
#: Scale of the Cauchy prior on effect size for the JZS Bayes factor (JASP's default).
CAUCHY_R = 0.707
#: Significant digits differences are rounded to before ranking (Wilcoxon), as R's
#: ``wilcox.test(..., digits.rank = 7)``: floating-point noise in mean scores (0.1 + 0.2 against
#: 0.3) must not break genuine ties. R's default (``digits.rank = Inf``) ranks that noise as
#: distinct values, and its help page recommends rounding.
RANK_DIGITS = 7
#: How the Wilcoxon test is computed, named wherever it is reported.
WILCOXON_LABEL = "as R's wilcox.test(..., digits.rank = 7)"

PAIRED_COLUMNS = [
    "measure", "label", "n", "mean_pre", "sd_pre", "mean_post", "sd_post",
    "mean_diff", "sd_diff", "median_diff", "ci_low", "ci_high", "t", "df", "p", "p_holm",
    "shapiro_p", "wilcoxon_w", "wilcoxon_p", "wilcoxon_p_holm", "wilcoxon_n_nonzero",
    "wilcoxon_method", "rank_biserial", "d_z", "d_z_ci_low", "d_z_ci_high", "d_av", "g_av",
    "g_av_ci_low", "g_av_ci_high", "bf10", "log_bf10", "primary_test", "p_primary",
    "p_primary_holm", "p_holm_method", "confidence", "note",
]


# ---------------------------------------------------------------------------
# Shared helpers (also used by moderators.py and reliability.py)
# ---------------------------------------------------------------------------

def _check_long(data, *, name="scores"):
    """Check that ``data`` is a long frame with ``id`` and ``timepoint`` columns.

    Raises
    ------
    DataError
        When ``data`` is not a DataFrame, a key column is missing, or a person
        has more than one row at the same timepoint.

    Returns
    -------
    tuple
        Codes of ``id`` and its distinct values, codes of ``timepoint`` and its
        distinct values (a list), both in order of appearance.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{name} must be a pandas DataFrame, not {type(data).__name__}",
                        expected="one row per person and timepoint")
    for col in ("id", "timepoint"):
        if col not in data.columns:
            raise DataError(f"{name} has no '{col}' column", column=col,
                            expected="columns 'id' and 'timepoint' ('pre'/'post')")
    # one integer key per (person, timepoint): counting keys finds repeats without hashing row pairs
    id_codes, id_values = pd.factorize(data["id"], use_na_sentinel=False)
    tp_codes, tp_values = pd.factorize(data["timepoint"], use_na_sentinel=False)
    key = id_codes.astype(np.int64) * max(len(tp_values), 1) + tp_codes
    dup = np.bincount(key, minlength=len(id_values) * len(tp_values))[key] > 1 if len(key) else key > 0
    if dup.any():
        example = data.loc[dup, ["id", "timepoint"]].astype(str).head(3)
        shown = ", ".join(f"{i}/{t}" for i, t in example.itertuples(index=False))
        raise DataError(f"{name} has more than one row for the same person and timepoint "
                        f"(e.g. {shown}); remove duplicates before analysis",
                        column="id", expected="one row per person and timepoint")
    return id_codes, id_values, tp_codes, list(tp_values)


def _numeric(series, column):
    """Return ``series`` as float, raising :class:`DataError` when it is not numeric."""
    try:
        return series.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"scores are not numeric ({exc})", column=column,
                        expected="float scores, NaN when not scorable") from exc


class _PrePost:
    """A long scores frame split once into aligned pre and post rows, for every statistic.

    ``pre`` and ``post`` are indexed by every id seen at either timepoint (sorted),
    NaN where absent, so ``~isnan(x) & ~isnan(y)`` selects the matched pairs of a
    measure. Numeric arrays of each measure and integer codes of each factor are
    built on first use and kept: :func:`evalkit.report.analysis.analyse_section` builds
    one split per section and hands it to every statistic (the public functions
    accept it in place of the frame), so that at 100,000 people the checks,
    index alignment and label hashing happen once rather than once per table.
    """

    def __init__(self, data, *, name="scores"):
        id_codes, id_values, tp_codes, tp_values = _check_long(data, name=name)
        is_tp = [tp_codes == (tp_values.index(t) if t in tp_values else -1) for t in ("pre", "post")]
        seen = np.zeros(len(id_values), dtype=bool)
        seen[id_codes[is_tp[0] | is_tp[1]]] = True
        ids = pd.Index(id_values[seen] if len(id_values) else id_values)
        position = np.full(len(id_values), -1, dtype=np.intp)  # id code -> position in the sorted ids
        if ids.is_monotonic_increasing:  # scores from the cleaning come sorted by id
            position[seen] = np.arange(len(ids))
        else:
            ids, order = ids.sort_values(return_indexer=True)
            position[np.flatnonzero(seen)[order]] = np.arange(len(ids))
        self.ids = ids
        self._data = data
        self._rows = []  # for pre and post: each id's row of ``data`` (-1 when absent)
        for mask in is_tp:
            row = np.full(len(ids), -1, dtype=np.intp)
            row[position[id_codes[mask]]] = np.flatnonzero(mask)
            self._rows.append(row)
        self.has_pre, self.has_post = self._rows[0] >= 0, self._rows[1] >= 0
        self.columns = {c for c in data.columns if c not in ("id", "timepoint")}
        self._measures, self._factors = {}, {}
        self.cache = {}  # results the statistics share (e.g. the moderator groups), by key

    @classmethod
    def of(cls, data, *, name="scores"):
        """``data`` itself when it is already split, else its split."""
        return data if isinstance(data, cls) else cls(data, name=name)

    def _aligned(self, values, which):
        """``values`` (one per row of the data) at each id's pre (0) or post (1) row, NaN where absent."""
        row = self._rows[which]
        has = row >= 0
        out = np.full(len(row), np.nan, dtype=float if values.dtype.kind == "f" else object)
        out[has] = values[row[has]]
        return out

    def measure(self, measure):
        """Pre and post scores of ``measure`` as float arrays (NaN where missing).

        Raises
        ------
        DataError
            When the column is not numeric.
        """
        if measure not in self._measures:
            values = _numeric(self._data[measure], measure).to_numpy()
            self._measures[measure] = (self._aligned(values, 0), self._aligned(values, 1))
        return self._measures[measure]

    def matched(self, measure):
        """Pre and post arrays of the people scored at both timepoints on ``measure``."""
        x, y = self.measure(measure)
        keep = ~np.isnan(x) & ~np.isnan(y)
        return x[keep], y[keep]

    def factor(self, factor):
        """Sorted distinct levels of ``factor`` (as str, from the pre row) and each id's
        code into them (-1 when missing), by one :func:`pandas.factorize`."""
        if factor not in self._factors:
            row = self._rows[0]
            where = np.flatnonzero(row >= 0)
            level = self._data[factor].iloc[row[where]]
            # the distinct values first, then their texts: str() once per level, not once per person
            found, uniques = pd.factorize(level, use_na_sentinel=True)
            text_code, levels = pd.factorize(pd.Series(uniques, dtype=object).astype(str).to_numpy(), sort=True)
            codes = np.full(len(row), -1, dtype=np.intp)
            codes[where] = np.append(text_code, -1)[found]
            self._factors[factor] = (np.asarray(levels, dtype=object), codes)
        return self._factors[factor]


def hedges_j(df):
    """Exact Hedges small-sample correction factor J(df).

    Parameters
    ----------
    df : float or array_like
        Degrees of freedom.

    Returns
    -------
    float or numpy.ndarray
        ``J = Gamma(df/2) / (sqrt(df/2) * Gamma((df-1)/2))``; NaN for ``df <= 1``.

    Notes
    -----
    The exact form (Hedges, 1981) is used rather than the approximation
    ``1 - 3 / (4 df - 1)`` (Lakens, 2013); they differ by less than 0.0001 once
    df >= 20.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect
    size and related estimators. Journal of Educational Statistics, 6(2), 107-128.

    Examples
    --------
    >>> round(float(hedges_j(9)), 4)
    0.9139
    """
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(df > 1, np.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)
                                      - 0.5 * np.log(np.where(df > 1, df, 2) / 2)), np.nan)
    return out[()] if out.ndim == 0 else out


def holm(pvals):
    """Holm (1979) step-down adjusted p-values, ignoring NaN.

    Parameters
    ----------
    pvals : array_like
        Unadjusted p-values of one family of tests. NaN entries (tests not
        computed) are left NaN and do not count towards the family size.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same order as ``pvals``.

    Notes
    -----
    With the m non-missing p-values sorted ascending, p_(1) <= ... <= p_(m),
    ``p_adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``; identical to R's
    ``p.adjust(p, "holm")`` and ``pingouin.multicomp(p, method="holm")``.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    Scandinavian Journal of Statistics, 6(2), 65-70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, np.nan]).round(2)
    array([0.03, 0.06, 0.06,  nan])
    """
    p = np.asarray(pvals, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def _ncp_interval(t, df, confidence):
    """Confidence limits of the noncentrality parameter of a t statistic.

    Finds ``ncp_low`` with ``P(T <= t | ncp_low) = 1 - a/2`` and ``ncp_high``
    with ``P(T <= t | ncp_high) = a/2`` (Steiger & Fouladi, 1997), by bracketing
    and Brent's method on the noncentral t CDF (``scipy.special.nctdtr``, which
    :func:`scipy.stats.nct.cdf` calls, without its per-call argument checks).
    """
    if not (np.isfinite(t) and df > 0):
        return np.nan, np.nan
    a = (1 - confidence) / 2
    spread = math.sqrt(1 + t * t / (2 * df))

    def root(target):
        def f(ncp):
            return special.nctdtr(df, ncp, t) - target  # what scipy.stats.nct.cdf computes
        for k in (2, 4, 8, 16, 32, 64):
            lo, hi = t - k * spread - 1, t + k * spread + 1
            flo, fhi = f(lo), f(hi)
            if np.isfinite(flo) and np.isfinite(fhi) and flo * fhi < 0:
                return optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500)
        return np.nan

    return root(1 - a), root(a)


def _log_jzs_bf10(t, n, r=CAUCHY_R):
    """Natural log of the one-sample/paired JZS Bayes factor, computed in log space.

    Same integral as :func:`pingouin.bayesfactor_ttest` (Rouder et al., 2009,
    eq. 1),

    ``BF10 = (1 + t^2/df)^((df+1)/2) * int_0^inf (1 + n g r^2)^(-1/2)
    (1 + t^2 / ((1 + n g r^2) df))^(-(df+1)/2) (2 pi)^(-1/2) g^(-3/2) e^(-1/(2g)) dg``,

    but integrated over ``u = log g`` after subtracting the maximum of the log
    integrand, so that it stays finite when ``|t|`` is very large.
    """
    df = n - 1

    def log_f(u):
        g = np.exp(u)
        a = 1 + n * g * r * r
        return (-0.5 * np.log(a) - (df + 1) / 2 * np.log1p(t * t / (a * df))
                - 0.5 * np.log(2 * np.pi) - 1.5 * u - 1 / (2 * g) + u)

    grid = np.linspace(-30, 30, 6001)
    vals = log_f(grid)
    top = grid[np.argmax(vals)]
    peak = vals.max()
    integral, _ = integrate.quad(lambda u: np.exp(log_f(u) - peak), top - 30, top + 30,
                                 points=[top], limit=200)
    return peak + math.log(integral) + (df + 1) / 2 * math.log1p(t * t / df)


def _bayes_factor(t, n):
    """JZS BF10 (Cauchy r = 0.707) and its natural log, from :func:`_log_jzs_bf10`.

    The integral is evaluated here rather than by :func:`pingouin.bayesfactor_ttest`
    (the reference it is tested against) so that analysis never imports pingouin,
    which takes about a second per process.
    """
    if not np.isfinite(t) or n < 2:
        return np.nan, np.nan
    log_bf = _log_jzs_bf10(float(t), int(n))
    return (math.exp(log_bf) if log_bf < 709 else np.inf), log_bf


def _signif(x, digits):
    """Round to ``digits`` significant digits, as R's ``signif`` (zeros and non-finite values unchanged).

    Examples
    --------
    >>> _signif(np.array([0.1 + 0.2, 123456789.0, -0.000123456789, 0.0]), 7).tolist()
    [0.3, 123456800.0, -0.0001234568, 0.0]
    """
    out = np.array(x, dtype=float, copy=True)
    ok = np.isfinite(out) & (out != 0)
    exponent = np.floor(np.log10(np.abs(out[ok])))
    scale = 10.0 ** (digits - 1 - exponent)
    out[ok] = np.round(out[ok] * scale) / scale
    return out


def _wilcoxon(diff):
    """Wilcoxon signed-rank test of ``diff`` reproducing R's ``wilcox.test(..., digits.rank = 7)``.

    Returns V (sum of ranks of positive differences), p, the number of nonzero
    differences, the method used and the matched-pairs rank-biserial r.
    """
    d = _signif(np.asarray(diff, dtype=float), RANK_DIGITS)
    nz = d[d != 0]
    n = nz.size
    if n == 0:
        return np.nan, np.nan, 0, "", np.nan
    # average ranks of |d| from the counts of its distinct values (scipy.stats.rankdata's 'average')
    values, inverse, counts = np.unique(np.abs(nz), return_inverse=True, return_counts=True)
    ranks = np.cumsum(counts) - (counts - 1) / 2
    v = float(ranks[inverse[nz > 0]].sum())
    total = n * (n + 1) / 2
    ties = values.size < n
    exact = n < 50 and not ties and nz.size == d.size
    if exact:
        p = float(st.wilcoxon(nz, zero_method="wilcox", method="exact").pvalue)
        method = f"exact, {WILCOXON_LABEL}"
    else:
        # R's normal approximation: z = (V - n(n+1)/4 - 0.5 sign) / sqrt(n(n+1)(2n+1)/24 - sum(t^3 - t)/48)
        centred = v - total / 2
        tied = counts.astype(float)
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - float((tied ** 3 - tied).sum()) / 48)
        z = (centred - 0.5 * np.sign(centred)) / sigma if sigma > 0 else np.nan
        p = float(2 * special.ndtr(-abs(z))) if sigma > 0 else np.nan
        method = f"normal approximation, continuity and tie corrected, {WILCOXON_LABEL}"
    rbc = (v - (total - v)) / total
    return v, p, n, method, rbc


def _empty_paired_row(measure, label, n, note):
    row = {c: np.nan for c in PAIRED_COLUMNS}
    row.update(measure=measure, label=label, n=n, primary_test="none", note=note,
               wilcoxon_method="", p_holm_method="holm")
    return row


def _paired_row(x, y, *, measure, label, alpha, confidence, large_n):
    """All paired statistics of one measure from matched pre (``x``) and post (``y``) arrays."""
    n = x.size
    if n == 0:
        return _empty_paired_row(measure, label, 0,
                                 "no matched pairs (nobody has both pre and post scores)")
    diff = y - x
    row = _empty_paired_row(measure, label, n, "")
    row.update(mean_pre=x.mean(), mean_post=y.mean(), mean_diff=diff.mean(),
               median_diff=float(np.median(diff)), confidence=confidence)
    if n < 2:
        row["note"] = f"fewer than {MIN_PAIRS} matched pairs: tests not computed"
        return row
    sd_pre, sd_post, sd_diff = x.std(ddof=1), y.std(ddof=1), diff.std(ddof=1)
    row.update(sd_pre=sd_pre, sd_post=sd_post, sd_diff=sd_diff)
    s_av = (sd_pre + sd_post) / 2
    j = float(hedges_j(n - 1))
    if s_av > 0:
        row.update(d_av=diff.mean() / s_av, g_av=j * diff.mean() / s_av)
    if n < MIN_PAIRS:
        row["note"] = f"fewer than {MIN_PAIRS} matched pairs: tests not computed"
        return row
    v, wp, n_nz, wmethod, rbc = _wilcoxon(diff)
    row.update(wilcoxon_w=v, wilcoxon_p=wp, wilcoxon_n_nonzero=n_nz, wilcoxon_method=wmethod,
               rank_biserial=rbc)
    if not sd_diff > 1e-12 * max(1.0, abs(diff.mean())):
        row.update(sd_diff=0.0, note="all differences are equal (zero variance of "
                   "differences): t test, Shapiro-Wilk and d_z are undefined")
        return row
    df = n - 1
    se = sd_diff / math.sqrt(n)
    t = diff.mean() / se
    tcrit = st.t.ppf(1 - (1 - confidence) / 2, df)
    lam_lo, lam_hi = _ncp_interval(t, df, confidence)
    bf, log_bf = _bayes_factor(t, n)
    row.update(ci_low=diff.mean() - tcrit * se, ci_high=diff.mean() + tcrit * se, t=t, df=df,
               p=2 * st.t.sf(abs(t), df), d_z=t / math.sqrt(n),
               d_z_ci_low=lam_lo / math.sqrt(n), d_z_ci_high=lam_hi / math.sqrt(n),
               bf10=bf, log_bf10=log_bf)
    if s_av > 0:
        scale = j * se / s_av
        row.update(g_av_ci_low=lam_lo * scale, g_av_ci_high=lam_hi * scale)
    notes = []
    if n <= SHAPIRO_MAX_N:
        row["shapiro_p"] = float(st.shapiro(diff).pvalue)
    else:
        notes.append(f"Shapiro-Wilk not computed for n > {SHAPIRO_MAX_N} (R's limit)")
    if n < large_n and row["shapiro_p"] < alpha:
        row["primary_test"] = "Wilcoxon"
        row["p_primary"] = wp
        notes.append(f"differences not normal (Shapiro-Wilk p < {alpha:g}) and n < {large_n}: "
                     "Wilcoxon signed-rank is the primary test")
    else:
        row["primary_test"] = "paired t"
        row["p_primary"] = row["p"]
    row["note"] = "; ".join(notes)
    return row


# ---------------------------------------------------------------------------
# Public statistics
# ---------------------------------------------------------------------------

def paired_outcomes(scores, *, measures, labels=None, alpha=0.05, confidence=0.95, large_n=30):
    """Paired pre/post comparison of each measure: t test, Wilcoxon, effect sizes, Bayes factor.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long frame, one row per person and timepoint: ``id``, ``timepoint``
        (``"pre"``/``"post"``) and one float column per measure (NaN = not scorable).
    measures : list of str
        Measure columns to analyse, in report order. One call is one family for
        the Holm adjustment (use one call per instrument).
    labels : dict, optional
        Measure id -> human label (defaults to the id).
    alpha : float
        Significance level of the Shapiro-Wilk check in the primary-test rule.
    confidence : float
        Confidence level of every interval (0.95 = 95%).
    large_n : int
        Matched pairs from which the paired t test stays primary whatever the
        Shapiro-Wilk result (central limit theorem).

    Returns
    -------
    pandas.DataFrame
        One row per measure, in the order of ``measures``:

        * ``measure``, ``label``: id and label.
        * ``n``: matched pairs (people with a pre and a post score on the measure).
        * ``mean_pre``, ``sd_pre``, ``mean_post``, ``sd_post``: descriptives of the
          matched pairs (SD with n - 1).
        * ``mean_diff``, ``sd_diff``, ``median_diff``: of ``post - pre``.
        * ``ci_low``, ``ci_high``: paired t confidence interval of ``mean_diff``.
        * ``t``, ``df``, ``p``: paired t test (two-sided), as R ``t.test(post, pre, paired = TRUE)``.
        * ``p_holm``: ``p`` Holm-adjusted across the measures of this call.
        * ``shapiro_p``: Shapiro-Wilk p of the differences (NaN when n > 5000).
        * ``wilcoxon_w``: V, the sum of the ranks of the positive differences
          (R ``wilcox.test(post, pre, paired = TRUE)$statistic``, JASP/jamovi "W").
          SciPy/pingouin report ``min(V, n(n+1)/2 - V)`` instead.
        * ``wilcoxon_p``, ``wilcoxon_p_holm``: two-sided p and its Holm adjustment.
        * ``wilcoxon_n_nonzero``: differences left after dropping zeros.
        * ``wilcoxon_method``: ``"exact"`` or the normal approximation used.
        * ``rank_biserial``: matched-pairs rank-biserial r = (R+ - R-) / (R+ + R-),
          zeros dropped (Kerby, 2014; pingouin ``RBC``). Positive = scores rose.
        * ``d_z``, ``d_z_ci_low``, ``d_z_ci_high``: ``mean_diff / sd_diff`` and its
          noncentral-t interval.
        * ``d_av``: ``mean_diff / ((sd_pre + sd_post) / 2)``.
        * ``g_av``, ``g_av_ci_low``, ``g_av_ci_high``: ``d_av`` times Hedges' J(n - 1),
          with an approximate noncentral-t interval (see Notes).
        * ``bf10``, ``log_bf10``: JZS Bayes factor for a difference (Cauchy prior
          r = 0.707, as JASP) and its natural log.
        * ``primary_test``: ``"paired t"``, ``"Wilcoxon"`` or ``"none"`` (not tested).
        * ``p_primary``, ``p_primary_holm``: p of the primary test and its Holm
          adjustment across measures: the p to report.
        * ``p_holm_method``: ``"holm"``.
        * ``confidence``: confidence level of the intervals.
        * ``note``: why statistics are missing, or why the Wilcoxon test is primary.

    Notes
    -----
    Only matched pairs count; people missing either score are left out of that
    measure only. With ``D = post - pre``, ``t = mean(D) / (sd(D) / sqrt(n))`` on
    ``n - 1`` df, and the interval is ``mean(D) ± t_{1-a/2, n-1} sd(D)/sqrt(n)``.

    *Primary test rule*: the paired t test is primary unless ``n < large_n``
    (30) **and** the Shapiro-Wilk test of ``D`` gives ``p < alpha``; then the
    Wilcoxon signed-rank test is primary. Fewer than 3 pairs, or differences with
    zero variance, give ``"none"`` and NaN statistics with a note, never an error.

    *Wilcoxon*: differences are rounded to 10 decimals (so that floating-point
    noise in mean scores does not break ties), zero differences are dropped
    (``zero_method="wilcox"``, as R), and :func:`scipy.stats.wilcoxon` is called
    exactly as R's defaults: the exact distribution when fewer than 50 nonzero
    differences and no ties or zeros, otherwise the normal approximation with
    continuity correction and tie-corrected variance.

    *d_z interval*: limits of the noncentrality parameter ``lambda`` of the
    noncentral t distribution for which the observed t is the 1 - a/2 and a/2
    quantile (Steiger & Fouladi, 1997), divided by ``sqrt(n)``.

    *g_av interval*: Algina & Keselman (2003) approximation as used in ESCI
    (Cumming, 2012): the same ``lambda`` limits times ``sd(D) / (sqrt(n) s_av)``
    with ``s_av = (sd_pre + sd_post) / 2``, then times ``J(n - 1)`` where
    ``J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``.

    *Bayes factor*: the JZS integral of Rouder et al. (2009, eq. 1) that
    :func:`pingouin.bayesfactor_ttest` and JASP evaluate, integrated here over
    ``log g`` in log space (agrees with pingouin to 1e-9 on the log scale, see
    the tests, and stays finite where pingouin overflows; ``bf10`` is ``inf``
    beyond ``exp(709)``, ``log_bf10`` stays finite).

    References
    ----------
    Algina, J., & Keselman, H. J. (2003). Approximate confidence intervals for
    effect sizes. Educational and Psychological Measurement, 63(4), 537-553.

    Cumming, G. (2012). Understanding the new statistics. Routledge.

    Kerby, D. S. (2014). The simple difference formula: an approach to teaching
    nonparametric correlation. Comprehensive Psychology, 3, 11.IT.3.1.

    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate
    cumulative science. Frontiers in Psychology, 4, 863.

    Rouder, J. N., et al. (2009). Bayesian t tests for accepting and rejecting
    the null hypothesis. Psychonomic Bulletin & Review, 16(2), 225-237.

    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval estimation
    and the evaluation of statistical models. In What if there were no
    significance tests? (pp. 221-257). Erlbaum.

    Examples
    --------
    R's ``sleep`` data, drug 2 as "pre" and drug 1 as "post":

    >>> import pandas as pd
    >>> g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> ids = [str(i) for i in range(1, 11)]
    >>> scores = pd.DataFrame({"id": ids * 2, "timepoint": ["pre"] * 10 + ["post"] * 10,
    ...                        "extra": g2 + g1})
    >>> res = paired_outcomes(scores, measures=["extra"])
    >>> res[["n", "mean_diff", "ci_low", "ci_high", "t", "df", "p"]].round(4)
        n  mean_diff  ci_low  ci_high       t   df       p
    0  10      -1.58 -2.4599  -0.7001 -4.0621  9.0  0.0028
    >>> res[["shapiro_p", "wilcoxon_w", "wilcoxon_p", "d_z"]].round(4)
       shapiro_p  wilcoxon_w  wilcoxon_p     d_z
    0     0.0333         0.0      0.0091 -1.2846
    >>> res.loc[0, "primary_test"]  # n < 30 and Shapiro-Wilk p < .05
    'Wilcoxon'
    """
    split = _PrePost.of(scores)
    labels = labels or {}
    rows = []
    for m in measures:
        label = labels.get(m, m)
        if m not in split.columns:
            rows.append(_empty_paired_row(m, label, 0, f"no column '{m}' in the scores"))
            continue
        x, y = split.matched(m)
        rows.append(_paired_row(x, y, measure=m, label=label, alpha=alpha,
                                confidence=confidence, large_n=large_n))
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    out["p_holm"] = holm(out["p"])
    out["wilcoxon_p_holm"] = holm(out["wilcoxon_p"])
    out["p_primary_holm"] = holm(out["p_primary"])
    out["n"] = out["n"].astype(int)
    out["df"] = out["df"].astype(float)
    out["wilcoxon_n_nonzero"] = out["wilcoxon_n_nonzero"].astype("Int64")
    out["confidence"] = confidence
    return out
