"""The report notebooks: committed clean, parameters typed and documented, thin, runnable through plain papermill."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

import evalkit.notebook as ek
from evalkit.notebook import recorded

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_report_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_data_quality", "02_child_outcomes", "03_facilitator_confidence",
                                           "04_implementation", "05_system_outcomes"]


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
    # the sample's data rows: children 718, facilitators 158, sessions 784, system outcomes 147; and training,
    # counted one per facilitator (60), as the data-quality page's accounting shows each section
    assert values["accounting_identity"] is True and values["rows_in"] == 718 + 158 + 784 + 60 + 147
    params = tmp_path / "params.yml"
    params.write_text(json.dumps({"config_path": str(ROOT / "data" / "sample" / "cohort.yml")}))
    run = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "03_facilitator_confidence.ipynb"),
                          str(tmp_path / "03.ipynb"), "-f", str(params), "-p", "results_dir", "",
                          "--no-progress-bar"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = recorded(tmp_path / "03.ipynb")["facilitators_outcomes"]
    assert [o["measure"] for o in outcomes] == ["knowledge", "understanding", "confidence", "total"]


def test_papermill_from_the_repository_root_with_the_default_config(tmp_path):
    """The default config_path ("../data/sample/cohort.yml") is relative to notebooks/; run from the repository
    root, where it does not exist, ek.load finds it beside the notebooks instead."""
    assert not (ROOT / ".." / "data" / "sample" / "cohort.yml").exists()
    out = tmp_path / "02.ipynb"
    run = subprocess.run([sys.executable, "-m", "papermill", "notebooks/02_child_outcomes.ipynb", str(out),
                          "--no-progress-bar"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = recorded(out)["children_outcomes"]
    # the sample's matched pairs of programme children (the waiting-list arm is compared separately)
    assert [o["n"] for o in outcomes] == [232, 231, 232, 232, 232, 232]


def _notebook_calls():
    """Every ``ek.`` call of the three notebooks after ``ek.load``: (notebook, source)."""
    calls = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type == "code" and cell.source.startswith("ek.") and not cell.source.startswith(
                    ("ek.setup", "ek.load")):
                calls.append((path.stem, cell.source.strip()))
    return calls


@pytest.fixture(scope="module")
def sample():
    return ek.load(str(ROOT / "data" / "sample" / "cohort.yml"))


def test_every_notebook_call_displays_and_gives_its_table_or_figure(sample, monkeypatch):
    """What a researcher gets back in JupyterLab: something that displays, with the table as shown (.data,
    disclosure applied) or the figure (.figure)."""
    monkeypatch.setattr(ek, "record", lambda *a, **k: None)
    calls = _notebook_calls()
    assert len(calls) >= 30 and {c for _, c in calls} >= {"ek.outcomes_table(data, \"children\")",
                                                        "ek.interaction_figures(data, \"children\")"}
    for notebook, source in calls:
        shown = eval(source, {"ek": ek, "data": sample, "config_path": "x.yml"})  # noqa: S307 - our notebooks
        where = f"{notebook}: {source}"
        assert any(hasattr(shown, m) for m in ("_repr_html_", "_repr_markdown_", "_repr_png_",
                                               "_ipython_display_")), where
        if source.startswith(("ek.title", "ek.main_points", "ek.service_points")):
            continue  # text: a heading and warnings, the main points (owned by the page's maker)
        if isinstance(shown, ek.Table):
            assert isinstance(shown.data, pd.DataFrame) and len(shown.data), where
        elif isinstance(shown, ek.Markdown):
            assert isinstance(shown.data, pd.DataFrame), where
        elif isinstance(shown, ek.Figures):
            assert shown.figure is shown.figures[0] and len(shown.figures) >= 2, where
        else:
            assert shown.figure.get_axes(), where
    findings = ek.findings(sample, "children")
    assert findings.data["Finding"].tolist() == sample.results["findings"]["sentence"].tolist()
    table = ek.outcomes_table(sample, "children")
    assert table.data["n"].tolist() == [232, 231, 232, 232, 232, 232]
    assert table.technical.data["t (df)"].iloc[0] == "7.57 (231)"


def test_readme_example_for_researchers_runs(monkeypatch):
    """The README's three lines, as written, from the repository root: the summary table as shown."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("To explore a cohort", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert block.count("\n") == 3 and "ek.outcomes_table(data).data" in block
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(ek, "record", lambda *a, **k: None)
    lines = block.strip().splitlines()
    space = {}
    exec("\n".join(lines[:-1]), space)  # noqa: S102 - the README's own example
    shown = eval(lines[-1], space)  # noqa: S307
    assert isinstance(shown, pd.DataFrame) and shown["Measure"].iloc[0] == "Differentiating Emotions"


def test_figures_drawn_ahead_are_the_figures_drawn_in_their_cells(monkeypatch):
    """ek.load(..., draw_ahead=section) draws the figures that need no results while the report still
    analyses, from the cleaned cohort written before the analysis. The reference: the same figures drawn in
    their own cells from the analysed data, as without drawing ahead. PNG bytes and alt text must be equal
    (the cleaned cohort is pickled before the analysis, as the report does, so an analysis that changed the
    cohort would show here)."""
    import pickle

    import matplotlib

    matplotlib.use("Agg")
    from evalkit.data.config import load_config
    from evalkit.data.pipeline import prepare_cohort
    from evalkit.report import notebook as nbm

    config = load_config(ROOT / "data" / "sample" / "cohort.yml")
    cohort = prepare_cohort(config)
    stage = pickle.loads(pickle.dumps(nbm.cleaned_data(cohort, salt="s"), protocol=pickle.HIGHEST_PROTOCOL))
    data = nbm.report_data(cohort, salt="s")
    nbm._reset_kernel_state()
    with matplotlib.rc_context():  # the figures apply evalkit's theme; no setting leaks into other tests
        inline = {"children": (ek.paired_figure(data, "children"), ek.interaction_figures(data, "children")),
                  "facilitators": (ek.paired_figure(data, "facilitators"), None)}
        nbm._reset_kernel_state()
        nbm._draw_ahead(stage, ["children", "facilitators"])
        assert len(nbm._AHEAD) == 3  # the paired figures of both sections, the children's change by group
        for section, (paired, interactions) in inline.items():
            ahead = ek.paired_figure(data, section)
            assert ahead.png == paired.png and ahead.alt == paired.alt
            if interactions is not None:
                again = ek.interaction_figures(data, section)
                assert again[0].png == interactions[0].png and again[0].alt == interactions[0].alt
        assert nbm._AHEAD == {}  # each taken once
        # another cohort's figure (another fingerprint) is never taken
        nbm._draw_ahead(stage, ["children"])
        other = nbm.ReportData(cohort=data.cohort, results=data.results, salt="s", fingerprint="another",
                               meta=data.meta)
        assert ek.paired_figure(other, "children").png == inline["children"][0].png and len(nbm._AHEAD) == 2
    nbm._reset_kernel_state()
    assert nbm._AHEAD == {}
