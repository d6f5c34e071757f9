"""Tests of evalkit.report.findings: APA formatting and the sentence for every kind of outcome."""
import numpy as np
import pandas as pd
import pytest

from evalkit.data.cohort import Instrument, Subscale
from evalkit.report.findings import FINDINGS_COLUMNS, findings, format_number, format_p
from evalkit.stats import paired_outcomes, reliable_change

EAQ = Instrument(id="eaq30", name="EAQ", min=1, max=3, labels={}, scoring="mean", min_answered=0.8,
                 subscales=(Subscale("differentiating", "Differentiating Emotions", ("q1",)),))


def outcome(**overrides):
    """One paired_outcomes-like row (the example of the brief: 251 children, t(250) = 9.1)."""
    row = {"measure": "differentiating", "label": "Differentiating Emotions", "n": 251,
           "mean_pre": 1.84, "mean_post": 2.21, "mean_diff": 0.37, "median_diff": 0.33,
           "ci_low": 0.29, "ci_high": 0.45, "t": 9.1, "df": 250.0, "p": 1e-17,
           "p_holm": 6e-17, "wilcoxon_w": 20000.0, "wilcoxon_p": 1e-15,
           "rank_biserial": 0.61, "d_z": 0.57, "primary_test": "paired t", "p_primary": 1e-17,
           "p_primary_holm": 6e-17, "confidence": 0.95, "note": ""}
    row.update(overrides)
    return pd.DataFrame([row])


@pytest.mark.parametrize("p, text", [
    (0.0004, "p < .001"), (0.001, "p = .001"), (0.0344, "p = .034"), (0.0345, "p = .035"),
    (0.05, "p = .050"), (0.9994, "p = .999"), (0.9996, "p > .999"), (np.nan, ""),
])
def test_format_p_apa(p, text):
    assert format_p(p) == text


def test_format_number_uses_true_minus_and_no_negative_zero():
    assert format_number(-1.234) == "\u22121.23"
    assert format_number(0.004, sign=True) == "0.00"
    assert format_number(-0.004) == "0.00"
    assert format_number(np.nan) == "NA"


def test_rise_sentence_matches_the_brief_example():
    out = findings(outcome(), instrument=EAQ, population="children")
    assert list(out.columns) == FINDINGS_COLUMNS
    assert out.loc[0, "sentence"] == (
        "Differentiating Emotions scores rose from 1.84 to 2.21 on the 1\u20133 scale "
        "(mean change +0.37, 95% CI 0.29 to 0.45; t(250) = 9.10, p < .001, Holm-adjusted; "
        "d_z = 0.57), 251 matched children.")
    assert out.loc[0, "direction"] == "rose" and out.loc[0, "p_reported"] == "p < .001"


def test_fall_sentence():
    row = outcome(mean_pre=2.21, mean_post=1.84, mean_diff=-0.37, ci_low=-0.45, ci_high=-0.29,
                  t=-9.1, d_z=-0.57, p_primary_holm=0.034)
    text = findings(row, instrument=EAQ).loc[0, "sentence"]
    assert text.startswith("Differentiating Emotions scores fell from 2.21 to 1.84")
    assert "mean change \u22120.37, 95% CI \u22120.45 to \u22120.29" in text
    assert "p = .034, Holm-adjusted" in text


def test_non_significant_sentence():
    row = outcome(mean_post=1.86, mean_diff=0.02, ci_low=-0.05, ci_high=0.09, t=0.6, d_z=0.04,
                  p_primary_holm=0.55)
    out = findings(row, instrument=EAQ)
    assert out.loc[0, "direction"] == "no significant change"
    assert out.loc[0, "sentence"].startswith(
        "Differentiating Emotions scores did not change significantly (1.84 before and 1.86 after "
        "on the 1\u20133 scale;")
    assert "p = .550, Holm-adjusted" in out.loc[0, "sentence"]


def test_wilcoxon_primary_sentence():
    row = outcome(n=24, primary_test="Wilcoxon", wilcoxon_w=230.5, p_primary_holm=0.004,
                  rank_biserial=0.54, df=23.0)
    text = findings(row, instrument=EAQ).loc[0, "sentence"]
    assert "median change +0.33, mean change +0.37" in text
    assert "Wilcoxon signed-rank W = 230.5, p = .004, Holm-adjusted; rank-biserial r = 0.54" in text
    assert text.endswith("24 matched children.")


def test_not_tested_sentence_hides_small_counts():
    row = outcome(n=2, primary_test="none", p_primary_holm=np.nan,
                  note="fewer than 3 matched pairs: tests not computed")
    out = findings(row, instrument=EAQ, population="facilitators")
    assert out.loc[0, "direction"] == "not tested"
    assert out.loc[0, "sentence"] == ("Differentiating Emotions was not tested: fewer than 3 "
                                      "matched pairs: tests not computed (fewer than 5 matched "
                                      "facilitators).")
    assert out.loc[0, "p_reported"] == ""


def test_reliable_change_sentence_and_real_pipeline():
    rng = np.random.default_rng(4)
    pre = rng.normal(2, 0.4, 40)
    post = pre + rng.normal(0.3, 0.3, 40)
    ids = [f"c{i}" for i in range(40)]
    scores = pd.DataFrame({"id": ids * 2, "timepoint": ["pre"] * 40 + ["post"] * 40,
                           "differentiating": np.r_[pre, post]})
    out = paired_outcomes(scores, measures=["differentiating"],
                          labels={"differentiating": "Differentiating Emotions"})
    rc = reliable_change(scores, measures=["differentiating"], reliability={"differentiating": 0.8})
    text = findings(out, instrument=EAQ, reliable_change=rc).loc[0, "sentence"]
    pct = rc.loc[0, "improved_pct"]
    assert f"Reliable change (Jacobson\u2013Truax, r = .80): {pct:.0f}% improved" in text
    assert f"t(39) = {out.loc[0, 't']:.2f}" in text


# --------------------------------------------------------------------------- issue 9: min_cell from the config

def test_min_cell_from_the_config_hides_a_count_below_it():
    row = outcome(n=7, df=6.0)
    assert findings(row, instrument=EAQ).loc[0, "sentence"].endswith(", 7 matched children.")
    text = findings(row, instrument=EAQ, min_cell=10).loc[0, "sentence"]
    assert text.endswith(", fewer than 10 matched children.") and " 7 matched" not in text


def _rc(improved, no_change, deteriorated):
    n = improved + no_change + deteriorated
    return pd.DataFrame([{"measure": "differentiating", "n": n, "r_used": 0.62, "note": "",
                          "improved": improved, "no_change": no_change, "deteriorated": deteriorated,
                          "improved_pct": 100 * improved / n, "no_change_pct": 100 * no_change / n,
                          "deteriorated_pct": 100 * deteriorated / n}])


def test_reliable_change_sentence_hides_the_share_that_would_give_a_small_one_away():
    # the sample cohort: 26 improved, 242 unchanged, 1 deteriorated; 10% + 90% would leave 0-1%
    text = findings(outcome(n=269), instrument=EAQ, reliable_change=_rc(26, 242, 1)).loc[0, "sentence"]
    assert ("Reliable change (Jacobson\u2013Truax, r = .62): a number not shown improved, 90% did not change "
            "reliably, fewer than 5 people deteriorated (not shown so that a small number cannot be worked "
            "out).") in text
    assert "10%" not in text


def test_reliable_change_sentence_follows_min_cell():
    shown = findings(outcome(n=270), instrument=EAQ, reliable_change=_rc(23, 238, 9)).loc[0, "sentence"]
    assert "9% improved, 88% did not change reliably, 3% deteriorated." in shown
    hidden = findings(outcome(n=270), instrument=EAQ, reliable_change=_rc(23, 238, 9),
                      min_cell=10).loc[0, "sentence"]
    assert "fewer than 10 people deteriorated" in hidden and "3%" not in hidden and "9%" not in hidden
