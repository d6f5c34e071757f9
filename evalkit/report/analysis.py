"""Run every statistic of one section and write the results tables as deterministic CSV files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .findings import findings
from ..stats.moderators import ancova, moderators
from ..stats.reliability import _Answers, item_statistics, reliability
from ..stats import attrition, item_distributions, paired_outcomes, reliable_change
from ..stats.paired import _PrePost

#: Result file stems each section produces, in the order they are computed.
RESULT_KEYS = {
    "children": ("child_outcomes", "moderators", "ancova", "reliable_change", "reliability",
                 "item_statistics", "attrition", "findings"),
    "facilitators": ("facilitator_outcomes", "facilitator_items", "facilitator_reliable_change",
                     "reliability", "item_statistics", "facilitator_findings"),
}
#: Keys both sections produce: stacked into one file, told apart by ``instrument``.
SHARED_KEYS = ("reliability", "item_statistics")
#: ``float_format`` of :func:`write_results`: 10 significant digits.
FLOAT_FORMAT = "%.10g"


def analyse_section(section, *, alpha=0.05, min_group_n=10, reliability_coefficients=None,
                    confidence=0.95, min_cell=5):
    """Every results table of one section (children or facilitators).

    Parameters
    ----------
    section : evalkit.data.cohort.SectionData
        Cleaned, scored data of the section.
    alpha : float
        Significance level (primary-test rule and findings).
    min_group_n : int
        Smallest group kept in moderator analyses.
    reliability_coefficients : dict, optional
        Measure id -> reliability for the reliable change index (the cohort
        config's ``reliability``); measures not in it fall back to the
        instrument file's ``reliability``, then to the cohort's baseline alpha.
    confidence : float
        Level of every interval.

    Returns
    -------
    dict of str -> pandas.DataFrame
        Keyed by results file stem. Children: ``child_outcomes``
        (:func:`~evalkit.stats.paired_outcomes`), ``moderators``
        (:func:`~evalkit.stats.moderators.moderators`, type III), ``ancova``,
        ``reliable_change``, ``reliability``, ``item_statistics`` (pre),
        ``attrition``, ``findings``. Facilitators: ``facilitator_outcomes``,
        ``facilitator_items`` (:func:`~evalkit.stats.item_distributions`),
        ``facilitator_reliable_change``, ``reliability``, ``item_statistics``,
        ``facilitator_findings``. The reliable change and findings tables start
        with a ``section`` column (``"children"`` / ``"facilitators"``). The keys
        both sections share (``SHARED_KEYS``: ``reliability``, ``item_statistics``,
        which carry ``instrument``) are stacked into one file by
        :func:`merge_results`.

    Raises
    ------
    DataError
        When ``section.section`` is neither ``"children"`` nor ``"facilitators"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.data.cohort import Instrument, SectionData, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=5, labels={}, scoring="mean",
    ...                   min_answered=1, subscales=(Subscale("k", "Knowledge", ("i1", "i2")),))
    >>> items = pd.DataFrame({"id": list("abcd") * 2, "timepoint": ["pre"] * 4 + ["post"] * 4,
    ...                       "i1": [1, 2, 2, 3, 3, 4, 4, 5.0], "i2": [2, 2, 3, 3, 4, 4, 5, 4.0]})
    >>> scores = items[["id", "timepoint"]].assign(k=items[["i1", "i2"]].mean(axis=1))
    >>> sec = SectionData(section="facilitators", instrument=inst, scores=scores, items=items,
    ...                   measures=["k"], factors=[])
    >>> res = analyse_section(sec)
    >>> list(res)[:3]
    ['facilitator_outcomes', 'facilitator_items', 'facilitator_reliable_change']
    >>> res["facilitator_findings"][["section", "measure", "primary_test"]]
            section measure primary_test
    0  facilitators       k     Wilcoxon
    """
    kind = section.section
    if kind not in RESULT_KEYS:
        raise DataError(f"unknown section '{kind}'", column="section",
                        expected="'children' or 'facilitators'")
    inst, items = section.instrument, section.items
    # split scores into pre/post and wrap the items once: every table below reads the same
    # matched arrays, factor codes and item covariance matrices (checked and computed once)
    scores = _PrePost(section.scores)
    # the cleaning writes items and scores with the same id and timepoint columns: then the scores'
    # check (one row per person and timepoint) holds for the items too
    same_keys = len(items) == len(section.scores) and all(
        np.array_equal(items[c].to_numpy(), section.scores[c].to_numpy()) for c in ("id", "timepoint"))
    answers = _Answers(items, checked=same_keys)
    measures, factors = list(section.measures), list(section.factors)
    coefficients = {**(inst.reliability or {}), **(reliability_coefficients or {})}
    outcomes = paired_outcomes(scores, measures=measures, labels=section.labels, alpha=alpha,
                               confidence=confidence)
    rel = reliability(answers, instrument=inst, measures=measures, confidence=confidence)
    rc = reliable_change(scores, measures=measures, reliability=coefficients, items=answers,
                         instrument=inst, confidence=confidence)
    subscales = [m for m in measures if m in {s.id for s in inst.subscales}]
    stats_items = item_statistics(answers, instrument=inst, measures=subscales,
                                  timepoints=("pre",))
    population = "children" if kind == "children" else "facilitators"
    said = findings(outcomes, instrument=inst, population=population, alpha=alpha,
                    reliable_change=rc, min_cell=min_cell)
    rc, said = rc.assign(section=kind), said.assign(section=kind)
    rc, said = rc[["section", *rc.columns[:-1]]], said[["section", *said.columns[:-1]]]
    if kind == "children":
        return {
            "child_outcomes": outcomes,
            "moderators": moderators(scores, measures=measures, factors=factors,
                                     min_group_n=min_group_n),
            "ancova": ancova(scores, measures=measures, factors=factors, min_group_n=min_group_n),
            "reliable_change": rc,
            "reliability": rel,
            "item_statistics": stats_items,
            "attrition": attrition(scores, measures=measures, factors=factors),
            "findings": said,
        }
    return {
        "facilitator_outcomes": outcomes,
        "facilitator_items": item_distributions(items, instrument=inst),
        "facilitator_reliable_change": rc,
        "reliability": rel,
        "item_statistics": stats_items,
        "facilitator_findings": said,
    }


def merge_results(*results):
    """Combine the result dicts of several sections, stacking tables that share a key.

    Parameters
    ----------
    *results : dict of str -> pandas.DataFrame
        Outputs of :func:`analyse_section`.

    Returns
    -------
    dict of str -> pandas.DataFrame
        Tables with the same key (``reliability``, ``item_statistics``) are
        concatenated in argument order; other keys are passed through.

    Examples
    --------
    >>> import pandas as pd
    >>> a = {"reliability": pd.DataFrame({"instrument": ["x"]}), "child_outcomes": pd.DataFrame()}
    >>> b = {"reliability": pd.DataFrame({"instrument": ["y"]})}
    >>> merge_results(a, b)["reliability"]["instrument"].tolist()
    ['x', 'y']
    """
    merged = {}
    for res in results:
        for key, frame in res.items():
            merged.setdefault(key, []).append(frame)
    return {k: (v[0] if len(v) == 1 else pd.concat(v, ignore_index=True))
            for k, v in merged.items()}


def write_results(results, out_dir):
    """Write every table as ``<out_dir>/<key>.csv``, byte-identical for identical inputs.

    Parameters
    ----------
    results : dict of str -> pandas.DataFrame
        Tables keyed by file stem (from :func:`analyse_section` or
        :func:`merge_results`).
    out_dir : str or pathlib.Path
        Folder to write to (created if missing).

    Returns
    -------
    list of pathlib.Path
        Files written, sorted by name.

    Notes
    -----
    Columns keep the order the functions document, rows the order they return
    (measures in instrument order, factor levels sorted), floats are written
    with ``%.10g`` (10 significant digits), missing values as empty fields,
    UTF-8, ``\\n`` line endings, no index. A text cell starting like a
    spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) gets
    a leading ``'`` (:func:`evalkit.data.pipeline.neutralise_formulas`).

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_results({"t": pd.DataFrame({"x": [1 / 3, None], "y": ["a", "b"]})}, tmp)
    ...     print(paths[0].read_text(), end="")
    x,y
    0.3333333333,a
    ,b
    """
    from ..data.pipeline import neutralise_formulas

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for key in sorted(results):
        path = out_dir / f"{key}.csv"
        neutralise_formulas(results[key]).to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n",
                                                 na_rep="", encoding="utf-8")
        written.append(path)
    return written
