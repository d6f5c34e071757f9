"""System outcomes over time: interrupted time series of monthly rates (segmented quasi-Poisson regression)."""
from __future__ import annotations

import numpy as np
import pandas as pd

ITS_COLUMNS = [
    "locality", "measure", "months_before", "months_after", "rate_before", "rate_after", "level_change_rr",
    "level_ci_low", "level_ci_high", "slope_change_rr", "slope_ci_low", "slope_ci_high", "p_level", "p_slope",
    "model", "note", "dispersion",
]
#: The columns issue 13 spells for ``results/system_its.csv``; ``ITS_COLUMNS`` appends only extras after them.
CONTRACT_COLUMNS = ITS_COLUMNS[:ITS_COLUMNS.index("note") + 1]
#: Fewest months on each side of the embedding month for a model.
MIN_MONTHS = 6
#: Rates are per this many of the denominator.
PER = 1000
MODEL = ("segmented quasi-Poisson regression (statsmodels GLM, Poisson family, scale = Pearson chi2 / df): "
         "log E[count] = b0 + b1 t + b2 after + b3 (t - t0) after + log(denominator); Wald z intervals; "
         "RR = exp(coefficient)")
POOLED_MODEL = ("pooled segmented quasi-Poisson regression: one intercept per locality, shared b1, b2, b3 "
                "(statsmodels GLM, scale = Pearson chi2 / df); Wald z intervals; RR = exp(coefficient)")


def _month_index(months):
    """Whole months since year 0 of a column of months (``2025-09``, dates or periods)."""
    periods = pd.PeriodIndex(pd.to_datetime(pd.Series(months).astype(str)), freq="M")
    return periods.year * 12 + periods.month - 1


def _fit(count, exog, offset):
    # the GLM module itself: statsmodels.api would import tsa and graphics too (over a second)
    from statsmodels.genmod.families import Poisson
    from statsmodels.genmod.generalized_linear_model import GLM

    return GLM(count, exog, family=Poisson(), offset=offset).fit(scale="X2")


def _coef_row(fit, names, confidence):
    ci = np.asarray(fit.conf_int(alpha=1 - confidence))
    out = {}
    for key, name in (("level", "after"), ("slope", "t_after")):
        j = names.index(name)
        out[f"{key}_change_rr"] = float(np.exp(fit.params[j]))
        out[f"{key}_ci_low"], out[f"{key}_ci_high"] = (float(v) for v in np.exp(ci[j]))
        out[f"p_{key}"] = float(fit.pvalues[j])
    out["dispersion"] = float(fit.scale)
    return out


def _design(frame, start):
    """Columns t, after, t_after of one locality's months (t counted from the first month)."""
    t = (frame["month_index"] - frame["month_index"].min()).to_numpy(dtype=float)
    after = (frame["month_index"] >= start).to_numpy(dtype=float)
    t0 = float(start - frame["month_index"].min())
    return t, after, (t - t0) * after


def interrupted_time_series(system, *, embedded_from, measures=None, confidence=0.95, min_months=MIN_MONTHS):
    """Did a rate change when a locality embedded the programme? One model per locality and measure, and pooled.

    Parameters
    ----------
    system : pandas.DataFrame
        One row per locality, month and measure: ``locality``, ``month`` (``YYYY-MM`` or a date),
        ``measure``, ``count`` and ``denominator`` (for example children with an open case).
    embedded_from : dict
        Locality -> month it embedded the programme (``"2025-09"``); that month counts as after.
    measures : list of str, optional
        Measures to model (default: every measure in the data).
    confidence : float
    min_months : int
        Fewest months needed on each side; fewer gives a row with a note and no model.

    Returns
    -------
    pandas.DataFrame
        One row per locality and measure, then a pooled row (``locality = "all"``) per measure, columns
        ``ITS_COLUMNS`` (the issue's columns, then ``dispersion``, the estimated quasi-Poisson scale).
        ``rate_before``/``rate_after`` are the total count over the total denominator
        on each side, per 1,000; ``level_change_rr`` = exp(b2) (the step at the embedding month),
        ``slope_change_rr`` = exp(b3) (the change in the monthly trend), with Wald z intervals and p.
        The pooled model gives each locality its own intercept and shares b1, b2 and b3; localities
        without a model of their own are left out of it.

    Notes
    -----
    Segmented regression of the count with offset log(denominator):
    ``log E[count] = b0 + b1 t + b2 after + b3 (t - t0) after``, t in months, ``after`` = 1 from the
    embedding month on. Quasi-Poisson: a Poisson GLM whose scale is Pearson's chi-squared over its
    residual degrees of freedom (``statsmodels`` ``GLM(...).fit(scale="X2")``; R's
    ``glm(family = quasipoisson)``). Without a comparison locality an interrupted time series shows
    association in time, not cause. The model has no seasonal terms: a strong yearly cycle that the
    segments cannot average out biases the step (with fewer than two years on each side, read the
    level change together with the figure).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> months = pd.period_range("2024-01", periods=24, freq="M").astype(str)
    >>> count = [40 + (i % 3) if i < 12 else 30 + (i % 3) for i in range(24)]
    >>> system = pd.DataFrame({"locality": "Kent North", "month": months, "measure": "referrals_on",
    ...                        "count": count, "denominator": 1000})
    >>> res = interrupted_time_series(system, embedded_from={"Kent North": "2025-01"})
    >>> res[["locality", "months_before", "months_after", "rate_before", "rate_after"]]
         locality  months_before  months_after  rate_before  rate_after
    0  Kent North             12            12         41.0        31.0
    1         all             12            12         41.0        31.0
    >>> round(float(res["level_change_rr"].iloc[0]), 3)
    0.742
    """
    data = system.copy()
    data["month_index"] = _month_index(data["month"])
    data["count"] = pd.to_numeric(data["count"], errors="coerce")
    data["denominator"] = pd.to_numeric(data["denominator"], errors="coerce")
    measures = list(measures) if measures is not None else list(dict.fromkeys(data["measure"]))
    starts = {str(k): int(_month_index([v])[0]) for k, v in (embedded_from or {}).items()}
    rows = []
    for m in measures:
        modelled = []
        for locality, frame in data[data["measure"] == m].groupby("locality", sort=False):
            frame = frame.dropna(subset=["count", "denominator"]).sort_values("month_index")
            frame = frame[frame["denominator"] > 0]
            row = dict.fromkeys(ITS_COLUMNS, np.nan) | {"locality": str(locality), "measure": m, "model": "",
                                                        "note": ""}
            rows.append(row)
            start = starts.get(str(locality))
            if start is None:
                row["note"] = "no embedding month configured: no interruption to model"
                row.update(months_before=len(frame), months_after=0,
                           rate_before=PER * frame["count"].sum() / frame["denominator"].sum())
                continue
            before, after = frame[frame["month_index"] < start], frame[frame["month_index"] >= start]
            row.update(months_before=len(before), months_after=len(after))
            if len(before):
                row["rate_before"] = PER * before["count"].sum() / before["denominator"].sum()
            if len(after):
                row["rate_after"] = PER * after["count"].sum() / after["denominator"].sum()
            if len(before) < min_months or len(after) < min_months:
                row["note"] = f"fewer than {min_months} months on one side of the embedding month: no model"
                continue
            t, aft, t_after = _design(frame, start)
            exog = np.column_stack([np.ones(t.size), t, aft, t_after])
            fit = _fit(frame["count"].to_numpy(dtype=float), exog, np.log(frame["denominator"].to_numpy(dtype=float)))
            row.update(_coef_row(fit, ["const", "t", "after", "t_after"], confidence), model=MODEL)
            modelled.append((str(locality), frame, start))
        rows.append(_pooled_row(m, modelled, confidence))
    out = pd.DataFrame(rows, columns=ITS_COLUMNS)
    for c in ("months_before", "months_after"):
        out[c] = out[c].astype("Int64")
    return out


def _pooled_row(measure, modelled, confidence):
    row = dict.fromkeys(ITS_COLUMNS, np.nan) | {"locality": "all", "measure": measure, "model": "", "note": ""}
    if not modelled:
        row["note"] = "no locality has a model of its own: nothing to pool"
        return row
    parts, counts, offsets = [], [], []
    before_c = before_d = after_c = after_d = 0.0
    months_before = months_after = 0
    for j, (_, frame, start) in enumerate(modelled):
        t, aft, t_after = _design(frame, start)
        intercepts = np.zeros((t.size, len(modelled)))
        intercepts[:, j] = 1
        parts.append(np.column_stack([intercepts, t, aft, t_after]))
        counts.append(frame["count"].to_numpy(dtype=float))
        offsets.append(np.log(frame["denominator"].to_numpy(dtype=float)))
        is_after = frame["month_index"] >= start
        before_c += frame.loc[~is_after, "count"].sum()
        before_d += frame.loc[~is_after, "denominator"].sum()
        after_c += frame.loc[is_after, "count"].sum()
        after_d += frame.loc[is_after, "denominator"].sum()
        months_before += int((~is_after).sum())
        months_after += int(is_after.sum())
    fit = _fit(np.concatenate(counts), np.vstack(parts), np.concatenate(offsets))
    names = [f"b0_{j}" for j in range(len(modelled))] + ["t", "after", "t_after"]
    row.update(_coef_row(fit, names, confidence), model=POOLED_MODEL, months_before=months_before,
               months_after=months_after, rate_before=PER * before_c / before_d, rate_after=PER * after_c / after_d)
    row["note"] = f"pooled over {len(modelled)} localit{'y' if len(modelled) == 1 else 'ies'}: " + \
        ", ".join(name for name, _, _ in modelled)
    return row


def fitted_rates(system, *, embedded_from, measures=None, min_months=MIN_MONTHS):
    """Each month's observed rate beside the model's fitted rate and the pre-embedding trend carried forward.

    Parameters
    ----------
    system, embedded_from, measures, min_months
        As :func:`interrupted_time_series`.

    Returns
    -------
    pandas.DataFrame
        One row per locality, measure and month: ``locality``, ``measure``, ``month`` (``YYYY-MM``),
        ``count``, ``denominator``, ``rate`` (per 1,000), ``after`` (bool), ``fitted`` (the segmented
        model's rate, per 1,000) and ``projected`` (``exp(b0 + b1 t)`` per 1,000: the trend before the
        embedding month carried on as if nothing had changed). ``fitted`` and ``projected`` are blank
        where the locality has no model of its own.

    Examples
    --------
    >>> import pandas as pd
    >>> months = pd.period_range("2024-01", periods=24, freq="M").astype(str)
    >>> count = [40 + (i % 3) if i < 12 else 30 + (i % 3) for i in range(24)]
    >>> system = pd.DataFrame({"locality": "Kent North", "month": months, "measure": "referrals_on",
    ...                        "count": count, "denominator": 1000})
    >>> lines = fitted_rates(system, embedded_from={"Kent North": "2025-01"})
    >>> lines.loc[[0, 23], ["month", "rate", "after"]].values.tolist()
    [['2024-01', 40.0, False], ['2025-12', 32.0, True]]
    >>> bool((lines["projected"] > lines["fitted"])[lines["after"]].all())
    True
    """
    data = system.copy()
    data["month_index"] = _month_index(data["month"])
    data["count"] = pd.to_numeric(data["count"], errors="coerce").astype(float)
    data["denominator"] = pd.to_numeric(data["denominator"], errors="coerce").astype(float)
    measures = list(measures) if measures is not None else list(dict.fromkeys(data["measure"]))
    starts = {str(k): int(_month_index([v])[0]) for k, v in (embedded_from or {}).items()}
    parts = []
    for m in measures:
        for locality, frame in data[data["measure"] == m].groupby("locality", sort=False):
            frame = frame.dropna(subset=["count", "denominator"]).sort_values("month_index")
            frame = frame[frame["denominator"] > 0]
            start = starts.get(str(locality))
            out = pd.DataFrame({
                "locality": str(locality), "measure": m,
                "month": [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in frame["month_index"]],
                "count": frame["count"].to_numpy(), "denominator": frame["denominator"].to_numpy(),
                "rate": PER * (frame["count"] / frame["denominator"]).to_numpy(),
                "after": (frame["month_index"] >= start).to_numpy() if start is not None
                else np.zeros(len(frame), bool),
                "fitted": np.nan, "projected": np.nan})
            n_after = int(out["after"].sum())
            if start is not None and len(out) - n_after >= min_months and n_after >= min_months:
                t, aft, t_after = _design(frame, start)
                exog = np.column_stack([np.ones(t.size), t, aft, t_after])
                fit = _fit(frame["count"].to_numpy(dtype=float), exog, np.log(frame["denominator"].to_numpy(float)))
                b = np.asarray(fit.params)
                out["fitted"] = PER * np.exp(exog @ b)
                out["projected"] = PER * np.exp(b[0] + b[1] * t)
            parts.append(out)
    columns = ["locality", "measure", "month", "count", "denominator", "rate", "after", "fitted", "projected"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
