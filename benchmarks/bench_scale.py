"""Large-cohort benchmark: evalkit's cleaning, scoring and statistics against ``pandas.read_csv``.

For each size a clean cohort is generated with :mod:`evalkit.sample` (children in
one CSV, 2 questionnaires of 30 items per child) into a temporary folder. Each
measurement runs in a fresh Python process, so that peak memory belongs to one
job and nothing is cached between runs:

* ``read_csv``: ``pandas.read_csv`` of the children CSV;
* ``evalkit``: ``prepare_cohort`` (read, validate, clean, match, score both
  sections) + ``evalkit.notebook.analyse`` (every statistic of every section,
  the tables ``evalkit report --no-notebooks`` writes), no notebooks.

The same cohort is also written wide (one row per child: the factors once, then
``q1_pre`` ... ``q30_post``; issue 11) and read with ``layout: wide``: evalkit on it
is printed beside the long figures, as a ratio to ``pandas.read_csv`` of the wide
file (``wide_read_csv``, ``wide_evalkit``).

The ratio against its target is that of the analysis this benchmark has always timed: the
single-group pre/post cohort, without the evidence models issue 12 added to every report (the
everyone-who-started mixed model, clustering, comparison, dose, follow-up contrasts and the evidence
appraisal). Those are timed inside the same run (``models_s``) and printed beside it, with the ratio
they give together; ``bench_models.py`` times them on a cohort with groups, arms and sessions.

Times are wall-clock ``time.perf_counter`` around the work itself, after the
imports (which are timed separately); the two jobs alternate and the best of
``repeat`` runs counts (the median is recorded too). Peak memory is the worker
process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size,
imports included), the largest over the runs.

Run on its own: ``python benchmarks/bench_scale.py [--sizes 10000 100000] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Targets of the brief: evalkit within 3x of read_csv on the 100,000-child cohort, and 10x the
#: children within 12x the time. The 10,000-child ratio is printed too, for information: there a
#: fixed ~0.1 s of per-table work (about fifty result tables, factor-model fits) weighs on it.
TARGET_RATIO = 3.0
TARGET_RATIO_AT = 100_000
TARGET_GROWTH = 12.0


def say(message):
    """Progress on stderr, so stdout stays the result table."""
    print(message, file=sys.stderr, flush=True)


def make_cohort(folder, n_children, *, seed=2026):
    """Write a clean cohort of ``n_children`` with all children in one CSV; return the config path."""
    import pandas as pd
    import yaml

    from evalkit.sample import write_sample

    folder = Path(folder)
    # the single-group pre/post shape this benchmark has always timed; the evidence models of issue 12
    # (groups, arms, follow-up, sessions) are timed on their own design by bench_models.py
    write_sample(folder, n_children=n_children, seed=seed, messy=False, xlsx_site=False, design="pre-post")
    sites = sorted(folder.glob("children_site_*.csv"))
    # read as text so the single file holds exactly what the site files held
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sites]
    pd.concat(frames, ignore_index=True).to_csv(folder / "children.csv", index=False)
    for p in sites:
        p.unlink()
    config = folder / "cohort.yml"
    cfg = yaml.safe_load(config.read_text())
    cfg["children"]["file"] = "children.csv"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


def make_wide(config):
    """Write the children of a :func:`make_cohort` cohort wide (one row per child) beside it; return its config.

    The factors come from each child's first row (the baseline row: the cleaning takes them from there);
    the answer columns are ``q1_pre`` ... ``q30_pre``, ``q1_post`` ... ``q30_post``; a child without a
    post questionnaire has an empty post block.
    """
    import pandas as pd
    import yaml

    folder = Path(config).parent
    cfg = yaml.safe_load(Path(config).read_text())
    section = cfg["children"]
    data = pd.read_csv(folder / section["file"], dtype=str, keep_default_na=False)
    roles = {role: column for role, column in section["columns"].items() if role not in ("id", "timepoint")}
    idc, tpc = section["columns"]["id"], section["columns"]["timepoint"]
    labels = {label: tp for tp, labels in section["timepoints"].items() for label in labels}
    data["_tp"] = data[tpc].str.strip().str.lower().map(labels)
    items = [c for c in data.columns if c not in (idc, tpc, "_tp", "notes", *roles.values())]
    wide = data.drop_duplicates(idc)[[idc, *roles.values()]].set_index(idc)
    for tp in ("pre", "post"):
        block = data[data["_tp"] == tp].drop_duplicates(idc).set_index(idc)[items]
        wide = wide.join(block.rename(columns=lambda q: f"{q}_{tp}"))
    wide.reset_index().to_csv(folder / "children_wide.csv", index=False)
    section.update(file="children_wide.csv", layout="wide", wide_columns="{item}_{timepoint}")
    wide_config = folder / "cohort_wide.yml"
    wide_config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return wide_config


# ---------------------------------------------------------------------------------------- worker

def _worker(job, path):
    """Run one job in this (fresh) process and print its figures as JSON."""
    import resource

    t0 = time.perf_counter()
    import pandas as pd

    if job == "evalkit":
        import evalkit.report.analysis  # noqa: F401  (analyse() imports it lazily: count it as an import)
        from evalkit.notebook import analyse
        from evalkit.data.pipeline import prepare_cohort
    imported = time.perf_counter() - t0
    out = {"job": job, "import_s": imported}
    if job == "read_csv":
        t = time.perf_counter()
        frame = pd.read_csv(path)
        out.update(seconds=time.perf_counter() - t, rows=len(frame))
    else:
        t = time.perf_counter()
        cohort = prepare_cohort(path)
        prepared = time.perf_counter()
        out["peak_rss_after_cleaning_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        models = _time_evidence_models()
        results = analyse(cohort)
        done = time.perf_counter()
        out["models_s"] = models["seconds"]
        scores = cohort.children.scores
        matched = int(scores.loc[scores["timepoint"] == "pre", "matched"].sum())
        out.update(seconds=done - t, prepare_s=prepared - t, analyse_s=done - prepared,
                   rows=len(scores), matched_children=matched, tables=len(results))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


def _time_evidence_models():
    """Time, inside ``analyse``, the work issue 12 added (every report runs it since): the
    everyone-who-started model, clustering, comparison and dose tables, the follow-up contrasts and the
    evidence appraisal. Returns a dict whose ``seconds`` grows as they run; nothing else changes."""
    import functools

    import evalkit.report.analysis as analysis
    import evalkit.report.evidence as evidence

    spent = {"seconds": 0.0}

    def timed(module, name):
        func = getattr(module, name)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - t
        setattr(module, name, wrapper)

    timed(analysis, "_issue12_tables")
    timed(analysis, "follow_up_outcomes")
    timed(evidence, "appraise")
    return spent


def _run_worker(job, path):
    proc = subprocess.run([sys.executable, __file__, "--worker", job, str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{job} worker failed on {path}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------- driver

def bench_size(n_children, *, repeat=3, workdir=None):
    """Time read_csv and evalkit on a generated cohort of ``n_children``; return the figures."""
    with tempfile.TemporaryDirectory(prefix=f"evalkit-bench-{n_children}-", dir=workdir) as tmp:
        t = time.perf_counter()
        say(f"[scale {n_children:,}] generating a clean cohort (one children CSV) ...")
        config = make_cohort(Path(tmp), n_children)
        wide_config = make_wide(config)
        csv, wide_csv = Path(tmp) / "children.csv", Path(tmp) / "children_wide.csv"
        say(f"[scale {n_children:,}] generated in {time.perf_counter() - t:.1f} s "
            f"({csv.stat().st_size / 2 ** 20:.1f} MiB long, {wide_csv.stat().st_size / 2 ** 20:.1f} MiB wide)")
        runs = {"read_csv": [], "evalkit": [], "wide_read_csv": [], "wide_evalkit": []}
        jobs = (("read_csv", "read_csv", csv), ("evalkit", "evalkit", config),
                ("wide_read_csv", "read_csv", wide_csv), ("wide_evalkit", "evalkit", wide_config))
        for i in range(repeat):
            for name, job, path in jobs:
                say(f"[scale {n_children:,}] run {i + 1}/{repeat}: {name} ...")
                runs[name].append(_run_worker(job, path))
                say(f"[scale {n_children:,}] run {i + 1}/{repeat}: {name} "
                    f"{runs[name][-1]['seconds']:.2f} s")
    best = {job: min(r, key=lambda x: x["seconds"]) for job, r in runs.items()}
    ev, rc = best["evalkit"], best["read_csv"]
    wev, wrc = best["wide_evalkit"], best["wide_read_csv"]
    return {
        "children": n_children,
        "questionnaires": rc["rows"],
        "read_csv_s": rc["seconds"],
        "read_csv_median_s": statistics.median(r["seconds"] for r in runs["read_csv"]),
        "evalkit_s": ev["seconds"],
        "evalkit_median_s": statistics.median(r["seconds"] for r in runs["evalkit"]),
        "prepare_s": ev["prepare_s"],
        "analyse_s": ev["analyse_s"],
        "evalkit_import_s": min(r["import_s"] for r in runs["evalkit"]),
        "ratio": (ev["seconds"] - ev["models_s"]) / rc["seconds"],
        "models_s": ev["models_s"],
        "ratio_with_models": ev["seconds"] / rc["seconds"],
        "matched_children": ev["matched_children"],
        "read_csv_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["read_csv"]),
        "evalkit_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["evalkit"]),
        "evalkit_peak_rss_after_cleaning_mb": max(r["peak_rss_after_cleaning_mb"]
                                                  for r in runs["evalkit"]),
        "wide_rows": wrc["rows"],
        "wide_read_csv_s": wrc["seconds"],
        "wide_evalkit_s": wev["seconds"],
        "wide_evalkit_median_s": statistics.median(r["seconds"] for r in runs["wide_evalkit"]),
        "wide_prepare_s": wev["prepare_s"],
        "wide_ratio": (wev["seconds"] - wev["models_s"]) / wrc["seconds"],
        "wide_same_questionnaires": wev["rows"] == ev["rows"] and wev["matched_children"] == ev["matched_children"],
        "runs": runs,
    }


def bench_scale(sizes=(10_000, 100_000), *, repeat=3):
    """Figures of every size plus the growth factor between the smallest and the largest."""
    rows = [bench_size(n, repeat=repeat) for n in sizes]
    out = {"sizes": rows, "target_ratio": TARGET_RATIO, "target_growth": TARGET_GROWTH,
           "memory_measure": "peak RSS of the worker process (resource.getrusage ru_maxrss), "
                             "imports included"}
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        out["growth"] = {"from": small["children"], "to": large["children"],
                         "evalkit": large["evalkit_s"] / small["evalkit_s"],
                         "read_csv": large["read_csv_s"] / small["read_csv_s"]}
    return out


def table(result):
    """The scale figures as a Markdown table (also printed by ``run.py``)."""
    lines = ["| children | questionnaires | read_csv (s) | evalkit (s) | of which cleaning / statistics (s) "
             f"| evalkit without the evidence models ÷ read_csv (target ≤ {TARGET_RATIO:g} at {TARGET_RATIO_AT:,}) "
             "| of which the evidence models (s) | with them ÷ read_csv "
             "| read wide: read_csv / evalkit (s), of which cleaning | wide evalkit ÷ wide read_csv "
             "| peak RSS read_csv / evalkit (MiB) | evalkit peak RSS after cleaning (MiB) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["sizes"]:
        mark = ("✓" if r["ratio"] <= TARGET_RATIO else "✗") if r["children"] >= TARGET_RATIO_AT else "(no target)"
        wide = (f"{r['wide_read_csv_s']:.2f} / {r['wide_evalkit_s']:.2f}, {r['wide_prepare_s']:.2f} "
                f"| {r['wide_ratio']:.1f}×" + ("" if r.get("wide_same_questionnaires", True) else " (differs!)")
                if "wide_evalkit_s" in r else "– | –")
        lines.append(f"| {r['children']:,} | {r['questionnaires']:,} | {r['read_csv_s']:.2f} "
                     f"| {r['evalkit_s']:.2f} | {r['prepare_s']:.2f} / {r['analyse_s']:.2f} "
                     f"| {r['ratio']:.1f}× {mark} | {r.get('models_s', float('nan')):.2f} "
                     f"| {r.get('ratio_with_models', float('nan')):.1f}× | {wide} "
                     f"| {r['read_csv_peak_rss_mb']:.0f} / {r['evalkit_peak_rss_mb']:.0f} "
                     f"| {r['evalkit_peak_rss_after_cleaning_mb']:.0f} |")
    if "growth" in result:
        g = result["growth"]
        lines.append("")
        lines.append(f"Growth {g['from']:,} → {g['to']:,} children: evalkit {g['evalkit']:.1f}× "
                     f"(target ≤ {TARGET_GROWTH:g}×) {'✓' if g['evalkit'] <= TARGET_GROWTH else '✗'}, "
                     f"read_csv {g['read_csv']:.1f}×.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("JOB", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return 0
    result = bench_scale(args.sizes, repeat=args.repeat)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    os.chdir(ROOT)
    sys.exit(main())
