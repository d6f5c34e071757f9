"""`evalkit report` and `evalkit batch` end to end: files, offline HTML, no ids, recorded values, exit codes."""
import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import SAMPLE, post_pre, shared_sample_report, write_cohort
from evalkit.cli import main
from evalkit.notebook import recorded
from evalkit.report.privacy import find_identifiers
from evalkit.report.render import external_references
from evalkit.runner import report
from evalkit.sample import make_children, make_facilitators

ROOT = Path(__file__).resolve().parents[1]
HTML = ["01_data_quality.html", "02_child_outcomes.html", "03_facilitator_confidence.html", "index.html"]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    return shared_sample_report(tmp_path_factory)  # built once per run, read only


def _raw_identifiers():
    """Every raw id of the sample's input files, as written there, and every free-text value."""
    ids = set()
    for path in SAMPLE.glob("children_*"):
        frame = pd.read_excel(path, dtype=str) if path.suffix == ".xlsx" else pd.read_csv(
            path, dtype=str, encoding="cp1252" if "site_b" in path.name else "utf-8-sig")
        ids |= set(frame["child_id"].dropna().str.strip())
        ids |= set(frame["notes"].dropna().str.strip())  # free text could name a child
    ids |= set(pd.read_csv(SAMPLE / "facilitators.csv", dtype=str)["facilitator_id"].dropna().str.strip())
    return sorted(ids)


def test_report_writes_every_file(sample_report):
    for name in HTML + ["manifest.json"]:
        assert (sample_report / name).is_file(), name
    for name in ("01_data_quality", "02_child_outcomes", "03_facilitator_confidence"):
        assert (sample_report / "notebooks" / f"{name}.ipynb").is_file()
    for name in ("cleaning_log", "scores", "child_outcomes", "facilitator_outcomes", "moderators", "ancova",
                 "reliable_change", "reliability", "attrition"):
        assert (sample_report / "results" / f"{name}.csv").is_file(), name


def test_manifest_has_provenance(sample_report):
    m = json.loads((sample_report / "manifest.json").read_text())
    assert m["status"] == "ok" and m["cohort"] == "Sample cohort 2026"
    for name, digest in m["input_sha256"].items():
        assert hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest() == digest
    assert set(m["input_sha256"]) == {"cohort.yml", "children_site_a.csv", "children_site_b.csv",
                                      "children_site_c.xlsx", "facilitators.csv", "sessions.csv", "system.csv"}
    assert m["versions"]["pingouin"] and m["versions"]["pandas"] and m["parameters"]["config_path"]
    assert m["config"]["analysis"]["min_group_n"] == 10 and m["started"] <= m["finished"]
    assert "git_commit" in m


@pytest.mark.parametrize("name", HTML)
def test_html_is_offline_and_has_no_code(sample_report, name):
    page = (sample_report / name).read_text(encoding="utf-8")
    assert external_references(page) == []
    assert "<script" not in page.lower()
    for code in ("import evalkit", "ek.load(", "ek.setup", "results_dir =", "config_path:", "injected-parameters"):
        assert code not in page, code


@pytest.mark.parametrize("name", HTML)
def test_no_raw_id_reaches_any_page(sample_report, name):
    page = (sample_report / name).read_text(encoding="utf-8")
    ids = _raw_identifiers()
    assert len(ids) > 300
    assert find_identifiers(page, ids) == []
    assert find_identifiers(page, [i.lower() for i in ids]) == []


def test_findings_come_first_and_small_counts_are_suppressed(sample_report):
    page = (sample_report / "02_child_outcomes.html").read_text(encoding="utf-8")
    assert page.index("Findings") < page.index("Change per subscale") < page.index("Each child")
    assert page.count("<img") >= 5  # paired, forest, interactions, reliable change
    quality = (sample_report / "01_data_quality.html").read_text(encoding="utf-8")
    assert "&lt;5" in quality  # e.g. one unknown-timepoint row per file


def test_notebook_records_match_results_files(sample_report):
    values = recorded(sample_report / "notebooks" / "02_child_outcomes.ipynb")
    table = post_pre(pd.read_csv(sample_report / "results" / "child_outcomes.csv")).set_index("measure")
    assert [o["measure"] for o in values["children_outcomes"]] == list(table.index)
    for row in values["children_outcomes"]:
        assert row["n"] == table.loc[row["measure"], "n"]
        assert row["d_z"] == pytest.approx(table.loc[row["measure"], "d_z"], rel=1e-9)
    quality = recorded(sample_report / "notebooks" / "01_data_quality.ipynb")
    # the sample's data rows: children, facilitators, sessions, trained facilitators (one each), system outcomes
    assert quality["accounting_identity"] is True and quality["rows_in"] == 718 + 158 + 784 + 60 + 147
    assert quality["children_matched"] == int(table["n"].max())


def test_one_subscale_by_hand(sample_report):
    """Hand check: scipy.stats.ttest_rel on scores.csv gives the reported Differentiating Emotions t-test."""
    scores = pd.read_csv(sample_report / "results" / "scores.csv", dtype={"id": str})
    kids = scores[scores["section"] == "children"].pivot(index="id", columns="timepoint", values="differentiating")
    kids = kids.dropna()
    t, p = stats.ttest_rel(kids["post"], kids["pre"])
    diff = kids["post"] - kids["pre"]
    row = post_pre(pd.read_csv(sample_report / "results" / "child_outcomes.csv")).set_index("measure").loc[
        "differentiating"]
    assert row["n"] == len(kids) and row["df"] == len(kids) - 1
    assert row["t"] == pytest.approx(t, rel=1e-6) and row["p"] == pytest.approx(p, rel=1e-6)
    assert row["mean_diff"] == pytest.approx(diff.mean(), rel=1e-9)
    assert row["d_z"] == pytest.approx(diff.mean() / diff.std(ddof=1), rel=1e-6)


def test_pages_load_in_headless_chromium(sample_report, tmp_path):
    browser = pytest.importorskip("browser")
    if browser.chromium_path() is None:
        pytest.skip("Chromium is not installed and could not be installed (apt-get install chromium)")
    for name in ("index.html", "02_child_outcomes.html"):
        shot = browser.screenshot(sample_report / name, tmp_path / f"{name}.png")
        assert shot["failed_requests"] == [] and shot["requests"] == []
        assert shot["nonblank"]


NAMES = ["Amelia Okonkwo", "Jayden Fairweather", "Priya Castellano"]


def _tiny(folder, *, children=True, facilitators=True):
    kids = make_children(60, seed=7, messy=False) if children else None
    if kids is not None:  # a name column a real export might carry: it must never reach a page
        kids["child_name"] = [NAMES[i % 3] for i in range(len(kids))]
    facs = make_facilitators(25, seed=7, messy=False) if facilitators else None
    return write_cohort(folder, children=kids, facilitators=facs)


def test_children_only_and_facilitators_only_cohorts(tmp_path):
    only_kids = _tiny(tmp_path / "kids", facilitators=False)
    assert main(["report", str(only_kids), "--out", str(tmp_path / "k")]) == 0
    assert sorted(p.name for p in (tmp_path / "k" / "notebooks").iterdir()) == [
        "01_data_quality.ipynb", "02_child_outcomes.ipynb"]
    values = recorded(tmp_path / "k" / "notebooks" / "02_child_outcomes.ipynb")
    assert {o["n"] for o in values["children_outcomes"]} == {60}
    raw = pd.read_csv(tmp_path / "kids" / "children.csv", dtype=str)
    for page in (tmp_path / "k").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert find_identifiers(text, NAMES + sorted(set(raw["child_id"]))) == [], page.name
    only_facs = _tiny(tmp_path / "facs", children=False)
    assert main(["report", str(only_facs), "--out", str(tmp_path / "f")]) == 0
    assert not (tmp_path / "f" / "02_child_outcomes.html").exists()
    values = recorded(tmp_path / "f" / "notebooks" / "03_facilitator_confidence.ipynb")
    assert {o["n"] for o in values["facilitators_outcomes"]} == {25}


def test_failing_notebook_exits_1_naming_notebook_and_cell(tmp_path, capsys):
    books = tmp_path / "books"
    shutil.copytree(ROOT / "notebooks", books)
    nb = nbformat.read(str(books / "01_data_quality.ipynb"), as_version=4)
    nb.cells.insert(5, nbformat.v4.new_code_cell("raise ValueError('planted failure')"))
    nbformat.write(nb, str(books / "01_data_quality.ipynb"))
    cfg = _tiny(tmp_path / "c")
    code = main(["report", str(cfg), "--out", str(tmp_path / "out"), "--notebook-dir", str(books)])
    err = capsys.readouterr().err
    assert code == 1
    assert "notebook 01_data_quality failed in cell" in err and "planted failure" in err and "Traceback" not in err
    kept = nbformat.read(str(tmp_path / "out" / "notebooks" / "01_data_quality.ipynb"), as_version=4)
    assert any(o.get("ename") == "ValueError" for c in kept.cells for o in c.get("outputs", []))
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"


def test_data_problem_exits_2_before_any_kernel(tmp_path, capsys):
    cfg = _tiny(tmp_path / "c")
    (tmp_path / "c" / "children.csv").write_text("pupil,timepoint\n1,pre\n")
    assert main(["report", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "required id column 'child_id' not found" in capsys.readouterr().err
    assert not (tmp_path / "out" / "notebooks").exists()


def test_other_cohorts_report_is_not_overwritten_without_force(tmp_path, capsys):
    a, b = _tiny(tmp_path / "a"), _tiny(tmp_path / "b")
    out = tmp_path / "out"
    assert main(["report", str(a), "--out", str(out), "--no-notebooks"]) == 0
    (out / "manifest.json").write_text(json.dumps({"cohort": "A", "config_path": str(a.resolve())}))
    assert main(["report", str(b), "--out", str(out), "--no-notebooks"]) == 2
    assert "already holds the report of another cohort ('A')" in capsys.readouterr().err
    assert main(["report", str(b), "--out", str(out), "--no-notebooks", "--force"]) == 0


def test_results_are_byte_identical_across_runs(tmp_path):
    for run in ("one", "two"):
        report(SAMPLE / "cohort.yml", out_dir=tmp_path / run, notebooks=False)
    for path in sorted((tmp_path / "one" / "results").glob("*.csv")):
        assert path.read_bytes() == (tmp_path / "two" / "results" / path.name).read_bytes(), path.name


def test_batch_keeps_going_and_indexes_every_cohort(tmp_path, capsys):
    good = [_tiny(tmp_path / name, facilitators=False) for name in ("north", "south")]
    broken = write_cohort(tmp_path / "broken", children=pd.DataFrame({"pupil": ["1"], "timepoint": ["pre"]}))
    out = tmp_path / "out"
    code = main(["batch", *map(str, good + [broken]), "--out", str(out), "-j", "2"])
    assert code == 1
    table = pd.read_csv(out / "batch.csv")
    assert dict(zip(table["cohort"], table["status"])) == {"broken-cohort": "failed", "north-cohort": "ok",
                                                           "south-cohort": "ok"}
    assert table.set_index("cohort").loc["north-cohort", "n"] == 60
    page = (out / "index.html").read_text()
    assert "north-cohort/index.html" in page and "status-failed" in page and external_references(page) == []
    assert "cohort broken-cohort failed (exit 2)" in capsys.readouterr().err


def test_shard_selection():
    from evalkit.batch import shard

    configs = [f"c{i}.yml" for i in range(7)]
    parts = [shard(configs, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(configs) and parts[0] == ["c0.yml", "c3.yml", "c6.yml"]
    with pytest.raises(Exception, match="i/n"):
        shard(configs, "4/3")


def test_executed_notebooks_hold_no_memory_address(sample_report):
    """A repr with an object's address (``<... at 0x7f...>``) would make every run's notebooks differ, and a
    batch's differ from separate reports (tests/test_batch.py)."""
    import re

    for path in sorted((sample_report / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r" at 0x[0-9a-f]{6,}", text), path.name


# ------------------------------------------------------------------ the data-quality page starts before the analysis

def test_data_quality_page_used_the_cleaned_data_and_left_no_stage_cache(sample_report):
    """Notebook 01 loads the cleaned cohort (ek.load(..., analysis=False)) that evalkit report writes before it
    analyses; that stage cache is gone once the report is complete, and 01 records the same analysis time as 02
    (both caches carry one provenance)."""
    from evalkit.report.notebook import CACHE, CLEANED_CACHE

    assert not (sample_report / "results" / CLEANED_CACHE).exists() and (sample_report / "results" / CACHE).is_file()
    source = [c for c in nbformat.read(sample_report / "notebooks" / "01_data_quality.ipynb", as_version=4).cells
              if c.cell_type == "code" and "ek.load(" in c.source]
    assert len(source) == 1 and "analysis=False" in source[0].source
    times = {}
    for name in ("01_data_quality", "02_child_outcomes"):
        page = (sample_report / f"{name}.html").read_text(encoding="utf-8")
        times[name] = re.search(r"Analysed(?: at)? \(UTC\).*?(\d{4}-\d\d-\d\d \d\d:\d\d)", page, re.S).group(1)
    assert times["01_data_quality"] == times["02_child_outcomes"]


def test_load_without_analysis_takes_the_cleaned_cache_while_the_analysis_runs(tmp_path, monkeypatch):
    """With the report still analysing (its pending marker, this live process) and only the cleaned stage
    written, ek.load(..., analysis=False) returns the cleaned cohort at once; a stage cache signed with
    another salt is never unpickled (the notebook cleans by itself instead)."""
    import pickle

    from evalkit.data.config import load_config
    from evalkit.data.pipeline import prepare_cohort
    from evalkit.report import notebook as ek
    from evalkit.report.privacy import load_or_create_salt

    cfg = write_cohort(tmp_path / "c", children=make_children(40, seed=3))
    config = load_config(cfg)
    salt = load_or_create_salt(ek.salt_path(config))
    results = tmp_path / "results"
    results.mkdir()
    (results / ek.PENDING).write_text(ek.pending_text())
    ek.save_cleaned(ek.cleaned_data(prepare_cohort(config), salt=salt), results)
    data = ek.load(str(cfg), str(results), analysis=False)
    assert data.results == {} and data.salt == salt and len(data.cohort.children.scores) > 0
    # the same file signed with another key: ignored (never unpickled); the notebook cleans the data itself
    raw = (results / ek.CLEANED_CACHE).read_bytes()
    payload = raw.split(b"\n", 1)[1]
    (results / ek.CLEANED_CACHE).write_bytes(ek._CACHE_MAGIC + ek._signature(payload, "another salt").encode()
                                             + b"\n" + payload)
    (results / ek.PENDING).unlink()
    unpickled = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(1))
    again = ek.load(str(cfg), str(results), analysis=False)
    assert unpickled == [] and again.results == {} and len(again.cohort.children.scores) == len(data.cohort.children.scores)
