"""Every malformed input in tests/data/bad/ ends in one clear message (exit 2) or a logged action (exit 0).

Each case folder holds tiny data files, a ``cohort.yml`` and an ``expected.yml``
(see ``tests/data/bad/make_corpus.py``, which wrote them). ``evalkit validate``
is run through :func:`evalkit.cli.main`; then, whatever the outcome:

* no traceback, and a user problem is one line ``evalkit: error: ...`` naming a
  file or a config key;
* every data file that could be read satisfies rows in = kept + excluded, and
  its rows in equal the count written in ``expected.yml`` (counted by hand);
* the input files are byte for byte what they were (SHA-256).
"""
import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evalkit.data.cleaning import accounting, clean_section, read_section
from evalkit.cli import main
from evalkit.data.config import load_config
from evalkit.errors import EvalkitError
from evalkit.data.instruments import load_instrument
from evalkit.data.pipeline import prepare_cohort

BAD = Path(__file__).parent / "data" / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if (p / "expected.yml").is_file())
LOG_KEYS = {"section", "file", "row", "id", "column", "action", "reason", "detail"}


def _expected(name):
    return yaml.safe_load((BAD / name / "expected.yml").read_text(encoding="utf-8"))


def _hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(cohort_or_rows):
    return cohort_or_rows.rows if hasattr(cohort_or_rows, "rows") else cohort_or_rows


def _section_rows(cfg_path):
    """The row ledger of every section that can be read and cleaned, even when it is unusable afterwards."""
    try:
        cfg = load_config(cfg_path)
    except EvalkitError:
        return None
    ledgers = []
    for scfg in cfg.sections.values():
        try:
            instrument = load_instrument(scfg.instrument, base=cfg.path.parent)
            frames, _, _ = read_section(scfg, instrument=instrument)
        except EvalkitError:
            return None
        ledgers.append(clean_section(frames, section_cfg=scfg, instrument=instrument, analysis=cfg.analysis)["rows"])
    return pd.concat(ledgers, ignore_index=True)


def test_the_corpus_covers_the_brief():
    assert len(CASES) >= 25
    exits = [_expected(c)["exit"] for c in CASES]
    assert exits.count(0) >= 10 and exits.count(2) >= 10


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, capsys):
    folder = BAD / name
    want = _expected(name)
    before = _hashes(folder)

    code = main(["validate", str(folder / "cohort.yml")])
    out, err = capsys.readouterr()

    assert "Traceback" not in out + err
    assert code == want["exit"], f"{name}: exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), err
        assert "file " in lines[0] or "column '" in lines[0], f"the message names no file or key: {err}"
        for words in want.get("message", []):
            assert words in lines[0], f"{name}: {words!r} not in {lines[0]!r}"
    else:
        assert err == "", err
        for words in want.get("stdout", []):
            assert words in out, f"{name}: {words!r} not in the printed report:\n{out}"

    # accounting, on everything that could be read (also when the section turned out unusable)
    ledger = _section_rows(folder / "cohort.yml")
    if ledger is not None:
        summary, _ = accounting(ledger)
        files = summary[summary["file"] != "all files"]
        assert (files["rows_in"] == files["rows_kept"] + files["rows_excluded"]).all()
        assert set(ledger["status"]) <= {"kept", "excluded"}
        assert (ledger.loc[ledger["status"] == "excluded", "reason"] != "").all()
        if "rows_in" in want:
            assert dict(zip(files["file"], files["rows_in"])) == want["rows_in"]
        if "kept" in want:
            assert int((ledger["status"] == "kept").sum()) == want["kept"]
        if "excluded" in want:
            assert int((ledger["status"] == "excluded").sum()) == want["excluded"]
    else:
        assert code == 2 and not {"rows_in", "kept", "excluded"} & set(want)

    if want.get("log"):
        log = prepare_cohort(folder / "cohort.yml").log
        for entry in want["log"]:
            entry = dict(entry)
            count = entry.pop("rows", None)
            assert set(entry) <= LOG_KEYS
            match = pd.Series(True, index=log.index)
            for key, value in entry.items():
                column = log[key].astype(str)
                match &= column.str.contains(str(value), regex=False) if key == "detail" else column == str(value)
            assert match.any(), f"{name}: no log row with {entry}:\n{log.to_string()}"
            if count is not None:
                assert int(match.sum()) == count, f"{name}: {int(match.sum())} log rows with {entry}, not {count}"

    assert _hashes(folder) == before, "an input file was modified"
