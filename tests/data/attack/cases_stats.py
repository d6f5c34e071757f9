"""Attack cases, family 10 (statistics side): data shapes that used to end in a traceback inside a
statistic or a notebook, and must now give a note in a table (exit 0, the report complete)."""
from __future__ import annotations

import yaml

from _helpers import csv_text, write_cohort
from make_attack import case

ONE_ITEM = {"id": "one", "name": "One pre-scored total", "response": {"min": 0, "max": 40}, "scoring": "mean",
            "subscales": [{"id": "total", "label": "Total score", "items": ["total"]}]}


def _one_item_cohort(folder, rows, **children):
    (folder / "one.yml").write_text(yaml.safe_dump(ONE_ITEM, sort_keys=False), encoding="utf-8")
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    write_cohort(folder, children={"instrument": "one.yml",
                                   "columns": {"id": "child_id", "timepoint": "timepoint", "delivery": "delivery"},
                                   **children})


def _report(**extra):
    return {"family": 10, "argv": ["report", "{case}/cohort.yml", "--out", "{out}"], "exit": 0,
            "message": ["written to"], **extra}


@case
def single_item_measure(folder):
    rows = []
    for i in range(20):
        a = 5 + (i * 7) % 23
        for tp, v in (("pre", a), ("post", min(40, a + (i % 5) - 1))):
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, "total": v,
                         "delivery": "group" if i % 2 else "one-to-one"})
    _one_item_cohort(folder, rows)
    return _report(description="a one-item instrument (a pre-scored total): reliability used to raise IndexError",
                   kept=40, excluded=0)


@case
def reliable_change_without_reliability(folder):
    rows = []
    for i in range(16):
        for tp, v in (("pre", 10 + i), ("post", 12 + i + (i % 3))):
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, "total": v, "delivery": "group"})
    _one_item_cohort(folder, rows)
    return _report(description="no reliability for reliable change: NA counts used to break notebook 02 "
                               "('boolean value of NA is ambiguous')", kept=32, excluded=0)


@case
def ancova_zero_residual(folder):
    rows = []
    for i in range(24):
        for tp, v in (("pre", 5 + i), ("post", 7 + i)):
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, "total": v,
                         "delivery": "group" if i % 2 else "one-to-one"})
    _one_item_cohort(folder, rows)
    return _report(description="post = pre + 2 for every child: the ANCOVA used to raise ZeroDivisionError",
                   kept=48, excluded=0)


@case
def tiny_cohort(folder):
    items = [f"q{i}" for i in range(1, 31)]
    rows = []
    for i, (a, b) in enumerate((("1", "2"), ("2", "3"))):
        for tp, v in (("pre", a), ("post", b)):
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, **{q: v for q in items}})
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    write_cohort(folder)
    return _report(description="two children: every statistic too small to compute gives a note", kept=4,
                   excluded=0)
