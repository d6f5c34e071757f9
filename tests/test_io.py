"""Readers: CSV in three encodings and separators, XLSX (title rows, text ids), SPSS with value labels."""
import pandas as pd
import pytest

from evalkit.errors import DataError
from evalkit.io import read_table


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
