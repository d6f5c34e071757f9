"""evalkit batch on warm kernels (issue 14): the same folders as separate reports, and no state leaking between
notebooks or cohorts."""
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE, write_cohort
from evalkit.batch import _run_one, _shareable, _summary, batch
from evalkit.errors import NotebookError
from evalkit.report.privacy import html_tables
from evalkit.report.render import batch_index_html
from evalkit.runner import NOTEBOOK_DIR, _shareable_error, report

TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00|Z)?")
#: JSON keys holding times (papermill's, nbclient's and the manifest's); their values are not compared.
TIME_KEYS = {"duration", "start_time", "end_time", "seconds", "timings_seconds", "started", "finished",
             "iopub.execute_input", "iopub.status.busy", "iopub.status.idle", "shell.execute_reply"}


def _scrub(obj):
    if isinstance(obj, dict):
        return {k: "<time>" if k in TIME_KEYS else _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return TIME.sub("<time>", obj) if isinstance(obj, str) else obj


def folder_without_times(folder):
    """Every file of a report folder, times replaced, keyed by relative path (the signed cache left out:
    it is internal, keyed with the salt, and holds the run's clock)."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.name == ".evalkit-cache.pkl":
            continue
        rel = str(path.relative_to(folder))
        if path.suffix in (".ipynb", ".json"):
            out[rel] = json.dumps(_scrub(json.loads(path.read_text())), sort_keys=True)
        elif path.suffix in (".html", ".csv", ".md", ".txt"):
            out[rel] = TIME.sub("<time>", path.read_text())
        else:
            out[rel] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def leaky_notebooks(tmp_path_factory):
    """The report notebooks, each ending with a cell that leaves state behind in its kernel."""
    folder = tmp_path_factory.mktemp("notebooks")
    for src in NOTEBOOK_DIR.glob("*.ipynb"):
        nb = nbformat.read(src, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt, os\n"
            "data = None; ek = None; LEAK = 1\n"          # overwrite names the next notebook uses
            "plt.rcParams['lines.linewidth'] = 11; plt.rcParams['figure.dpi'] = 12; plt.figure()\n"
            "os.chdir('/')"))
        nbformat.write(nb, folder / src.name)
    return folder


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohorts")
    configs = []
    for name in ("north", "south"):
        shutil.copytree(SAMPLE, root / name)
        configs.append(root / name / "cohort.yml")
    return configs


def test_batch_equals_separate_reports_and_nothing_leaks(tmp_path, cohorts, leaky_notebooks):
    out = tmp_path / "batch"
    # one kernel: every notebook of both cohorts runs in it, one after another, after a leaky one
    table = batch(cohorts, out_dir=out, jobs=1, progress=False, notebook_dir=leaky_notebooks)
    assert list(table["status"]) == ["ok", "ok"], table["error"].tolist()
    # the index names each cohort by its config's name and heads it with its first primary measure
    # (the sample declares differentiating, verbal_sharing, not_hiding): its own n and d_z, checked by hand
    # on scores.csv as test_report.test_one_subscale_by_hand does (d_z = mean change / SD of the changes)
    scores = pd.read_csv(out / "north-cohort" / "results" / "scores.csv", dtype={"id": str})
    kids = scores[scores["section"] == "children"].pivot(index="id", columns="timepoint",
                                                         values="differentiating").dropna()
    change = kids["post"] - kids["pre"]
    assert change.mean() / change.std(ddof=1) == pytest.approx(0.4972, abs=5e-5) and len(kids) == 232
    assert table["name"].tolist() == ["Sample cohort 2026"] * 2 and table["n"].tolist() == [232, 232]
    assert table["headline_effect"].tolist() == ["Differentiating Emotions: d_z 0.50 [0.36, 0.63], small, "
                                                 "232 children"] * 2
    shown = html_tables((out / "index.html").read_text(encoding="utf-8"))[0]
    assert shown[0] == ["Cohort", "Status", "n", "Headline measure", "Problem", "Report"]
    assert shown[1][:4] == ["Sample cohort 2026", "ok", "232", table["headline_effect"][0]]
    # the second cohort ran after every leaky notebook of the first and of its own, in the same kernel: the one
    # most exposed to a leak (the first cohort's folder is left out to keep the suite within its time)
    for name in ("south-cohort",):
        warm = folder_without_times(out / name)
        shutil.move(out / name, tmp_path / f"{name}-warm")
        # the same cohort, same folder, by a separate `evalkit report` with fresh kernels
        config = next(c for c in cohorts if c.parent.name == name.split("-")[0])
        report(config, out_dir=out / name, notebook_dir=leaky_notebooks)
        cold = folder_without_times(out / name)
        assert sorted(warm) == sorted(cold)
        differing = [rel for rel in warm if warm[rel] != cold[rel]]
        assert differing == [], f"{name}: {differing}"
        nb = nbformat.read(out / name / "notebooks" / "02_child_outcomes.ipynb", as_version=4)
        assert nb.metadata["papermill"]["parameters"]["results_dir"] == "results"  # papermill's record kept


def _outcomes(folder, rows):
    (folder / "results").mkdir(parents=True)
    pd.DataFrame(rows, columns=["measure", "label", "n", "d_z", "d_z_ci_low", "d_z_ci_high"]).to_csv(
        folder / "results" / "child_outcomes.csv", index=False)
    return folder


#: Three measures: the largest |d_z| (Beta) has the smallest n; Gamma is declared primary.
ROWS = [("alpha", "Alpha", 40, 0.2, -0.1, 0.5), ("beta", "Beta", 12, 0.9, 0.3, 1.5),
        ("gamma", "Gamma", 35, -0.55, -0.9, -0.2)]


def test_headline_is_the_first_primary_measure_with_its_own_n(tmp_path):
    """Not the largest effect paired with another measure's n: the declared primary measure, its d_z and
    its n. Size words after Cohen (1988): |d| 0.55 is moderate (0.5 to 0.8)."""
    folder = _outcomes(tmp_path / "c", ROWS)
    config = SimpleNamespace(analysis={"primary": ["gamma", "alpha"]})
    assert _summary(folder, config) == (35, "Gamma: d_z \u22120.55 [\u22120.90, \u22120.20], moderate, 35 children")


def test_headline_without_primary_is_the_first_measure(tmp_path):
    folder = _outcomes(tmp_path / "c", ROWS)
    for config in (None, SimpleNamespace(analysis={"primary": []})):
        assert _summary(folder, config) == (40, "Alpha: d_z 0.20 [\u22120.10, 0.50], small, 40 children")
    untested = _outcomes(tmp_path / "u", [("alpha", "Alpha", 3, np.nan, np.nan, np.nan)])
    assert _summary(untested, None) == (3, "Alpha: not tested, 3 children")


def test_index_shows_the_cohort_name_and_the_complete_error_without_small_counts(tmp_path):
    """A failed cohort's whole shareable message is on the index (nothing cut), with its counts of 1 to
    min_cell - 1 hidden as the n column hides them."""
    kids = pd.DataFrame({"child_id": ["a", "b", "c"], "timepoint": ["start", "start", "middle"],
                         **{f"q{i}": [1, 2, 3] for i in range(1, 31)}})
    config = write_cohort(tmp_path / "c", children=kids, extra={"name": "Riverside <pilot>"})
    code, error = _run_one(config, tmp_path / "out" / "c", False, None, lambda *a: None)
    assert code == 2 and "all 3 rows were excluded (3 unknown timepoint)" in error
    assert "start" not in error and "middle" not in error  # the labels found may be a child's words
    page = batch_index_html([
        {"cohort": "c", "name": "Riverside <pilot>", "config": str(config), "status": "failed", "n": None,
         "headline_effect": "", "link": "", "error": error},
        {"cohort": "d", "name": "Hillside", "status": "ok", "n": 4, "link": "d/index.html",
         "headline_effect": "Knowledge: d_z 1.10 [0.20, 2.00], large, 4 facilitators"}])
    rows = html_tables(page)[0]
    expected = error.removeprefix("evalkit: error: ").replace("all 3 rows", "all <5 rows").replace(
        "(3 unknown", "(<5 unknown")
    assert len(expected) > 200 and rows[1][4] == expected
    assert rows[1][0] == "Riverside <pilot>" and "Riverside &lt;pilot&gt;" in page
    assert rows[2][:4] == ["Hillside", "ok", "<5", "Knowledge: d_z 1.10 [0.20, 2.00], large, <5 facilitators"]
    assert 'class="text"' in page and "analysis.primary" in page  # the note says how the headline is chosen


def test_a_failed_notebook_is_told_by_the_manifest_not_by_its_exception(tmp_path):
    """A notebook's exception text may quote the data ('Jane Smith'): the index gets notebook, cell and type."""
    raw = "notebook 02_child_outcomes failed in cell 3 (cell index 5): KeyError: 'Jane Smith'"
    (tmp_path / "manifest.json").write_text(json.dumps({"notebooks": {
        "01_data_quality": {"status": "ok"}, "02_child_outcomes": {"status": "failed", "error": _shareable_error(raw)}}}))
    text = _shareable(NotebookError(raw + ". The partly executed notebook is kept in x for debugging"), tmp_path)
    assert text == ("notebook 02_child_outcomes failed in cell 3 (cell index 5): KeyError; the executed notebook "
                    "shows the details")
    assert _shareable(NotebookError(raw), tmp_path / "gone") == ("a report notebook failed; the executed notebook "
                                                                 "shows the details")
    assert _shareable(NotebookError(raw, shareable="cell 3 failed"), tmp_path) == "cell 3 failed"
