"""Run every statistic of one section and write the results tables as deterministic CSV files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .findings import findings, sustained
from ..stats.moderators import ancova, moderators
from ..stats.reliability import _Answers, item_statistics, reliability
from ..stats import (CLUSTERING_COLUMNS, attrition, clustering, compare_arms, dose_response, holm,
                     intention_to_treat, item_distributions, paired_outcomes, reliable_change)
from ..stats.paired import _PrePost

#: Result file stems each section produces, in the order they are computed.
RESULT_KEYS = {
    "children": ("child_outcomes", "moderators", "ancova", "reliable_change", "reliability",
                 "item_statistics", "attrition", "findings", "intention_to_treat", "clustering"),
    "facilitators": ("facilitator_outcomes", "facilitator_items", "facilitator_reliable_change",
                     "reliability", "item_statistics", "facilitator_findings", "intention_to_treat", "clustering"),
}
#: Result file stems a section adds only when its data allow: ``comparison`` (children, with an arm column and
#: ``analysis.comparison``) and ``dose`` (a ``sessions`` column).
OPTIONAL_KEYS = ("comparison", "dose")
#: Result file stems made once for the cohort by :func:`analyse_cohort` (not per section).
COHORT_KEYS = ("evidence",)
#: Keys both sections produce: stacked into one file, told apart by ``instrument`` (reliability, item
#: statistics) or by their first column ``section``.
SHARED_KEYS = ("reliability", "item_statistics", "intention_to_treat", "clustering", "dose")
#: Levels at which outcomes may cluster, in the order the clustering table reports them (``columns`` roles).
CLUSTER_LEVELS = ("group", "facilitator", "site")
#: Follow-up contrasts of the outcomes tables: (contrast, earlier wave, later wave).
FOLLOW_UP_CONTRASTS = (("follow_up-pre", "pre", "follow_up"), ("follow_up-post", "post", "follow_up"))
#: ``holm_family`` of the outcomes rows: which p values each Holm adjustment runs across.
HOLM_FAMILIES = {"post-pre": "post-pre: every measure of the section",
                 "follow_up": "follow-up: both follow-up contrasts, every measure of the section"}
#: ``float_format`` of :func:`write_results`: 10 significant digits.
FLOAT_FORMAT = "%.10g"


def analyse_section(section, *, alpha=0.05, min_group_n=10, reliability_coefficients=None,
                    confidence=0.95, min_cell=5, comparison=None, full_dose=5, columns=None):
    """Every results table of one section (children or facilitators).

    Parameters
    ----------
    section : evalkit.data.cohort.SectionData
        Cleaned, scored data of the section. ``section.scores`` (pre and post, the intervention arm
        only when there is an arm) feeds every table that existed before issue 12; ``section.waves``
        (every person of every arm at every wave; ``scores`` when absent) feeds the intention-to-treat
        model, the comparison of arms and the follow-up contrasts.
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
    min_cell : int
        Smallest count printed in a sentence (``disclosure.min_cell``).
    comparison : dict, optional
        The config's ``analysis.comparison`` (``{"intervention": [...], "comparison": [...]}``): with an
        ``arm`` column the children get the ``comparison`` table, and every other table keeps to the
        intervention arm.
    full_dose : int
        Sessions attended that count as a full dose (``analysis.full_dose``).
    columns : dict, optional
        The section's configured column roles (``config.sections[name].columns``): ``group``,
        ``facilitator`` and ``site`` are the clustering levels, ``sessions`` gives the dose table, ``arm``
        the arms. When not given, the roles are read from the columns present in the data.

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
        ``facilitator_findings``. Both sections then add ``intention_to_treat``
        (:func:`~evalkit.stats.intention_to_treat`) and ``clustering``
        (:func:`~evalkit.stats.clustering`; no rows without a clustering level), and, when the
        data allow, ``comparison`` (children with arms, :func:`~evalkit.stats.compare_arms`) and
        ``dose`` (a ``sessions`` column, :func:`~evalkit.stats.dose_response`). The reliable change,
        findings and issue-12 tables start with a ``section`` column (``"children"`` /
        ``"facilitators"``). The keys both sections share (``SHARED_KEYS``) are stacked into one file
        by :func:`merge_results`.

        The outcomes table carries ``contrast``: ``post-pre`` for the rows of the programme's change,
        and, with a follow-up wave, ``follow_up-pre`` and ``follow_up-post`` rows with the same columns
        (``mean_pre``/``mean_post`` are then the earlier and the later wave of the contrast). The
        post-pre rows are one Holm family (as before); the follow-up rows are a second family, every
        measure and both contrasts, so that adding a follow-up never changes a post-pre p value;
        ``holm_family`` says which. Findings and reliable change are computed from the post-pre rows
        only; with a follow-up the findings gain one ``contrast == "follow_up"`` row per measure saying
        whether the change lasted (:func:`~evalkit.report.findings.sustained`).

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
    >>> res["facilitator_findings"][["section", "measure", "primary_test", "contrast"]]
            section measure primary_test  contrast
    0  facilitators       k     Wilcoxon  post-pre
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
    # reliable change and findings read the post-pre rows only (the follow-up rows are added after)
    rc = reliable_change(scores, measures=measures, reliability=coefficients, items=answers,
                         instrument=inst, confidence=confidence)
    subscales = [m for m in measures if m in {s.id for s in inst.subscales}]
    stats_items = item_statistics(answers, instrument=inst, measures=subscales,
                                  timepoints=("pre",))
    population = "children" if kind == "children" else "facilitators"
    said = findings(outcomes, instrument=inst, population=population, alpha=alpha,
                    reliable_change=rc, min_cell=min_cell).assign(contrast="post-pre")
    roles = _roles(section, columns)
    waves = _waves(section, comparison if "arm" in roles else None)
    treated = waves[(waves["arm"] == "intervention").fillna(False).to_numpy(bool)] if "arm" in waves else waves
    outcomes = _with_contrast(outcomes, "post-pre")
    follow = follow_up_outcomes(treated, measures=measures, labels=section.labels, alpha=alpha,
                                confidence=confidence)
    if follow is not None:
        outcomes = pd.concat([outcomes, follow], ignore_index=True)
        said = pd.concat([said, sustained(outcomes, instrument=inst, population=population, alpha=alpha,
                                          min_cell=min_cell).assign(contrast="follow_up")], ignore_index=True)
    rc, said = _first(rc, "section", kind), _first(said, "section", kind)
    extra = _issue12_tables(treated, waves, kind=kind, measures=measures, roles=roles, comparison=comparison,
                            full_dose=full_dose, confidence=confidence)
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
            **extra,
        }
    return {
        "facilitator_outcomes": outcomes,
        "facilitator_items": item_distributions(items, instrument=inst),
        "facilitator_reliable_change": rc,
        "reliability": rel,
        "item_statistics": stats_items,
        "facilitator_findings": said,
        **extra,
    }


def _first(table, column, value):
    """``table`` with ``column`` = ``value`` put first."""
    return table.assign(**{column: value})[[column, *[c for c in table.columns if c != column]]]


def _with_contrast(outcomes, contrast):
    """The outcomes table with ``contrast`` after ``label`` and ``holm_family`` last."""
    family = HOLM_FAMILIES["post-pre" if contrast == "post-pre" else "follow_up"]
    out = outcomes.assign(contrast=contrast, holm_family=family)
    cols = [c for c in outcomes.columns]
    cols.insert(cols.index("label") + 1, "contrast")
    return out[cols + ["holm_family"]]


def _roles(section, columns):
    """The section's configured column roles; read from the data's columns when the config is not given."""
    if columns is not None:
        return set(columns)
    data = _raw_waves(section)
    return {c for c in (*CLUSTER_LEVELS, "sessions", "arm") if c in data.columns}


def _raw_waves(section):
    waves = getattr(section, "waves", None)
    return section.scores if waves is None else waves


def _blank_to_missing(values):
    """Text codes with blank cells as missing (a blank group: the person was seen alone).

    Examples
    --------
    >>> _blank_to_missing(pd.Series(["G1", " ", None, "G2 "])).tolist()
    ['G1', None, None, 'G2']
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # strip each distinct value once
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    text = text.where(text != "", None).to_numpy(dtype=object)
    out = np.full(len(codes), None, dtype=object)
    out[codes >= 0] = text[codes[codes >= 0]]
    return pd.Series(out, index=values.index, dtype=object)


def _arms(values, comparison):
    """``"intervention"`` / ``"comparison"`` (missing otherwise) for each value of the arm column.

    The cleaning writes the arm column as ``"intervention"`` / ``"comparison"`` already; labels still as
    written are matched to ``analysis.comparison`` as the config compares them (case, spaces, numbers).
    """
    from ..data.instruments import timepoint_key

    known = {timepoint_key(label): arm for arm in ("intervention", "comparison")
             for label in (comparison or {}).get(arm, [])}
    known.update(intervention="intervention", comparison="comparison")
    uniques = pd.unique(values.dropna())
    mapping = {v: known.get(timepoint_key(v)) for v in uniques}
    return values.map(mapping).astype("string")


def _waves(section, comparison):
    """Every wave of every kept person: ``timepoint``, measures, person-level codes cleaned, ``arm`` as words.

    ``arm`` is kept only when the section has an arm (``comparison`` given and an arm column).
    """
    waves = _raw_waves(section)
    fix = {c: _blank_to_missing(waves[c]) for c in ("group", "facilitator", "site") if c in waves}
    if "arm" in waves:
        if comparison is not None:
            fix["arm"] = _arms(waves["arm"], comparison)
        else:
            waves = waves.drop(columns="arm")
    return waves.assign(**fix) if fix else waves


def follow_up_outcomes(waves, *, measures, labels=None, alpha=0.05, confidence=0.95):
    """The follow-up rows of an outcomes table: ``follow_up-pre`` and ``follow_up-post`` for each measure.

    Parameters
    ----------
    waves : pandas.DataFrame
        Long scores of the analysed people (the intervention arm when there is one) at every wave:
        ``id``, ``timepoint`` (``pre``, ``post``, ``follow_up``) and the measures.
    measures : list of str
    labels : dict, optional
    alpha, confidence : float
        As :func:`evalkit.stats.paired_outcomes`.

    Returns
    -------
    pandas.DataFrame or None
        None without a follow-up questionnaire; otherwise the columns of
        :func:`evalkit.stats.paired_outcomes` with ``contrast`` and ``holm_family``, the earlier wave as
        ``pre`` and the later as ``post``. ``p_holm``, ``wilcoxon_p_holm`` and ``p_primary_holm`` are
        Holm-adjusted across every row of this table (both contrasts, every measure): a family of its own,
        so the post-pre p values do not change when a follow-up is added.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
    ...                   "timepoint": ["pre", "post", "follow_up"] * 4,
    ...                   "m": [1, 2, 2.5, 2, 3, 3.1, 1, 2.5, 2, 2, 2.6, 3.4]})
    >>> out = follow_up_outcomes(w, measures=["m"])
    >>> out[["contrast", "n", "mean_diff"]].round(3)
             contrast  n  mean_diff
    0   follow_up-pre  4      1.250
    1  follow_up-post  4      0.225
    """
    if "timepoint" not in waves or not (waves["timepoint"] == "follow_up").any():
        return None
    parts = []
    for contrast, first, second in FOLLOW_UP_CONTRASTS:
        pair = waves.loc[waves["timepoint"].isin((first, second)), ["id", "timepoint", *measures]]
        pair = pair.assign(timepoint=pair["timepoint"].map({first: "pre", second: "post"}))
        res = paired_outcomes(pair, measures=measures, labels=labels, alpha=alpha, confidence=confidence)
        parts.append(_with_contrast(res, contrast))
    out = pd.concat(parts, ignore_index=True)
    for p in ("p", "wilcoxon_p", "p_primary"):
        out[f"{p}_holm"] = holm(out[p])
    return out


def _person_changes(waves, measures, person_columns):
    """One row per person with a pre and a post questionnaire: post - pre of each measure, person columns."""
    split = _PrePost(waves.loc[waves["timepoint"].isin(("pre", "post"))])
    changes = {}
    for m in measures:
        x, y = split.measure(m)
        changes[m] = y - x
    frame = pd.DataFrame(changes, index=split.ids)
    frame = frame[(split.has_pre & split.has_post) & frame.notna().any(axis=1).to_numpy()]
    cols = [c for c in person_columns if c in waves]
    if cols:  # a person-level value may be written at one wave only: the first one given
        frame = frame.join(waves.groupby("id", sort=False)[cols].first())
    return frame.rename_axis("id").reset_index()


def _issue12_tables(treated, waves, *, kind, measures, roles, comparison, full_dose, confidence):
    """``intention_to_treat``, ``clustering``, and when the data allow ``comparison`` and ``dose``."""
    grouped = "group" in roles and "group" in treated and treated["group"].notna().any()
    itt = intention_to_treat(treated, measures=measures, group="group" if grouped else None, confidence=confidence)
    itt["p_holm"] = np.nan
    for contrast in itt["contrast"].unique():  # Holm across the measures of each contrast
        rows = itt["contrast"] == contrast
        itt.loc[rows, "p_holm"] = holm(itt.loc[rows, "p"])
    levels = [c for c in CLUSTER_LEVELS if c in roles]
    changes = _person_changes(treated, measures, [*levels, "sessions"])
    if levels:
        clusters = clustering(changes, measures=measures, levels=levels, confidence=confidence)
    else:
        clusters = pd.DataFrame(columns=CLUSTERING_COLUMNS)
    out = {"intention_to_treat": _first(itt, "section", kind), "clustering": _first(clusters, "section", kind)}
    if kind == "children" and comparison is not None and "arm" in roles and "arm" in waves:
        with_group = "group" in roles and "group" in waves and waves["group"].notna().any()
        table = compare_arms(waves.loc[waves["timepoint"].isin(("pre", "post"))], measures=measures, arm="arm",
                             intervention=["intervention"], comparison=["comparison"],
                             group="group" if with_group else None, confidence=confidence)
        table["p_holm"] = holm(table["p"])
        out["comparison"] = _first(table, "section", kind)
    if "sessions" in roles:
        if "sessions" not in changes:
            changes["sessions"] = np.nan
        table = dose_response(changes, measures=measures, sessions="sessions", full_dose=full_dose,
                              confidence=confidence)
        table["slope_p_holm"] = holm(table["slope_p"])
        out["dose"] = _first(table, "section", kind)
    return out


def analyse_cohort(cohort):
    """Every results table of a cleaned cohort, keyed by file stem, and the evidence appraisal.

    Each section is analysed by :func:`analyse_section` with the config's ``analysis`` settings
    (``alpha``, ``min_group_n``, ``comparison``, ``full_dose``), its ``reliability`` and its configured
    column roles; tables of the same key are stacked in section order. ``evidence``
    (:func:`evalkit.report.evidence.appraise`) appraises each section in turn (children first, as the
    sections come), told apart by its first column ``section``; each section's block ends with its
    ``claim`` row. With sessions, training dates or system outcomes (issue 13) the results also hold
    ``implementation``, ``fidelity_outcomes``, ``embedding`` and ``system_its``
    (:func:`evalkit.report.service.service_results`).

    Parameters
    ----------
    cohort : evalkit.data.pipeline.Cohort

    Returns
    -------
    dict of str -> pandas.DataFrame
    """
    from .evidence import appraise

    config = cohort.config
    settings = config.analysis
    min_cell = config.disclosure["min_cell"]
    results = {}
    for name, section in cohort.sections.items():
        part = analyse_section(section, alpha=settings["alpha"], min_group_n=settings["min_group_n"],
                               reliability_coefficients=config.sections[name].reliability or None,
                               min_cell=min_cell, comparison=settings.get("comparison"),
                               full_dose=settings.get("full_dose", 5), columns=config.sections[name].columns)
        for key, table in part.items():
            results[key] = _stack([results[key], table]) if key in results else table
    appraisals = []
    for name, section in cohort.sections.items():
        columns = config.sections[name].columns
        appraisals.append(appraise(
            results, section=section, primary=settings.get("primary") or [],
            levels=[c for c in CLUSTER_LEVELS if c in columns],
            arm="arm" in columns and settings.get("comparison") is not None, alpha=settings["alpha"],
            min_cell=min_cell))
    if appraisals:
        results["evidence"] = _stack(appraisals)
    # issue 13: delivery and fidelity, training that becomes practice, system outcomes (each when present)
    from .service import service_results

    results.update(service_results(cohort))
    return results


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
    return {k: _stack(v) for k, v in merged.items()}


def _stack(frames):
    """Tables of one key stacked in order; a table without rows adds none (it keeps only its header)."""
    if not all(isinstance(f, pd.DataFrame) for f in frames):
        return frames[-1]
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0]
    return full[0].reset_index(drop=True) if len(full) == 1 else pd.concat(full, ignore_index=True)


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
