"""Time the evidence models (issues 12 and 13) on generated cohorts of 10,000 and 100,000 children.

Each child has a baseline and, for four in five, a post score on each of six measures; four in five are
in delivery groups of about eight (the rest one-to-one); half the groups are a comparison arm; children
attended 0-6 sessions. Timed in this process after imports, best of ``repeat``:

* ``intention_to_treat`` (the REML mixed model, people nested in groups), six measures;
* ``clustering`` (ICC, design effect, CR1 interval) at the group level, six measures;
* ``compare_arms`` (post ~ pre + arm with CR1 errors), six measures;
* ``dose_response``, six measures.

Aim (issue 12): the models together under 60 s at 100,000 children. No model is approximated.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

MEASURES = [f"m{i}" for i in range(1, 7)]


def cohort(n, seed=0):
    """Long scores of ``n`` children (the shape ``evalkit`` analyses), and their one-row-per-child frame."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, max(1, n // 8), n).astype(object)
    group[rng.random(n) < 0.2] = None
    codes = pd.factorize(pd.Series(group).astype(object))[0]
    arm = np.where(codes % 2 == 0, "healing together", "waiting list")
    ids = np.array([f"c{i:06d}" for i in range(n)])
    pre = {m: rng.normal(2, 0.4, n) for m in MEASURES}
    post = {m: pre[m] + 0.2 + rng.normal(0, 0.3, n) for m in MEASURES}
    has_post = rng.random(n) < 0.8
    long = pd.concat([
        pd.DataFrame({"id": ids, "timepoint": "pre", "group": group, "arm": arm, **pre}),
        pd.DataFrame({"id": ids[has_post], "timepoint": "post", "group": group[has_post], "arm": arm[has_post],
                      **{m: v[has_post] for m, v in post.items()}}),
    ], ignore_index=True)
    change = pd.DataFrame({m: (post[m] - pre[m])[has_post] for m in MEASURES})
    change["group"] = group[has_post]
    change["sessions"] = rng.integers(0, 7, int(has_post.sum()))
    return long, change


def _best(func, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_models(sizes=(10_000, 100_000), repeat=1):
    """Seconds per model and in total at each size."""
    from evalkit.stats import clustering, compare_arms, dose_response, intention_to_treat

    out = {"sizes": {}, "repeat": repeat}
    for n in sizes:
        long, change = cohort(n)
        figures = {
            "intention_to_treat": _best(lambda: intention_to_treat(long, measures=MEASURES, group="group"), repeat),
            "clustering": _best(lambda: clustering(change, measures=MEASURES, levels=["group"]), repeat),
            "compare_arms": _best(lambda: compare_arms(long, measures=MEASURES, arm="arm",
                                                       intervention=["healing together"],
                                                       comparison=["waiting list"], group="group"), repeat),
            "dose_response": _best(lambda: dose_response(change, measures=MEASURES), repeat),
        }
        figures["total"] = sum(figures.values())
        out["sizes"][str(n)] = figures
    return out


def table(result):
    sizes = list(result["sizes"])
    names = list(next(iter(result["sizes"].values())))
    lines = ["| model (six measures) | " + " | ".join(f"{int(n):,} children" for n in sizes) + " |",
             "| --- |" + " --- |" * len(sizes)]
    for name in names:
        cells = " | ".join(f"{result['sizes'][n][name]:.2f} s" for n in sizes)
        lines.append(f"| {'**total**' if name == 'total' else f'`{name}`'} | {cells} |")
    biggest = result["sizes"][sizes[-1]]["total"]
    lines += ["", f"Aim: under 60 s at {int(sizes[-1]):,} children: {biggest:.1f} s "
                  f"({'met' if biggest < 60 else 'not met'})."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(bench_models()))
