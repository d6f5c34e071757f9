"""``evalkit report``: clean and analyse once, run the notebooks in parallel, render offline HTML and a manifest."""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from .errors import ConfigError, EvalkitError, NotebookError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: Report notebooks and the section each needs (None: always run).
NOTEBOOKS = (("01_data_quality", None), ("02_child_outcomes", "children"),
             ("03_facilitator_confidence", "facilitators"), ("04_implementation", "sessions"),
             ("05_system_outcomes", "system"))
#: The notebook that takes longest; it starts first, on a kernel of its own.
LONGEST = "02_child_outcomes"
#: CPU niceness of a report's own kernels: below the report process, whose cleaning and analysis are
#: what every notebook waits for (the kernels' start-up, notebook 01 and the figures drawn ahead
#: fill the time left over), and whose page rendering keeps pace with the notebooks.
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


_SCIPY_IMPORT = threading.Lock()


class _UnparsedDoc:
    """Stands in for numpydoc's ``FunctionDoc`` while scipy.stats is imported (see :func:`_import_scipy_stats`)."""

    def __init__(self, func, *args, **kwargs):
        self._doc, self._notes = func.__doc__ or "", []

    def __getitem__(self, section):
        return self._notes

    def __str__(self):  # the decorator drops the first line (the signature) and keeps the rest
        return "\n" + self._doc


def _import_scipy_stats():
    """Import scipy.stats without rewriting ~600 docstrings (about 0.4 s of the report's critical path).

    Since scipy 1.15, each array-API-aware function is decorated with ``xp_capabilities``, which
    registers what it supports (kept here) and, at import time, parses the function's docstring
    with numpydoc's ``FunctionDoc`` to append a table of supported backends. A report process never
    reads a docstring, so the parser is replaced by a stand-in that keeps each docstring as it is,
    for this import only. With another scipy (no such decorator, a changed one) scipy.stats is
    imported as usual. The functions themselves are not touched: every statistic is unchanged
    (``tests/test_kernels.py`` checks the decorator's table and a test result against a plain import).
    """
    with _SCIPY_IMPORT:  # a batch analyses cohorts in several threads
        if "scipy.stats" not in sys.modules:
            _import_scipy_stats_once()


def _import_scipy_stats_once():
    try:
        from scipy._lib import _array_api
    except ImportError:  # pragma: no cover - an older or newer scipy layout
        import scipy.stats  # noqa: F401
        return
    original = getattr(_array_api, "FunctionDoc", None)
    if original is None or not callable(getattr(_array_api, "xp_capabilities", None)):
        import scipy.stats  # noqa: F401
        return
    _array_api.FunctionDoc = _UnparsedDoc
    try:
        import scipy.stats  # noqa: F401
    finally:
        _array_api.FunctionDoc = original


def _notebooks_for(cohort):
    """Names of the report notebooks this cohort's sections call for, in report order."""
    return [name for name, needs in NOTEBOOKS
            if needs is None or needs in cohort.sections or _has_service(cohort, needs)]


def _has_service(cohort, needs):
    """Pages 04 and 05 (issue 13): delivery when sessions or training dates were read, system when system outcomes."""
    if needs == "sessions":
        return getattr(cohort, "sessions", None) is not None or getattr(cohort, "training", None) is not None
    return needs == "system" and getattr(cohort, "system", None) is not None


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
    """Refuse to replace a folder that is not this cohort's evalkit report, unless ``force``.

    Raises
    ------
    ConfigError
        ``out_dir`` holds a report (``manifest.json``) of a different config, or is a non-empty
        folder without evalkit's ``manifest.json``.
    """
    out = Path(out_dir)
    if force or not out.is_dir():
        return
    manifest = out / "manifest.json"
    previous = None
    if manifest.is_file() and not manifest.is_symlink():
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
    if not isinstance(previous, dict) or "config_path" not in previous:
        if any(out.iterdir()):
            raise ConfigError("the folder is not empty and holds no evalkit report (no manifest.json written by "
                              "evalkit); choose a new or empty --out folder, or add --force to replace it and "
                              "everything in it", file=out_dir)
        return
    if previous.get("config_path") != str(config.path):
        raise ConfigError(f"the folder already holds the report of another cohort "
                          f"('{previous.get('cohort', 'unknown')}'); choose another --out folder or add --force "
                          f"to overwrite it", file=out_dir)


def out_path(out_dir):
    """The absolute ``--out`` folder, its parent resolved but the folder itself not followed if it is a link."""
    path = Path(out_dir).expanduser().absolute()
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def check_out(out, config, *, salt=None):
    """Refuse an ``--out`` folder that must never be written or replaced, whatever ``--force`` says.

    Raises
    ------
    ConfigError
        ``out`` is a file or a symbolic link, holds the cohort config, a data file or the salt, is a git
        work tree's root, a top-level folder or a mount point, or holds the current folder or the home
        folder (exit 2; the message names the folder and the fix).
    """
    fix = "choose another --out, e.g. a new folder under reports/"
    if out.is_symlink():
        raise ConfigError(f"cannot write the report to {out}: it is a symbolic link; give the folder it points to, "
                          f"or {fix}")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"cannot write the report to {out}: it is a file, not a folder; {fix}")
    replaced = "and the report replaces the whole folder"
    refuse = [(Path(config.path).parent, f"the folder holds the cohort config, {replaced}"),
              *((Path(f), f"the folder holds the data file {Path(f).name}, {replaced}") for f in config.input_files())]
    if salt is not None:
        refuse.append((Path(salt), f"the pseudonym salt {salt} would be inside it, and the salt must never be in a "
                                   f"report folder (move it, or set EVALKIT_SALT_FILE to a path outside)"))
    refuse += [(Path.cwd(), f"the folder holds the current folder, {replaced}"),
               (Path.home(), f"the folder holds your home folder, {replaced}")]
    for path, why in refuse:
        try:
            inside = Path(path).resolve().is_relative_to(out)
        except OSError:
            inside = False
        if inside:
            raise ConfigError(f"cannot write the report to {out}: {why}; {fix}")
    if (out / ".git").exists():
        raise ConfigError(f"cannot write the report to {out}: it is the root of a git work tree, and the report "
                          f"replaces the whole folder; {fix}")
    if out.parent == out or out.parent == Path(out.anchor) or os.path.ismount(out):
        raise ConfigError(f"cannot write the report to {out}: it is a top-level folder or a mount point, and the "
                          f"report replaces the whole folder; {fix}")


_LOCK, _TMP, _OLD = ".{}.evalkit-lock", ".{}.evalkit-tmp-{}", ".{}.evalkit-old-{}"


def lock_output(out, *, note=None):
    """Take the lock of ``out`` (``.<name>.evalkit-lock`` beside it, holding this run's pid); return its path.

    A lock whose run is no longer alive (a killed run) is taken over, with a ``note``. Leftovers of such
    a run beside the folder are removed, and a previous report it had moved aside is put back.

    Raises
    ------
    ConfigError
        Another live run holds the lock (exit 2, naming its pid).
    OSError
        The folder's parent cannot be written.
    """
    from .report.notebook import owner_alive, pending_text

    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / _LOCK.format(out.name)
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            try:
                text = "" if lock.is_symlink() else lock.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            pid, alive = owner_alive(text)
            if alive:
                raise ConfigError(f"another evalkit run (pid {pid}) is writing the report to {out}; wait for it to "
                                  f"finish, or, if pid {pid} is not an evalkit run, delete the lock file {lock}")
            try:  # unlink only the stale lock read above, not one another run has just taken over
                still = "" if lock.is_symlink() else lock.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            if still != text:
                continue
            lock.unlink(missing_ok=True)
            if note:
                note(f"taking over the lock on {out} left by a run that is no longer running"
                     + (f" (pid {pid})" if pid else ""))
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(pending_text())
        _tidy_leftovers(out)
        return lock
    raise ConfigError(f"could not take the lock {lock}: other runs keep taking it; try again")


def _tidy_leftovers(out):
    """Remove the temporary folders of killed runs into ``out``; restore a report a killed run moved aside."""
    from .report.notebook import process_alive

    pattern = re.compile(re.escape(f".{out.name}.evalkit-") + r"(tmp|old)-(\d+)")
    for path in sorted(out.parent.iterdir()):
        m = pattern.fullmatch(path.name)
        if not m or (int(m.group(2)) != os.getpid() and process_alive(int(m.group(2)))):
            continue
        if m.group(1) == "old" and not out.exists() and not out.is_symlink() and path.is_dir():
            os.rename(path, out)  # a run killed between its two renames: the previous report comes back
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _move_into_place(tmp, out):
    """Replace ``out`` by the finished folder ``tmp``: old aside, new in, old deleted (links not followed)."""
    if not out.exists() and not out.is_symlink():
        os.rename(tmp, out)
        return
    old = out.parent / _OLD.format(out.name, os.getpid())
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)  # rmtree removes links, never what they point to


def _write_error(out, exc):
    """The message of an OSError met while writing the report (full or read-only disk, no permission)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = "a part of the path is a file, not a folder"
    where = f" ({exc.filename})" if getattr(exc, "filename", None) and exc.errno not in (
        errno.EROFS, errno.ENOSPC, errno.EDQUOT) else ""
    return ConfigError(f"cannot write the report to {out}: {reason}{where}; choose another --out (a folder on a "
                       f"disk with free space that you may write to)")


def _run_notebook(name, src, dst, parameters, cwd, nice=0, kernels=None):
    """Execute one notebook with papermill; return (name, error message or None).

    ``nice`` lowers the priority of this thread and so of the kernel it starts (Linux: a child
    process inherits the niceness of the thread that forks it). With ``kernels`` (a
    :class:`evalkit.kernels.KernelPool`) the notebook runs in a warm kernel of the pool instead of a
    new one.
    """
    import threading

    import papermill as pm

    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (AttributeError, OSError):  # not Linux or not allowed: run at normal priority
            pass

    try:
        if kernels is not None:
            with kernels.take() as kernel:
                kernel.run(src, dst, parameters, cwd=cwd, execution_timeout=CELL_TIMEOUT)
        else:
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


def report(config, *, out_dir, force=False, jobs=None, notebooks=True, notebook_dir=None, progress=False,
           note=None, kernels=None, on_notebook=None, analysis_lock=None):
    """Write one cohort's results, executed notebooks, offline HTML, index and manifest.

    The report is written into a temporary folder beside ``out_dir`` (``.<name>.evalkit-tmp-<pid>``)
    and moved into place only when finished, replacing the whole previous folder: a killed run leaves
    the previous report as it was. A lock file beside the folder (``.<name>.evalkit-lock``, holding
    the pid) keeps a second run out.

    Parameters
    ----------
    config : str or pathlib.Path
        Cohort config.
    out_dir : str or pathlib.Path
        Output folder: ``results/``, ``notebooks/``, ``*.html``, ``index.html``, ``manifest.json``.
    force : bool
        Replace a folder holding another cohort's report, or a non-empty folder that is not an
        evalkit report (everything in it is deleted).
    jobs : int, optional
        Notebooks executed at once (default: one per CPU, at most one per notebook). Each runs in a
        kernel of the report's own pool; a kernel runs notebook after notebook, reset between them
        (:mod:`evalkit.kernels`), so five notebooks on two CPUs start two kernels, not five.
    notebooks : bool
        False writes ``results/`` only.
    notebook_dir : path, optional
        Where the notebooks live (default: the repository's ``notebooks/``); relative to the current folder.
    progress : bool
        Show a progress bar (on standard error) over cleaning, analysis and each notebook.
    note : callable, optional
        Called with a sentence for the user (e.g. a stale lock taken over).
    kernels : evalkit.kernels.KernelPool, optional
        Run the notebooks in these warm kernels (``evalkit batch``) instead of new ones.
    on_notebook : callable, optional
        Called with ``(name, error or None)`` as each notebook finishes.
    analysis_lock : threading.Lock, optional
        Held while this cohort is cleaned and analysed (``evalkit batch``: one cohort at a time, so the
        first cohort's results, and the kernels' first notebooks, come as early as they can).

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ConfigError, DataError
        Before any notebook runs (exit 2; the report's kernels, started early, are stopped); also a folder that must not be written (see
        :func:`check_out`, :func:`guard_output`), another run's lock, or a disk that cannot be
        written (the previous report is then left as it was).
    NotebookError
        A notebook failed (exit 1); the folder is still moved into place, with the partly executed
        notebook in ``notebooks/``, no page for it and ``"status": "failed"`` in the manifest.
    """
    own = None
    if notebooks and kernels is None:
        # the report's own kernels start first, before this process imports pandas: they import what
        # the notebooks import while this process reads the config, cleans and analyses (seconds of
        # the critical path on a 2-CPU machine). They run no notebook until the cleaning has
        # succeeded; any error before that (config, folder, lock, data) stops them before exiting.
        from .kernels import KernelPool

        _skip_slow_optional_imports()
        own = kernels = KernelPool(max(1, min(jobs or os.cpu_count() or 1, len(NOTEBOOKS))))
        own.start_warm_up(nice=NICE)
    try:
        return _locked_report(config, out_dir=out_dir, force=force, jobs=jobs, notebooks=notebooks,
                              notebook_dir=notebook_dir, progress=progress, note=note, kernels=kernels,
                              on_notebook=on_notebook, own_kernels=own is not None, analysis_lock=analysis_lock)
    finally:
        if own is not None:
            own.shutdown()


def _locked_report(config, *, out_dir, force, jobs, notebooks, notebook_dir, progress, note, kernels, on_notebook,
                   own_kernels, analysis_lock=None):
    """:func:`report` once its kernels are starting: check the config and the folder, take the lock, report."""
    from .data.config import load_config
    from .report.notebook import salt_path

    config = load_config(config)
    out = out_path(out_dir)
    check_out(out, config, salt=salt_path(config))
    if notebook_dir is not None:
        notebook_dir = Path(notebook_dir).resolve()  # before anything changes folder
    try:
        lock = lock_output(out, note=note)
    except OSError as exc:
        raise _write_error(out, exc) from exc
    gate = _Gate(analysis_lock)  # released by _report once the results are written, or here on any error
    try:
        guard_output(out, config, force=force)
        return _report(config, out, jobs=jobs, notebooks=notebooks, notebook_dir=notebook_dir, progress=progress,
                       kernels=kernels, on_notebook=on_notebook, own_kernels=own_kernels, gate=gate)
    finally:
        gate.release()
        lock.unlink(missing_ok=True)


def _report(config, out, *, jobs, notebooks, notebook_dir, progress, kernels=None, on_notebook=None,
            own_kernels=False, gate=None):
    """The report of :func:`report`, written into a temporary folder and moved to ``out`` when complete.

    ``gate`` (a :class:`_Gate`) is released once the results are written: the next cohort of a batch
    may then be cleaned and analysed.
    """
    from .data.pipeline import prepare_cohort
    from .report.notebook import (CLEANED_CACHE, PENDING, cleaned_data, pending_text, report_data, salt_path, save,
                                  save_cleaned)
    from .report.privacy import load_or_create_salt

    started = _now()
    t0 = time.perf_counter()
    timings = {}

    def stamp(stage):  # seconds since start, kept in the manifest to show where the time goes
        timings[stage] = round(time.perf_counter() - t0, 3)

    from tqdm import tqdm

    bar = tqdm(total=2 + (len(NOTEBOOKS) if notebooks else 0), desc="report", unit="step", disable=not progress,
               file=sys.stderr, bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {postfix}")
    bar.set_postfix_str("cleaning")
    cohort = prepare_cohort(config)  # every config and data problem surfaces here, before any notebook runs
    stamp("cleaned")
    salt = load_or_create_salt(salt_path(config))  # refused inside any report folder: before kernels start
    bar.update(1)
    if notebooks:
        bar.total = 2 + len(_notebooks_for(cohort))
    bar.set_postfix_str("analysing")
    tmp = out.parent / _TMP.format(out.name, os.getpid())
    runner = None
    try:
        tmp.mkdir()  # new and empty: nothing in it is a link planted in an old report
        results_dir = tmp / "results"
        results_dir.mkdir()
        pending = results_dir / PENDING
        pending.write_text(pending_text())
        try:
            cleaned = cleaned_data(cohort, salt=salt)
            if notebooks:  # the data-quality notebook needs no results: it starts while the analysis runs
                save_cleaned(cleaned, results_dir)
                _skip_slow_optional_imports()
                import papermill  # noqa: F401  (imported here, not in the threads, so kernels start at once)

                # kernels start now and import their libraries while this process analyses;
                # each notebook's ek.load() waits for the cache that save() writes below
                runner = _NotebookRunner(cohort, config, tmp, jobs=jobs, notebook_dir=notebook_dir, kernels=kernels,
                                         final=out, own_kernels=own_kernels)
                stamp("kernels launched")
            _import_scipy_stats()
            data = report_data(cohort, salt=salt, cleaned=cleaned)
            stamp("analysed")
            save(data, results_dir)
            stamp("results written")
            bar.update(1)
            bar.set_postfix_str("notebooks")
        finally:
            pending.unlink(missing_ok=True)
            if gate is not None:
                gate.release()
        manifest = {"cohort": config.name, "config_path": str(config.path), "config": config.raw,
                    "parameters": {"config_path": str(config.path), "results_dir": str(out / "results")},
                    "input_sha256": data.meta["input_sha256"], "versions": _versions(),
                    "git_commit": _git_commit(Path(__file__).resolve().parent), "started": started,
                    "sections": sorted(data.cohort.sections),
                    "instrument_warnings": data.cohort.instrument_warnings, "notebooks": {}, "results": sorted(
                        p.name for p in results_dir.glob("*.csv"))}
        failures = []
        if runner is not None:
            failures = runner.finish(data, manifest, progress=lambda name, error: (
                stamp(f"{name} {'failed' if error else 'rendered'}"), bar.update(1),
                bar.set_postfix_str(f"{name} {'failed' if error else 'done'}"),
                on_notebook(name, error) if on_notebook else None))
            runner = None
        bar.close()
        (results_dir / CLEANED_CACHE).unlink(missing_ok=True)  # every notebook has loaded what it needed
        stamp("finished")
        manifest["timings_seconds"] = timings
        manifest["finished"] = _now()
        manifest["seconds"] = round(time.perf_counter() - t0, 2)
        manifest["status"] = "failed" if failures else "ok"
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        _move_into_place(tmp, out)
    except OSError as exc:  # full or read-only disk, no permission, a path under a file
        raise _write_error(out, exc) from exc
    finally:
        bar.close()
        if runner is not None:  # stopped early: start no further notebook
            runner.shutdown()
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        raise NotebookError("; ".join(failures) + f". The partly executed notebook is kept in {out / 'notebooks'} "
                            f"for debugging")
    return manifest


class _Gate:
    """A lock taken now and released once, however many times :meth:`release` is called (None: no lock)."""

    def __init__(self, lock):
        self.lock = lock
        if lock is not None:
            lock.acquire()

    def release(self):
        lock, self.lock = self.lock, None
        if lock is not None:
            lock.release()


class _NotebookRunner:
    """Execute the cohort's notebooks in parallel kernels (papermill), render each to HTML as it finishes."""

    def __init__(self, cohort, config, out, *, jobs=None, notebook_dir=None, kernels=None, final=None,
                 own_kernels=False):
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
        # the kernels work in the report folder, so results_dir is relative: the executed notebooks record
        # the same parameters whichever temporary folder (and process) made them
        params = {"config_path": str(config.path), "results_dir": "results"}
        self.final = Path(final) if final is not None else out
        # one kernel per CPU (never more than notebooks), each running notebook after notebook warm: a
        # kernel costs a CPU-second or two to start and import, which a small machine cannot spare for
        # five notebooks at once; the longest notebook takes the first kernel and the others share the rest
        self.own_kernels = kernels if own_kernels else None
        workers = max(1, min(jobs or os.cpu_count() or 1, len(self.todo)))
        if kernels is None:
            from .kernels import KernelPool

            kernels = self.own_kernels = KernelPool(workers)
        self.pool = ThreadPoolExecutor(max_workers=len(self.todo))
        # a report's own kernels are lowered (NICE) from their start (see report()); a kernel that replaces
        # a crashed one is started from the notebook's thread, lowered too (a child inherits its niceness)
        self.futures = {self.pool.submit(_run_notebook, name, src, self.nb_out / f"{name}.ipynb", params, out,
                                         NICE if self.own_kernels else 0, kernels):
                        name for name, src in self.todo}

    def shutdown(self):
        """Stop starting notebooks and stop this report's own kernels (not a batch's)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.own_kernels is not None:
            self.own_kernels.shutdown()

    def finish(self, data, manifest, *, progress=None):
        """Wait for every notebook, render the HTML and the index; return the failure messages."""
        from concurrent.futures import as_completed

        from .report.render import index_html, write_html

        failures, done = [], {}
        try:
            for future in as_completed(self.futures):
                name, error = future.result()
                _record_final_path(self.nb_out / f"{name}.ipynb", self.final / "notebooks" / f"{name}.ipynb")
                if error:
                    failures.append(error)
                    # the manifest is shared: the error's type and place, not its text (it may quote data)
                    manifest["notebooks"][name] = {"status": "failed", "error": _shareable_error(error)}
                else:
                    write_html(self.nb_out / f"{name}.ipynb", self.out / f"{name}.html",
                               title=f"{_TITLES[name]}: {self.config.name}")
                    manifest["notebooks"][name] = {"status": "ok", "html": f"{name}.html"}
                    done[name] = True
                if progress:
                    progress(name, error)
        finally:
            self.pool.shutdown(wait=True)
            stopping = None
            if self.own_kernels is not None:  # stopped while the index and the Word summary are written
                stopping = threading.Thread(target=self.own_kernels.shutdown, name="evalkit-kernel-shutdown")
                stopping.start()
        try:
            manifest["notebooks"] = dict(sorted(manifest["notebooks"].items()))
            _write_index(data, self.config, self.out, manifest, [n for n, _ in NOTEBOOKS if n in done], index_html)
            _write_word(data, self.out,
                        self.nb_out / "02_child_outcomes.ipynb" if "02_child_outcomes" in done else None)
        finally:
            if stopping is not None:
                stopping.join()
        return sorted(failures)


def _shareable_error(error):
    """A notebook failure without the exception's text: 'notebook X failed in cell 3 (cell index 5): KeyError'.

    Examples
    --------
    >>> _shareable_error("notebook 02 failed in cell 3 (cell index 5): KeyError: 'Jane Smith'")
    'notebook 02 failed in cell 3 (cell index 5): KeyError; the executed notebook shows the details'
    """
    m = re.match(r"(notebook .*? failed(?: in cell .*?\))?): ([A-Za-z_][\w.]*)", error)
    if not m:
        return "a notebook failed; the executed notebook shows the details"
    return f"{m.group(1)}: {m.group(2)}; the executed notebook shows the details"


def _record_final_path(path, final):
    """Make an executed notebook independent of the run that made it (times aside).

    Papermill records where it wrote the notebook (the temporary folder: recorded as the report's
    place instead) and gives the cell it injects a random id (given a fixed one), so two runs of
    the same cohort, or a batch and a single report, write the same notebook.
    """
    import nbformat

    if not path.is_file():
        return
    nb = nbformat.read(path, as_version=4)
    changed = False
    meta = nb.metadata.get("papermill")
    if meta is not None and meta.get("output_path") != str(final):
        meta["output_path"] = str(final)
        changed = True
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []) and cell.get("id") != "injected-parameters":
            cell["id"] = "injected-parameters"
            changed = True
    if changed:
        nbformat.write(nb, path)


_TITLES = {"01_data_quality": "Data quality", "02_child_outcomes": "Child outcomes",
           "03_facilitator_confidence": "Facilitator knowledge, understanding and confidence",
           "04_implementation": "Delivery, fidelity and training that becomes practice",
           "05_system_outcomes": "System outcomes over time"}


#: The effect-size figure of notebook 02, taken into the Word summary (drawn once, by the notebook).
WORD_FIGURE = ('ek.forest_figure(data, "children")', "Children: size of the change on each measure (Cohen's d_z with "
               "95% confidence interval; zero is no change)")


def _notebook_png(path, source):
    """The first PNG output of the cell whose source is ``source`` in an executed notebook, or None."""
    import base64

    import nbformat

    if path is None or not Path(path).is_file():
        return None
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.get("cell_type") == "code" and cell.get("source", "").strip() == source:
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    return base64.b64decode(png if isinstance(png, str) else "".join(png))
    return None


def _write_word(data, out, notebook):
    """``summary.docx``: the committee-paper summary (main points, about, trust, tables, effect sizes)."""
    from .report.summary import word_summary
    from .report.word import write_summary

    png = _notebook_png(notebook, WORD_FIGURE[0])
    write_summary(word_summary(data, figures=[(WORD_FIGURE[1], png)] if png else []), out / "summary.docx")


def _write_index(data, config, out, manifest, done, index_html):
    from .report import summary

    failed = [name for name in manifest["notebooks"] if manifest["notebooks"][name]["status"] != "ok"]
    rows = [{"Report page": _TITLES[name], "Status": manifest["notebooks"][name]["status"]} for name in failed]
    links = [(_TITLES[name], f"{name}.html") for name in done]
    provenance = {"Cohort": config.name, "Config": Path(config.path).name, "Started (UTC)": manifest["started"],
                  "evalkit": manifest["versions"].get("evalkit"), "Git commit": manifest["git_commit"] or "none"}
    page = index_html(f"Evaluation report: {config.name}", rows, links=links, provenance=provenance,
                      checksums=manifest["input_sha256"], warnings=getattr(data.cohort, "warnings", ()),
                      main_points=summary.main_points(data)["sentence"].tolist(),
                      main_points_note=summary.SIZE_CONVENTION, about=summary.about(data),
                      trust=summary.trust(data), instrument_warnings=summary.instrument_warnings(data))
    (out / "index.html").write_text(page, encoding="utf-8")
