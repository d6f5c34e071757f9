"""Read and clean the delivery and system data of issue 13: sessions delivered, facilitators' training dates, and
monthly system outcomes per locality, each with its cleaning log, accounting and problems."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from .cleaning import CODE_PREFIX, LOG_COLUMNS, _distinct, _tidy_levels, accounting, name_key
from .io import FILE, ROW, column_key, read_table, source_name
from .layouts import day_first, parse_date
from .validation import PROBLEM_COLUMNS, as_number, clean_text

#: Exclusion reasons of the ``sessions`` section, in the order the rules are applied.
SESSION_REASONS = ("blank row", "missing group", "missing date", "date not a date", "exact duplicate")
#: Exclusion reasons of the training dates (one row per facilitator of the facilitators' files).
TRAINING_REASONS = ("no training date", "training date not a date")
#: Exclusion reasons of the ``system`` section, in the order the rules are applied.
SYSTEM_REASONS = ("blank row", "missing locality", "missing month", "month not a month", "measure not configured",
                  "missing count", "count not a whole number of 0 or more", "missing denominator",
                  "denominator not a number above 0", "exact duplicate", "duplicate locality, month and measure")
#: What a fidelity cell may hold (case and spaces ignored), and what it means: 1.0 delivered, 0.0 not.
FIDELITY_VALUES = {"1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0, "true": 1.0, "false": 0.0}
#: Why a cell is set missing (the value itself is never quoted: it may be anything typed in a cell).
SESSION_INVALID = "session number not a whole number of 1 or more"
ATTENDED_INVALID = "children present not a whole number of 0 or more"
FIDELITY_INVALID = "fidelity not yes/no or 1/0"
_NOT_COPIED = "the value is not copied here; open the file to see it"
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_MONTH_NAMES = {name.casefold(): k for k, name in enumerate(calendar.month_name) if name}
_MONTH_NAMES.update({name.casefold(): k for k, name in enumerate(calendar.month_abbr) if name})
_MONTH_NAMES["sept"] = 9


@dataclass
class ServiceData:
    """What :func:`prepare_service_data` returns: the three tables and their cleaning records.

    Attributes
    ----------
    sessions, training, system : pandas.DataFrame or None
        As :class:`evalkit.data.pipeline.Cohort` documents them (None when not configured).
    log : pandas.DataFrame
        Cleaning-log rows (``LOG_COLUMNS``) of the three sections.
    summary : pandas.DataFrame
        Accounting rows (``section`` first) of the three sections.
    rows : pandas.DataFrame
        Every input row (training: one per facilitator): ``_file, _row, id, timepoint, status, reason, section``.
    problems : pandas.DataFrame
        ``PROBLEM_COLUMNS``.
    notes : dict
        File name -> how it was read; section name -> sentences on the section (no value quoted).
    reading : dict
        Section name -> counts that ``evalkit validate`` prints (``rows``, ``kept``, ...).
    """

    sessions: pd.DataFrame | None = None
    training: pd.DataFrame | None = None
    system: pd.DataFrame | None = None
    log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    notes: dict = field(default_factory=dict)
    reading: dict = field(default_factory=dict)


def prepare_service_data(config, codes=None):
    """Read and clean the ``sessions`` and ``system`` sections and the facilitators' training dates of a cohort.

    Parameters
    ----------
    config : evalkit.data.config.CohortConfig
    codes : dict, optional
        ``{"group": {name key: code}, "facilitator": {...}}``: the children's opaque codes
        (:func:`evalkit.data.cleaning.name_key` of each name), which names met here share; names met only
        here get the next codes. Extended in place.

    Returns
    -------
    ServiceData

    Raises
    ------
    DataError
        A configured file is missing or unreadable, lacks a required column, or has a header but no rows.

    Examples
    --------
    >>> from evalkit.data.config import load_config
    >>> data = prepare_service_data(load_config("data/sample/cohort.yml"))
    >>> data.sessions.columns.tolist()
    ['group', 'facilitator', 'site', 'date', 'session', 'attended', 'core_1', 'core_2', 'core_3', 'core_4']
    >>> len(data.training), str(data.system["month"].dtype), sorted(data.summary["section"].unique())
    (58, 'period[M]', ['sessions', 'system', 'training'])
    """
    codes = codes if codes is not None else {}
    for role in CODE_PREFIX:
        codes.setdefault(role, {})
    out = ServiceData()
    logs, summaries, rows, problems = [], [], [], []

    def add(name, result, reasons):
        logs.append(result["log"])
        problems.append(result["problems"])
        summary, _ = accounting(result["rows"], reasons)
        summaries.append(summary.assign(section=name))
        rows.append(result["rows"].assign(section=name))

    if config.sessions is not None:
        frame, file_problems, notes = _read_files("sessions", config.sessions.files, config.sessions.columns,
                                                  required=("group", "date"), extra=config.sessions.fidelity)
        out.notes.update(notes)
        result = clean_sessions(frame, config.sessions, codes=codes)
        result["problems"] = pd.concat([file_problems, result["problems"]], ignore_index=True)
        add("sessions", result, SESSION_REASONS)
        out.sessions = result["data"]
        out.notes["sessions"] = result["notes"]
        out.reading["sessions"] = result["reading"]
    facilitators = config.sections.get("facilitators")
    if facilitators is not None and "trained_on" in facilitators.columns:
        result = clean_training(facilitators, codes=codes, sessions=out.sessions)
        if result is not None:
            add("training", result, TRAINING_REASONS)
            out.training = result["data"]
            out.notes["training"] = result["notes"]
            out.reading["training"] = result["reading"]
        else:
            problems.append(pd.DataFrame([dict(
                section="training", file=", ".join(p.name for p in facilitators.files),
                column=facilitators.columns["trained_on"], problem="trained_on column not found", rows=0,
                example_rows="", severity="warning", handling="training and embedding are not analysed")]))
    if config.system is not None:
        frame, file_problems, notes = _read_files("system", config.system.files, config.system.columns,
                                                  required=tuple(config.system.columns))
        out.notes.update(notes)
        result = clean_system(frame, config.system)
        result["problems"] = pd.concat([file_problems, result["problems"]], ignore_index=True)
        add("system", result, SYSTEM_REASONS)
        out.system = result["data"]
        out.notes["system"] = result["notes"]
        out.reading["system"] = result["reading"]
    if summaries:
        out.summary = pd.concat(summaries, ignore_index=True)
        out.rows = pd.concat(rows, ignore_index=True)
        parts = [x for x in logs if len(x)]
        out.log = pd.concat(parts, ignore_index=True)[LOG_COLUMNS] if parts else out.log
    parts = [p for p in problems if len(p)]
    if parts:
        out.problems = pd.concat(parts, ignore_index=True)[PROBLEM_COLUMNS]
    return out


# ----------------------------------------------------------------------------- reading

def _read_files(section, files, columns, *, required, extra=()):
    """Read a section's files into one text frame: ``_file, _row``, one column per role, the ``extra`` columns.

    Columns the config does not name are dropped here (they may hold names). A missing optional role or
    ``extra`` column is a warning in ``problems`` and an empty column.
    """
    names = [p.name for p in files]
    resolved = [p.resolve() for p in files]
    if len(set(resolved)) != len(resolved) or len(set(names)) != len(names):
        twice = next(p for p in files if names.count(p.name) > 1)
        raise DataError("the same file (or two files with one name) is listed twice, so its rows could not be "
                        "told apart; list each file once, with distinct names", file=twice, column=f"{section}.file")
    wanted = {**{role: name for role, name in columns.items()}, **{name: name for name in extra}}
    frames, problems, notes = [], [], {}
    hint = columns.get(required[0])
    for path in files:
        try:
            raw = read_table(path, header_hint=hint)
        except DataError as exc:
            if exc.column is None:
                raise DataError(exc.message, file=exc.file, column=f"{section}.file", expected=exc.expected,
                                shareable=exc.shareable if exc.shareable != str(exc) else None) from None
            raise
        notes[path.name] = list(raw.attrs.get("notes", []))
        found = [c for c in raw.columns if c not in (FILE, ROW)]
        by_key, twice = {}, set()
        for col in found:
            key = column_key(source_name(raw, col))
            if key in by_key:
                twice.add(key)
            by_key.setdefault(key, col)
        data = {FILE: np.full(len(raw), path.name, dtype=object), ROW: raw[ROW].to_numpy()}
        for target, name in wanted.items():
            key = column_key(name)
            if key in twice:
                raise DataError(f"the column '{name}' appears twice in the header, so which one holds the "
                                f"{target} cannot be known; rename or delete one", file=path, column=name)
            source = by_key.get(key)
            if source is None:
                if target in required:
                    shown = [source_name(raw, c) for c in found]
                    raise DataError(f"required {target} column '{name}' not found; the file has columns: "
                                    f"{', '.join(shown[:15])}{', ...' if len(shown) > 15 else ''}; set "
                                    f"'{section}.columns.{target}' in the cohort config to the right column name",
                                    file=path, column=name)
                what = "fidelity column" if target in extra and target not in columns else f"{target} column"
                problems.append(dict(section=section, file=path.name, column=name, problem=f"{what} not found",
                                     rows=0, example_rows="", severity="warning",
                                     handling="left empty (missing) for this file's rows"))
                data[target] = np.full(len(raw), None, dtype=object)
                continue
            data[target] = raw[source].to_numpy(dtype=object)
        if not len(raw):
            raise DataError("the file has a header but no rows; export it again with the data", file=path,
                            column=f"{section}.file")
        dropped = len(found) - len({by_key[column_key(n)] for n in wanted.values() if column_key(n) in by_key})
        if dropped:
            notes[path.name].append(f"{dropped} column(s) not named in '{section}' were dropped, never read")
        frames.append(pd.DataFrame(data))
    frame = pd.concat(frames, ignore_index=True)
    problems = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    return frame, problems, notes


def _texts(values):
    """Each cell's cleaned text (:func:`clean_text`; None when blank), computed once per distinct value."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    texts = np.array([clean_text(v) for v in uniques] + [None], dtype=object)
    return texts[codes]


def _blank(texts, n):
    """Rows whose every used cell is blank (``texts``: column -> cleaned texts, :func:`_texts`)."""
    blank = np.ones(n, dtype=bool)
    for values in texts.values():
        blank &= pd.isna(values)
    return blank


def _per_distinct(texts, rule, dtype=object):
    """``rule`` of each cleaned text (None for a blank cell), computed once per distinct text."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    return np.array([rule(u) for u in uniques] + [rule(None)], dtype=dtype)[codes]


def _number(text):
    if text is None:
        return np.nan
    return as_number(text.replace(",", "")) if _THOUSANDS.fullmatch(text) else as_number(text)


def _numbers(texts):
    """Cleaned texts as floats (NaN when blank or not a number); a thousands separator ``1,234`` is read as such.

    Examples
    --------
    >>> _numbers(np.array(["12", "1,234", "2,5", None, "x"], dtype=object)).tolist()
    [12.0, 1234.0, 2.5, nan, nan]
    """
    return _per_distinct(texts, _number, dtype=float)


def _folded(texts):
    """Cleaned texts case-folded (None when blank): how names are compared across files."""
    return _per_distinct(texts, lambda t: None if t is None else t.casefold())


def _dates(texts):
    """Cleaned texts as ``datetime64[ns]`` (NaT when blank or not a date); ``d/m/y`` unless the column says m/d/y."""
    distinct = [t for t in pd.unique(np.asarray(texts, dtype=object)) if t is not None]
    first = day_first(distinct) is not False
    return pd.to_datetime(pd.Series(_per_distinct(texts, lambda t: None if t is None else
                                                  parse_date(t, dayfirst=first)), dtype=object))


def parse_month(text, *, dayfirst=True):
    """A month written ``2025-09``, ``09/2025``, ``Sep 2025``, ``September 2025``, ``Sep-25`` or as a date, as a
    monthly :class:`pandas.Period`; None when it is not a month.

    Examples
    --------
    >>> [str(parse_month(t)) for t in ("2025-09", "2025-09-01", "01/09/2025", "9/2025", "Sep-25", "sept 2025")]
    ['2025-09', '2025-09', '2025-09', '2025-09', '2025-09', '2025-09']
    >>> parse_month("2025-13"), parse_month("soon"), parse_month(None)
    (None, None, None)
    """
    text = clean_text(text)
    if text is None:
        return None
    year = month = None
    if m := re.fullmatch(r"(\d{4})[-/.](\d{1,2})", text):
        year, month = int(m.group(1)), int(m.group(2))
    elif m := re.fullmatch(r"(\d{1,2})[-/.](\d{4})", text):
        year, month = int(m.group(2)), int(m.group(1))
    elif m := re.fullmatch(r"([A-Za-z]+)\.?[ \-/]*'?(\d{4}|\d{2})", text):
        month = _MONTH_NAMES.get(m.group(1).casefold())
        year = int(m.group(2)) + (2000 if len(m.group(2)) == 2 else 0)
    else:
        date = parse_date(text, dayfirst=dayfirst)
        if date is not None:
            year, month = date.year, date.month
    if month is None or not 1 <= month <= 12 or not 1900 <= year <= 2200:
        return None
    return pd.Period(year=year, month=month, freq="M")


def _log(section, frame, mask, ids, *, column, action, reason, detail=""):
    """Cleaning-log rows for the rows of ``frame`` selected by ``mask`` (``ids``: one log id per row)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    detail = np.asarray(detail, dtype=object)[mask] if not isinstance(detail, str) else detail
    return pd.DataFrame({"section": section, "file": frame[FILE].to_numpy()[mask], "row": frame[ROW].to_numpy()[mask],
                         "id": np.asarray(ids, dtype=object)[mask], "column": column, "action": action,
                         "reason": reason, "detail": detail})


def _finish_log(parts):
    parts = [p for p in parts if p is not None and len(p)]
    log = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LOG_COLUMNS)
    log = log[LOG_COLUMNS]
    log["row"] = pd.array(log["row"], dtype="Int64")
    return log.sort_values(["file", "row", "column", "action"], kind="stable").reset_index(drop=True)


def _problems_from_log(section, log, column_names):
    """One validation finding per file, column and reason of the log (example rows, never values)."""
    rows = []
    judged = log[log["action"].isin(["excluded", "set missing"])]
    for (file, column, action, reason), part in judged.groupby(["file", "column", "action", "reason"], sort=True):
        examples = ", ".join(str(r) for r in part["row"].dropna().astype(int).head(5))
        rows.append(dict(section=section, file=file, column=column_names.get(column, column), problem=reason,
                         rows=len(part), example_rows=examples,
                         severity="error" if action == "excluded" else "warning",
                         handling="row excluded" if action == "excluded" else "set missing"))
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def _rows_table(frame, ids, kept, reason):
    return pd.DataFrame({FILE: frame[FILE].to_numpy(), ROW: frame[ROW].to_numpy(), "id": ids,
                         "timepoint": np.full(len(frame), np.nan, dtype=object),
                         "status": np.where(kept, "kept", "excluded").astype(object), "reason": reason})


def _assign_codes(keys, kept, mapping, prefix):
    """Opaque codes of name keys, extending ``mapping`` (kept rows' new names first, in row order).

    Examples
    --------
    >>> mapping = {"blue": "G001"}
    >>> keys = np.array(["red", "blue", None, "green"], dtype=object)
    >>> _assign_codes(keys, np.array([False, True, True, True]), mapping, "G").tolist(), mapping["red"]
    (['G003', 'G001', nan, 'G002'], 'G003')
    """
    kept = np.asarray(kept, dtype=bool)
    new = [k for k in pd.unique(np.concatenate([keys[kept], keys[~kept]])) if k is not None and k not in mapping]
    width = max(3, len(str(len(mapping) + len(new))))
    for n, key in enumerate(new, start=len(mapping) + 1):
        mapping[key] = f"{prefix}{n:0{width}d}"
    return _per_distinct(keys, lambda k: np.nan if k is None else mapping[k])


def _site_levels(values):
    """Site names folded for case and spaces, each shown by its most common spelling (NaN when blank)."""
    codes, levels = _tidy_levels(*_distinct(pd.Series(values, dtype=object)))
    return levels[codes]


def _whole(numbers, least):
    return np.isfinite(numbers) & (numbers >= least) & (np.mod(np.where(np.isfinite(numbers), numbers, 0), 1) == 0)


# ----------------------------------------------------------------------------- sessions

def clean_sessions(frame, sessions_cfg, *, codes):
    """Clean the delivered sessions: one row per session, groups and facilitators as opaque codes.

    Parameters
    ----------
    frame : pandas.DataFrame
        Text cells: ``_file, _row``, one column per role of ``sessions.columns`` and one per fidelity column.
    sessions_cfg : evalkit.data.config.SessionsConfig
    codes : dict
        ``{"group": {...}, "facilitator": {...}}`` name key -> code, extended in place.

    Returns
    -------
    dict
        ``data`` (the ``Cohort.sessions`` table), ``rows``, ``log``, ``problems``, ``notes``, ``reading``.

    Notes
    -----
    Rules, in order: a row whose every cell is blank is excluded; so is a row without a group, or whose date
    is blank or not a date (``d/m/y`` unless a day above 12 in the second place says ``m/d/y``); a row that
    repeats another exactly keeps the first. A session number that is not a whole number of 1 or more, a
    count of children present that is not a whole number of 0 or more and a fidelity cell that is not
    1/0, yes/no, y/n or true/false (any case) are set missing. A session number above ``planned_sessions``
    and a session number given twice in a group are noted. No group or facilitator name is copied anywhere:
    the log's ``id`` is the group's code.
    """
    fidelity = list(sessions_cfg.fidelity)
    roles = [r for r in ("group", "facilitator", "site", "date", "session", "attended") if r in frame.columns]
    text = {c: _texts(frame[c].to_numpy()) for c in roles + fidelity}
    n = len(frame)
    kept = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    logs = []
    group_keys = _folded(text["group"])
    dates = _dates(text["date"]).to_numpy()
    blank = _blank(text, n)
    no_group = group_keys == None  # noqa: E711 (element-wise)
    no_date = pd.isna(text["date"])
    bad_date = ~no_date & pd.isna(dates)
    # codes for every group name (kept rows first), so that an excluded row's log names its group's code
    provisional = ~(blank | no_group | no_date | bad_date)
    group = _assign_codes(group_keys, provisional, codes["group"], CODE_PREFIX["group"])
    ids = np.where(pd.isna(group), "", group).astype(object)

    def exclude(mask, why, column="", detail=""):
        mask = np.asarray(mask, dtype=bool) & kept
        kept[mask] = False
        reason[mask] = why
        logs.append(_log("sessions", frame, mask, ids, column=column, action="excluded", reason=why, detail=detail))

    exclude(blank, "blank row")
    exclude(no_group, "missing group", column="group", detail="no group in the row; a session needs its group")
    exclude(no_date, "missing date", column="date", detail="no session date in the row")
    exclude(bad_date, "date not a date", column="date",
            detail="the date cell is not a date (d/m/y, y-m-d or '5 March 2026'); " + _NOT_COPIED)

    facilitator = np.full(n, np.nan, dtype=object)
    if "facilitator" in text:
        keys = _folded(text["facilitator"])
        facilitator = _assign_codes(keys, kept, codes["facilitator"], CODE_PREFIX["facilitator"])
    site = _site_levels(text["site"]) if "site" in text else np.full(n, np.nan, dtype=object)

    def counted(role, least, why):
        if role not in text:
            return pd.array(np.full(n, pd.NA), dtype="Int64")
        numbers = _numbers(text[role])
        bad = ~pd.isna(text[role]) & ~_whole(numbers, least)
        logs.append(_log("sessions", frame, bad & kept, ids, column=role, action="set missing", reason=why,
                         detail=_NOT_COPIED))
        values = np.where(bad | np.isnan(numbers), np.nan, numbers)
        return pd.array(np.where(np.isnan(values), None, values), dtype="Int64")

    session = counted("session", 1, SESSION_INVALID)
    attended = counted("attended", 0, ATTENDED_INVALID)
    marks = {}
    for column in fidelity:
        keyed = _per_distinct(text[column], lambda t: np.nan if t is None else
                              FIDELITY_VALUES.get(_fidelity_key(t), -1.0), dtype=float)
        bad = keyed == -1.0
        logs.append(_log("sessions", frame, bad & kept, ids, column=column, action="set missing",
                         reason=FIDELITY_INVALID, detail=_NOT_COPIED))
        marks[column] = np.where(bad, np.nan, keyed)

    # exact duplicates, on the cleaned values: the first copy is kept
    compared = pd.DataFrame({"group": group, "facilitator": facilitator, "site": site, "date": dates,
                             "session": session, "attended": attended, **{f"_f{i}": marks[c]
                                                                        for i, c in enumerate(fidelity)}})
    candidates = np.flatnonzero(kept)
    repeated = compared.iloc[candidates].duplicated(keep="first").to_numpy()
    if repeated.any():
        firsts = compared.iloc[candidates].reset_index().groupby(list(compared.columns), dropna=False)["index"]
        first_of = firsts.transform("min").to_numpy()
        files, rows = frame[FILE].to_numpy(), frame[ROW].to_numpy()
        detail = np.full(n, "", dtype=object)
        detail[candidates[repeated]] = [f"same values as {files[i]} row {rows[i]}" for i in first_of[repeated]]
        mask = np.zeros(n, dtype=bool)
        mask[candidates[repeated]] = True
        exclude(mask, "exact duplicate", detail=detail)

    planned = sessions_cfg.planned_sessions
    session_values = session.to_numpy(dtype=float, na_value=np.nan)
    if planned:
        above = kept & (session_values > planned)
        logs.append(_log("sessions", frame, above, ids, column="session", action="noted",
                         reason="session number above planned_sessions",
                         detail=f"kept; more sessions than the {planned} planned"))
    numbered = pd.DataFrame({"g": group, "s": session_values})[kept & ~np.isnan(session_values)]
    again = numbered.duplicated(["g", "s"], keep=False)
    mask = np.zeros(n, dtype=bool)
    mask[numbered.index[again.to_numpy()]] = True
    logs.append(_log("sessions", frame, mask, ids, column="session", action="noted",
                     reason="session number given twice in a group",
                     detail="kept: each row counts as a delivered session; check the export"))

    data = pd.DataFrame({"group": group, "facilitator": facilitator, "site": site, "date": dates,
                         "session": session, "attended": attended, **marks})
    data = data[kept]
    data["date"] = pd.to_datetime(data["date"])
    data = data.sort_values(["group", "date", "session"], kind="stable", na_position="last").reset_index(drop=True)
    log = _finish_log(logs)
    rows = _rows_table(frame, ids, kept, reason)
    names = {**sessions_cfg.columns, **{c: c for c in fidelity}}
    n_groups = data["group"].nunique()
    notes = [f"{n} session rows in {frame[FILE].nunique()} file(s): {int(kept.sum())} sessions kept of "
             f"{n_groups} group(s); groups and facilitators are shown only as codes (G001, F001, ...)"]
    if fidelity:
        notes.append(f"fidelity: {len(fidelity)} core component column(s) read as delivered (1) or not (0)")
    reading = {"rows": n, "kept": int(kept.sum()), "groups": int(n_groups),
               "facilitators": int(data["facilitator"].nunique()), "sites": int(data["site"].nunique()),
               "fidelity": len(fidelity)}
    return dict(data=data, rows=rows, log=log, problems=_problems_from_log("sessions", log, names), notes=notes,
                reading=reading)


def _fidelity_key(text):
    number = as_number(text)
    if number == 1 or number == 0:
        return str(int(number))
    return text.casefold()


# ----------------------------------------------------------------------------- training

def clean_training(facilitators_cfg, *, codes, sessions=None):
    """The facilitators' training dates, one row per trained facilitator, with their first session.

    Parameters
    ----------
    facilitators_cfg : evalkit.data.config.SectionConfig
        The facilitators section; ``columns.trained_on`` (and optionally ``columns.site``) name the columns.
    codes : dict
        As :func:`clean_sessions`; a facilitator is keyed by their id in the facilitators' files.
    sessions : pandas.DataFrame, optional
        ``Cohort.sessions``: the first session of each facilitator is the earliest ``date`` of their code.

    Returns
    -------
    dict or None
        As :func:`clean_sessions` (``rows``: one per facilitator, at their first row); None when no file has
        the ``trained_on`` column.

    Notes
    -----
    A facilitator's questionnaire rows (pre, post, follow-up) may each repeat the training date: the first
    date given is used, and rows that give another are noted. A facilitator with no training date, or whose
    dates are none of them dates, is left out and logged under their code.
    """
    columns = facilitators_cfg.columns
    wanted = {"id": columns["id"], "trained_on": columns["trained_on"]}
    if "site" in columns:
        wanted["site"] = columns["site"]
    frames = []
    for path in facilitators_cfg.files:
        raw = read_table(path, header_hint=columns["id"])
        by_key = {}
        for col in raw.columns:
            if col not in (FILE, ROW):
                by_key.setdefault(column_key(source_name(raw, col)), col)
        if column_key(wanted["id"]) not in by_key or column_key(wanted["trained_on"]) not in by_key:
            continue
        data = {FILE: np.full(len(raw), path.name, dtype=object), ROW: raw[ROW].to_numpy()}
        for role, name in wanted.items():
            source = by_key.get(column_key(name))
            data[role] = raw[source].to_numpy(dtype=object) if source is not None else np.full(len(raw), None)
        frames.append(pd.DataFrame(data))
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True)
    keys = _per_distinct(frame["id"].to_numpy(dtype=object), name_key)
    frame = frame[keys != None].reset_index(drop=True)  # noqa: E711 (rows without an id: the section's own rule)
    keys = keys[keys != None]  # noqa: E711
    dated = _dates(_texts(frame["trained_on"].to_numpy()))
    text = _texts(frame["trained_on"].to_numpy())
    sites = _site_levels(_texts(frame["site"].to_numpy())) if "site" in frame else np.full(len(frame), np.nan,
                                                                                          dtype=object)
    first_row = pd.Series(np.arange(len(frame))).groupby(keys, sort=False).transform("min").to_numpy()
    person = pd.DataFrame({"key": keys, "date": dated, "given": ~pd.isna(text), "site": sites,
                           "first": first_row})
    valid = person.dropna(subset=["date"])
    trained = valid.groupby("key", sort=False)["date"].first()
    firsts = np.flatnonzero(first_row == np.arange(len(frame)))
    heads = frame.iloc[firsts].reset_index(drop=True)
    head_keys = keys[firsts]
    has_date = np.array([k in trained.index for k in head_keys])
    any_given = person.groupby("key", sort=False)["given"].any().reindex(head_keys).to_numpy()
    code = _assign_codes(head_keys, has_date, codes["facilitator"], CODE_PREFIX["facilitator"])
    ids = code.astype(object)
    logs = [
        _log("training", heads, ~has_date & ~any_given, ids, column="trained_on", action="excluded",
             reason="no training date", detail="no row of this facilitator gives a training date; left out of "
                                               "the embedding analysis"),
        _log("training", heads, ~has_date & any_given, ids, column="trained_on", action="excluded",
             reason="training date not a date", detail="no training date of this facilitator is a date; "
                                                       + _NOT_COPIED),
    ]
    reason = np.where(has_date, "", np.where(any_given, "training date not a date", "no training date"))
    # rows giving another date than the one used
    used = pd.Series(trained).reindex(keys).to_numpy()
    differs = ~pd.isna(dated) & ~pd.isna(used) & (dated.to_numpy() != used)
    row_code = dict(zip(head_keys, code))
    logs.append(_log("training", frame, differs, np.array([row_code[k] for k in keys], dtype=object),
                     column="trained_on", action="noted", reason="training date differs from the first given",
                     detail="the first training date of this facilitator is used"))
    site = pd.Series(sites).groupby(keys, sort=False).first().reindex(head_keys).to_numpy()
    data = pd.DataFrame({"facilitator": code, "site": site,
                         "trained_on": pd.to_datetime(trained.reindex(head_keys).to_numpy())})[has_date]
    if sessions is not None and len(sessions):
        first = sessions.dropna(subset=["facilitator"]).groupby("facilitator")["date"].min()
        data["first_session"] = pd.to_datetime(data["facilitator"].map(first))
    else:
        data["first_session"] = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]")
    data = data.sort_values("facilitator", kind="stable").reset_index(drop=True)
    log = _finish_log(logs)
    rows = _rows_table(heads, ids, has_date, reason)
    delivered = int(data["first_session"].notna().sum())
    notes = [f"training dates: {len(heads)} facilitator(s) in the facilitators' file(s), {int(has_date.sum())} "
             f"with a training date; {delivered} of them delivered a session in the sessions file(s). Rows here "
             f"count facilitators, not questionnaires"]
    reading = {"rows": len(heads), "kept": int(has_date.sum()), "delivering": delivered}
    names = {"trained_on": columns["trained_on"]}
    return dict(data=data, rows=rows, log=log, problems=_problems_from_log("training", log, names), notes=notes,
                reading=reading)


# ----------------------------------------------------------------------------- system outcomes

def clean_system(frame, system_cfg):
    """Clean the monthly system outcomes: one row per locality, month and measure.

    Parameters
    ----------
    frame : pandas.DataFrame
        Text cells: ``_file, _row`` and one column per role of ``system.columns``.
    system_cfg : evalkit.data.config.SystemConfig

    Returns
    -------
    dict
        ``data`` (the ``Cohort.system`` table), ``rows``, ``log``, ``problems``, ``notes``, ``reading``.

    Notes
    -----
    Rules, in order: blank rows; rows without a locality; rows whose month is blank or not a month
    (:func:`parse_month`); rows whose measure is not a key of ``system.measures`` (case and spaces ignored);
    rows whose count is blank or not a whole number of 0 or more; rows whose denominator is blank or not a
    number above 0 (a thousands separator ``1,234`` is read as one); a row repeating another exactly (the
    first is kept); then every row of a locality, month and measure given more than once with different
    values. Localities are service areas, not people: they are shown, written as the config's
    ``embedded_from`` writes them where it names them (case and spaces ignored), else by their most common
    spelling.
    """
    text = {c: _texts(frame[c].to_numpy()) for c in ("locality", "month", "measure", "count", "denominator")}
    n = len(frame)
    kept = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    logs = []
    locality = _site_levels(text["locality"])
    named = {" ".join(k.split()).casefold(): k for k in system_cfg.embedded_from}
    locality = np.array([named.get(v.casefold(), v) if isinstance(v, str) else np.nan for v in locality],
                        dtype=object)
    ids = np.where(pd.isna(locality), "", locality).astype(object)

    def exclude(mask, why, column="", detail=""):
        mask = np.asarray(mask, dtype=bool) & kept
        kept[mask] = False
        reason[mask] = why
        logs.append(_log("system", frame, mask, ids, column=column, action="excluded", reason=why, detail=detail))

    exclude(_blank(text, n), "blank row")
    exclude(pd.isna(locality), "missing locality", column="locality")
    first = day_first([t for t in pd.unique(text["month"]) if t is not None]) is not False
    month = _per_distinct(text["month"], lambda t: parse_month(t, dayfirst=first))
    exclude(pd.isna(text["month"]), "missing month", column="month")
    exclude(np.array([m is None for m in month]), "month not a month", column="month",
            detail="the month is not written as a month (2025-09, Sep 2025 or a date); " + _NOT_COPIED)
    keys = {" ".join(k.split()).casefold(): k for k in system_cfg.measures}
    measure = _per_distinct(text["measure"], lambda t: None if t is None else keys.get(t.casefold()))
    exclude(pd.isna(measure), "measure not configured", column="measure",
            detail=f"the measure is blank or not one of {', '.join(system_cfg.measures)} (listed under "
                   f"system.measures); " + _NOT_COPIED)
    count = _numbers(text["count"])
    exclude(pd.isna(text["count"]), "missing count", column="count")
    exclude(~_whole(count, 0), "count not a whole number of 0 or more", column="count", detail=_NOT_COPIED)
    denominator = _numbers(text["denominator"])
    exclude(pd.isna(text["denominator"]), "missing denominator", column="denominator")
    exclude(~(np.isfinite(denominator) & (denominator > 0)), "denominator not a number above 0",
            column="denominator", detail=_NOT_COPIED)

    months = pd.PeriodIndex([m if m is not None else pd.NaT for m in month], freq="M")
    table = pd.DataFrame({"locality": locality, "month": months, "measure": measure, "count": count,
                          "denominator": denominator})
    candidates = np.flatnonzero(kept)
    exact = table.iloc[candidates].duplicated(keep="first").to_numpy()
    if exact.any():
        mask = np.zeros(n, dtype=bool)
        mask[candidates[exact]] = True
        exclude(mask, "exact duplicate", detail="the same locality, month, measure, count and denominator again")
    candidates = np.flatnonzero(kept)
    clash = table.iloc[candidates].duplicated(["locality", "month", "measure"], keep=False).to_numpy()
    if clash.any():
        mask = np.zeros(n, dtype=bool)
        mask[candidates[clash]] = True
        exclude(mask, "duplicate locality, month and measure",
                detail="this locality, month and measure is given more than once with different values; every "
                       "copy is left out")

    data = table[kept].copy()
    data["count"] = pd.array(data["count"].to_numpy(), dtype="Int64")
    data["denominator"] = data["denominator"].astype(float)
    data = data.sort_values(["locality", "measure", "month"], kind="stable").reset_index(drop=True)
    log = _finish_log(logs)
    rows = _rows_table(frame, ids, kept, reason)
    n_months = data.groupby("locality")["month"].nunique()
    notes = [f"{n} system rows in {frame[FILE].nunique()} file(s): {int(kept.sum())} kept, "
             f"{data['locality'].nunique()} localit{'y' if data['locality'].nunique() == 1 else 'ies'}, "
             f"{data['measure'].nunique()} measure(s), "
             + (f"{int(n_months.min())} to {int(n_months.max())} months per locality" if len(n_months) else
                "no months")]
    reading = {"rows": n, "kept": int(kept.sum()), "localities": int(data["locality"].nunique()),
               "measures": int(data["measure"].nunique()),
               "months": int(data["month"].nunique())}
    return dict(data=data, rows=rows, log=log, problems=_problems_from_log("system", log, system_cfg.columns),
                notes=notes, reading=reading)
