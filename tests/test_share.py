"""`evalkit share` and the checks behind it, on real reports of the sample cohort (min_cell 5 and 10)."""
import json
import shutil
import zipfile

import pytest
import yaml

from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.notebook import recorded
from evalkit.report.privacy import disclosure_check, html_tables, identifier_scan, shareable_files
from evalkit.report.share import default_zip, share

from conftest import SAMPLE, shared_sample_report

PAGES = ["01_data_quality.html", "02_child_outcomes.html", "03_facilitator_confidence.html", "04_implementation.html",
         "05_system_outcomes.html", "index.html",
         "summary.docx"]


def _sample_config(folder, min_cell):
    """The sample cohort's config with another min_cell (data files by absolute path)."""
    cfg = yaml.safe_load((SAMPLE / "cohort.yml").read_text())
    cfg["children"]["file"] = [str(SAMPLE / f) for f in cfg["children"]["file"]]
    for section in ("facilitators", "sessions", "system"):
        cfg[section]["file"] = str(SAMPLE / cfg[section]["file"])
    cfg["disclosure"] = {"min_cell": min_cell}
    cfg["name"] = f"Sample cohort, min_cell {min_cell}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cohort.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of the sample cohort with min_cell 5 (its own config) and 10."""
    root = tmp_path_factory.mktemp("share")
    # min_cell 5 is the sample's own report, built once per test run for every module that reads it
    out = {5: shared_sample_report(tmp_path_factory)}
    out[10] = root / "report10"
    assert main(["report", str(_sample_config(root / "config10", 10)), "--out", str(out[10])]) == 0
    return out


# --------------------------------------------------------------------------- the checks on real reports

@pytest.mark.parametrize("min_cell", [5, 10])
def test_no_small_count_is_shown_or_recoverable_anywhere(reports, min_cell):
    """Every shareable artefact (pages, index, manifest, executed notebooks) against every derivable
    difference the check knows (total minus shown parts, percent of a hidden count, printed n)."""
    folder = reports[min_cell]
    names = {p.name for p in shareable_files(folder)}
    assert set(PAGES) | {"manifest.json", "01_data_quality.ipynb", "02_child_outcomes.ipynb"} <= names
    problems = disclosure_check(folder, min_cell)
    assert problems.empty, problems.to_string()


@pytest.mark.parametrize("min_cell", [5, 10])
def test_no_raw_id_or_data_text_anywhere(reports, min_cell):
    problems = identifier_scan(reports[min_cell])
    assert problems.empty, problems.to_string()


def test_min_cell_10_reaches_the_tables_the_records_and_the_index(reports):
    folder = reports[10]
    quality = html_tables((folder / "01_data_quality.html").read_text(encoding="utf-8"))
    markers = {cell for table in quality for row in table[1:] for cell in row if cell.startswith("<")}
    assert markers == {"<10"}
    values = recorded(folder / "notebooks" / "01_data_quality.ipynb")
    assert values["children_matched"] == 232
    rc = recorded(folder / "notebooks" / "02_child_outcomes.ipynb")["children_reliable_change"]
    # not hiding: 21 improved, 206 unchanged, 5 deteriorated -> 5 is small at 10, 21 hidden beside it
    row = next(r for r in rc if r["measure"] == "not_hiding")
    assert (row["improved"], row["no_change"], row["deteriorated"]) == ("*", 206, "<10")
    outcomes = (folder / "02_child_outcomes.html").read_text(encoding="utf-8")
    assert "fewer than 10 people deteriorated" in outcomes


def test_sample_records_hold_only_what_the_pages_show(reports):
    rc = recorded(reports[5] / "notebooks" / "02_child_outcomes.ipynb")["children_reliable_change"]
    row = next(r for r in rc if r["measure"] == "differentiating")
    assert (row["n"], row["improved"], row["no_change"], row["deteriorated"]) == (232, "*", 203, "<5")
    matched = recorded(reports[5] / "notebooks" / "01_data_quality.ipynb")
    assert matched["facilitators_matched"] == 58 and matched["rows_in"] == 718 + 158 + 784 + 60 + 147


# --------------------------------------------------------------------------- share

def test_share_writes_only_the_pages_beside_the_folder(reports, tmp_path, capsys):
    folder = tmp_path / "sample"
    shutil.copytree(reports[5], folder)
    assert main(["share", str(folder)]) == 0
    assert "shareable zip written to" in capsys.readouterr().out
    target = tmp_path / "sample-share.zip"
    assert default_zip(folder) == target and target.is_file()
    with zipfile.ZipFile(target) as z:
        assert sorted(z.namelist()) == [f"sample/{p}" for p in PAGES]
        assert all(b"<script" not in z.read(n) for n in z.namelist())


def test_share_to_a_named_zip(reports, tmp_path):
    done = share(reports[10], to=tmp_path / "out" / "north.zip")
    assert done["zip"].is_file() and done["files"] == PAGES and done["min_cell"] == 10


@pytest.mark.parametrize("page, words", [
    ("<p>Child C0007 said hello</p>", "a raw id from the data files"),
    ("<p>Notes: Interpreter present</p>", "a raw text value from the data files"),
    ("<table><tr><th>people</th><th>pre only</th><th>post only</th><th>matched</th></tr>"
     "<tr><td>60</td><td>&lt;5</td><td>0</td><td>58</td></tr></table>",
     "table 1, row 1, column 'pre only': <5 can be worked out from the shown total and parts: it is 2"),
    ("<li>Scores rose, 3 matched children.</li>", "a count below min_cell 5 is printed: 3 matched children"),
])
def test_share_refuses_a_planted_problem_and_writes_nothing(reports, tmp_path, capsys, page, words):
    folder = tmp_path / "sample"
    shutil.copytree(reports[5], folder)
    (folder / "extra.html").write_text(f"<html><body>{page}</body></html>")
    assert main(["share", str(folder), "--to", str(tmp_path / "s.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalkit: error: ") and len(err.splitlines()) == 1
    assert "extra.html" in err and words in err and "nothing was shared" in err
    assert "C0007" not in err and "Interpreter" not in err  # the refusal quotes no value
    assert not (tmp_path / "s.zip").exists() and list(tmp_path.glob("*.tmp")) == []


def test_share_refuses_what_is_not_a_finished_report(reports, tmp_path):
    with pytest.raises(ConfigError, match="not a report folder"):
        share(tmp_path)
    folder = tmp_path / "sample"
    shutil.copytree(reports[5], folder)
    with pytest.raises(ConfigError, match="inside the report folder"):
        share(folder, to=folder / "x.zip")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "status": "failed"}))
    with pytest.raises(ConfigError, match="did not finish"):
        share(folder)
    assert not default_zip(folder).exists()


def test_share_refuses_a_page_that_loads_something(reports, tmp_path):
    folder = tmp_path / "sample"
    shutil.copytree(reports[5], folder)
    (folder / "extra.html").write_text('<img src="https://example.invalid/x.png">')
    with pytest.raises(ConfigError, match="would load https://example.invalid/x.png"):
        share(folder)


# --------------------------------------------------------------------------- one page, one disclosure

def _page_data(summary, log, min_cell=5):
    from types import SimpleNamespace

    import pandas as pd

    config = SimpleNamespace(disclosure={"min_cell": min_cell}, analysis={"min_group_n": 10})
    return SimpleNamespace(cohort=SimpleNamespace(summary=pd.DataFrame(summary), log=pd.DataFrame(log)),
                           config=config, min_cell=min_cell, min_group_n=10, salt="x" * 32)


def test_cleaning_actions_hide_what_the_accounting_table_hides(monkeypatch):
    """Excluded rows per reason are shown twice on the data quality page (accounting, cleaning actions):
    a reason hidden as '*' in the accounting table is hidden in the actions table too."""
    import evalkit.report.notebook as nb

    monkeypatch.setattr(nb, "record", lambda *a, **k: None)
    summary = {"section": ["children"] * 2, "file": ["a.csv", "all files"], "rows_in": [100, 100],
               "rows_kept": [80, 80], "rows_excluded": [20, 20], "unknown timepoint": [2, 2],
               "exact duplicate": [6, 6], "conflicting duplicate": [12, 12]}
    log = {"section": ["children"] * 20, "action": ["excluded"] * 20,
           "reason": ["unknown timepoint"] * 2 + ["exact duplicate"] * 6 + ["conflicting duplicate"] * 12,
           "column": ["timepoint"] * 2 + [""] * 18}
    data = _page_data(summary, log)
    accounting = nb.accounting(data).frame.set_index("File").loc["All files"]
    assert (accounting["Unknown timepoint"], accounting["Exact duplicate"]) == ("<5", "*")
    actions = nb.cleaning_actions(data).frame.set_index("Reason")["Rows"].to_dict()
    assert actions == {"conflicting duplicate": 12, "exact duplicate": "*", "unknown timepoint": "<5"}
