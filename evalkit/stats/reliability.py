"""Internal consistency of each measure: Cronbach's alpha (Feldt CI), McDonald's omega, item statistics."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from .paired import _check_long

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
    instrument : evalkit.data.cohort.Instrument
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
    >>> from evalkit.data.cohort import Instrument, Subscale
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


def _fit_parts(corr, psi):
    """Scaled matrix ``Psi^-1/2 R Psi^-1/2`` with its eigenvalues and vectors, largest first."""
    sc = 1 / np.sqrt(psi)
    scaled = corr * np.outer(sc, sc)
    vals, vecs = np.linalg.eigh(scaled)
    return scaled, vals[::-1], vecs[:, ::-1]


def _ml_objective(vals):
    """R ``factanal``'s one-factor ML discrepancy from the eigenvalues of the scaled matrix."""
    e = vals[1:]
    return -(np.sum(np.log(e) - e) - 1 + vals.size)


def _ml_gradient_hessian(corr, psi, scaled, vals, vecs):
    """Analytic gradient and Hessian of :func:`_ml_objective` with respect to the uniquenesses.

    With ``R_ii = 1`` the objective is ``sum(log psi) + sum(1 / psi) + log e1 - e1``
    plus a constant, ``e1`` the largest eigenvalue of ``A = Psi^-1/2 R Psi^-1/2``
    (eigenvector ``v``). ``d e1 / d psi_i = -e1 v_i^2 / psi_i``; the second
    derivatives of ``e1`` follow from eigenvalue perturbation theory,
    ``v' A_ij v + 2 sum_k (u_k' A_i v)(u_k' A_j v) / (e1 - e_k)``.
    """
    e1, v, others, u = vals[0], vecs[:, 0], vals[1:], vecs[:, 1:]
    grad = (max(e1 - 1, 0) * v ** 2 + 1 - 1 / psi) / psi  # factanal's gradient (FAgr)
    c = -0.5 / psi
    cv = c * v
    with np.errstate(divide="ignore"):
        w = (e1 + others) ** 2 / (e1 - others)
    hess_e1 = (np.outer(cv, cv) * (2 * scaled + 2 * (u * w) @ u.T)
               + np.diag(6 * c ** 2 * e1 * v ** 2))
    de1 = -e1 * v ** 2 / psi
    hess = (np.diag(-1 / psi ** 2 + 2 / psi ** 3) - np.outer(de1, de1) / e1 ** 2
            + (1 / e1 - 1) * hess_e1)
    return grad, hess


def _one_factor_ml(corr, *, max_iter=100):
    """Maximum-likelihood one-factor fit of a correlation matrix (R ``factanal`` objective).

    Projected Newton method (Bertsekas, 1982) on the uniquenesses, bounded to
    ``[MIN_UNIQUENESS, 1]``, with the analytic Hessian and an Armijo line
    search along the projection arc, from ``factanal``'s start values. It
    reaches the optimum of ``factanal``'s L-BFGS-B in 5-20 iterations of
    small dense algebra (L-BFGS-B took hundreds of BLAS calls, which thread
    badly on shared machines).

    Returns standardized loadings, uniquenesses and a status string
    (``"ok"``, ``"heywood"`` or a failure reason).
    """
    p = corr.shape[0]
    try:
        start = (1 - 0.5 / p) / np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        return None, None, "item correlation matrix is singular"
    lo, hi = MIN_UNIQUENESS, 1.0
    psi = np.clip(start, lo, hi)
    scaled, vals, vecs = _fit_parts(corr, psi)
    f = _ml_objective(vals)
    if not np.isfinite(f):
        return None, None, "one-factor model did not converge (objective not finite at the start)"
    message = f"no convergence in {max_iter} iterations"
    for _ in range(max_iter):
        grad, hess = _ml_gradient_hessian(corr, psi, scaled, vals, vecs)
        proj = np.clip(psi - grad, lo, hi) - psi
        if np.max(np.abs(proj)) < 1e-10:
            message = ""
            break
        # variables held at a bound: those at (or within eps of) it whose gradient pushes outwards
        eps = min(1e-3, float(np.max(np.abs(proj))))
        held = ((psi <= lo + eps) & (grad > 0)) | ((psi >= hi - eps) & (grad < 0))
        free = ~held
        step = -grad  # steepest descent for the held variables (and if the Hessian is not finite)
        h = hess[np.ix_(free, free)]
        if np.all(np.isfinite(h)):
            lam, q = np.linalg.eigh(h)
            lam = np.maximum(np.abs(lam), 1e-8)  # Newton where convex, a modified step elsewhere
            step[free] = -(q / lam) @ (q.T @ grad[free])
        t = 1.0
        while t > 1e-10:
            new = np.clip(psi + t * step, lo, hi)
            parts = _fit_parts(corr, new)
            f_new = _ml_objective(parts[1])
            if f_new <= f + 1e-4 * grad @ (new - psi):
                break
            t /= 2
        else:
            message = "line search failed"
            break
        moved = float(np.max(np.abs(new - psi)))
        decrease = f - f_new
        psi, f = new, f_new
        scaled, vals, vecs = parts
        if decrease <= 1e-15 * (1 + abs(f)) and moved < 1e-9:
            message = ""  # at the optimum to machine precision
            break
    if not np.all(np.isfinite(psi)):
        return None, None, f"one-factor model did not converge ({message})"
    # accept a stop at an exact optimum when the projected gradient is ~0
    grad, _ = _ml_gradient_hessian(corr, psi, scaled, vals, vecs)
    free = ~(((psi <= lo) & (grad > 0)) | ((psi >= hi) & (grad < 0)))
    if message and np.max(np.abs(grad[free]), initial=0) > 1e-6:
        return None, None, f"one-factor model did not converge ({message})"
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


class _Answers:
    """Long item answers, checked once, with the listwise moments of each item set cached.

    Alpha, omega, item statistics and the baseline alpha of the reliable change
    index all start from the same listwise-complete covariance matrix of a
    measure's items at a timepoint. :func:`evalkit.report.analysis.analyse_section`
    builds one ``_Answers`` per section and hands it to each of them (the public
    functions accept it in place of the frame), so each matrix is computed once.
    """

    def __init__(self, items, *, name="items", checked=False):
        if not checked:  # ``checked``: the caller knows there is one row per person and timepoint
            _check_long(items, name=name)
        self._items = items
        self._timepoint = items["timepoint"].to_numpy()
        self._rows, self._moments, self._blocks = {}, {}, {}
        self.columns = list(items.columns)

    @classmethod
    def of(cls, items, *, name="items"):
        """``items`` itself when already wrapped, else its wrapper."""
        return items if isinstance(items, cls) else cls(items, name=name)

    def _mask(self, timepoint):
        if timepoint not in self._rows:
            self._rows[timepoint] = self._timepoint == timepoint
        return self._rows[timepoint]

    def _at(self, timepoint, cols):
        """Answers of ``cols`` at ``timepoint`` as a float array (column by column: no full-length copy)."""
        rows = np.flatnonzero(self._mask(timepoint))
        out = np.empty((len(rows), len(cols)))
        for j, c in enumerate(cols):
            np.take(self._items[c].to_numpy(dtype=float), rows, out=out[:, j])
        return out

    def complete(self, timepoint, cols):
        """Listwise-complete answers of ``cols`` at ``timepoint`` (rows in frame order)."""
        x = self._at(timepoint, list(cols))
        return x[~np.isnan(x).any(axis=1)]

    def _block(self, timepoint):
        """Every numeric item column at ``timepoint`` when none has a missing answer (else None).

        Then every item set's complete cases are all the rows, and its moments
        are slices of one mean vector and one covariance matrix.
        """
        if timepoint not in self._blocks:
            cols = [c for c in self.columns if c not in ("id", "timepoint")
                    and pd.api.types.is_numeric_dtype(self._items[c].dtype)]
            x = self._at(timepoint, cols) if cols else None
            block = None
            if x is not None and x.shape[0] >= 2 and not np.isnan(x).any():
                # atleast_2d: with a single item column np.cov returns a 0-d array
                block = ({c: j for j, c in enumerate(cols)}, x.shape[0], x.mean(axis=0),
                         np.atleast_2d(np.cov(x, rowvar=False)))
            self._blocks[timepoint] = block
        return self._blocks[timepoint]

    def moments(self, timepoint, cols):
        """``(n, item means, item covariance matrix)`` of the complete cases (cov None if n < 2)."""
        key = (timepoint, tuple(cols))
        if key not in self._moments:
            block = self._block(timepoint)
            if block is not None and all(c in block[0] for c in cols):
                position, n, mean, cov = block
                idx = [position[c] for c in cols]
                self._moments[key] = (n, mean[idx], cov[np.ix_(idx, idx)])
            else:
                x = self.complete(timepoint, cols)
                n = x.shape[0]
                self._moments[key] = (n, x.mean(axis=0) if n else np.full(len(cols), np.nan),
                                      np.atleast_2d(np.cov(x, rowvar=False)) if n >= 2 else None)
        return self._moments[key]


def _measure_columns(instrument, measures, available):
    """Item ids of each measure present in ``available`` ([] for an unknown measure)."""
    out = {}
    for m in measures:
        try:
            out[m] = measure_items(instrument, m, available)
        except KeyError:
            out[m] = []
    return out


def _one_item_note(instrument, measure):
    """The reliability table's note on a measure of one item: alpha needs two; the given coefficient, if any.

    Examples
    --------
    >>> from evalkit.data.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=0, max=40, labels={}, scoring="mean", min_answered=1,
    ...                   subscales=(Subscale("total", "Total", ("total",)),), reliability={"total": 0.85})
    >>> _one_item_note(inst, "total")
    'not estimable from one item (a pre-scored measure); reliable change uses the given reliability 0.85'
    """
    note = "not estimable from one item (a pre-scored measure)"
    given = (getattr(instrument, "reliability", None) or {}).get(measure)
    if given is not None and np.isfinite(given):
        note += f"; reliable change uses the given reliability {given:g}"
    return note


def _reliability_rows(items, *, instrument, measures, timepoints, confidence, omega=True):
    """Rows of :func:`reliability`; ``omega=False`` skips the factor fit (alpha only)."""
    answers = _Answers.of(items)
    columns = _measure_columns(instrument, measures, answers.columns)
    rows = []
    for m in measures:
        cols = columns[m]
        for tp in timepoints:
            row = {"instrument": instrument.id, "measure": m, "timepoint": tp,
                   "n_items": len(cols), "n": 0, "alpha": np.nan, "alpha_ci_low": np.nan,
                   "alpha_ci_high": np.nan, "omega": np.nan, "confidence": confidence,
                   "note": ""}
            rows.append(row)
            if len(cols) < 2:
                row["note"] = (_one_item_note(instrument, m) if len(cols) == 1
                               else "fewer than 2 items in the data")
                continue
            n, _, cov = answers.moments(tp, cols)
            row["n"] = n
            if n < 2:
                row["note"] = "fewer than 2 respondents answered every item"
                continue
            row["alpha"] = _alpha(cov)
            if not np.isfinite(row["alpha"]):
                row["note"] = "no variance in the total score: alpha undefined"
                continue
            row["alpha_ci_low"], row["alpha_ci_high"] = _feldt(row["alpha"], n, len(cols),
                                                               confidence)
            if omega:
                row["omega"], row["note"] = _omega(cov, n)
    return rows


def _alphas(items, *, instrument, measures, timepoint="pre"):
    """Cronbach's alpha of each measure at one timepoint (listwise), without the omega fit."""
    rows = _reliability_rows(items, instrument=instrument, measures=list(measures),
                             timepoints=(timepoint,), confidence=0.95, omega=False)
    return {row["measure"]: row["alpha"] for row in rows}


def reliability(items, *, instrument, measures=None, timepoints=("pre", "post"), confidence=0.95):
    """Cronbach's alpha with its Feldt interval and McDonald's omega, per measure and timepoint.

    Parameters
    ----------
    items : pandas.DataFrame
        Long item answers: ``id``, ``timepoint``, one float column per item,
        reverse items already reversed.
    instrument : evalkit.data.cohort.Instrument
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
    uniquenesses bounded below by 0.005), loadings and uniquenesses are
    rescaled to the item SDs, and ``omega = (sum lambda)^2 / ((sum lambda)^2 +
    sum theta)`` (McDonald, 1999), the model-implied reliability of the
    unweighted sum (and mean) score. NaN with a note with fewer than 3 items,
    fewer respondents than items + 1, or no convergence. The fit takes
    projected Newton steps with the analytic Hessian where ``factanal`` uses
    L-BFGS-B: same optimum (omega within 1e-7), except that with barely more
    respondents than items the likelihood can have several local optima and
    the two methods may stop in different ones.

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
    >>> from evalkit.data.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=5, labels={}, scoring="mean",
    ...                   min_answered=1, subscales=(Subscale("s", "S", ("i1", "i2", "i3")),))
    >>> items = pd.DataFrame({"id": list("abcdefgh"), "timepoint": "pre",
    ...                       "i1": [4, 4, 3, 1, 4, 4, 2, 4.0], "i2": [4, 3, 4, 1, 4, 1, 2, 5.0],
    ...                       "i3": [3, 4, 3, 1, 5, 2, 3, 3.0]})
    >>> reliability(items, instrument=inst, timepoints=("pre",))[["n", "alpha", "omega"]].round(3)
       n  alpha  omega
    0  8  0.813  0.819
    """
    items = _Answers.of(items)
    measures = list(instrument.measures if measures is None else measures)
    rows = _reliability_rows(items, instrument=instrument, measures=measures,
                             timepoints=timepoints, confidence=confidence)
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
    instrument : evalkit.data.cohort.Instrument
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
    >>> from evalkit.data.cohort import Instrument, Subscale
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
    answers = _Answers.of(items)
    if measures is None:
        measures = [s.id for s in instrument.subscales]
    columns = {m: measure_items(instrument, m, answers.columns) for m in measures}
    rows = []
    for m in measures:
        cols = columns[m]
        for tp in timepoints:
            n, means, cov = answers.moments(tp, cols) if cols else (0, None, None)
            k = len(cols)
            base = {"instrument": instrument.id, "measure": m, "timepoint": tp}
            if k < 2 or n < 2:
                note = ("not estimable from one item (a pre-scored measure)" if k == 1 else
                        "fewer than 2 items in the data") if k < 2 else \
                    "fewer than 2 respondents answered every item"
                rows.extend(base | {"item": i, "n": n, "mean": np.nan, "sd": np.nan,
                                    "item_rest_r": np.nan, "alpha_if_dropped": np.nan,
                                    "note": note} for i in cols)
                continue
            var = np.diag(cov)
            rowsum = cov.sum(axis=1)
            rest_var = cov.sum() - 2 * rowsum + var
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (rowsum - var) / np.sqrt(var * rest_var)
                drop = np.where(k - 1 >= 2,
                                (k - 1) / max(k - 2, 1) * (1 - (var.sum() - var) / rest_var),
                                np.nan)
            for j, i in enumerate(cols):
                rows.append(base | {"item": i, "n": n, "mean": means[j], "sd": np.sqrt(var[j]),
                                    "item_rest_r": r[j], "alpha_if_dropped": drop[j],
                                    "note": "" if k > 2 else
                                    "alpha if dropped needs at least 3 items"})
    out = pd.DataFrame(rows, columns=ITEM_STATISTICS_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out
