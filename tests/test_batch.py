"""evalkit batch on warm kernels (issue 14): the same folders as separate reports, and no state leaking between
notebooks or cohorts."""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import SAMPLE
from evalkit.batch import batch
from evalkit.runner import NOTEBOOK_DIR, report

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
    for name in ("north-cohort", "south-cohort"):
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
