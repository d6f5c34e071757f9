"""From a cohort config to cleaned, scored sections with their accounting: the one call every report makes."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .cleaning import LOG_COLUMNS, accounting, clean_section, read_section
from .cohort import SectionData
from .config import load_config
from .errors import ConfigError, DataError
from .instruments import load_instrument
from .validation import PROBLEM_COLUMNS


@dataclass
class Cohort:
    """Everything cleaning produced for one cohort config.

    Attributes
    ----------
    config : evalkit.config.CohortConfig
    sections : dict of str -> evalkit.cohort.SectionData
    log : pandas.DataFrame
        The cleaning log of every section (``cleaning.LOG_COLUMNS``).
    summary : pandas.DataFrame
        Rows in / kept / excluded per file and reason (``section`` column first).
    problems : pandas.DataFrame
        Validation findings (``validation.PROBLEM_COLUMNS``).
    notes : dict
        File name -> how it was read (encoding, separator, header row, ...).
    """

    config: object
    sections: dict
    log: pd.DataFrame
    summary: pd.DataFrame
    problems: pd.DataFrame
    rows: pd.DataFrame
    notes: dict = field(default_factory=dict)

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

    Parameters
    ----------
    config : str, pathlib.Path or evalkit.config.CohortConfig
        The cohort config or its path.

    Returns
    -------
    Cohort

    Raises
    ------
    ConfigError, DataError
        Fatal problems (missing file or column, unknown instrument, no usable rows).

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
    sections, logs, summaries, problems, rows, notes = {}, [], [], [], [], {}
    for name, scfg in config.sections.items():
        try:
            instrument = load_instrument(scfg.instrument, base=config.path.parent)
        except ConfigError as exc:
            if exc.file is None:
                raise ConfigError(exc.message, file=config.path, column=f"{name}.instrument",
                                  expected=exc.expected) from None
            raise
        frames, found, file_notes = read_section(scfg, instrument=instrument)
        notes.update(file_notes)
        problems.append(found)
        result = clean_section(frames, section_cfg=scfg, instrument=instrument, analysis=config.analysis)
        if result["scores"].empty:
            raise DataError(f"no usable rows in section '{name}': every row was excluded "
                            f"(run 'evalkit validate' to see why)", file=scfg.files[0])
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
            log=result["log"], files=[Path(p) for p in scfg.files])
    summary = pd.concat(summaries, ignore_index=True)
    summary = summary[["section"] + [c for c in summary.columns if c != "section"]]
    log = pd.concat(logs, ignore_index=True)[LOG_COLUMNS]
    probs = [p for p in problems if len(p)]
    problems = pd.concat(probs, ignore_index=True)[PROBLEM_COLUMNS] if probs else pd.DataFrame(columns=PROBLEM_COLUMNS)
    return Cohort(config=config, sections=sections, log=log, summary=summary, problems=problems,
                  rows=pd.concat(rows, ignore_index=True), notes=notes)


def write_csv(frame, path):
    """Write a results table deterministically (fixed float format, ``\\n`` line ends, no index)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.10g")
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
