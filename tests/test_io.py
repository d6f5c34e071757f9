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
