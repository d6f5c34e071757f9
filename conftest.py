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
