"""Attrition: people with a baseline but no follow-up compared with completers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

from .paired import _PrePost, hedges_j

ATTRITION_COLUMNS = [
    "kind", "variable", "completers_n", "dropouts_n", "completers_mean", "completers_sd",
    "dropouts_mean", "dropouts_sd", "statistic", "statistic_label", "df", "p", "effect",
    "effect_label", "test", "note",
]


def _welch_row(comp, drop, variable):
    row = {"kind": "baseline score", "variable": variable, "completers_n": comp.size,
           "dropouts_n": drop.size, "statistic_label": "t (Welch)", "effect_label": "Hedges' g",
           "test": "Welch t test", "note": ""}
    row["completers_mean"] = comp.mean() if comp.size else np.nan
    row["dropouts_mean"] = drop.mean() if drop.size else np.nan
    row["completers_sd"] = comp.std(ddof=1) if comp.size > 1 else np.nan
    row["dropouts_sd"] = drop.std(ddof=1) if drop.size > 1 else np.nan
    if comp.size < 2 or drop.size < 2:
        row.update(statistic=np.nan, df=np.nan, p=np.nan, effect=np.nan,
                   note="fewer than 2 completers or 2 dropouts with a baseline score: "
                        "not tested")
        return row
    v1, v2 = comp.var(ddof=1), drop.var(ddof=1)
    se2 = v1 / comp.size + v2 / drop.size
    if not se2 > 0:
        row.update(statistic=np.nan, df=np.nan, p=np.nan, effect=np.nan,
                   note="no variance in baseline scores: not tested")
        return row
    res = st.ttest_ind(comp, drop, equal_var=False)
    df = se2 ** 2 / ((v1 / comp.size) ** 2 / (comp.size - 1) + (v2 / drop.size) ** 2 / (drop.size - 1))
    dfp = comp.size + drop.size - 2
    sp = math.sqrt(((comp.size - 1) * v1 + (drop.size - 1) * v2) / dfp)
    row.update(statistic=float(res.statistic), df=df, p=float(res.pvalue),
               effect=float(hedges_j(dfp)) * (comp.mean() - drop.mean()) / sp)
    return row


def _completion_row(table, factor):
    """Chi-square (or Fisher exact for a small 2x2) of completion by factor level."""
    row = {"kind": "factor", "variable": factor,
           "completers_n": int(table["completer"].sum()), "dropouts_n": int(table["dropout"].sum()),
           "completers_mean": np.nan, "completers_sd": np.nan, "dropouts_mean": np.nan,
           "dropouts_sd": np.nan, "statistic": np.nan, "statistic_label": "", "df": np.nan,
           "p": np.nan, "effect": np.nan, "effect_label": "", "test": "", "note": ""}
    table = table.loc[table.sum(axis=1) > 0]
    if len(table) < 2:
        row["note"] = f"only one '{factor}' group: not tested"
        return row
    if (table.sum(axis=0) == 0).any():
        row["note"] = "everyone completed (or nobody did): not tested"
        return row
    obs = table.to_numpy()
    expected = st.contingency.expected_freq(obs)
    if obs.shape == (2, 2) and expected.min() < 5:
        res = st.fisher_exact(obs)
        row.update(p=float(res.pvalue), effect=float(res.statistic),
                   effect_label="odds ratio", test="Fisher exact test (2x2, expected count < 5)")
        return row
    chi2, p, dof, _ = st.chi2_contingency(obs, correction=False)
    v = math.sqrt(chi2 / (obs.sum() * (min(obs.shape) - 1)))
    row.update(statistic=chi2, statistic_label="chi-square", df=float(dof), p=p, effect=v,
               effect_label="Cramer's V", test="Pearson chi-square test (no continuity correction)")
    if expected.min() < 5:
        row["note"] = "some expected counts below 5: chi-square p is approximate"
    return row


def attrition(scores, *, measures, factors=()):
    """Compare people who completed the post questionnaire with those who did not.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores (``id``, ``timepoint``, factor columns, measure columns).
    measures : list of str
        Measures whose baseline scores are compared.
    factors : list of str
        Factor columns whose association with completion is tested.

    Returns
    -------
    pandas.DataFrame
        Long table, measures first (in given order) then factors (in given order):

        * ``kind``: ``"baseline score"`` or ``"factor"``.
        * ``variable``: measure id or factor name.
        * ``completers_n``, ``dropouts_n``: people in each group.
        * ``completers_mean``, ``completers_sd``, ``dropouts_mean``, ``dropouts_sd``:
          baseline score descriptives (NaN for factors).
        * ``statistic``, ``statistic_label``: Welch t (completers minus dropouts)
          or Pearson chi-square; NaN for Fisher's exact test.
        * ``df``: Welch-Satterthwaite df, or chi-square df.
        * ``p``: two-sided p.
        * ``effect``, ``effect_label``: Hedges' g (completers minus dropouts,
          pooled SD, exact J(n1 + n2 - 2)), Cramér's V, or for the Fisher test the
          sample odds ratio (levels sorted, completers first) from
          ``scipy.stats.fisher_exact``; R's ``fisher.test`` prints the conditional
          MLE of the odds ratio instead, its p is the same.
        * ``test``: test used; ``note``: why a test was not computed.

    Notes
    -----
    *Baseline rows*: completers are people with a pre **and** a post score on
    the measure (the matched pairs of :func:`paired_outcomes`); dropouts have
    a pre score but no post score on it.

    *Factor rows*: everyone with a pre row; completer = has a post row with at
    least one of ``measures`` scored. The factor value is taken from the pre row;
    people without one are left out. Pearson chi-square without continuity
    correction (JASP's default); for a 2x2 table with an expected count below 5,
    Fisher's exact test instead. ``V = sqrt(chi2 / (N (min(r, c) - 1)))``.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "id": ["a", "b", "c", "d", "e", "f", "a", "b", "c"],
    ...     "timepoint": ["pre"] * 6 + ["post"] * 3,
    ...     "site": ["x", "x", "y", "y", "x", "y", "x", "x", "y"],
    ...     "m": [1.0, 2.0, 2.5, 2.0, 1.5, 1.0, 2.0, 2.5, 3.0]})
    >>> res = attrition(scores, measures=["m"], factors=["site"])
    >>> res[["kind", "variable", "completers_n", "dropouts_n"]]
                 kind variable  completers_n  dropouts_n
    0  baseline score        m             3           3
    1          factor     site             3           3
    >>> res["test"].tolist()
    ['Welch t test', 'Fisher exact test (2x2, expected count < 5)']
    """
    split = _PrePost.of(scores)
    factors = [f for f in factors if f in split.columns]
    present = [m for m in measures if m in split.columns]
    rows = []
    for m in measures:
        if m not in present:
            rows.append(_welch_row(np.array([]), np.array([]), m)
                        | {"note": f"no column '{m}' in the scores"})
            continue
        x, y = split.measure(m)
        has_pre = ~np.isnan(x)
        comp, drop = x[has_pre & ~np.isnan(y)], x[has_pre & np.isnan(y)]
        rows.append(_welch_row(comp, drop, m))
    if factors:
        if present:
            completed = np.zeros(split.ids.size, dtype=bool)
            for m in present:
                completed |= ~np.isnan(split.measure(m)[1])
        else:
            completed = split.has_post
        for f in factors:
            levels, codes = split.factor(f)  # from the pre row: missing (-1) without one
            keep = split.has_pre & (codes >= 0)
            cells = np.bincount(2 * codes[keep] + ~completed[keep], minlength=2 * levels.size)
            table = pd.DataFrame(cells.reshape(-1, 2), index=levels,
                                 columns=["completer", "dropout"])
            rows.append(_completion_row(table, f))
    out = pd.DataFrame(rows, columns=ATTRITION_COLUMNS)
    for c in ("completers_n", "dropouts_n"):
        out[c] = out[c].astype(int)
    return out
