"""Shape an export into one questionnaire per row: long files as they are, wide rows split per timepoint, ages
computed from dates of birth (which go no further)."""
from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

from .io import FILE, ROW, text_codes
from .validation import clean_text

#: Private columns of a standardised export: the timepoint a file or a wide block gives its rows, and why a
#: computed age was left missing.
FILE_TIMEPOINT = "_file_timepoint"
AGE_NOTE = "_age_note"
#: Computed ages outside this range (whole years) are implausible: set missing and logged.
AGE_RANGE = (0, 25)
#: Why an age computed from a date of birth is missing (the cleaning log's reasons; no date is ever quoted).
AGE_NOT_A_DATE = "age not computed: the date of birth is not a date"
AGE_NO_DATE = "age not computed: no questionnaire date"
AGE_IMPLAUSIBLE = "age from the date of birth implausible (negative or over 25)"
_OPTIONAL = ("age", "delivery", "referral_reason", "site", "date_of_birth", "date", "group", "facilitator", "sessions",
             "arm")
#: The waves a wide row may hold a block of answers for, in time order.
_WAVES = ("pre", "post", "follow_up")


def _constant(value, n):
    """A categorical column of ``n`` rows all ``value`` (or all missing when None)."""
    if value is None:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=pd.Index([], dtype=object))
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value], dtype=object))


def _text_column(frame, column):
    """A column of ``frame`` as a categorical array (what the cleaning reads)."""
    values = frame[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    return pd.Categorical(values.to_numpy(dtype=object))


def row_ids(frame, *, prefix=""):
    """The row number of each row as its id (``columns: {id: row}`` on a wide file without ids).

    Examples
    --------
    >>> row_ids(pd.DataFrame({"_row": [2, 3]})).tolist(), row_ids(pd.DataFrame({"_row": [2]}), prefix="a-").tolist()
    (['2', '3'], ['a-2'])
    """
    rows = frame[ROW].to_numpy()
    return pd.Categorical([f"{prefix}{r}" for r in rows], categories=pd.Index(
        [f"{prefix}{r}" for r in np.unique(rows)], dtype=object))


def long_frame(frame, match, *, instrument, file_timepoint=None, id_values=None):
    """The standardised long export: ``_file, _row, id, timepoint``, the roles found, the items found.

    With ``file_timepoint`` (a file given for one timepoint) a ``_file_timepoint``
    column says it, and a file without a timepoint column gets an empty one.
    """
    n = len(frame)
    out = {FILE: frame[FILE].array, ROW: frame[ROW].to_numpy()}
    out["id"] = id_values if id_values is not None else _text_column(frame, match.roles["id"])
    out["timepoint"] = (_text_column(frame, match.roles["timepoint"]) if "timepoint" in match.roles
                        else _constant(None, n))
    if file_timepoint is not None:
        out[FILE_TIMEPOINT] = _constant(file_timepoint, n)
    for role in _OPTIONAL:
        if role in match.roles:
            out[role] = _text_column(frame, match.roles[role])
    for item in instrument.items:
        if item in match.items:
            out[item] = _text_column(frame, match.items[item])
    return pd.DataFrame(out, copy=False)


def wide_frame(frame, match, *, instrument, id_values=None):
    """A wide export split into one questionnaire per person and timepoint (pre rows, then post, then follow-up).

    Every row of the file gives a questionnaire at each timepoint that has answer
    columns; both keep the file's row number. Roles found once per row go to both;
    a role found once per timepoint (``age_pre``, ``age_post``) to its own. The
    timepoint cell is empty and ``_file_timepoint`` holds the block's timepoint, so
    a wholly blank row is a blank row twice, and a blank post block is a post
    questionnaire with no answers (its person is pre-only).
    """
    n = len(frame)
    items = [i for i in instrument.items if any((i, tp) in match.wide for tp in _WAVES)]
    roles = [r for r in _OPTIONAL if r in match.roles or any((r, tp) in match.wide_roles for tp in _WAVES)]
    ids = id_values if id_values is not None else _text_column(frame, match.roles["id"])
    blocks = []
    for tp in _WAVES:
        if not any((i, tp) in match.wide for i in items):
            continue
        block = {FILE: frame[FILE].array, ROW: frame[ROW].to_numpy(), "id": ids, "timepoint": _constant(None, n),
                 FILE_TIMEPOINT: _constant(tp, n)}
        for role in roles:
            source = match.wide_roles.get((role, tp), match.roles.get(role))
            block[role] = _text_column(frame, source) if source is not None else _constant(None, n)
        for item in items:
            source = match.wide.get((item, tp))
            block[item] = _text_column(frame, source) if source is not None else _constant(None, n)
        blocks.append(pd.DataFrame(block, copy=False))
    return stack_text(blocks)


def blank_rows(frame, columns):
    """Per row of ``frame``: whether every one of ``columns`` is blank (empty or white space only)."""
    blank = np.ones(len(frame), dtype=bool)
    for column in columns:
        codes, uniques = text_codes(frame[column])
        empty = np.array([clean_text(v) is None for v in uniques] + [True], dtype=bool)
        blank &= empty[codes]
    return blank


def stack_text(frames):
    """Stack standardised exports; categorical text columns stay categorical (categories united)."""
    if len(frames) == 1:
        frame = frames[0]
        return frame if frame.index.equals(pd.RangeIndex(len(frame))) else frame.reset_index(drop=True)
    from pandas.api.types import union_categoricals

    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    out = {}
    for col in columns:
        parts = [f[col] if col in f else pd.Series(np.nan, index=f.index, dtype=object) for f in frames]
        if col in (FILE, ROW) or not all(isinstance(p.dtype, pd.CategoricalDtype) or p.isna().all() for p in parts):
            out[col] = pd.concat([p.astype(object) if isinstance(p.dtype, pd.CategoricalDtype) else p
                                  for p in parts], ignore_index=True)
        else:
            cats = [p.values if isinstance(p.dtype, pd.CategoricalDtype) else pd.Categorical(p) for p in parts]
            out[col] = pd.Series(union_categoricals(cats, ignore_order=True))
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- dates and ages

_YMD = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ tT].*)?")
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?:[ ,tT].*)?")
_WORDED = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B, %Y")


def _year(text):
    year = int(text)
    return year + 2000 if len(text) == 2 else year


def day_first(values):
    """Whether ``d/m/y`` dates in ``values`` are written day first: True, False, or None when no value says.

    A first number above 12 says day first; a second number above 12 says month
    first (as US-set Microsoft and Google Forms exports write them).

    Examples
    --------
    >>> day_first(["23/04/2016", "01/02/2016"]), day_first(["4/23/2016"]), day_first(["01/02/2016", "2016-04-23"])
    (True, False, None)
    """
    first = second = False
    for value in values:
        m = _DMY.fullmatch(value) if isinstance(value, str) else None
        if m:
            first |= int(m.group(1)) > 12
            second |= int(m.group(2)) > 12
    if first:
        return True
    return False if second else None


def parse_date(value, *, dayfirst=True):
    """A date written as ``yyyy-mm-dd``, ``dd/mm/yyyy`` (``mm/dd/yyyy`` with ``dayfirst=False``) or ``5 March
    2016``, a time after it ignored; None when it is not a date.

    Examples
    --------
    >>> parse_date("2016-04-23T10:00:00"), parse_date("23/04/2016 09:15"), parse_date("4/23/2016", dayfirst=False)
    (datetime.date(2016, 4, 23), datetime.date(2016, 4, 23), datetime.date(2016, 4, 23))
    >>> parse_date("5 March 2016"), parse_date("31/02/2016"), parse_date("soon")
    (datetime.date(2016, 3, 5), None, None)
    """
    text = clean_text(value)
    if text is None:
        return None
    try:
        m = _YMD.fullmatch(text)
        if m:
            return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _DMY.fullmatch(text)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            day, month = (a, b) if dayfirst else (b, a)
            return datetime.date(_year(m.group(3)), month, day)
    except ValueError:
        return None
    for fmt in _WORDED:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _dates(series, dayfirst):
    """Per row: year, month and day of the date in each cell (0 where none), and whether the cell is blank."""
    codes, uniques = text_codes(series)
    parsed = [parse_date(v, dayfirst=dayfirst) for v in uniques]
    ymd = np.array([(d.year, d.month, d.day) if d else (0, 0, 0) for d in parsed] + [(0, 0, 0)], dtype=np.int64)
    blank = np.array([clean_text(v) is None for v in uniques] + [True], dtype=bool)
    return ymd[codes], blank[codes]


def whole_years(born, at):
    """Age in whole years at ``at`` of people born on ``born`` (arrays of year, month, day rows).

    Examples
    --------
    >>> whole_years(np.array([[2016, 4, 23], [2016, 4, 23]]), np.array([[2024, 4, 22], [2024, 4, 23]])).tolist()
    [7, 8]
    """
    before_birthday = (at[:, 1] < born[:, 1]) | ((at[:, 1] == born[:, 1]) & (at[:, 2] < born[:, 2]))
    return at[:, 0] - born[:, 0] - before_birthday


def with_ages(frame):
    """Replace ``date_of_birth`` and ``date`` by ``age`` (whole years at the questionnaire's date).

    The cleaning takes a person's age from their baseline questionnaire, so the
    age is the age at the baseline questionnaire's date. An age that cannot be
    computed, or is negative or over 25, is left empty and ``_age_note`` says
    why (for the cleaning log, which quotes no date). Neither date column is
    kept: the date of birth never leaves the reader.

    Returns
    -------
    frame : pandas.DataFrame
    note : str or None
        How the dates were read, for the notes.
    """
    if "date_of_birth" not in frame.columns:
        return frame.drop(columns=[c for c in ("date",) if c in frame.columns]), None
    _, values_b = text_codes(frame["date_of_birth"])
    _, values_d = text_codes(frame["date"]) if "date" in frame.columns else (None, [])
    # each column's own dates say which way round they are written; else the other column's; else day first
    order_b, order_d = day_first(values_b), day_first(values_d)
    first_b = order_b if order_b is not None else order_d if order_d is not None else True
    first_d = order_d if order_d is not None else order_b if order_b is not None else True
    born, born_blank = _dates(frame["date_of_birth"], first_b)
    at = _dates(frame["date"], first_d)[0] if "date" in frame.columns else np.zeros_like(born)
    has_born, has_at = born[:, 0] > 0, at[:, 0] > 0
    years = whole_years(born, at)
    plausible = (years >= AGE_RANGE[0]) & (years <= AGE_RANGE[1])
    ok = has_born & has_at & plausible
    note = np.full(len(frame), None, dtype=object)
    note[~born_blank & ~has_born] = AGE_NOT_A_DATE
    note[has_born & ~has_at] = AGE_NO_DATE
    note[has_born & has_at & ~plausible] = AGE_IMPLAUSIBLE
    age = np.where(ok, years, -1)
    shown = np.unique(age[ok])
    position = np.searchsorted(shown, age)
    out = frame.drop(columns=[c for c in ("date_of_birth", "date") if c in frame.columns])
    out["age"] = pd.Categorical.from_codes(np.where(ok, position, -1),
                                           categories=pd.Index([str(int(a)) for a in shown], dtype=object))
    out[AGE_NOTE] = pd.Categorical(note)
    how = []
    for what, values, first, said in (("dates of birth", values_b, first_b, order_b),
                                       ("questionnaire dates", values_d, first_d, order_d)):
        if any(isinstance(v, str) and _DMY.fullmatch(v) for v in values):
            how.append(f"{what} like 01/02/2016 read " + ("day first (dd/mm/yyyy)" if first else
                                                         "month first (mm/dd/yyyy)")
                       + ("" if said is not None else ", as no date in the file says otherwise"))
    how = "; " + "; ".join(how) if how else ""
    return out, f"age computed in whole years from the date of birth at the questionnaire date{how}"
