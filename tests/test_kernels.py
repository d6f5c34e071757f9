"""Tests of evalkit.kernels: a warm kernel runs notebook after notebook with no state leaking between them."""
import nbformat
import papermill as pm
import pytest

from evalkit.kernels import WarmKernel


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("label: str = 'a'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _printed(path, index):
    return nbformat.read(path, 4).cells[index].outputs[0]["text"].strip()


@pytest.fixture(scope="module")
def kernel():
    with WarmKernel() as k:
        k._ensure()  # started once, before the first notebook
        yield k


def test_no_state_leaks_between_notebooks(tmp_path, kernel):
    nb = _notebook(tmp_path / "t.ipynb",
                   "import os, matplotlib, matplotlib.pyplot as plt\n"
                   "print(label, 'leak' in globals(), os.getcwd(), plt.rcParams['lines.linewidth'], plt.get_fignums())",
                   "leak = 1\nplt.rcParams['lines.linewidth'] = 9\nplt.figure()\nos.chdir('/')\n"
                   "import warnings; warnings.simplefilter('error')")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    starts = kernel.starts
    for i, folder in enumerate(["a", "b", "a"]):
        out = tmp_path / f"out{i}.ipynb"
        kernel.run(nb, out, {"label": f"run{i}"}, cwd=tmp_path / folder)
        # a fresh kernel's view, every time: the global, the rcParam, the figure and the folder are reset
        assert _printed(out, 2) == f"run{i} False {tmp_path / folder} 1.5 []"
        cells = nbformat.read(out, 4).cells
        assert [c.get("execution_count") for c in cells] == [1, 2, 3, 4]  # counts restart as in a new kernel
        assert "papermill" in nbformat.read(out, 4).metadata  # papermill's contract is kept
    assert kernel.starts == starts and kernel.runs >= 3


def test_same_output_as_a_fresh_papermill_kernel(tmp_path, kernel):
    nb = _notebook(tmp_path / "t.ipynb", "import sys\nprint(label, sorted(k for k in globals() if not k.startswith('_')))")
    kernel.run(nb, tmp_path / "warm.ipynb", {"label": "x"}, cwd=tmp_path)
    pm.execute_notebook(str(nb), str(tmp_path / "cold.ipynb"), parameters={"label": "x"}, progress_bar=False)
    assert _printed(tmp_path / "warm.ipynb", 2) == _printed(tmp_path / "cold.ipynb", 2)


def test_a_crashed_kernel_is_replaced(tmp_path, kernel):
    crash = _notebook(tmp_path / "crash.ipynb", "import os\nos._exit(1)")
    fine = _notebook(tmp_path / "fine.ipynb", "print(label)")
    starts = kernel.starts
    with pytest.raises(Exception):
        kernel.run(crash, tmp_path / "crash_out.ipynb", {}, cwd=tmp_path, execution_timeout=30)
    kernel.run(fine, tmp_path / "fine_out.ipynb", {"label": "after"}, cwd=tmp_path)
    assert _printed(tmp_path / "fine_out.ipynb", 2) == "after" and kernel.starts == starts + 1


def test_a_report_kernel_imports_no_statistics_or_validation_libraries():
    """What a notebook kernel imports before drawing is the report's critical path (benchmarks/bench_report.py):
    ``import evalkit.notebook`` and unpickling the results cache (which imports the data wing's classes) must not
    pull in scipy.stats, statsmodels, pingouin or pandera (the main process computed the numbers); evalkit.stats
    loads its modules on first use, so a page's constant from it costs nothing."""
    import subprocess
    import sys

    code = ("import sys, evalkit.notebook, evalkit.data.pipeline, evalkit.data.cohort\n"
            "heavy = ['scipy.stats', 'statsmodels', 'pingouin', 'pandera', 'evalkit.stats.paired']\n"
            "print(','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_scipy_stats_imported_without_docstring_rewriting_is_the_same_scipy():
    """evalkit.runner._import_scipy_stats skips scipy's docstring rewriting at import (a report's critical
    path); the reference is a plain ``import scipy.stats`` in another process: the same functions
    registered in scipy's array-API capabilities table, with the same capabilities, and the same
    t-test (scipy.stats.ttest_rel) to the last digit."""
    import subprocess
    import sys

    probe = ("from scipy._lib._array_api import xp_capabilities_table as t\n"
             "import scipy.stats as st\n"
             "print(len(t))\n"
             "print(repr(sorted(getattr(f, '__name__', '') for f in t)))\n"
             "print(repr(sorted(repr(sorted(c.items())) for c in t.values())))\n"
             "r = st.ttest_rel([3.1, 4.2, 5.0, 6.3, 2.2], [2.0, 4.4, 4.1, 5.0, 2.1])\n"
             "print(repr(float(r.statistic)), repr(float(r.pvalue)))\n")
    plain = subprocess.run([sys.executable, "-c", "import scipy.stats\n" + probe], capture_output=True, text=True,
                           check=True).stdout
    fast = subprocess.run([sys.executable, "-c", "from evalkit.runner import _import_scipy_stats\n"
                           "_import_scipy_stats()\n" + probe], capture_output=True, text=True, check=True).stdout
    assert int(plain.splitlines()[0]) > 100  # the decorator is in use in this scipy: the test means something
    assert fast == plain
