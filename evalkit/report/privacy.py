"""Keep children unidentifiable in shared outputs: pseudonyms, small-count suppression, identifier scans.

Three safeguards, used in this order by the report notebooks:

1. :func:`pseudonymise` replaces raw ids with keyed hashes before any table or
   figure is made, with a secret salt per cohort from :func:`load_or_create_salt`.
2. :func:`suppress_small_counts` and :func:`withhold_small_groups` hide counts
   and statistics about so few people that someone could be recognised.
3. :func:`find_identifiers` scans the finished HTML for raw ids or names, so a
   leak fails a test or a run instead of reaching a commissioner.
"""
from __future__ import annotations

import hashlib
import hmac
import html as _html
import os
import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import ConfigError, DataError

__all__ = [
    "pseudonymise",
    "make_salt",
    "load_or_create_salt",
    "suppress_small_counts",
    "withhold_small_groups",
    "find_identifiers",
    "HIDDEN",
    "suppression_note",
]

#: Shown instead of a cell that is hidden so a small count cannot be worked out
#: (complementary suppression), and instead of percents of any hidden count.
HIDDEN = "*"

_MIN_SALT_CHARS = 16


# --------------------------------------------------------------------------- pseudonyms


def make_salt():
    """Return a new random salt: 64 hex characters (256 bits) from :mod:`secrets`.

    Examples
    --------
    >>> len(make_salt()), make_salt() != make_salt()
    (64, True)
    """
    return secrets.token_hex(32)


def _check_salt(salt, where=None):
    if isinstance(salt, bytes):
        salt = salt.decode("utf-8", errors="strict")
    if not isinstance(salt, str) or len(salt.strip()) < _MIN_SALT_CHARS:
        raise ConfigError(
            "the pseudonym salt is missing or too short to keep ids secret",
            file=where,
            expected=f"at least {_MIN_SALT_CHARS} characters; use evalkit.report.privacy.make_salt()",
        )
    return salt.strip()


def load_or_create_salt(path, *, report_dir=None):
    """Read the cohort's salt file, creating it with a new random salt if absent.

    Keep one salt per cohort and keep it: the same salt gives the same pseudonyms
    on every run (so follow-ups line up); a lost salt changes all of them, and a
    leaked salt lets anyone with the raw ids re-identify children. The usual
    place is next to the cohort's results, e.g. ``results/<cohort>/.salt``, and
    never inside the folder of HTML that is shared. The salt is never written
    into any page.

    Parameters
    ----------
    path : str or pathlib.Path
        The salt file. Created with permissions 0600 (owner read/write only),
        along with missing parent folders.
    report_dir : str or pathlib.Path, optional
        The folder whose HTML is shared; refuse a salt file inside it.

    Returns
    -------
    str
        The salt.

    Raises
    ------
    ConfigError
        If the file is inside ``report_dir`` or inside any evalkit report folder
        (a folder holding evalkit's ``manifest.json``, or one being written), or
        holds a salt shorter than 16 characters.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> first = load_or_create_salt(folder / "results" / ".salt")
    >>> first == load_or_create_salt(folder / "results" / ".salt")
    True
    """
    path = Path(path)
    if report_dir is not None:
        report = Path(report_dir).resolve()
        if path.resolve().is_relative_to(report):
            raise ConfigError(
                "the salt file is inside the shared report folder",
                file=path,
                expected=f"a path outside {report}, e.g. next to the results",
            )
    for folder in path.resolve().parents:  # never inside any report folder, whichever --out made it
        manifest = folder / "manifest.json"
        if re.search(r"\.evalkit-(tmp|old)-\d+$", folder.name) or (
                manifest.is_file() and '"config_path"' in manifest.read_text(encoding="utf-8", errors="replace")):
            raise ConfigError(
                f"the salt file is inside the evalkit report folder {folder}, which is made to be shared",
                file=path,
                expected="a path outside every report folder: set EVALKIT_SALT_FILE or keep the config elsewhere",
            )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(make_salt() + "\n")
    return _check_salt(path.read_text(encoding="utf-8"), where=path)


def _id_text(value):
    """Canonical text of one id: 12, 12.0 and ' 12 ' are the same child."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def pseudonymise(ids, *, salt, prefix="P", length=8):
    """Replace ids by stable keyed hashes (HMAC-SHA256 with a secret per-cohort salt).

    Parameters
    ----------
    ids : pandas.Series or sequence
        Raw child ids. Whitespace around an id is ignored, and a whole-number
        float equals the integer (``12.0`` is ``12``), so ids that went through
        a spreadsheet still match; other differences (case, leading zeros) are
        different ids, so clean ids first.
    salt : str
        The cohort's secret key from :func:`load_or_create_salt` (at least 16
        characters).
    prefix : str, default "P"
        Put before the hash with a dash; ``""`` for the bare hash.
    length : int, default 8
        Hex digits kept, 4 to 64. Eight digits give about a 1 in 100,000 chance
        of any clash in a cohort of 300; a clash raises instead of merging two
        children.

    Returns
    -------
    pandas.Series
        Pseudonyms such as ``"P-3fa9c2d1"``, same index and name as ``ids``;
        missing ids stay missing (``None``).

    Raises
    ------
    ConfigError
        If the salt is too short or ``length`` is out of range.
    DataError
        If two different ids get the same pseudonym (use a larger ``length``).

    Notes
    -----
    The pseudonym is the first ``length`` hex digits of
    :math:`\\mathrm{HMAC\\text{-}SHA256}(\\text{salt}, \\text{id})`. Without the salt
    nobody can link a pseudonym to an id, even by hashing every possible id;
    with the same salt the same id always gets the same pseudonym, and a
    different salt (another cohort) gives unrelated pseudonyms.

    Examples
    --------
    >>> salt = "cohort-a-0123456789abcdef"
    >>> pseudonymise(["HT-001", "HT-002", "HT-001"], salt=salt).tolist()
    ['P-df2178d2', 'P-08f95a08', 'P-df2178d2']
    """
    key = _check_salt(salt).encode("utf-8")
    if not isinstance(length, (int, np.integer)) or not 4 <= length <= 64:
        raise ConfigError(f"pseudonym length {length!r} is out of range", column="length",
                          expected="a whole number from 4 to 64")
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype=object)
    lead = f"{prefix}-" if prefix else ""
    seen = {}
    out = []
    for value in series:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out.append(None)
            continue
        text = _id_text(value)
        digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
        if seen.setdefault(digest, text) != text:
            raise DataError(
                f"two different ids share the pseudonym {lead}{digest}",
                column=series.name if isinstance(series.name, str) else None,
                expected=f"a larger pseudonym length than {length}",
            )
        out.append(lead + digest)
    return pd.Series(out, index=series.index, name=series.name, dtype=object)


# --------------------------------------------------------------------------- small counts


def suppression_note(min_cell=5):
    """Footnote text explaining the markers used by :func:`suppress_small_counts`.

    Examples
    --------
    >>> suppression_note(5)
    '<5: between 1 and 4 people. *: hidden so that a small number cannot be worked out from the total.'
    """
    return (f"<{min_cell}: between 1 and {min_cell - 1} people. {HIDDEN}: hidden so that a "
            "small number cannot be worked out from the total.")


def _is_count_column(column):
    return (pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column)
            and bool((column.dropna() >= 0).all()))


def _counts(table, name):
    """The column as floats, checked to hold whole non-negative numbers."""
    values = pd.to_numeric(table[name], errors="coerce")
    bad = table[name].notna() & (values.isna() | (values < 0) | (values % 1 != 0))
    if bad.any():
        row = bad.idxmax()
        raise DataError(f"row {row} holds {table[name][row]!r}, which is not a count", column=name,
                        expected="whole numbers of 0 or more")
    return values.astype(float)


def _groups(complementary, table):
    if not complementary:
        return []
    groups = [complementary] if isinstance(complementary[0], str) else complementary
    for group in groups:
        missing = [c for c in group if c not in table.columns]
        if missing:
            raise DataError(f"complementary group names columns not in the table: {missing}",
                            column=missing[0], expected=f"some of {list(table.columns)}")
    return [list(g) for g in groups]


def suppress_small_counts(table, *, columns=None, min_cell=5, percent_columns=None,
                          complementary=None):
    """Hide counts of 1 to ``min_cell - 1`` people, and anything that would reveal them.

    Parameters
    ----------
    table : pandas.DataFrame
        Counts table, one row per group or measure.
    columns : list of str, optional
        Count columns to check. Default: every integer-dtype (not boolean)
        column whose values are all 0 or more. Counts stored as floats (after a
        merge with missing values) or as text must be named here.
    min_cell : int, default 5
        Smallest count that may be shown. 0 is always shown (nobody to identify).
    percent_columns : dict, optional
        ``{percent_column: count_column}``; a percent is replaced by ``"*"``
        whenever its count is hidden.
    complementary : list of str or list of list of str, optional
        Groups of count columns that add up to a total shown elsewhere in the
        row (e.g. ``["improved", "no_change", "deteriorated"]`` and ``n``). If
        exactly one cell of a group is suppressed in a row, the smallest other
        non-zero cell of that group (first in column order on ties; a zero only
        if nothing else is left) is also hidden, shown as ``"*"``, so the small
        count cannot be recovered as total minus the rest. Only rows are
        protected; column totals are not.

    Returns
    -------
    pandas.DataFrame
        A copy; changed columns become ``object`` dtype holding numbers and the
        strings ``"<{min_cell}"`` (primary) and ``"*"`` (complementary and
        percents). Missing values stay missing.

    Raises
    ------
    ConfigError
        If ``min_cell`` is not a whole number of at least 1.
    DataError
        If a named column is missing or holds something other than whole
        numbers of 0 or more.

    Notes
    -----
    Explain the markers under every table, e.g. with :func:`suppression_note`.

    Examples
    --------
    >>> import pandas as pd
    >>> rc = pd.DataFrame({"measure": ["total", "hiding"], "n": [20, 20],
    ...                    "improved": [3, 12], "no_change": [9, 8], "deteriorated": [8, 0]})
    >>> suppress_small_counts(rc, complementary=["improved", "no_change", "deteriorated"])
      measure   n improved  no_change deteriorated
    0   total  20       <5          9            *
    1  hiding  20       12          8            0
    """
    if not isinstance(min_cell, (int, np.integer)) or isinstance(min_cell, bool) or min_cell < 1:
        raise ConfigError(f"min_cell {min_cell!r} is not allowed", column="min_cell",
                          expected="a whole number of 1 or more, usually 5 or 10")
    groups = _groups(complementary, table)
    if columns is None:
        columns = [c for c in table.columns if _is_count_column(table[c])]
    columns = list(dict.fromkeys([*columns, *(c for g in groups for c in g)]))
    missing = [c for c in [*columns, *(percent_columns or {}).keys(),
                           *(percent_columns or {}).values()] if c not in table.columns]
    if missing:
        raise DataError(f"column '{missing[0]}' is not in the table", column=missing[0],
                        expected=f"one of {list(table.columns)}")

    counts = {c: _counts(table, c) for c in columns}
    primary = {c: (v >= 1) & (v < min_cell) for c, v in counts.items()}
    secondary = {c: pd.Series(False, index=table.index) for c in columns}
    for group in groups:
        for row in table.index:
            hidden = [c for c in group if primary[c][row] or secondary[c][row]]
            if len(hidden) != 1:
                continue
            shown = [c for c in group if c not in hidden and pd.notna(counts[c][row])]
            if not shown:
                continue
            nonzero = [c for c in shown if counts[c][row] > 0] or shown
            secondary[min(nonzero, key=lambda c: counts[c][row])][row] = True

    out = table.copy()
    for c in columns:
        if primary[c].any() or secondary[c].any():
            column = out[c].astype(object)
            column[primary[c]] = f"<{min_cell}"
            column[secondary[c]] = HIDDEN
            out[c] = column
    for percent, count in (percent_columns or {}).items():
        if count not in counts:
            raise DataError(f"percent column '{percent}' refers to '{count}', which is not a "
                            "count column being checked", column=percent,
                            expected=f"one of {columns}")
        hide = primary[count] | secondary[count]
        if hide.any():
            column = out[percent].astype(object)
            column[hide] = HIDDEN
            out[percent] = column
    return out


def withhold_small_groups(table, *, n_column="n", min_group_n=10, note_column="note",
                          columns=None):
    """Blank the statistics of groups too small to report, and say why.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per group or measure, with a group size column.
    n_column : str, default "n"
        Group size. A missing size counts as too small.
    min_group_n : int, default 10
        Smallest group whose statistics are shown.
    note_column : str, default "note"
        Column for the reason; created (empty text) if absent, appended to with
        "; " if a row already has a note.
    columns : list of str, optional
        Statistic columns to blank. Default: every numeric (not boolean) column
        except ``n_column``. The size itself stays; pass it through
        :func:`suppress_small_counts` if it should be hidden too.

    Returns
    -------
    pandas.DataFrame
        A copy; blanked cells are missing (NaN), and withheld rows carry
        ``"withheld: fewer than {min_group_n} people"``.

    Raises
    ------
    DataError
        If ``n_column`` or a named column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> stats = pd.DataFrame({"group": ["girls", "boys"], "n": [14, 6], "d": [0.5, 0.9]})
    >>> out = withhold_small_groups(stats)
    >>> out["d"].tolist(), out["note"].tolist()
    ([0.5, nan], ['', 'withheld: fewer than 10 people'])
    """
    if n_column not in table.columns:
        raise DataError(f"group size column '{n_column}' is not in the table", column=n_column,
                        expected=f"one of {list(table.columns)}")
    if columns is None:
        columns = [c for c in table.columns
                   if c not in (n_column, note_column)
                   and pd.api.types.is_numeric_dtype(table[c])
                   and not pd.api.types.is_bool_dtype(table[c])]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"column '{missing[0]}' is not in the table", column=missing[0],
                        expected=f"one of {list(table.columns)}")
    n = pd.to_numeric(table[n_column], errors="coerce")
    small = ~(n >= min_group_n)
    out = table.copy()
    for c in columns:
        if small.any():
            if not pd.api.types.is_float_dtype(out[c]):
                out[c] = out[c].astype(float if pd.api.types.is_numeric_dtype(out[c]) else object)
            out.loc[small, c] = np.nan
    reason = f"withheld: fewer than {min_group_n} people"
    if note_column in out.columns:
        old = out[note_column].astype(object).where(out[note_column].notna(), "").astype(str)
    else:
        old = pd.Series("", index=out.index, dtype=object)
    new = old.where(~small, old.where(old == "", old + "; ") + reason)
    out[note_column] = new
    return out


# --------------------------------------------------------------------------- identifier scans

# A token is a run of word characters; a number with decimal or thousands
# separators ("2,012", "3.12") is one token, so id "12" is not found in it.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+")
# data: URIs are base64 noise where any short id could appear by chance.
_DATA_URI = re.compile(r"data:[^\s\"')<>]*", re.I)


def _tokens(text):
    return [token.casefold() for token in _TOKEN.findall(text)]


def find_identifiers(text, identifiers):
    """Return which ids or names appear in a text (a page, a CSV, a log) as whole tokens.

    Parameters
    ----------
    text : str
        Text or HTML. HTML entities are decoded and ``data:`` URIs (embedded
        images) are skipped before scanning.
    identifiers : iterable
        Raw ids and names to look for; missing values and blanks are ignored.

    Returns
    -------
    list of str
        The identifiers found, as given (converted to text), in the order given,
        without repeats.

    Notes
    -----
    Text and identifiers are both split into tokens: runs of letters, digits
    and underscores, where a number with ``.`` or ``,`` separators is a single
    token. An identifier matches when its tokens occur consecutively in the
    text, ignoring case and whatever separates the tokens. So:

    * ``"12"`` is **not** found in ``"2012"``, ``"x12"``, ``"3.12"`` or
      ``"1,200"``, but is found in ``"id 12."`` and ``"(12)"``;
    * ``"HT-0012"`` is found in ``"ht 0012"`` and ``"HT/0012"``, but not in
      ``"HT_0012"`` (an underscore joins tokens) or ``"HT-00123"``;
    * ``"Jane Smith"`` is found in ``"JANE  SMITH"`` but not in ``"Jane"``.

    This errs towards reporting a match. Very short numeric ids will also match
    unrelated numbers (``"n = 12"``), so give children ids that are not plain
    small numbers.

    Examples
    --------
    >>> find_identifiers("<p>Report 2012: child HT-0012 &amp; Jane Smith</p>",
    ...                  ["12", "HT-0012", "jane smith", "Smith J"])
    ['HT-0012', 'jane smith']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    stream = " " + " ".join(_tokens(_DATA_URI.sub(" ", _html.unescape(text)))) + " "
    found = []
    for identifier in identifiers:
        if identifier is None or (not isinstance(identifier, str) and pd.isna(identifier)):
            continue
        label = _id_text(identifier)
        tokens = _tokens(label)
        if tokens and f" {' '.join(tokens)} " in stream and label not in found:
            found.append(label)
    return found


# --------------------------------------------------------------------------- complementary suppression
#
# A table shows totals and their parts. Hiding a small part is not enough when the total
# and the other parts are shown: 269 - 26 - 242 = 1 child deteriorated. The routines below
# treat a table as cells linked by equations (total = sum of parts), work out what a reader
# can derive from what is shown, and hide further cells until nothing hidden can be derived.

_INF = float("inf")


def _equation_cells(equation):
    total, parts = equation
    return ([total] if total is not None else []) + list(parts)


def derived_bounds(shown, hidden, equations, *, min_cell=5, small=None, known_totals=None,
                   rounds=50):
    """What a reader can work out about each hidden count from the shown ones.

    Interval propagation over the equations ``total = sum(parts)``: each hidden
    count starts at what its marker says (``"<min_cell"``: 1 to ``min_cell - 1``;
    ``"*"``: 0 or more) and is narrowed by every equation it is in, repeatedly,
    until nothing changes.

    Parameters
    ----------
    shown : dict
        Cell -> shown value (a number) for the cells that are shown.
    hidden : iterable
        Cells that are hidden.
    equations : list of (total cell or None, list of part cells)
        ``None`` as total: the parts add up to a total the reader knows from
        elsewhere, given in ``known_totals``.
    min_cell : int
    small : set, optional
        The hidden cells shown as ``"<min_cell"`` (default: every hidden cell).
    known_totals : dict, optional
        Equation index -> the total a reader knows, for equations whose total
        is ``None``.

    Returns
    -------
    dict
        Hidden cell -> ``(low, high)``, the range consistent with everything shown.

    Examples
    --------
    >>> eq = [("n", ["improved", "no_change", "deteriorated"])]
    >>> derived_bounds({"n": 269, "improved": 26, "no_change": 242}, ["deteriorated"], eq)
    {'deteriorated': (1, 1)}
    """
    hidden = set(hidden)
    small = hidden if small is None else set(small) & hidden
    bounds = {c: ((1, min_cell - 1) if c in small else (0, _INF)) for c in hidden}

    def of(cell):
        return bounds[cell] if cell in hidden else (shown[cell], shown[cell])

    for _ in range(rounds):
        changed = False
        for k, (total, parts) in enumerate(equations):
            cells = _equation_cells((total, parts))
            if not any(c in hidden for c in cells):
                continue
            if any(c not in hidden and c not in shown for c in cells):
                continue  # a cell neither shown nor hidden (blank): the equation tells nothing
            if total is None:
                if known_totals is None or k not in known_totals:
                    continue
                t_lo = t_hi = known_totals[k]
            else:
                t_lo, t_hi = of(total)
            for cell in cells:
                if cell not in hidden:
                    continue
                lo, hi = bounds[cell]
                if cell == total:
                    new_lo = max(lo, sum(of(p)[0] for p in parts))
                    new_hi = min(hi, sum(of(p)[1] for p in parts))
                else:
                    others_lo = sum(of(p)[0] for p in parts if p != cell)
                    others_hi = sum(of(p)[1] for p in parts if p != cell)
                    new_lo = max(lo, t_lo - others_hi)
                    new_hi = min(hi, t_hi - others_lo)
                if new_lo > new_hi:  # inconsistent (rounded or edited figures): stop narrowing
                    continue
                if (new_lo, new_hi) != (lo, hi):
                    bounds[cell] = (new_lo, new_hi)
                    changed = True
        if not changed:
            break
    return bounds


def exposures(shown, hidden, equations, *, min_cell=5, small=None, known_totals=None):
    """The hidden small counts a reader can work out, and why.

    A hidden count is exposed when (a) its value follows exactly from what is
    shown (``"recoverable"``), or (b) the hidden parts of a shown total are all
    small and add up to a number a reader can compute, which is itself below
    ``min_cell`` (``"small sum"``: the hidden cells together are a small count).

    Returns
    -------
    list of dict
        ``cell``, ``problem``, ``value`` (what can be derived), ``equation`` (index).

    Examples
    --------
    >>> eq = [("n", ["improved", "no_change", "deteriorated"])]
    >>> [e["problem"] for e in exposures({"n": 269, "improved": 26, "no_change": 242},
    ...                                   ["deteriorated"], eq)]
    ['recoverable']
    >>> exposures({"n": 269, "no_change": 242}, ["improved", "deteriorated"], eq,
    ...           small=["deteriorated"])
    []
    """
    hidden = set(hidden)
    small = hidden if small is None else set(small) & hidden
    bounds = derived_bounds(shown, hidden, equations, min_cell=min_cell, small=small,
                            known_totals=known_totals)
    out = []
    for cell in sorted(small, key=str):
        lo, hi = bounds[cell]
        if lo == hi:
            out.append({"cell": cell, "problem": "recoverable", "value": lo, "equation": None})
    for k, (total, parts) in enumerate(equations):
        if total is None:
            if known_totals is None or k not in known_totals:
                continue
            t = known_totals[k]
        elif total in hidden or total not in shown:
            continue
        else:
            t = shown[total]
        gone = [p for p in parts if p in hidden]
        if not gone or any(p not in hidden and p not in shown for p in parts):
            continue
        if all(p in small for p in gone):
            rest = t - sum(shown[p] for p in parts if p not in hidden)
            if 1 <= rest < min_cell and len(gone) > 1:
                out.append({"cell": gone[0], "problem": "small sum", "value": rest, "equation": k})
    return out


def _pins(shown, hidden, equation, cell, min_cell, small, known_total):
    """True when this one equation gives the hidden ``cell`` away exactly."""
    lo, hi = derived_bounds(shown, hidden, [equation], min_cell=min_cell, small=small,
                            known_totals={0: known_total} if known_total is not None else None
                            ).get(cell, (0, 1))
    return lo == hi


def _next_to_hide(equations, hidden, values, order, kept, usable):
    """The best further cell to hide among these equations: the smallest shown non-zero part,
    then a total, then cells to keep, then a zero."""
    ranked = []
    for total, parts in equations:
        free = [p for p in parts if p not in hidden and usable(p)]
        total_free = total is not None and total not in hidden and usable(total)
        ranked += [(0, values[p], order[p], p) for p in free if values[p] > 0 and not kept(p)]
        ranked += [(1, values[total], order[total], total)] if total_free and not kept(total) else []
        ranked += [(2, values[p], order[p], p) for p in free if values[p] > 0 and kept(p)]
        ranked += [(3, values[total], order[total], total)] if total_free and kept(total) else []
        ranked += [(4, 0, order[p], p) for p in free if values[p] == 0]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def protect_cells(values, equations, *, min_cell=5, keep=()):
    """Choose the cells to hide: every count of 1 to ``min_cell - 1`` and enough others.

    Parameters
    ----------
    values : dict
        Cell -> count (whole number of 0 or more; NaN for a blank cell, never hidden).
        A cell is any hashable, e.g. ``(row, column)``.
    equations : list of (total cell or None, list of part cells)
        ``total = sum(parts)``; ``None``: the parts add up to a total shown
        elsewhere (the sum of their values).
    min_cell : int
    keep : iterable
        Cells (or, for ``(row, column)`` cells, column names) to hide only when
        nothing else in the equation can be hidden, e.g. a total also shown in
        another table.

    Returns
    -------
    (set, set)
        The primary cells (small counts, shown ``"<min_cell"``) and the
        complementary cells (shown ``"*"``).

    Notes
    -----
    Greedy, as in most statistical offices' tabular tools: while
    :func:`exposures` finds a small count that can be worked out, take an
    equation that exposes it and hide its smallest shown non-zero part (first
    in order on ties), else its total, else a ``keep`` cell, else a zero.
    Every step hides one more cell, so it ends; it hides no more than needed in
    the usual one-total tables, and may hide more than the least possible in
    tables with both row and column totals.

    Examples
    --------
    >>> eq = [("n", ["improved", "no_change", "deteriorated"])]
    >>> protect_cells({"n": 269, "improved": 26, "no_change": 242, "deteriorated": 1}, eq,
    ...               keep=["n"])
    ({'deteriorated'}, {'improved'})
    """
    keep = set(keep)

    def kept(cell):
        return cell in keep or (isinstance(cell, tuple) and len(cell) == 2 and cell[1] in keep)

    def usable(cell):
        value = values.get(cell)
        return value is not None and value == value  # not NaN

    primary = {c for c, v in values.items() if usable(c) and 1 <= v < min_cell}
    hidden = set(primary)
    known = {k: sum(values[p] for p in parts if usable(p))
             for k, (total, parts) in enumerate(equations) if total is None}
    order = {c: i for i, c in enumerate(values)}
    for _ in range(len(values) + 1):
        shown = {c: v for c, v in values.items() if c not in hidden and usable(c)}
        found = exposures(shown, hidden, equations, min_cell=min_cell, small=primary,
                          known_totals=known)
        if not found:
            break
        picked = None
        # first an equation that alone gives a hidden count away, else any equation of an exposed cell
        for strict in (True, False):
            for problem in found:
                cell = problem["cell"]
                if problem["equation"] is not None:
                    candidates = [equations[problem["equation"]]]
                else:
                    mine = [k for k, e in enumerate(equations) if cell in _equation_cells(e)]
                    candidates = [equations[k] for k in mine
                                  if not strict or _pins(shown, hidden, equations[k], cell, min_cell,
                                                         primary, known.get(k))]
                picked = _next_to_hide(candidates, hidden, values, order, kept, usable)
                if picked is not None:
                    break
            if picked is not None:
                break
        if picked is None:
            break  # nothing left to hide (the table is all small counts)
        hidden.add(picked)
    return primary, hidden - primary


def complementary_suppression(table, *, relations=(), min_cell=5, columns=None, keep=(),
                              percent_columns=None, column_relations=()):
    """Hide small counts in a table, and whatever would let a reader work them out.

    Parameters
    ----------
    table : pandas.DataFrame
        Counts table (any index).
    relations : list of (str or None, list of str)
        Row relations ``(total_column, part_columns)``: in every row the total is
        the sum of the parts; ``None`` as total: the parts add up to a total the
        reader knows from elsewhere.
    min_cell : int, default 5
        Smallest count that may be shown; 0 is always shown.
    columns : list of str, optional
        Further count columns checked for small counts (no relation).
    keep : list of str
        Columns hidden only as a last resort (e.g. ``n``, also shown in another table).
    percent_columns : dict, optional
        ``{percent_column: count_column}``: a percent is hidden with its count.
    column_relations : list of (row label, list of row labels, list of str)
        Column relations ``(total_row, part_rows, columns)``: in each of the
        columns, the total row is the sum of the part rows (e.g. an "all files" row).

    Returns
    -------
    pandas.DataFrame
        A copy; hidden small counts show ``"<min_cell"``, complementary cells
        and percents of hidden counts ``"*"`` (:data:`HIDDEN`). Changed columns
        become ``object``.

    Raises
    ------
    ConfigError
        If ``min_cell`` is not a whole number of at least 1.
    DataError
        If a column is missing or holds something other than counts.

    Notes
    -----
    The promise, checked by :func:`exposures` and tested: from what is shown, no
    hidden small count can be worked out exactly, and hidden small counts that
    make up a shown total never add up to a number below ``min_cell``. Cells are
    chosen by :func:`protect_cells`.

    Examples
    --------
    >>> import pandas as pd
    >>> rc = pd.DataFrame({"n": [269, 270], "improved": [26, 23], "no_change": [242, 238],
    ...                    "deteriorated": [1, 9]})
    >>> complementary_suppression(rc, relations=[("n", ["improved", "no_change", "deteriorated"])],
    ...                           keep=["n"])
         n improved  no_change deteriorated
    0  269        *        242           <5
    1  270       23        238            9
    """
    if not isinstance(min_cell, (int, np.integer)) or isinstance(min_cell, bool) or min_cell < 1:
        raise ConfigError(f"min_cell {min_cell!r} is not allowed", column="min_cell",
                          expected="a whole number of 1 or more, usually 5 or 10")
    names = list(dict.fromkeys(
        [*(columns or []), *(c for total, parts in relations for c in [total, *parts] if c is not None),
         *(c for _, _, cols in column_relations for c in cols)]))
    missing = [c for c in [*names, *(percent_columns or {})] if c not in table.columns]
    if missing:
        raise DataError(f"column '{missing[0]}' is not in the table", column=missing[0],
                        expected=f"one of {list(table.columns)}")
    counts = {c: _counts(table, c).tolist() for c in names}
    values = {(row, c): counts[c][k] for k, row in enumerate(table.index) for c in names}
    equations = [((row, total) if total is not None else None, [(row, p) for p in parts])
                 for row in table.index for total, parts in relations]
    equations += [((total_row, c), [(r, c) for r in part_rows])
                  for total_row, part_rows, cols in column_relations for c in cols]
    primary, secondary = protect_cells(values, equations, min_cell=min_cell, keep=keep)
    out = table.copy()
    for c in names:
        small = [row for row in table.index if (row, c) in primary]
        other = [row for row in table.index if (row, c) in secondary]
        if small or other:
            column = out[c].astype(object)
            column[small] = f"<{min_cell}"
            column[other] = HIDDEN
            out[c] = column
    for percent, count in (percent_columns or {}).items():
        gone = [row for row in table.index if (row, count) in primary | secondary]
        if gone:
            column = out[percent].astype(object)
            column[gone] = HIDDEN
            out[percent] = column
    return out


def is_hidden(value):
    """True for a cell hidden by disclosure control (``"<5"``, ``"*"``).

    Examples
    --------
    >>> is_hidden("<5"), is_hidden("*"), is_hidden(7), is_hidden("7")
    (True, True, False, False)
    """
    return isinstance(value, str) and (value.strip() == HIDDEN
                                       or re.fullmatch(r"<\s*\d+", value.strip()) is not None)


# --------------------------------------------------------------------------- checks of a finished report
#
# The two checks below read what a reader gets (the pages, the index, manifest.json, the executed
# notebooks), not the tables evalkit meant to show, so they catch a leak wherever it comes from.

#: Column headers of counts of people or rows, as shown in pages and as recorded in notebooks.
COUNT_HEADERS = frozenset({
    "n", "rows in", "kept", "excluded", "rows_in", "rows_kept", "rows_excluded", "rows", "people",
    "pre only", "post only", "matched", "improved", "no_change", "deteriorated", "reliably improved",
    "no reliable change", "reliably deteriorated", "completers_n", "dropouts_n", "n_pre", "n_post",
    "completers (n)", "left before follow-up (n)",
})
#: Exclusion reasons of the cleaning summary (columns after ``excluded`` in an accounting table).
_ROW_RELATIONS = (
    ("rows in", ("kept", "excluded")),
    ("rows_in", ("rows_kept", "rows_excluded")),
    ("people", ("pre only", "post only", "matched")),
    ("n", ("reliably improved", "no reliable change", "reliably deteriorated")),
    ("n", ("improved", "no_change", "deteriorated")),
)
_PERCENT_CELL = re.compile(r"^\s*(?P<count>[^()]*?)\s*\(\s*[\d.]+\s*%\s*\)\s*$")
_MARKER = re.compile(r"^<\s*(\d+)$")
_SENTENCE_N = re.compile(r"\b(\d[\d,]*)\s+matched\s+(?:children|facilitators|people|patients)\b", re.I)
_RC_SENTENCE = re.compile(r"Reliable change[^:<>]{0,80}:\s*(?P<a>[^,:]{1,60}?) improved,\s*(?P<b>[^,:]{1,60}?) "
                          r"did not change reliably,\s*(?P<c>[^.(,:]{1,60}?) deteriorated", re.I)
_TABLE_BLOCK = re.compile(r"<table\b.*?</table>", re.I | re.S)


def html_tables(text):
    """Every ``<table>`` of a page as a list of rows of cell texts (header row first).

    Examples
    --------
    >>> html_tables("<table><tr><th>n</th><th>kept</th></tr><tr><td>12</td><td>&lt;5</td></tr></table>")
    [[['n', 'kept'], ['12', '<5']]]
    """
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tables, self.stack, self.row, self.cell = [], [], None, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.stack.append([])
            elif tag == "tr" and self.stack:
                self.row = []
                self.stack[-1].append(self.row)
            elif tag in ("td", "th") and self.row is not None:
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None and self.row is not None:
                self.row.append(" ".join("".join(self.cell).split()))
                self.cell = None
            elif tag == "table" and self.stack:
                self.tables.append(self.stack.pop())
                self.row = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Parser()
    parser.feed(text)
    parser.close()
    return [t for t in parser.tables if t]


def _cell_count(text):
    """A shown cell as ``("shown", number)``, ``("small", limit)``, ``("hidden", None)`` or None."""
    if text is None:
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float, np.integer, np.floating)):
        return ("shown", float(text)) if np.isfinite(text) else None
    text = str(text).strip()
    match = _PERCENT_CELL.match(text)
    if match:
        text = match.group("count").strip()
    if text == HIDDEN:
        return ("hidden", None)
    marker = _MARKER.match(text)
    if marker:
        return ("small", int(marker.group(1)))
    number = text.replace(",", "")
    if re.fullmatch(r"\d+(\.0+)?", number):
        return ("shown", float(number))
    return None


def table_problems(rows, *, min_cell=5, where=""):
    """Disclosure problems of one shown table (header row first): what a reader can work out.

    Checks every count column (:data:`COUNT_HEADERS`) for a shown count of 1 to
    ``min_cell - 1``, every percentage beside a hidden count, and every relation
    between shown totals and parts that evalkit's tables carry (rows in = kept +
    excluded, excluded = the exclusion reasons after it, people = pre only +
    post only + matched, n = improved + no change + deteriorated, and an "all
    files" row = the file rows of its section) with :func:`exposures`.

    Returns
    -------
    list of dict
        ``where``, ``row``, ``column``, ``value``, ``problem``.

    Examples
    --------
    >>> table = [["n", "improved", "no_change", "deteriorated"], ["269", "26", "242", "<5"]]
    >>> [p["problem"] for p in table_problems(table)]
    ['<5 can be worked out from the shown total and parts: it is 1']
    """
    if len(rows) < 2:
        return []
    header = [h.strip().casefold() for h in rows[0]]
    body = [list(r) + [""] * (len(header) - len(r)) for r in rows[1:]]
    out = []

    def problem(i, column, value, text):
        out.append({"where": where, "row": i + 1, "column": column, "value": value, "problem": text})

    cells = {}
    for i, row in enumerate(body):
        for j, name in enumerate(header):
            if name not in COUNT_HEADERS and not (j > 0 and "excluded" in header[:j] and "rows in" in header):
                continue
            value = row[j] if j < len(row) else ""
            raw = str(value).strip()
            if _PERCENT_CELL.match(raw) and _cell_count(raw) and _cell_count(raw)[0] != "shown":
                problem(i, rows[0][j], raw, "a percentage is shown beside a hidden count")
            kind = _cell_count(value)
            if kind is None:
                continue
            cells[(i, name)] = kind
            if kind[0] == "shown" and 1 <= kind[1] < min_cell:
                problem(i, rows[0][j], raw, f"a count below min_cell {min_cell} is shown")
    equations = []
    for total, parts in _ROW_RELATIONS:
        if total in header and all(p in header for p in parts):
            equations += [((i, total), [(i, p) for p in parts]) for i in range(len(body))]
    if "excluded" in header and "rows in" in header:
        reasons = header[header.index("excluded") + 1:]
        if reasons:
            equations += [((i, "excluded"), [(i, r) for r in reasons]) for i in range(len(body))]
    if "file" in header:
        f, s = header.index("file"), header.index("section") if "section" in header else None
        groups = {}
        for i, row in enumerate(body):
            groups.setdefault(row[s] if s is not None else "", []).append(i)
        for members in groups.values():
            totals = [i for i in members if body[i][f].strip().casefold() == "all files"]
            if len(totals) == 1:
                parts = [i for i in members if i != totals[0]]
                for name in header:
                    if any((i, name) in cells for i in members):
                        equations.append(((totals[0], name), [(i, name) for i in parts]))
    shown = {c: k[1] for c, k in cells.items() if k[0] == "shown"}
    hidden = {c for c, k in cells.items() if k[0] != "shown"}
    small = {c for c, k in cells.items() if k[0] == "small"}
    limits = [k[1] for k in cells.values() if k[0] == "small"]
    marker_cell = max(limits) if limits else min_cell
    equations = [e for e in equations if all(c in cells for c in _equation_cells(e))]
    for found in exposures(shown, hidden, equations, min_cell=marker_cell, small=small):
        i, name = found["cell"]
        column = rows[0][header.index(name)]
        if found["problem"] == "recoverable":
            text = f"<{marker_cell} can be worked out from the shown total and parts: it is {found['value']:g}"
        else:
            text = f"hidden small counts add up to {found['value']:g}, which can be worked out"
        problem(i, column, body[i][header.index(name)], text)
    return out


def text_problems(text, *, min_cell=5, where=""):
    """Disclosure problems of running text (findings sentences): a small count printed, or reliable-change
    percentages from which a hidden share follows (100% minus the others).

    Examples
    --------
    >>> [p["problem"] for p in text_problems("Scores rose (t(6) = 3.1), 7 matched children.", min_cell=10)]
    ['a count below min_cell 10 is printed: 7 matched children']
    """
    out = []
    plain = " ".join(_html.unescape(re.sub(r"<[^>]+>", " ", _TABLE_BLOCK.sub(" ", text))).split())
    for match in _SENTENCE_N.finditer(plain):
        n = int(match.group(1).replace(",", ""))
        if 1 <= n < min_cell:
            out.append({"where": where, "row": None, "column": None, "value": match.group(0),
                        "problem": f"a count below min_cell {min_cell} is printed: {match.group(0)}"})
    for match in _RC_SENTENCE.finditer(plain):
        parts = [match.group(k).strip() for k in "abc"]
        percents = [p for p in parts if re.fullmatch(r"\d+(\.\d+)?%", p)]
        if len(percents) == 2:
            out.append({"where": where, "row": None, "column": None, "value": match.group(0)[:120],
                        "problem": "two reliable-change percentages are printed beside a hidden one, "
                                   "which is 100% minus them"})
    return out


def _notebook_parts(path):
    """(kind, text or value) of a notebook's outputs: HTML, markdown, plain text and recorded values."""
    import json as _json

    nb = _json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        yield "markdown" if cell.get("cell_type") == "markdown" else "code", (
            "".join(source) if isinstance(source, list) else source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime, value in data.items():
                if mime.startswith("image/"):
                    continue
                value = "".join(value) if isinstance(value, list) else value
                yield mime, value
            if "text" in output:
                text = output["text"]
                yield "stream", "".join(text) if isinstance(text, list) else text


def _record_tables(value):
    """A recorded value as tables (header row first) for :func:`table_problems`."""
    if isinstance(value, dict) and "name" in value and "value" in value:
        name, value = value["name"], value["value"]
    else:
        name = ""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        return [[keys] + [[v.get(k) for k in keys] for v in value]]
    if name.endswith("_matched") or name in COUNT_HEADERS:
        return [[["n"], [value]]]
    return []


def _docx_parts(path):
    """``(tables, text)`` of a Word file: its tables as rows of cell texts, and all its text."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            xml = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                            if n.startswith("word/") and n.endswith(".xml"))
    except (OSError, zipfile.BadZipFile):
        return [], ""

    def text(fragment):
        paragraphs = re.split(r"</w:p>", fragment)
        return " ".join(" ".join(_html.unescape("".join(re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", p))).split())
                        for p in paragraphs).strip()

    tables = []
    for table in re.findall(r"<w:tbl>.*?</w:tbl>", xml, re.S):
        rows = [[text(cell) for cell in re.findall(r"<w:tc>.*?</w:tc>", row, re.S)]
                for row in re.findall(r"<w:tr[ >].*?</w:tr>", table, re.S)]
        tables.append([r for r in rows if r])
    return [t for t in tables if t], text(xml)


def shareable_files(report_dir):
    """The files of a report folder that may reach a reader: pages, index, manifest, executed notebooks,
    Word summaries.

    ``results/`` (ids, restricted) is not among them.
    """
    report_dir = Path(report_dir)
    files = sorted(p for p in report_dir.glob("*.html") if p.is_file() and not p.is_symlink())
    files += sorted(p for p in report_dir.glob("*.docx") if p.is_file() and not p.is_symlink())
    files += [p for p in [report_dir / "manifest.json"] if p.is_file() and not p.is_symlink()]
    files += sorted(p for p in (report_dir / "notebooks").glob("*.ipynb")
                    if p.is_file() and not p.is_symlink())
    return files


def _problems_frame(rows):
    out = pd.DataFrame(rows, columns=["file", "where", "row", "column", "value", "problem"])
    out["row"] = out["row"].astype("Int64")
    return out


def disclosure_check(report_dir, min_cell=5, *, files=None):
    """Every small count a reader of a report folder could see or work out.

    Parameters
    ----------
    report_dir : str or pathlib.Path
        A folder written by ``evalkit report`` (or ``evalkit batch``).
    min_cell : int, default 5
        The cohort's ``disclosure.min_cell``.
    files : list of path, optional
        Only these files (default: :func:`shareable_files`).

    Returns
    -------
    pandas.DataFrame
        One row per problem: ``file`` (relative to ``report_dir``), ``where``
        (``table 3``, ``text``, ``record children_matched``), ``row``,
        ``column``, ``value`` and ``problem``. Empty when the folder is safe.

    Notes
    -----
    Reads the tables of every HTML page and of the executed notebooks' HTML
    outputs (:func:`table_problems`), their running text (:func:`text_problems`:
    findings sentences, the index), the values notebooks recorded, and the text
    of ``manifest.json``. Differences between tables of different pages are not
    followed, and figures are images: their labels follow the tables' rules
    but are not read back here.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "page.html").write_text(
    ...     "<table><tr><th>people</th><th>pre only</th><th>post only</th><th>matched</th></tr>"
    ...     "<tr><td>60</td><td>&lt;5</td><td>0</td><td>58</td></tr></table>")
    >>> disclosure_check(folder)[["file", "column", "problem"]].values.tolist()
    [['page.html', 'pre only', '<5 can be worked out from the shown total and parts: it is 2']]
    """
    import json as _json

    report_dir = Path(report_dir)
    rows = []
    for path in (shareable_files(report_dir) if files is None else [Path(f) for f in files]):
        name = str(path.relative_to(report_dir)) if path.is_relative_to(report_dir) else path.name
        found = []
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8", errors="replace")
            for k, table in enumerate(html_tables(text), start=1):
                found += table_problems(table, min_cell=min_cell, where=f"table {k}")
            found += text_problems(text, min_cell=min_cell, where="text")
        elif path.suffix == ".ipynb":
            k = 0
            for kind, value in _notebook_parts(path):
                if kind == "text/html":
                    for table in html_tables(value):
                        k += 1
                        found += table_problems(table, min_cell=min_cell, where=f"output table {k}")
                elif kind == RECORD_MIME:
                    payload = _json.loads(value) if isinstance(value, str) else value
                    for table in _record_tables(payload):
                        found += table_problems(table, min_cell=min_cell,
                                                where=f"record {payload.get('name', '')}")
                    if isinstance(payload.get("value"), list) and all(
                            isinstance(v, str) for v in payload["value"]):
                        found += text_problems(" ".join(payload["value"]), min_cell=min_cell,
                                               where=f"record {payload.get('name', '')}")
                elif kind in ("text/markdown", "markdown", "text/plain", "stream"):
                    found += text_problems(value, min_cell=min_cell, where=kind)
        elif path.suffix == ".docx":
            tables, text = _docx_parts(path)
            for k, table in enumerate(tables, start=1):
                found += table_problems(table, min_cell=min_cell, where=f"table {k}")
            found += text_problems(text, min_cell=min_cell, where="text")
        else:
            found += text_problems(path.read_text(encoding="utf-8", errors="replace"), min_cell=min_cell,
                                   where="text")
        rows += [{"file": name, **f} for f in found]
    return _problems_frame(rows).drop_duplicates(ignore_index=True)


#: Mime type under which notebooks record values (as in evalkit.report.notebook.RECORD_MIME).
RECORD_MIME = "application/vnd.evalkit.record+json"


# --------------------------------------------------------------------------- identifier scan of a report

#: Columns whose values may be shown (escaped, min_cell applied): the configured factors.
FACTOR_COLUMNS = ("delivery", "referral_reason", "site", "age")
#: Shortest text value of a data cell looked for in the shareable files.
MIN_TEXT_CHARS = 4
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?$")
_vocabulary_cache = {}


def _report_vocabulary():
    """Token stream of evalkit's own words: its source code, templates and report notebooks.

    A data value made only of words the report writes itself ("follow-up" in "no follow-up",
    "none", "total") cannot be told from the report's own text, so it is not looked for.
    """
    if "text" not in _vocabulary_cache:
        root = Path(__file__).resolve().parents[1]
        # not the sample generator: its words are the sample cohort's data
        parts = [p.read_text(encoding="utf-8", errors="replace")
                 for pattern in ("**/*.py", "**/*.j2", "**/*.yml")
                 for p in sorted(root.glob(pattern)) if p.name != "sample.py"]
        notebooks = root.parent / "notebooks"
        parts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(notebooks.glob("*.ipynb"))]
        _vocabulary_cache["text"] = " " + " ".join(_tokens("\n".join(parts))) + " "
    return _vocabulary_cache["text"]


def _allowed_texts(config):
    """What a report may quote: config and instrument texts, configured factor levels (read later)."""
    from ..data.instruments import load_instrument

    texts = {config.name, Path(config.path).name}
    for section in config.sections.values():
        texts |= {section.name, *map(str, section.columns.values()), *map(str, section.columns)}
        texts |= {label for labels in section.timepoints.values() for label in labels} | set(section.timepoints)
        texts |= {str(k) for k in section.items} | {str(v) for v in section.items.values()}
        try:
            inst = load_instrument(section.instrument, base=Path(config.path).parent)
        except Exception:  # noqa: BLE001 - an unreadable instrument quotes nothing
            continue
        texts |= {inst.id, inst.name, *map(str, inst.labels), *inst.measure_labels.values()}
        texts |= {s.id for s in inst.subscales} | set(inst.items)
    return {" ".join(_tokens(t)) for t in texts if t}


def data_values(config):
    """The raw ids and the text values of a cohort's data files that no shareable file may show.

    Parameters
    ----------
    config : evalkit.data.config.CohortConfig or path

    Returns
    -------
    (list of str, list of str)
        The ids (every value of each section's id column) and the other text
        values: every cell of at least :data:`MIN_TEXT_CHARS` characters that is
        not a number, outside the configured factor columns (delivery, referral
        reason, site, age), minus the texts the report may quote (the config's
        and the instrument's labels, the configured timepoint labels, factor
        levels) and words evalkit writes itself. Columns the config does not
        name (free text, names) are read too.
    """
    from ..data.config import load_config
    from ..data.io import column_key, read_table

    if not hasattr(config, "sections"):
        config = load_config(config)
    allowed = _allowed_texts(config)
    vocabulary = _report_vocabulary()
    ids, texts, levels = set(), set(), set()
    for section in config.sections.values():
        id_key = column_key(section.columns.get("id", "id"))
        factors = {column_key(section.columns[f]) for f in FACTOR_COLUMNS if f in section.columns}
        for path in section.files:
            table = read_table(path, header_hint=section.columns.get("id"))
            for column in table.columns:
                if column in ("_file", "_row"):
                    continue
                key = column_key(column)
                values = {str(v).strip() for v in table[column].dropna().unique()} - {""}
                if key == id_key:
                    ids |= values
                elif key in factors:
                    levels |= {" ".join(_tokens(v)) for v in values}
                else:
                    texts |= {v for v in values if len(v) >= MIN_TEXT_CHARS and not _NUMBER.match(v)}
    allowed |= levels
    kept = []
    for value in sorted(texts):
        tokens = " ".join(_tokens(value))
        if not tokens or tokens in allowed or f" {tokens} " in vocabulary:
            continue
        kept.append(value)
    return sorted(ids), kept


def _shareable_text(path):
    """The text of a shareable file as a reader could see it (a notebook without its images)."""
    if path.suffix == ".ipynb":
        return "\n".join(str(value) for _, value in _notebook_parts(path))
    if path.suffix == ".docx":
        return _docx_parts(path)[1]
    return path.read_text(encoding="utf-8", errors="replace")


def _found(stream, token_set, value):
    tokens = _tokens(_id_text(value))
    if not tokens:
        return False
    if len(tokens) == 1:
        return tokens[0] in token_set
    return tokens[0] in token_set and f" {' '.join(tokens)} " in stream


def identifier_scan(report_dir, *, config=None, files=None):
    """Look for every raw id and data text of a cohort in the shareable files of its report folder.

    Parameters
    ----------
    report_dir : str or pathlib.Path
        A folder written by ``evalkit report``.
    config : path or CohortConfig, optional
        The cohort config (default: ``config_path`` of the folder's ``manifest.json``).
    files : list of path, optional
        Only these files (default: :func:`shareable_files`).

    Returns
    -------
    pandas.DataFrame
        One row per file and value found: ``file``, ``where`` (``"id"`` or
        ``"data text"``), ``row``, ``column`` (empty), ``value`` (the first
        characters and its length, so the table itself quotes no whole value)
        and ``problem``. Empty when nothing is found.

    Raises
    ------
    ConfigError
        If the config cannot be found (then nothing can be checked).

    Notes
    -----
    Matching is :func:`find_identifiers`' whole-token match, case-insensitive,
    after HTML entities are decoded and embedded images skipped.
    """
    import json as _json

    report_dir = Path(report_dir)
    if config is None:
        manifest = report_dir / "manifest.json"
        try:
            config = _json.loads(manifest.read_text(encoding="utf-8"))["config_path"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError("cannot tell which cohort this folder reports (no readable manifest.json), "
                              "so it cannot be checked for identifiers", file=report_dir,
                              expected="a folder written by evalkit report") from exc
    if not hasattr(config, "sections") and not Path(config).is_file():
        raise ConfigError("the cohort config this report was made from is not found, so the report cannot be "
                          "checked for identifiers", file=config,
                          expected="the config and its data files where the report was made")
    ids, texts = data_values(config)
    rows = []
    for path in (shareable_files(report_dir) if files is None else [Path(f) for f in files]):
        name = str(path.relative_to(report_dir)) if path.is_relative_to(report_dir) else path.name
        text = _DATA_URI.sub(" ", _html.unescape(_shareable_text(path)))
        tokens = _tokens(text)
        stream, token_set = " " + " ".join(tokens) + " ", set(tokens)
        for kind, values in (("id", ids), ("data text", texts)):
            for value in values:
                if _found(stream, token_set, value):
                    shown = f"{value[:2]}… ({len(value)} characters)"
                    rows.append({"file": name, "where": kind, "row": None, "column": None, "value": shown,
                                 "problem": f"a raw {'id' if kind == 'id' else 'text value'} from the data "
                                            f"files is in this file"})
    return _problems_frame(rows)
