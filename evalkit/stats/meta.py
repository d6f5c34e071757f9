"""Sites pooled: random-effects meta-analysis of cohorts' effects (DerSimonian-Laird, optional Hartung-Knapp)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

POOLED_COLUMNS = [
    "measure", "effect", "k", "estimate", "ci_low", "ci_high", "tau2", "i2", "q", "q_p", "prediction_low",
    "prediction_high", "method",
]


def d_z_variance(d_z, n):
    """Sampling variance of a paired d_z: ``1 / n + d_z^2 / (2 n)``.

    Examples
    --------
    >>> round(d_z_variance(0.5, 50), 5)
    0.0225
    """
    return 1 / n + d_z ** 2 / (2 * n)


def random_effects(estimates, variances, *, hartung_knapp=False, confidence=0.95):
    """DerSimonian-Laird random-effects pooling of ``estimates`` with within-study ``variances``.

    Parameters
    ----------
    estimates, variances : array-like of float
        One per cohort.
    hartung_knapp : bool
        Use the Hartung-Knapp(-Sidik-Jonkman) interval (t on k - 1 df with the weighted residual
        variance) instead of the Wald z interval.
    confidence : float

    Returns
    -------
    dict
        ``k, estimate, se, ci_low, ci_high, tau2, i2`` (percent), ``q, q_p``, ``prediction_low``,
        ``prediction_high`` (t on k - 2 df, Higgins et al. 2009; NaN when k < 3) and ``method``.

    Notes
    -----
    ``Q = sum w_i (y_i - y_FE)^2`` with ``w_i = 1 / v_i``; ``tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))``;
    random-effects weights ``1 / (v_i + tau2)``; ``I2 = max(0, (Q - (k - 1)) / Q)``. The same as
    R's ``metafor::rma(yi, vi, method = "DL")`` and statsmodels' ``combine_effects(method_re="dl")``.

    Examples
    --------
    >>> res = random_effects([0.4, 0.6, 0.3], [0.02, 0.03, 0.025])
    >>> round(res["estimate"], 4), res["k"], round(res["tau2"], 4)
    (0.4216, 3, 0.0)
    """
    y = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    k = y.size
    z = stats.norm.ppf(0.5 + confidence / 2)
    w = 1 / v
    fixed = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - fixed) ** 2))
    c = np.sum(w) - np.sum(w ** 2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 and c > 0 else 0.0
    wr = 1 / (v + tau2)
    mu = float(np.sum(wr * y) / np.sum(wr))
    se = float(np.sqrt(1 / np.sum(wr)))
    method = "random effects, DerSimonian-Laird tau2, "
    if hartung_knapp and k > 1:
        se = float(np.sqrt(np.sum(wr * (y - mu) ** 2) / ((k - 1) * np.sum(wr))))
        crit = stats.t.ppf(0.5 + confidence / 2, k - 1)
        method += "Hartung-Knapp interval (t on k - 1 df)"
    else:
        crit = z
        method += "Wald z interval"
    out = {"k": k, "estimate": mu, "se": se, "ci_low": mu - crit * se, "ci_high": mu + crit * se, "tau2": tau2,
           "i2": 100 * max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0, "q": q,
           "q_p": float(stats.chi2.sf(q, k - 1)) if k > 1 else np.nan,
           "prediction_low": np.nan, "prediction_high": np.nan}
    if k >= 3:
        half = stats.t.ppf(0.5 + confidence / 2, k - 2) * np.sqrt(tau2 + 1 / np.sum(wr))
        out["prediction_low"], out["prediction_high"] = mu - half, mu + half
        method += "; prediction interval t on k - 2 df (Higgins et al. 2009)"
    out["method"] = method
    return out


def pool_cohorts(outcomes, *, hartung_knapp=False, confidence=0.95):
    """Pool the ``post-pre`` d_z and mean change of each measure over the cohorts that report it.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Rows of the cohorts' ``child_outcomes.csv``: ``cohort``, ``measure``, ``n``, ``d_z``,
        ``mean_diff``, ``sd_diff`` and optionally ``contrast`` (only ``post-pre`` rows are pooled).
    hartung_knapp : bool
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Columns ``POOLED_COLUMNS``, two rows (``effect`` = ``d_z`` and ``mean_change``) per measure
        present, with a finite value, in two or more cohorts. var(d_z) = 1/n + d_z^2/(2n);
        var(mean change) = sd_diff^2 / n.
    """
    data = outcomes
    if "contrast" in data:
        data = data[data["contrast"].fillna("post-pre") == "post-pre"]
    rows = []
    for measure, frame in data.groupby("measure", sort=False):
        frame = frame[(frame["n"] > 1) & np.isfinite(frame["d_z"].astype(float))]
        if frame["cohort"].nunique() < 2:
            continue
        n = frame["n"].to_numpy(dtype=float)
        effects = {"d_z": (frame["d_z"].to_numpy(dtype=float), d_z_variance(frame["d_z"].to_numpy(dtype=float), n)),
                   "mean_change": (frame["mean_diff"].to_numpy(dtype=float),
                                   frame["sd_diff"].to_numpy(dtype=float) ** 2 / n)}
        for effect, (y, v) in effects.items():
            res = random_effects(y, v, hartung_knapp=hartung_knapp, confidence=confidence)
            res.pop("se")
            rows.append({"measure": measure, "effect": effect, **res})
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)
