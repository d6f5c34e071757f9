"""Internal consistency of each measure: Cronbach's alpha (Feldt CI), McDonald's omega, item statistics."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as st

from .stats import _check_long

RELIABILITY_COLUMNS = [
    "instrument", "measure", "timepoint", "n_items", "n", "alpha", "alpha_ci_low",
    "alpha_ci_high", "omega", "confidence", "note",
]
ITEM_STATISTICS_COLUMNS = [
    "instrument", "measure", "timepoint", "item", "n", "mean", "sd", "item_rest_r",
    "alpha_if_dropped", "note",
]
#: Lower bound of a standardized uniqueness in the one-factor fit (as R's ``factanal``).
MIN_UNIQUENESS = 0.005


def measure_items(instrument, measure, available=None):
    """Item ids of one measure, in form order, restricted to ``available`` columns.

    Parameters
    ----------
    instrument : evalkit.cohort.Instrument
    measure : str
        A subscale id or the total's id (a total without its own item list uses
        every item of the instrument).
    available : iterable of str, optional
        Columns present in the data.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from evalkit.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=3, labels={}, scoring="mean",
    ...                   min_answered=1, subscales=(Subscale("a", "A", ("i1", "i2")),
    ...                   Subscale("b", "B", ("i3",))), total=Subscale("total", "Total", ()))
    >>> measure_items(inst, "total", ["i1", "i3"])
    ['i1', 'i3']
    """
    sub = instrument.measure(measure)
    ids = list(sub.items) or list(instrument.items)
    if available is not None:
        available = set(available)
        ids = [i for i in ids if i in available]
    return ids


def _alpha(cov):
    """Cronbach's alpha from an item covariance matrix."""
    k = cov.shape[0]
    total = cov.sum()
    if k < 2 or not total > 0:
        return np.nan
    return k / (k - 1) * (1 - np.trace(cov) / total)


def _feldt(alpha, n, k, confidence):
    """Feldt (1987) interval of alpha, as :func:`pingouin.cronbach_alpha` (unrounded)."""
    a = 1 - confidence
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return (1 - (1 - alpha) * st.f.isf(a / 2, df1, df2),
            1 - (1 - alpha) * st.f.isf(1 - a / 2, df1, df2))


def _one_factor_ml(corr):
    """Maximum-likelihood one-factor fit of a correlation matrix (R ``factanal`` objective).

    Returns standardized loadings, uniquenesses and a status string
    (``"ok"``, ``"heywood"`` or a failure reason).
    """
    p = corr.shape[0]
    try:
        start = (1 - 0.5 / p) / np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        return None, None, "item correlation matrix is singular"

    def parts(psi):
        sc = 1 / np.sqrt(psi)
        vals, vecs = np.linalg.eigh(corr * np.outer(sc, sc))
        return vals[::-1], vecs[:, ::-1]

    def objective(psi):
        e = parts(psi)[0][1:]
        return -(np.sum(np.log(e) - e) - 1 + p)

    def gradient(psi):
        vals, vecs = parts(psi)
        load = np.sqrt(psi) * vecs[:, 0] * np.sqrt(max(vals[0] - 1, 0))
        g = np.outer(load, load) + np.diag(psi) - corr
        return np.diag(g) / psi ** 2

    start = np.clip(start, MIN_UNIQUENESS, 1)
    res = optimize.minimize(objective, start, jac=gradient, method="L-BFGS-B",
                            bounds=[(MIN_UNIQUENESS, 1)] * p,
                            options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9})
    psi = res.x
    if not np.all(np.isfinite(psi)):
        return None, None, f"one-factor model did not converge ({res.message})"
    # L-BFGS-B can stop with an "abnormal" line search at an exact optimum (e.g. a
    # just-identified 3-item model, objective 0): accept when the projected gradient is ~0
    g = gradient(psi)
    free = ~(((psi <= MIN_UNIQUENESS) & (g > 0)) | ((psi >= 1) & (g < 0)))
    if not res.success and np.max(np.abs(g[free]), initial=0) > 1e-6:
        return None, None, f"one-factor model did not converge ({res.message})"
    vals, vecs = parts(psi)
    load = np.sqrt(psi) * vecs[:, 0] * np.sqrt(max(vals[0] - 1, 0))
    load = load if load.sum() >= 0 else -load
    status = "heywood" if np.any(psi <= MIN_UNIQUENESS * 1.0001) else "ok"
    return load, psi, status


def _omega(cov, n):
    """McDonald's omega total of the unweighted sum, one-factor ML model; (omega, note)."""
    k = cov.shape[0]
    if k < 3:
        return np.nan, "omega needs at least 3 items"
    if n <= k:
        return np.nan, "omega needs more respondents than items"
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        return np.nan, "an item has no variance: omega not estimable"
    load, psi, status = _one_factor_ml(cov / np.outer(sd, sd))
    if load is None:
        return np.nan, status
    lam, theta = load * sd, psi * sd ** 2
    common = lam.sum() ** 2
    note = "Heywood case (a uniqueness at its lower bound): interpret omega with care" \
        if status == "heywood" else ""
    return common / (common + theta.sum()), note


def _complete(items, timepoint, cols):
    """Listwise-complete answers of ``cols`` at ``timepoint`` as a float array."""
    rows = items.loc[items["timepoint"] == timepoint, cols].astype(float)
    return rows.dropna(axis=0, how="any").to_numpy()


def reliability(items, *, instrument, measures=None, timepoints=("pre", "post"), confidence=0.95):
    """Cronbach's alpha with its Feldt interval and McDonald's omega, per measure and timepoint.

    Parameters
    ----------
    items : pandas.DataFrame
        Long item answers: ``id``, ``timepoint``, one float column per item,
        reverse items already reversed.
    instrument : evalkit.cohort.Instrument
        Maps each measure to its items.
    measures : list of str, optional
        Measures to report (default: all the instrument's measures).
    timepoints : tuple of str
        Timepoints to report, in order.
    confidence : float
        Level of the alpha interval.

    Returns
    -------
    pandas.DataFrame
        One row per measure x timepoint (measures outer, in given order):

        * ``instrument``: instrument id; ``measure``; ``timepoint``.
        * ``n_items``: items of the measure present in ``items``.
        * ``n``: respondents who answered every one of them (listwise).
        * ``alpha``: Cronbach's alpha; ``alpha_ci_low``, ``alpha_ci_high``: Feldt interval.
        * ``omega``: McDonald's omega total from a one-factor ML model.
        * ``confidence``: level of the interval.
        * ``note``: why a value is missing, or a warning.

    Notes
    -----
    *Missing answers*: listwise deletion per measure and timepoint (respondents
    with any missing item of that measure are left out), as
    ``pingouin.cronbach_alpha(nan_policy="listwise")`` and R
    ``psych::alpha(use = "complete.obs")``. pingouin's default is pairwise.

    ``alpha = k / (k - 1) (1 - sum(s_i^2) / s_total^2)``; interval
    ``1 - (1 - alpha) F_{a/2 | 1-a/2}(n - 1, (n - 1)(k - 1))`` (Feldt et al., 1987),
    with ``n`` the respondents actually analysed (complete cases). pingouin
    rounds the interval to 3 decimals and, with ``nan_policy="listwise"``,
    uses the row count *before* deletion, so its interval differs when
    answers are missing; alpha itself is identical.

    *Omega*: a one-factor model is fitted by maximum likelihood to the item
    correlation matrix (the objective and start values of R ``factanal``,
    uniquenesses bounded below by 0.005, L-BFGS-B), loadings and uniquenesses
    are rescaled to the item SDs, and ``omega = (sum lambda)^2 / ((sum lambda)^2 +
    sum theta)`` (McDonald, 1999), the model-implied reliability of the
    unweighted sum (and mean) score. NaN with a note with fewer than 3 items,
    fewer respondents than items + 1, or no convergence.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of
    tests. Psychometrika, 16(3), 297-334.

    Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference
    for coefficient alpha. Applied Psychological Measurement, 11(1), 93-103.

    McDonald, R. P. (1999). Test theory: a unified treatment. Erlbaum.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=5, labels={}, scoring="mean",
    ...                   min_answered=1, subscales=(Subscale("s", "S", ("i1", "i2", "i3")),))
    >>> items = pd.DataFrame({"id": list("abcdefgh"), "timepoint": "pre",
    ...                       "i1": [4, 4, 3, 1, 4, 4, 2, 4.0], "i2": [4, 3, 4, 1, 4, 1, 2, 5.0],
    ...                       "i3": [3, 4, 3, 1, 5, 2, 3, 3.0]})
    >>> reliability(items, instrument=inst, timepoints=("pre",))[["n", "alpha", "omega"]].round(3)
       n  alpha  omega
    0  8  0.813  0.819
    """
    _check_long(items, name="items")
    measures = list(instrument.measures if measures is None else measures)
    rows = []
    for m in measures:
        try:
            cols = measure_items(instrument, m, items.columns)
        except KeyError:
            cols = []
        for tp in timepoints:
            row = {"instrument": instrument.id, "measure": m, "timepoint": tp,
                   "n_items": len(cols), "n": 0, "alpha": np.nan, "alpha_ci_low": np.nan,
                   "alpha_ci_high": np.nan, "omega": np.nan, "confidence": confidence,
                   "note": ""}
            rows.append(row)
            if len(cols) < 2:
                row["note"] = "fewer than 2 items in the data"
                continue
            x = _complete(items, tp, cols)
            row["n"] = x.shape[0]
            if x.shape[0] < 2:
                row["note"] = "fewer than 2 respondents answered every item"
                continue
            cov = np.cov(x, rowvar=False)
            row["alpha"] = _alpha(cov)
            if not np.isfinite(row["alpha"]):
                row["note"] = "no variance in the total score: alpha undefined"
                continue
            row["alpha_ci_low"], row["alpha_ci_high"] = _feldt(row["alpha"], x.shape[0],
                                                               len(cols), confidence)
            row["omega"], row["note"] = _omega(cov, x.shape[0])
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["n_items"] = out["n_items"].astype(int)
    return out


def item_statistics(items, *, instrument, measures=None, timepoints=("pre",)):
    """Item-rest correlation and alpha-if-item-dropped of every item of every measure.

    Parameters
    ----------
    items : pandas.DataFrame
        Long item answers (keyed), as :func:`reliability`.
    instrument : evalkit.cohort.Instrument
    measures : list of str, optional
        Measures to report (default: the instrument's subscales; the total is
        left out unless named, since its items repeat the subscales').
    timepoints : tuple of str
        Timepoints to report.

    Returns
    -------
    pandas.DataFrame
        One row per measure x timepoint x item (form order):

        * ``instrument``, ``measure``, ``timepoint``, ``item``.
        * ``n``: listwise-complete respondents for the measure.
        * ``mean``, ``sd``: of the keyed item.
        * ``item_rest_r``: Pearson correlation of the item with the sum of the
          measure's other items (corrected item-total correlation).
        * ``alpha_if_dropped``: Cronbach's alpha of the other items.
        * ``note``: why values are missing.

    Notes
    -----
    Same listwise deletion as :func:`reliability`. From the item covariance
    matrix C: ``cov(item_i, rest) = sum_j C_ij - C_ii``,
    ``var(rest) = sum(C) - 2 sum_j C_ij + C_ii``. Matches the "r.drop" and
    "raw_alpha" columns of R ``psych::alpha(..., use = "complete.obs")$item.stats``
    and ``$alpha.drop``.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=5, labels={}, scoring="mean",
    ...                   min_answered=1, subscales=(Subscale("s", "S", ("i1", "i2", "i3")),))
    >>> items = pd.DataFrame({"id": list("abcdefgh"), "timepoint": "pre",
    ...                       "i1": [4, 4, 3, 1, 4, 4, 2, 4.0], "i2": [4, 3, 4, 1, 4, 1, 2, 5.0],
    ...                       "i3": [3, 4, 3, 1, 5, 2, 3, 3.0]})
    >>> item_statistics(items, instrument=inst)[["item", "item_rest_r", "alpha_if_dropped"]].round(3)
      item  item_rest_r  alpha_if_dropped
    0   i1        0.651             0.762
    1   i2        0.668             0.762
    2   i3        0.704             0.709
    """
    _check_long(items, name="items")
    if measures is None:
        measures = [s.id for s in instrument.subscales]
    rows = []
    for m in measures:
        cols = measure_items(instrument, m, items.columns)
        for tp in timepoints:
            x = _complete(items, tp, cols) if cols else np.empty((0, 0))
            n, k = x.shape[0], len(cols)
            base = {"instrument": instrument.id, "measure": m, "timepoint": tp}
            if k < 2 or n < 2:
                note = "fewer than 2 items in the data" if k < 2 else \
                    "fewer than 2 respondents answered every item"
                rows.extend(base | {"item": i, "n": n, "mean": np.nan, "sd": np.nan,
                                    "item_rest_r": np.nan, "alpha_if_dropped": np.nan,
                                    "note": note} for i in cols)
                continue
            cov = np.cov(x, rowvar=False)
            var = np.diag(cov)
            rowsum = cov.sum(axis=1)
            rest_var = cov.sum() - 2 * rowsum + var
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (rowsum - var) / np.sqrt(var * rest_var)
                drop = np.where(k - 1 >= 2,
                                (k - 1) / max(k - 2, 1) * (1 - (var.sum() - var) / rest_var),
                                np.nan)
            means = x.mean(axis=0)
            for j, i in enumerate(cols):
                rows.append(base | {"item": i, "n": n, "mean": means[j], "sd": np.sqrt(var[j]),
                                    "item_rest_r": r[j], "alpha_if_dropped": drop[j],
                                    "note": "" if k > 2 else
                                    "alpha if dropped needs at least 3 items"})
    out = pd.DataFrame(rows, columns=ITEM_STATISTICS_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out
