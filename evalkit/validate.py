"""``evalkit validate``: the cleaning accounting and every problem found, printed for a person to read."""
from __future__ import annotations

import sys

import pandas as pd

from .data.cleaning import action_counts
from .data.pipeline import prepare_cohort


def _table(frame):
    if frame.empty:
        return "  (none)"
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
                           "display.max_colwidth", 70):
        return "\n".join("  " + line for line in frame.to_string(index=False).splitlines())


def validate(config, *, out=None):
    """Clean a cohort without analysing it and print the accounting, the problems and the actions.

    Parameters
    ----------
    config : str or pathlib.Path
        Cohort config.
    out : file-like, optional
        Where to print (default standard output).

    Returns
    -------
    int
        0 when the data is usable (errors raise :class:`evalkit.EvalkitError`, exit 2).
    """
    out = out or sys.stdout
    cohort = prepare_cohort(config)
    p = lambda *a: print(*a, file=out)  # noqa: E731
    for warning in cohort.instrument_warnings:
        p(f"check the questionnaire: {warning}")
    for warning in cohort.warnings:
        p(f"warning: {warning}")
    if cohort.warnings or cohort.instrument_warnings:
        p("")
    p(f"Cohort: {cohort.config.name} ({cohort.config.path})")
    for name, notes in cohort.notes.items():
        if notes:
            p(f"  {name}: {'; '.join(notes)}")
    p("\nRows in = rows kept + rows excluded, per file:")
    cols = ["section", "file", "rows_in", "rows_kept", "rows_excluded"]
    reasons = [c for c in cohort.summary.columns if c not in cols and cohort.summary[c].sum() > 0]
    p(_table(cohort.summary[cols + reasons]))
    ok = (cohort.summary["rows_in"] == cohort.summary["rows_kept"] + cohort.summary["rows_excluded"]).all()
    p(f"  accounting identity holds: {'yes' if ok else 'NO'}")
    p("\nProblems found in the files (pandera, all at once):")
    p(_table(cohort.problems.drop(columns=["section"]) if len(cohort.problems) else cohort.problems))
    p("\nCleaning actions (full list: results/cleaning_log.csv from 'evalkit report'):")
    p(_table(action_counts(cohort.log)))
    for name, sec in cohort.sections.items():
        matched = sec.scores.loc[sec.scores["matched"], "id"].nunique()
        people = sec.scores["id"].nunique()
        p(f"\n{name}: {people} people, {matched} with both pre and post; measures: {', '.join(sec.measures)}"
          + (f"; not collected: {', '.join(sec.not_collected)}" if sec.not_collected else ""))
        if not matched:
            p(f"  note: nobody in {name} has both a pre and a post questionnaire, so pre/post comparisons "
              f"cannot be made; people are counted and described")
    p("\nThe data is usable." + (" Read the warning(s) at the top first: the answers set missing may change the "
                                  "results." if cohort.warnings else ""))
    return 0
