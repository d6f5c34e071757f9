"""Clean one section's exports: map columns, recode answers, drop duplicates, match pre/post, log every action."""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .headers import match_columns, question_rows
from .instruments import timepoint_key
from .io import FILE, ROW, read_table, text_codes
from .layouts import (AGE_NOTE, FILE_TIMEPOINT, blank_rows, long_frame, row_ids, stack_text, wide_frame,
                      with_ages)
from .validation import (BLANK, BOOLEAN, COMMA, FRACTION, JUNK, LABEL, NONFINITE, OUT, PROBLEM_COLUMNS,
                         answer_kind, answer_rules, as_number, clean_text, tidy_joined, validate_frame, value_kind)

#: Columns of the cleaning log (one row per cleaning action).
LOG_COLUMNS = ["section", "file", "row", "id", "column", "action", "reason", "detail"]
#: Exclusion reasons, in the order the rules are applied.
EXCLUSION_REASONS = ("blank row", "missing id", "missing timepoint", "unknown timepoint",
                     "timepoint differs from its file", "no answers", "arm not a listed level", "no arm",
                     "exact duplicate", "conflicting duplicate")
OPTIONAL_ROLES = ("age", "delivery", "referral_reason", "site")
#: Person-level roles of issue 12: cluster identifiers (replaced by opaque codes), sessions attended, arm.
PERSON_ROLES = ("group", "facilitator", "sessions", "arm")
#: The waves a section may have, coded 0, 1, 2 in the cleaning.
WAVES = ("pre", "post", "follow_up")
#: The two arms (``analysis.comparison``), as the ``arm`` column holds them.
ARMS = ("intervention", "comparison")
#: Prefix of the opaque code that replaces each group and facilitator name (``G001``, ``F001``, ...).
CODE_PREFIX = {"group": "G", "facilitator": "F"}
#: Why a sessions value is set missing (the value itself is never quoted: it may be anything typed in a cell).
SESSIONS_INVALID = "sessions not a whole number of 0 or more"
#: What Excel writes in a cell whose formula failed; such an id is no id.
EXCEL_ERRORS = frozenset({"#n/a", "#ref!", "#value!", "#div/0!", "#name?", "#num!", "#null!", "#spill!", "#calc!"})
_DATE_ID = re.compile(r"\d{4}-\d{2}-\d{2}(t[\d:.]+)?")
_DATE_LINE = re.compile(r"(?m)^\d{4}-\d{2}-\d{2}(t[\d:.]+)?$")

# What happened to an answer text (kinds of validation.answer_kind): action, reason (None: nothing to log).
_ANSWER_LOG = {
    LABEL: ("recoded", "response label mapped to number"),
    COMMA: ("recoded", "decimal comma read as a decimal point"),
    JUNK: ("set missing", "not a number or response label"),
    OUT: ("set missing", "out of range"),
    FRACTION: ("set missing", "not a whole number"),
    BOOLEAN: ("set missing", "not a number (true/false)"),
    NONFINITE: ("set missing", "not a finite number (NaN or infinity)"),
}


def _answer_log(instrument):
    """``_ANSWER_LOG`` for ``instrument``: an answer off the scale's step is "not a whole number" on a scale
    of whole numbers, else "not on the scale's step of 0.5"."""
    if instrument.whole_numbers or instrument.answer_step is None:  # no step: nothing is off it
        return _ANSWER_LOG
    return {**_ANSWER_LOG, FRACTION: ("set missing", f"not on the scale's step of {instrument.answer_step:g}")}


_AGE_REASONS = {"true/false": "age not a number (true/false)",
                "not a finite number": "age not a finite number (NaN or infinity)"}
#: When cleaning sets more than this share of a measure's answers missing, the cohort carries a warning.
MISSING_WARNING_SHARE = 0.05


def _log(section, where, mask, *, column, action, reason, detail=None):
    """Rows of the cleaning log for the rows of ``where`` (``_file, _row, id``) selected by ``mask``.

    ``detail`` is one text for all, a Series on ``where``'s index, an array (one
    per row of ``where`` or one per selected row) or a function of ``mask``
    returning one text per selected row (so texts are built only where needed).
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    sub = where.loc[mask]
    if detail is None:
        det = ""
    elif isinstance(detail, str):
        det = detail
    elif callable(detail):  # built for the selected rows only
        det = np.asarray(detail(mask), dtype=object)
    elif isinstance(detail, pd.Series):
        det = detail.loc[sub.index].astype(str).to_numpy()
    else:  # an array: one detail per row of ``where``, or one per selected row
        det = np.asarray(detail, dtype=object)
        det = det[mask] if len(det) == len(mask) else det
    return pd.DataFrame({"section": section, "file": sub[FILE].to_numpy(), "row": sub[ROW].to_numpy(),
                         "id": sub["id"].to_numpy(), "column": column,
                         "action": action, "reason": reason, "detail": det})


def standardise(frame, *, section_cfg, instrument, path, question_texts=None, file_timepoint=None, id_prefix=""):
    """Rename an export's columns to roles (``id``, ``timepoint``, ...) and item ids, one questionnaire per row.

    Columns are found by :func:`evalkit.data.headers.match_columns` (by name,
    item id, ``items:`` rename or question text; in the wide layout by
    ``wide_columns``). Columns the config does not name are dropped here and
    never reach results (they may hold names); ``attrs['match']`` says what was
    matched how. A wide file is split into one questionnaire per row and
    timepoint (:func:`evalkit.data.layouts.wide_frame`). A date of birth
    becomes an age at the questionnaire's date and goes no further
    (:func:`evalkit.data.layouts.with_ages`).

    Parameters
    ----------
    frame : pandas.DataFrame
        As returned by :func:`evalkit.data.io.read_table`.
    section_cfg : evalkit.data.config.SectionConfig
    instrument : evalkit.data.cohort.Instrument
    path : pathlib.Path
        The file, for messages.
    question_texts : dict, optional
        Column -> question text of a Qualtrics export's extra header row.
    file_timepoint : str, optional
        ``"pre"`` or ``"post"`` when the file was given for one timepoint.
    id_prefix : str
        Put before row numbers used as ids (``columns: {id: row}``), to keep several files' rows apart.

    Returns
    -------
    frame : pandas.DataFrame
        ``_file, _row, id, timepoint``, ``_file_timepoint`` (per-timepoint files and
        wide files), the optional roles present (``age`` computed from a date of
        birth, with ``_age_note``), the item columns present.
    problems : list of dict
        Missing optional columns and missing item columns (warnings).

    Raises
    ------
    DataError
        If the id or timepoint column is missing, no item of the instrument is
        present, or a column that is used appears twice in the header (or two
        columns would become the same item), since which one holds the answers
        cannot be known.
    """
    match = match_columns(frame, section_cfg=section_cfg, instrument=instrument, path=path,
                          question_texts=question_texts, file_timepoint=file_timepoint)
    ids = None
    if match.row_ids:
        ids = row_ids(frame, prefix=id_prefix)
        used = [*match.roles.values(), *match.wide.values(), *match.wide_roles.values()]
        blank = blank_rows(frame, used)
        if blank.any():  # a wholly blank row has no id either: it is a blank row, not a questionnaire
            ids = pd.Categorical(np.where(blank, None, np.asarray(ids, dtype=object)))
    if section_cfg.layout == "wide":
        out = wide_frame(frame, match, instrument=instrument, id_values=ids)
    else:
        out = long_frame(frame, match, instrument=instrument, file_timepoint=file_timepoint, id_values=ids)
    out, age_note = with_ages(out)
    out.attrs["match"] = match
    out.attrs["age_note"] = age_note
    return out, match.problems


def _answer_kinds(values, instrument):
    """Number, kind (:func:`evalkit.data.validation.answer_kind`) and log detail of each distinct answer text."""
    lo, hi = instrument.min, instrument.max
    number = np.full(len(values), np.nan)
    kind = np.zeros(len(values), dtype=np.int8)
    detail = np.empty(len(values), dtype=object)
    for k, raw in enumerate(values):
        kind[k], number[k] = answer_kind(raw, instrument)
        if kind[k] == BLANK:
            continue
        shown = str(raw).strip()
        detail[k] = {JUNK: f"value '{raw}'", BOOLEAN: f"value '{shown}'", NONFINITE: f"value '{shown}'",
                     LABEL: f"'{shown}' read as {number[k]:g}", OUT: f"value {shown} outside {lo:g}-{hi:g}",
                     FRACTION: f"value {shown} on a whole-number scale" if instrument.whole_numbers else
                     f"value {shown} not on the steps of {instrument.answer_step or 0:g} from {lo:g}",
                     COMMA: f"'{shown}' read as {number[k]:g}"}.get(int(kind[k]))
    return number, kind, detail


def _parse_answers(data, where, *, items, instrument, section):
    """Turn answer texts into numbers (once per distinct text); log label recodes and answers set missing.

    Returns
    -------
    answers : list of (codes, numbers)
        Per item: each row's code into ``numbers``, the number of each distinct
        text (NaN = missing; code -1, a blank cell, takes the last entry).
        :func:`_answer_columns` turns them into numbers for chosen rows, so no
        rows x items array is built for rows that are never used.
    blank : numpy.ndarray of bool
        Rows whose every item cell is blank.
    usable : numpy.ndarray of int
        Number of usable answers in each row.
    logs : list of pandas.DataFrame
    counts : dict
        Item -> (answer cells present in the files, {reason: cells set missing}).
    """
    logs, answers, counts = [], [], {}
    answer_log = _answer_log(instrument)
    blank = np.ones(len(data), dtype=bool)
    usable = np.zeros(len(data), dtype=np.int32)
    for item in items:
        codes, uniques = text_codes(data[item])
        number, kind, detail = _answer_kinds(list(uniques) + [None], instrument)
        answers.append((codes, number))
        cells = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:]  # cells per distinct text
        dropped = {}
        for code, (action, reason) in answer_log.items():
            if action == "set missing" and (kind[:-1] == code).any():
                dropped[reason] = int(cells[kind[:-1] == code].sum())
        counts[item] = (int(cells[kind[:-1] != BLANK].sum()), dropped)
        usable += (~np.isnan(number))[codes]
        row_kind = kind[codes]
        blank &= row_kind == BLANK
        for code, (action, reason) in answer_log.items():
            if not (kind == code).any():
                continue
            mask = row_kind == code
            if mask.any():
                logs.append(_log(section, where, mask, column=item, action=action, reason=reason,
                                 detail=detail[codes[mask]]))
    return answers, blank, usable, logs, counts


def _answer_columns(answers, rows=None, *, items=None, instrument=None):
    """The answers of ``rows`` (default: all) as one float array per item (NaN = missing).

    With ``instrument`` (and the ``items`` the arrays are) reverse items are
    keyed (``min + max - value``) on the way. Separate arrays rather than one
    rows x items block: at 200,000 rows a block is 48 MB, which the allocator
    takes fresh from the system (and the system zeroes page by page) every
    time, while arrays of 1.6 MB are recycled.
    """
    reverse = _reverse_items(instrument) if instrument is not None else frozenset()
    out = []
    for j, (codes, number) in enumerate(answers):
        if items is not None and items[j] in reverse:
            number = instrument.min + instrument.max - number
        out.append(number[codes if rows is None else codes[rows]])
    return out


def age_band_labels(edges):
    """Labels of the age bands given by their edges (each band includes its lower edge).

    Examples
    --------
    >>> age_band_labels([5, 11, 17])
    ['5-10', '11-16']
    """
    labels = []
    for lo, hi in zip(edges, edges[1:]):
        top = hi - 1 if float(lo).is_integer() and float(hi).is_integer() else hi
        labels.append(f"{lo:g}-{top:g}")
    return labels


def band_ages(age, edges):
    """Map ages to the configured bands (``[lo, hi)``); ages outside every band give missing.

    Examples
    --------
    >>> band_ages(pd.Series([5, 10.5, 11, 16, 17, None]), [5, 11, 17]).tolist()
    ['5-10', '5-10', '11-16', '11-16', nan, nan]
    """
    labels = age_band_labels(edges)
    banded = pd.cut(pd.to_numeric(age, errors="coerce"), bins=list(edges), labels=labels, right=False)
    return banded.astype(object).where(banded.notna(), np.nan)


def _distinct(series):
    """Codes of a text column and the cleaned text (:func:`clean_text`) of each distinct value.

    The texts array ends with ``None`` for missing cells (code -1).
    """
    codes, uniques = text_codes(series)
    return codes, np.array([clean_text(v) for v in uniques] + [None], dtype=object)


def _tidy_levels(codes, shown):
    """Fold case and spaces of factor levels, showing each level by its most common spelling.

    Takes the codes and cleaned distinct texts of :func:`_distinct`; returns
    each row's code into the levels (-1 where missing) and the levels (an
    object array ending with NaN, so that code -1 picks NaN).
    """
    counts = np.bincount(codes[codes >= 0], minlength=len(shown) - 1)
    rows = {}
    for text, n in zip(shown[:-1], counts):
        if text is not None:
            rows[text] = rows.get(text, 0) + int(n)
    best = {}  # spelling shown for each folded level: most rows, then the lower-case one, then alphabetical
    for text, n in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0] != kv[0].casefold(), kv[0])):
        best.setdefault(text.casefold(), text)
    levels = list(dict.fromkeys(best.values()))
    position = {level: k for k, level in enumerate(levels)}
    code = np.array([-1 if v is None else position[best[v.casefold()]] for v in shown], dtype=np.intp)
    return code[codes], np.asarray(levels + [np.nan], dtype=object)


def score(items, *, instrument, measures=None):
    """Score subscales from keyed item answers with the prorating rule.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item id (numbers, reverse items already reversed, NaN = unanswered).
        Items absent from the frame count as unanswered.
    instrument : evalkit.data.cohort.Instrument
    measures : list of str, optional
        Measures to score (default: every measure of the instrument).

    Returns
    -------
    pandas.DataFrame
        One float column per measure. A measure is scored when at least
        ``ceil(min_answered * n_items)`` of its items are answered; its score is the
        mean of the answered items (``scoring: mean``) or that mean times the number
        of items (``scoring: sum``, the prorated sum); otherwise NaN.

    Examples
    --------
    >>> from evalkit.data.instruments import parse_instrument
    >>> inst = parse_instrument({"id": "s", "response": {"min": 1, "max": 3}, "min_answered": 0.6,
    ...     "scoring": "sum", "subscales": [{"id": "a", "items": ["q1", "q2", "q3"]}]})
    >>> score(pd.DataFrame({"q1": [1, 3, None], "q2": [2, None, None], "q3": [3, 2, 3]}), instrument=inst)
         a
    0  6.0
    1  7.5
    2  NaN
    """
    columns = [items[c].to_numpy(dtype=float) for c in items.columns]
    return pd.DataFrame(_score_columns(columns, list(items.columns), len(items), instrument=instrument,
                                       measures=measures), index=items.index, dtype=float)


def _score_columns(columns, items, n, *, instrument, measures=None):
    """:func:`score` on float arrays ``columns`` (one per item of ``items``, ``n`` rows); measure -> array."""
    out = {}
    position = {item: j for j, item in enumerate(items)}
    for mid in measures or instrument.measures:
        sub = instrument.measure(mid)
        total, answered = np.zeros(n), _answered(columns, items, sub, n)
        for j in (position[i] for i in sub.items if i in position):
            total += np.nan_to_num(columns[j], nan=0.0)
        needed = math.ceil(instrument.min_answered * len(sub.items) - 1e-9)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / answered
        value = mean * len(sub.items) if instrument.scoring == "sum" else mean
        out[mid] = np.where(answered >= max(needed, 1), value, np.nan)
    return out


def _answered(columns, items, measure, n):
    """How many of ``measure``'s items each of the ``n`` rows answered."""
    position = {item: j for j, item in enumerate(items)}
    count = np.zeros(n, dtype=np.int64)
    for j in (position[i] for i in measure.items if i in position):
        count += ~np.isnan(columns[j])
    return count


def key_items(values, *, instrument):
    """Reverse-score items (``min + max - value``) so that higher always means more of the construct.

    Examples
    --------
    >>> from evalkit.data.instruments import load_instrument
    >>> key_items(pd.DataFrame({"q1": [1.0, 3.0], "q2": [1.0, 3.0]}), instrument=load_instrument("eaq30"))
        q1   q2
    0  3.0  1.0
    1  1.0  3.0
    """
    keyed = values.to_numpy(dtype=float, copy=True)
    _reverse_in_place(keyed, list(values.columns), instrument=instrument)
    return pd.DataFrame(keyed, index=values.index, columns=values.columns)


def _reverse_items(instrument):
    """The instrument's reverse-scored items."""
    return frozenset(i for s in instrument.subscales for i in s.reverse)


def _reverse_in_place(array, items, *, instrument):
    """:func:`key_items` on a float array whose columns are ``items``, in place."""
    reverse = _reverse_items(instrument)
    for j in (j for j, item in enumerate(items) if item in reverse):
        array[:, j] = instrument.min + instrument.max - array[:, j]
    return array


_concat_text = stack_text


def _tidy(text):
    """Whether a text is already trimmed, single-spaced and free of invisible characters (C-speed checks)."""
    return text.isprintable() and text == text.strip() and "  " not in text


def _clean_ids(raw_id):
    """Cleaned ids (trimmed, spaces collapsed, case-folded), people as codes, and what to log; once per distinct id.

    Returns
    -------
    dict
        Per row: ``clean`` (object, None when no id), ``person`` (code into
        ``names``, -1 when no id), ``spaced`` (white space changed), ``folded``
        (only case changed), ``date`` (looks like a date), ``error`` (the Excel
        error text when the cell holds one, else None), ``has_error``,
        ``blank`` (nothing but white space); and ``names``: the distinct
        cleaned ids, sorted.

    Notes
    -----
    Usually every distinct id is already tidy: then the checks run on all of
    them joined into one text, and only the case folding, the dates and the
    Excel errors are looked at one by one. Otherwise each distinct id goes
    through the rules in Python; both ways give the same result (tested).
    """
    codes, uniques = text_codes(raw_id)
    texts = uniques.tolist()
    fast = _clean_tidy_ids(texts)
    if fast is None:
        fast = _clean_any_ids(texts)
    clean, person, spaced, folded, date, error, blank, names = fast
    error_rows = error[codes]
    return dict(clean=clean[codes], person=person[codes], spaced=spaced[codes], folded=folded[codes],
                date=date[codes], error=error_rows, has_error=(error != None)[codes],  # noqa: E711
                blank=blank[codes], names=np.asarray(names, dtype=object))


def _sorted_people(clean, has_id):
    """Person codes (ranks of the sorted distinct cleaned ids) of ``clean[has_id]``, and those ids."""
    person_codes, names = pd.factorize(clean[has_id])
    names = names.tolist()
    order = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.intp)  # faster than sort=True
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    person = np.full(len(clean), -1)
    person[has_id] = rank[person_codes]
    return person, np.asarray(names, dtype=object)[order]


def _clean_tidy_ids(texts):
    """:func:`_clean_ids`' per-distinct-id arrays when every id is tidy text (else None); the last entry is 'missing'."""
    joined = tidy_joined(texts)
    if joined is None:
        return None
    n = len(texts) + 1
    lowered = joined.casefold()
    folded_texts = texts if lowered == joined else lowered.split("\n")
    if len(folded_texts) != len(texts):
        return None
    clean = np.empty(n, dtype=object)
    clean[:-1] = folded_texts
    error = np.full(n, None, dtype=object)
    if "#" in lowered:
        for k, text in enumerate(folded_texts):
            if text in EXCEL_ERRORS:
                error[k], clean[k] = texts[k], None
    folded = np.zeros(n, dtype=bool)
    if folded_texts is not texts:
        folded[:-1] = clean[:-1] != np.asarray(texts, dtype=object)
        folded[:-1] &= error[:-1] == None  # noqa: E711 (element-wise)
    date = np.zeros(n, dtype=bool)
    if _DATE_LINE.search(lowered):
        date[:-1] = [t[:1].isdigit() and _DATE_ID.fullmatch(t) is not None for t in folded_texts]
    blank = np.zeros(n, dtype=bool)
    blank[-1] = True
    has_id = np.flatnonzero(clean != None)  # noqa: E711 (element-wise)
    person, names = _sorted_people(clean, has_id)
    return clean, person, np.zeros(n, dtype=bool), folded, date, error, blank, names


def _clean_any_ids(texts):
    """:func:`_clean_ids`' per-distinct-id arrays, each id through the rules in Python."""
    n = len(texts) + 1
    clean, error = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    spaced, folded, date = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    blank = np.zeros(n, dtype=bool)
    blank[-1] = True
    date_like = _DATE_ID.fullmatch
    for k, value in enumerate(texts):
        raw = value if isinstance(value, str) else str(value)
        text = raw if _tidy(raw) else clean_text(raw)
        if not text:
            blank[k] = True
            continue
        folded_text = text.casefold()
        if folded_text in EXCEL_ERRORS:
            error[k] = text
            continue
        clean[k] = folded_text
        if text is raw:
            folded[k] = folded_text != raw
        else:
            spaced[k] = folded_text != raw.casefold()
            folded[k] = not spaced[k] and raw.strip() != raw.strip().casefold()
        date[k] = raw[:1].isdigit() and date_like(folded_text) is not None
    has_id = np.flatnonzero([c is not None for c in clean])
    person, names = _sorted_people(clean, has_id)
    return clean, person, spaced, folded, date, error, blank, names


def _leading_zero_twins(names):
    """Which ids are all digits and equal another id once leading zeros are dropped ('007', '7').

    Returns a mask over ``names`` and, for those, the spellings found (``"'7', '007'"``).
    """
    joined = "\n" + "\n".join(names)
    if "\n0" not in joined:  # a twin pair needs an id starting with 0
        return np.zeros(len(names), dtype=bool), np.empty(len(names), dtype=object)
    key = np.array([u.lstrip("0") or "0" if u.isdigit() else None for u in names], dtype=object)
    table = pd.DataFrame({"key": key}).dropna()
    twins = table.groupby("key")["key"].transform("size") > 1
    flag = np.zeros(len(names), dtype=bool)
    flag[twins.index[twins.to_numpy()]] = True
    spelled = np.empty(len(names), dtype=object)
    for members in table[twins].groupby("key").groups.values():
        shown = ", ".join(f"'{u}'" for u in sorted(names[members], key=lambda u: (len(u), u)))
        spelled[members] = shown
    return flag, spelled


def _timepoints(series, timepoints):
    """Per row: 0 pre, 1 post, 2 follow-up, -1 missing, -2 a label the config does not list; and whether a label
    was mapped."""
    mapping = {timepoint_key(lbl): tp for tp, labels in timepoints.items() for lbl in labels}
    codes, uniques = text_codes(series)
    label = [clean_text(v) for v in uniques] + [None]
    key = [None if t is None else timepoint_key(t) for t in label]
    wave = {w: k for k, w in enumerate(WAVES)}
    code = np.array([-1 if k is None else wave.get(mapping.get(k), -2) for k in key])
    mapped = np.array([k is not None and k in mapping and t.casefold() != mapping[k] for t, k in zip(label, key)])
    return code[codes], mapped[codes], mapping


def _exact_duplicates(columns, among):
    """Rows (of ``among``) equal in every column to an earlier row of ``among``, and that earlier row's position.

    ``columns`` are 1-D arrays or 2-D arrays (one column per field). Rows are
    grouped by a 64-bit hash of their values, then each candidate is compared
    value by value with the first row of its group, so a hash collision can
    never exclude a row.
    """
    n = len(among)
    rows = np.flatnonzero(among)
    fields = [c[rows] for col in columns for c in ([col] if np.ndim(col) == 1 else np.asarray(col).T)]
    h = np.zeros(len(rows), dtype=np.uint64)
    for field in fields:
        h = h * np.uint64(1_000_003) ^ pd.util.hash_array(field, categorize=field.dtype == object)
    first_pos = pd.Series(np.arange(len(rows))).groupby(h, sort=False).transform("min").to_numpy()
    candidate = first_pos != np.arange(len(rows))
    same = candidate.copy()
    dup, orig = np.flatnonzero(candidate), first_pos[candidate]
    equal = np.ones(len(dup), dtype=bool)
    for field in fields:
        a, b = field[dup], field[orig]
        equal &= np.asarray((a == b) | (pd.isna(a) & pd.isna(b)), dtype=bool)
    same[candidate] = equal
    exact = np.zeros(n, dtype=bool)
    exact[rows[same]] = True
    first = np.full(n, -1)
    first[rows] = rows[first_pos]
    return exact, first


def clean_section(frames, *, section_cfg, instrument, analysis, section=None):
    """Clean, match and score one section's standardised exports, logging every action.

    Every text rule runs once per distinct value of a column (ids, labels and
    answers repeat), and everything else is column arithmetic, so 200,000 rows
    clean in about a second.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Standardised exports (from :func:`standardise`), one per file.
    section_cfg : evalkit.data.config.SectionConfig
    instrument : evalkit.data.cohort.Instrument
    analysis : dict
        The config's ``analysis`` block (``age_bands`` is used).
    section : str, optional
        Section name for the log (default ``section_cfg.name``).

    Returns
    -------
    dict
        ``rows`` (every input row with ``status`` kept/excluded and ``reason``),
        ``scores`` and ``items`` (keyed): pre and post of the intervention arm
        (everyone when there is no arm column); ``waves`` and ``waves_items``:
        every kept row, every wave and arm; ``log`` (cleaning log,
        ``LOG_COLUMNS``), ``measures``, ``not_collected``, ``factors``.

    Notes
    -----
    Rules, in order: blank rows (every cell empty or white space), rows without
    id (an Excel error such as ``#N/A`` is no id), rows whose timepoint is
    missing or not a configured label are excluded; ids are trimmed and
    case-folded (a change beyond case folding is logged per row; case folding
    itself once per file); ids that look like dates are kept and noted (a
    spreadsheet may have turned an id into a date); answers given as labels are
    recoded, a decimal comma is read as a point, out-of-range, fractional or
    unparseable answers are set missing; rows with no answer left are
    excluded; exact duplicates (same cleaned values) keep their first row;
    conflicting duplicates (same person and timepoint, different answers) are
    all excluded; factor values of a person are taken from the baseline row (a
    disagreement is logged); so are the person-level ``group``, ``facilitator``
    (names replaced by opaque codes ``G001``/``F001``... in order of first
    appearance), ``sessions`` (a whole number of 0 or more, else set missing and
    logged) and ``arm`` (``intervention``/``comparison`` from
    ``analysis.comparison``; a row whose arm is another level is excluded, and
    so is every row of a person no kept row gives an arm; the value is never
    quoted); ids that differ only by leading zeros ('007',
    '7') are kept apart and noted; unmatched persons are kept (and logged) for
    the attrition analysis; measures that cannot be scored under the
    prorating rule are logged per person.
    """
    section = section or section_cfg.name
    logs = [_nul_log(section, f) for f in frames] + [_unmatched_log(section, f) for f in frames]
    data = _concat_text(frames)
    items = [i for i in instrument.items if i in data.columns]
    roles = [r for r in OPTIONAL_ROLES + PERSON_ROLES if r in data.columns]
    is_kept = np.ones(len(data), dtype=bool)
    reason = np.full(len(data), "", dtype=object)

    ids = _clean_ids(data["id"])
    excel_error = ids["error"]
    where = data[[FILE, ROW]].assign(id=np.where(ids["person"] >= 0, ids["clean"], ""))

    def exclude(mask, why, detail=None, column=""):
        mask = np.asarray(mask, dtype=bool) & is_kept
        is_kept[mask] = False
        reason[mask] = why
        logs.append(_log(section, where, mask, column=column, action="excluded", reason=why, detail=detail))

    tp_code, relabel, mapping = _timepoints(data["timepoint"], section_cfg.timepoints)
    answers, no_item_text, usable, answer_logs, answer_counts = _parse_answers(
        data, where, items=items, instrument=instrument, section=section)
    role_text = {r: _distinct(data[r]) for r in roles}
    blank = ids["blank"] & (tp_code == -1) & no_item_text
    for codes, shown in role_text.values():
        blank &= np.array([v is None for v in shown])[codes]
    exclude(blank, "blank row")
    given = np.full(len(data), -1)
    if FILE_TIMEPOINT in data.columns:  # a file given for one timepoint, or a block of a wide row
        codes, uniques = text_codes(data[FILE_TIMEPOINT])
        given = np.array([WAVES.index(u) for u in uniques] + [-1], dtype=np.int64)[codes]
        tp_code = np.where((given >= 0) & (tp_code == -1), given, tp_code)
    has_error = ids["has_error"]
    exclude((ids["person"] < 0) & ~has_error, "missing id", column="id")
    exclude(has_error, "missing id", column="id",
            detail=lambda m: [f"Excel error '{e}' in the id cell" for e in excel_error[m]])

    # ids: whitespace changes are logged per row; plain case folding once per file
    kept = is_kept.copy()
    raw_id = data["id"]
    logs.append(_log(section, where, ids["spaced"] & kept, column="id", action="recoded",
                     reason="id trimmed of spaces", detail=lambda m: [f"'{v}'" for v in raw_id[m]]))
    for name, n in data.loc[ids["folded"] & kept, FILE].value_counts(sort=False).sort_index().items():
        if not n:
            continue
        logs.append(pd.DataFrame([dict(section=section, file=name, row=pd.NA, id="", column="id",
                                       action="recoded", reason="id case-folded",
                                       detail=f"{n} ids written in lower case so that 'C0042' and 'c0042' "
                                              f"are one person")]))
    logs.append(_log(section, where, ids["date"] & kept, column="id", action="noted",
                     reason="id looks like a date", detail="the spreadsheet may have turned an id into a date; "
                                                           "check the export"))

    # timepoints
    tp_text = np.array([np.nan, np.nan, *WAVES], dtype=object)[tp_code + 2]
    exclude(tp_code == -1, "missing timepoint", column="timepoint")
    known = ", ".join(sorted(mapping))
    exclude(tp_code == -2, "unknown timepoint", column="timepoint",
            detail=lambda m: [f"label '{clean_text(v)}' is not one of {known}" for v in data["timepoint"][m]])
    differs = (given >= 0) & (tp_code >= 0) & (tp_code != given)
    if differs.any():
        names = np.array(WAVES, dtype=object)
        exclude(differs, "timepoint differs from its file", column="timepoint",
                detail=lambda m: [f"label '{clean_text(v)}' says {t}, but the file is given for {f}" for v, t, f in
                                  zip(data["timepoint"][m], tp_text[m], names[given[m]])])
    logs.append(_log(section, where, relabel & is_kept, column="timepoint", action="recoded",
                     reason="timepoint label mapped",
                     detail=lambda m: [f"'{clean_text(v)}' read as {t}"
                                       for v, t in zip(data["timepoint"][m], tp_text[m])]))

    # answers
    logs.extend(answer_logs)
    exclude(usable == 0, "no answers", detail="every item answer is missing or unusable")

    # arm: a level the config does not list excludes its row; a person no kept row gives an arm is excluded
    arm = None
    if "arm" in roles:
        arm = _arms(*role_text["arm"], (analysis or {}).get("comparison"))
        exclude(arm == -2, "arm not a listed level", column="arm",
                detail="the arm cell holds a level not listed under analysis.comparison (not copied here; open "
                       "the file to see it, then list it or correct it)")
        arm = np.where(arm >= 0, arm, -1)
        has_arm = np.zeros(len(ids["names"]) + 1, dtype=bool)
        has_arm[ids["person"][is_kept & (arm >= 0)]] = True
        exclude(~has_arm[ids["person"]], "no arm", column="arm",
                detail="no questionnaire of this person says which arm they are in (the arm cell is blank)")

    # factors: age as numbers, the other factors as codes into their tidied levels (-1: missing)
    facts = {}
    if "age" in roles:
        codes, shown = role_text["age"]
        numbers = np.array([as_number(v) for v in shown])
        why = np.array([None if v is None or not math.isnan(n) else _AGE_REASONS.get(value_kind(v), "age not a number")
                        for v, n in zip(shown, numbers)], dtype=object)
        age = numbers[codes]
        for why_not in sorted({w for w in why if w is not None}):
            logs.append(_log(section, where, (why == why_not)[codes] & is_kept, column="age", action="set missing",
                             reason=why_not, detail=lambda m: [f"value '{v}'" for v in data["age"][m]]))
        if AGE_NOTE in data.columns:  # ages computed from a date of birth: why one is missing (no date quoted)
            codes, uniques = text_codes(data[AGE_NOTE])
            for k, why_not in enumerate(uniques):
                logs.append(_log(section, where, (codes == k) & is_kept, column="age", action="set missing",
                                 reason=why_not, detail="the date of birth is not written to any results file"))
        facts["age"] = (age, None)
    for role in ("delivery", "referral_reason", "site"):
        if role in roles:
            facts[role] = _tidy_levels(*role_text[role])
    code_maps = {}
    for role in ("group", "facilitator"):  # names become opaque codes here: no name goes further
        if role in roles:
            level_codes, levels = _tidy_levels(*role_text[role])
            facts[role] = _opaque_codes(level_codes, levels, is_kept, CODE_PREFIX[role])
            code_maps[role] = _code_map(level_codes, levels, *facts[role])
    if "sessions" in roles:
        codes, shown = role_text["sessions"]
        numbers = np.array([as_number(v) for v in shown])
        bad = np.array([v is not None and not (n >= 0 and float(n).is_integer()) for v, n in zip(shown, numbers)])
        logs.append(_log(section, where, bad[codes] & is_kept, column="sessions", action="set missing",
                         reason=SESSIONS_INVALID, detail="the value is not copied here; open the file to see it"))
        facts["sessions"] = (np.where(bad, np.nan, numbers)[codes], None)
    if arm is not None:
        facts["arm"] = (arm, np.asarray([*ARMS, np.nan], dtype=object))

    # people and timepoints as integer codes (ids in sorted order): the rest is array arithmetic
    id_code, id_names = ids["person"], ids["names"]
    person_tp = id_code * len(WAVES) + tp_code

    def questionnaires(kept):
        """How many kept questionnaires each kept row's person has at its timepoint (0 for other rows)."""
        size = np.zeros(len(kept), dtype=np.int64)
        size[kept] = np.bincount(person_tp[kept], minlength=len(WAVES) * len(id_names))[person_tp[kept]]
        return size

    # duplicates: compared on cleaned values, so 'C1 ' and 'c1' with the same answers are one row twice;
    # only rows sharing person and timepoint can be duplicates, so only those are compared
    kept = is_kept.copy()
    candidates = kept & (questionnaires(kept) > 1)
    if candidates.any():
        compared = [person_tp, np.column_stack(_answer_columns(answers))] + [values for values, _ in facts.values()]
        exact, first = _exact_duplicates(compared, candidates)
        files, source_rows = where[FILE].to_numpy(), where[ROW].to_numpy()
        exclude(exact, "exact duplicate",
                detail=lambda m: [f"same answers as {files[i]} row {source_rows[i]}" for i in first[m]])
        kept = is_kept.copy()
        size = questionnaires(kept)
        exclude(kept & (size > 1), "conflicting duplicate",
                detail=lambda m: [f"{n} questionnaires with different answers for this person at {t}"
                                  for n, t in zip(size[m], tp_text[m])])

    kept = is_kept.copy()
    rows = data[[FILE, ROW]].assign(id=ids["clean"], timepoint=tp_text,
                                    status=np.array(["excluded", "kept"], dtype=object)[kept.view(np.int8)],
                                    reason=reason)
    # the kept rows in output order: by id, pre before post
    kept_rows = np.flatnonzero(kept)
    order = np.lexsort((tp_code[kept_rows], id_code[kept_rows]))
    taken = kept_rows[order]
    person, when = id_code[taken], tp_code[taken]
    kept_where = where.iloc[taken]
    out = {"id": id_names[person], "timepoint": np.array(WAVES, dtype=object)[when]}

    # person-level factors from the baseline row (the first value given, pre rows first: ``taken`` is in
    # that order already, and stable within a person and timepoint)
    for col, (values, levels) in facts.items():
        own = values[taken]
        given = ~np.isnan(own) if levels is None else own >= 0
        who, value = person[given], own[given]
        starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]]) if len(who) else np.array([], dtype=int)
        base = np.full(len(id_names), np.nan if levels is None else -1, dtype=own.dtype)
        base[who[starts]] = value[starts]
        baseline = base[person]
        if levels is None:
            differs = given & ~np.isnan(baseline) & (own != baseline)
            if col == "age":  # a birthday during the programme is not a disagreement
                differs &= np.abs(own - baseline) > 1
            shown_own, shown_base = own.astype(object), baseline.astype(object)
        else:
            differs = given & (baseline >= 0) & (own != baseline)
            shown_own, shown_base = levels[own], levels[baseline]
        if differs.any():
            logs.append(_log(section, kept_where, differs, column=col, action="noted",
                             reason="differs from baseline value; baseline used",
                             detail=[f"'{a}' vs baseline '{b}'" for a, b in
                                     zip(pd.Series(shown_own[differs]).astype(str),
                                         pd.Series(shown_base[differs]).astype(str))]))
        out[col] = baseline if levels is None else levels[baseline]
    if "age" in out:
        edges = analysis["age_bands"]
        out["age_band"] = band_ages(pd.Series(out["age"]), edges).to_numpy()
        outside = ~np.isnan(out["age"]) & pd.isna(out["age_band"])
        if outside.any():
            logs.append(_log(section, kept_where, outside, column="age", action="noted",
                             reason="age outside the configured age bands",
                             detail=np.array([f"age {a:g} not in {edges[0]:g}-{edges[-1]:g}; age band left missing"
                                              for a in out["age"][outside]], dtype=object)))

    # ids that may be one child written with and without leading zeros: kept apart, noted
    twin_names, spelled_names = _leading_zero_twins(id_names)
    twins, spelled = twin_names[person], spelled_names[person]
    if twins.any():
        logs.append(_log(section, kept_where, twins, column="id", action="noted",
                         reason="ids differ only by leading zeros",
                         detail=np.array([f"{s} are kept as different people; check whether they are one child "
                                          f"(a spreadsheet drops leading zeros)" for s in spelled[twins]],
                                         dtype=object)))

    # matching
    has = np.zeros((len(WAVES), len(id_names)), dtype=bool)
    has[when, person] = True
    matched = has[0, person] & has[1, person]
    out["matched"] = matched
    for code, (have, lacks) in enumerate((("pre", "post"), ("post", "pre"))):
        logs.append(_log(section, kept_where, ~matched & (when == code), column="timepoint", action="noted",
                         reason=f"no {lacks} questionnaire",
                         detail="kept: counts in the attrition analysis, not in pre/post tests"))
    logs.append(_log(section, kept_where, ~has[0, person] & (when == 2), column="timepoint", action="noted",
                     reason="no pre questionnaire",
                     detail="kept: a follow-up questionnaire without a baseline; in no change from baseline"))

    # scoring, on the kept rows in output order
    keyed = _answer_columns(answers, taken, items=items, instrument=instrument)
    del answers
    not_collected = [m for m in instrument.measures
                     if not any(i in items for i in instrument.measure(m).items)]
    measures = [m for m in instrument.measures if m not in not_collected]
    scores = _score_columns(keyed, items, len(taken), instrument=instrument, measures=measures)
    for m in measures:
        sub = instrument.measure(m)
        miss = np.isnan(scores[m])
        if not miss.any():
            continue
        answered = _answered(keyed, items, sub, len(taken))[miss]
        needed = math.ceil(instrument.min_answered * len(sub.items) - 1e-9)
        logs.append(_log(section, kept_where, miss, column=m, action="not scored",
                         reason="too few items answered",
                         detail=[f"{a} of {len(sub.items)} items answered; {needed} needed "
                                 f"({instrument.min_answered:.0%} rule)" for a in answered]))
    out.update((m, scores[m]) for m in measures)
    out = pd.DataFrame(out, copy=False)  # the arrays are new: no copy, no consolidation
    item_out = pd.DataFrame({"id": out["id"].to_numpy(), "timepoint": out["timepoint"].to_numpy(),
                             **dict(zip(items, keyed))}, copy=False)
    # ``scores``/``items``: pre and post of the intervention arm (everyone when no arm); ``waves``: every kept row
    waves, waves_items = out, item_out
    analysed = when < 2
    if "arm" in out.columns:
        analysed &= out["arm"].to_numpy() == ARMS[0]
    if not analysed.all():
        keep = np.flatnonzero(analysed)
        out = waves.iloc[keep].reset_index(drop=True)
        item_out = waves_items.iloc[keep].reset_index(drop=True)

    parts = [x for x in logs if x is not None and len(x)]
    log = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LOG_COLUMNS)
    log = log[LOG_COLUMNS]
    log["row"] = log["row"].astype("Int64")
    log = (log.sort_values(["file", "row", "column", "action"], kind="stable", na_position="first")
           .reset_index(drop=True))
    factors = [f for f in ("delivery", "age_band", "referral_reason", "site") if f in out.columns]
    return dict(rows=rows, scores=out, items=item_out, waves=waves, waves_items=waves_items, log=log,
                measures=measures, not_collected=not_collected, factors=factors, answer_counts=answer_counts,
                code_maps=code_maps)


def _arms(codes, shown, comparison):
    """Per row: 0 intervention, 1 comparison, -1 blank, -2 a level ``analysis.comparison`` does not list.

    Levels are compared as timepoint labels are (:func:`timepoint_key`: case, spaces and numbers folded).
    """
    mapping = {timepoint_key(label): k for k, arm in enumerate(ARMS) for label in (comparison or {}).get(arm, [])}
    code = np.array([-1 if v is None else mapping.get(timepoint_key(v), -2) for v in shown], dtype=np.intp)
    return code[codes]


def _opaque_codes(codes, levels, kept, prefix):
    """:func:`_tidy_levels`' output with each level replaced by an opaque code (``G001``, ...).

    Codes are numbered in order of first appearance among the ``kept`` rows (in file order), so a group's name
    never reaches a table, a figure or the cleaning log; levels seen only on excluded rows get later numbers.

    Examples
    --------
    >>> codes, levels = _opaque_codes(np.array([1, -1, 0, 1]), np.array(["b", "a", np.nan], dtype=object),
    ...                               np.array([True, True, True, True]), "G")
    >>> levels[codes].tolist()
    ['G001', nan, 'G002', 'G001']
    """
    n = len(levels) - 1
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    rows = np.arange(len(codes), dtype=np.int64) + np.where(kept, 0, len(codes))  # excluded rows count last
    given = codes >= 0
    np.minimum.at(first, codes[given], rows[given])
    rank = np.empty(n, dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(n)
    width = max(3, len(str(n)))
    coded = np.asarray([f"{prefix}{k + 1:0{width}d}" for k in range(n)] + [np.nan], dtype=object)
    return np.where(given, rank[np.where(given, codes, 0)], -1), coded


def _code_map(level_codes, levels, row_codes, coded):
    """Name key -> opaque code of :func:`_opaque_codes`' output, so that other files can share the codes.

    The key is a name as :func:`name_key` folds it (the cleaned text, case-folded), as :func:`_tidy_levels`
    compares levels. The map holds names: it stays in memory and is never written.

    Examples
    --------
    >>> level_codes, levels = _tidy_levels(*_distinct(pd.Series(["Group B", "group a", "GROUP B", None])))
    >>> _code_map(level_codes, levels, *_opaque_codes(level_codes, levels, np.ones(4, bool), "G"))
    {'group b': 'G001', 'group a': 'G002'}
    """
    given = level_codes >= 0
    found, first = np.unique(level_codes[given], return_index=True)
    rows = np.flatnonzero(given)[first]
    pairs = sorted(zip(rows, found))
    return {name_key(levels[level]): coded[row_codes[row]] for row, level in pairs}


def name_key(value):
    """How a group or facilitator name is compared across files: cleaned text, case-folded (None when blank).

    Examples
    --------
    >>> name_key("  Group\u00a0A1 "), name_key("F012"), name_key(" ")
    ('group a1', 'f012', None)
    """
    text = clean_text(value)
    return None if text is None else text.casefold()


def _nul_log(section, frame):
    """The cleaning-log row of a file whose NUL bytes the reader removed (None when it had none)."""
    lines = frame.attrs.get("nul_lines") or []
    if not lines or not len(frame):
        return None
    shown = ", ".join(str(n) for n, _ in lines[:10]) + (" ..." if len(lines) > 10 else "")
    return pd.DataFrame([dict(section=section, file=str(frame[FILE].iloc[0]), row=pd.NA, id="", column="",
                              action="recoded", reason="NUL bytes removed",
                              detail=f"{sum(c for _, c in lines)} NUL byte(s) removed from {len(lines)} line(s) "
                                     f"(line {shown}); a NUL byte would have cut its cell's text short")])


def _unmatched_log(section, frame):
    """One cleaning-log row per column of a file that matched no item and no configured column (dropped).

    The header is named in ``detail`` only: ``column`` stays empty, because the
    counts of log rows by column are shown on the data-quality page, and a header
    may be a name.
    """
    match = frame.attrs.get("match")
    if match is None or not match.unmatched or not len(frame):
        return None
    return pd.DataFrame([dict(section=section, file=str(frame[FILE].iloc[0]), row=pd.NA, id="", column="",
                              action="dropped", reason="unmatched column",
                              detail=f"column '{name}' matches no item id or question text and no configured "
                                     f"column; check its wording if it holds answers")
                         for name in match.unmatched])


def missing_warnings(answer_counts, *, instrument, section, min_cell=1):
    """Warnings for the measures of which cleaning set more than ``MISSING_WARNING_SHARE`` of the answers missing.

    Parameters
    ----------
    answer_counts : dict
        Item -> (answer cells present in the files, {reason: cells set missing}),
        as :func:`clean_section` returns it (``answer_counts``).
    instrument : evalkit.data.cohort.Instrument
    section : str
    min_cell : int
        Cell counts below it are written "fewer than ``min_cell``".

    Returns
    -------
    list of str
        One plain sentence per measure (subscale): the section, the measure's
        label, the share of its present answers set missing and the causes
        with their cell counts. No value from a data file is quoted.

    Examples
    --------
    >>> from evalkit.data.instruments import load_instrument
    >>> eaq = load_instrument("eaq30")
    >>> counts = {q: (100, {"not a whole number": 40}) for q in eaq.subscales[0].items}
    >>> missing_warnings(counts, instrument=eaq, section="children")[0]  # doctest: +NORMALIZE_WHITESPACE
    'children: 40% of the answers to Differentiating Emotions were set missing (not a whole number: 280 cells);
     see results/cleaning_log.csv'
    """
    out = []
    for sub in instrument.subscales:
        present = sum(answer_counts[i][0] for i in sub.items if i in answer_counts)
        causes = {}
        for i in sub.items:
            for reason, n in (answer_counts.get(i, (0, {}))[1]).items():
                causes[reason] = causes.get(reason, 0) + n
        dropped = sum(causes.values())
        if not present or dropped <= MISSING_WARNING_SHARE * present:
            continue
        share = dropped / present
        pct = f"{100 * share:.0f}%" if share >= 0.095 else f"{100 * share:.1f}%"
        why = "; ".join(f"{reason}: " + (f"{n} cell{'s' if n != 1 else ''}" if n >= min_cell
                                          else f"fewer than {min_cell} cells")
                        for reason, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])) if n)
        out.append(f"{section}: {pct} of the answers to {sub.label} were set missing ({why}); "
                   f"see results/cleaning_log.csv")
    return out


def check_item_map(section_cfg, instrument, config_path):
    """Refuse an ``items`` rename whose target is not an item of the instrument.

    Raises
    ------
    ConfigError
        Naming the config key and the instrument's items.
    """
    for source, target in section_cfg.items.items():
        if target not in instrument.items:
            raise ConfigError(f"'{source}' is mapped to '{target}', which is not an item of instrument "
                              f"'{instrument.id}'", file=config_path, column=f"{section_cfg.name}.items.{source}",
                              expected=f"one of {', '.join(instrument.items[:6])} ...")


def read_section(section_cfg, *, instrument):
    """Read, standardise and validate every file of a section.

    Returns
    -------
    frames : list of pandas.DataFrame
        One standardised export per file (:func:`standardise`): one questionnaire
        per row, whatever the layout.
    problems : pandas.DataFrame
        ``PROBLEM_COLUMNS``; everything pandera found plus missing columns.
    notes : dict
        File name -> list of notes on how it was read; and the section's name ->
        sentences on the section as a whole (its layout, how many questionnaires
        came from how many rows, columns matched by question text, columns
        dropped), which quote no header that might be a name.

    Raises
    ------
    DataError
        A file is missing, unreadable, has no rows, lacks the id or timepoint
        column or every item.
    """
    frames, problems, notes = [], [], {}
    labels = [lbl for lbls in section_cfg.timepoints.values() for lbl in lbls]
    names = [p.name for p in section_cfg.files]
    resolved = [p.resolve() for p in section_cfg.files]
    if len(set(resolved)) != len(resolved):
        twice = next(p for p in section_cfg.files if resolved.count(p.resolve()) > 1)
        raise DataError("the same file is listed twice, so its rows would be counted twice; list it once",
                        file=twice, column=f"{section_cfg.name}.file")
    if len(set(names)) != len(names):
        raise DataError("two files of this section have the same name; rename one so that the cleaning log "
                        "can tell their rows apart", file=section_cfg.files[0], column=f"{section_cfg.name}.file")
    several = len(section_cfg.files) > 1
    for path in section_cfg.files:
        raw = read_table(path, header_hint=None if _row_ids(section_cfg) else section_cfg.columns["id"],
                         categorical=True)
        notes[path.name] = list(raw.attrs.get("notes", []))
        raw, texts, skipped = question_rows(raw)
        if skipped:
            notes[path.name].append(skipped)
        timepoint = section_cfg.timepoint_of(path)
        std, missing = standardise(raw, section_cfg=section_cfg, instrument=instrument, path=path,
                                   question_texts=texts, file_timepoint=timepoint,
                                   id_prefix=f"{path.stem}-" if several else "")
        std.attrs["nul_lines"] = raw.attrs.get("nul_lines", [])
        std.attrs["rows"] = len(raw)
        std.attrs["file_timepoint"] = timepoint
        match = std.attrs["match"]
        notes[path.name].extend(_file_notes(match, std, section_cfg))
        del raw
        if std.empty:
            raise DataError("the file has a header but no rows; export it again with the answers", file=path)
        for p in missing:
            problems.append(dict(section=section_cfg.name, file=path.name, example_rows="", **p))
        items = [c for c in std.columns if c in instrument.items]
        schema = answer_rules(instrument, items=items, timepoint_labels=labels, age="age" in std.columns)
        problems.append(validate_frame(std, schema=schema, section=section_cfg.name, file=path.name))
        frames.append(std)
    notes[section_cfg.name] = section_notes(frames, section_cfg)
    parts = [p if isinstance(p, pd.DataFrame) else pd.DataFrame([p]) for p in problems]
    problems = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=PROBLEM_COLUMNS)
    return frames, problems[PROBLEM_COLUMNS], notes


def _row_ids(section_cfg):
    """Whether the section may number its rows as ids (``columns: {id: row}`` on a wide file)."""
    return section_cfg.layout == "wide" and section_cfg.columns["id"].strip().casefold() == "row"


def _file_notes(match, std, section_cfg):
    """Notes on how one file's columns were read (no header that could be a name is quoted)."""
    out = []
    if match.row_ids:
        out.append("no id column: each row's number in the file is its id ('columns: {id: row}')")
    if std.attrs.get("file_timepoint"):
        out.append(f"given for {std.attrs['file_timepoint']}: every questionnaire in it is at that timepoint")
    if match.bookkeeping:
        out.append(f"form bookkeeping column(s) dropped, never shown: {', '.join(match.bookkeeping)}")
    if std.attrs.get("age_note"):
        out.append(std.attrs["age_note"] + "; the dates themselves are not kept")
    return out


def section_notes(frames, section_cfg):
    """Sentences on how a section's files were read, for ``evalkit validate`` and the data-quality page.

    They name the layout, say how many questionnaires came from how many rows
    (in the wide layout a row holds a questionnaire per timepoint, and the
    accounting counts questionnaires, not rows) and how many columns matched
    items by their question text or were dropped. No header is quoted that could
    be a name.
    """
    rows = sum(f.attrs.get("rows", len(f)) for f in frames)
    questionnaires = sum(len(f) for f in frames)
    files = len(frames)
    of_files = f"{files} file{'s' if files != 1 else ''}"
    if section_cfg.layout == "wide":
        out = [f"wide layout (one person per row, answer columns named '{section_cfg.wide_columns}'): "
               f"{rows} row{'s' if rows != 1 else ''} in {of_files} read as {questionnaires} questionnaires, one "
               f"per timepoint; rows in, kept and excluded count questionnaires, not rows"]
    elif section_cfg.file_timepoints:
        per = {tp: sum(len(f) for f in frames if f.attrs.get("file_timepoint") == tp) for tp in WAVES}
        out = [f"long layout, a file per timepoint: {questionnaires} questionnaires from {rows} rows in "
               f"{of_files} ({per['pre']} given for pre, {per['post']} for post"
               + (f", {per['follow_up']} for follow-up)" if "follow_up" in section_cfg.file_timepoints else ")")]
    else:
        out = [f"long layout (one questionnaire per row): {questionnaires} questionnaires from {rows} rows in "
               f"{of_files}"]
    by_text = sum(len(f.attrs["match"].by_text) for f in frames)
    if by_text:
        out.append(f"{by_text} column(s) matched items by their question text")
    unmatched = sum(len(f.attrs["match"].unmatched) for f in frames)
    if unmatched:
        out.append(f"{unmatched} column(s) matched no item and no configured column and were dropped (see "
                   f"'unmatched column' in results/cleaning_log.csv)")
    return out


def accounting(rows, reason_columns=EXCLUSION_REASONS):
    """Rows in = rows kept + rows excluded, per file and per reason.

    Parameters
    ----------
    rows : pandas.DataFrame
        The ``rows`` table of :func:`clean_section` (``_file``, ``status``, ``reason``).
    reason_columns : sequence of str
        The exclusion reasons that get a column (default :data:`EXCLUSION_REASONS`; the delivery and system
        sections of :mod:`evalkit.data.service` have their own).

    Returns
    -------
    summary : pandas.DataFrame
        ``file, rows_in, rows_kept, rows_excluded`` plus one column per exclusion
        reason, and a final ``all files`` row.
    by_reason : pandas.DataFrame
        Tidy ``file, outcome, reason, rows``.
    """
    file_code, file_names = pd.factorize(rows[FILE].to_numpy(dtype=object), sort=True)
    excluded = (rows["status"] == "excluded").to_numpy()
    reason_code, reasons = pd.factorize(np.where(excluded, rows["reason"].to_numpy(dtype=object), ""), sort=True)
    n_files, n_reasons = len(file_names), len(reasons)
    # one count per (file, outcome, reason): a single integer key, counted by numpy
    key = (file_code * 2 + excluded) * n_reasons + reason_code
    found, counts = np.unique(key, return_counts=True)
    tidy = pd.DataFrame({"file": file_names[found // (2 * n_reasons)],
                         "outcome": np.where((found // n_reasons) % 2 == 1, "excluded", "kept"),
                         "reason": reasons[found % n_reasons], "rows": counts})
    tidy = tidy.sort_values(["file", "outcome", "reason"], kind="stable").reset_index(drop=True)
    summary = pd.DataFrame({"file": np.asarray(file_names, dtype=object),
                            "rows_in": np.bincount(file_code, minlength=n_files)})
    summary["rows_kept"] = np.bincount(file_code[~excluded], minlength=n_files)
    summary["rows_excluded"] = summary["rows_in"] - summary["rows_kept"]
    position = {why: i for i, why in enumerate(reasons)}
    for why in reason_columns:
        hit = excluded & (reason_code == position.get(why, -1))
        summary[why] = np.bincount(file_code[hit], minlength=n_files)
    total = summary.drop(columns="file").sum().to_frame().T
    total.insert(0, "file", "all files")
    summary = pd.concat([summary, total], ignore_index=True)
    return summary, tidy


def action_counts(log):
    """Count cleaning-log rows by section, action, reason and column (what ``validate`` prints).

    Examples
    --------
    >>> log = pd.DataFrame({"section": ["children"] * 3, "action": ["excluded", "excluded", "set missing"],
    ...                     "reason": ["missing id", "missing id", "out of range"], "column": ["id", "id", "q1"]})
    >>> action_counts(log)
        section       action        reason columns  rows
    0  children     excluded    missing id      id     2
    1  children  set missing  out of range      q1     1
    """
    if log.empty:
        return pd.DataFrame(columns=["section", "action", "reason", "columns", "rows"])
    grouped = log.groupby(["section", "action", "reason"], sort=True)
    out = grouped.agg(columns=("column", lambda c: ", ".join(sorted(set(map(str, c)))[:6])
                               + (" ..." if c.nunique() > 6 else "")),
                      rows=("column", "size")).reset_index()
    return out
