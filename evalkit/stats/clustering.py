"""Children in groups: ICC(1), design effect, effective n and the cluster-robust (CR1) interval of a mean change."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

CLUSTERING_COLUMNS = [
    "measure", "level", "n", "n_clusters", "mean_cluster_size", "icc", "design_effect", "effective_n",
    "mean_change", "naive_ci_low", "naive_ci_high", "robust_ci_low", "robust_ci_high", "width_ratio", "note",
]
#: Fewest people for which the clustering summary is computed.
MIN_PEOPLE = 3


def _cluster_codes(values):
    """Integer cluster codes; a missing value is a cluster of its own (a child seen one-to-one)."""
    values = pd.Series(values).reset_index(drop=True)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    lone = codes < 0
    if lone.any():
        codes[lone] = codes.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    return codes


def icc1(values, clusters):
    """ICC(1) of ``values`` by ``clusters`` from a one-way ANOVA, with unequal cluster sizes.

    Parameters
    ----------
    values : array-like of float
        One value per person (for example the change post - pre).
    clusters : array-like
        Cluster of each person; a missing cluster is a cluster of one.

    Returns
    -------
    tuple of float
        ``(icc, msb, msw, n0)``; ``icc`` is NaN when it is not estimable (fewer than 2
        clusters, or no within-cluster degrees of freedom). It may be negative.

    Notes
    -----
    ``icc = (MSB - MSW) / (MSB + (n0 - 1) MSW)`` with
    ``n0 = (N - sum(n_j^2) / N) / (k - 1)`` (Donner, 1986).

    Examples
    --------
    >>> round(icc1([1, 2, 3, 4, 5, 6], ["a", "a", "b", "b", "c", "c"])[0], 4)
    0.8824
    """
    y = np.asarray(values, dtype=float)
    g = _cluster_codes(clusters)
    n, k = y.size, int(g.max(initial=-1)) + 1
    if k < 2 or n - k < 1:
        return np.nan, np.nan, np.nan, np.nan
    n_j = np.bincount(g, minlength=k).astype(float)
    mean_j = np.bincount(g, weights=y, minlength=k) / n_j
    ssb = float(np.sum(n_j * (mean_j - y.mean()) ** 2))
    ssw = float(np.sum((y - mean_j[g]) ** 2))
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - np.sum(n_j ** 2) / n) / (k - 1)
    denominator = msb + (n0 - 1) * msw
    icc = (msb - msw) / denominator if denominator > 0 else np.nan
    return float(icc), msb, msw, float(n0)


def cr1_se_of_mean(values, clusters):
    """Cluster-robust (CR1) standard error of the mean of ``values``.

    ``SE = sqrt(k / (k - 1) * sum_j (sum_{i in j} (y_i - mean y))^2) / N``; for an intercept-only
    model this is statsmodels' ``cov_type="cluster"`` error, whose small-sample factor
    ``G / (G - 1) * (N - 1) / (N - K)`` reduces to ``k / (k - 1)`` when K = 1.

    Examples
    --------
    >>> round(cr1_se_of_mean([1, 2, 3, 4, 5, 6], ["a", "a", "b", "b", "c", "c"]), 4)
    1.1547
    """
    y = np.asarray(values, dtype=float)
    g = _cluster_codes(clusters)
    n, k = y.size, int(g.max(initial=-1)) + 1
    if k < 2:
        return np.nan
    sums = np.bincount(g, weights=y - y.mean(), minlength=k)
    return float(np.sqrt(k / (k - 1) * np.sum(sums ** 2)) / n)


def clustering(changes, *, measures, levels, confidence=0.95):
    """How much children's outcomes cluster by group, facilitator or site, and what that does to precision.

    Parameters
    ----------
    changes : pandas.DataFrame
        One row per matched person: the change (post - pre) of each measure in ``measures``, and
        one column per level in ``levels`` holding the person's cluster (blank: a cluster of one).
    measures : list of str
        Change columns to summarise.
    levels : list of str
        Cluster columns (``group``, ``facilitator``, ``site``), one row of output each.
    confidence : float
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per measure and level, columns ``CLUSTERING_COLUMNS``:

        * ``n``, ``n_clusters``, ``mean_cluster_size`` (N / k);
        * ``icc``: ICC(1) of the changes (:func:`icc1`); a negative estimate is shown as 0 with a note,
          and 0 is what the design effect uses;
        * ``design_effect`` = 1 + (N / k - 1) * icc and ``effective_n`` = N / design_effect;
        * ``naive_ci_low``/``naive_ci_high``: the paired-t interval of the mean change, treating
          children as independent;
        * ``robust_ci_low``/``robust_ci_high``: mean ± t(k - 1) * CR1 SE (:func:`cr1_se_of_mean`);
        * ``width_ratio``: robust width / naive width (above 1: the naive interval was too narrow).

    Examples
    --------
    >>> import pandas as pd
    >>> changes = pd.DataFrame({"m": [1.0, 2, 3, 4, 5, 6, 2, 3], "group": list("aabbccdd")})
    >>> clustering(changes, measures=["m"], levels=["group"])[["n_clusters", "icc", "design_effect"]].round(3)
       n_clusters    icc  design_effect
    0           4  0.842          1.842
    """
    rows = []
    for m in measures:
        for level in levels:
            frame = changes[[m, level]].dropna(subset=[m]) if level in changes else changes[[m]].dropna()
            y = frame[m].to_numpy(dtype=float)
            n = y.size
            row = dict.fromkeys(CLUSTERING_COLUMNS, np.nan) | {"measure": m, "level": level, "n": n, "note": ""}
            rows.append(row)
            if level not in changes:
                row["note"] = f"no {level} column in the data"
                continue
            if n < MIN_PEOPLE:
                row["note"] = f"fewer than {MIN_PEOPLE} people with a change score"
                continue
            codes = _cluster_codes(frame[level])
            k = int(codes.max()) + 1
            row.update(n_clusters=k, mean_cluster_size=n / k, mean_change=float(y.mean()))
            tcrit_naive = st.t.ppf(0.5 + confidence / 2, n - 1)
            se_naive = y.std(ddof=1) / np.sqrt(n)
            row.update(naive_ci_low=y.mean() - tcrit_naive * se_naive, naive_ci_high=y.mean() + tcrit_naive * se_naive)
            if k < 2 or k == n:
                row["note"] = ("every person is in one cluster" if k < 2 else
                               "every person is a cluster of their own: no clustering to estimate")
                if k == n:
                    row.update(icc=0.0, design_effect=1.0, effective_n=float(n))
                continue
            icc, *_ = icc1(y, codes)
            notes = []
            if not np.isfinite(icc):
                notes.append("ICC not estimable (no variance in the changes)")
                used = 0.0
            elif icc < 0:
                notes.append(f"the ICC estimate was negative ({icc:.3f}); shown and used as 0")
                used = 0.0
            else:
                used = icc
            deff = 1 + (n / k - 1) * used
            se = cr1_se_of_mean(y, codes)
            tcrit = st.t.ppf(0.5 + confidence / 2, k - 1)
            row.update(icc=used, design_effect=deff, effective_n=n / deff,
                       robust_ci_low=y.mean() - tcrit * se, robust_ci_high=y.mean() + tcrit * se)
            naive_width = row["naive_ci_high"] - row["naive_ci_low"]
            row["width_ratio"] = (2 * tcrit * se) / naive_width if naive_width > 0 else np.nan
            row["note"] = "; ".join(notes)
    out = pd.DataFrame(rows, columns=CLUSTERING_COLUMNS)
    for c in ("n",):
        out[c] = out[c].astype(int)
    out["n_clusters"] = out["n_clusters"].astype("Int64")
    return out
