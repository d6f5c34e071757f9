"""`evalkit report`'s folder: written beside --out and moved into place whole, locked, never over what it
must not replace; the notebooks' signed cache and the pending marker (issue 9, families 6 and 7)."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import EAQ_ITEMS, ROOT, write_cohort
from evalkit.cli import main
from evalkit.report import notebook as ek


def _cohort(folder, n=12, name="Test cohort"):
    """``n`` children with random answers (seeded) that rise a little from pre to post."""
    rng, rows = np.random.default_rng(9), []
    for i in range(n):
        base = rng.integers(1, 4, size=len(EAQ_ITEMS))
        for k, tp in enumerate(("pre", "post")):
            answers = np.clip(base + (rng.random(len(EAQ_ITEMS)) < 0.3 * k) - (rng.random(len(EAQ_ITEMS)) < 0.1), 1, 3)
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, **dict(zip(EAQ_ITEMS, answers.tolist()))})
    path = write_cohort(folder, children=pd.DataFrame(rows))
    path.write_text(path.read_text().replace("name: Test cohort", f"name: {name}"))
    return path


def _run(cfg, out, *extra):
    return main(["report", str(cfg), "--out", str(out), "--no-notebooks", *extra])


@pytest.fixture
def cohort(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return _cohort(tmp_path / "c")


def _lock(out):
    return out.parent / f".{out.name}.evalkit-lock"


def _siblings(out):
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.evalkit-"))


# ------------------------------------------------------------------ atomic folder, lock

def test_report_leaves_no_temporary_folder_and_no_lock(cohort, tmp_path):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    assert (out / "manifest.json").is_file() and (out / "results" / "scores.csv").is_file()
    assert _siblings(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["results_dir"] == str(out / "results")  # the final place, not the temporary one


def test_live_lock_refuses_a_second_run(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    _lock(out).write_text(f"{os.getpid()}\n")
    assert _run(cohort, out) == 2
    err = capsys.readouterr().err
    assert f"another evalkit run (pid {os.getpid()}) is writing the report to {out}" in err
    assert not out.exists() and _lock(out).read_text() == f"{os.getpid()}\n"  # not taken, not removed


def test_two_real_runs_into_one_folder(cohort, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "evalkit", "report", str(cohort), "--out", str(out)]
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _lock(out).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(cmd + ["--no-notebooks"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2
    assert second.stderr == (f"evalkit: error: another evalkit run (pid {first.pid}) is writing the report to {out}; "
                             f"wait for it to finish, or, if pid {first.pid} is not an evalkit run, delete the lock "
                             f"file {_lock(out)}\n")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok" and (out / "02_child_outcomes.html").is_file() and _siblings(out) == []


def test_stale_lock_is_taken_over_with_a_note(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    _lock(out).write_text(json.dumps({"pid": 999999999, "started": 1, "host": None}))
    assert _run(cohort, out) == 0
    assert "evalkit: note: taking over the lock on" in capsys.readouterr().err
    assert not _lock(out).exists()


def test_lock_of_a_reused_pid_is_stale(cohort, tmp_path):
    """A lock naming a live pid whose start time differs belongs to a run that died; the pid was reused."""
    out = tmp_path / "out"
    _lock(out).write_text(json.dumps({"pid": os.getpid(), "started": 1, "host": __import__("platform").node()}))
    assert _run(cohort, out) == 0


def test_killed_run_leaves_the_previous_report_intact(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "report", str(cohort), "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    tmp = out.parent / f".out.evalkit-tmp-{proc.pid}"
    deadline = time.monotonic() + 120
    while not (tmp / "notebooks").is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its kernels
    proc.wait()
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # no new page, the old manifest, nothing half-written
    assert tmp.is_dir() and _lock(out).is_file()  # the killed run's leftovers, beside the folder
    capsys.readouterr()
    assert _run(cohort, out) == 0  # the next run takes the stale lock over and tidies up
    assert f"pid {proc.pid}" in capsys.readouterr().err
    assert _siblings(out) == []


def test_run_killed_between_its_renames_gets_the_old_report_back(cohort, tmp_path):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    aside = out.parent / ".out.evalkit-old-999999999"
    out.rename(aside)  # where a run killed after moving the old folder aside left it
    from evalkit.runner import lock_output

    lock = lock_output(out)
    lock.unlink()
    assert (out / "manifest.json").is_file() and not aside.exists()


def test_a_stopped_run_removes_its_temporary_folder(cohort, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    old = (out / "manifest.json").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ek, "analyse", interrupted)
    assert _run(cohort, out) == 130
    assert (out / "manifest.json").read_bytes() == old and _siblings(out) == []


# ------------------------------------------------------------------ replacing a folder

def test_force_replaces_the_whole_folder(cohort, tmp_path):
    other = _cohort(tmp_path / "other", name="Other cohort")
    out = tmp_path / "out"
    assert _run(other, out) == 0
    (out / "02_child_outcomes.html").write_text("<p>Other cohort</p>")
    assert _run(cohort, out) == 2
    assert _run(cohort, out, "--force") == 0
    assert not (out / "02_child_outcomes.html").exists()
    assert json.loads((out / "manifest.json").read_text())["cohort"] == "Test cohort"


def test_rerun_of_the_same_cohort_leaves_nothing_stale(cohort, tmp_path):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    (out / "results" / "old_table.csv").write_text("x\n")
    assert _run(cohort, out) == 0
    assert not (out / "results" / "old_table.csv").exists()


def test_non_report_folder_is_refused_without_force(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    assert _run(cohort, out) == 2
    assert "holds no evalkit report (no manifest.json written by evalkit)" in capsys.readouterr().err
    assert (out / "thesis.docx").is_file()
    (out / "manifest.json").write_text('{"not": "evalkit"}')  # a manifest, but not evalkit's
    assert _run(cohort, out) == 2
    assert _run(cohort, out, "--force") == 0 and not (out / "thesis.docx").exists()


def test_empty_folder_is_used(cohort, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert _run(cohort, out) == 0 and (out / "manifest.json").is_file()


def test_links_in_the_old_folder_are_never_followed(cohort, tmp_path):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (out / "results" / "scores.csv").unlink()
    (out / "results" / "scores.csv").symlink_to(outside / "scores.csv")
    (out / "linked").symlink_to(outside)
    assert _run(cohort, out, "--force") == 0
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]  # nothing written, nothing deleted there
    assert not (out / "results" / "scores.csv").is_symlink() and not (out / "linked").exists()


def test_out_that_is_a_link_is_refused(cohort, tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert _run(cohort, tmp_path / "link") == 2
    assert "it is a symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("where, words", [
    ("config", "holds the cohort config"),
    ("cwd", "holds the current folder"),
    ("git", "it is the root of a git work tree"),
    ("file", "it is a file, not a folder"),
    ("under_file", "a part of the path is a file, not a folder"),
])
def test_folders_that_must_never_be_replaced(tmp_path, monkeypatch, capsys, where, words):
    cfg = _cohort(tmp_path / "c")
    outs = {"config": tmp_path / "c", "cwd": tmp_path / "work", "git": tmp_path / "repo", "file": tmp_path / "f",
            "under_file": tmp_path / "f" / "report"}
    (tmp_path / "work").mkdir()
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "f").write_text("a file")
    monkeypatch.chdir(tmp_path / "work")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert _run(cfg, outs[where], "--force") == 2
    err = capsys.readouterr().err
    assert words in err and "choose another --out" in err and str(outs[where]) in err
    assert sorted(str(p) for p in tmp_path.rglob("*") if ".salt" not in p.name) == before


def test_out_holding_a_data_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _cohort(tmp_path / "c")
    (tmp_path / "c" / "data").mkdir()
    (tmp_path / "c" / "children.csv").rename(tmp_path / "c" / "data" / "children.csv")
    (tmp_path / "c" / "configs").mkdir()
    moved = tmp_path / "c" / "configs" / "cohort.yml"
    moved.write_text(cfg.read_text().replace("file: children.csv", "file: ../data/children.csv"))
    assert _run(moved, tmp_path / "c" / "data", "--force") == 2
    assert "holds the data file children.csv" in capsys.readouterr().err


def test_top_level_folder_is_refused_even_with_force(cohort, capsys):
    assert _run(cohort, "/proc", "--force") == 2  # /proc: harmless if the refusal ever failed (it cannot be moved)
    assert "it is a top-level folder or a mount point" in capsys.readouterr().err


def test_repository_root_is_refused(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["report", "data/sample/cohort.yml", "--out", ".", "--no-notebooks", "--force"]) == 2
    assert f"cannot write the report to {ROOT}" in capsys.readouterr().err
    assert (ROOT / "notebooks" / "01_data_quality.ipynb").is_file()


# ------------------------------------------------------------------ the salt

def test_salt_inside_out_is_refused(cohort, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("EVALKIT_SALT_FILE", str(out / "results" / ".salt"))
    assert _run(cohort, out) == 2
    assert "the pseudonym salt" in capsys.readouterr().err and not out.exists()


def test_salt_inside_another_report_is_refused(cohort, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    assert _run(cohort, shared) == 0
    monkeypatch.setenv("EVALKIT_SALT_FILE", str(shared / "results" / ".salt"))
    assert _run(cohort, tmp_path / "out") == 2
    assert f"inside the evalkit report folder {shared}" in capsys.readouterr().err
    assert not (shared / "results" / ".salt").exists() and not (tmp_path / "out").exists()


def test_config_inside_a_report_folder_cannot_keep_its_salt_there(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert _run(_cohort(tmp_path / "c"), out) == 0
    cfg = _cohort(out / "results" / "c2")  # someone keeps a config in a shared folder
    assert _run(cfg, tmp_path / "out2") == 2
    assert "inside the evalkit report folder" in capsys.readouterr().err


# ------------------------------------------------------------------ disks that cannot be written

@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EROFS, "Read-only file system"),
                                         (errno.EACCES, "Permission denied")])
def test_disk_errors_exit_2_and_keep_the_previous_report(cohort, tmp_path, monkeypatch, capsys, code, words):
    out = tmp_path / "out"
    assert _run(cohort, out) == 0
    old = (out / "manifest.json").read_bytes()
    real_save = ek.save

    def failing_save(data, results_dir):
        real_save(data, results_dir)
        raise OSError(code, os.strerror(code), str(Path(results_dir) / "scores.csv"))

    monkeypatch.setattr(ek, "save", failing_save)
    capsys.readouterr()
    assert _run(cohort, out) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evalkit: error: cannot write the report to {out}: {words}") and "choose another --out" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "manifest.json").read_bytes() == old and _siblings(out) == []


def test_lock_that_cannot_be_written_exits_2(cohort, tmp_path, monkeypatch, capsys):
    import evalkit.runner as runner

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(runner, "lock_output", read_only)
    assert _run(cohort, tmp_path / "out") == 2
    assert "Read-only file system; choose another --out" in capsys.readouterr().err


# ------------------------------------------------------------------ notebook folder, batch names

def test_relative_notebook_dir(cohort, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "notebooks", tmp_path / "books")
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(cohort), "--out", "out", "--notebook-dir", "books"]) == 0
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "02_child_outcomes.html").is_file()


def test_batch_folder_names_are_unique():
    from evalkit.batch import slugs

    names = slugs(["a/north cohort.yml", "b/north-cohort.yml", "c/North_Cohort.yml", "d/north  cohort.yml",
                   "e/...yml"])
    assert names == ["north-cohort", "north-cohort-2", "North_Cohort", "north-cohort-3", "cohort"]
    assert len({n.lower() for n in names}) == len(names)


def test_batch_into_a_file_exits_2(cohort, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["batch", str(cohort), "--out", str(tmp_path / "f")]) == 2
    assert "it is a file or a link, not a folder" in capsys.readouterr().err


# ------------------------------------------------------------------ family 7: the cache

class _Touch:
    """Unpickling this creates a file: what a planted pickle could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_planted_pickle_is_never_loaded(cohort, tmp_path):
    results = tmp_path / "out" / "results"
    assert _run(cohort, tmp_path / "out") == 0
    pickle.loads(pickle.dumps(_Touch(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()  # the planted pickle does run code when unpickled
    pwned = tmp_path / "pwned"
    (results / ek.CACHE).write_bytes(pickle.dumps(_Touch(pwned)))
    data = ek.load(str(cohort), str(results))
    assert not pwned.exists()
    assert data.results["child_outcomes"]["n"].max() == 12  # recomputed from the data


def test_tampered_signed_cache_is_never_loaded(cohort, tmp_path):
    results = tmp_path / "out" / "results"
    assert _run(cohort, tmp_path / "out") == 0
    raw = (results / ek.CACHE).read_bytes()
    assert raw.startswith(b"EVALKIT-SIGNED-CACHE-1 ")
    head, payload = raw.split(b"\n", 1)
    pwned = tmp_path / "pwned"
    (results / ek.CACHE).write_bytes(head + b"\n" + pickle.dumps(_Touch(pwned)))  # old signature, new body
    ek.load(str(cohort), str(results))
    assert not pwned.exists()


def test_signed_cache_is_used(cohort, tmp_path, monkeypatch):
    results = tmp_path / "out" / "results"
    assert _run(cohort, tmp_path / "out") == 0

    def no_recompute(*args, **kwargs):
        raise AssertionError("the signed cache should have been used")

    monkeypatch.setattr(ek, "compute", no_recompute)
    data = ek.load(str(cohort), str(results))
    assert data.salt and data.results["child_outcomes"]["n"].max() == 12


def test_cache_signed_with_another_salt_is_refused(cohort, tmp_path, monkeypatch):
    results = tmp_path / "out" / "results"
    assert _run(cohort, tmp_path / "out") == 0
    monkeypatch.setenv("EVALKIT_SALT_FILE", str(tmp_path / "other.salt"))
    calls = []
    monkeypatch.setattr(ek, "compute", lambda *a, **k: calls.append(a) or "recomputed")
    assert ek.load(str(cohort), str(results)) == "recomputed" and calls


def test_cache_is_not_written_without_a_salt(cohort, tmp_path):
    data = ek.compute(str(cohort))
    data.salt = ""
    ek.save(data, tmp_path / "r")
    assert (tmp_path / "r" / "scores.csv").is_file() and not (tmp_path / "r" / ek.CACHE).exists()


# ------------------------------------------------------------------ the pending marker

def test_stale_pending_marker_is_ignored_at_once(tmp_path):
    (tmp_path / ek.PENDING).write_text("999999999\n")  # a killed run's marker
    t0 = time.monotonic()
    ek._wait_for(tmp_path, tmp_path / ek.CACHE, timeout=30)
    assert time.monotonic() - t0 < 1
    (tmp_path / ek.PENDING).write_text("analysing\n")  # an old marker without a pid
    t0 = time.monotonic()
    ek._wait_for(tmp_path, tmp_path / ek.CACHE, timeout=30)
    assert time.monotonic() - t0 < 1


def test_live_pending_marker_is_waited_for(tmp_path):
    (tmp_path / ek.PENDING).write_text(ek.pending_text())  # this process is "still analysing"
    t0 = time.monotonic()
    ek._wait_for(tmp_path, tmp_path / ek.CACHE, timeout=0.5)
    assert time.monotonic() - t0 >= 0.5


# ------------------------------------------------------------------ kernels started early

def test_a_data_error_stops_the_early_kernels_and_exits_2(tmp_path, monkeypatch, capsys):
    """`evalkit report` starts its kernels before cleaning (they import while it cleans): a data problem
    found by the cleaning still exits 2 with its one-line message, writes nothing, and leaves no kernel
    process behind (psutil: no child of this process survives the run)."""
    import psutil

    monkeypatch.chdir(tmp_path)
    bad = ROOT / "tests" / "data" / "bad" / "every_timepoint_unknown" / "cohort.yml"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    out = tmp_path / "out"
    assert main(["report", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evalkit: error: ") and "Traceback" not in err
    assert not out.exists() and _siblings(out) == []
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


def test_a_failed_cohort_releases_the_batch_analysis_lock(tmp_path, monkeypatch, cohort):
    """evalkit batch analyses one cohort at a time (report(..., analysis_lock=...)): a cohort that fails,
    in its cleaning or after it, must let the next one in, or the batch would wait forever."""
    import threading

    from evalkit.errors import EvalkitError
    from evalkit.runner import report

    lock = threading.Lock()
    bad = ROOT / "tests" / "data" / "bad" / "every_timepoint_unknown" / "cohort.yml"
    with pytest.raises(EvalkitError):
        report(bad, out_dir=tmp_path / "bad-out", notebooks=False, analysis_lock=lock)
    assert not lock.locked()
    monkeypatch.setattr("evalkit.report.notebook.report_data", lambda *a, **k: (_ for _ in ()).throw(
        EvalkitError("analysis failed")))
    with pytest.raises(EvalkitError):
        report(cohort, out_dir=tmp_path / "out", notebooks=False, analysis_lock=lock)
    assert not lock.locked()
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert report(cohort, out_dir=tmp_path / "out2", notebooks=False, analysis_lock=lock)["status"] == "ok"
    assert not lock.locked()
