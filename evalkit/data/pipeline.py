"""From a cohort config to cleaned, scored sections with their accounting: the one call every report makes."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cleaning import LOG_COLUMNS, accounting, check_item_map, clean_section, missing_warnings, read_section
from .cohort import SectionData
from .config import load_config
from ..errors import ConfigError, DataError
from .instruments import load_instrument, with_response
from .io import FILE
from .service import prepare_service_data
from .validation import PROBLEM_COLUMNS


@dataclass
class Cohort:
    """Everything cleaning produced for one cohort config.

    Attributes
    ----------
    config : evalkit.data.config.CohortConfig
    sections : dict of str -> evalkit.data.cohort.SectionData
    log : pandas.DataFrame
        The cleaning log of every section (``cleaning.LOG_COLUMNS``).
    summary : pandas.DataFrame
        Rows in / kept / excluded per file and reason (``section`` column first); the sections
        ``sessions``, ``training`` (whose rows are facilitators, one per id) and ``system`` follow the
        questionnaire sections when configured.
    problems : pandas.DataFrame
        Validation findings (``validation.PROBLEM_COLUMNS``).
    rows : pandas.DataFrame
        Every input row: ``_file, _row, id, timepoint, status`` (kept/excluded), ``reason``.
    notes : dict
        File name -> how it was read (encoding, separator, header row, Qualtrics
        rows skipped, form bookkeeping columns dropped, ...); and section name
        (``children``, ``facilitators``) -> sentences on the section as a whole:
        its layout, how many questionnaires came from how many rows (in the wide
        layout the accounting counts questionnaires, not rows), how many columns
        matched items by their question text or were dropped. They quote no value
        and no header that could be a name, so the data-quality page may show them.
    reading : dict
        Section name -> what ``evalkit validate`` prints about its columns:
        ``layout``, ``rows`` and ``questionnaires`` (counts), ``by_text`` (file,
        header, item) of the columns matched by question text, ``unmatched``
        (file, header) of the columns dropped. Headers may be anything (a name):
        not for shared pages.
    sessions : pandas.DataFrame or None
        The ``sessions`` section (issue 13), one row per delivered session; None when the config has no
        ``sessions``. Columns: ``group`` and ``facilitator`` (opaque codes ``G001``/``F001``..., the same
        codes as the children's ``group`` and ``facilitator``: the children's are assigned first, names met
        only in the sessions get the next ones; NaN where not given), ``site`` (text, most common spelling),
        ``date`` (datetime64), ``session`` and ``attended`` (Int64), then one float column (1.0 delivered,
        0.0 not, NaN missing) per column of ``sessions.fidelity``, named as the config names it. Rows
        without a group or a date are excluded and logged (:func:`evalkit.data.service.clean_sessions`).
    training : pandas.DataFrame or None
        One row per facilitator with a training date (None unless ``facilitators.columns`` names
        ``trained_on``): ``facilitator`` (the same opaque codes, keyed by the facilitator's id in the
        facilitators' files), ``site``, ``trained_on`` (datetime64) and ``first_session`` (datetime64, NaT
        when they delivered no session: their earliest ``date`` in ``sessions``).
    system : pandas.DataFrame or None
        The ``system`` section, one row per locality, month and measure: ``locality`` (text, as
        ``system.embedded_from`` writes it where it names it), ``month`` (``period[M]``), ``measure`` (the
        key of ``system.measures``), ``count`` (Int64, 0 or more), ``denominator`` (float above 0).
    warnings : list of str
        What a reader of the results must know first, as plain sentences that
        quote no value from a data file (safe to show on shared pages, as
        ``evalkit validate`` does at the top): one per measure (subscale) of
        which cleaning set more than 5% of the answers present in the files
        missing, e.g. ``"children: 41% of the answers to Differentiating
        Emotions were set missing (not a whole number: 380 cells); see
        results/cleaning_log.csv"`` (counts below ``min_cell`` are written
        "fewer than 5"). Empty when nothing needs saying.
    """

    config: object
    sections: dict
    log: pd.DataFrame
    summary: pd.DataFrame
    problems: pd.DataFrame
    rows: pd.DataFrame
    notes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    reading: dict = field(default_factory=dict)
    sessions: pd.DataFrame | None = None
    training: pd.DataFrame | None = None
    system: pd.DataFrame | None = None

    @property
    def instrument_warnings(self):
        """One sentence per instrument with a placeholder key or that is an example (see ``Instrument.warning``)."""
        out = []
        for section in self.sections.values():
            warning = section.instrument.warning
            if warning and warning not in out:
                out.append(warning)
        return out

    @property
    def children(self):
        """The children's :class:`SectionData`, or None."""
        return self.sections.get("children")

    @property
    def facilitators(self):
        """The facilitators' :class:`SectionData`, or None."""
        return self.sections.get("facilitators")

    def scores_table(self):
        """One row per section, person and timepoint with every measure (``scores.csv``)."""
        parts = [s.scores.assign(section=name) for name, s in self.sections.items()]
        table = pd.concat(parts, ignore_index=True)
        first = ["section", "id", "timepoint", "matched"]
        return table[first + [c for c in table.columns if c not in first]]


def prepare_cohort(config):
    """Read, validate, clean, match and score every section of a cohort.

    The questionnaire sections (``children``, ``facilitators``) become :class:`SectionData`; then the
    delivery and system data of issue 13 (``sessions``, the facilitators' ``trained_on`` dates and
    ``system``) are read and cleaned by :func:`evalkit.data.service.prepare_service_data` into
    ``Cohort.sessions``, ``.training`` and ``.system``, sharing the children's group and facilitator
    codes; their logs, accounting and problems join the cohort's.

    Parameters
    ----------
    config : str, pathlib.Path or evalkit.data.config.CohortConfig
        The cohort config or its path.

    Returns
    -------
    Cohort

    Raises
    ------
    ConfigError, DataError
        Fatal problems (missing file or column, unknown instrument, an ``items``
        rename to an id the instrument does not have, no usable rows). When every
        row of a section is excluded the message counts the reasons and says
        what to fix (e.g. the timepoint labels found that the config does not
        list).

    Notes
    -----
    A section in which nobody has both a pre and a post questionnaire (only
    baseline data so far, or only end-of-programme data) is usable: its
    people are counted and described, and ``problems`` carries a warning that
    pre/post comparisons cannot be made. Only a section with no usable row at
    all is an error.

    Examples
    --------
    >>> cohort = prepare_cohort("data/sample/cohort.yml")
    >>> sorted(cohort.sections)
    ['children', 'facilitators']
    >>> row = cohort.summary.iloc[-1]
    >>> bool(row.rows_in == row.rows_kept + row.rows_excluded)
    True
    """
    if not hasattr(config, "sections"):
        config = load_config(config)
    sections, logs, summaries, problems, rows, notes, warnings, reading = {}, [], [], [], [], {}, [], {}
    codes = {"group": {}, "facilitator": {}}
    for name, scfg in config.sections.items():
        instrument = section_instrument(scfg, config)
        check_item_map(scfg, instrument, config.path)
        frames, found, file_notes = read_section(scfg, instrument=instrument)
        notes.update(file_notes)
        reading[name] = _reading(frames, scfg)
        problems.append(found)
        result = clean_section(frames, section_cfg=scfg, instrument=instrument, analysis=config.analysis)
        del frames
        if result["waves"].empty:
            raise _nothing_usable(name, scfg, result)
        warnings.extend(missing_warnings(result["answer_counts"], instrument=instrument, section=name,
                                         min_cell=config.disclosure["min_cell"]))
        pairs = _pairs_problem(name, result["scores"])
        if pairs is not None:
            problems.append(pairs)
        if name == "children":  # the codes every other file shares
            codes.update({role: dict(m) for role, m in result["code_maps"].items()})
        summary, _ = accounting(result["rows"])
        summaries.append(summary.assign(section=name))
        logs.append(result["log"])
        rows.append(result["rows"].assign(section=name))
        if result["not_collected"]:
            problems.append(pd.DataFrame([dict(
                section=name, file="", column=", ".join(result["not_collected"]),
                problem="subscale(s) not collected: no item in any file", rows=0, example_rows="",
                severity="warning", handling="left out of every analysis")]))
        sections[name] = SectionData(
            section=name, instrument=instrument, scores=result["scores"], items=result["items"],
            measures=result["measures"], factors=result["factors"], not_collected=result["not_collected"],
            log=result["log"], files=[Path(p) for p in scfg.files], waves=result["waves"],
            waves_items=result["waves_items"])
    service = prepare_service_data(config, codes)
    if len(service.summary):
        summaries.append(service.summary)
        if len(service.log):
            logs.append(service.log)
        rows.append(service.rows)
        notes.update(service.notes)
        reading.update(service.reading)
    problems.append(service.problems)
    summary = pd.concat(summaries, ignore_index=True)
    counts = [c for c in summary.columns if c not in ("section", "file")]
    summary[counts] = summary[counts].fillna(0).astype(np.int64)
    summary = summary[["section"] + [c for c in summary.columns if c != "section"]]
    log = pd.concat(logs, ignore_index=True)[LOG_COLUMNS]
    probs = [p for p in problems if len(p)]
    problems = pd.concat(probs, ignore_index=True)[PROBLEM_COLUMNS] if probs else pd.DataFrame(columns=PROBLEM_COLUMNS)
    return Cohort(config=config, sections=sections, log=log, summary=summary, problems=problems,
                  rows=pd.concat(rows, ignore_index=True), notes=notes, warnings=warnings, reading=reading,
                  sessions=service.sessions, training=service.training, system=service.system)


def section_instrument(section_cfg, config):
    """A section's instrument with the section's ``response`` range and ``reliability`` applied.

    The config's ``response: {min, max, step}`` overrides the instrument's (and
    gives the range of an instrument that has none, such as ``total_score``); its
    ``reliability`` coefficients join the instrument's (the config's win), so a
    pre-scored measure's reliability table can say which one reliable change uses.

    Raises
    ------
    ConfigError
        Unknown instrument, or no range (naming ``<section>.response``).
    """
    import dataclasses

    name = section_cfg.name
    try:
        instrument = load_instrument(section_cfg.instrument, base=config.path.parent)
    except ConfigError as exc:
        if exc.file is None:
            raise ConfigError(exc.message, file=config.path, column=f"{name}.instrument",
                              expected=exc.expected) from None
        raise
    instrument = with_response(instrument, section_cfg.response, source=config.path, column=f"{name}.response")
    if section_cfg.reliability:
        instrument = dataclasses.replace(instrument, reliability={**instrument.reliability,
                                                                  **section_cfg.reliability})
    return instrument


def _reading(frames, section_cfg):
    """What ``Cohort.reading`` holds for one section (from the standardised frames' ``attrs``)."""
    return {"layout": "wide" if section_cfg.layout == "wide" else
            "long, a file per timepoint" if section_cfg.file_timepoints else "long",
            "rows": sum(f.attrs.get("rows", len(f)) for f in frames),
            "questionnaires": sum(len(f) for f in frames),
            "by_text": [(str(f[FILE].iloc[0]) if len(f) else "", header, item)
                        for f in frames for header, item in f.attrs["match"].by_text],
            "unmatched": [(str(f[FILE].iloc[0]) if len(f) else "", header)
                          for f in frames for header in f.attrs["match"].unmatched]}


def _nothing_usable(name, scfg, result):
    """The error for a section whose every row was excluded: counts per reason and the likely fix."""
    rows, log = result["rows"], result["log"]
    counts = rows["reason"].value_counts()
    parts = ", ".join(f"{n} {why}" for why, n in counts.items())
    top = counts.index[0] if len(counts) else ""
    fix = {
        "blank row": "the file holds only empty rows; export it again with the answers",
        "missing id": f"no row has an id; check that '{scfg.name}.columns.id' names the id column",
        "missing timepoint": f"no row has a timepoint; check that '{scfg.name}.columns.timepoint' names the "
                             f"column that says pre or post",
        "exact duplicate": "every row repeats another",
        "conflicting duplicate": "every person has two different questionnaires at the same timepoint",
        "timepoint differs from its file": f"the timepoint column of the files contradicts the timepoint each "
                                           f"file is given for; check '{scfg.name}.file' (pre: ..., post: ...)",
        "arm not a listed level": f"no row's arm is a level listed under 'analysis.comparison'; list the levels "
                                  f"of the column '{scfg.columns.get('arm', 'arm')}' there (run evalkit validate)",
        "no arm": f"no row says which arm its person is in; check that '{scfg.name}.columns.arm' names the arm "
                  f"column",
    }.get(top, "")
    if top == "unknown timepoint":
        labels = log.loc[log["reason"] == "unknown timepoint", "detail"].str.extract(r"label '(.*)' is not one of")[0]
        shown = ", ".join(f"'{v}'" for v in labels.value_counts().index[:5])
        fix = (f"the timepoint labels found ({shown}) are not in the config; list them under "
               f"'{scfg.name}.timepoints' (e.g. pre: [{labels.iloc[0]}])")
    elif top == "no answers":
        missing = log[log["action"] == "set missing"]
        fix = "no row has a usable answer"
        if len(missing):
            # counted, not quoted: this message may reach a batch index, and a cell may hold a child's words
            counts = missing["reason"].value_counts()
            why = counts.index[0]
            fix += f"; the answers were {why} ({counts.iloc[0]} cells; open the file to see them)"
            if why == "not a number or response label":
                fix += ("; if these are response labels, add them under 'response: labels' in a copy of the "
                        "instrument file and name that copy as the instrument")
        else:
            fix += "; every answer cell is empty"
    files = [p.name for p in scfg.files]
    message = (f"no usable rows in section '{name}': all {len(rows)} rows were excluded ({parts})"
               + (f"; {fix}" if fix else ""))
    shareable = None
    if top == "unknown timepoint":  # the labels help the user but may be a child's name typed in a cell
        shareable = (f"no usable rows in section '{name}': all {len(rows)} rows were excluded ({parts}); the "
                     f"timepoint labels found are not in the config (run evalkit validate to see them)")
    return DataError(message, file=scfg.files[0] if len(files) == 1 else None,
                     column=None if len(files) == 1 else f"{name}.file", shareable=shareable)


def _pairs_problem(name, scores):
    """A warning row when nobody in a section has both a pre and a post questionnaire (else None)."""
    if scores["matched"].any():
        return None
    if scores.empty:  # every kept person is in the comparison arm, or answered only at follow-up
        return pd.DataFrame([dict(
            section=name, file="", column="timepoint", problem="nobody in the analysed arm has a pre or a post "
            "questionnaire", rows=0, example_rows="", severity="warning",
            handling="pre/post comparisons cannot be made")])
    have = sorted(set(scores["timepoint"]))
    only = {"pre": "only pre questionnaires", "post": "only post questionnaires"}.get(have[0]) if len(have) == 1 \
        else "pre and post questionnaires of different people"
    return pd.DataFrame([dict(
        section=name, file="", column="timepoint", problem=f"nobody has both a pre and a post questionnaire "
        f"({only}, {scores['id'].nunique()} people)", rows=len(scores), example_rows="", severity="warning",
        handling="people are counted and described; pre/post comparisons cannot be made")])


#: A text cell starting with one of these is read by a spreadsheet as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralised(values):
    """Text values starting like a formula, prefixed with ``'``; None when there is none (checked per distinct value)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    hit = np.fromiter((isinstance(u, str) and u.startswith(FORMULA_STARTS) for u in uniques), dtype=bool,
                      count=len(uniques))
    if not hit.any():
        return None
    fixed = np.asarray(uniques, dtype=object).copy()
    fixed[hit] = ["'" + u for u in fixed[hit]]
    out = np.asarray(values, dtype=object).copy()
    out[codes >= 0] = fixed[codes[codes >= 0]]
    return out


def neutralise_formulas(frame):
    """Prefix with ``'`` every text cell (and column name) that a spreadsheet would run as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    (an id typed as ``=HYPERLINK(...)``, a factor level ``+1``) is what OWASP
    calls CSV injection: Excel runs it when the data team opens the file.
    Numbers are left alone: a numeric column keeps ``-0.5``.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when nothing needs changing, else a changed copy.

    Examples
    --------
    >>> t = pd.DataFrame({"id": ["=HYPERLINK(1)", "c01", None], "level": ["+1", "-", "a"], "d": [-0.5, 1.0, 2.0]})
    >>> neutralise_formulas(t).to_dict("list")
    {'id': ["'=HYPERLINK(1)", 'c01', None], 'level': ["'+1", "'-", 'a'], 'd': [-0.5, 1.0, 2.0]}
    """
    out = frame
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if isinstance(column.dtype, pd.CategoricalDtype):
            fixed = _neutralised(column.cat.categories)
            if fixed is not None:
                fixed = pd.Series(column.astype(object).to_numpy(), index=frame.index).map(
                    dict(zip(column.cat.categories, fixed))).where(column.notna(), None)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            fixed = _neutralised(column.to_numpy(dtype=object))
        else:  # numbers, booleans, dates: never formulas
            continue
        if fixed is not None:
            if out is frame:
                out = frame.copy()
            out.isetitem(j, np.asarray(fixed, dtype=object))
    names = [f"'{c}" if isinstance(c, str) and c.startswith(FORMULA_STARTS) else c for c in frame.columns]
    if names != list(frame.columns):
        out = out.copy() if out is frame else out
        out.columns = names
    return out


def write_csv(frame, path):
    """Write a results table deterministically (fixed float format, ``\\n`` line ends, no index).

    Text cells that a spreadsheet would run as formulas are neutralised first
    (:func:`neutralise_formulas`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(frame).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")
    return path


def write_cleaning_results(cohort, results_dir):
    """Write ``cleaning_log.csv``, ``cleaning_summary.csv``, ``problems.csv`` and ``scores.csv``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    results_dir = Path(results_dir)
    return [
        write_csv(cohort.log, results_dir / "cleaning_log.csv"),
        write_csv(cohort.summary, results_dir / "cleaning_summary.csv"),
        write_csv(cohort.problems, results_dir / "problems.csv"),
        write_csv(cohort.scores_table(), results_dir / "scores.csv"),
    ]
