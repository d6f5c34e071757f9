"""Delivery and practice: fidelity and reach per group, site and overall; whether the trained go on to deliver."""
from __future__ import annotations

import numpy as np
import pandas as pd

IMPLEMENTATION_COLUMNS = [
    "level", "site", "group", "sessions_delivered", "sessions_planned", "fidelity_pct", "mean_attended",
    "children_reached", "note",
]
EMBEDDING_COLUMNS = [
    "level", "site", "trained", "delivering_3m", "delivering_3m_ci_low", "delivering_3m_ci_high", "delivering_6m",
    "delivering_6m_ci_low", "delivering_6m_ci_high", "median_days_to_first_session", "note",
]
#: Days after training within which a first session counts as delivering by 3 and by 6 months.
WINDOWS = {"3m": 91, "6m": 182}
#: Fidelity below this percentage is flagged.
FIDELITY_FLAG = 80


def wilson_interval(successes, n, confidence=0.95):
    """Wilson score interval of a proportion (statsmodels ``proportion_confint(method="wilson")``).

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(7, 10)]
    [0.3968, 0.8922]
    """
    from statsmodels.stats.proportion import proportion_confint

    if not n:
        return np.nan, np.nan
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def _implementation_row(level, site, group, frame, *, fidelity, planned, reached):
    if "session" in frame:  # a session number given twice is one session; a row without a number is one more
        numbers = pd.to_numeric(frame["session"], errors="coerce")
        delivered = int(numbers.nunique() + numbers.isna().sum())
    else:
        delivered = len(frame)
    marks = frame[fidelity].to_numpy(dtype=float) if fidelity else None  # made numeric once, by implementation
    pct = float(100 * np.nansum(marks) / np.sum(~np.isnan(marks))) if marks is not None and np.any(~np.isnan(marks)) \
        else np.nan
    attended = frame["attended"] if "attended" in frame else pd.Series(dtype=float)
    notes = []
    if level == "group":
        if planned and delivered < planned:
            notes.append(f"fewer sessions than planned ({delivered} of {planned})")
        if np.isfinite(pct) and pct < FIDELITY_FLAG:
            notes.append(f"fidelity under {FIDELITY_FLAG}%")
    return {"level": level, "site": site, "group": group, "sessions_delivered": delivered,
            "sessions_planned": planned * (frame["group"].nunique() if level != "group" else 1) if planned else np.nan,
            "fidelity_pct": pct, "mean_attended": float(attended.mean()) if attended.notna().any() else np.nan,
            "children_reached": reached, "note": "; ".join(notes)}


def implementation(sessions, *, fidelity=(), planned_sessions=None, children_reached=None):
    """Sessions delivered, fidelity and attendance per group, then per site and overall.

    Parameters
    ----------
    sessions : pandas.DataFrame
        One row per delivered session: ``group``, ``site``, ``session`` (its number), ``attended``
        (children present) and the ``fidelity`` columns (1/0: core component delivered or not).
    fidelity : sequence of str
        Core-component columns.
    planned_sessions : int, optional
        Sessions each group should deliver.
    children_reached : dict, optional
        Group -> children in the outcome data with that group (blank where not known).

    Returns
    -------
    pandas.DataFrame
        Columns ``IMPLEMENTATION_COLUMNS``; ``fidelity_pct`` is the share of core components delivered over
        all sessions of the row (not an average of group percentages); at group level ``note`` flags fewer
        sessions than planned or fidelity under 80%.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"group": ["a"] * 3 + ["b"] * 2, "site": "Kent", "session": [1, 2, 3, 1, 2],
    ...                   "attended": [6, 5, 6, 4, 4], "core_1": [1, 1, 1, 1, 0], "core_2": [1, 0, 1, 1, 0]})
    >>> res = implementation(s, fidelity=["core_1", "core_2"], planned_sessions=3)
    >>> res["level"].tolist(), res["fidelity_pct"].round(1).tolist()
    (['group', 'group', 'site', 'overall'], [83.3, 50.0, 70.0, 70.0])
    >>> res.loc[1, "note"]
    'fewer sessions than planned (2 of 3); fidelity under 80%'
    """
    fidelity = list(fidelity)
    reached = children_reached or {}
    numeric = {c: pd.to_numeric(sessions[c], errors="coerce").astype(float) for c in [*fidelity, "attended"]
               if c in sessions}
    sessions = sessions.assign(**numeric)
    rows = []
    for (site, group), frame in sessions.groupby(["site", "group"], sort=True, dropna=False):
        rows.append(_implementation_row("group", site, group, frame, fidelity=fidelity, planned=planned_sessions,
                                        reached=reached.get(group, np.nan)))
    for site, frame in sessions.groupby("site", sort=True, dropna=False):
        total = sum(v for g, v in reached.items() if g in set(frame["group"])) if reached else np.nan
        row = _implementation_row("site", site, "", frame.assign(session=np.arange(len(frame))), fidelity=fidelity,
                                  planned=planned_sessions, reached=total)
        rows.append(row)
    total = sum(reached.values()) if reached else np.nan
    rows.append(_implementation_row("overall", "", "", sessions.assign(session=np.arange(len(sessions))),
                                    fidelity=fidelity, planned=planned_sessions, reached=total))
    out = pd.DataFrame(rows, columns=IMPLEMENTATION_COLUMNS)
    out["sessions_delivered"] = out["sessions_delivered"].astype(int)
    for c in ("sessions_planned", "children_reached"):
        out[c] = out[c].astype("Int64")
    return out


def embedding(facilitators, *, confidence=0.95):
    """Training without embedding: how many trained facilitators delivered a first session within 3 and 6 months.

    Parameters
    ----------
    facilitators : pandas.DataFrame
        One row per trained facilitator: ``site``, ``trained_on`` (date) and ``first_session`` (date of
        their first delivered session; blank if none).
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Per site and overall, columns ``EMBEDDING_COLUMNS``: ``trained``; ``delivering_3m`` and
        ``delivering_6m`` (first session no more than 91 or 182 days after training) with Wilson
        intervals of the proportion; ``median_days_to_first_session`` over those who delivered at all.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"site": ["Kent"] * 4, "trained_on": ["2025-09-01"] * 4,
    ...                   "first_session": ["2025-10-01", "2026-01-15", None, "2026-06-01"]})
    >>> embedding(f)[["level", "trained", "delivering_3m", "delivering_6m", "median_days_to_first_session"]]
         level  trained  delivering_3m  delivering_6m  median_days_to_first_session
    0     site        4              1              2                         136.0
    1  overall        4              1              2                         136.0
    """
    data = facilitators.copy()
    days = (pd.to_datetime(data["first_session"]) - pd.to_datetime(data["trained_on"])).dt.days
    data["days"] = days
    rows = []
    groups = [("site", site, frame) for site, frame in data.groupby("site", sort=True, dropna=False)]
    groups.append(("overall", "", data))
    for level, site, frame in groups:
        d = frame["days"]
        n = len(frame)
        row = {"level": level, "site": site, "trained": n, "note": ""}
        for key, limit in WINDOWS.items():
            k = int(((d >= 0) & (d <= limit)).sum())
            low, high = wilson_interval(k, n, confidence)
            row |= {f"delivering_{key}": k, f"delivering_{key}_ci_low": low, f"delivering_{key}_ci_high": high}
        delivered = d[d.notna()]
        row["median_days_to_first_session"] = float(delivered.median()) if len(delivered) else np.nan
        if (delivered < 0).any():
            row["note"] = f"{int((delivered < 0).sum())} first session(s) dated before training"
        rows.append(row)
    return pd.DataFrame(rows, columns=EMBEDDING_COLUMNS)
