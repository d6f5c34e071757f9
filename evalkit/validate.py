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


def _short(text, width=60):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _print_reading(p, name, reading, notes):
    """How a section's files were read: layout, questionnaires from rows, columns matched by text or dropped."""
    if not reading:
        return
    p(f"  {name}: read as {reading['layout']} layout: {reading['questionnaires']} questionnaires from "
      f"{reading['rows']} rows" + (" (the accounting below counts questionnaires, not rows)"
                                   if reading["questionnaires"] != reading["rows"] else ""))
    for note in notes[1:]:
        if not note.split(" ")[0].isdigit():  # the counts of columns matched by text or dropped: listed below
            p(f"    {note}")
    if reading["by_text"]:
        p(f"    columns matched to items by their question text ({len(reading['by_text'])}):")
        for file, header, item in reading["by_text"]:
            p(f"      {file}: \"{_short(header)}\" -> {item}")
    if reading["unmatched"]:
        p(f"    columns dropped: they match no item (by id or question text) and no configured column "
          f"({len(reading['unmatched'])}); check the wording of any that holds answers:")
        for file, header in reading["unmatched"]:
            p(f"      {file}: \"{_short(header)}\"")


#: What each person-level role of issue 12 is used for, as ``validate`` says it.
_ROLE_USE = {"group": "delivery groups (clusters; names replaced by codes)",
             "facilitator": "facilitators (clusters; names replaced by codes)",
             "sessions": "sessions attended (dose)", "arm": "arm (intervention or comparison)"}


def _print_waves(p, section_cfg, sec):
    """The waves present (people per wave, every arm) and the person-level roles found, with how many have one."""
    waves = sec.waves
    people = waves.groupby("timepoint")["id"].nunique()
    shown = ", ".join(f"{wave} {int(people.get(wave, 0))}" for wave in section_cfg.waves)
    p(f"  waves present (people, every arm): {shown}"
      + ("" if "follow_up" in section_cfg.waves else "; no follow-up wave configured (timepoints: follow_up)"))
    for role, use in _ROLE_USE.items():
        if role not in section_cfg.columns:
            continue
        if role not in waves.columns:
            p(f"  {role}: column '{section_cfg.columns[role]}' not found, so {use.split(' (')[0]} are not analysed")
            continue
        person = waves.drop_duplicates("id")[role]
        given = int(person.notna().sum())
        if role == "arm":
            counts = person.value_counts()
            detail = ", ".join(f"{arm} {int(counts.get(arm, 0))}" for arm in ("intervention", "comparison"))
        elif role == "sessions":
            detail = (f"{given} people with a value" + (f", {person.min():g} to {person.max():g} sessions"
                                                        if given else ""))
        else:
            detail = f"{person.nunique()} {role}s, {given} of {len(person)} people in one"
        p(f"  {role}: {use}: {detail}")


def _print_service(p, cohort):
    """The delivery and system sections (issue 13): rows read and kept, and what they hold, counted, never quoted."""
    cfg, reading = cohort.config, cohort.reading
    if cohort.sessions is not None:
        r = reading["sessions"]
        planned = cfg.sessions.planned_sessions
        p(f"\nsessions: {r['kept']} of {r['rows']} rows kept as delivered sessions; {r['groups']} groups, "
          f"{r['facilitators']} facilitators, {r['sites']} sites (groups and facilitators as codes)"
          + (f"; {planned} sessions planned per group" if planned else "; no planned_sessions configured"))
        if cfg.sessions.fidelity:
            given = cohort.sessions[cfg.sessions.fidelity].notna().to_numpy().sum()
            p(f"  fidelity: {len(cfg.sessions.fidelity)} core component columns ({', '.join(cfg.sessions.fidelity)})"
              f", {int(given)} marks read as delivered or not")
        else:
            p("  fidelity: no columns configured (sessions.fidelity), so fidelity is not measured")
    facilitators = cfg.sections.get("facilitators")
    if cohort.training is not None:
        r = reading["training"]
        p(f"\ntraining: {r['kept']} of {r['rows']} facilitators with a training date; {r['delivering']} of them "
          f"delivered a session in the sessions file(s)")
    elif facilitators is not None and "trained_on" in facilitators.columns:
        p("\ntraining: the trained_on column was not found, so training and embedding are not analysed")
    if cohort.system is not None:
        r = reading["system"]
        p(f"\nsystem: {r['kept']} of {r['rows']} rows kept; {r['localities']} localities, {r['measures']} "
          f"measures, {r['months']} months")
        found = set(cohort.system["locality"])
        months = cohort.system.groupby("locality")["month"].nunique()
        for locality, month in cfg.system.embedded_from.items():
            if locality not in found:
                p(f"  {locality}: embedded from {month} (system.embedded_from), but no kept row is about it; check "
                  f"the spelling of the locality")
                continue
            rows = cohort.system[cohort.system["locality"] == locality]
            before = int(rows.loc[rows["month"] < month, "month"].nunique())
            p(f"  {locality}: embedded from {month}: {before} months before, {int(months[locality]) - before} "
              f"from then on")
        others = len(found - set(cfg.system.embedded_from))
        if others:
            p(f"  {others} localit{'y' if others == 1 else 'ies'} without an embedding month in "
              f"system.embedded_from: described, not modelled")


def validate(config, *, out=None):
    """Clean a cohort without analysing it and print how it was read, the accounting, the problems and the actions.

    First the layout of each section (long, wide, a file per timepoint), how
    many questionnaires came from how many rows, which columns matched items by
    their question text and which were dropped as matching nothing; then how
    each file was read.

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
    for name in cohort.sections:
        _print_reading(p, name, cohort.reading.get(name, {}), cohort.notes.get(name, []))
    for name, notes in cohort.notes.items():
        if notes and name not in cohort.sections:
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
        arm = " in the intervention arm" if "arm" in sec.scores.columns else ""
        p(f"\n{name}: {people} people{arm}, {matched} with both pre and post; measures: {', '.join(sec.measures)}"
          + (f"; not collected: {', '.join(sec.not_collected)}" if sec.not_collected else ""))
        if not matched:
            p(f"  note: nobody in {name} has both a pre and a post questionnaire, so pre/post comparisons "
              f"cannot be made; people are counted and described")
        _print_waves(p, cohort.config.sections[name], sec)
    _print_service(p, cohort)
    p("\nThe data is usable." + (" Read the warning(s) at the top first: the answers set missing may change the "
                                  "results." if cohort.warnings else ""))
    return 0
