"""``evalkit batch``: many cohorts on warm kernels, one failing never stops the others."""
from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .runner import _write_error, lock_output, out_path


def parse_shard(text):
    """Read ``--shard i/n`` (1-based): this machine runs every n-th cohort starting at the i-th.

    Examples
    --------
    >>> parse_shard("2/3")
    (2, 3)
    """
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text or ""))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ConfigError(f"--shard '{text}' is not of the form i/n with 1 <= i <= n", column="--shard",
                          expected="e.g. 1/4")
    return int(m.group(1)), int(m.group(2))


def shard(configs, spec=None):
    """The configs this shard runs: sorted by path, then every n-th starting at the i-th.

    Examples
    --------
    >>> shard(["c.yml", "a.yml", "b.yml", "d.yml"], "2/2")
    ['b.yml', 'd.yml']
    """
    ordered = sorted(str(c) for c in configs)
    if not spec:
        return ordered
    i, n = parse_shard(spec)
    return [c for k, c in enumerate(ordered) if k % n == i - 1]


def slugs(configs):
    """A folder name per config: its stem, made unique with its parent folder when stems repeat.

    Names that still coincide (compared without case, as some disks do) get ``-2``, ``-3``, ...:
    two cohorts never share a folder.

    Examples
    --------
    >>> slugs(["x/a/cohort.yml", "x/b/cohort.yml", "y/z.yml"])
    ['a-cohort', 'b-cohort', 'z']
    >>> slugs(["a/North cohort.yml", "b/north-cohort.yml", "c/north_cohort!.yml"])
    ['North-cohort', 'north-cohort-2', 'north_cohort']
    """
    stems = [Path(c).stem for c in configs]
    out, taken = [], set()
    for c, stem in zip(configs, stems):
        name = f"{Path(c).parent.name}-{stem}" if stems.count(stem) > 1 else stem
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "cohort"
        unique, k = name, 1
        while unique.lower() in taken:
            k += 1
            unique = f"{name}-{k}"
        taken.add(unique.lower())
        out.append(unique)
    return out


def _cohort_config(config):
    """The cohort's config, or None when it cannot be read (the cohort then fails with its own error)."""
    from .data.config import load_config
    from .errors import EvalkitError

    try:
        return load_config(config)
    except (EvalkitError, OSError, ValueError):
        return None


def _summary(folder, config=None):
    """``(n, headline)`` of a finished cohort, read back from its results files.

    The headline measure is the first measure the config declares primary (``analysis.primary``) that
    the results hold, or, when none is declared, the first measure of the children's outcomes (of the
    facilitators' without children): never the measure with the largest effect, which would be picking
    the result after seeing it. The headline names the measure and gives its d_z with the 95% CI, the
    size in words (:func:`evalkit.report.findings.size_words`) and that measure's own n, e.g.
    ``"Differentiating Emotions: d_z 0.49 [0.37, 0.62], small, 269 children"``; n is that same n.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "results").mkdir()
    >>> pd.DataFrame({"measure": ["a", "b"], "label": ["Alpha", "Beta"], "n": [40, 12], "d_z": [0.2, 0.9],
    ...               "d_z_ci_low": [-0.1, 0.3], "d_z_ci_high": [0.5, 1.5]}).to_csv(
    ...     folder / "results" / "child_outcomes.csv", index=False)
    >>> _summary(folder)
    (40, 'Alpha: d_z 0.20 [−0.10, 0.50], small, 40 children')
    """
    from .report.findings import format_number, size_words

    results = Path(folder) / "results"
    config = _cohort_config(config) if config is not None and not hasattr(config, "analysis") else config
    primary = list((config.analysis.get("primary") or []) if config is not None else [])
    tables = []
    for stem, unit in (("child_outcomes", "children"), ("facilitator_outcomes", "facilitators")):
        path = results / f"{stem}.csv"
        if path.is_file():
            table = pd.read_csv(path)
            if "contrast" in table.columns:  # the headline is the programme's change, never a follow-up row
                table = table[table["contrast"] == "post-pre"]
            if not table.empty and "measure" in table.columns:
                tables.append((table, unit))
    if not tables:
        return None, ""
    found = [(table[table["measure"] == m].iloc[0], unit) for m in primary for table, unit in tables
             if (table["measure"] == m).any()]
    row, unit = found[0] if found else (tables[0][0].iloc[0], tables[0][1])
    n = int(row["n"]) if pd.notna(row.get("n")) else None
    label = row.get("label") if isinstance(row.get("label"), str) and row.get("label").strip() else row["measure"]
    people = f"{n} {unit}" if n is not None else f"an unknown number of {unit}"
    d, lo, hi = (float(row.get(c, float("nan"))) for c in ("d_z", "d_z_ci_low", "d_z_ci_high"))
    if d != d:  # not tested (too few pairs, no variance)
        return n, f"{label}: not tested, {people}"
    return n, (f"{label}: d_z {format_number(d)} [{format_number(lo)}, {format_number(hi)}], {size_words(d)}, "
               f"{people}")


def _shareable(exc, out):
    """The text of an error that the shared index may show: :attr:`EvalkitError.shareable`, complete.

    A failed notebook's own message carries the exception's text, which may quote a value from the data;
    unless the error gives a shareable text of its own, it is told by the notebooks that failed as the
    cohort's ``manifest.json`` records them (notebook, cell and error type, no value).
    """
    import json

    from .errors import NotebookError

    text = getattr(exc, "shareable", None) or str(exc)
    if isinstance(exc, NotebookError) and text == str(exc):
        try:
            notebooks = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8")).get("notebooks", {})
            failed = [str(v["error"]) for v in notebooks.values()
                      if isinstance(v, dict) and v.get("status") == "failed" and v.get("error")]
        except (OSError, ValueError, AttributeError):
            failed = []
        text = "; ".join(failed) or "a report notebook failed; the executed notebook shows the details"
    return text


def _run_one(config, out, force, kernels, on_notebook, notebook_dir=None, analysis_lock=None):
    """One cohort's report in this process, its notebooks in the pool's warm kernels: (exit code, error line)."""
    import traceback

    from .errors import EvalkitError
    from .runner import report

    try:
        report(config, out_dir=out, force=force, kernels=kernels, notebook_dir=notebook_dir,
               on_notebook=lambda name, error: on_notebook(out.name, name, error), analysis_lock=analysis_lock)
    except EvalkitError as exc:  # the index is shared: the message without values quoted from the data
        return exc.exit_code, f"evalkit: error: {_shareable(exc, out)}"
    except Exception as exc:  # noqa: BLE001 - one cohort's fault never stops the batch
        log = out.parent / "evalkit-error.log"
        try:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"cohort {config}:\n{traceback.format_exc()}\n")
            where = f"details in {log}"
        except OSError:
            where = "no log could be written"
        return 1, f"evalkit: internal error ({exc.__class__.__name__}): please report it; {where}"
    return 0, ""


def batch(configs, *, out_dir, jobs=None, shard_spec=None, force=False, progress=True, note=None,
          notebook_dir=None, hartung_knapp=False):
    """Report many cohorts on a pool of warm kernels and write an index of them.

    Each cohort is cleaned and analysed in this process (the next cohort while the current one's
    notebooks run) and its notebooks run, one after another, in ``jobs`` kernels that stay alive
    across cohorts and are reset between notebooks (:mod:`evalkit.kernels`). Each cohort's folder
    is written exactly as ``evalkit report`` writes it (same runner, same checks, same lock).

    Parameters
    ----------
    configs : list of str or pathlib.Path
        Cohort configs.
    out_dir : str or pathlib.Path
        Each cohort's report goes to ``out_dir/<config stem>/``; ``out_dir/index.html`` lists them.
    jobs : int, optional
        Cohorts at once (default: number of cores).
    shard_spec : str, optional
        ``"i/n"``: run only this machine's share (see :func:`shard`).
    force : bool
        Passed to each ``evalkit report``.
    progress : bool
        Show a progress bar.
    note : callable, optional
        Called with a sentence for the user (e.g. a stale lock taken over).
    notebook_dir : path, optional
        Run these copies of the report notebooks (as ``evalkit report --notebook-dir``).
    hartung_knapp : bool
        Pool across cohorts with the Hartung-Knapp interval instead of the Wald z interval (see
        :func:`pooled`).

    Returns
    -------
    pandas.DataFrame
        One row per cohort: ``cohort`` (its folder), ``config``, ``status``, ``exit_code``, ``n`` and
        ``headline_effect`` (of the headline measure, see :func:`_summary`), ``link``, ``error`` (the
        complete shareable message) and ``name`` (the config's cohort name, shown on the index).
        ``out_dir/batch.csv`` holds this table, ``out_dir/pooled.csv`` the measures pooled across the
        cohorts that succeeded (see :func:`pooled`), and ``out_dir/index.html`` both.

    Raises
    ------
    ConfigError
        A config is missing, ``out_dir`` is a file, another batch writes into it (lock file
        ``.<name>.evalkit-lock`` beside it), or it cannot be written.
    """
    chosen = shard(configs, shard_spec)
    missing = [c for c in chosen if not Path(c).is_file()]
    if missing:
        raise ConfigError("cohort config not found", file=missing[0])
    names = slugs(chosen)
    out_dir = out_path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ConfigError(f"cannot write the reports to {out_dir}: it is a file or a link, not a folder; "
                          f"choose another --out")
    try:
        lock = lock_output(out_dir, note=note)  # one batch at a time writes this index
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise _write_error(out_dir, exc) from exc
    try:
        return _batch(chosen, names, out_dir, jobs=jobs, shard_spec=shard_spec, force=force, progress=progress,
                      notebook_dir=Path(notebook_dir).resolve() if notebook_dir else None, note=note,
                      hartung_knapp=hartung_knapp)
    except OSError as exc:
        raise _write_error(out_dir, exc) from exc
    finally:
        lock.unlink(missing_ok=True)


def _batch(chosen, names, out_dir, *, jobs, shard_spec, force, progress, notebook_dir=None, note=None,
           hartung_knapp=False):
    """Report the cohorts in this process: ``jobs`` warm kernels run every cohort's notebooks one after
    another (see :mod:`evalkit.kernels`), while one more thread cleans and analyses the next cohort."""
    import threading

    from tqdm import tqdm

    from .kernels import KernelPool
    from .runner import _skip_slow_optional_imports

    rows = []
    workers = max(1, jobs or os.cpu_count() or 1)
    _skip_slow_optional_imports()
    import papermill  # noqa: F401  (imported once here, not by each cohort's threads)

    bars = tqdm(total=len(chosen), desc="cohorts", unit="cohort", disable=not progress, file=sys.stderr,
                position=0)
    notebook_bar = tqdm(desc="notebooks", unit="notebook", disable=not progress, file=sys.stderr, position=1)
    bar_lock = threading.Lock()

    def on_notebook(cohort, name, error):
        with bar_lock:
            notebook_bar.update(1)
            notebook_bar.set_postfix_str(f"{cohort}/{name}: {'failed' if error else 'done'}")

    with KernelPool(workers) as kernels:
        # kernels boot while the first cohorts are cleaned and analysed
        warm = threading.Thread(target=kernels.warm_up, daemon=True)
        warm.start()
        with ThreadPoolExecutor(max_workers=workers + 1) as pool:
            # one cohort cleaned and analysed at a time, in order (they share this process): the first
            # cohort's notebooks start as soon as they can, and the next cohort's analysis overlaps them
            analysing = threading.Lock()
            futures = {pool.submit(_run_one, c, out_dir / name, force, kernels, on_notebook, notebook_dir,
                                   analysing): (c, name)
                       for c, name in zip(chosen, names)}
            for future in as_completed(futures):
                config, name = futures[future]
                code, error = future.result()
                cfg = _cohort_config(config)
                n, headline = _summary(out_dir / name, cfg) if code == 0 else (None, "")
                index = out_dir / name / "index.html"
                rows.append({"cohort": name, "name": cfg.name if cfg is not None else name, "config": config,
                             "status": "ok" if code == 0 else "failed",
                             "exit_code": code, "n": n, "headline_effect": headline,
                             "link": f"{name}/index.html" if code in (0, 1) and index.is_file() else "",
                             "error": error})
                with bar_lock:
                    bars.set_postfix_str(f"{name}: {rows[-1]['status']}")
                    bars.update(1)
        warm.join()
    notebook_bar.close()
    bars.close()
    table = pd.DataFrame(rows, columns=["cohort", "config", "status", "exit_code", "n", "headline_effect", "link",
                                        "error", "name"]).sort_values("cohort", ignore_index=True)
    title = "Evaluation reports by cohort" + (f" (shard {shard_spec})" if shard_spec else "")
    _write_index(table, out_dir, title=title, hartung_knapp=hartung_knapp, note=note)
    return table


def _write_index(table, out_dir, *, title, hartung_knapp=False, note=None):
    """Write ``index.html``, ``batch.csv`` and ``pooled.csv`` of a finished batch (see :func:`pooled`).

    A failure while pooling is a bug: it is logged in ``evalkit-error.log`` beside ``out_dir`` and told
    through ``note``, and the index and ``batch.csv`` are written without the pooled section.
    """
    from .data.pipeline import neutralise_formulas
    from .report.render import batch_index_html, pooled_section_html

    note = note or (lambda text: None)
    section = pooled_table = None
    try:
        pooled_table, cohort_rows, notes = pooled(table, out_dir, hartung_knapp=hartung_knapp)
        for text in notes:
            note(f"pooled across cohorts: left out {text}")
        if (table["status"] == "ok").sum() >= 2:
            section = pooled_section_html(pooled_table, cohort_rows, notes=notes)
    except Exception as exc:  # noqa: BLE001 - a bug in pooling never costs the cohorts' index
        import traceback

        log = out_dir.parent / "evalkit-error.log"
        try:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"pooled across cohorts:\n{traceback.format_exc()}\n")
        except OSError:
            log = "no log could be written"
        note(f"pooled across cohorts: internal error ({exc.__class__.__name__}), so no pooled.csv or pooled "
             f"section; please report it; details in {log}")
        pooled_table = section = None
    _replace(out_dir / "index.html", batch_index_html(table, title=title, pooled=section))
    # cohort names and error lines are text a spreadsheet could run (OWASP CSV injection)
    _replace(out_dir / "batch.csv", neutralise_formulas(table).to_csv(index=False, lineterminator="\n"))
    if pooled_table is None:
        (out_dir / "pooled.csv").unlink(missing_ok=True)  # never an earlier batch's pooling beside this index
    else:
        _replace(out_dir / "pooled.csv", neutralise_formulas(pooled_table.drop(columns=["label"])).to_csv(
            index=False, lineterminator="\n"))


#: The results tables pooled across cohorts, and the section each holds.
POOLED_TABLES = (("child_outcomes", "children"), ("facilitator_outcomes", "facilitators"))
_NEEDED = ["measure", "n", "d_z", "mean_diff", "sd_diff"]


def _outcome_rows(folder, min_group_n):
    """``(rows, notes)``: a finished cohort's ``post-pre`` outcome rows that may be pooled, and why others may not.

    A row whose n (matched pairs) is missing, not a number, or below ``min_group_n`` is left out: its
    cohort's own pages withhold that result, so the pooled page does not use it either (never a guessed n).
    """
    rows, notes = [], []
    for stem, section in POOLED_TABLES:
        path = Path(folder) / "results" / f"{stem}.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        if "contrast" in frame.columns:
            frame = frame[frame["contrast"] == "post-pre"]
        missing = [c for c in _NEEDED if c not in frame.columns]
        if missing:
            notes.append(f"its {section}'s outcomes (results/{stem}.csv has no column {missing[0]})")
            continue
        n = pd.to_numeric(frame["n"], errors="coerce")
        labels = frame["label"] if "label" in frame.columns else frame["measure"]
        for (_, row), count, label in zip(frame.iterrows(), n, labels):
            label = label if isinstance(label, str) and label.strip() else row["measure"]
            if count != count:
                notes.append(f"its {section}'s {label} (the number of matched pairs is not in its results)")
            elif count < min_group_n:
                notes.append(f"its {section}'s {label} (fewer than {min_group_n} matched pairs: withheld on its "
                             f"own pages)")
            elif not pd.notna(pd.to_numeric(pd.Series([row["d_z"]]), errors="coerce").iloc[0]):
                notes.append(f"its {section}'s {label} (not tested in that cohort)")
            else:
                rows.append({**row.to_dict(), "n": count, "section": section, "label": label})
    return rows, notes


def pooled(table, out_dir, *, hartung_knapp=False):
    """Pool each measure over the batch's successful cohorts (issue 13): ``(pooled, cohorts, notes)``.

    Reads the ``post-pre`` rows of each successful cohort's ``results/child_outcomes.csv`` and
    ``results/facilitator_outcomes.csv`` (the data team's tables, which keep the real n) and pools every
    measure that two or more cohorts report with :func:`evalkit.stats.meta.pool_cohorts`
    (DerSimonian-Laird random effects; Hartung-Knapp interval with ``hartung_knapp``).

    Facilitators' measures are pooled too, in their own rows (``section`` = ``facilitators``): the
    facilitators' change is the programme's training outcome and the same questionnaire is used at every
    site, so whether it holds across sites is as much a commissioner's question as the children's. Measures
    are pooled within their section, never a children's measure with a facilitators' one of the same name.

    A cohort's result is left out, with a note, where its own pages withhold it: n (matched pairs) below
    its ``analysis.min_group_n``, n missing or not a number, or d_z not tested. Nothing is guessed.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`batch`'s table (``cohort`` folder, ``name``, ``config``, ``status``).
    out_dir : pathlib.Path
        The batch's output folder.
    hartung_knapp : bool

    Returns
    -------
    tuple
        ``pooled``: :data:`evalkit.stats.meta.POOLED_COLUMNS` plus ``section`` and ``label`` (``pooled.csv``
        is this without ``label``: no id, no count but k, the number of cohorts); ``cohorts``: the rows of
        :func:`evalkit.stats.meta.cohort_effects` with each cohort's ``name``, for the forest plots;
        ``notes``: one phrase per result left out, naming the cohort.
    """
    from .stats.meta import POOLED_COLUMNS, cohort_effects, pool_cohorts

    rows, notes = [], []
    for record in table[table["status"] == "ok"].itertuples():
        cfg = _cohort_config(record.config)
        min_group_n = int(cfg.analysis["min_group_n"]) if cfg is not None else 10
        found, why = _outcome_rows(Path(out_dir) / record.cohort, min_group_n)
        rows += [{**row, "cohort": record.cohort} for row in found]
        notes += [f"{record.name}: {text}" for text in why]
    columns = ["cohort", "section", "measure", "label", "contrast", *_NEEDED[1:]]
    outcomes = pd.DataFrame(rows, columns=list(dict.fromkeys(columns + [k for r in rows for k in r])))
    result = pool_cohorts(outcomes, hartung_knapp=hartung_knapp)
    labels = {(r["section"], r["measure"]): r["label"] for r in reversed(rows)}
    result["label"] = [labels.get(key) for key in zip(result["section"], result["measure"])]
    cohorts = cohort_effects(outcomes)
    names = dict(zip(table["cohort"], table["name"]))
    repeated = {name for name in names.values() if list(names.values()).count(name) > 1}
    # two cohorts of the same name are told apart by their folders on the forest plots
    cohorts["name"] = [f"{names[c]} ({c})" if names[c] in repeated else names[c] for c in cohorts["cohort"]]
    return result[POOLED_COLUMNS + ["section", "label"]], cohorts, notes


def _replace(path, text):
    """Write ``path`` whole or not at all, through a new file renamed over it (never through a planted link)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)
