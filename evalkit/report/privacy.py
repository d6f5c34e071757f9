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
