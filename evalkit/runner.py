"""``evalkit report``: clean and analyse once, run the notebooks in parallel, render offline HTML and a manifest."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from .errors import ConfigError, EvalkitError, NotebookError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: Report notebooks and the section each needs (None: always run).
NOTEBOOKS = (("01_data_quality", None), ("02_child_outcomes", "children"),
             ("03_facilitator_confidence", "facilitators"))
#: The notebook that takes longest; it starts first and the others run at a lower CPU priority,
#: so that on a small machine the report finishes when this one does.
LONGEST = "02_child_outcomes"
NICE = 5
KERNEL = "python3"
CELL_TIMEOUT = 600
PACKAGES = ("evalkit", "pandas", "numpy", "scipy", "pingouin", "pandera", "seaborn", "matplotlib", "papermill",
            "nbconvert", "nbformat", "ipykernel", "openpyxl", "pyreadstat", "pyyaml")


def _skip_slow_optional_imports():
    """Keep jsonschema from compiling the optional IRI grammar (about 1 s) when papermill loads.

    nbformat imports jsonschema, whose format checker imports the optional
    ``rfc3987_syntax`` package if present (jupyterlab pulls it in), and that
    package builds a lark grammar at import time. Notebook validation never uses
    the IRI formats it checks, so the report process marks it as absent.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def _notebooks_for(cohort):
    """Names of the report notebooks this cohort's sections call for, in report order."""
    return [name for name, needs in NOTEBOOKS if needs is None or needs in cohort.sections]


def _now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git_commit(folder):
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions():
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def guard_output(out_dir, config, *, force=False):
    """Refuse to write over another cohort's report unless ``force``.

    Raises
    ------
    ConfigError
        ``out_dir`` holds a report (``manifest.json``) of a different config.
    """
    manifest = Path(out_dir) / "manifest.json"
    if not manifest.is_file() or force:
        return
    try:
        previous = json.loads(manifest.read_text())
    except (OSError, ValueError):
        previous = {}
    if previous.get("config_path") != str(config.path):
        raise ConfigError(f"the folder already holds the report of another cohort "
                          f"('{previous.get('cohort', 'unknown')}'); choose another --out folder or add --force "
                          f"to overwrite it", file=out_dir)


def _run_notebook(name, src, dst, parameters, cwd, nice=0):
    """Execute one notebook with papermill; return (name, error message or None).

    ``nice`` lowers the priority of this thread and so of the kernel it starts (Linux: a child
    process inherits the niceness of the thread that forks it).
    """
    import threading

    import papermill as pm

    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (AttributeError, OSError):  # not Linux or not allowed: run at normal priority
            pass

    try:
        pm.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name=KERNEL, progress_bar=False,
                            execution_timeout=CELL_TIMEOUT, cwd=str(cwd), log_output=False,
                            request_save_on_cell_execute=False,  # written once at the end (or on failure)
                            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])  # no transport chatter
    except pm.PapermillExecutionError as exc:
        return name, (f"notebook {name} failed in cell {exc.exec_count} (cell index {exc.cell_index}): "
                      f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # kernel died, timeout, missing kernel: report, keep going
        return name, f"notebook {name} failed: {exc.__class__.__name__}: {exc}"
    return name, None


def report(config, *, out_dir, force=False, jobs=None, notebooks=True, notebook_dir=None, progress=False):
    """Write one cohort's results, executed notebooks, offline HTML, index and manifest.

    Parameters
    ----------
    config : str or pathlib.Path
        Cohort config.
    out_dir : str or pathlib.Path
        Output folder: ``results/``, ``notebooks/``, ``*.html``, ``index.html``, ``manifest.json``.
    force : bool
        Overwrite a folder holding another cohort's report.
    jobs : int, optional
        Notebooks executed at once (default: all of them; each runs in its own kernel process).
    notebooks : bool
        False writes ``results/`` only.
    notebook_dir : path, optional
        Where the notebooks live (default: the repository's ``notebooks/``).
    progress : bool
        Show a progress bar (on standard error) over cleaning, analysis and each notebook.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ConfigError, DataError
        Before any kernel starts (exit 2).
    NotebookError
        A notebook failed (exit 1); its partly executed copy is kept in ``notebooks/``.
    """
    from .data.config import load_config
    from .report.notebook import PENDING, report_data, save
    from .data.pipeline import prepare_cohort

    started = _now()
    t0 = time.perf_counter()
    timings = {}

    def stamp(stage):  # seconds since start, kept in the manifest to show where the time goes
        timings[stage] = round(time.perf_counter() - t0, 3)

    config = load_config(config)
    out = Path(out_dir).resolve()
    guard_output(out, config, force=force)
    from tqdm import tqdm

    bar = tqdm(total=2 + (len(NOTEBOOKS) if notebooks else 0), desc="report", unit="step", disable=not progress,
               file=sys.stderr, bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {postfix}")
    bar.set_postfix_str("cleaning")
    cohort = prepare_cohort(config)  # every config and data problem surfaces here, before any kernel starts
    stamp("cleaned")
    bar.update(1)
    if notebooks:
        bar.total = 2 + len(_notebooks_for(cohort))
    bar.set_postfix_str("analysing")
    results_dir = out / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("manifest.json", "index.html"):
        (out / stale).unlink(missing_ok=True)
    pending = results_dir / PENDING
    pending.write_text("analysing\n")
    runner = None
    try:
        if notebooks:
            _skip_slow_optional_imports()
            import papermill  # noqa: F401  (imported here, not in the threads, so kernels start at once)

            # kernels start now and import their libraries while this process analyses;
            # each notebook's ek.load() waits for the cache that save() writes below
            runner = _NotebookRunner(cohort, config, out, jobs=jobs, notebook_dir=notebook_dir)
            stamp("kernels launched")
        data = report_data(cohort)
        stamp("analysed")
        save(data, results_dir)
        stamp("results written")
        bar.update(1)
        bar.set_postfix_str("notebooks")
    finally:
        pending.unlink(missing_ok=True)
    manifest = {"cohort": config.name, "config_path": str(config.path), "config": config.raw,
                "parameters": {"config_path": str(config.path), "results_dir": str(results_dir)},
                "input_sha256": data.meta["input_sha256"], "versions": _versions(),
                "git_commit": _git_commit(Path(__file__).resolve().parent), "started": started,
                "sections": sorted(data.cohort.sections), "notebooks": {}, "results": sorted(
                    p.name for p in results_dir.glob("*.csv"))}
    failures = []
    if runner is not None:
        failures = runner.finish(data, manifest, progress=lambda name, error: (
            stamp(f"{name} {'failed' if error else 'rendered'}"), bar.update(1),
            bar.set_postfix_str(f"{name} {'failed' if error else 'done'}")))
    bar.close()
    stamp("finished")
    manifest["timings_seconds"] = timings
    manifest["finished"] = _now()
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    manifest["status"] = "failed" if failures else "ok"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    if failures:
        raise NotebookError("; ".join(failures) + f". The partly executed notebook is kept in {out / 'notebooks'} "
                            f"for debugging")
    return manifest


class _NotebookRunner:
    """Execute the cohort's notebooks in parallel kernels (papermill), render each to HTML as it finishes."""

    def __init__(self, cohort, config, out, *, jobs=None, notebook_dir=None):
        src_dir = Path(notebook_dir) if notebook_dir else NOTEBOOK_DIR
        if not src_dir.is_dir():
            raise EvalkitError(f"notebooks folder not found at {src_dir}; run from a clone of the evalkit "
                               f"repository or pass notebook_dir", file=src_dir)
        self.config, self.out = config, out
        self.nb_out = out / "notebooks"
        self.nb_out.mkdir(parents=True, exist_ok=True)
        self.todo = [(name, src_dir / f"{name}.ipynb") for name in _notebooks_for(cohort)]
        # the longest notebook first, on a thread that is never lowered in priority
        self.todo.sort(key=lambda item: item[0] != LONGEST)
        for name, src in self.todo:
            if not src.is_file():
                raise EvalkitError("report notebook missing", file=src)
        params = {"config_path": str(config.path), "results_dir": str(out / "results")}
        workers = max(1, min(jobs or len(self.todo), len(self.todo)))
        self.pool = ThreadPoolExecutor(max_workers=workers)
        longest = any(name == LONGEST for name, _ in self.todo)
        self.futures = {self.pool.submit(_run_notebook, name, src, self.nb_out / f"{name}.ipynb", params, src_dir,
                                         NICE if longest and name != LONGEST else 0):
                        name for name, src in self.todo}

    def finish(self, data, manifest, *, progress=None):
        """Wait for every notebook, render the HTML and the index; return the failure messages."""
        from concurrent.futures import as_completed

        from .report.render import index_html, write_html

        failures, done = [], {}
        try:
            for future in as_completed(self.futures):
                name, error = future.result()
                if error:
                    failures.append(error)
                    manifest["notebooks"][name] = {"status": "failed", "error": error}
                else:
                    write_html(self.nb_out / f"{name}.ipynb", self.out / f"{name}.html",
                               title=f"{_TITLES[name]}: {self.config.name}")
                    manifest["notebooks"][name] = {"status": "ok", "html": f"{name}.html"}
                    done[name] = True
                if progress:
                    progress(name, error)
        finally:
            self.pool.shutdown(wait=True)
        manifest["notebooks"] = dict(sorted(manifest["notebooks"].items()))
        _write_index(data, self.config, self.out, manifest, [n for n, _ in NOTEBOOKS if n in done], index_html)
        return sorted(failures)


_TITLES = {"01_data_quality": "Data quality", "02_child_outcomes": "Child outcomes",
           "03_facilitator_confidence": "Facilitator knowledge, understanding and confidence"}


def headline(data):
    """The headline findings: the plain-English sentences of every section, children first."""
    table = data.results.get("findings")
    if table is None or getattr(table, "empty", True):
        return []
    col = "sentence" if "sentence" in table.columns else table.columns[-1]
    return table[col].tolist()


def _write_index(data, config, out, manifest, done, index_html):
    rows = []
    for name, _ in NOTEBOOKS:
        if name in manifest["notebooks"]:
            status = manifest["notebooks"][name]["status"]
            rows.append({"report": _TITLES[name], "status": status})
    links = [(_TITLES[name], f"{name}.html") for name in done]
    provenance = {"Cohort": config.name, "Config": Path(config.path).name, "Started (UTC)": manifest["started"],
                  "evalkit": manifest["versions"].get("evalkit"), "Git commit": manifest["git_commit"] or "none"}
    for name, digest in manifest["input_sha256"].items():
        provenance[f"SHA-256 {name}"] = digest
    page = index_html(f"Evaluation report: {config.name}", rows, links=links, headline_sentences=headline(data),
                      provenance=provenance)
    (out / "index.html").write_text(page, encoding="utf-8")
