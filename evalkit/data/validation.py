"""Check an export against the cohort config and instrument, collecting every problem at once.

The checks (:func:`answer_rules`) run on each column's distinct values; :func:`answer_schema` is the same
checks as a pandera schema, which the tests use as the reference.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .instruments import normalise_label, timepoint_key
from .io import _with_missing, text_codes

#: Columns of the problems table returned by :func:`validate_frame`.
PROBLEM_COLUMNS = ["section", "file", "column", "problem", "rows", "example_rows", "severity", "handling"]

_WS = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def by_value(series, func):
    """Compute ``func`` once per distinct value of ``series`` and spread the result to every row.

    Export columns repeat a handful of values (``1``, ``2``, ``3``, a few labels)
    over thousands of rows, so text rules applied to the distinct values are as
    fast as numpy whatever the rule.

    Parameters
    ----------
    series : pandas.Series
        Text (object or categorical: a categorical column's own codes are used).
    func : callable
        Takes an object array of the distinct values, ending with one ``None``
        (standing for every missing cell), and returns an array-like of the
        same length.

    Returns
    -------
    pandas.Series
        ``func``'s result for each row, on ``series.index``.

    Examples
    --------
    >>> s = pd.Series(["a", None, " A", "a"])
    >>> by_value(s, lambda v: [x is None for x in v]).tolist()
    [False, True, False, False]
    """
    codes, values = _distinct_values(series)
    result = np.asarray(func(values))
    return pd.Series(result[codes], index=series.index)


def _distinct_values(series):
    """Codes of a text column and its distinct values ending with ``None`` (what code -1 takes)."""
    codes, uniques = text_codes(series)
    return codes, _with_missing(uniques)


def clean_text(value):
    """Trim, collapse white space and drop invisible characters; ``None`` when nothing is left.

    Examples
    --------
    >>> clean_text("  Often\\u00a0 TRUE "), clean_text(" \\u200b "), clean_text(float("nan"))
    ('Often TRUE', None, None)
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    if text.isprintable() and text == text.strip() and "  " not in text:  # already tidy: the usual case
        return text or None
    text = _WS.sub(" ", _INVISIBLE.sub("", text)).strip()
    return text or None


def all_tidy(texts):
    """Whether every text of a list is already tidy (:func:`clean_text` would leave it as it is) and not empty, checked at C speed.

    The texts are joined by newlines: none of them holds a newline when there
    are exactly ``len - 1``, and then the joined text shows every untidy one
    (a character that is not printable, a space at either end, two spaces).

    Examples
    --------
    >>> all_tidy(["C001", "c 002"]), all_tidy(["C001 "]), all_tidy(["a", None]), all_tidy([])
    (True, False, False, False)
    """
    return tidy_joined(texts) is not None


def tidy_joined(texts):
    """The texts joined by newlines when :func:`all_tidy` holds, else None (so callers join once)."""
    try:
        joined = "\n".join(texts)
    except TypeError:  # not all texts
        return None
    tidy = (joined.count("\n") == len(texts) - 1 and "\n\n" not in joined and "  " not in joined
            and "\n " not in joined and " \n" not in joined and joined[:1] not in ("", " ", "\n")
            and joined[-1] not in (" ", "\n") and joined.replace("\n", "").isprintable())
    return joined if tidy else None


#: What an answer text is (:func:`answer_kind`): usable as it is, blank, a response label, a number with a
#: decimal comma, text, a number outside the scale, a number off the scale's step (a fraction on a whole-number
#: scale), true/false, NaN/infinity.
FINE, BLANK, LABEL, COMMA, JUNK, OUT, FRACTION, BOOLEAN, NONFINITE = range(9)
_TRUTH = frozenset({"true", "false"})
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ tT][\d:.]+)?")


def _to_float(text):
    """A tidy text as a float (decimal comma accepted; NaN and infinity too), or None when it is no number."""
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    if "_" in text:  # float() reads '1_0' as 10; a person would not
        return None
    try:
        return float(text)
    except ValueError:
        return None


def as_number(text):
    """A cleaned answer text as a finite float (decimal comma accepted), or NaN when it is not a finite number.

    The texts ``nan`` and ``inf`` (which Python's ``float`` reads) and
    ``true``/``false`` are not numbers here.

    Examples
    --------
    >>> as_number("2"), as_number(" 2,5 "), as_number("two"), as_number("nan"), as_number("-inf")
    (2.0, 2.5, nan, nan, nan)
    """
    text = clean_text(text)
    if text is None:
        return math.nan
    num = _to_float(text)
    return num if num is not None and math.isfinite(num) else math.nan


def value_kind(value):
    """What kind of value a cell holds, in words that never quote it (for tables meant to be shared).

    Returns ``None`` for a blank cell, else one of ``"true/false"``, ``"not a
    finite number"`` (NaN, infinity), ``"a number"``, ``"a date"``, ``"text"``.

    Examples
    --------
    >>> [value_kind(v) for v in ["TRUE", "inf", "2,5", "2019-03-04", "Jane Smith", " "]]
    ['true/false', 'not a finite number', 'a number', 'a date', 'text', None]
    """
    text = clean_text(value)
    if text is None:
        return None
    if text.casefold() in _TRUTH:
        return "true/false"
    num = _to_float(text)
    if num is not None:
        return "a number" if math.isfinite(num) else "not a finite number"
    return "a date" if _DATE.fullmatch(text) else "text"


def answer_kind(value, instrument):
    """What an answer text is (``FINE``, ``BLANK``, ``LABEL``, ... of this module) and its number (NaN if none).

    Examples
    --------
    >>> from evalkit.data.instruments import load_instrument
    >>> eaq = load_instrument("eaq30")
    >>> [answer_kind(v, eaq)[0] for v in ["2", "often true", "2,0", "x", "4", "2.5", "True", "nan", None]] == [
    ...     FINE, LABEL, COMMA, JUNK, OUT, FRACTION, BOOLEAN, NONFINITE, BLANK]
    True
    """
    text = clean_text(value)
    if text is None:
        return BLANK, math.nan
    num = _to_float(text)
    if num is None:
        label = instrument.labels.get(normalise_label(text))
        if label is not None:
            return LABEL, float(label)
        return (BOOLEAN if text.casefold() in _TRUTH else JUNK), math.nan
    if not math.isfinite(num):
        return NONFINITE, math.nan
    lo, hi = instrument.min, instrument.max
    if not lo <= num <= hi:
        return OUT, math.nan
    if not instrument.on_step(num):
        return FRACTION, math.nan
    return (COMMA if "," in text else FINE), num


def answer_problem(kind, instrument, value=None):
    """The problems-table wording of an answer ``kind`` that sets it missing (no value quoted), else None."""
    lo, hi = f"{instrument.min:g}", f"{instrument.max:g}"
    if kind == JUNK:
        return f"{value_kind(value) or 'text'} where a number or response label was expected"
    fraction = (f"not a whole number (the scale is whole numbers {lo}-{hi})" if instrument.whole_numbers else
                f"not on the scale's step of {instrument.answer_step or 0:g} (the scale is {lo}-{hi} in steps of "
                f"{instrument.answer_step or 0:g})")
    return {OUT: f"a number outside {lo}-{hi}", FRACTION: fraction,
            BOOLEAN: "true/false where a number was expected",
            NONFINITE: "not a finite number (NaN or infinity) where a number was expected"}.get(kind)


def _blank(values):
    return np.array([v is None or not v.strip() or (not v.isprintable() and clean_text(v) is None)
                     if isinstance(v, str) else clean_text(v) is None for v in values])


def _id_present(values):
    if len(values) > 1 and all_tidy(values[:-1].tolist()):  # the usual case: only the final None is blank
        return np.arange(len(values)) < len(values) - 1
    return ~_blank(values)


def _known(labels):
    labels = set(labels)

    def check(values):
        return [(t := clean_text(v)) is None or timepoint_key(t) in labels for v in values]

    return check


def _answer_ok(instrument):
    usable = (FINE, BLANK, LABEL, COMMA)

    def check(values):
        return [answer_kind(v, instrument)[0] in usable for v in values]

    return check


def _answer_causes(instrument):
    def describe(values):
        return [answer_problem(answer_kind(v, instrument)[0], instrument, v) or "not a usable answer"
                for v in values]

    return describe


def _age_ok(values):
    return [clean_text(v) is None or 3 <= as_number(v) <= 25 for v in values]


def _age_causes(values):
    out = []
    for v in values:
        kind = value_kind(v)
        out.append("a number outside 3-25" if kind == "a number" else
                   f"{kind} where an age was expected" if kind in ("text", "a date", "true/false") else
                   "not a finite number (NaN or infinity) where an age was expected")
    return out


def _timepoint_causes(values):
    return [f"timepoint label not in the config's timepoints ({value_kind(v) or 'text'})" for v in values]


def _pandera():
    """``pandera.pandas``, imported when a pandera schema is built (:func:`answer_schema`)."""
    import pandera.pandas as pa

    return pa


class Rule:
    """One column's check: a function of the distinct values of the column, with its name and words.

    Parameters
    ----------
    check : callable
        Distinct values (object array ending with ``None`` for the missing cells) -> booleans.
    name : str
        The check's name ("id present", "known timepoint", "valid answer", "plausible age"); it
        decides how cleaning handles a failing cell (``_HANDLING``).
    error : str
        What a failing cell is, in general words.
    required : bool
        Whether the column must be present (the pandera schema's ``required``).
    describe : callable, optional
        Distinct failing values -> the kind of problem each is, in words that quote no value.
    """

    __slots__ = ("check", "name", "error", "required", "describe")

    def __init__(self, check, *, name, error, required=True, describe=None):
        self.check, self.name, self.error, self.required = check, name, error, required
        self.describe = describe or (lambda values: [error] * len(values))

    def to_pandera(self):
        """The same check as a pandera column (``metadata`` keeps ``by_value`` and ``describe``)."""
        pa = _pandera()
        metadata = {"by_value": self.check, "describe": self.describe}
        check = self.check
        return pa.Column(None, nullable=True, required=self.required, metadata=metadata, checks=pa.Check(
            lambda s: by_value(s, check).astype(bool), name=self.name, error=self.error, ignore_na=False))


def answer_rules(instrument, *, items, timepoint_labels, age=False):
    """The checks of one standardised export, column by column (what :func:`answer_schema` wraps in pandera).

    Parameters and checks are those of :func:`answer_schema`; this form needs no pandera, so
    cleaning a cohort does not import it (about 0.7 s of a report's critical path).

    Returns
    -------
    dict of str -> Rule

    Examples
    --------
    >>> from evalkit.data.instruments import load_instrument
    >>> rules = answer_rules(load_instrument("eaq30"), items=["q1"], timepoint_labels=["pre", "post"])
    >>> {column: rule.name for column, rule in rules.items()}
    {'id': 'id present', 'timepoint': 'known timepoint', 'q1': 'valid answer'}
    """
    rules = {
        "id": Rule(_id_present, name="id present", error="id is empty"),
        "timepoint": Rule(_known({timepoint_key(t) for t in timepoint_labels}), name="known timepoint",
                          error="timepoint label not in the config's timepoints", describe=_timepoint_causes),
    }
    answer_ok, causes = _answer_ok(instrument), _answer_causes(instrument)
    for item in items:
        rules[item] = Rule(answer_ok, name="valid answer", required=False, describe=causes,
                           error=f"answer outside {instrument.min:g}-{instrument.max:g} and not a response label")
    if age:
        rules["age"] = Rule(_age_ok, name="plausible age", error="age is not a number from 3 to 25",
                            required=False, describe=_age_causes)
    return rules


def answer_schema(instrument, *, items, timepoint_labels, age=False):
    """Build the pandera schema of one standardised export.

    Every check works on the distinct values of its column (:func:`by_value`),
    so validating 200,000 rows costs about as much as validating 200. The same
    checks without pandera are :func:`answer_rules`, which cleaning uses; this
    schema is their pandera form (for validating an export with pandera
    yourself, and as the reference in evalkit's tests).

    Parameters
    ----------
    instrument : evalkit.data.cohort.Instrument
    items : list of str
        Item columns present in the export (already renamed to item ids).
    timepoint_labels : iterable of str
        Labels that map to pre or post (matched case- and space-insensitively).
    age : bool
        Whether an ``age`` column is configured.

    Returns
    -------
    pandera.DataFrameSchema
        Text columns of any storage (object or categorical). Columns ``id`` and
        ``timepoint`` required and non-empty, ``timepoint`` one of
        the configured labels, every item a number in the response range (whole
        numbers on an integer scale) or one of the response labels, ``age`` a
        number from 3 to 25. Each column's ``metadata['by_value']`` is its
        check on an array of distinct values.

    Examples
    --------
    >>> from evalkit.data.instruments import load_instrument
    >>> schema = answer_schema(load_instrument("eaq30"), items=["q1"], timepoint_labels=["pre", "post"])
    >>> sorted(schema.columns)
    ['id', 'q1', 'timepoint']
    """
    rules = answer_rules(instrument, items=items, timepoint_labels=timepoint_labels, age=age)
    return _pandera().DataFrameSchema({c: rule.to_pandera() for c, rule in rules.items()}, strict=False,
                                      coerce=False)


def _rules_of(schema):
    """:func:`answer_rules` output as it is, or the rules of a pandera schema from :func:`answer_schema`."""
    if isinstance(schema, dict):
        return schema
    return {c: Rule(col.metadata["by_value"], name=col.checks[0].name, error=col.checks[0].error,
                    required=col.required, describe=col.metadata["describe"])
            for c, col in schema.columns.items()}


_HANDLING = {
    "id present": ("excluded", "row excluded (missing id)"),
    "known timepoint": ("excluded", "row excluded (unknown timepoint)"),
    "valid answer": ("cleaned", "answer set missing"),
    "plausible age": ("cleaned", "age set missing or outside the age bands"),
}


def validate_frame(frame, *, schema, section, file, row_column="_row"):
    """Validate a standardised export and summarise every failing check (every problem at once).

    Parameters
    ----------
    frame : pandas.DataFrame
        Standardised export (``id``, ``timepoint``, item columns, text cells).
    schema : dict of str -> Rule, or pandera.DataFrameSchema
        From :func:`answer_rules`, or its pandera form :func:`answer_schema`.
    section, file : str
        Used to label the problems.
    row_column : str
        Column holding the source row numbers.

    Returns
    -------
    pandas.DataFrame
        One row per column and kind of problem found: ``section, file, column,
        problem, rows, example_rows, severity, handling`` (``rows`` = number of
        failing cells, ``example_rows`` = up to five source row numbers).
        ``problem`` says what kind of value was found ("text where a number or
        response label was expected", "not a whole number ...") and never
        quotes a value from the file: the table is shown on shared pages.

    Notes
    -----
    Every cell of every checked column is checked (as pandera's lazy validation does, and
    ``tests/test_cleaning.py`` compares the failing cells with pandera's ``failure_cases``); each
    check runs once per distinct value of its column.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.data.instruments import load_instrument
    >>> df = pd.DataFrame({"id": ["a", None], "timepoint": ["pre", "mid"], "q1": ["2", "7"], "_row": [2, 3]})
    >>> rules = answer_rules(load_instrument("eaq30"), items=["q1"], timepoint_labels=["pre", "post"])
    >>> validate_frame(df, schema=rules, section="children", file="x.csv")[["column", "rows", "example_rows"]]
          column  rows example_rows
    0         id     1            3
    1         q1     1            3
    2  timepoint     1            3
    >>> validate_frame(df, schema=rules, section="children", file="x.csv")["problem"].tolist()
    ['id is empty', 'a number outside 1-3', "timepoint label not in the config's timepoints (text)"]
    """
    rules = _rules_of(schema)
    rows = []
    for column in sorted(c for c in rules if c in frame.columns):
        rule = rules[column]
        codes, values = _distinct_values(frame[column])  # missing cells (code -1) are checked as None
        ok = np.asarray(rule.check(values), dtype=bool)
        if ok.all():
            continue
        failing = ~ok[codes]
        if not failing.any():
            continue
        index = frame.index.to_numpy()[failing]
        severity, handling = _HANDLING.get(rule.name, ("warning", ""))
        # the cause of each failing cell, worked out once per distinct failing value (never quoted)
        codes, values = pd.factorize(frame[column].to_numpy(dtype=object)[failing], use_na_sentinel=True)
        causes = np.asarray(rule.describe(_with_missing(values)), dtype=object)[codes]
        found = pd.DataFrame({"cause": causes, "index": index}).drop_duplicates("index")
        counts = found["cause"].value_counts(sort=False)
        for cause in sorted(counts.index, key=lambda c: (-counts[c], c)):
            idx = found.loc[found["cause"] == cause, "index"].to_numpy()
            src = np.sort(frame.loc[idx, row_column].to_numpy(dtype=int)).tolist()
            rows.append({"section": section, "file": file, "column": column, "problem": cause, "rows": len(src),
                         "example_rows": ", ".join(map(str, src[:5])), "severity": severity,
                         "handling": handling})
    if not rows:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
