"""Check an export against the cohort config and instrument with pandera, collecting every problem at once."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from .instruments import normalise_label

#: Columns of the problems table returned by :func:`validate_frame`.
PROBLEM_COLUMNS = ["section", "file", "column", "problem", "rows", "example_rows", "severity", "handling"]


def _in(allowed):
    allowed = set(allowed)

    def check(series):
        text = series.astype("string").str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
        return series.isna() | (text == "") | text.isin(allowed)

    return check


def _answers_ok(instrument):
    labels = set(instrument.labels)
    whole = float(instrument.min).is_integer() and float(instrument.max).is_integer()

    def check(series):
        text = series.astype("string").str.strip()
        num = pd.to_numeric(text, errors="coerce")
        in_range = num.between(instrument.min, instrument.max)
        if whole:
            in_range &= num.round() == num
        label = text.str.lower().str.replace(r"\s+", " ", regex=True).isin(labels)
        return (series.isna() | (text == "") | in_range | label).fillna(False).astype(bool)

    return check


def answer_schema(instrument, *, items, timepoint_labels, age=False):
    """Build the pandera schema of one standardised export.

    Parameters
    ----------
    instrument : evalkit.cohort.Instrument
    items : list of str
        Item columns present in the export (already renamed to item ids).
    timepoint_labels : iterable of str
        Normalised labels that map to pre or post.
    age : bool
        Whether an ``age`` column is configured.

    Returns
    -------
    pandera.DataFrameSchema
        Columns ``id`` and ``timepoint`` required and non-empty, ``timepoint`` one of
        the configured labels, every item a number in the response range (whole
        numbers on an integer scale) or one of the response labels, ``age`` a
        number from 3 to 25.

    Examples
    --------
    >>> from evalkit.instruments import load_instrument
    >>> schema = answer_schema(load_instrument("eaq30"), items=["q1"], timepoint_labels=["pre", "post"])
    >>> sorted(schema.columns)
    ['id', 'q1', 'timepoint']
    """
    columns = {
        "id": pa.Column(object, nullable=True, checks=pa.Check(
            lambda s: s.notna() & (s.astype("string").str.strip() != ""), name="id present",
            error="id is empty")),
        "timepoint": pa.Column(object, nullable=True, checks=pa.Check(
            _in({normalise_label(t) for t in timepoint_labels}), name="known timepoint",
            error="timepoint label not in the config's timepoints")),
    }
    for item in items:
        columns[item] = pa.Column(object, nullable=True, required=False, checks=pa.Check(
            _answers_ok(instrument), name="valid answer",
            error=f"answer outside {instrument.min:g}-{instrument.max:g} and not a response label"))
    if age:
        columns["age"] = pa.Column(object, nullable=True, required=False, checks=pa.Check(
            lambda s: s.isna() | pd.to_numeric(s, errors="coerce").between(3, 25), name="plausible age",
            error="age is not a number from 3 to 25"))
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


_HANDLING = {
    "id present": ("excluded", "row excluded (missing id)"),
    "known timepoint": ("excluded", "row excluded (unknown timepoint)"),
    "valid answer": ("cleaned", "answer set missing"),
    "plausible age": ("cleaned", "age set missing or outside the age bands"),
}


def validate_frame(frame, *, schema, section, file, row_column="_row"):
    """Validate a standardised export lazily and summarise every failing check.

    Parameters
    ----------
    frame : pandas.DataFrame
        Standardised export (``id``, ``timepoint``, item columns, text cells).
    schema : pandera.DataFrameSchema
        From :func:`answer_schema`.
    section, file : str
        Used to label the problems.
    row_column : str
        Column holding the source row numbers.

    Returns
    -------
    pandas.DataFrame
        One row per (column, check) that failed: ``section, file, column, problem,
        rows, example_rows, severity, handling`` (``rows`` = number of failing
        cells, ``example_rows`` = up to five source row numbers).

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.instruments import load_instrument
    >>> df = pd.DataFrame({"id": ["a", None], "timepoint": ["pre", "mid"], "q1": ["2", "7"], "_row": [2, 3]})
    >>> schema = answer_schema(load_instrument("eaq30"), items=["q1"], timepoint_labels=["pre", "post"])
    >>> validate_frame(df, schema=schema, section="children", file="x.csv")[["column", "rows", "example_rows"]]
          column  rows example_rows
    0         id     1            3
    1         q1     1            3
    2  timepoint     1            3
    """
    try:
        schema.validate(frame, lazy=True)
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    cases = cases[cases["column"].notna() & cases["index"].notna()]
    rows = []
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        idx = group["index"].astype(int).unique()
        src = frame.loc[idx, row_column].astype(int).sort_values().tolist()
        name = schema.columns[column].checks[0].name
        severity, handling = _HANDLING.get(name, ("warning", ""))
        rows.append({"section": section, "file": file, "column": column,
                     "problem": check, "rows": len(src),
                     "example_rows": ", ".join(map(str, src[:5])), "severity": severity, "handling": handling})
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
