"""Read questionnaire exports (CSV, XLSX, SPSS .sav) into all-text frames that keep source row numbers."""
from __future__ import annotations

import csv
import datetime
import io as _io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .instruments import normalise_label

#: Name of the column added by the readers: the row number a person sees in the
#: file (spreadsheet sense: the header is row 1, so the first answer row is row 2;
#: for SPSS files the case number, 1-based).
ROW = "_row"
FILE = "_file"
READERS = (".csv", ".txt", ".xlsx", ".xlsm", ".sav")
_ENCODINGS = ("utf-8-sig", "cp1252")


def _kind_from_bytes(head):
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive such as an Excel .xlsx workbook"
    if head.startswith((b"$FL2", b"$FL3")):
        return "an SPSS .sav file"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel .xls (or other OLE) file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if b"\x00" in head:
        return "a binary file"
    return "text"


def sniff(path):
    """Say what a file really is from its first bytes, whatever its extension.

    Examples
    --------
    >>> sniff("data/sample/facilitators.csv")
    'text'
    """
    with open(path, "rb") as fh:
        return _kind_from_bytes(fh.read(2048))


def read_table(path, *, header_hint=None):
    """Read one export as text cells, keeping the source row number of every row.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv`` (UTF-8, UTF-8 with BOM or Windows-1252; comma, semicolon or tab
        separated), ``.xlsx`` (first sheet) or ``.sav`` (SPSS, value labels applied).
    header_hint : str, optional
        A column name expected in the header (the id column). When the first row
        does not contain it, the first ten rows are searched for it, so a title
        row above the header is skipped (and reported in ``attrs['notes']``).

    Returns
    -------
    pandas.DataFrame
        Every cell as text (``None`` where empty; numbers written without a
        trailing ``.0`` so ids keep their form and leading zeros), column names
        stripped of surrounding spaces, plus ``_file`` (the file name) and
        ``_row`` (row number as seen in the file). ``attrs['encoding']`` and
        ``attrs['notes']`` say how it was read.

    Raises
    ------
    DataError
        File missing, unsupported extension, content that is not what the
        extension says, unreadable file, or no header at all.

    Examples
    --------
    >>> df = read_table("data/sample/facilitators.csv")
    >>> df[["_file", "_row"]].iloc[0].tolist()
    ['facilitators.csv', 2]
    """
    path = Path(path)
    if not path.exists():
        raise DataError("data file not found; check 'file' in the cohort config (paths are relative to it)",
                        file=path)
    if path.is_dir():
        raise DataError("this is a folder, not a data file", file=path)
    ext = path.suffix.lower()
    if ext not in READERS:
        raise DataError(f"cannot read '{ext or 'no extension'}' files", file=path,
                        expected="a .csv, .xlsx or .sav file")
    kind = sniff(path)
    want = {".csv": "text", ".txt": "text", ".xlsx": "a zip archive such as an Excel .xlsx workbook",
            ".xlsm": "a zip archive such as an Excel .xlsx workbook", ".sav": "an SPSS .sav file"}[ext]
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes); export it again", file=path)
    if kind != want:
        raise DataError(f"the file has the extension '{ext}' but its content is {kind}; "
                        f"re-export it or rename it to match what it is", file=path)
    if ext in (".csv", ".txt"):
        frame, notes = _read_csv(path)
    elif ext in (".xlsx", ".xlsm"):
        frame, notes = _read_xlsx(path)
    else:
        frame, notes = _read_sav(path)
    frame, more = _find_header(frame, path, header_hint)
    notes = notes + more
    frame.attrs["notes"] = notes
    return frame


def _read_csv(path):
    raw = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 leaves five bytes undefined; latin-1 never fails
        encoding, text = "latin-1", raw.decode("latin-1")
    if not text.strip():
        raise DataError("the file has no header and no rows", file=path)
    first = text.lstrip("\ufeff").splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        frame = pd.read_csv(_io.StringIO(text.lstrip("\ufeff")), sep=delimiter, header=None, dtype=str,
                            keep_default_na=False, na_values=[""], skip_blank_lines=False, engine="c")
    except pd.errors.ParserError:  # ragged rows (e.g. a title line with one cell): read row by row
        rows = list(csv.reader(_io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))
        width = max(len(r) for r in rows)
        frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
        frame = frame.where(frame != "", None)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.columns = range(frame.shape[1])
    frame[ROW] = np.arange(1, len(frame) + 1)
    notes = []
    if raw.startswith(b"\xef\xbb\xbf"):
        notes.append("UTF-8 with byte-order mark")
    if encoding != "utf-8-sig":
        notes.append(f"read as {encoding} (not valid UTF-8)")
    if delimiter != ",":
        notes.append(f"separator {'semicolon' if delimiter == ';' else 'tab'}")
    frame.attrs["encoding"] = encoding
    return frame, notes


def _cell_text(value):
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, datetime.datetime):
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _read_xlsx(path):
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise DataError(f"cannot open the workbook ({exc.__class__.__name__}); open it in Excel and save it again",
                        file=path) from None
    sheet = book.worksheets[0]
    rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    if not rows:
        raise DataError("the first worksheet is empty", file=path)
    width = max(len(r) for r in rows)
    frame = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], dtype=object)
    frame[ROW] = np.arange(1, len(frame) + 1)
    notes = [f"sheet '{sheet.title}'"]
    if len(book.sheetnames) > 1:
        notes.append(f"only the first of {len(book.sheetnames)} sheets was read")
    return frame, notes


def _read_sav(path):
    import pyreadstat

    try:
        data, meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # pyreadstat.ReadstatError and friends
        raise DataError(f"cannot read the SPSS file ({exc.__class__.__name__}: {exc})", file=path) from None
    body = [[_cell_text(v) for v in row] for row in data.itertuples(index=False, name=None)]
    frame = pd.DataFrame([list(data.columns)] + body, dtype=object)
    # SPSS has no header row: number the cases 1.. (header sits at 0)
    frame[ROW] = np.arange(0, len(frame))
    notes = ["SPSS value labels applied"] if meta.variable_value_labels else []
    return frame, notes


def _find_header(frame, path, header_hint):
    """Promote the header row to column names (skipping title rows above it)."""
    header_at = 0
    notes = []
    if header_hint is not None:
        want = normalise_label(header_hint)
        for i in range(min(10, len(frame))):
            cells = [normalise_label(c) for c in frame.iloc[i, :-1] if c is not None]
            if want in cells:
                header_at = i
                break
    if header_at:
        notes.append(f"header found on row {frame[ROW].iloc[header_at]}; {header_at} row(s) above it skipped")
    header = frame.iloc[header_at, :-1].tolist()
    names, seen = [], {}
    for j, name in enumerate(header):
        name = "" if name is None else str(name).strip()
        if not name:
            name = f"unnamed_{j + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    body = frame.iloc[header_at + 1:].copy()
    body.columns = names + [ROW]
    blank = [n for n in names if n.startswith("unnamed_")]
    body = body.drop(columns=[c for c in blank if body[c].isna().all()])
    body.insert(0, FILE, path.name)
    body[ROW] = body[ROW].astype(int)
    body = body.reset_index(drop=True)
    return body, notes
