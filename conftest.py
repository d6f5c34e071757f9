"""Repository-wide pytest set-up: doctests run from the repository root on the sample cohort."""
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).parent
collect_ignore = ["evalkit/__main__.py", "evalkit/notebook.py", "setup.py", "benchmarks"]


@pytest.fixture(autouse=True)
def _doctest_cwd(request, monkeypatch):
    """Doctest examples name files relative to the repository root."""
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(ROOT)
    yield


@pytest.fixture(autouse=True)
def _fresh_matplotlib_style():
    """Every test starts from, and leaves behind, the same matplotlib settings.

    ``evalkit.report.plots.set_theme`` changes global rcParams (titles on the left, for one); without
    this, a test that reads ``ax.get_title()`` passes or fails by which test ran before it on the
    same xdist worker.
    """
    with matplotlib.rc_context():
        yield
