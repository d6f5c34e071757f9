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
