"""The attack corpus (tests/data/attack/, written by its make_attack.py): issue 9's promises under attack.

Each case is copied to a temporary folder, its setup steps run, then ``evalkit`` runs in-process with
the case's arguments. Whatever the outcome:

* the exit code is the expected one and no traceback reaches the screen;
* a user problem (exit 2) is one line ``evalkit: error: ...`` holding the expected words;
* the input files are byte for byte what they were (SHA-256), setups aside;
* rows in = kept + excluded where the case counts rows;
* for privacy cases, no planted text appears in any shareable file of the output folder
  (HTML pages, index, manifest.json, executed notebooks, summary.docx), and no markup listed in
  ``html_forbidden`` appears unescaped in any page;
* every run that reports (exit 0) passes the disclosure check (no small count shown or recoverable
  by subtraction or from a percentage) and the identifier scan (no raw id or data text).
"""
from __future__ import annotations

import builtins
import glob
import hashlib
import html
import importlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from evalkit.cli import main

ATTACK = Path(__file__).parent / "data" / "attack"
CASES = sorted(p.name for p in ATTACK.iterdir() if (p / "expected.yml").is_file())


def _expected(name):
    return yaml.safe_load((ATTACK / name / "expected.yml").read_text(encoding="utf-8"))


def _hashes(folder):
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.name != "expected.yml":
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def shareable_texts(out):
    """(path, text) of every file under ``out`` that is meant for sharing or could be mistaken for it."""
    out = Path(out)
    if not out.is_dir():
        return []
    texts = []
    for p in sorted(out.rglob("*")):
        if not p.is_file() or "results" in p.relative_to(out).parts:
            continue
        if p.suffix in {".html", ".ipynb", ".json", ".md", ".txt", ".csv"}:
            texts.append((p, p.read_text(encoding="utf-8", errors="replace")))
        elif p.suffix in {".docx", ".zip"}:
            with zipfile.ZipFile(p) as z:
                texts.append((p, "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                                           if n.endswith((".xml", ".html", ".json", ".txt")))))
    return texts


def _fill(value, case, out):
    if isinstance(value, str):
        return value.replace("{case}", str(case)).replace("{out}", str(out))
    if isinstance(value, list):
        return [_fill(v, case, out) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, case, out) for k, v in value.items()}
    return value


def _setup(steps, case, out, monkeypatch, capsys):
    for step in steps or []:
        (kind, arg), = step.items()
        arg = _fill(arg, case, out)
        if kind == "mkfifo":
            os.mkfifo(arg)
        elif kind == "mkdir":
            Path(arg).mkdir(parents=True, exist_ok=True)
        elif kind == "write":
            Path(arg["path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(arg["path"]).write_text(arg["text"], encoding="utf-8")
        elif kind == "symlink":
            Path(arg["link"]).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(arg["target"], arg["link"])
        elif kind == "run":
            main(arg)
            capsys.readouterr()
        elif kind == "env":
            for key, value in arg.items():
                monkeypatch.setenv(key, value)
        elif kind == "lock":  # a lock file naming a live process (this one), as a run still writing leaves it
            Path(arg).parent.mkdir(parents=True, exist_ok=True)
            Path(arg).write_text(f"{os.getpid()}\n", encoding="utf-8")
        elif kind == "raise":  # a bug, simulated: {target: module.function, error: builtin name, message: text}
            module, attr = arg["target"].rsplit(".", 1)
            error = getattr(builtins, arg.get("error", "RuntimeError"))

            def fail(*args, _error=error, _text=arg.get("message", "planted bug"), **kwargs):
                raise _error(_text)

            monkeypatch.setattr(importlib.import_module(module), attr, fail)
        else:  # pragma: no cover - a corpus typo
            raise AssertionError(f"unknown setup step {kind}")


def test_the_corpus_covers_every_family():
    families = [_expected(c)["family"] for c in CASES]
    assert len(CASES) >= 40
    assert set(families) == set(range(1, 11)), sorted(set(families))


@pytest.mark.parametrize("name", CASES)
def test_attack(name, tmp_path, monkeypatch, capsys):
    want = _expected(name)
    case = tmp_path / "case"
    shutil.copytree(ATTACK / name, case, symlinks=True)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    _setup(want.get("setup"), case, out, monkeypatch, capsys)
    before = _hashes(case)

    code = main(_fill(want["argv"], case, out))
    stdout, stderr = capsys.readouterr()

    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert code == want["exit"], f"{name}: exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), stderr
    for words in want.get("message", []):
        assert words in (stderr if code else stdout + stderr), f"{name}: {words!r} not in\n{stdout}\n{stderr}"

    after = _hashes(case)  # new files (the pseudonym salt beside the config) are allowed; changes are not
    assert {k: after.get(k) for k in before} == before, "an input file was modified"

    # every row accounted for, in every case whose data can be cleaned: rows in = kept + excluded per file
    from evalkit.data.pipeline import prepare_cohort
    from evalkit.errors import EvalkitError

    try:
        cohort = prepare_cohort(case / "cohort.yml") if (case / "cohort.yml").is_file() else None
    except EvalkitError:
        cohort = None
        assert not {"kept", "excluded"} & set(want), f"{name}: the cohort cannot be cleaned"
    if cohort is not None:
        rows, summary = cohort.rows, cohort.summary
        assert set(rows["status"]) <= {"kept", "excluded"}
        assert (rows.loc[rows["status"] == "excluded", "reason"] != "").all()
        assert (summary["rows_in"] == summary["rows_kept"] + summary["rows_excluded"]).all()
        assert int((rows["status"] == "kept").sum()) == want.get("kept", int((rows["status"] == "kept").sum()))
        assert int((rows["status"] == "excluded").sum()) == want.get(
            "excluded", int((rows["status"] == "excluded").sum()))

    for path in want.get("absent", []):  # e.g. a stale page, or a file a planted link or pickle would create
        assert not glob.glob(_fill(path, case, out)), f"{name}: {path} should not exist"
    for path in want.get("present", []):  # e.g. a file outside the folder that a link points at
        assert glob.glob(_fill(path, case, out)), f"{name}: {path} should exist"

    for raw in want.get("html_forbidden", []):  # markup that must never reach a page unescaped
        for path, text in _html_texts(out):
            assert raw not in text, f"{name}: raw {raw!r} in {path}"

    if code == 0:
        _check_shareable(want, case, out)

    planted = [str(p) for p in want.get("planted", [])]
    if planted:
        texts = shareable_texts(out)
        if want["exit"] == 0:
            assert texts, f"{name}: the run wrote no shareable file to check"
        for path, text in texts:
            for secret in planted:
                for form in {secret, html.escape(secret), html.escape(secret, quote=False)}:
                    assert form not in text, f"{name}: planted {secret!r} found in {path.relative_to(out)}"


def _html_texts(out):
    """(name, text) of every HTML page under ``out``, and of every HTML page inside a zip there."""
    out = Path(out)
    texts = []
    for p in sorted(out.rglob("*")) if out.is_dir() else []:
        if p.suffix == ".html" and p.is_file():
            texts.append((str(p.relative_to(out)), p.read_text(encoding="utf-8", errors="replace")))
        elif p.suffix == ".zip" and p.is_file():
            with zipfile.ZipFile(p) as z:
                texts += [(f"{p.name}:{n}", z.read(n).decode("utf-8", "replace")) for n in z.namelist()
                          if n.endswith(".html")]
    return texts


def _check_shareable(want, case, out):
    """Issue 9: the subtraction check and the identifier scan run on every corpus cohort that reports."""
    from evalkit.data.config import load_config
    from evalkit.report.privacy import disclosure_check, identifier_scan

    argv = _fill(want["argv"], case, out)
    if argv[0] == "report" and "--out" in argv and argv[1].endswith(".yml"):
        folders = [(Path(argv[argv.index("--out") + 1]), Path(argv[1]))]
    elif argv[0] == "share":
        folders = [(Path(argv[1]), None)]
    else:
        return
    for folder, config in folders:
        if not (folder / "manifest.json").is_file():
            continue
        config = config or Path(yaml.safe_load((folder / "manifest.json").read_text())["config_path"])
        min_cell = load_config(config).disclosure["min_cell"]
        found = disclosure_check(folder, min_cell)
        assert found.empty, f"small counts shown or recoverable:\n{found.to_string()}"
        found = identifier_scan(folder, config=config)
        assert found.empty, f"raw ids or data text in shareable files:\n{found.to_string()}"
