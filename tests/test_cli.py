"""The command line: exit codes, messages without tracebacks, and the files `report` writes."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import EAQ_ITEMS, write_cohort
from evalkit.cli import main


def test_validate_sample_prints_accounting_and_exits_0(sample_config, capsys):
    assert main(["validate", str(sample_config)]) == 0
    out = capsys.readouterr().out
    assert "accounting identity holds: yes" in out
    assert "conflicting duplicate" in out and "out of range" in out and "The data is usable." in out


def test_validate_bad_config_exits_2_without_traceback(tmp_path, capsys):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: missing.csv}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evalkit: error: file ") and "missing.csv" in err and "Traceback" not in err


def test_report_writes_cleaning_log_and_scores(tmp_path):
    frame = pd.DataFrame([{"child_id": i, "timepoint": tp, **{q: 2 for q in EAQ_ITEMS}}
                          for i in ("a", "b") for tp in ("pre", "post")])
    cfg = write_cohort(tmp_path / "in", children=frame)
    assert main(["report", str(cfg), "--out", str(tmp_path / "out"), "--no-notebooks"]) == 0
    results = tmp_path / "out" / "results"
    log = pd.read_csv(results / "cleaning_log.csv")
    assert list(log.columns)[:8] == ["section", "file", "row", "id", "column", "action", "reason", "detail"]
    scores = pd.read_csv(results / "scores.csv")
    assert len(scores) == 4 and {"differentiating", "analyses"} <= set(scores.columns)
    assert scores[["section", "id", "timepoint"]].iloc[0].tolist() == ["children", "a", "pre"]


def test_console_script_and_module_entry_points(tmp_path):
    bad = tmp_path / "c.yml"
    bad.write_text("colour: red\n")
    exe = Path(sys.executable).with_name("evalkit")
    for cmd in ([str(exe)], [sys.executable, "-m", "evalkit"]):
        run = subprocess.run(cmd + ["validate", str(bad)], capture_output=True, text=True)
        assert run.returncode == 2, run.stderr
        assert "unknown key 'colour'" in run.stderr and "Traceback" not in run.stderr


def test_broken_pipe_exits_quietly(sample_config):
    """`evalkit validate c.yml | head -1`: the reader goes away; no traceback, exit 141 (128 + SIGPIPE)."""
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "validate", str(sample_config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before evalkit prints anything
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert err == "", err


def test_broken_pipe_after_the_first_line(sample_config):
    run = subprocess.run(f"'{sys.executable}' -m evalkit validate '{sample_config}' | head -1; "
                         f"echo \"status ${{PIPESTATUS[0]}}\"", shell=True, executable="/bin/bash",
                         capture_output=True, text=True)
    assert run.stdout.startswith("check the questionnaire: ") and run.stdout.rstrip().endswith(
        ("status 0", "status 141"))  # 0 when everything fitted in the pipe before head closed it
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr


def test_internal_error_is_one_line_and_a_log(tmp_path, monkeypatch, capsys, sample_config):
    import evalkit.runner

    def bug(*args, **kwargs):
        raise RuntimeError("child C0042 said something")

    monkeypatch.setattr(evalkit.runner, "report", bug)
    out = tmp_path / "reports" / "sample"
    (tmp_path / "reports").mkdir()
    assert main(["report", str(sample_config), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    log = tmp_path / "reports" / "evalkit-error.log"
    assert err == f"evalkit: internal error (RuntimeError): please report it; details in {log}\n"
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: child C0042 said something" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600" and not out.exists()


def test_internal_error_in_validate_logs_to_the_temporary_folder(monkeypatch, capsys, sample_config):
    import tempfile

    import evalkit.validate

    monkeypatch.setattr(evalkit.validate, "validate", lambda *a, **k: {}["missing key"])
    assert main(["validate", str(sample_config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit: internal error (KeyError): please report it; details in ")
    path = Path(err.rsplit("details in ", 1)[1].strip())
    assert path.parent == Path(tempfile.gettempdir()) and path.name.startswith("evalkit-error-")
    assert "KeyError" in path.read_text() and len(err.splitlines()) == 1
    path.unlink()


def test_internal_error_when_out_parent_is_missing_logs_to_the_temporary_folder(tmp_path, monkeypatch, capsys,
                                                                                 sample_config):
    import tempfile

    import evalkit.runner

    monkeypatch.setattr(evalkit.runner, "report", lambda *a, **k: 1 / 0)
    assert main(["report", str(sample_config), "--out", str(tmp_path / "no" / "such" / "out")]) == 1
    path = Path(capsys.readouterr().err.rsplit("details in ", 1)[1].strip())
    assert path.parent == Path(tempfile.gettempdir()) and "ZeroDivisionError" in path.read_text()
    path.unlink()
