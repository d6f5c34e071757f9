"""Small builders shared by the attack-corpus case modules (a cohort config, a long children CSV)."""
from __future__ import annotations

import csv
import io

import yaml

ITEMS = [f"q{i}" for i in range(1, 31)]


def children_rows(n=12, *, start=1, value="2", post_value="3", extra=None):
    """``n`` children with a pre and a post questionnaire each; ``extra`` maps column -> list of n values."""
    rows = []
    for i in range(n):
        for tp, v in (("pre", value), ("post", post_value)):
            row = {"child_id": f"C{start + i:04d}", "timepoint": tp, **{q: v for q in ITEMS}}
            for col, values in (extra or {}).items():
                row[col] = values[i]
            rows.append(row)
    return rows


def csv_text(rows, header=None, sep=","):
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in header])
    return out.getvalue()


def write_cohort(folder, *, name=None, children=None, facilitators=None, **top):
    """Write cohort.yml; ``children``/``facilitators`` are section mappings (file defaults to children.csv)."""
    cfg = {"name": name or folder.name}
    if children is not False:
        section = {"file": "children.csv", "instrument": "eaq30",
                   "columns": {"id": "child_id", "timepoint": "timepoint"}}
        section.update(children or {})
        cfg["children"] = section
    if facilitators:
        cfg["facilitators"] = facilitators
    cfg.update(top)
    (folder / "cohort.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
