"""Results at scale: a generated 10,000-child cohort, every key figure recomputed independently.

The vectorised statistics (pre/post split once per section, factor codes,
cached item covariance matrices, closed-form ANOVA/ANCOVA) must give the same
numbers on a national-scale cohort as a direct computation: scores rebuilt
from the raw CSV answers with pandas, then scipy's ``ttest_rel`` and
``f_oneway`` and numpy's alpha formula. No timing is asserted here (see
``benchmarks/``).
"""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from evalkit.data.instruments import load_instrument
from evalkit.notebook import analyse
from evalkit.data.pipeline import prepare_cohort
from evalkit.sample import write_sample

N_CHILDREN = 10_000
SEED = 2026
DROPOUT_EVERY = 20  # remove the post questionnaire of every 20th child: 500 dropouts


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    # the pre-post design: the independent recounts below know no arms, groups or follow-up
    write_sample(folder, n_children=N_CHILDREN, seed=SEED, messy=False, xlsx_site=False, design="pre-post")
    planted = json.loads((folder / "planted.json").read_text())
    raw, dropped = [], set()
    for path in sorted(folder.glob("children_site_*.csv")):
        frame = pd.read_csv(path)
        number = frame["child_id"].str[1:].astype(int)
        drop = (frame["timepoint"] == "post") & (number % DROPOUT_EVERY == 0)
        dropped.update(frame.loc[drop, "child_id"])
        frame = frame.loc[~drop]
        frame.to_csv(path, index=False)
        raw.append(frame)
    cohort = prepare_cohort(folder / "cohort.yml")
    return {"cohort": cohort, "results": analyse(cohort), "raw": pd.concat(raw, ignore_index=True),
            "planted": planted["children"], "dropped": dropped}


@pytest.fixture(scope="module")
def independent(cohort):
    """Subscale scores from the raw answers: reverse items keyed (min + max - answer), mean of items."""
    inst = load_instrument("eaq30")
    raw = cohort["raw"]
    keyed = raw[list(inst.items)].astype(float)
    for sub in inst.subscales:
        for item in sub.reverse:
            keyed[item] = inst.min + inst.max - keyed[item]
    scores = raw[["child_id", "timepoint", "delivery"]].copy()
    for sub in inst.subscales:
        scores[sub.id] = keyed[list(sub.items)].mean(axis=1)
    return scores, keyed.assign(timepoint=raw["timepoint"].to_numpy())


def wide(scores, measure):
    w = scores.pivot(index="child_id", columns="timepoint", values=measure).dropna()
    w["delivery"] = scores.loc[scores["timepoint"] == "pre"].set_index("child_id")["delivery"]
    return w


def test_matched_pairs_equal_the_generator_count(cohort):
    expected = cohort["planted"]["n_with_both"] - len(cohort["dropped"])
    assert expected == N_CHILDREN - N_CHILDREN // DROPOUT_EVERY
    outcomes = cohort["results"]["child_outcomes"]
    assert (outcomes["n"] == expected).all()
    scores = cohort["cohort"].children.scores
    assert int(scores.loc[scores["timepoint"] == "pre", "matched"].sum()) == expected


def test_scores_equal_an_independent_scoring_of_the_raw_answers(cohort, independent):
    mine, _ = independent
    theirs = cohort["cohort"].children.scores
    mine = mine.assign(id=mine["child_id"].str.lower())  # cleaning matches ids case-insensitively
    merged = mine.merge(theirs, on=["id", "timepoint"], suffixes=("", "_evalkit"),
                        validate="one_to_one")
    assert len(merged) == len(mine) == len(theirs)
    for sub in load_instrument("eaq30").subscales:
        assert merged[f"{sub.id}_evalkit"].to_numpy() == pytest.approx(merged[sub.id].to_numpy(),
                                                                       abs=1e-12)


@pytest.mark.parametrize("measure", ["differentiating", "verbal_sharing"])
def test_paired_t_and_dz_equal_scipy(cohort, independent, measure):
    w = wide(independent[0], measure)
    ref = st.ttest_rel(w["post"], w["pre"])
    diff = w["post"] - w["pre"]
    row = cohort["results"]["child_outcomes"].set_index("measure").loc[measure]
    assert row["n"] == len(w)
    assert row["df"] == len(w) - 1
    assert row["t"] == pytest.approx(ref.statistic, rel=1e-9)
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert row["mean_diff"] == pytest.approx(diff.mean(), rel=1e-12)
    assert row["d_z"] == pytest.approx(diff.mean() / diff.std(ddof=1), rel=1e-9)


def test_cronbach_alpha_equals_numpy(cohort, independent):
    sub = load_instrument("eaq30").measure("differentiating")
    _, keyed = independent
    x = keyed.loc[keyed["timepoint"] == "pre", list(sub.items)].dropna().to_numpy()
    k = x.shape[1]
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    rel = cohort["results"]["reliability"]
    row = rel[(rel["instrument"] == "eaq30") & (rel["measure"] == "differentiating")
              & (rel["timepoint"] == "pre")].iloc[0]
    assert row["n"] == len(x) == N_CHILDREN
    assert row["alpha"] == pytest.approx(alpha, rel=1e-10)


@pytest.mark.parametrize("measure", ["differentiating", "not_hiding"])
def test_time_by_delivery_interaction_equals_one_way_anova_of_change(cohort, independent, measure):
    w = wide(independent[0], measure)
    change = w["post"] - w["pre"]
    groups = [change[w["delivery"] == level].to_numpy() for level in sorted(w["delivery"].unique())]
    ref = st.f_oneway(*groups)
    mods = cohort["results"]["moderators"]
    row = mods[(mods["measure"] == measure) & (mods["factor"] == "delivery")
               & (mods["source"] == "interaction")].iloc[0]
    assert row["n"] == len(w) and row["n_groups"] == len(groups)
    assert row["F"] == pytest.approx(ref.statistic, rel=1e-9)
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-6)


def test_accounting_identities(cohort):
    summary = cohort["cohort"].summary
    children = summary[summary["section"] == "children"]
    reasons = children.columns[children.columns.get_loc("rows_excluded") + 1:]
    assert (children["rows_in"] == children["rows_kept"] + children["rows_excluded"]).all()
    assert (children["rows_excluded"] == children[reasons].sum(axis=1)).all()
    total = children[children["file"] == "all files"].iloc[0]
    assert total["rows_in"] == len(cohort["raw"]) == 2 * N_CHILDREN - len(cohort["dropped"])
    assert total["rows_kept"] == len(cohort["cohort"].children.scores)
    # every matched child is classified once by the reliable change index
    rc = cohort["results"]["reliable_change"]
    rc = rc[rc["section"] == "children"]
    assert (rc["improved"] + rc["no_change"] + rc["deteriorated"] == rc["n"]).all()
    # attrition: completers + dropouts = everyone with a baseline score
    att = cohort["results"]["attrition"]
    base = att[att["kind"] == "baseline score"]
    assert (base["completers_n"] == N_CHILDREN - len(cohort["dropped"])).all()
    assert (base["dropouts_n"] == len(cohort["dropped"])).all()
    delivery = att[att["variable"] == "delivery"].iloc[0]
    assert delivery["completers_n"] + delivery["dropouts_n"] == N_CHILDREN


def test_two_threads_parse_the_cohort_to_the_same_results(cohort, monkeypatch):
    # the 10k files are below the two-thread threshold: lower it and clean the same cohort again
    import evalkit.data.io as eio

    monkeypatch.setattr(eio, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(eio, "_cpus", lambda: 2)
    halves = []
    real = eio._parse_halves
    monkeypatch.setattr(eio, "_parse_halves", lambda *a, **k: halves.append(1) or real(*a, **k))
    again = prepare_cohort(cohort["cohort"].config)
    assert halves
    for name, section in cohort["cohort"].sections.items():
        pd.testing.assert_frame_equal(again.sections[name].scores, section.scores)
        pd.testing.assert_frame_equal(again.sections[name].items, section.items)
    pd.testing.assert_frame_equal(again.log, cohort["cohort"].log)
