"""Report benchmark: ``evalkit report`` on the sample cohort against importing its libraries.

Three commands, each run as a fresh subprocess from the repository root and
timed by wall clock, interleaved so that machine load hits them alike; the
best of ``repeat`` runs counts (the median is recorded too):

* baseline: ``python -c "import pandas, pingouin, seaborn, papermill, nbconvert"``;
* report: ``python -m evalkit report data/sample/cohort.yml --out <tmp> --force``
  (clean, analyse, three notebooks in parallel kernels, offline HTML);
* results only: the same with ``--no-notebooks`` (imports, cleaning, statistics,
  CSV files; no kernels), which splits the report's time between this process
  and the notebooks.

The executed notebooks of the fastest report run give each notebook's duration
and its slowest cells (papermill records both in the notebook metadata).

Run on its own: ``python benchmarks/bench_report.py [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path("data") / "sample" / "cohort.yml"
BASELINE = "import pandas, pingouin, seaborn, papermill, nbconvert"
#: Target of the brief: the whole report within 2.5x the time of importing its libraries.
TARGET_RATIO = 2.5


def say(message):
    """Progress on stderr, so stdout stays the result table."""
    print(message, file=sys.stderr, flush=True)


def _timed(cmd):
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return seconds


def _notebook_times(folder):
    """Per executed notebook: papermill's duration and its three slowest code cells."""
    out = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = []
        for i, cell in enumerate(nb.get("cells", [])):
            pm = cell.get("metadata", {}).get("papermill", {})
            if cell.get("cell_type") == "code" and pm.get("duration") is not None:
                first = "".join(cell.get("source", "")).strip().splitlines()
                cells.append({"cell": i, "seconds": pm["duration"],
                              "source": (first[0] if first else "")[:70]})
        cells.sort(key=lambda c: -c["seconds"])
        out[path.stem] = {"seconds": nb.get("metadata", {}).get("papermill", {}).get("duration"),
                          "cells_seconds": sum(c["seconds"] for c in cells),
                          "slowest_cells": cells[:3]}
    return out


def bench_report(*, repeat=3):
    """Time the baseline, the report and the results-only report; return the figures."""
    python = sys.executable
    runs = {"baseline": [], "report": [], "results_only": []}
    best_nb, best_report = None, float("inf")
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-report-") as tmp:
        for i in range(repeat):
            say(f"[report] run {i + 1}/{repeat}: baseline imports ...")
            runs["baseline"].append(_timed([python, "-c", BASELINE]))
            out = Path(tmp) / f"report-{i}"
            say(f"[report] run {i + 1}/{repeat}: evalkit report (notebooks, HTML) ...")
            seconds = _timed([python, "-m", "evalkit", "report", str(CONFIG), "--out", str(out),
                              "--force"])
            runs["report"].append(seconds)
            if seconds < best_report:
                best_report, best_nb = seconds, _notebook_times(out / "notebooks")
            shutil.rmtree(out, ignore_errors=True)
            say(f"[report] run {i + 1}/{repeat}: evalkit report --no-notebooks ...")
            runs["results_only"].append(_timed([python, "-m", "evalkit", "report", str(CONFIG),
                                                "--out", str(Path(tmp) / f"results-{i}"),
                                                "--force", "--no-notebooks"]))
            say(f"[report] run {i + 1}/{repeat}: baseline {runs['baseline'][-1]:.2f} s, "
                f"report {runs['report'][-1]:.2f} s, results only {runs['results_only'][-1]:.2f} s")
    say("[report] where the results-only time goes (one in-process run) ...")
    from bench_scale import _run_worker

    phases = _run_worker("evalkit", ROOT / CONFIG)
    best = {k: min(v) for k, v in runs.items()}
    return {
        "results_only_phases": {k: phases[k] for k in ("import_s", "prepare_s", "analyse_s")},
        "config": str(CONFIG),
        "baseline_command": f'python -c "{BASELINE}"',
        "baseline_s": best["baseline"],
        "report_s": best["report"],
        "results_only_s": best["results_only"],
        "ratio": best["report"] / best["baseline"],
        "results_only_ratio": best["results_only"] / best["baseline"],
        "median_s": {k: statistics.median(v) for k, v in runs.items()},
        "target_ratio": TARGET_RATIO,
        "notebooks": best_nb,
        "runs": runs,
    }


def table(result):
    """The report figures as Markdown (also printed by ``run.py``)."""
    ok = "✓" if result["ratio"] <= TARGET_RATIO else "✗"
    med = result["median_s"]
    lines = [
        "| command | best of runs (s) | median (s) | ÷ baseline |",
        "|---|---:|---:|---:|",
        f"| baseline: `{result['baseline_command']}` | {result['baseline_s']:.2f} "
        f"| {med['baseline']:.2f} | 1.0× |",
        f"| `evalkit report {result['config']} --out <tmp> --force` | {result['report_s']:.2f} "
        f"| {med['report']:.2f} | **{result['ratio']:.2f}×** (target ≤ {TARGET_RATIO:g}) {ok} |",
        f"| the same with `--no-notebooks` (imports, cleaning, statistics, CSVs) "
        f"| {result['results_only_s']:.2f} | {med['results_only']:.2f} "
        f"| {result['results_only_ratio']:.2f}× |",
    ]
    ph = result.get("results_only_phases")
    if ph:
        lines += ["", f"Inside one results-only process: imports {ph['import_s']:.2f} s, cleaning and "
                      f"scoring (`prepare_cohort`) {ph['prepare_s']:.2f} s, statistics "
                      f"(`evalkit.notebook.analyse`) {ph['analyse_s']:.2f} s; the rest is interpreter "
                      f"start-up and writing the CSV files and cache."]
    if result.get("notebooks"):
        lines += ["", "Notebooks of the fastest report run (papermill durations; they run in parallel "
                      "kernels, so they overlap):", "",
                  "| notebook | total (s) | in cells (s) | slowest cells (s) |", "|---|---:|---:|---|"]
        for name, nb in result["notebooks"].items():
            slow = "; ".join(f"`{c['source']}` {c['seconds']:.2f}" for c in nb["slowest_cells"])
            total = f"{nb['seconds']:.2f}" if nb["seconds"] is not None else "?"
            lines.append(f"| {name} | {total} | {nb['cells_seconds']:.2f} | {slow} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(table(bench_report(repeat=args.repeat)))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
