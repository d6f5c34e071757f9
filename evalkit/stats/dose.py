"""Did more sessions mean more change? The slope of change on sessions attended, and full against partial dose."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

DOSE_COLUMNS = [
    "measure", "n", "slope", "slope_ci_low", "slope_ci_high", "slope_p", "full_dose_n", "full_dose_mean_change",
    "partial_dose_n", "partial_dose_mean_change", "note",
]
#: Fewest people with a change and a sessions value for which the slope is computed.
MIN_PEOPLE = 5


def dose_response(changes, *, measures, sessions="sessions", full_dose=5, confidence=0.95):
    """Change (post - pre) against sessions attended.

    Parameters
    ----------
    changes : pandas.DataFrame
        One row per person with both waves (intervention children only): the change of each measure
        and the ``sessions`` column (sessions attended, a whole number; blank rows are left out).
    measures : list of str
    sessions : str
        Column of sessions attended.
    full_dose : int
        Sessions that count as a full dose; fewer (0 included) is a partial dose.
    confidence : float

    Returns
    -------
    pandas.DataFrame
        One row per measure, columns ``DOSE_COLUMNS``: ``slope`` is the ordinary least-squares slope of
        change on sessions (classical errors, t on n - 2 df) with its interval and p; the mean change of
        the full-dose and partial-dose children.

    Examples
    --------
    >>> import pandas as pd
    >>> changes = pd.DataFrame({"m": [0.1, 0.2, 0.4, 0.5, 0.7, 0.6], "sessions": [1, 2, 3, 4, 6, 6]})
    >>> res = dose_response(changes, measures=["m"])
    >>> round(float(res["slope"].iloc[0]), 4), int(res["full_dose_n"].iloc[0])
    (0.1094, 2)
    """
    rows = []
    for m in measures:
        frame = changes[[m, sessions]].apply(pd.to_numeric, errors="coerce").dropna()
        y, x = frame[m].to_numpy(dtype=float), frame[sessions].to_numpy(dtype=float)
        full = x >= full_dose
        row = dict.fromkeys(DOSE_COLUMNS, np.nan) | {
            "measure": m, "n": int(y.size), "full_dose_n": int(full.sum()), "partial_dose_n": int((~full).sum()),
            "full_dose_mean_change": float(y[full].mean()) if full.any() else np.nan,
            "partial_dose_mean_change": float(y[~full].mean()) if (~full).any() else np.nan, "note": ""}
        rows.append(row)
        if y.size < MIN_PEOPLE:
            row["note"] = f"fewer than {MIN_PEOPLE} children with a change and a sessions count"
            continue
        if np.ptp(x) == 0:
            row["note"] = "every child attended the same number of sessions: no slope"
            continue
        fit = stats.linregress(x, y)
        tcrit = stats.t.ppf(0.5 + confidence / 2, y.size - 2)
        row.update(slope=float(fit.slope), slope_ci_low=float(fit.slope - tcrit * fit.stderr),
                   slope_ci_high=float(fit.slope + tcrit * fit.stderr), slope_p=float(fit.pvalue))
    out = pd.DataFrame(rows, columns=DOSE_COLUMNS)
    for c in ("n", "full_dose_n", "partial_dose_n"):
        out[c] = out[c].astype(int)
    return out
