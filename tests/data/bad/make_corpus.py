"""Write the corpus of malformed inputs in tests/data/bad/<case>/ (data files, cohort.yml, expected.yml).

Each case is one way a real export goes wrong. ``expected.yml`` says what
``evalkit validate`` must do with it: ``exit`` (0: usable, the problem is
handled and logged; 2: one clear line naming the file, column and fix),
``message`` (words of that line), ``stdout`` (words of the printed report),
``log`` (cleaning-log rows that must exist: every key given must match, ``detail``
as a substring, ``rows`` the number of matching rows), ``kept``/``excluded``
(rows over all files) and ``rows_in`` (rows of each data file, counted by hand,
so the accounting ``rows in = kept + excluded`` is checked against the file itself).

The generated files are committed: tests read them and never run this script.
Run it only to change the corpus: ``python tests/data/bad/make_corpus.py``
(it rewrites every case folder it knows and leaves other files alone).
"""
from __future__ import annotations

import csv
import datetime
import io
import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ITEMS = [f"q{i}" for i in range(1, 31)]
HEADER = ["child_id", "timepoint"] + ITEMS
FIXED_TIME = datetime.datetime(2026, 1, 1)
CASES = {}


def case(func):
    """Register a case; the folder is named after the function."""
    CASES[func.__name__] = func
    return func


def row(child, timepoint, value="2", **over):
    """One questionnaire as a list of cells in HEADER order (q-items set to ``value`` unless overridden)."""
    cells = {"child_id": child, "timepoint": timepoint, **{q: value for q in ITEMS}}
    cells.update(over)
    return [cells[c] for c in HEADER]


def csv_text(rows, header=HEADER, sep=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if v is None else v for v in r])
    return out.getvalue()


def config(folder, files="children.csv", **section):
    children = {"file": files, "instrument": "eaq30", "columns": {"id": "child_id", "timepoint": "timepoint"},
                "timepoints": {"pre": ["pre", "baseline"], "post": ["post", "end"]}}
    children.update(section)
    text = yaml.safe_dump({"name": folder.name, "children": children}, sort_keys=False)
    (folder / "cohort.yml").write_text(text, encoding="utf-8")


def expect(folder, description, exit, **fields):
    data = {"description": description, "exit": exit, **fields}
    (folder / "expected.yml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110),
                                         encoding="utf-8")


def pairs(n=2, prefix="C"):
    """Complete pre/post questionnaires of n children (so a case is usable apart from its problem)."""
    return [row(f"{prefix}{i:03d}", tp) for i in range(1, n + 1) for tp in ("pre", "post")]


def xlsx(path, rows, *, merges=(), formats=None):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Export"
    for r in rows:
        sheet.append(r)
    for ref in merges:
        sheet.merge_cells(ref)
    for ref, fmt in (formats or {}).items():
        for cells in sheet[ref]:
            for cell in (cells if isinstance(cells, tuple) else (cells,)):
                cell.number_format = fmt
    book.properties.created = book.properties.modified = FIXED_TIME
    book.save(path)
    _fix_zip_times(path)


def _fix_zip_times(path):
    """Rewrite a zip with fixed entry times and document dates, so regenerating gives the same bytes."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as book:
        entries = [(info, book.read(info.filename)) for info in book.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            book.writestr(fixed, data)


def sav(path, frame, labels):
    """Write an SPSS file with fixed creation date and time in its header (bytes 92-108)."""
    import pyreadstat

    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
    raw = bytearray(path.read_bytes())
    raw[92:109] = b"01 Jan 2600:00:00"
    path.write_bytes(bytes(raw))


# ----------------------------------------------------------------------------- files and formats

@case
def empty_file(folder):
    (folder / "children.csv").write_bytes(b"")
    config(folder)
    expect(folder, "a 0-byte export", 2, message=["children.csv", "empty", "export it again"])


@case
def blank_lines_only(folder):
    (folder / "children.csv").write_bytes(b"\r\n\r\n  \r\n")
    config(folder)
    expect(folder, "a file of blank lines", 2, message=["children.csv", "no header and no rows"])


@case
def header_only(folder):
    (folder / "children.csv").write_text(csv_text([]), encoding="utf-8")
    config(folder)
    expect(folder, "the header and not one answer row", 2, message=["children.csv", "header but no rows"])


@case
def not_what_extension_says(folder):
    (folder / "children.xlsx").write_text(csv_text(pairs()), encoding="utf-8")
    config(folder, files="children.xlsx")
    expect(folder, "a CSV renamed to .xlsx", 2, message=["children.xlsx", "extension '.xlsx'", "content is text"])


@case
def html_page_saved_as_csv(folder):
    (folder / "children.csv").write_text("<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n",
                                         encoding="utf-8")
    config(folder)
    expect(folder, "a sign-in page downloaded instead of the export", 2,
           message=["children.csv", "web page (HTML)"])


@case
def old_excel_format(folder):
    (folder / "children.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    config(folder, files="children.xls")
    expect(folder, "an Excel 97-2003 .xls file", 2, message=["children.xls", "cannot read '.xls'", "save it as .xlsx"])


@case
def windows_1252(folder):
    header = HEADER + ["site"]
    rows = [r + ["Caf\u00e9 \u2013 north"] for r in pairs()]
    (folder / "children.csv").write_bytes(csv_text(rows, header=header).encode("cp1252"))
    config(folder, columns={"id": "child_id", "timepoint": "timepoint", "site": "site"})
    expect(folder, "Windows-1252 text (an accented site name and an en dash)", 0,
           stdout=["read as cp1252", "accounting identity holds: yes"], kept=4, excluded=0,
           rows_in={"children.csv": 4})


@case
def mixed_encodings(folder):
    header = HEADER + ["site"]
    rows = [r + [site] for r, site in zip(pairs(), ["Caf\u00e9 north", "Caf\u00e9 north", "Caf\u00e9 north",
                                                     "Caf\u00e9 north"])]
    lines = csv_text(rows, header=header).splitlines(keepends=True)
    raw = b"".join(line.encode("cp1252" if i == 4 else "utf-8") for i, line in enumerate(lines))
    (folder / "children.csv").write_bytes(raw)
    config(folder, columns={"id": "child_id", "timepoint": "timepoint", "site": "site"})
    expect(folder, "UTF-8 with one row saved as Windows-1252 by another program: each line read in its own "
           "encoding, so 'Caf\u00e9' stays one site (not 'Caf\u00c3\u00a9')", 0,
           stdout=["mixed encodings: 1 line(s) not UTF-8"], kept=4, excluded=0, rows_in={"children.csv": 4})


@case
def utf8_with_bom(folder):
    (folder / "children.csv").write_bytes(b"\xef\xbb\xbf" + csv_text(pairs()).encode("utf-8"))
    config(folder)
    expect(folder, "UTF-8 with a byte-order mark before 'child_id'", 0,
           stdout=["UTF-8 with byte-order mark"], kept=4, excluded=0, rows_in={"children.csv": 4})


@case
def utf16_tab_text(folder):
    (folder / "children.txt").write_bytes(csv_text(pairs(), sep="\t").encode("utf-16"))
    config(folder, files="children.txt")
    expect(folder, "Excel's 'Unicode Text' export: UTF-16, tab separated", 0,
           stdout=["read as UTF-16 text", "separator tab"], kept=4, excluded=0, rows_in={"children.txt": 4})


@case
def semicolon_separated(folder):
    rows = pairs() + [row("C003", "pre", q5="2,0"), row("C003", "post", q5="2,5")]
    (folder / "children.csv").write_text(csv_text(rows, sep=";"), encoding="utf-8")
    config(folder)
    expect(folder, "semicolon-separated with decimal commas", 0, stdout=["separator semicolon"],
           log=[{"column": "q5", "action": "recoded", "reason": "decimal comma read as a decimal point",
                 "detail": "'2,0' read as 2", "rows": 1},
                {"column": "q5", "action": "set missing", "reason": "not a whole number", "rows": 1}],
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def excel_sep_line(folder):
    (folder / "children.csv").write_text("sep=;\r\n" + csv_text(pairs(), sep=";"), encoding="utf-8")
    config(folder)
    expect(folder, "Excel's 'sep=;' line above the header", 0,
           stdout=["header found on row 2", "separator semicolon"], kept=4, excluded=0,
           rows_in={"children.csv": 4})


@case
def ragged_row_shifts_answers(folder):
    text = csv_text(pairs()).splitlines()
    text[3] = text[3].replace("pre,2,2", "pre,2,,2", 1)  # an unquoted separator inside a row
    (folder / "children.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    config(folder)
    expect(folder, "one row with an extra separator, so its answers sit one column to the right", 2,
           message=["children.csv", "row(s) 4", "more cells than the header"])


@case
def unclosed_quote(folder):
    text = csv_text(pairs()).splitlines()
    text[1] = text[1].replace("pre,2", 'pre,"2', 1)
    (folder / "children.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    config(folder)
    expect(folder, "a quote opened in row 2 and never closed", 2,
           message=["children.csv", "row 2", "never closed"])


@case
def stray_quote_swallows_rows(folder):
    text = csv_text(pairs(3)).splitlines()
    text[1] = text[1].replace("pre,2", 'pre,"2', 1)
    text[4] = text[4].replace(",2,2", ',2",2', 1)  # the quote closes three lines later
    (folder / "children.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    config(folder)
    expect(folder, "a stray quote in row 2 closed three lines later: the rows between would become one cell", 2,
           message=["children.csv", "row 2", "closed only 3 line(s) later", "stray quote"])


@case
def quote_inside_a_cell(folder):
    text = csv_text(pairs()).splitlines()
    text[3] = text[3].replace("pre,2,2", 'pre,2",2', 1)  # a quote typed after an answer, not around a cell
    (folder / "children.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    config(folder)
    expect(folder, "a quote typed inside an unquoted cell is text: that answer is set missing", 0,
           log=[{"column": "q1", "action": "set missing", "reason": "not a number or response label",
                 "detail": "value '2\"'", "rows": 1}],
           kept=4, excluded=0, rows_in={"children.csv": 4})


@case
def blank_and_duplicate_rows(folder):
    rows = pairs(2)
    rows.insert(2, [None] * len(HEADER))
    rows.insert(3, ["  "] * 2 + [None] * len(ITEMS))
    rows.append(row("c001 ", "pre"))  # the first questionnaire again, id spelled differently
    (folder / "children.csv").write_text(csv_text(rows) + "\r\n", encoding="utf-8")
    config(folder)
    expect(folder, "empty rows in the middle, a blank line at the end and an exact duplicate", 0,
           log=[{"action": "excluded", "reason": "blank row", "rows": 3},
                {"action": "excluded", "reason": "exact duplicate", "detail": "same answers as children.csv row 2",
                 "rows": 1}],
           kept=4, excluded=4, rows_in={"children.csv": 8})


@case
def xlsx_damaged(folder):
    import zipfile

    with zipfile.ZipFile(folder / "children.xlsx", "w") as book:
        book.writestr(zipfile.ZipInfo("readme.txt", date_time=(2026, 1, 1, 0, 0, 0)), "not a workbook")
    config(folder, files="children.xlsx")
    expect(folder, "a zip archive with an .xlsx name that holds no workbook", 2,
           message=["children.xlsx", "cannot open the workbook", "save it again"])


@case
def sav_damaged(folder):
    (folder / "children.sav").write_bytes(b"$FL2@(#) SPSS DATA FILE" + b"\x00\x13" * 40)
    config(folder, files="children.sav")
    expect(folder, "an SPSS file cut short", 2, message=["children.sav", "cannot read the SPSS file"])


@case
def config_same_file_twice(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    config(folder, files=["children.csv", "./children.csv"])
    expect(folder, "one export listed twice: its rows would be counted twice", 2,
           message=["children.csv", "children.file", "listed twice", "counted twice"])


@case
def two_files_same_name(folder):
    for site in ("site_a", "site_b"):
        (folder / site).mkdir()
        (folder / site / "children.csv").write_text(csv_text(pairs(prefix=site[-1].upper())), encoding="utf-8")
    config(folder, files=["site_a/children.csv", "site_b/children.csv"])
    expect(folder, "two sites' exports with the same file name: the log could not tell their rows apart", 2,
           message=["children.csv", "children.file", "same name", "rename one"])


@case
def config_file_is_a_folder(folder):
    (folder / "exports").mkdir()
    (folder / "exports" / ".keep").write_text("", encoding="utf-8")
    config(folder, files="exports")
    expect(folder, "the config names the folder of exports, not a file", 2,
           message=["exports", "a folder, not a data file"])


# ----------------------------------------------------------------------------- spreadsheets and SPSS

@case
def excel_title_row(folder):
    xlsx(folder / "children.xlsx", [["Healing Together - EAQ export"], [], HEADER] + [
        [int(v) if v.isdigit() and c in ITEMS else v for c, v in zip(HEADER, r)] for r in pairs()],
        merges=["A1:F1"])
    config(folder, files="children.xlsx")
    expect(folder, "a title row and an empty row above the header", 0,
           stdout=["header found on row 3", "2 row(s) above it skipped"], kept=4, excluded=0,
           rows_in={"children.xlsx": 4})


@case
def excel_merged_cells(folder):
    rows = [HEADER + ["site"]]
    for i in range(1, 4):
        rows.append([f"C{i:03d}", "pre"] + [2] * 30 + ["Site A"])
    for i in range(1, 4):
        rows.append([f"C{i:03d}", "post"] + [3] * 30 + ["Site A"])
    # a person merged the timepoint cells of each block and the site column, as they appear on screen
    for r in rows[2:4] + rows[5:7]:
        r[1] = None
    for r in rows[2:]:
        r[-1] = None
    xlsx(folder / "children.xlsx", rows, merges=["B2:B4", "B5:B7", "AG2:AG7"])
    config(folder, files="children.xlsx", columns={"id": "child_id", "timepoint": "timepoint", "site": "site"})
    expect(folder, "timepoint and site cells merged over blocks of rows", 0,
           stdout=["3 merged cell range(s)", "read as its top-left value"],
           kept=6, excluded=0, rows_in={"children.xlsx": 6})


@case
def excel_dates_in_id(folder):
    rows = [HEADER]
    for tp in ("pre", "post"):
        rows.append([datetime.datetime(2024, 3, 1), tp] + [2] * 30)  # Excel turned '1-3' into a date
        rows.append(["C002", tp] + [2] * 30)
    xlsx(folder / "children.xlsx", rows)
    config(folder, files="children.xlsx")
    expect(folder, "an id that Excel turned into a date: kept (it still matches pre and post) and noted", 0,
           log=[{"column": "id", "action": "noted", "reason": "id looks like a date", "id": "2024-03-01", "rows": 2}],
           kept=4, excluded=0, rows_in={"children.xlsx": 4})


@case
def excel_errors_in_id(folder):
    rows = [HEADER] + pairs() + [["#N/A", "pre"] + ["2"] * 30]
    xlsx(folder / "children.xlsx", rows)
    config(folder, files="children.xlsx")
    expect(folder, "a failed lookup formula left '#N/A' in the id cell", 0,
           log=[{"column": "id", "action": "excluded", "reason": "missing id", "detail": "Excel error '#N/A'",
                 "rows": 1}],
           kept=4, excluded=1, rows_in={"children.xlsx": 5})


@case
def excel_leading_zero_format(folder):
    rows = [HEADER] + [[int(f"{i}"), "pre"] + [2] * 30 for i in (7, 42)]
    xlsx(folder / "children_pre.xlsx", rows, formats={"A2:A3": "0000"})
    (folder / "children_post.csv").write_text(csv_text([row("0007", "post"), row("0042", "post")]),
                                              encoding="utf-8")
    config(folder, files=["children_pre.xlsx", "children_post.csv"])
    expect(folder, "ids stored as numbers shown as 0007 by the cell format; the CSV has the text 0007", 0,
           stdout=["2 people, 2 with both pre and post", "2 whole number(s) read with the leading zeros"],
           kept=4, excluded=0, rows_in={"children_pre.xlsx": 2, "children_post.csv": 2})


@case
def spss_value_labels(folder):
    import pandas as pd

    frame = pd.DataFrame({"child_id": ["C001", "C001", "C002", "C002"], "timepoint": [1.0, 2.0, 1.0, 2.0],
                          **{q: [1.0, 3.0, 2.0, 2.0] for q in ITEMS}})
    labels = {"timepoint": {1.0: "Pre", 2.0: "Post"},
              **{q: {1.0: "Not true", 2.0: "Sometimes true", 3.0: "Often true"} for q in ITEMS}}
    sav(folder / "children.sav", frame, labels)
    config(folder, files="children.sav")
    expect(folder, "SPSS file with value labels on the timepoint and every answer", 0,
           stdout=["SPSS value labels applied", "2 people, 2 with both pre and post"],
           log=[{"column": "q1", "action": "recoded", "reason": "response label mapped to number", "rows": 4},
                {"column": "q1", "action": "recoded", "detail": "'Often true' read as 3", "rows": 1}],
           kept=4, excluded=0, rows_in={"children.sav": 4})


@case
def spss_unmapped_labels(folder):
    import pandas as pd

    frame = pd.DataFrame({"child_id": ["C001", "C001"], "timepoint": ["pre", "post"],
                          **{q: [1.0, 2.0] for q in ITEMS}})
    labels = {q: {1.0: "Never", 2.0: "Always"} for q in ITEMS}
    sav(folder / "children.sav", frame, labels)
    config(folder, files="children.sav")
    expect(folder, "SPSS answers labelled with words the instrument does not know: nothing is guessed", 2,
           message=["no usable rows", "2 no answers", "not a number or response label",
                    "(60 cells; open the file to see them)", "response: labels"])  # counted, never quoted


# ----------------------------------------------------------------------------- columns

@case
def missing_id_column(folder):
    header = ["pupil"] + HEADER[1:]
    (folder / "children.csv").write_text(csv_text(pairs(), header=header), encoding="utf-8")
    config(folder)
    expect(folder, "the id column is called 'pupil'", 2,
           message=["children.csv", "'child_id' not found", "pupil", "children.columns.id"])


@case
def missing_timepoint_column(folder):
    rows = [[r[0]] + r[2:] for r in pairs()]
    (folder / "children.csv").write_text(csv_text(rows, header=[HEADER[0]] + ITEMS), encoding="utf-8")
    config(folder)
    expect(folder, "no timepoint column at all", 2, message=["children.csv", "timepoint", "children.columns.timepoint"])


@case
def item_column_missing(folder):
    header = [c for c in HEADER if c != "q30"]
    rows = [[v for c, v in zip(HEADER, r) if c != "q30"] for r in pairs()]
    (folder / "children.csv").write_text(csv_text(rows, header=header), encoding="utf-8")
    config(folder)
    expect(folder, "one item column (q30) left out of the export: scored from the other six items", 0,
           stdout=["q30", "not in the file; treated as unanswered"], kept=4, excluded=0,
           rows_in={"children.csv": 4})


@case
def item_column_twice(folder):
    header = HEADER + ["Q1"]
    rows = [r + ["3"] for r in pairs()]
    (folder / "children.csv").write_text(csv_text(rows, header=header), encoding="utf-8")
    config(folder)
    expect(folder, "the q1 column twice (q1 and Q1) with different answers", 2,
           message=["children.csv", "'q1'", "more than once", "delete or rename"])


@case
def loose_column_names(folder):
    header = ["Child ID", " TIMEPOINT "] + [q.upper() for q in ITEMS]
    (folder / "children.csv").write_text(csv_text(pairs(), header=header), encoding="utf-8")
    config(folder)
    expect(folder, "column names in another case, with spaces instead of '_'", 0, kept=4, excluded=0,
           rows_in={"children.csv": 4})


# ----------------------------------------------------------------------------- ids

@case
def leading_zero_ids(folder):
    rows = [row("007", "pre"), row("007", "post"), row("7", "post"), row("0042", "pre"), row("0042", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "ids with leading zeros keep them; '7' is not silently merged with '007' but noted", 0,
           stdout=["3 people, 2 with both pre and post"],
           log=[{"column": "id", "action": "noted", "reason": "ids differ only by leading zeros",
                 "detail": "'7', '007'", "rows": 3}],
           kept=5, excluded=0, rows_in={"children.csv": 5})


@case
def same_child_case_and_spaces(folder):
    rows = [row("C001", "pre"), row(" c001", "post"), row("C002\u00a0", "pre"), row("c002", "post"),
            row("C\u200b003", "pre"), row("C003", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "one child written 'C001' and ' c001'; a non-breaking space; an invisible zero-width space", 0,
           stdout=["3 people, 3 with both pre and post"],
           log=[{"column": "id", "action": "recoded", "reason": "id trimmed of spaces", "rows": 3},
                {"column": "id", "action": "recoded", "reason": "id case-folded", "rows": 1}],
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def conflicting_duplicates(folder):
    rows = pairs(2) + [row("C001", "pre", value="3")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "two different questionnaires of C001 at pre: neither is trusted", 0,
           log=[{"action": "excluded", "reason": "conflicting duplicate", "id": "c001", "rows": 2},
                {"action": "noted", "reason": "no pre questionnaire", "id": "c001", "rows": 1}],
           kept=3, excluded=2, rows_in={"children.csv": 5})


@case
def missing_ids(folder):
    rows = pairs(2) + [row(None, "pre"), row("   ", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "rows without an id (empty or only spaces)", 0,
           log=[{"column": "id", "action": "excluded", "reason": "missing id", "rows": 2}],
           kept=4, excluded=2, rows_in={"children.csv": 6})


# ----------------------------------------------------------------------------- timepoints

@case
def only_pre(folder):
    rows = [row(f"C{i:03d}", "pre") for i in range(1, 4)]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "baseline only so far: usable for description, no pre/post comparison", 0,
           stdout=["3 people, 0 with both pre and post", "nobody in children has both a pre and a post",
                   "only pre questionnaires"],
           log=[{"action": "noted", "reason": "no post questionnaire", "rows": 3}],
           kept=3, excluded=0, rows_in={"children.csv": 3})


@case
def only_post(folder):
    rows = [row(f"C{i:03d}", "End") for i in range(1, 3)]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "end-of-programme questionnaires only", 0,
           stdout=["2 people, 0 with both pre and post", "only post questionnaires"],
           log=[{"action": "noted", "reason": "no pre questionnaire", "rows": 2},
                {"action": "recoded", "reason": "timepoint label mapped", "detail": "'End' read as post", "rows": 2}],
           kept=2, excluded=0, rows_in={"children.csv": 2})


@case
def timepoint_not_in_config(folder):
    rows = pairs(2) + [row("C001", "mid"), row("C002", " Follow-up ")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "questionnaires at a timepoint the config does not list", 0,
           log=[{"column": "timepoint", "action": "excluded", "reason": "unknown timepoint",
                 "detail": "label 'mid' is not one of", "rows": 1},
                {"column": "timepoint", "action": "excluded", "reason": "unknown timepoint",
                 "detail": "label 'Follow-up'", "rows": 1}],
           stdout=["unknown timepoint", "timepoint label not in the config's timepoints (text)"],  # never the labels
           kept=4, excluded=2, rows_in={"children.csv": 6})


@case
def every_timepoint_unknown(folder):
    rows = [row(f"C{i:03d}", tp) for i in range(1, 3) for tp in ("T1", "T2")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "the export says T1/T2 and the config pre/post: nothing can be matched", 2,
           message=["children.csv", "no usable rows", "4 unknown timepoint", "'T1'", "'T2'", "children.timepoints"])


@case
def missing_timepoints(folder):
    rows = pairs(2) + [row("C003", None), row("C003", "  ")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "rows whose timepoint cell is empty", 0,
           log=[{"column": "timepoint", "action": "excluded", "reason": "missing timepoint", "rows": 2}],
           kept=4, excluded=2, rows_in={"children.csv": 6})


# ----------------------------------------------------------------------------- answers

@case
def response_labels_nobody_mapped(folder):
    rows = pairs(2) + [row("C003", "pre", q2="Sometimes", q8="Always", q14="Not true"), row("C003", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "answers written as words the instrument has no number for; 'Not true' it knows", 0,
           log=[{"column": "q2", "action": "set missing", "reason": "not a number or response label",
                 "detail": "value 'Sometimes'", "rows": 1},
                {"column": "q8", "action": "set missing", "reason": "not a number or response label", "rows": 1},
                {"column": "q14", "action": "recoded", "reason": "response label mapped to number",
                 "detail": "'Not true' read as 1", "rows": 1}],
           stdout=["text where a number or response label was expected"],  # the problems table quotes no value
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def numbers_out_of_range(folder):
    rows = pairs(2) + [row("C003", "pre", q2="4", q3="0", q4="-1", q5="33"), row("C003", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "answers outside the 1-3 scale (4, 0, -1, 33)", 0,
           log=[{"action": "set missing", "reason": "out of range", "rows": 4},
                {"column": "q5", "action": "set missing", "reason": "out of range",
                 "detail": "value 33 outside 1-3", "rows": 1}],
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def decimals_on_integer_scale(folder):
    rows = pairs(2) + [row("C003", "pre", q2="2.5", q3="2.0", q4="1e0"), row("C003", "post", q2=" 3 ")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "2.5 on a whole-number scale is set missing; 2.0, 1e0 and ' 3 ' are whole numbers", 0,
           log=[{"column": "q2", "action": "set missing", "reason": "not a whole number",
                 "detail": "value 2.5 on a whole-number scale", "rows": 1}],
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def every_answer_missing(folder):
    rows = [row(f"C{i:03d}", tp, value="") for i in range(1, 3) for tp in ("pre", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "ids and timepoints but every answer cell empty", 2,
           message=["children.csv", "no usable rows", "4 no answers", "every answer cell is empty"])


@case
def too_few_answers_to_score(folder):
    rows = pairs(2) + [row("C003", "pre", q1="", q7="", q13=""), row("C003", "post")]
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    config(folder)
    expect(folder, "three of seven 'differentiating' items unanswered: that subscale is not scored", 0,
           log=[{"column": "differentiating", "action": "not scored", "reason": "too few items answered",
                 "detail": "4 of 7 items answered; 6 needed", "rows": 1}],
           kept=6, excluded=0, rows_in={"children.csv": 6})


@case
def junk_ages(folder):
    header = HEADER + ["age"]
    rows = [r + [a] for r, a in zip(pairs(2), ["9", "ten", "", "19"])]
    (folder / "children.csv").write_text(csv_text(rows, header=header), encoding="utf-8")
    config(folder, columns={"id": "child_id", "timepoint": "timepoint", "age": "age"})
    expect(folder, "an age in words and one outside the age bands", 0,
           log=[{"column": "age", "action": "set missing", "reason": "age not a number", "detail": "value 'ten'",
                 "rows": 1},
                {"column": "age", "action": "noted", "reason": "age outside the configured age bands", "rows": 2}],
           kept=4, excluded=0, rows_in={"children.csv": 4})


# ----------------------------------------------------------------------------- config and instrument

@case
def config_unknown_key(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    config(folder)
    with open(folder / "cohort.yml", "a", encoding="utf-8") as fh:
        fh.write("colour: red\n")
    expect(folder, "a key the config does not know", 2, message=["cohort.yml", "unknown key 'colour'"])


@case
def config_repeated_key(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    (folder / "cohort.yml").write_text("name: repeated\nchildren: {file: children.csv}\n"
                                       "children: {file: other.csv}\n", encoding="utf-8")
    expect(folder, "the same key twice (YAML would silently keep the last)", 2,
           message=["cohort.yml", "the key 'children' is given twice", "line 3", "keep one"])


@case
def config_file_not_found(folder):
    config(folder, files="nope.csv")
    expect(folder, "the config points at a file that does not exist", 2,
           message=["nope.csv", "data file not found", "paths are relative to it"])


@case
def config_label_in_pre_and_post(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    config(folder, timepoints={"pre": ["pre", "T1"], "post": ["post", "t1"]})
    expect(folder, "one label listed as both pre and post", 2,
           message=["cohort.yml", "children.timepoints.post", "'t1' is listed under both pre and post"])


@case
def config_item_map_to_unknown_item(folder):
    header = HEADER[:2] + ["Question 1"] + ITEMS[1:]
    (folder / "children.csv").write_text(csv_text(pairs(), header=header), encoding="utf-8")
    config(folder, items={"Question 1": "q01"})
    expect(folder, "an items rename to an id the instrument does not have (q01 for q1)", 2,
           message=["cohort.yml", "children.items.Question 1", "not an item of instrument 'eaq30'"])


@case
def unknown_instrument(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    config(folder, instrument="eaq31")
    expect(folder, "a misspelt instrument id", 2,
           message=["cohort.yml", "children.instrument", "unknown instrument 'eaq31'", "eaq30"])


def _mini_instrument(folder, subscales):
    inst = {"id": "mini", "response": {"min": 1, "max": 3}, "subscales": subscales}
    (folder / "mini.yml").write_text(yaml.safe_dump(inst, sort_keys=False), encoding="utf-8")


@case
def instrument_item_in_two_subscales(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    _mini_instrument(folder, [{"id": "a", "items": ["q1", "q2"]}, {"id": "b", "items": ["q2", "q3"]}])
    config(folder, instrument="mini.yml")
    expect(folder, "an instrument file that puts q2 in two subscales", 2,
           message=["mini.yml", "item 'q2' is in two subscales", "subscales.b.items"])


@case
def instrument_reverse_item_outside_subscale(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    _mini_instrument(folder, [{"id": "a", "items": ["q1", "q2"], "reverse": ["q3"]},
                              {"id": "b", "items": ["q3", "q4"]}])
    config(folder, instrument="mini.yml")
    expect(folder, "a reverse item listed under a subscale it is not in", 2,
           message=["mini.yml", "reverse item 'q3' is not one of subscale 'a'", "subscales.a.reverse"])


@case
def instrument_items_not_a_list(folder):
    (folder / "children.csv").write_text(csv_text(pairs()), encoding="utf-8")
    _mini_instrument(folder, [{"id": "a", "items": "q1 q2"}])
    config(folder, instrument="mini.yml")
    expect(folder, "'items: q1 q2' written as one text instead of a list", 2,
           message=["mini.yml", "subscale 'a' items must be a list", "subscales.a.items"])


def main():
    for name, make in CASES.items():
        folder = HERE / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        make(folder)
    print(f"{len(CASES)} cases written to {HERE}")


if __name__ == "__main__":
    main()
