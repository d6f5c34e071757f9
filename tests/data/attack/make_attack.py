"""Write the attack corpus in tests/data/attack/<case>/ (issue 9: safe to share, under attack).

Each case is one way an attacker or a careless user breaks a promise of the README. Cases
are registered in the ``cases_*.py`` modules beside this file, one module per family of
issue 9, and written here; the generated files are committed and the tests never run this
script. Run it to change the corpus: ``python tests/data/attack/make_attack.py`` (it
rewrites every case folder it knows and leaves other files alone).

``expected.yml`` of a case (read by ``tests/test_attack.py``):

``family``
    1-10, the family of issue 9 the case belongs to.
``description``
    One line.
``argv``
    The ``evalkit`` arguments, with ``{case}`` (the case folder, copied to a temporary folder
    before the run, so setups may change it) and ``{out}`` (a fresh path beside it, not created).
``setup``
    Optional list of steps run before the command, each a one-key mapping:
    ``mkfifo: PATH``, ``mkdir: PATH``, ``write: {path: PATH, text: TEXT}``,
    ``symlink: {link: PATH, target: PATH}``, ``run: ARGV`` (an earlier evalkit run, any exit),
    ``env: {NAME: VALUE}``, ``lock: PATH`` (a lock file holding the pid of the test process, which is
    alive), ``raise: {target: MODULE.FUNCTION, error: BUILTIN, message: TEXT}`` (a bug, simulated: the
    function raises); paths may use ``{case}`` and ``{out}``.
``exit``
    The exit code.
``message``
    Words that must appear in standard error (exit 2) or standard output (exit 0).
``absent`` / ``present``
    Paths or glob patterns (with ``{case}``, ``{out}``) that must not exist / must exist after the run.
``planted``
    Texts from the data that must appear in no shareable file of ``{out}`` (privacy cases).
``kept`` / ``excluded``
    Rows kept and excluded over the section's files (accounting checked as rows in = kept + excluded).
"""
from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES = {}


def case(func):
    """Register a case (the folder is named after the function); the function writes the folder's files
    and returns the expected.yml mapping."""
    CASES[func.__name__] = func
    return func


def write_case(name, func):
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    expected = func(folder)
    (folder / "expected.yml").write_text(yaml.safe_dump(expected, sort_keys=False, allow_unicode=True),
                                         encoding="utf-8")


def main():
    # the case modules import this file as the module ``make_attack`` (not ``__main__``): read that registry
    registry = importlib.import_module("make_attack")
    for module in sorted(p.stem for p in HERE.glob("cases_*.py")):
        importlib.import_module(module)
    for name, func in registry.CASES.items():
        write_case(name, func)
    print(f"wrote {len(registry.CASES)} cases into {HERE}")


if __name__ == "__main__":
    main()
