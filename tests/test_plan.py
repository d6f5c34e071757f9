"""``evalkit plan`` from the outside: its numbers against statsmodels' power classes, its errors exit 2.

Reference: statsmodels ``TTestPower`` (paired t, d_z) and ``TTestIndPower`` (two equal arms, d), solved here
independently of evalkit by counting up from 2 to the first whole n whose power reaches the target, then
inflated as issue 13 states: ceil(n x (1 + (group_size - 1) x icc) / (1 - attrition)), times 2 arms for a
comparison.
"""
import math
import re
import subprocess
import sys
from functools import lru_cache

import pytest
from statsmodels.stats.power import TTestIndPower, TTestPower

from evalkit.cli import main

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def reference_n(design, effect, power=0.8, alpha=0.05):
    """Smallest whole n reaching ``power``, by brute force over statsmodels' power function."""
    for n in range(2, 100_000):
        if design == "paired":
            reached = TTestPower().power(effect_size=effect, nobs=n, alpha=alpha, alternative="two-sided")
        else:
            reached = TTestIndPower().power(effect_size=effect, nobs1=n, ratio=1.0, alpha=alpha,
                                            alternative="two-sided")
        if reached >= power:
            return n
    raise AssertionError("no n found")


def reference_children(design, effect, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05):
    n = reference_n(design, effect, power, alpha)
    per_arm = math.ceil(round(n * (1 + (group_size - 1) * icc) / (1 - attrition), 9))
    return per_arm * (2 if design == "comparison" else 1)


def run(capsys, *args):
    """``evalkit plan ARGS`` through the CLI's entry point: (exit code, stdout lines, stderr)."""
    code = main(["plan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.mark.parametrize("design, effect, icc, group_size, attrition, power, alpha", [
    ("paired", 0.3, 0.0, 1, 0.0, 0.8, 0.05),
    ("paired", 0.3, 0.05, 8, 0.2, 0.8, 0.05),
    ("paired", 0.2, 0.1, 12, 0.35, 0.9, 0.01),
    ("comparison", 0.3, 0.0, 1, 0.0, 0.8, 0.05),
    ("comparison", 0.3, 0.05, 8, 0.2, 0.8, 0.05),
    ("comparison", 0.5, 0.02, 6, 0.1, 0.9, 0.05),
])
def test_children_to_recruit_equals_statsmodels_and_the_issue_formula(capsys, design, effect, icc, group_size,
                                                                       attrition, power, alpha):
    code, lines, err = run(capsys, "--design", design, "--effect", effect, "--icc", icc, "--group-size",
                           group_size, "--attrition", attrition, "--power", power, "--alpha", alpha)
    assert code == 0 and err == ""
    expected = reference_children(design, effect, icc, group_size, attrition, power, alpha)
    assert lines[0] == f"children to recruit: {expected}"
    assert len(lines) == 2  # the answer, then the calculation in one sentence
    sentence = lines[1]
    assert sentence.endswith("to recruit.") and sentence.count(". ") == 0
    assert sentence.startswith(f"{reference_n(design, effect, power, alpha)} ")
    assert ("TTestPower" if design == "paired" else "TTestIndPower") in sentence


def test_published_sizes_through_the_command(capsys):
    # Cohen (1988), chapter 2 sample-size tables: d = 0.5, two-sided alpha .05, power .80 -> 64 per group,
    # so 128 children
    assert run(capsys, "--design", "comparison", "--effect", 0.5)[1][0] == "children to recruit: 128"
    # G*Power 3.1, matched pairs d_z = 0.5, alpha .05, power .80 -> 34 pairs
    assert run(capsys, "--design", "paired", "--effect", 0.5)[1][0] == "children to recruit: 34"


def test_the_sentence_shows_the_inflation(capsys):
    lines = run(capsys, "--design", "comparison", "--effect", 0.3, "--icc", 0.05, "--group-size", 8,
                "--attrition", 0.2)[1]
    n = reference_n("comparison", 0.3)  # 176 per arm (statsmodels TTestIndPower)
    per_arm = math.ceil(n * 1.35 / 0.8)
    assert lines[0] == f"children to recruit: {2 * per_arm}"
    assert f"{n} children in each group" in lines[1] and "design effect 1.35" in lines[1]
    assert "20% of children lost" in lines[1] and f"{per_arm} children in each of the two groups" in lines[1]


@pytest.mark.parametrize("design, n, icc, group_size, attrition", [
    ("paired", 90, 0.0, 1, 0.0), ("paired", 120, 0.05, 8, 0.2), ("comparison", 600, 0.05, 8, 0.2),
    ("comparison", 128, 0.0, 1, 0.0)])
def test_minimum_detectable_effect_equals_statsmodels(capsys, design, n, icc, group_size, attrition):
    code, lines, _ = run(capsys, "--design", design, "--n", n, "--icc", icc, "--group-size", group_size,
                         "--attrition", attrition)
    assert code == 0
    match = re.fullmatch(r"minimum detectable effect: (\d\.\d{3})", lines[0])
    assert match, lines
    analysed = n / (2 if design == "comparison" else 1) * (1 - attrition) / (1 + (group_size - 1) * icc)
    if design == "paired":
        reference = TTestPower().solve_power(effect_size=None, nobs=analysed, alpha=0.05, power=0.8)
    else:
        reference = TTestIndPower().solve_power(effect_size=None, nobs1=analysed, ratio=1.0, alpha=0.05, power=0.8)
    assert float(match.group(1)) == pytest.approx(float(reference), abs=5e-4)
    assert len(lines) == 2 and lines[1].endswith(".")


def test_cohens_table_backwards(capsys):
    # Cohen (1988): 64 per group detect d = 0.5 with power .80 (the minimum detectable effect is just under 0.5)
    value = float(run(capsys, "--design", "comparison", "--n", 128)[1][0].split(": ")[1])
    assert 0.49 < value <= 0.5


@pytest.mark.parametrize("args, flag, fix", [
    (["--design", "paired", "--effect", "0"], "--effect 0", "above 0"),
    (["--design", "paired", "--effect", "-0.2"], "--effect -0.2", "above 0"),
    (["--design", "paired", "--effect", "nan"], "--effect nan", "finite number"),
    (["--design", "cluster", "--effect", "0.3"], "--design cluster", "paired or comparison"),
    (["--design", "paired", "--effect", "0.3", "--icc", "1"], "--icc 1", "up to (not including) 1"),
    (["--design", "paired", "--effect", "0.3", "--icc", "-0.1"], "--icc -0.1", "from 0"),
    (["--design", "paired", "--effect", "0.3", "--group-size", "0"], "--group-size 0", "1 or more"),
    (["--design", "paired", "--effect", "0.3", "--attrition", "1"], "--attrition 1", "up to (not including) 1"),
    (["--design", "paired", "--effect", "0.3", "--attrition", "-0.1"], "--attrition -0.1", "from 0"),
    (["--design", "paired", "--effect", "0.3", "--power", "1"], "--power 1", "between 0 and 1"),
    (["--design", "paired", "--effect", "0.3", "--power", "0"], "--power 0", "between 0 and 1"),
    (["--design", "paired", "--effect", "0.3", "--alpha", "0"], "--alpha 0", "between 0 and 1"),
    (["--design", "paired", "--effect", "0.3", "--alpha", "1.5"], "--alpha 1.5", "between 0 and 1"),
    (["--design", "paired"], "--effect", "--n"),
    (["--design", "paired", "--n", "1"], "--n 1", "2 or more"),
    (["--design", "paired", "--n", "3", "--attrition", "0.5"], "--n 3", "recruit more children"),
])
def test_bad_values_exit_2_naming_the_flag_and_the_fix(capsys, args, flag, fix):
    code, lines, err = run(capsys, *args)
    assert code == 2 and lines == []
    assert err.startswith("evalkit: error: ") and flag in err and fix in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_as_a_command_from_outside():
    """The installed entry point as a user runs it: ``python -m evalkit plan``, exit codes and streams."""
    ok = subprocess.run([sys.executable, "-m", "evalkit", "plan", "--design", "paired", "--effect", "0.3",
                         "--icc", "0.05", "--group-size", "8", "--attrition", "0.2"],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0] == f"children to recruit: {reference_children('paired', 0.3, 0.05, 8, 0.2)}"
    bad = subprocess.run([sys.executable, "-m", "evalkit", "plan", "--design", "paired", "--effect", "0.3",
                          "--icc", "1.2"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == ("evalkit: error: --icc 1.2 is not an intra-class correlation: give a value from 0 up to "
                          "(not including) 1, e.g. --icc 0.05\n")
