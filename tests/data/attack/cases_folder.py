"""Attack cases, families 6 and 7: the report folder is complete or it is not there, and no code runs
from data. Two runs into one folder, a killed run's lock, ``--force`` over another cohort, folders that
are not reports, planted links, folders that must never be replaced, the salt inside the folder, a
planted pickle, a stale pending marker and batch folders whose names collide.

The lock file of ``--out`` is ``.out.evalkit-lock`` beside it: ``{case}/../.out.evalkit-lock`` since
the harness puts ``{out}`` beside ``{case}``. Cases whose notebooks do not matter run ``--no-notebooks``.
"""
from __future__ import annotations

import json
import random

from _helpers import children_rows, csv_text, write_cohort
from make_attack import case

LOCK = "{case}/../.out.evalkit-lock"
#: A protocol-0 pickle (plain text) that runs ``touch`` when unpickled.
EVIL_PICKLE = "cos\nsystem\n(S'touch {case}/../pwned'\ntR."


def _cohort(folder, name=None, n=12):
    """``n`` children with seeded random answers that rise a little (every statistic can be computed)."""
    rng, rows = random.Random(9), children_rows(n)
    for child in range(n):
        base = [rng.randint(1, 3) for _ in range(30)]
        for post, row in enumerate(rows[2 * child:2 * child + 2]):
            for j, b in enumerate(base, start=1):
                row[f"q{j}"] = str(min(3, max(1, b + (rng.random() < 0.3 * post) - (rng.random() < 0.1))))
    (folder / "children.csv").write_text(csv_text(rows), encoding="utf-8")
    write_cohort(folder, name=name or folder.name)


def _report(*extra, out="{out}", notebooks=False):
    return ["report", "{case}/cohort.yml", "--out", out, *extra] + ([] if notebooks else ["--no-notebooks"])


def _other(folder):
    """A second cohort in ``other/`` whose report an earlier run leaves in ``{out}``."""
    (folder / "other").mkdir()
    _cohort(folder / "other", name="Other cohort", n=10)
    return {"run": ["report", "{case}/other/cohort.yml", "--out", "{out}", "--no-notebooks"]}


def _manifest():
    """What evalkit writes in manifest.json, enough for the same cohort to replace the folder."""
    return json.dumps({"cohort": "planted", "config_path": "{case}/cohort.yml", "status": "ok"})


@case
def second_run_while_locked(folder):
    _cohort(folder)
    return {"family": 6, "description": "a second run into a folder another live run is writing (its lock names "
                                        "a running pid) exits 2 naming that pid and leaves nothing",
            "setup": [{"lock": LOCK}], "argv": _report(), "exit": 2,
            "message": ["another evalkit run (pid", "is writing the report to", "delete the lock file"],
            "absent": ["{out}"], "present": [LOCK]}


@case
def stale_lock_taken_over(folder):
    _cohort(folder)
    return {"family": 6, "description": "a lock left by a killed run (its pid is not running) is taken over with "
                                        "a note, and released at the end",
            "setup": [{"write": {"path": LOCK, "text": "999999999\n"}}], "argv": _report(), "exit": 0,
            "message": ["taking over the lock", "pid 999999999", "written to"], "absent": [LOCK],
            "present": ["{out}/manifest.json"], "kept": 24, "excluded": 0}


@case
def other_cohort_refused_without_force(folder):
    _cohort(folder)
    return {"family": 6, "description": "a folder holding another cohort's report is refused without --force",
            "setup": [_other(folder)], "argv": _report(), "exit": 2,
            "message": ["already holds the report of another cohort ('Other cohort')", "--force"]}


@case
def force_leaves_nothing_stale(folder):
    _cohort(folder)
    return {"family": 6, "description": "--force over another cohort's report replaces the whole folder: its "
                                        "pages and stray files disappear",
            "setup": [_other(folder),
                      {"write": {"path": "{out}/02_child_outcomes.html", "text": "<p>Other cohort's page</p>"}},
                      {"write": {"path": "{out}/notebooks/02_child_outcomes.ipynb", "text": "{}"}}],
            "argv": _report("--force"), "exit": 0, "message": ["written to"],
            "absent": ["{out}/02_child_outcomes.html", "{out}/notebooks", "{case}/../.out.evalkit-tmp-*"],
            "present": ["{out}/manifest.json", "{out}/results/scores.csv"]}


@case
def same_cohort_rerun_leaves_nothing_stale(folder):
    _cohort(folder)
    return {"family": 6, "description": "re-running the same cohort replaces the folder whole: a page left from "
                                        "an earlier run does not survive beside the new results",
            "setup": [{"run": _report()}, {"write": {"path": "{out}/03_facilitator_confidence.html",
                                                     "text": "<p>an old page</p>"}}],
            "argv": _report(), "exit": 0, "message": ["written to"],
            "absent": ["{out}/03_facilitator_confidence.html"], "present": ["{out}/manifest.json"]}


@case
def foreign_folder_refused(folder):
    _cohort(folder)
    return {"family": 6, "description": "a non-empty folder that is not an evalkit report is refused without "
                                        "--force, and left as it was",
            "setup": [{"write": {"path": "{out}/thesis.docx", "text": "three years of work"}}],
            "argv": _report(), "exit": 2, "message": ["holds no evalkit report", "--force"],
            "present": ["{out}/thesis.docx"]}


@case
def symlinked_scores_not_followed(folder):
    _cohort(folder)
    return {"family": 6, "description": "results/scores.csv planted as a link to a file outside: evalkit writes "
                                        "a new folder, never through the link",
            "setup": [{"write": {"path": "{out}/manifest.json", "text": _manifest()}},
                      {"symlink": {"link": "{out}/results/scores.csv", "target": "{case}/../stolen.csv"}}],
            "argv": _report(), "exit": 0, "message": ["written to"],
            "absent": ["{case}/../stolen.csv"], "present": ["{out}/results/scores.csv"]}


@case
def force_does_not_follow_links(folder):
    _cohort(folder)
    return {"family": 6, "description": "--force deletes the old folder without following a link in it to "
                                        "another folder",
            "setup": [{"write": {"path": "{case}/../keep/precious.txt", "text": "not evalkit's"}},
                      {"symlink": {"link": "{out}/keep", "target": "{case}/../keep"}},
                      {"write": {"path": "{out}/stray.txt", "text": "stray"}}],
            "argv": _report("--force"), "exit": 0, "message": ["written to"],
            "absent": ["{out}/keep", "{out}/stray.txt"], "present": ["{case}/../keep/precious.txt"]}


@case
def out_is_the_config_folder(folder):
    _cohort(folder)
    return {"family": 6, "description": "--out naming the config's own folder (it would replace the data) is "
                                        "refused, even with --force",
            "argv": _report("--force", out="{case}"), "exit": 2,
            "message": ["holds the cohort config", "choose another --out"], "present": ["{case}/children.csv"]}


@case
def out_is_the_current_folder(folder):
    _cohort(folder)
    return {"family": 6, "description": "--out . (the current folder, which holds the cohort) is refused",
            "argv": _report("--force", out="."), "exit": 2, "message": ["cannot write the report to",
                                                                          "choose another --out"]}


@case
def out_is_a_git_root(folder):
    _cohort(folder)
    return {"family": 6, "description": "--out naming a git work tree's root (tracked files would go) is "
                                        "refused, even with --force",
            "setup": [{"mkdir": "{out}/.git"}, {"write": {"path": "{out}/notebooks/01.ipynb", "text": "{}"}}],
            "argv": _report("--force"), "exit": 2, "message": ["root of a git work tree", "choose another --out"],
            "present": ["{out}/notebooks/01.ipynb"]}


@case
def salt_inside_out(folder):
    _cohort(folder)
    return {"family": 6, "description": "EVALKIT_SALT_FILE inside --out would put the pseudonym key in the "
                                        "shared folder: refused",
            "setup": [{"env": {"EVALKIT_SALT_FILE": "{out}/results/.salt"}}], "argv": _report(), "exit": 2,
            "message": ["pseudonym salt", "must never be in a report folder"], "absent": ["{out}"]}


@case
def salt_inside_another_report(folder):
    _cohort(folder)
    return {"family": 6, "description": "EVALKIT_SALT_FILE inside another evalkit report folder is refused",
            "setup": [{"write": {"path": "{case}/../shared/manifest.json", "text": _manifest()}},
                      {"env": {"EVALKIT_SALT_FILE": "{case}/../shared/.salt"}}],
            "argv": _report(), "exit": 2, "message": ["inside the evalkit report folder"],
            "absent": ["{out}", "{case}/../shared/.salt"]}


@case
def out_is_a_file(folder):
    _cohort(folder)
    return {"family": 6, "description": "--out naming a file gives exit 2 with a message, not a traceback",
            "setup": [{"write": {"path": "{out}", "text": "a file"}}], "argv": _report(), "exit": 2,
            "message": ["it is a file, not a folder", "choose another --out"]}


@case
def out_under_a_file(folder):
    _cohort(folder)
    return {"family": 6, "description": "--out below a file (the path cannot be made) gives exit 2",
            "argv": _report(out="{case}/cohort.yml/report"), "exit": 2,
            "message": ["a part of the path is a file", "choose another --out"]}


@case
def stale_pending_marker(folder):
    _cohort(folder)
    return {"family": 6, "description": "a .evalkit-pending left by a killed run (dead pid) in the old report "
                                        "makes no notebook wait",
            "setup": [{"run": _report()},
                      {"write": {"path": "{out}/results/.evalkit-pending", "text": "999999999\n"}}],
            "argv": _report(notebooks=True), "exit": 0, "message": ["written to"],
            "absent": ["{out}/results/.evalkit-pending"], "present": ["{out}/index.html"]}


@case
def planted_pickle_never_loaded(folder):
    _cohort(folder)
    return {"family": 7, "description": "a pickle planted as results/.evalkit-cache.pkl (it runs touch when "
                                        "unpickled) is never loaded: the notebooks read only a signed cache",
            "setup": [{"run": _report()},
                      {"write": {"path": "{out}/results/.evalkit-cache.pkl", "text": EVIL_PICKLE}}],
            "argv": _report(notebooks=True), "exit": 0, "message": ["written to"],
            "absent": ["{case}/../pwned"], "present": ["{out}/02_child_outcomes.html"]}


@case
def batch_names_collide(folder):
    for sub, stem in (("a", "north cohort"), ("b", "north-cohort")):
        (folder / sub).mkdir()
        _cohort(folder / sub, name=f"North {sub}")
        (folder / sub / "cohort.yml").rename(folder / sub / f"{stem}.yml")
    return {"family": 6, "description": "two cohorts whose names make the same folder name get two folders "
                                        "(north-cohort, north-cohort-2), never one",
            "argv": ["batch", "{case}/a/north cohort.yml", "{case}/b/north-cohort.yml", "--out", "{out}"],
            "exit": 0, "message": ["2 of 2 cohorts reported"],
            "present": ["{out}/north-cohort/manifest.json", "{out}/north-cohort-2/manifest.json"]}


@case
def internal_error_is_one_line(folder):
    _cohort(folder)
    return {"family": 10, "description": "a bug during the analysis: one line naming the exception type and the "
                                         "log, the traceback (which may quote data) only in the log beside --out, "
                                         "no half-written folder",
            "setup": [{"raise": {"target": "evalkit.report.notebook.analyse", "message": "Jane Smith said so"}}],
            "argv": _report(), "exit": 1,
            "message": ["evalkit: internal error (RuntimeError): please report it; details in",
                        "evalkit-error.log"],
            "absent": ["{out}", "{case}/../.out.evalkit-*"], "present": ["{case}/../evalkit-error.log"],
            "planted": ["Jane Smith"]}


@case
def validate_internal_error(folder):
    _cohort(folder)
    return {"family": 10, "description": "a bug in validate: one line and exit 1, the traceback in a log file in "
                                         "the temporary folder",
            "setup": [{"raise": {"target": "evalkit.validate.validate", "error": "KeyError",
                                 "message": "C0001"}}],
            "argv": ["validate", "{case}/cohort.yml"], "exit": 1,
            "message": ["evalkit: internal error (KeyError): please report it; details in", "evalkit-error-"]}


@case
def broken_pipe_is_quiet(folder):
    _cohort(folder)
    return {"family": 10, "description": "the reader of the output went away (evalkit validate | head -1): no "
                                         "traceback, exit 141 as a shell reports SIGPIPE",
            "setup": [{"raise": {"target": "evalkit.validate.validate", "error": "BrokenPipeError",
                                 "message": "[Errno 32] Broken pipe"}}],
            "argv": ["validate", "{case}/cohort.yml"], "exit": 141, "message": []}
