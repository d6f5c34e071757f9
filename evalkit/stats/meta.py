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


#: Per-cohort rows behind each pooled row (for forest plots): see :func:`cohort_effects`.
COHORT_EFFECT_COLUMNS = ["section", "measure", "effect", "cohort", "estimate", "variance", "ci_low", "ci_high",
                         "weight_pct"]


def _pooling_sets(outcomes):
    """``(section, measure, effect, cohorts, estimates, variances)`` for each pooled row, in table order.

    Only ``post-pre`` rows; a cohort enters an effect's pooling when its n (matched pairs) is above 1 and
    its estimate and variance are finite with the variance above 0; an effect is pooled when two or more
    cohorts enter it.
    """
    data = outcomes
    if "contrast" in data:
        data = data[data["contrast"].fillna("post-pre") == "post-pre"]
    data = data.assign(section=data["section"] if "section" in data else None)
    for (section, measure), frame in data.groupby(["section", "measure"], sort=False, dropna=False):
        n = pd.to_numeric(frame["n"], errors="coerce").to_numpy(dtype=float)
        d_z = pd.to_numeric(frame["d_z"], errors="coerce").to_numpy(dtype=float)
        mean = pd.to_numeric(frame["mean_diff"], errors="coerce").to_numpy(dtype=float)
        sd = pd.to_numeric(frame["sd_diff"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            effects = {"d_z": (d_z, d_z_variance(d_z, n)), "mean_change": (mean, sd ** 2 / n)}
        for effect, (y, v) in effects.items():
            keep = (n > 1) & np.isfinite(y) & np.isfinite(v) & (v > 0)
            cohorts = frame["cohort"].to_numpy()[keep]
            if len(set(cohorts)) < 2:
                continue
            yield section, measure, effect, cohorts, y[keep], v[keep]


def pool_cohorts(outcomes, *, hartung_knapp=False, confidence=0.95):
    """Pool the ``post-pre`` d_z and mean change of each measure over the cohorts that report it.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Rows of the cohorts' ``child_outcomes.csv`` (and ``facilitator_outcomes.csv``): ``cohort``,
        ``measure``, ``n`` (matched pairs), ``d_z``, ``mean_diff``, ``sd_diff``, optionally ``contrast``
        (only ``post-pre`` rows are pooled) and ``section`` (measures are pooled within their section:
        the same measure name in two sections is two measures).
    hartung_knapp : bool
        Hartung-Knapp interval instead of the Wald z interval (see :func:`random_effects`).
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Columns ``POOLED_COLUMNS`` (plus ``section`` when the input has it): two rows (``effect`` =
        ``d_z`` and ``mean_change``) per measure with a finite estimate and a positive variance in two or
        more cohorts; ``k`` is the number of cohorts pooled.

    Notes
    -----
    var(d_z) = 1/n + d_z^2/(2n) (:func:`d_z_variance`); var(mean change) = sd_diff^2 / n; each effect is
    pooled by :func:`random_effects` (DerSimonian-Laird).

    Examples
    --------
    >>> outcomes = pd.DataFrame({"cohort": ["a", "b", "c"], "measure": "m", "n": [40, 85, 26],
    ...                          "d_z": [0.42, 0.61, 0.28], "mean_diff": [0.2, 0.3, 0.1], "sd_diff": [0.5, 0.6, 0.4]})
    >>> pooled = pool_cohorts(outcomes)
    >>> pooled[["effect", "k"]].values.tolist(), round(float(pooled["estimate"].iloc[0]), 3)
    ([['d_z', 3], ['mean_change', 3]], 0.487)
    """
    rows = []
    for section, measure, effect, _, y, v in _pooling_sets(outcomes):
        res = random_effects(y, v, hartung_knapp=hartung_knapp, confidence=confidence)
        res.pop("se")
        rows.append({"measure": measure, "effect": effect, **res, "section": section})
    columns = POOLED_COLUMNS + (["section"] if "section" in outcomes else [])
    return pd.DataFrame(rows, columns=columns)


def cohort_effects(outcomes, *, confidence=0.95):
    """Each cohort's estimate behind :func:`pool_cohorts`, with its interval and random-effects weight.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        As :func:`pool_cohorts`.
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Columns ``COHORT_EFFECT_COLUMNS``: one row per cohort entering each pooled row; ``variance`` is the
        within-cohort variance pooled, ``ci_low``/``ci_high`` the Wald interval ``estimate -/+ z sqrt(variance)``
        (what a forest plot of the pooling shows; the cohort's own report gives its exact t interval), and
        ``weight_pct`` its share of the random-effects weights ``1 / (variance + tau2)``, in percent.

    Examples
    --------
    >>> outcomes = pd.DataFrame({"cohort": ["a", "b"], "measure": "m", "n": [40, 40], "d_z": [0.4, 0.4],
    ...                          "mean_diff": [0.2, 0.2], "sd_diff": [0.5, 0.5]})
    >>> cohort_effects(outcomes)["weight_pct"].tolist()
    [50.0, 50.0, 50.0, 50.0]
    """
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for section, measure, effect, cohorts, y, v in _pooling_sets(outcomes):
        tau2 = random_effects(y, v)["tau2"]
        w = 1 / (v + tau2)
        for cohort, yi, vi, wi in zip(cohorts, y, v, 100 * w / w.sum()):
            rows.append({"section": section, "measure": measure, "effect": effect, "cohort": cohort,
                         "estimate": yi, "variance": vi, "ci_low": yi - z * np.sqrt(vi),
                         "ci_high": yi + z * np.sqrt(vi), "weight_pct": wi})
    return pd.DataFrame(rows, columns=COHORT_EFFECT_COLUMNS)
