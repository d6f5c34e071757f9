"""``make bench``: time the report and large cohorts against their baselines, print the ratios.

Runs, in one go and side by side:

1. the report ratio (``bench_report.py``): ``evalkit report`` on the sample
   cohort ÷ importing pandas, pingouin, seaborn, papermill and nbconvert
   (target ≤ 2.5);
2. the scale benchmark (``bench_scale.py``): cleaning + scoring + every
   statistic of generated clean cohorts of 10,000 and 100,000 children ÷
   ``pandas.read_csv`` of the same children CSV (target ≤ 3), the growth of
   evalkit's time from 10,000 to 100,000 children (target ≤ 12), and peak memory;
3. the batch (``bench_batch.py``): ``evalkit batch`` of 8 copies of the sample cohort on warm kernels
   ÷ 8 sequential reports, with 2 jobs (target ≤ 0.4) and with 1;
4. the evidence models (``bench_models.py``): the intention-to-treat mixed model, clustering, the
   arm comparison and dose response on 10,000 and 100,000 generated children, in seconds
   (aim: under 60 s at 100,000).

Every figure is a wall-clock time of a fresh process, best of ``--repeat``
runs (medians are in the JSON). The machine's load is recorded before and
after: on a shared machine, compare ratios of one run, not times across runs.

Prints Markdown tables; writes every figure to ``benchmarks/results.json``
and, for a full run, the tables to ``benchmarks/last_run.md`` (which the
README cites).

Usage (from the repository root)::

    python benchmarks/run.py            # full run, a few minutes
    python benchmarks/run.py --quick    # 10,000 children only, for a fast check
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import bench_batch  # noqa: E402
import bench_models  # noqa: E402
import bench_report  # noqa: E402
import bench_scale  # noqa: E402


def _git(*args):
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment():
    """Where and on what the figures were measured."""
    versions = {"python": platform.python_version()}
    for name in ("evalkit", "pandas", "numpy", "scipy", "pingouin", "papermill", "nbconvert"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    dirty = _git("status", "--porcelain", "--", "evalkit", "notebooks", "benchmarks")
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(dirty),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "platform": platform.platform(),
        "blas_environment": {k: v for k, v in os.environ.items()
                             if k.startswith(("OPENBLAS", "OMP_", "MKL_"))},
        "versions": versions,
    }


def markdown(result):
    env = result["environment"]
    load = ", ".join(f"{x:.1f}" for x in env["load_average_before"])
    after = ", ".join(f"{x:.1f}" for x in env.get("load_average_after", ()))
    lines = [
        "# evalkit benchmark: last run",
        "",
        f"Measured {env['date']} at commit `{env['git_commit']}`"
        f"{' (with uncommitted changes)' if env['uncommitted_changes'] else ''}, "
        f"{env['cpus']} CPUs, load average {load} before and {after} after "
        f"(the machine is shared: compare the ratios, which are measured side by side, "
        f"rather than absolute times). Python {env['versions']['python']}, "
        f"pandas {env['versions']['pandas']}, numpy {env['versions']['numpy']}, "
        f"scipy {env['versions']['scipy']}. Command: `{result['command']}`, "
        f"best of {result['repeat']} run(s) of each report measurement and of "
        f"{result.get('scale_repeat', result['repeat'])} of each large-cohort one. "
        f"Took {result['seconds']:.0f} s.",
    ]
    if "report" in result:
        lines += ["", "## Report on the sample cohort (300 children, 60 facilitators)", "",
                  bench_report.table(result["report"])]
    if "scale" in result:
        lines += ["", "## Large cohorts: cleaning + scoring + all statistics vs `pandas.read_csv`", "",
                  "Clean generated cohorts (`evalkit.sample`, children in one CSV, two questionnaires "
                  "of 30 items per child); evalkit = `prepare_cohort` + `evalkit.notebook.analyse` "
                  "(everything `evalkit report --no-notebooks` computes), timed after imports "
                  "in a fresh process. Peak memory: "
                  f"{result['scale']['memory_measure']}.", "",
                  bench_scale.table(result["scale"])]
    if "batch" in result:
        lines += ["", "## Batch on warm kernels against sequential reports", "", bench_batch.table(result["batch"])]
    if "models" in result:
        lines += ["", "## Evidence models (issues 12 and 13), seconds", "",
                  "Generated cohorts: six measures, four in five children in groups of about eight, half the "
                  "groups a comparison arm, one in five without a post score; timed in one process after "
                  "imports, best of 1. No model is approximated.", "", bench_models.table(result["models"])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 children only; do not write last_run.md")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each report measurement, interleaved with the baseline (best counts)")
    parser.add_argument("--scale-repeat", type=int, default=5,
                        help="runs of each large-cohort measurement (best counts; they are short and noisy)")
    parser.add_argument("--no-report", action="store_true", help="skip the report benchmark")
    parser.add_argument("--no-scale", action="store_true", help="skip the large-cohort benchmark")
    parser.add_argument("--no-models", action="store_true", help="skip the evidence-model timings")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch benchmark")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = {"environment": environment(), "repeat": args.repeat, "scale_repeat": args.scale_repeat,
              "command": "python benchmarks/run.py" + "".join(f" {a}" for a in (argv if argv is not None
                                                                             else sys.argv[1:]))}
    if not args.no_report:
        result["report"] = bench_report.bench_report(repeat=args.repeat)
    if not args.no_scale:
        sizes = (10_000,) if args.quick else (10_000, 100_000)
        result["scale"] = bench_scale.bench_scale(sizes, repeat=args.scale_repeat)
    if not args.no_batch:
        result["batch"] = bench_batch.bench_batch(4 if args.quick else 8)
    if not args.no_models:
        result["models"] = bench_models.bench_models((10_000,) if args.quick else (10_000, 100_000))
    result["environment"]["load_average_after"] = os.getloadavg()
    result["seconds"] = time.perf_counter() - t0
    text = markdown(result)
    print(text)
    (HERE / "results.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    written = ["benchmarks/results.json"]
    if not args.quick and not args.no_report and not args.no_scale:
        (HERE / "last_run.md").write_text(text, encoding="utf-8")
        written.append("benchmarks/last_run.md")
    print(f"Wrote {' and '.join(written)}.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
