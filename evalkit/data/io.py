"""Read questionnaire exports (CSV, XLSX, SPSS .sav) into all-text frames that keep source row numbers."""
from __future__ import annotations

import codecs
import csv
import datetime
import io as _io
import math
import os
import re
import stat
import threading
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

#: Name of the column added by the readers: the row number a person sees in the
#: file (spreadsheet sense: the header is row 1, so the first answer row is row 2;
#: for SPSS files the case number, 1-based).
ROW = "_row"
FILE = "_file"
READERS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".sav", ".zsav")
_ENCODINGS = ("utf-8-sig", "cp1252")
_TEXT = "text"
_ZIP = "a zip archive such as an Excel .xlsx workbook"
_SAV = "an SPSS .sav file"
_WANT = {".csv": _TEXT, ".txt": _TEXT, ".tsv": _TEXT, ".xlsx": _ZIP, ".xlsm": _ZIP, ".sav": _SAV, ".zsav": _SAV}
_CONVERT = {".xls": "open it in Excel and save it as .xlsx (Excel Workbook)",
            ".ods": "save it as .xlsx or .csv", ".numbers": "export it as .xlsx or .csv",
            ".por": "save it from SPSS as .sav", ".dta": "export it as .csv",
            ".json": "export the questionnaire as .csv", ".pdf": "export the data, not a printout, as .csv"}
#: Largest total uncompressed size of an .xlsx workbook's parts (a zip archive) that is read.
XLSX_MAX_BYTES = 200 * 2 ** 20
#: Largest compression ratio (uncompressed / compressed size) of a part of an .xlsx workbook that is
#: read: worksheets compress about 10-30 times; far more is a "zip bomb" (a tiny file that unpacks to gigabytes).
XLSX_MAX_RATIO = 100
#: Parts smaller than this are not held to ``XLSX_MAX_RATIO`` (a small, very regular part is harmless).
_RATIO_FROM_BYTES = 2 ** 20
#: Largest number of worksheet cells (rows x columns, empty ones included) that is read.
XLSX_MAX_CELLS = 20_000_000
#: How many rows at the top of a file are searched for the header row.
HEADER_SEARCH_ROWS = 10
#: How much of the start of a CSV is looked at to find its separator and header.
SNIFF_CHARS = 200_000
_SEPARATORS = (",", ";", "\t")
#: A well-formed UTF-8 multi-byte character (in a file that is not valid UTF-8 as a whole).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
#: A byte that is not white space (in str.isspace's ASCII sense); non-ASCII bytes are checked decoded.
_NOT_BLANK = re.compile(rb"[^\t\n\x0b\x0c\r\x1c-\x1f ]")


def _kind_from_bytes(head):
    if head.startswith(b"PK\x03\x04"):
        return _ZIP
    if head.startswith((b"$FL2", b"$FL3")):
        return _SAV
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel .xls file or a password-protected workbook"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16le(head):
        return _TEXT
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML), perhaps a sign-in or error page saved instead of the export"
    if b"\x00" in head and _binary(head):
        return "a binary file"
    return _TEXT


def _binary(head):
    """Whether bytes holding NUL are a binary file rather than text with a few stray NUL bytes.

    Text (once its NUL bytes are set aside) has next to no control characters other than white
    space; images, archives and programs are full of them.
    """
    rest = head.replace(b"\x00", b"")
    if len(rest) < len(head) / 2:
        return True
    controls = sum(rest.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    return controls > 0.02 * len(rest)


def _looks_utf16le(head):
    odd = head[1::2]
    return len(odd) >= 8 and odd.count(0) >= 0.9 * len(odd) and head[0::2].count(0) < 0.1 * len(odd)


def sniff(path):
    """Say what a file really is from its first bytes, whatever its extension.

    Examples
    --------
    >>> sniff("data/sample/facilitators.csv")
    'text'
    """
    with open(path, "rb") as fh:
        return _kind_from_bytes(fh.read(2048))


def column_key(name):
    """The key column names are matched by: case, spaces, ``_`` and ``-`` folded.

    So ``'Child ID'``, ``'child_id'`` and ``' CHILD-ID '`` name one column, while
    ``'q1'`` and ``'q11'`` stay apart.

    Examples
    --------
    >>> column_key(" Child  ID"), column_key("child_id"), column_key("Q1")
    ('child id', 'child id', 'q1')
    """
    text = re.sub(r"[\s_\-\u200b\ufeff]+", " ", str(name)).strip().casefold()
    return text


def read_table(path, *, header_hint=None, categorical=False):
    """Read one export as text cells, keeping the source row number of every row.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv``/``.txt``/``.tsv`` (UTF-8, UTF-8 with BOM, UTF-16 or
        Windows-1252; comma, semicolon or tab separated), ``.xlsx`` (the first
        sheet with the ``header_hint`` column, else the first sheet; merged cells
        filled with their top-left value; whole numbers shown with leading zeros
        when the cell's number format has them, e.g. ``000``) or ``.sav``
        (SPSS, value labels applied).
    header_hint : str, optional
        A column name expected in the header (the id column). When the first row
        does not contain it, the first ten rows are searched for it, so a title
        row above the header is skipped (and reported in ``attrs['notes']``).
    categorical : bool
        Return the text columns (and ``_file``) as pandas Categoricals
        (missing cells NaN) instead of object columns with ``None``: the same
        texts, parsed into codes once, several times smaller and faster to
        check and clean (what :func:`evalkit.data.cleaning.read_section` uses).
        Categories are sorted, except those of the ``header_hint`` column of a
        CSV whose first line is the header (in order of appearance: sorting
        100,000 ids costs more than the rest of the parse).

    Returns
    -------
    pandas.DataFrame
        Every cell as text (``None`` where empty; numbers written without a
        trailing ``.0`` so ids keep their form and leading zeros), column names
        stripped of surrounding spaces (repeated names get ``.1``, ``.2``; blank
        names ``unnamed_<position>``), plus ``_file`` (the file name) and ``_row``
        (row number as seen in the file). ``attrs['encoding']`` and
        ``attrs['notes']`` say how it was read, ``attrs['header']`` holds the
        header cells as written.

    Raises
    ------
    DataError
        File missing, not a regular file (a folder, named pipe or device: never
        opened), unsupported extension, content that is not what the extension
        says, unreadable file, no header at all, a quote that is never closed or
        swallows whole rows, CSV rows with more cells than the header (a
        separator inside an unquoted cell shifts that row's answers), or a
        workbook over ``XLSX_MAX_BYTES`` unpacked, ``XLSX_MAX_RATIO`` times
        compressed or ``XLSX_MAX_CELLS`` cells.

    Notes
    -----
    Nothing is ever written to the file. NUL bytes in a CSV are removed (the
    parser would end a cell at one) and counted in ``attrs['nul_lines']``
    (line number, count). A header cell named ``_file`` or ``_row`` is read
    as ``_file.1`` / ``_row.1`` (see :func:`source_name`). Empty rows in the middle and at the end
    of a CSV are kept (they count as rows in and are excluded as blank rows);
    empty rows after the last filled row of a worksheet are formatting, not
    rows, and are left out with a note.

    Examples
    --------
    >>> df = read_table("data/sample/facilitators.csv")
    >>> df.loc[0, "_file"], int(df.loc[0, "_row"])
    ('facilitators.csv', 2)
    """
    path = Path(path)
    _check_regular(path)
    ext = path.suffix.lower()
    if ext not in READERS:
        how = _CONVERT.get(ext, "export it again as .csv or .xlsx")
        raise DataError(f"cannot read '{ext or 'no extension'}' files; {how}", file=path,
                        expected="a .csv, .xlsx or .sav file")
    try:
        kind = sniff(path)
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot open the file ({exc.strerror or exc.__class__.__name__}); check it is not "
                        f"open elsewhere and that you may read it", file=path) from None
    if size == 0:
        raise DataError("the file is empty (0 bytes); export it again", file=path)
    if kind != _WANT[ext]:
        raise DataError(f"the file has the extension '{ext}' but its content is {kind}; "
                        f"re-export it or rename it to match what it is", file=path)
    try:
        if ext in (".csv", ".txt", ".tsv"):
            cells, rows, notes, attrs = _read_csv(path, header_hint)
        elif ext in (".xlsx", ".xlsm"):
            cells, rows, notes, attrs = _read_xlsx(path, header_hint)
        else:
            cells, rows, notes, attrs = _read_sav(path)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc.__class__.__name__})", file=path) from None
    if not isinstance(cells, pd.DataFrame):
        cells = pd.DataFrame(cells, dtype=object)
    frame, more = _find_header(cells, rows, path, header_hint, csv_like=ext in (".csv", ".txt", ".tsv"),
                               categorical=categorical, header_row=attrs.pop("header_row", None))
    frame.attrs.update(attrs)
    frame.attrs["notes"] = notes + more
    return frame


def _check_regular(path):
    """Refuse a path that is missing or is not a regular file, without opening it.

    Opening a named pipe (FIFO) waits for a writer forever and a device may never
    end, so the kind of file is checked with ``os.stat`` first.

    Raises
    ------
    DataError
        Missing file, a folder, a named pipe, a device or a socket.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError("data file not found; check 'file' in the cohort config (paths are relative to it)",
                        file=path) from None
    except OSError as exc:
        raise DataError(f"cannot look at the file ({exc.strerror or exc.__class__.__name__}); check that you may "
                        f"read it", file=path) from None
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise DataError("this is a folder, not a data file; name the export file in the cohort config", file=path)
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise DataError(f"this is {kind}, not a data file, and is not opened; save the export as a file and name "
                    f"that file in the cohort config", file=path)


def _with_missing(values):
    """``values`` as an object array with ``None`` appended (what code -1 takes)."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    out[-1] = None
    return out


# ----------------------------------------------------------------------------- CSV

def _decode(raw, path):
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16", raw.decode("utf-16")
        if _looks_utf16le(raw[:2048]):
            return "utf-16-le", raw.decode("utf-16-le")
    except UnicodeDecodeError:
        raise DataError("the file looks like UTF-16 text but cannot be decoded; export it again as CSV UTF-8",
                        file=path) from None
    if _valid_utf8(raw):
        return "utf-8-sig", None  # decoded where needed (see _read_csv), not held whole
    if _UTF8_MULTIBYTE.search(raw):
        # UTF-8 text with some lines in another encoding (a file edited in two programs): reading it all as
        # Windows-1252 would turn every UTF-8 'é' into 'Ã©', so each line is read in the encoding it is in
        lines = raw.split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(line.decode("utf-8-sig"))
            except UnicodeDecodeError:
                out.append(line.decode("cp1252", errors="replace"))
        return "mixed", "\n".join(out)
    try:
        return "cp1252", raw.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", raw.decode("latin-1")  # cp1252 leaves five bytes undefined; latin-1 never fails


def _valid_utf8(raw, chunk=1 << 20):
    """Whether ``raw`` is UTF-8, decoded a megabyte at a time so no copy of the whole text is held.

    (A 21 MB export with one curly apostrophe decodes to a 42 MB string; the
    parser reads the bytes anyway.)
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(raw), chunk):
            decoder.decode(raw[start:start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8(line):
    try:
        line.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _separator(text, header_hint=None, *, complete=None):
    """The separator of a CSV text: the one that splits the header into a cell named like the id column.

    ``text`` may be the start of the file only (``complete=False``).

    Without that (no hint, or no such line among the first ones), the first
    lines are split as CSV (so separators inside quoted cells do not count) and
    a separator is preferred when at least 80% of the lines have the same
    number of cells (then the more cells the better), else by that share times
    the number of cells. A title line, or a free-text cell holding a list with
    commas in a semicolon file, does not fool it. Comma wins ties.
    """
    sample = text[:SNIFF_CHARS]
    lines = sample.splitlines()[:2 * HEADER_SEARCH_ROWS]
    cut = len(sample) < len(text) if complete is None else not complete
    if cut and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut short
    if header_hint is not None:
        want = column_key(header_hint)
        for sep in _SEPARATORS:
            try:
                if any(want in {column_key(c) for c in cells}
                       for cells in csv.reader(lines[:HEADER_SEARCH_ROWS], delimiter=sep)):
                    return sep
            except csv.Error:
                continue
    best, best_score = ",", (False, 0.0)
    for sep in _SEPARATORS:
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=sep) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if not widths:
            continue
        mode = max(set(widths), key=lambda w: (widths.count(w), w))
        if mode < 2:
            continue
        share = widths.count(mode) / len(widths)
        score = (True, float(mode)) if share >= 0.8 else (False, share * mode)
        if score > best_score:
            best, best_score = sep, score
    return best


def _first_line_header(text, delimiter, header_hint, *, complete=True):
    """The cells of the first line when it is the header (it names the id column) and holds no quote; else None.

    Such a header can be split off before pandas parses the rest, so the
    header texts never become categories of the answer columns. ``text`` may
    be the start of the file only (``complete=False``).
    """
    if header_hint is None:
        return None
    end = text.find("\n")
    if end < 0 and not complete:
        return None
    line = (text if end < 0 else text[:end]).rstrip("\r")
    if '"' in line or "\r" in line:
        return None
    cells = line.split(delimiter)
    want = column_key(header_hint)
    return cells if any(column_key(c) == want for c in cells) else None


def _parse_csv(source, encoding, delimiter, *, header=None, text_columns=(), raw=None):
    """``pandas.read_csv`` of a whole CSV as text: categories, except ``text_columns`` (kept as objects).

    With ``header`` (the first line's cells, already split off) the first line
    is skipped and the rest is parsed with one column per header cell; None is
    returned when the rows do not fit that header, so the caller reads the file
    the general way (which explains the problem). Given the file's ``raw``
    bytes too, a large file is parsed in two halves at once
    (:func:`_parse_halves`).
    """
    # categories: each column is parsed into codes once, with its distinct texts (always strings); a column
    # where nearly every value differs (the id) is kept as objects, which saves pandas sorting its categories
    dtype = defaultdict(lambda: "category", {j: object for j in text_columns})
    options = dict(encoding=encoding, sep=delimiter, header=None, dtype=dtype, keep_default_na=False,
                   na_values=[""], skip_blank_lines=False, engine="c", low_memory=False)  # one pass
    if header is None:
        return pd.read_csv(source, **options)
    options["names"] = list(range(len(header)))
    if raw is not None and _splittable(raw):
        return _parse_halves(raw, options)
    return _parse_rows(source, options, skiprows=1)


def _parse_rows(source, options, skiprows=0):
    """``read_csv`` of answer rows under a known header; None when they do not fit it."""
    try:
        cells = pd.read_csv(source, skiprows=skiprows, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    # a first row wider than the header becomes pandas' index: not this path's business
    if not len(cells) or not isinstance(cells.index, pd.RangeIndex):
        return None
    return cells


#: Files from this size up are parsed in two halves on two threads, when two CPUs are free.
PARALLEL_BYTES = 4 * 2 ** 20


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _splittable(raw):
    """Whether ``raw`` (a CSV in a byte encoding) may be cut at any line end: large, no quote at all."""
    return len(raw) >= PARALLEL_BYTES and _cpus() >= 2 and b'"' not in raw


def _parse_halves(raw, options):
    """Parse the answer rows of ``raw`` (header line skipped) in two halves at once, then join them.

    Without any quote in the file every line end ends a row, so the halves,
    cut at the line end nearest the middle, hold whole rows. pandas' C parser
    releases the GIL while it tokenizes, so the second half is parsed on a
    thread while this one parses the first. The result equals one
    ``read_csv`` of the rows (tested): categories are united and sorted, as
    pandas sorts the categories it finds.
    """
    start = raw.index(b"\n") + 1
    middle = raw.find(b"\n", start + (len(raw) - start) // 2) + 1
    if middle <= start or middle >= len(raw):
        return _parse_rows(_io.BytesIO(raw[start:]), options)
    result = {}

    def second():
        result["cells"] = _parse_rows(_io.BytesIO(raw[middle:]), options)

    worker = threading.Thread(target=second, name="evalkit-csv-half")
    worker.start()
    first = _parse_rows(_io.BytesIO(raw[start:middle]), options)
    worker.join()
    later = result.get("cells")
    if first is None or later is None:
        return None
    from pandas.api.types import union_categoricals

    columns = {}
    for j in first.columns:
        a, b = first[j], later[j]
        if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
            columns[j] = union_categoricals([a, b], sort_categories=True)
        else:  # objects (the id), or a column empty in one half (all NaN: float)
            columns[j] = np.concatenate([_as_text(a), _as_text(b)])
    return pd.DataFrame(columns, copy=False)


def _as_text(column):
    """A parsed column as objects (NaN where missing), whatever pandas made of it."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.astype(object))
    return column.to_numpy(dtype=object)


def _without_nul(data, nul, newline):
    """``data`` without its NUL characters, and the (line number, count) of each line that held some."""
    hit = [(i + 1, line.count(nul)) for i, line in enumerate(data.split(newline)) if nul in line]
    return data.replace(nul, data[:0]), hit


def _read_csv(path, header_hint=None):
    raw = path.read_bytes()
    # a NUL byte ends a cell's text inside the C parser (the rest of the cell would be lost): removed first,
    # and counted for the cleaning log (UTF-16 text is full of NUL bytes: there NUL characters are removed)
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16le(raw[:2048])
    nul = []
    if not utf16 and b"\x00" in raw:
        raw, nul = _without_nul(raw, b"\x00", b"\n")
    encoding, text = _decode(raw, path)
    if utf16 and "\x00" in text:
        text, nul = _without_nul(text, "\x00", "\n")
    if text is None:  # UTF-8: the parser reads the bytes; only the start is decoded here
        skip = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        # a character cut at the end of the sample is dropped
        head = raw[skip:skip + SNIFF_CHARS].decode("utf-8", errors="ignore").lstrip("\ufeff")
        complete = len(raw) - skip <= SNIFF_CHARS
        filled = _NOT_BLANK.search(raw, skip)
        blank = filled is None or (raw[filled.start()] >= 0x80 and raw[skip:].decode("utf-8").isspace())
        has_quote = raw.find(b'"', skip) >= 0

        def whole_text():
            return raw[skip:].decode("utf-8").lstrip("\ufeff")
    else:
        text = text.lstrip("\ufeff")
        head, complete = text[:SNIFF_CHARS], len(text) <= SNIFF_CHARS
        blank = not text or text.isspace()
        has_quote = '"' in text

        def whole_text():
            return text
    if blank:
        raise DataError("the file has no header and no rows (only blank lines)", file=path)
    delimiter = _separator(head, header_hint, complete=complete)
    # the bytes, not the decoded text, go to the C parser: it decodes faster than a Python StringIO feeds it
    by_text = encoding.startswith("utf-16") or encoding == "mixed"

    def source():
        return (_io.StringIO(text), None) if by_text else (_io.BytesIO(raw), encoding)

    header = _first_line_header(head, delimiter, header_hint, complete=complete)
    cells = None
    if header is not None:
        want = column_key(header_hint)
        cells = _parse_csv(*source(), delimiter, header=header,
                           text_columns=[j for j, c in enumerate(header) if column_key(c) == want],
                           raw=None if by_text else raw)
    if cells is None:
        header = None
        try:
            cells = _parse_csv(*source(), delimiter)
        except pd.errors.ParserError as exc:
            where = re.search(r"EOF inside string starting at row (\d+)", str(exc))
            if where:
                raise DataError(f"a quote (\") opened on row {int(where.group(1)) + 1} is never closed, so every "
                                f"row after it would be read as one cell; remove the stray quote or close it",
                                file=path) from None
            cells = pd.DataFrame(_read_ragged(whole_text(), delimiter, path), dtype=object)
        except pd.errors.EmptyDataError:
            raise DataError("the file has no header and no rows", file=path) from None
    lines = len(cells) + (header is not None)
    if has_quote and lines < raw.count(b"\n") + (not raw.endswith(b"\n")):  # '\n' is one byte in any of them
        _check_swallowed_rows(cells, delimiter, path, first=2 if header is not None else 1)
    notes = []
    if raw.startswith(b"\xef\xbb\xbf"):
        notes.append("UTF-8 with byte-order mark")
    if encoding.startswith("utf-16"):
        notes.append("read as UTF-16 text")
    elif encoding == "mixed":
        bad = sum(1 for line in raw.split(b"\n") if not _is_utf8(line))
        notes.append(f"mixed encodings: {bad} line(s) not UTF-8 were read as Windows-1252, the rest as UTF-8")
    elif encoding != "utf-8-sig":
        notes.append(f"read as {encoding} (not valid UTF-8)")
    if delimiter != ",":
        notes.append(f"separator {_SEPARATOR_NAMES[delimiter]}")
    attrs = {"encoding": encoding, "separator": delimiter}
    if nul:
        notes.append(f"{sum(n for _, n in nul)} NUL byte(s) removed from {len(nul)} line(s)")
        attrs["nul_lines"] = nul
    if header is not None:  # the header was split off: every row of ``cells`` is an answer row
        attrs["header_row"] = header
        return cells, np.arange(2, len(cells) + 2), notes, attrs
    return cells, np.arange(1, len(cells) + 1), notes, attrs


def _read_ragged(text, delimiter, path):
    """Rows of unequal length (a title line with one cell, a row with an extra separator): read row by row."""
    try:
        rows = list(csv.reader(_io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DataError(f"the file is not valid CSV ({exc}); a stray quote (\") is the usual cause",
                        file=path) from None
    width = max(len(r) for r in rows)
    cells = np.full((len(rows), width), None, dtype=object)
    for i, row in enumerate(rows):
        cells[i, :len(row)] = [c if c != "" else None for c in row]
    return cells


def _check_swallowed_rows(cells, delimiter, path, first=1):
    """A stray quote can close many lines later: the rows between become one cell. Refuse such a file.

    ``first`` is the row number of ``cells``' first row.
    """
    need = max(2, cells.shape[1] // 2)

    def swallows(text):
        return isinstance(text, str) and any(line.count(delimiter) >= need for line in text.splitlines()[1:])

    for j in range(cells.shape[1]):
        codes, values = text_codes(cells.iloc[:, j])
        bad = np.flatnonzero([swallows(v) for v in values])
        if len(bad):
            i = int(np.flatnonzero(np.isin(codes, bad))[0])
            lines = len(str(values[codes[i]]).splitlines()) - 1
            raise DataError(f"row {i + first}: a quote (\") in this row is closed only {lines} line(s) later, "
                            f"so the rows between were read as one cell; remove the stray quote", file=path)


def text_codes(series):
    """Integer codes of a text column and its distinct values (code -1: missing).

    Categorical columns give their own codes and categories; other columns
    are factorized.

    Examples
    --------
    >>> codes, values = text_codes(pd.Series(["b", None, "a", "b"]))
    >>> codes.tolist(), values.tolist()
    ([0, -1, 1, 0], ['b', 'a'])
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories.to_numpy(dtype=object)
    codes, values = pd.factorize(np.asarray(series, dtype=object), use_na_sentinel=True)
    return codes, np.asarray(values, dtype=object)


# ----------------------------------------------------------------------------- cells to text

def _cell_text(value):
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, np.floating):
        return _cell_text(float(value))
    if isinstance(value, datetime.datetime):
        if pd.isna(value):
            return None
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _column_text(values):
    """:func:`_cell_text` of a typed column, computed once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([_cell_text(v) for v in uniques] + [None], dtype=object)
    return texts[codes]


# ----------------------------------------------------------------------------- XLSX

def _check_zip(path):
    """Refuse a workbook whose parts would unpack to more than the stated limits (before any is unpacked).

    The sizes are those the archive declares; Python's zip reader stops at a
    part's declared size, so they bound what reading can unpack.

    Raises
    ------
    DataError
        Total uncompressed size over ``XLSX_MAX_BYTES``, or a part compressed
        more than ``XLSX_MAX_RATIO`` times.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot open the workbook ({exc.__class__.__name__}); open it in Excel and save it again",
                        file=path) from None
    total = sum(p.file_size for p in parts)
    if total > XLSX_MAX_BYTES:
        raise DataError(f"the workbook unpacks to {total / 2 ** 20:,.0f} MB, more than the limit of "
                        f"{XLSX_MAX_BYTES / 2 ** 20:,.0f} MB; delete unused sheets, rows and formatting, or export "
                        f"the questionnaire sheet as .csv", file=path)
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size >= _RATIO_FROM_BYTES and ratio > XLSX_MAX_RATIO:
            raise DataError(f"the workbook part '{part.filename}' is compressed {ratio:,.0f} times (the limit is "
                            f"{XLSX_MAX_RATIO}; worksheets compress far less), so it is refused as a possible zip "
                            f"bomb; open the workbook in Excel and save it again, or export it as .csv", file=path)


def _read_xlsx(path, header_hint):
    import openpyxl

    _check_zip(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise DataError(f"cannot open the workbook ({exc.__class__.__name__}); open it in Excel and save it again",
                        file=path) from None
    try:
        _cells_only(book)
        sheet, notes = _pick_sheet(book, header_hint)
        sheet.reset_dimensions()  # some writers record wrong dimensions (a million empty rows or columns)
        rows, padded = _sheet_rows(sheet, book, path)
        while rows and not rows[-1]:
            rows.pop()
        width = max((len(r) for r in rows), default=0)
        _check_cells(len(rows), width, path)
        merged = _merged_ranges(book, sheet, shape=(len(rows), width), path=path)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"cannot read the worksheet ({exc.__class__.__name__}); open it in Excel and save it again",
                        file=path) from None
    finally:
        book.close()
    if not rows:
        raise DataError(f"the worksheet '{sheet.title}' is empty", file=path)
    cells = np.full((len(rows), width), None, dtype=object)
    for i, row in enumerate(rows):
        cells[i, :len(row)] = row
    filled = 0
    for c1, r1, c2, r2 in merged:  # inside the data and not overlapping (checked): work bounded by the cells
        block = cells[r1 - 1:r2, c1 - 1:c2]
        filled += int((block == None).sum())  # noqa: E711 (element-wise)
        block[...] = cells[r1 - 1, c1 - 1]
    if padded:
        notes.append(f"{padded} whole number(s) read with the leading zeros their cell format shows (e.g. 0042)")
    if merged:
        notes.append(f"{len(merged)} merged cell range(s): every cell of a range read as its top-left value"
                     + (f" ({filled} cell(s) filled)" if filled else ""))
    return cells, np.arange(1, len(cells) + 1), notes, {"encoding": "xlsx", "sheet": sheet.title}


_END_OF_DATA = re.compile(rb"</(?:\w+:)?sheetData>|<(?:\w+:)?sheetData\s*/>")
_ROOT = re.compile(rb"<((?:\w+:)?worksheet)[\s>/]")


class _DataOnly:
    """A worksheet XML stream that ends right after ``sheetData`` (the cells), closing the root element there.

    openpyxl's read-only parser goes on through everything after the cells
    (merged ranges, conditional formats, ...) and builds objects for it: a
    workbook with a million merged ranges took minutes and gigabytes. Merged
    ranges are read separately (:func:`_merged_ranges`).
    """

    def __init__(self, raw):
        self._raw, self._head, self._done, self._root = raw, b"", False, None
        self._pending, self._at = b"", 0  # what is ready to be read, and how much of it was read

    def _fill(self):
        """Read the next megabyte of the sheet into ``_pending`` (cut at the end of the cells)."""
        chunk = self._raw.read(1 << 20)
        if not chunk:
            self._done = True
            self._pending, self._at, self._head = self._head, 0, b""
            return
        buf = self._head + chunk
        if self._root is None:
            m = _ROOT.search(buf)
            self._root = m.group(1) if m else None
        m = _END_OF_DATA.search(buf)
        if m is not None and self._root is not None:
            self._pending, self._at, self._head = buf[:m.end()] + b"</" + self._root + b">", 0, b""
            self._done = True
            return
        keep = min(64, len(buf))  # the end tag may be cut between two chunks
        self._pending, self._at, self._head = buf[:len(buf) - keep], 0, buf[len(buf) - keep:]

    def read(self, size=-1):
        parts = []
        while size < 0 or size > 0:
            if self._at >= len(self._pending):
                if self._done:
                    break
                self._fill()
                continue
            take = len(self._pending) - self._at if size < 0 else min(size, len(self._pending) - self._at)
            parts.append(self._pending[self._at:self._at + take])
            self._at += take
            if size > 0:
                size -= take
        return b"".join(parts)

    def close(self):
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _cells_only(book):
    """Make every read-only worksheet of ``book`` parse its cells and nothing after them (see :class:`_DataOnly`)."""
    archive = getattr(book, "_archive", None)
    for sheet in book.worksheets:
        name = getattr(sheet, "_worksheet_path", None)
        if archive is not None and name is not None:
            sheet._get_source = lambda name=name: _DataOnly(archive.open(name))


def _pick_sheet(book, header_hint):
    sheets = book.worksheets
    notes = []
    chosen = sheets[0]
    if header_hint is not None and len(sheets) > 1:
        want = column_key(header_hint)
        for sheet in sheets:
            top = sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
            if any(want in {column_key(v) for v in row if v is not None} for row in top):
                chosen = sheet
                break
    notes.append(f"sheet '{chosen.title}'")
    if len(sheets) > 1:
        which = "first" if chosen is sheets[0] else f"first with a '{header_hint}' column"
        notes.append(f"only one of {len(sheets)} sheets was read (the {which})")
    return chosen, notes


def _check_cells(rows, width, path):
    """Refuse a worksheet of more than ``XLSX_MAX_CELLS`` cells (rows x columns), naming its size and the fix."""
    if rows * width > XLSX_MAX_CELLS:
        raise DataError(f"the worksheet spans {rows:,} rows x {width:,} columns, more than the limit of "
                        f"{XLSX_MAX_CELLS:,} cells (often a stray cell or formatting far below or to the right of "
                        f"the answers); delete the empty rows and columns after the data, or export the sheet as "
                        f".csv", file=path)


def _sheet_rows(sheet, book, path=None):
    """Cell texts row by row, trailing empty cells left out; whole numbers formatted with leading zeros
    (``000``) keep them.

    Raises
    ------
    DataError
        When the rows hold more than ``XLSX_MAX_CELLS`` cells in all (the time a
        sheet takes to read is bounded).
    """
    pad = {}

    def width_of(cell):
        sid = cell._style_id
        if sid not in pad:
            fmt = str(cell.number_format or "")
            m = re.fullmatch(r'(?:"([^"]*)")?(0+)(?:"([^"]*)")?', fmt)
            pad[sid] = (m.group(1) or "", len(m.group(2)), m.group(3) or "") if m and len(m.group(2)) > 1 else None
        return pad[sid]

    rows, padded, seen = [], 0, 0
    for row in sheet.iter_rows():
        seen += len(row) + 1
        if seen > XLSX_MAX_CELLS:
            raise DataError(f"the worksheet holds more than the limit of {XLSX_MAX_CELLS:,} cells by row "
                            f"{len(rows) + 1:,} (empty cells included; often a stray cell or formatting far below "
                            f"or to the right of the answers); delete the empty rows and columns after the data, or "
                            f"export the sheet as .csv", file=path)
        out = []
        for cell in row:
            value = cell.value
            if (isinstance(value, (int, float)) and not isinstance(value, bool) and getattr(cell, "_style_id", 0)
                    and float(value).is_integer() and value >= 0 and width_of(cell)):
                before, width, after = width_of(cell)
                out.append(f"{before}{int(value):0{width}d}{after}")
                padded += 1
            else:
                out.append(_cell_text(value))
        while out and out[-1] is None:
            out.pop()
        rows.append(out)
    return rows, padded


def _merged_ranges(book, sheet, *, shape, path=None):
    """Merged ranges of a read-only sheet (openpyxl does not expose them), from the sheet XML after its data.

    The XML is read once, a megabyte at a time, and only the ``mergeCell``
    references are kept, clipped to ``shape`` (rows, columns of the data):
    time grows with the file, memory with the data.

    Raises
    ------
    DataError
        When two ranges overlap (Excel never writes that; filling them would
        cost rows x columns per range).
    """
    from openpyxl.utils.cell import range_boundaries

    archive = getattr(book, "_archive", None)
    name = getattr(sheet, "_worksheet_path", None)
    if archive is None or name is None:
        return []
    end_of_data = _END_OF_DATA
    merge = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d{1,7})(?::([A-Z]{1,3})(\d{1,7}))?"')
    n_rows, width = shape
    if not n_rows or not width:
        return []
    covered = []  # the cells already in a range, made when the first range inside the data is found
    out = []

    def take(body):
        for col1, row1, col2, row2 in merge.findall(body):
            if int(row1) > n_rows:
                continue  # below the data: nothing to fill (most of a long tail of ranges)
            try:
                c1, r1, c2, r2 = range_boundaries(f"{col1.decode()}{int(row1)}"
                                                  + (f":{col2.decode()}{int(row2)}" if col2 else ""))
            except ValueError:  # a reference beyond the last row or column Excel has
                continue
            if r1 > n_rows or c1 > width:
                continue  # outside the data: nothing to fill
            r2, c2 = min(r2, n_rows), min(c2, width)
            if not covered:
                covered.append(np.zeros((n_rows, width), dtype=bool))
            block = covered[0][r1 - 1:r2, c1 - 1:c2]
            if block.any():
                raise DataError("merged cell ranges of the worksheet overlap, which Excel never writes; open "
                                "the workbook in Excel and save it again", file=path)
            block[...] = True
            out.append((c1, r1, c2, r2))

    tail, after = b"", False
    with archive.open(name) as fh:
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            if not after:
                m = end_of_data.search(buf)
                if m is None:
                    tail = buf[-64:]
                    continue
                after, buf = True, buf[m.end():]
            last = buf.rfind(b"<")  # a tag cut at the end of the chunk is read with the next one
            body, tail = (buf[:last], buf[last:]) if last > 0 else (b"", buf)
            if len(tail) > 4096:  # no tag is that long: not XML worth keeping
                body, tail = buf, b""
            take(body)
    if after and tail:
        take(tail)
    return out


# ----------------------------------------------------------------------------- SPSS

def _read_sav(path):
    import pyreadstat

    try:
        data, meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # pyreadstat.ReadstatError and friends
        raise DataError(f"cannot read the SPSS file ({exc.__class__.__name__}: {exc})", file=path) from None
    cells = np.empty((len(data) + 1, data.shape[1]), dtype=object)
    cells[0] = [str(c) for c in data.columns]
    for j, col in enumerate(data.columns):
        cells[1:, j] = _column_text(data[col].to_numpy(dtype=object))
    notes = ["SPSS value labels applied"] if meta.variable_value_labels else []
    # SPSS has no header row: number the cases 1.. (the variable names sit at 0)
    return cells, np.arange(0, len(cells)), notes, {"encoding": "sav"}


# ----------------------------------------------------------------------------- header

def _without_unused(series):
    """A categorical without the categories no row uses (found by counting, not by sorting the codes)."""
    codes = series.cat.codes.to_numpy()
    used = np.zeros(len(series.cat.categories), dtype=bool)
    used[codes[codes >= 0]] = True
    if used.all():
        return series
    remap = np.append(np.cumsum(used) - 1, -1)  # old code -> new code; the last entry serves code -1
    remap[:-1][~used] = -1
    kept = pd.Categorical.from_codes(remap[codes], categories=series.cat.categories[used], validate=False)
    return pd.Series(kept, index=series.index, name=series.name)


def _find_header(cells, rows, path, header_hint, *, csv_like=False, categorical=False, header_row=None):
    """Promote the header row to column names (skipping title rows above it).

    ``cells`` is a frame of text columns (object or categorical) with the
    header among its first rows; ``rows`` the row number of each. When the
    reader already split the header off, ``header_row`` holds its cells and
    every row of ``cells`` is an answer row. The text columns come out
    categorical or as object arrays with ``None``; in categorical mode
    ``_file`` is categorical too, and a column the reader kept as objects (the
    id) gets its categories in order of appearance, unsorted.
    """
    notes = []
    if header_row is not None:
        header = [str(c).strip() for c in header_row]
        body = cells
        header_at = -1  # rows[header_at + 1:] are the body's rows
    else:
        if not len(cells):
            raise DataError("the file has no header and no rows", file=path)
        header_at = 0
        top = cells.iloc[:HEADER_SEARCH_ROWS].astype(object)
        if header_hint is not None:
            want = column_key(header_hint)
            for i in range(len(top)):
                if want in {column_key(c) for c in top.iloc[i] if not pd.isna(c)}:
                    header_at = i
                    break
        if header_at:
            notes.append(f"header found on row {rows[header_at]}; {header_at} row(s) above it skipped")
        header = ["" if pd.isna(c) else str(c).strip() for c in top.iloc[header_at]]
        body = cells.iloc[header_at + 1:]
    names, taken, renamed = [], {FILE, ROW}, {}
    for j, name in enumerate(header):
        if not name:
            name = f"unnamed_{j + 1}"
        wanted, k = name, 0
        while name in taken:  # a repeated name, or one of the reader's own columns (_file, _row)
            k += 1
            name = f"{wanted}.{k}"
        taken.add(name)
        if wanted in (FILE, ROW):
            renamed[name] = wanted  # found by its own name in the cohort config (see ``source_name``)
        names.append(name)
    body.columns = names
    body = body.reset_index(drop=True)
    filled = [j for j in range(len(header)) if header[j]]
    last = filled[-1] if filled else -1
    if csv_like and len(body) and last + 1 < body.shape[1]:
        over = body.iloc[:, last + 1:].notna().any(axis=1).to_numpy()
        if over.any() and over.sum() <= len(body) / 2:
            where = rows[header_at + 1:][over]
            raise DataError(
                f"row(s) {', '.join(map(str, where[:5]))}{' ...' if len(where) > 5 else ''} have more cells than the "
                f"header ({last + 1}): a separator inside an unquoted cell shifts that row's answers into the wrong "
                f"columns; quote or correct the cell, then read the file again", file=path)
    columns = {FILE: pd.Categorical.from_codes(np.zeros(len(body), dtype=np.int8), [path.name]) if categorical
               else np.full(len(body), path.name, dtype=object)}
    for j, name in enumerate(names):
        column = body.iloc[:, j]
        if not header[j] and column.isna().all():
            continue  # an empty column with no name: nothing there
        if isinstance(column.dtype, pd.CategoricalDtype):
            if categorical:  # the header (and title) rows' texts may be categories no answer row uses
                columns[name] = (column if header_row is not None else _without_unused(column)).array
            else:
                columns[name] = _with_missing(column.cat.categories.to_numpy(dtype=object))[
                    column.cat.codes.to_numpy()]
        elif categorical and header_row is None:
            columns[name] = column.astype("category").array
        elif categorical:  # the id, kept as objects by the reader: categories in order of appearance (no sort)
            codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
            columns[name] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object),
                                                      validate=False)
        else:  # objects, missing cells None
            values = column.to_numpy(dtype=object)
            missing = pd.isna(values)
            if missing.any():
                values = values.copy()
                values[missing] = None
            columns[name] = values
    columns[ROW] = np.asarray(rows[header_at + 1:], dtype=int)
    frame = pd.DataFrame(columns)
    frame.attrs["header"] = header
    if renamed:
        frame.attrs["renamed"] = renamed
        notes.append(f"column(s) {', '.join(repr(v) for v in renamed.values())} of the file read as "
                     f"{', '.join(repr(k) for k in renamed)} (the reader's own columns have those names)")
    return frame, notes


def source_name(frame, column):
    """The name a column of a :func:`read_table` frame has in its file's header.

    A header cell named like the reader's own columns (``_file``, ``_row``) is
    read under another name, so that it can never overwrite the file name or
    the row numbers; the cohort config still finds it by its own name.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame(columns=["_file", "_file.1", "_row"])
    >>> frame.attrs["renamed"] = {"_file.1": "_file"}
    >>> source_name(frame, "_file.1"), source_name(frame, "_row")
    ('_file', '_row')
    """
    return frame.attrs.get("renamed", {}).get(column, column)
