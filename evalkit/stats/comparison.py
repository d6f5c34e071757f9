"""Compared with children who did not take part: baseline equivalence, adjusted difference, attrition by arm."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .clustering import _cluster_codes

COMPARISON_COLUMNS = [
    "measure", "n_intervention", "n_comparison", "baseline_g", "baseline_equivalence", "adjusted_difference",
    "ci_low", "ci_high", "p", "se", "df", "se_type", "effect_g", "attrition_intervention",
    "attrition_comparison", "overall_attrition", "differential_attrition", "attrition_standard", "note",
]
#: Fewest analysed people per arm for which the comparison is computed.
MIN_PER_ARM = 3
#: The What Works Clearinghouse attrition boundary (Standards Handbook 4.1, Table II.1): for each whole
#: percentage of overall attrition (0-65), the highest differential attrition, in percentage points,
#: that still counts as low attrition. The cautious boundary applies when the intervention could
#: plausibly affect who stays; past 57% overall attrition it allows none. Values as tabulated by the
#: CRAN package baselinr 0.6.0 (``attrition_boundary()``).
WWC_BOUNDARY = {
    "cautious": [5.7, 5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.3, 6.3, 6.3, 6.3, 6.2, 6.2, 6.1, 6.0, 5.9, 5.9, 5.8,
                 5.7, 5.5, 5.4, 5.3, 5.2, 5.1, 4.9, 4.8, 4.7, 4.5, 4.4, 4.3, 4.1, 4.0, 3.8, 3.6, 3.5, 3.3,
                 3.2, 3.1, 2.9, 2.8, 2.6, 2.5, 2.3, 2.1, 2.0, 1.8, 1.6, 1.5, 1.3, 1.2, 1.0, 0.9, 0.7, 0.6,
                 0.4, 0.3, 0.2, 0.0] + [None] * 8,
    "optimistic": [10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.7, 10.8, 10.9, 10.9, 10.9, 10.9, 10.9, 10.8, 10.8,
                   10.7, 10.6, 10.5, 10.3, 10.2, 10.0, 9.9, 9.7, 9.5, 9.4, 9.2, 9.0, 8.8, 8.6, 8.4, 8.2, 8.0,
                   7.8, 7.6, 7.4, 7.2, 7.0, 6.7, 6.5, 6.3, 6.0, 5.8, 5.6, 5.3, 5.1, 4.9, 4.6, 4.4, 4.2, 3.9,
                   3.7, 3.5, 3.2, 3.0, 2.8, 2.6, 2.3, 2.1, 1.9, 1.6, 1.4, 1.1, 0.9, 0.7, 0.5, 0.3],
}


def hedges_g_between(x, y):
    """Hedges' g of ``x`` minus ``y`` with the pooled SD and ``J = 1 - 3 / (4 (n_x + n_y) - 9)``.

    Examples
    --------
    >>> round(hedges_g_between([2, 3, 4, 5], [1, 2, 3, 4]), 4)
    0.6736
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        return np.nan
    pooled = np.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    if not pooled > 0:
        return np.nan
    return float((x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (nx + ny) - 9)))


def baseline_equivalence(g):
    """What Works Clearinghouse baseline equivalence of a baseline effect size ``g``.

    ``satisfied`` if |g| <= 0.05, ``requires adjustment`` if |g| <= 0.25 (the ANCOVA on the pre score
    provides it), ``not satisfied`` above; blank when ``g`` is not a number.

    Examples
    --------
    >>> [baseline_equivalence(g) for g in (0.03, -0.2, 0.4)]
    ['satisfied', 'requires adjustment', 'not satisfied']
    """
    if not np.isfinite(g):
        return ""
    return "satisfied" if abs(g) <= 0.05 else "requires adjustment" if abs(g) <= 0.25 else "not satisfied"


def attrition_standard(overall, differential, *, boundary="cautious"):
    """Low or high attrition against the What Works Clearinghouse boundary, in words.

    Parameters
    ----------
    overall, differential : float
        Proportions (0-1).
    boundary : {"cautious", "optimistic"}

    Examples
    --------
    >>> attrition_standard(0.08, 0.03)
    'low attrition (WWC cautious boundary: at 8% overall, up to 6.3 points differential)'
    >>> attrition_standard(0.30, 0.06)
    'high attrition (WWC cautious boundary: at 30% overall, up to 4.1 points differential)'
    """
    if not (np.isfinite(overall) and np.isfinite(differential)):
        return ""
    pct = int(round(overall * 100))
    table = WWC_BOUNDARY[boundary]
    allowed = table[pct] if 0 <= pct < len(table) else None
    if allowed is None:
        return f"high attrition (WWC {boundary} boundary: no differential is low at {pct}% overall)"
    low = differential * 100 <= allowed + 1e-9
    return (f"{'low' if low else 'high'} attrition (WWC {boundary} boundary: at {pct}% overall, "
            f"up to {allowed:.1f} points differential)")


def _ols_arm(post, pre, arm, clusters):
    """post ~ pre + arm by statsmodels OLS: (coefficient, se, df, se_type)."""
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api, which imports tsa and graphics

    exog = np.column_stack([np.ones(post.size), pre, arm])
    model = OLS(post, exog)
    if clusters is None:
        fit = model.fit()
        return float(fit.params[2]), float(fit.bse[2]), float(fit.df_resid), "classical OLS"
    k = int(clusters.max()) + 1
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": clusters})
    return (float(fit.params[2]), float(fit.bse[2]), float(k - 1),
            "CR1 cluster-robust, groups as clusters (statsmodels cov_type='cluster'), t on clusters - 1 df")


def compare_arms(scores, *, measures, arm, intervention, comparison, group=None, confidence=0.95,
                 boundary="cautious"):
    """Intervention against comparison children: baseline balance, adjusted difference and attrition.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint`` (``pre``/``post``), measure columns, the ``arm`` column
        and, when given, the ``group`` column (one value per person; the baseline row's is used).
    measures : list of str
    arm : str
        Column naming each person's arm.
    intervention, comparison : list of str
        Levels of ``arm`` in each arm; other levels are left out.
    group : str, optional
        Delivery group column: the adjusted difference then has CR1 cluster-robust errors with groups
        as clusters (anyone without a group is a cluster of their own) and t on clusters - 1 df.
    confidence : float
    boundary : {"cautious", "optimistic"}
        The What Works Clearinghouse attrition boundary to judge attrition against.

    Returns
    -------
    pandas.DataFrame
        One row per measure, columns ``COMPARISON_COLUMNS``: analysed people per arm (pre and post both
        present), ``baseline_g`` (Hedges' g of the pre scores, intervention minus comparison),
        ``baseline_equivalence``, ``adjusted_difference`` (the arm coefficient of
        ``post ~ pre + arm`` by OLS) with its interval, p, se and df, ``effect_g`` (adjusted difference
        / pooled within-arm SD of post x J), attrition by arm, overall and differential, and
        ``attrition_standard``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"id": f"{a}{i}", "timepoint": t, "arm": a, "m": i % 4 + (t == "post") * (1 if a == "I" else 0.2)}
    ...         for a in "IC" for i in range(10) for t in ("pre", "post")]
    >>> res = compare_arms(pd.DataFrame(rows), measures=["m"], arm="arm", intervention=["I"], comparison=["C"])
    >>> res[["n_intervention", "n_comparison", "baseline_equivalence"]].to_dict("records")
    [{'n_intervention': 10, 'n_comparison': 10, 'baseline_equivalence': 'satisfied'}]
    >>> round(float(res["adjusted_difference"].iloc[0]), 3)
    0.8
    """
    intervention, comparison = [str(v) for v in intervention], [str(v) for v in comparison]
    level = scores[arm].astype("string")
    in_arm = level.isin(intervention + comparison)
    rows = []
    for m in measures:
        data = scores.loc[in_arm, ["id", "timepoint", m]].assign(arm=level[in_arm].isin(intervention).astype(int))
        if group is not None:
            data["group"] = scores.loc[in_arm, group]
        pre = data[(data["timepoint"] == "pre") & data[m].notna()].drop_duplicates("id").set_index("id")
        post = data[(data["timepoint"] == "post") & data[m].notna()].drop_duplicates("id").set_index("id")
        both = pre.join(post[[m]].rename(columns={m: "post"}), how="inner")
        row = dict.fromkeys(COMPARISON_COLUMNS, np.nan) | {"measure": m, "note": "", "se_type": "",
                                                          "baseline_equivalence": "", "attrition_standard": ""}
        rows.append(row)
        base_i, base_c = int((pre["arm"] == 1).sum()), int((pre["arm"] == 0).sum())
        n_i, n_c = int((both["arm"] == 1).sum()), int((both["arm"] == 0).sum())
        row.update(n_intervention=n_i, n_comparison=n_c)
        if base_i and base_c:
            a_i, a_c = 1 - n_i / base_i, 1 - n_c / base_c
            overall = 1 - (n_i + n_c) / (base_i + base_c)
            row.update(attrition_intervention=a_i, attrition_comparison=a_c, overall_attrition=overall,
                       differential_attrition=abs(a_i - a_c))
            row["attrition_standard"] = attrition_standard(overall, abs(a_i - a_c), boundary=boundary)
        if n_i < MIN_PER_ARM or n_c < MIN_PER_ARM:
            row["note"] = f"fewer than {MIN_PER_ARM} analysed people in an arm: no comparison"
            continue
        is_i = both["arm"].to_numpy() == 1
        x, y = both[m].to_numpy(dtype=float), both["post"].to_numpy(dtype=float)
        row["baseline_g"] = hedges_g_between(x[is_i], x[~is_i])
        row["baseline_equivalence"] = baseline_equivalence(row["baseline_g"])
        clusters = None
        if group is not None:
            clusters = _cluster_codes(both["group"])  # anyone without a group: a cluster of their own
        est, se, df, se_type = _ols_arm(y, x, is_i.astype(float), clusters)
        tcrit = stats.t.ppf(0.5 + confidence / 2, df)
        row.update(adjusted_difference=est, se=se, df=df, se_type=se_type, ci_low=est - tcrit * se,
                   ci_high=est + tcrit * se, p=float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else np.nan)
        pooled_post = np.sqrt(((is_i.sum() - 1) * y[is_i].var(ddof=1) + ((~is_i).sum() - 1) * y[~is_i].var(ddof=1))
                              / (y.size - 2))
        j = 1 - 3 / (4 * y.size - 9)
        row["effect_g"] = est / pooled_post * j if pooled_post > 0 else np.nan
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for c in ("n_intervention", "n_comparison"):
        out[c] = out[c].astype("Int64")
    return out
