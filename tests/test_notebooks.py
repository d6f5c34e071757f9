"""The report notebooks: committed clean, parameters typed and documented, thin, runnable through plain papermill."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from evalkit.notebook import recorded

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_report_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_data_quality", "02_child_outcomes", "03_facilitator_confidence"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameters_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    assert "parameters" in nb.cells[0].metadata.get("tags", []), "first cell must be tagged 'parameters'"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} holds outputs"
            assert "def " not in cell.source and "class " not in cell.source, "logic belongs in evalkit"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_and_documented(path):
    params = pm.inspect_notebook(str(path))  # what `papermill --help-notebook` prints
    assert set(params) == {"config_path", "results_dir"}
    assert params["config_path"]["inferred_type_name"] == "str"
    assert params["config_path"]["default"] == '"../data/sample/cohort.yml"'
    assert "cohort config" in params["config_path"]["help"]
    assert params["results_dir"]["help"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_thin(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"][1:]
    for source in code:
        statements = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        assert len(statements) <= 3, f"cell too thick in {path.name}: {source!r}"


def test_help_notebook_cli_documents_parameters():
    run = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook",
                          str(ROOT / "notebooks" / "02_child_outcomes.ipynb")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "config_path: str" in run.stdout and "cohort config" in run.stdout


def test_plain_papermill_cli_with_defaults_and_with_p(tmp_path):
    """As in JupyterLab (defaults, run from notebooks/) and as CI would (-p)."""
    out = tmp_path / "01.ipynb"
    run = subprocess.run([sys.executable, "-m", "papermill", "--cwd", str(ROOT / "notebooks"),
                          str(ROOT / "notebooks" / "01_data_quality.ipynb"), str(out), "--no-progress-bar"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    values = recorded(out)
    assert values["accounting_identity"] is True and values["rows_in"] == 579 + 119
    params = tmp_path / "params.yml"
    params.write_text(json.dumps({"config_path": str(ROOT / "data" / "sample" / "cohort.yml")}))
    run = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "03_facilitator_confidence.ipynb"),
                          str(tmp_path / "03.ipynb"), "-f", str(params), "-p", "results_dir", "",
                          "--no-progress-bar"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = recorded(tmp_path / "03.ipynb")["facilitators_outcomes"]
    assert [o["measure"] for o in outcomes] == ["knowledge", "understanding", "confidence", "total"]
