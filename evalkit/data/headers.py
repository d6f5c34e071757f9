"""Match an export's header to the config's columns and the instrument's items: by id, by question text, wide."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from ..errors import DataError
from .instruments import timepoint_key
from .io import FILE, ROW, _without_unused, column_key, source_name

#: Identity and bookkeeping columns of Microsoft Forms and Google Forms exports (and Qualtrics'): dropped on
#: reading and never shown, unless the config names one as a role (e.g. ``columns: {date: Completion time}``).
FORMS_COLUMNS = ("ID", "Name", "Email", "Email address", "Start time", "Completion time", "Last modified time",
                 "Timestamp")
QUALTRICS_COLUMNS = ("StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
                     "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
                     "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel",
                     "UserLanguage")
_BOOKKEEPING = {column_key(c) for c in FORMS_COLUMNS + QUALTRICS_COLUMNS}
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
                         "\u00b4": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                         "\u00ab": '"', "\u00bb": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2015": "-", "\u2212": "-", "\ufe58": "-", "\ufe63": "-", "\uff0d": "-"})
#: A question number before the question: "1.", "1)", "1:", "1 -", "Q1 -", "Q1.", "Q1 ", "Question 1:".
_NUMBER = re.compile(r"^(?:q(?:uestion)?\s*\d+[a-z]?(?:\s*[.):]|\s+-|\s)|\d+[a-z]?\s*(?:[.):]|\s-\s?|-\s))\s*")
#: A cell of the second extra header row of a Qualtrics export: ``{"ImportId":"QID1_1"}``.
_IMPORT_ID = re.compile(r'\s*\{\s*"importid"\s*:', re.IGNORECASE)


def text_key(text):
    """The key a header is matched to an item's question text by.

    Case, white space, quotes (straight or curly), dashes and a leading question
    number ("1.", "Q1 -", "1)") are normalised away.

    Examples
    --------
    >>> text_key("Q1 \u2013 I often don\u2019t know how I feel"), text_key("1.  i often don't KNOW how I feel")
    ("i often don't know how i feel", "i often don't know how i feel")
    >>> text_key("q1"), text_key("10-year-olds")
    ('q1', '10-year-olds')
    """
    text = unicodedata.normalize("NFKC", str(text)).translate(_QUOTES)
    text = re.sub(r"[\s\u200b\ufeff]+", " ", text).strip().casefold()
    rest = _NUMBER.sub("", text, count=1)
    return rest if rest else text


def _text_keys(text):
    """Every key a header may match an item text by: the whole text, and the statement after the last
    " - " (a Qualtrics matrix question exports as "Question - statement")."""
    key = text_key(text)
    keys = [key]
    if " - " in key:
        keys.append(text_key(key.rsplit(" - ", 1)[1]))
    return keys


def question_rows(frame):
    """Skip the two extra header rows of a Qualtrics export (question texts, then ``{"ImportId": ...}``).

    Parameters
    ----------
    frame : pandas.DataFrame
        As :func:`evalkit.data.io.read_table` returns it.

    Returns
    -------
    frame : pandas.DataFrame
        Without those rows (row numbers kept: the answers start on the file's row 4).
    texts : dict
        Column -> the question text of the first extra row (empty when none).
    note : str or None
        What was skipped, for the notes.

    Examples
    --------
    >>> f = pd.DataFrame({"child_id": ["Child ID", '{"ImportId":"QID1"}', "c1"], "Q1_1": [
    ...     "How true? - I cry", '{"ImportId":"QID2_1"}', "2"], "_file": "x.csv", "_row": [2, 3, 4]})
    >>> rest, texts, note = question_rows(f)
    >>> rest["_row"].tolist(), texts["Q1_1"], note
    ([4], 'How true? - I cry', 'Qualtrics export: rows 2-3 (question texts and import ids) skipped')
    """
    columns = [c for c in frame.columns if c not in (FILE, ROW)]
    if not len(frame) or not columns:
        return frame, {}, None
    top = frame[columns].iloc[:2].astype(object)
    for k in range(len(top) - 1, -1, -1):
        cells = [v for v in top.iloc[k] if isinstance(v, str) and v.strip()]
        hits = sum(1 for v in cells if _IMPORT_ID.match(v))
        if cells and hits and hits * 2 >= len(cells):
            texts = {c: v for c, v in zip(columns, top.iloc[0]) if isinstance(v, str) and v.strip()} if k else {}
            rows = frame[ROW].iloc[:k + 1].tolist()
            rest = frame.iloc[k + 1:].reset_index(drop=True)
            for c in columns:
                if isinstance(rest[c].dtype, pd.CategoricalDtype):
                    rest[c] = _without_unused(rest[c])
            rest.attrs = dict(frame.attrs)
            what = "question texts and import ids" if k else "import ids"
            where = f"rows {rows[0]}-{rows[-1]}" if k else f"row {rows[0]}"
            return rest, texts, f"Qualtrics export: {where} ({what}) skipped"
    return frame, {}, None


@dataclass
class ColumnMatch:
    """Which column of an export is which role and which item (see :func:`match_columns`).

    Attributes
    ----------
    roles : dict
        Role -> source column, for roles found once per row.
    items : dict
        Item id -> source column (long layout).
    wide : dict
        ``(item, "pre"/"post")`` -> source column (wide layout), pre first, items in form order.
    wide_roles : dict
        ``(role, "pre"/"post"/"follow_up")`` -> source column: a role found once per timepoint in a wide file.
    by_text : list of (str, str)
        Headers (as written) matched to an item by its question text, and the item.
    unmatched : list of str
        Headers matching no item and no configured column (dropped).
    bookkeeping : list of str
        Identity and bookkeeping columns of a forms tool (dropped, never shown).
    problems : list of dict
        Warnings for the problems table (an optional column or items not found).
    row_ids : bool
        No id column and ``columns: {id: row}`` on a wide file: the row number is the id.
    """

    roles: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)
    wide: dict = field(default_factory=dict)
    wide_roles: dict = field(default_factory=dict)
    by_text: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)
    bookkeeping: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    row_ids: bool = False


def _duplicated_keys(frame):
    """Column keys that more than one header cell of the export shares (so which one is meant is unclear)."""
    header = frame.attrs.get("header")
    names = header if header is not None else [c for c in frame.columns if c not in (FILE, ROW)]
    keys = [column_key(n) for n in names if str(n).strip()]
    return {k for k in keys if keys.count(k) > 1}


def _ambiguous(path, name, what):
    return DataError(f"the header has the column '{name}' more than once (case, spaces and '_' ignored), so "
                     f"which one holds the {what} is unclear; delete or rename the extra column",
                     file=path, column=name)


def _wide_matcher(pattern, names, timepoints):
    """A function header key -> list of ``(name, timepoint)`` it reads as under a ``wide_columns`` pattern.

    ``names`` maps each name an ``{item}`` part may have (column keys) to what it stands for; ``timepoints``
    maps :func:`timepoint_key` of each configured label (column keys) to ``"pre"``/``"post"``/``"follow_up"``.
    """
    key = column_key(pattern)
    parts = re.split(r"(\{item\}|\{timepoint\})", key)
    compiled = []
    for name, target in names.items():
        regex = "".join(re.escape(name) if p == "{item}" else "(.+?)" if p == "{timepoint}" else re.escape(p)
                        for p in parts)
        compiled.append((re.compile(regex), target))

    def read(header_key):
        found = []
        for regex, target in compiled:
            m = regex.fullmatch(header_key)
            if m:
                tp = timepoints.get(timepoint_key(m.group(1)))
                if tp is not None:
                    found.append((target, tp))
        return found

    return read


def match_columns(frame, *, section_cfg, instrument, path, question_texts=None, file_timepoint=None):
    """Find the role and item columns of one export.

    Roles are found by the column names of ``columns:`` (case, spaces, ``_`` and
    ``-`` folded). Items are found by their id (or an ``items:`` rename) and
    then, for the items still missing, by their question text (``text:`` in the
    instrument) compared with :func:`text_key`: the header, or the question
    text of a Qualtrics export's extra header row. In the wide layout an answer
    column is named by ``wide_columns`` (``{item}`` an item id or rename,
    ``{timepoint}`` any configured label of a timepoint), and a role not found
    once per row may be found once per timepoint the same way.

    Parameters
    ----------
    frame : pandas.DataFrame
        As :func:`evalkit.data.io.read_table` returns it.
    section_cfg : evalkit.data.config.SectionConfig
    instrument : evalkit.data.cohort.Instrument
    path : pathlib.Path
        The file, for messages.
    question_texts : dict, optional
        Column -> question text (:func:`question_rows`).
    file_timepoint : str, optional
        The timepoint the file was given for: no timepoint column is then needed.

    Returns
    -------
    ColumnMatch

    Raises
    ------
    DataError
        The id column (or the timepoint column, where one is needed) is missing, no
        item is found, a column that is used appears twice in the header, or two
        columns would become the same item.
    """
    question_texts = question_texts or {}
    columns = [c for c in frame.columns if c not in (FILE, ROW)]
    by_key = {}
    for col in columns:
        by_key.setdefault(column_key(source_name(frame, col)), col)
    twice = _duplicated_keys(frame)
    found = [source_name(frame, c) for c in columns]
    wide = section_cfg.layout == "wide"
    match = ColumnMatch()
    used = set()
    for role, name in section_cfg.columns.items():
        if role == "timepoint" and wide:
            continue  # each block of a wide row is its own timepoint
        source = by_key.get(column_key(name))
        if source is None:
            if role == "timepoint" and file_timepoint is not None:
                continue
            if role == "id" and wide and column_key(name) == "row":
                match.row_ids = True
                continue
            if role in ("id", "timepoint"):
                fix = (f"set '{section_cfg.name}.columns.{role}' in the cohort config to the right column name"
                       + ("; a wide file without ids may set 'columns: {id: row}' (the row number is then the id)"
                          if role == "id" and wide else
                          "; 'columns: {id: row}' (the row number as id) works only with 'layout: wide'"
                          if role == "id" and column_key(name) == "row" else ""))
                raise DataError(
                    f"required {role} column '{name}' not found; the file has columns: "
                    f"{', '.join(found[:15])}{', ...' if len(found) > 15 else ''}; {fix}", file=path, column=name)
            match.roles[role] = None  # looked for per timepoint below (wide), else reported missing
            continue
        if column_key(name) in twice:
            raise _ambiguous(path, source, role)
        match.roles[role] = source
        used.add(source)
    if wide:
        _match_wide(match, by_key, twice, used, section_cfg=section_cfg, instrument=instrument, path=path)
    else:
        _match_long(match, by_key, twice, used, section_cfg=section_cfg, instrument=instrument, path=path,
                    question_texts=question_texts)
    for role in [r for r, c in match.roles.items() if c is None]:
        del match.roles[role]
        if not any(key[0] == role for key in match.wide_roles):
            name = section_cfg.columns[role]
            what = "the age is not computed" if role in ("date_of_birth", "date") else f"{role} is not analysed"
            match.problems.append(dict(column=name, problem=f"{role} column not found; {what}", rows=0,
                                       severity="warning", handling="factor left out"))
    items = _items_found(match)
    if not items:
        how = (f"name the answer columns as '{section_cfg.wide_columns}' (e.g. "
               f"{section_cfg.wide_columns.format(item=instrument.items[0], timepoint=section_cfg.timepoints['pre'][0])}"
               f") or set '{section_cfg.name}.wide_columns'" if wide else
               f"map the export's question columns to item ids under '{section_cfg.name}.items' in the cohort "
               f"config, or give the items' question texts in the instrument")
        raise DataError(
            f"no item column of instrument '{instrument.id}' found (expected columns such as "
            f"{', '.join(instrument.items[:4])}); {how}", file=path, column=", ".join(instrument.items[:4]))
    missing = [i for i in instrument.items if i not in items]
    if missing:
        match.problems.append(dict(column=", ".join(missing), problem=f"{len(missing)} item column(s) of "
                                   f"'{instrument.id}' not in the file; treated as unanswered", rows=0,
                                   severity="warning", handling="subscales scored from the items present if enough"))
    used |= set(match.items.values()) | set(match.wide.values()) | set(match.wide_roles.values())
    for col in columns:
        if col in used:
            continue
        if column_key(source_name(frame, col)) in _BOOKKEEPING:
            match.bookkeeping.append(source_name(frame, col))
        else:
            match.unmatched.append(source_name(frame, col))
    return match


def _items_found(match):
    return set(match.items) | {key[0] for key in match.wide}


def _match_long(match, by_key, twice, used, *, section_cfg, instrument, path, question_texts):
    renames = {column_key(k): v for k, v in section_cfg.items.items()}
    wanted = {column_key(i): i for i in instrument.items}
    sources = {}
    for key, col in by_key.items():
        if col in used:
            continue
        target = renames.get(key)
        if target is None and key in wanted:
            target = wanted[key]
        if target is not None and target in instrument.items:
            if key in twice:
                raise _ambiguous(path, col, f"answers to item '{target}'")
            sources.setdefault(target, []).append(col)
    texts = {}
    for item, text in instrument.item_texts.items():
        if item not in sources:
            texts.setdefault(text_key(text), item)
    by_text = []
    if texts:
        taken = {c for cols in sources.values() for c in cols}
        for key, col in by_key.items():
            if col in used or col in taken:
                continue
            for candidate in (col, question_texts.get(col)):
                if candidate is None:
                    continue
                item = next((texts[k] for k in _text_keys(candidate) if k in texts), None)
                if item is not None:
                    if key in twice:
                        raise _ambiguous(path, col, f"answers to item '{item}'")
                    sources.setdefault(item, []).append(col)
                    by_text.append((str(candidate), item))
                    break
    for target, cols in sources.items():
        if len(cols) > 1:
            raise DataError(f"columns {', '.join(repr(c) for c in cols)} would all become item '{target}'; map "
                            f"only one of them under '{section_cfg.name}.items' or delete the others",
                            file=path, column=cols[0])
        match.items[target] = cols[0]
    order = {item: j for j, item in enumerate(instrument.items)}
    match.items = dict(sorted(match.items.items(), key=lambda kv: order[kv[0]]))
    match.by_text = by_text  # in the file's column order


def _match_wide(match, by_key, twice, used, *, section_cfg, instrument, path):
    names = {column_key(i): ("item", i) for i in instrument.items}
    names.update({column_key(k): ("item", v) for k, v in section_cfg.items.items() if v in instrument.items})
    for role, col in match.roles.items():
        if col is None:
            names.setdefault(column_key(section_cfg.columns[role]), ("role", role))
    timepoints = {timepoint_key(column_key(label)): tp for tp, labels in section_cfg.timepoints.items()
                  for label in labels}
    if "follow_up" in section_cfg.timepoints:  # q1_follow_up reads as follow-up whatever its labels
        timepoints.setdefault(timepoint_key(column_key("follow_up")), "follow_up")
    read = _wide_matcher(section_cfg.wide_columns, names, timepoints)
    sources = {}
    for key, col in by_key.items():
        if col in used:
            continue
        hits = sorted(set(read(key)))
        if len(hits) > 1:
            raise DataError(f"the column '{col}' reads as more than one answer under wide_columns "
                            f"'{section_cfg.wide_columns}' ({', '.join(f'{a[1]} at {b}' for a, b in hits)}); "
                            f"rename the column or set '{section_cfg.name}.wide_columns'", file=path, column=col)
        if hits:
            (kind, name), tp = hits[0]
            if key in twice:
                raise _ambiguous(path, col, f"answers to '{name}' at {tp}")
            sources.setdefault((kind, name, tp), []).append(col)
    for (kind, name, tp), cols in sources.items():
        if len(cols) > 1:
            raise DataError(f"columns {', '.join(repr(c) for c in cols)} would all become '{name}' at {tp}; delete "
                            f"or rename the others", file=path, column=cols[0])
        (match.wide if kind == "item" else match.wide_roles)[(name, tp)] = cols[0]
    order = {item: j for j, item in enumerate(instrument.items)}
    match.wide = dict(sorted(match.wide.items(), key=lambda kv: (kv[0][1] != "pre", order[kv[0][0]])))
