"""Attack cases on what a report shows and shares: raw text kept off the report side (family 1), small
counts that survive arithmetic (2), ``evalkit share`` (3) and escaping of every outside text (4).

Every exit-0 report case is also checked by the harness with the disclosure check and the identifier
scan (``evalkit.report.privacy``); ``html_forbidden`` lists raw markup that no page may contain (the
same text shown escaped is fine).
"""
from __future__ import annotations

import yaml

from _helpers import csv_text, write_cohort
from make_attack import case

REPORT = ["report", "{case}/cohort.yml", "--out", "{out}"]
REPORT_INTO = ["report", "{case}/cohort.yml", "--out", "{out}/report"]
SHARE = ["share", "{out}/report", "--to", "{out}/shared.zip"]
FACTORS = {"id": "child_id", "timepoint": "timepoint", "age": "age", "delivery": "delivery",
           "referral_reason": "referral_reason", "site": "site"}


def _kids(n, *, seed=7, **columns):
    """``n`` children with pre and post (the sample generator, tidy), plus extra columns (lists of 2n values
    or callables of the row index)."""
    from evalkit.sample import make_children

    frame = make_children(n, seed=seed, messy=False)
    for name, values in columns.items():
        frame[name] = [values(i) for i in range(len(frame))] if callable(values) else values
    return frame


def _write_kids(folder, frame, *, name=None, columns=FACTORS, **top):
    (folder / "children.csv").write_text(frame.to_csv(index=False, lineterminator="\r\n"), encoding="utf-8")
    write_cohort(folder, name=name, children={"columns": dict(columns)}, **top)


def _report(family, description, **extra):
    return {"family": family, "description": description, "argv": REPORT, "exit": 0,
            "message": ["written to"], **extra}


# ----------------------------------------------------------------------------- family 1: report side

@case
def name_used_as_child_id(folder):
    frame = _kids(14)
    names = {cid: f"Jane Smith {chr(65 + k)}" if k < 3 else cid for k, cid in enumerate(sorted(set(frame["child_id"])))}
    frame["child_id"] = frame["child_id"].map(names)
    _write_kids(folder, frame)
    return _report(1, "children's names typed as ids: pseudonyms everywhere, the names in no page, record or "
                      "manifest", planted=["Jane Smith"], kept=28, excluded=0)


@case
def free_text_in_unnamed_columns(folder):
    words = ["Jane said she was scared at home", "Date of birth 2015-03-04", "Lives at 12 Elm Road"]
    frame = _kids(14, case_notes=lambda i: words[i % 3] if i < 9 else "", **{"Jane Doe (carer)": "yes"})
    _write_kids(folder, frame)
    return _report(1, "free text, a date of birth and an address in columns the config does not name, and a "
                      "name as a column header: dropped on reading, in no shareable file",
                   planted=[*words, "2015-03-04", "Jane Doe"], kept=28, excluded=0)


# ----------------------------------------------------------------------------- family 2: small counts

@case
def min_cell_10_small_counts(folder):
    _write_kids(folder, _kids(40, seed=11), disclosure={"min_cell": 10})
    return _report(2, "min_cell 10 on 40 children: reliable change, matching and accounting hide every count "
                      "below 10 and every cell that would give one away (the harness runs the disclosure check)",
                   kept=80, excluded=0)


@case
def seven_matched_children_min_cell_10(folder):
    _write_kids(folder, _kids(7), disclosure={"min_cell": 10})
    return _report(2, "7 matched children with min_cell 10: findings and the index said '7 matched children'",
                   planted=["7 matched children", "7 matched", "(n = 7)"], kept=14, excluded=0)


@case
def one_pre_only_facilitator(folder):
    from evalkit.sample import make_facilitators

    facs = make_facilitators(21, seed=5, messy=False)
    last = facs["facilitator_id"].iloc[-1]
    facs = facs[~((facs["facilitator_id"] == last) & (facs["timepoint"] == "post"))]
    (folder / "facilitators.csv").write_text(facs.to_csv(index=False), encoding="utf-8")
    write_cohort(folder, children=False,
                 facilitators={"file": "facilitators.csv", "instrument": "facilitator_tip",
                               "columns": {"id": "facilitator_id", "timepoint": "timepoint"}})
    return _report(2, "21 facilitators, one without a post questionnaire: people - post only - matched gave the "
                      "one pre-only facilitator away (the issue's 60 - 0 - 58 = 2); the harness's disclosure "
                      "check reads every table")


@case
def one_duplicate_row_in_one_file(folder):
    frame = _kids(14)
    first = frame[frame["child_id"].isin(sorted(set(frame["child_id"]))[:7])]
    second = frame[~frame.index.isin(first.index)]
    second = second._append(second.iloc[[0]])  # an exact duplicate: excluded, one row
    (folder / "site_a.csv").write_text(first.to_csv(index=False), encoding="utf-8")
    (folder / "site_b.csv").write_text(second.to_csv(index=False), encoding="utf-8")
    write_cohort(folder, children={"file": ["site_a.csv", "site_b.csv"], "columns": dict(FACTORS)})
    return _report(2, "one duplicate row in one of two files: rows in - kept gave the one excluded row away",
                   kept=28, excluded=1)


@case
def batch_index_small_cohort(folder):
    (folder / "north").mkdir()
    _write_kids(folder / "north", _kids(7), name="North", disclosure={"min_cell": 10})
    # the batch's own batch.csv (for the data team) keeps the raw n: the check is on the page
    return {"family": 2, "description": "the batch index printed a cohort's raw n (7 children, min_cell 10)",
            "argv": ["batch", "{case}/north/cohort.yml", "--out", "{out}", "-j", "1"], "exit": 0,
            "message": ["1 of 1 cohorts reported"], "planted": ["7 children</td>", "<td>7</td>\n<td>Total"]}


# ----------------------------------------------------------------------------- family 3: evalkit share

@case
def share_a_clean_report(folder):
    _write_kids(folder, _kids(30, seed=3, case_notes=lambda i: "Seen by Dr Okonkwo" if i == 4 else ""))
    return {"family": 3, "description": "share of a clean report: a zip of the four pages only, checked first",
            "setup": [{"run": REPORT_INTO}], "argv": SHARE, "exit": 0, "message": ["shareable zip written to"],
            "present": ["{out}/shared.zip"], "planted": ["C0001", "Okonkwo"]}


@case
def share_refuses_a_page_with_an_id(folder):
    _write_kids(folder, _kids(14))
    return {"family": 3, "description": "a page planted in the report quotes a child's id: share refuses, names "
                                        "the page and writes nothing",
            "setup": [{"run": REPORT_INTO},
                      {"write": {"path": "{out}/report/notes.html", "text": "<p>Follow up with C0003</p>"}}],
            "argv": SHARE, "exit": 2, "message": ["notes.html", "a raw id from the data files", "nothing was shared"],
            "absent": ["{out}/shared.zip", "{out}/.shared.zip*"]}


@case
def share_refuses_a_page_with_a_note(folder):
    _write_kids(folder, _kids(14, case_notes=lambda i: "Disclosed at school on Monday" if i == 2 else ""))
    return {"family": 3, "description": "a page planted in the report quotes a free-text note from the data",
            "setup": [{"run": REPORT_INTO},
                      {"write": {"path": "{out}/report/extra.html",
                                 "text": "<p>Note: disclosed at school on Monday.</p>"}}],
            "argv": SHARE, "exit": 2, "message": ["extra.html", "a raw text value from the data files"],
            "absent": ["{out}/shared.zip"]}


@case
def share_refuses_a_recoverable_count(folder):
    _write_kids(folder, _kids(14))
    table = ("<table><tr><th>n</th><th>Reliably improved</th><th>No reliable change</th>"
             "<th>Reliably deteriorated</th></tr><tr><td>14</td><td>6 (43%)</td><td>7 (50%)</td><td>&lt;5</td></tr>"
             "</table>")
    return {"family": 3, "description": "a hand-edited page shows n and two of three parts beside a <5: share "
                                        "refuses (14 - 6 - 7 = 1)",
            "setup": [{"run": REPORT_INTO}, {"write": {"path": "{out}/report/edited.html", "text": table}}],
            "argv": SHARE, "exit": 2, "message": ["edited.html", "can be worked out", "it is 1"],
            "absent": ["{out}/shared.zip"]}


@case
def share_refuses_a_zip_inside_the_report(folder):
    _write_kids(folder, _kids(14))
    return {"family": 3, "description": "--to inside the report folder (beside results/, restricted) is refused",
            "setup": [{"run": REPORT_INTO}], "argv": ["share", "{out}/report", "--to", "{out}/report/x.zip"],
            "exit": 2, "message": ["inside the report folder"], "absent": ["{out}/report/x.zip"]}


@case
def share_refuses_a_folder_that_is_not_a_report(folder):
    (folder / "notes.html").write_text("<p>not a report</p>", encoding="utf-8")
    return {"family": 3, "description": "share of a folder without manifest.json is refused",
            "argv": ["share", "{case}", "--to", "{out}.zip"], "exit": 2, "message": ["not a report folder"],
            "absent": ["{out}.zip"]}


# ----------------------------------------------------------------------------- family 4: escaping

HOSTILE_NAME = ("North</h1><h1>All children improved</h1>\n<style>table{display:none}</style>\n"
                "[read more](http://evil.example/a) <a href='http://evil.example/b'>b</a> {{ 7*7 }} $\\alpha$")


@case
def markup_in_the_cohort_name(folder):
    _write_kids(folder, _kids(14), name=HOSTILE_NAME)
    return _report(4, "a multi-line cohort name with a style, a fake headline, links, template braces and maths "
                      "shows as text on every page",
                   html_forbidden=["<h1>All children improved", "<style>table", "<a href='http://evil.example",
                                   '<a href="http://evil.example'], kept=28, excluded=0)


@case
def markup_in_a_subscale_label(folder):
    inst = yaml.safe_load(open(__import__("evalkit.data.instruments", fromlist=["x"]).__file__.replace(
        "__init__.py", "eaq30.yml"), encoding="utf-8"))
    inst["id"] = "eaq30_custom"
    inst["subscales"][0]["label"] = "</td></tr></table><h1>Fake table end</h1><img src=x onerror=alert(1)>"
    inst["subscales"][1]["label"] = "Feelings $\\frac{1}{$ scale ~ [x](http://evil.example)"
    inst.pop("reliability", None)
    (folder / "custom.yml").write_text(yaml.safe_dump(inst, sort_keys=False, allow_unicode=True), encoding="utf-8")
    frame = _kids(14)
    (folder / "children.csv").write_text(frame.to_csv(index=False), encoding="utf-8")
    write_cohort(folder, children={"instrument": "custom.yml", "columns": dict(FACTORS)})
    return _report(4, "subscale labels with markup and broken mathtext ($\\frac{$): escaped in tables and "
                      "sentences, drawn literally in figures (used to crash the figure)",
                   html_forbidden=["<h1>Fake table end", "<img src=x", '<a href="http://evil.example'],
                   kept=28, excluded=0)


@case
def markup_in_a_factor_level(folder):
    frame = _kids(24, seed=9)
    ids = sorted(set(frame["child_id"]))
    level = {cid: ("<b>group</b><style>table{display:none}</style>" if k % 2 else "[1:1](http://evil.example)")
             for k, cid in enumerate(ids)}
    frame["delivery"] = frame["child_id"].map(level)
    _write_kids(folder, frame)
    return _report(4, "delivery levels holding markup and a link: configured factor levels are shown, escaped",
                   html_forbidden=["<b>group</b>", "<style>table", '<a href="http://evil.example'],
                   kept=48, excluded=0)
