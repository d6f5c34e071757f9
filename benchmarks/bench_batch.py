"""Batch benchmark (issue 14): ``evalkit batch`` of 8 copies of the sample cohort against 8 sequential reports.

Measured side by side in one run, each a fresh subprocess from the repository root, wall clock:

* sequential: ``python -m evalkit report <copy i>/cohort.yml --out <tmp>/seq/<i> --force`` for i = 1..8,
  one after another (each report starts its own kernels);
* batch, 2 jobs: ``python -m evalkit batch <8 configs> --out <tmp>/batch -j 2`` (two warm kernels run all
  24 notebooks; cleaning and analysis of the next cohorts overlap with the notebooks);
* batch, 1 job: the same with ``-j 1``.

Prints the ratios batch ÷ sequential (target ≤ 0.4 with 2 jobs) and the batch's seconds per cohort.
Run on its own: ``python benchmarks/bench_batch.py [--cohorts 8]``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TARGET_RATIO = 0.4


def _timed(cmd):
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def bench_batch(cohorts=8):
    """Seconds of the three ways to report ``cohorts`` copies of the sample, and their ratios."""
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-batch-") as tmp:
        tmp = Path(tmp)
        configs = []
        for i in range(1, cohorts + 1):
            shutil.copytree(SAMPLE, tmp / f"cohort{i}")
            configs.append(str(tmp / f"cohort{i}" / "cohort.yml"))
        py = sys.executable
        # the salts are made on the first run; make them now so every measurement does the same work
        for config in configs:
            _timed([py, "-m", "evalkit", "report", config, "--out", str(tmp / "warmup"), "--force",
                    "--no-notebooks"])
        t = time.perf_counter()
        for i, config in enumerate(configs, start=1):
            _timed([py, "-m", "evalkit", "report", config, "--out", str(tmp / "seq" / str(i)), "--force"])
        sequential = time.perf_counter() - t
        batch2 = _timed([py, "-m", "evalkit", "batch", *configs, "--out", str(tmp / "batch2"), "-j", "2"])
        batch1 = _timed([py, "-m", "evalkit", "batch", *configs, "--out", str(tmp / "batch1"), "-j", "1"])
    return {"cohorts": cohorts, "sequential_s": sequential, "batch_j2_s": batch2, "batch_j1_s": batch1,
            "ratio_j2": batch2 / sequential, "ratio_j1": batch1 / sequential,
            "seconds_per_cohort_j2": batch2 / cohorts, "seconds_per_report": sequential / cohorts}


def table(result):
    ok = "met" if result["ratio_j2"] <= TARGET_RATIO else "not met"
    n = result["cohorts"]
    return "\n".join([
        "| what | measured | target |", "| --- | --- | --- |",
        f"| `evalkit batch` of {n} sample copies, `-j 2` ÷ {n} sequential `evalkit report` | "
        f"{result['batch_j2_s']:.1f} s ÷ {result['sequential_s']:.1f} s = **{result['ratio_j2']:.2f}×** | "
        f"≤ {TARGET_RATIO}× ({ok}) |",
        f"| the same with `-j 1` | {result['batch_j1_s']:.1f} s = {result['ratio_j1']:.2f}× | |",
        f"| batch seconds per cohort (`-j 2`) against one report | {result['seconds_per_cohort_j2']:.2f} s against "
        f"{result['seconds_per_report']:.2f} s | |",
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=8)
    args = parser.parse_args()
    print(table(bench_batch(args.cohorts)))
