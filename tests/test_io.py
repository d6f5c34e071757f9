"""Readers: CSV in three encodings and separators, XLSX (title rows, text ids), SPSS with value labels."""
import pandas as pd
import pytest

from evalkit.errors import DataError
from evalkit.data.io import read_table


def _csv(tmp_path, text, encoding, name="x.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_keep_text_and_leading_zeros(tmp_path, encoding):
    path = _csv(tmp_path, "child_id,timepoint,note\r\n007,pre,café – ok\r\n0042,post,\r\n", encoding)
    df = read_table(path)
    assert list(df.columns) == ["_file", "child_id", "timepoint", "note", "_row"]  # BOM not in the name
    assert df["child_id"].tolist() == ["007", "0042"]
    assert df["note"].tolist() == ["café – ok", None]
    assert df["_row"].tolist() == [2, 3]


def test_semicolon_separated_csv(tmp_path):
    df = read_table(_csv(tmp_path, "child_id;timepoint;q1\nA1;pre;2\n", "utf-8"))
    assert df[["child_id", "timepoint", "q1"]].values.tolist() == [["A1", "pre", "2"]]
    assert "separator semicolon" in df.attrs["notes"]


def test_title_row_above_header_is_skipped(tmp_path):
    path = _csv(tmp_path, "Healing Together export,,\nchild_id,timepoint,q1\nA1,pre,2\n", "utf-8")
    df = read_table(path, header_hint="child_id")
    assert df["child_id"].tolist() == ["A1"] and df["_row"].tolist() == [3]
    assert any("header found on row 2" in n for n in df.attrs["notes"])


def test_xlsx_with_title_row_text_ids_and_numbers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["Export from online form"])
    ws.merge_cells("A1:C1")
    ws.append(["child_id", "timepoint", "q1"])
    ws.append(["007", "pre", 3])
    ws.append([42, "post", 2.0])
    path = tmp_path / "x.xlsx"
    book.save(path)
    df = read_table(path, header_hint="child_id")
    assert df["child_id"].tolist() == ["007", "42"]
    assert df["q1"].tolist() == ["3", "2"]
    assert df["_row"].tolist() == [3, 4]


def test_sav_value_labels_are_applied(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({"child_id": ["A1", "A2"], "timepoint": [1.0, 2.0], "q1": [1.0, 3.0]})
    path = tmp_path / "x.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={
        "timepoint": {1.0: "pre", 2.0: "post"}, "q1": {1.0: "not true", 2.0: "sometimes true", 3.0: "often true"}})
    df = read_table(path)
    assert df["timepoint"].tolist() == ["pre", "post"]
    assert df["q1"].tolist() == ["not true", "often true"]
    assert df["_row"].tolist() == [1, 2]  # SPSS case numbers


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="data file not found") as err:
        read_table(tmp_path / "nope.csv")
    assert "nope.csv" in str(err.value)


def test_file_that_is_not_what_its_extension_says(tmp_path):
    path = _csv(tmp_path, "child_id,timepoint\nA,pre\n", "utf-8", name="x.xlsx")
    with pytest.raises(DataError, match=r"extension '.xlsx' but its content is text"):
        read_table(path)


def test_empty_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_table(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(DataError, match="expected a .csv, .xlsx or .sav file"):
        read_table(path)


# --- formats and damage found by the corpus in tests/data/bad ---------------------------------

def test_column_key_folds_case_spaces_and_separators():
    from evalkit.data.io import column_key

    assert column_key(" Child  ID") == column_key("child_id") == column_key("CHILD-ID") == "child id"
    assert column_key("q1") != column_key("q11") and column_key("q1.1") != column_key("q11")


def test_utf16_tab_separated_text(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("child_id\ttimepoint\tq1\r\nZo\u00eb\tpre\t2\r\n".encode("utf-16"))
    df = read_table(path)
    assert df[["child_id", "timepoint", "q1"]].values.tolist() == [["Zo\u00eb", "pre", "2"]]
    assert "read as UTF-16 text" in df.attrs["notes"] and "separator tab" in df.attrs["notes"]


def test_html_page_saved_as_csv_is_refused(tmp_path):
    path = _csv(tmp_path, "<!DOCTYPE html><html><body>Sign in</body></html>", "utf-8")
    with pytest.raises(DataError, match="web page"):
        read_table(path)


@pytest.mark.parametrize("hint", [None, "child_id"])
def test_separator_is_not_fooled_by_commas_in_free_text(tmp_path, hint):
    listed = ", ".join("abcdefghijklmnopqrstuvwxyz")  # more commas than the file has columns
    text = f"child_id;timepoint;q1;note\nA1;pre;2;{listed}\nA2;pre;3;{listed}\n"
    df = read_table(_csv(tmp_path, text, "utf-8"), header_hint=hint)
    assert df["note"].tolist() == [listed, listed] and df["q1"].tolist() == ["2", "3"]


@pytest.mark.parametrize("text,fragment", [
    ("child_id,timepoint,q1,q2\nA1,pre,2,3\nA2,pre,2,,3\nA3,pre,1,1\n", r"row\(s\) 3 have more cells than the header"),
    ('child_id,timepoint,q1\nA1,pre,"2\nA2,pre,3\n', 'opened on row 2 is never closed'),
    ('child_id,timepoint,q1,q2\nA1,pre,"2,3\nA2,pre,2,3\nA3,pre,3",1\n', "row 2: a quote"),
])
def test_damage_that_would_shift_or_swallow_rows_is_refused(tmp_path, text, fragment):
    with pytest.raises(DataError, match=fragment):
        read_table(_csv(tmp_path, text, "utf-8"))


def test_quoted_line_breaks_and_trailing_empty_cells_are_fine(tmp_path):
    text = 'child_id,timepoint,q1,note,\nA1,pre,2,"line one\nline two, still the note",\nA2,post,3,,\n'
    df = read_table(_csv(tmp_path, text, "utf-8"))
    assert df["note"].tolist() == ["line one\nline two, still the note", None] and df["_row"].tolist() == [2, 3]


def test_xlsx_merged_cells_read_as_their_top_left_value(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    for r in (["child_id", "timepoint", "q1"], ["A1", "pre", 1], ["A2", None, 2], ["A3", "post", 3]):
        ws.append(r)
    ws.merge_cells("B2:B3")
    book.save(tmp_path / "x.xlsx")
    df = read_table(tmp_path / "x.xlsx")
    assert df["timepoint"].tolist() == ["pre", "pre", "post"]
    assert any("1 merged cell range(s)" in n for n in df.attrs["notes"])


def test_xlsx_leading_zero_formats_sheet_choice_and_trailing_formatting(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Instructions"
    book.active.append(["Fill in one row per questionnaire"])
    ws = book.create_sheet("Data")
    ws.append(["Child_ID", "timepoint", "q1"])
    ws.append([7, "pre", 2])
    ws.append([42, "post", 2.0])
    ws["A2"].number_format = ws["A3"].number_format = "0000"
    ws["C40"].number_format = "0.00"  # formatting far below the data: not rows
    book.save(tmp_path / "x.xlsx")
    df = read_table(tmp_path / "x.xlsx", header_hint="child_id")
    assert df["Child_ID"].tolist() == ["0007", "0042"] and df["q1"].tolist() == ["2", "2"]
    assert "sheet 'Data'" in df.attrs["notes"] and len(df) == 2
    assert any("leading zeros their cell format shows" in n for n in df.attrs["notes"])


def test_read_table_never_writes(tmp_path):
    import hashlib

    path = _csv(tmp_path, "child_id;timepoint;q1\r\nA1;pre;2\r\n", "cp1252")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    read_table(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_mixed_encodings_are_read_line_by_line(tmp_path):
    raw = "child_id,site\nA1,Caf\u00e9\n".encode("utf-8") + "A2,Caf\u00e9\n".encode("cp1252")
    path = tmp_path / "x.csv"
    path.write_bytes(raw)
    df = read_table(path)
    assert df["site"].tolist() == ["Caf\u00e9", "Caf\u00e9"]  # not 'CafÃ©' for the UTF-8 line
    assert any("mixed encodings: 1 line(s)" in n for n in df.attrs["notes"])


# ------------------------------------------------------------------ one read_csv vs two halves on two threads

def _rows(n, *, width=5, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        answers = ",".join(str(v) for v in rng.integers(1, 4, width - 2))
        out.append(f"C{i:05d},{'pre' if i % 2 else 'post'},{answers}")
    return out


_HEADER = "child_id,timepoint,q1,q2,q3"


def _split_cases():
    rows = _rows(400)
    middle = len(rows) // 2
    return {
        "plain": "\n".join([_HEADER] + rows) + "\n",
        "crlf and no final line end": "\r\n".join([_HEADER] + rows),
        "blank lines around the middle": "\n".join([_HEADER] + rows[:middle] + ["", ""] + rows[middle:]) + "\n",
        "missing ids, labels and an empty column in one half": "\n".join(
            [_HEADER] + rows[:middle] + [",pre,Often,,2", "C9,post,café,,3"] * 50) + "\n",
        "short rows padded": "\n".join([_HEADER] + rows[:middle] + ["C7,pre,1"] + rows[middle:]) + "\n",
        "a wide row in the second half": "\n".join([_HEADER] + rows + ["C8,pre,1,2,3,4"] + rows[:3]) + "\n",
        "a wide row first in the second half": "\n".join(
            [_HEADER] + rows[:middle] + ["C8,pre,1,2,3,4"] * (middle + 1)) + "\n",
        "windows-1252": "\n".join([_HEADER] + rows + ["C9,pre,café,2,3"]) + "\n",
    }


@pytest.mark.parametrize("case", sorted(_split_cases()))
def test_two_halves_on_two_threads_read_exactly_what_one_read_csv_does(tmp_path, monkeypatch, case):
    import evalkit.data.io as eio

    text = _split_cases()[case]
    path = tmp_path / "children.csv"
    path.write_bytes(text.encode("cp1252" if case == "windows-1252" else "utf-8"))
    halves = []
    real = eio._parse_halves
    monkeypatch.setattr(eio, "_parse_halves", lambda *a, **k: halves.append(1) or real(*a, **k))

    def read(parallel):
        monkeypatch.setattr(eio, "PARALLEL_BYTES", 1 if parallel else 2 ** 62)
        monkeypatch.setattr(eio, "_cpus", lambda: 2)
        try:
            return read_table(path, header_hint="child_id", categorical=True)
        except DataError as exc:
            return str(exc)

    one, two = read(False), read(True)
    assert halves, "the two-thread path was not taken"
    if isinstance(one, str):
        assert two == one
        return
    pd.testing.assert_frame_equal(two, one)
    assert two.attrs == one.attrs
    for col in one.columns:  # same storage and categories, not only the same values
        assert two[col].dtype == one[col].dtype, col
    assert one["_row"].tolist() == list(range(2, len(one) + 2))


# ----------------------------------------------------------------------------- bounded resources (issue 9)

def _workbook(path, *, tail=b"", rows=4, extra_parts=()):
    """A small children workbook; ``tail`` is XML put after the sheet's cells (e.g. merged ranges)."""
    import zipfile

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["child_id", "timepoint", "q1"])
    for i in range(rows):
        ws.append([f"C{i // 2}", ("pre", "post")[i % 2], 2])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + tail)
            zout.writestr(item, data)
        for name, data in extra_parts:
            zout.writestr(name, data)
    plain.unlink()
    return path


def test_xlsx_long_tail_of_merged_ranges_reads_in_linear_time(tmp_path):
    # 300,000 merged ranges below the data: openpyxl alone took minutes on such a tail (issue 9)
    import time

    refs = b"".join(b'<mergeCell ref="A%d:C%d"/>' % (i, i) for i in range(100, 300_100))
    path = _workbook(tmp_path / "tail.xlsx", tail=b'<mergeCells count="300000">' + refs + b"</mergeCells>")
    start = time.perf_counter()
    df = read_table(path, header_hint="child_id")
    assert time.perf_counter() - start < 20  # was quadratic; about a second here
    assert df["child_id"].tolist() == ["C0", "C0", "C1", "C1"] and df["q1"].tolist() == ["2"] * 4
    assert not any("merged" in n for n in df.attrs["notes"])  # every range lies below the data


def test_xlsx_merged_ranges_inside_the_data_are_filled_and_overlaps_refused(tmp_path):
    path = _workbook(tmp_path / "m.xlsx", tail=b'<mergeCells count="1"><mergeCell ref="C2:C3"/></mergeCells>')
    df = read_table(path, header_hint="child_id")
    assert df["q1"].tolist() == ["2", "2", "2", "2"]
    assert "1 merged cell range(s): every cell of a range read as its top-left value" in df.attrs["notes"]
    bad = _workbook(tmp_path / "o.xlsx", tail=b'<mergeCells count="2"><mergeCell ref="A2:C3"/>'
                                              b'<mergeCell ref="B3:B5"/></mergeCells>')
    with pytest.raises(DataError, match="merged cell ranges of the worksheet overlap"):
        read_table(bad, header_hint="child_id")


def test_xlsx_zip_bomb_is_refused_by_ratio_and_by_size(tmp_path, monkeypatch):
    from evalkit.data import io

    bomb = _workbook(tmp_path / "bomb.xlsx", extra_parts=[("xl/media/pad.bin", b"\0" * (20 * 2 ** 20))])
    with pytest.raises(DataError) as err:
        read_table(bomb, header_hint="child_id")
    assert "bomb.xlsx" in str(err.value) and "xl/media/pad.bin" in str(err.value)
    assert "the limit is 100" in str(err.value) and "export it as .csv" in str(err.value)
    path = _workbook(tmp_path / "big.xlsx")
    monkeypatch.setattr(io, "XLSX_MAX_BYTES", 1000)
    with pytest.raises(DataError, match=r"unpacks to 0 MB, more than the limit of 0 MB; delete unused"):
        read_table(path, header_hint="child_id")
    assert io.XLSX_MAX_RATIO == 100 and io.XLSX_MAX_BYTES // 2 ** 20 == 0  # patched; the module says 200 MB


def test_xlsx_limit_values_are_the_documented_ones():
    from evalkit.data import io

    assert (io.XLSX_MAX_BYTES, io.XLSX_MAX_RATIO, io.XLSX_MAX_CELLS) == (200 * 2 ** 20, 100, 20_000_000)


def test_xlsx_with_too_many_cells_is_refused(tmp_path, monkeypatch):
    from evalkit.data import io

    path = _workbook(tmp_path / "wide.xlsx", rows=40)
    monkeypatch.setattr(io, "XLSX_MAX_CELLS", 50)
    with pytest.raises(DataError, match=r"more than the limit of 50 cells by row 13 .*delete the empty rows"):
        read_table(path, header_hint="child_id")


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_special_files_are_refused_without_being_opened(tmp_path, kind):
    import os

    path = tmp_path / "children.csv"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer forever
        words = "this is a named pipe (FIFO), not a data file, and is not opened"
    elif kind == "folder":
        path.mkdir()
        words = "this is a folder, not a data file"
    else:
        path.symlink_to("/dev/zero")  # endless
        words = "this is a device, not a data file"
    with pytest.raises(DataError) as err:
        read_table(path)
    assert str(err.value).startswith(f"file {path}: {words}")


def test_nul_bytes_are_removed_and_counted_not_left_to_cut_cells_short(tmp_path):
    body = "".join(f"C{i},pre,2,fine\r\n" for i in range(200))  # the NULs come after the sniffed start
    path = tmp_path / "nul.csv"
    path.write_bytes(("child_id,timepoint,q1,note\r\n" + body).encode()
                     + b"C900,pre,2,ab\x00cd\r\nC901,post,\x003,x\x00\x00y\r\n")
    df = read_table(path, header_hint="child_id")
    assert df["note"].tolist()[-2:] == ["abcd", "xy"]  # the C parser stopped a cell at its NUL: 'ab'
    assert df["q1"].tolist()[-1] == "3"
    assert df.attrs["nul_lines"] == [(202, 1), (203, 3)]
    assert "4 NUL byte(s) removed from 2 line(s)" in df.attrs["notes"]


def test_nul_bytes_near_the_start_are_text_but_a_binary_file_is_still_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"child_id,timepoint,q1\nC1,pre,2\x00\nC1,post,3\n")
    assert read_table(path)["q1"].tolist() == ["2", "3"]
    png = tmp_path / "y.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x02\x03\x04\x05\x06" * 20)
    with pytest.raises(DataError, match="its content is a binary file"):
        read_table(png)


@pytest.mark.parametrize("name", ["_file", "_row", " _row "])
def test_a_column_named_like_the_readers_own_cannot_overwrite_them(tmp_path, name):
    path = _csv(tmp_path, f"child_id,{name},q1\nA1,evil.csv,2\nA2,999,3\n", "utf-8", name="real.csv")
    df = read_table(path, categorical=True)
    assert df["_file"].astype(str).tolist() == ["real.csv", "real.csv"]
    assert df["_row"].tolist() == [2, 3]
    own = name.strip()
    assert df[f"{own}.1"].astype(str).tolist() == ["evil.csv", "999"]
    assert df.attrs["renamed"] == {f"{own}.1": own}


def test_a_repeated_header_name_never_collides_with_a_numbered_one(tmp_path):
    df = read_table(_csv(tmp_path, "a,a,a.1\n1,2,3\n", "utf-8"))
    assert list(df.columns) == ["_file", "a", "a.1", "a.1.1", "_row"]
    assert df[["a", "a.1", "a.1.1"]].values.tolist() == [["1", "2", "3"]]


def test_readme_states_the_xlsx_limits_the_reader_applies():
    from pathlib import Path

    from evalkit.data import io

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    cleaning = readme.split("## Cleaning")[1].split("\n## ")[0]
    assert f"**{io.XLSX_MAX_BYTES // 2 ** 20} MB**" in cleaning
    assert f"**{io.XLSX_MAX_RATIO} times**" in cleaning
    assert f"**{io.XLSX_MAX_CELLS:,} cells**" in cleaning


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_sheet_stream_ends_after_the_cells_with_the_root_closed(prefix):
    import io as _io
    import xml.etree.ElementTree as ET

    from evalkit.data.io import _DataOnly

    ns = f' xmlns{":x" if prefix else ""}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    xml = (f'<?xml version="1.0"?><{prefix}worksheet{ns}><{prefix}sheetData><{prefix}row r="1"/></{prefix}sheetData>'
           f'<{prefix}mergeCells>' + f'<{prefix}mergeCell ref="A1:B1"/>' * 50_000
           + f'</{prefix}mergeCells></{prefix}worksheet>').encode()
    stream = _DataOnly(_io.BytesIO(xml))
    text = b"".join(iter(lambda: stream.read(1000), b""))
    assert text.endswith(f"</{prefix}sheetData></{prefix}worksheet>".encode()) and b"mergeCell" not in text
    assert ET.fromstring(text)[0].tag.endswith("sheetData")
