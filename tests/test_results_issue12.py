"""Issue 12's results files, as evalkit.report.analysis writes them, checked against outside references.

Every number is compared with a value from outside evalkit: R (lme4, lm with sandwich::vcovCL; the values
of tests/test_multilevel.py and tests/test_comparison.py on the same reference files), statsmodels (OLS with
cov_type="cluster", OLS slopes, multipletests) or scipy (ttest_rel), or the issue's formulas computed again
with numpy. Column names are the issue's contract, spelled as the issue spells them.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import EAQ_ITEMS, write_cohort
from evalkit.data.cohort import Instrument, SectionData, Subscale
from evalkit.report.analysis import (CLUSTER_LEVELS, OPTIONAL_KEYS, RESULT_KEYS, analyse_section,
                                     follow_up_outcomes, write_results)

REFERENCE = Path(__file__).parent / "data" / "reference"

# The issue's columns, as spelled there (more columns may follow; none may be renamed).
ITT_COLUMNS = ["section", "measure", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "n_people",
               "n_observations", "n_groups", "complete_case_estimate", "difference", "method", "note"]
CLUSTERING_COLUMNS = ["section", "measure", "level", "n_clusters", "mean_cluster_size", "icc", "design_effect",
                      "effective_n", "robust_ci_low", "robust_ci_high", "note"]
COMPARISON_COLUMNS = ["section", "measure", "n_intervention", "n_comparison", "baseline_g", "baseline_equivalence",
                      "adjusted_difference", "ci_low", "ci_high", "p", "se_type", "effect_g", "overall_attrition",
                      "differential_attrition", "attrition_standard", "note"]
DOSE_COLUMNS = ["section", "measure", "n", "slope", "slope_ci_low", "slope_ci_high", "slope_p", "full_dose_n",
                "full_dose_mean_change", "partial_dose_n", "partial_dose_mean_change", "note"]
EVIDENCE_COLUMNS = ["check", "status", "detail", "to_strengthen"]

# R 4.x, lme4 1.1.31, on tests/data/reference/itt_groups.csv (see tests/test_multilevel.py):
#   lmer(score ~ timepoint + (1 | group/id), REML = TRUE) and lmer(score ~ timepoint + (1 | id), REML = TRUE)
R_NESTED = {"post-pre": (0.3685810902, 0.08778565021), "follow_up-pre": (0.3016343048, 0.10001802175)}
R_PERSON = {"post-pre": (0.3684577043, 0.08779403497), "follow_up-pre": (0.3017432388, 0.10002433221)}
# R 4.x on tests/data/reference/arms_groups.csv (see tests/test_comparison.py):
#   lm(score_post ~ score_pre + arm1): arm1 0.11106062276, SE 0.07914974819, p 0.16458558906;
#   sandwich::vcovCL(f, cluster = ~cl, type = "HC1"): SE 0.09005063481; 44 clusters, p 0.22415856808
R_ARMS = {"estimate": 0.11106062276, "se_classical": 0.07914974819, "p_classical": 0.16458558906,
          "se_cr1": 0.09005063481, "p_cr1": 0.22415856808}

ALL_ROLES = {"id": "id", "timepoint": "timepoint", "group": "group", "facilitator": "facilitator",
             "sessions": "sessions", "arm": "arm"}
ARMS = {"intervention": ["healing together"], "comparison": ["waiting list"]}


def instrument(measures=("m",)):
    subs = tuple(Subscale(m, m.upper(), (f"i_{m}",), higher_is="better") for m in measures)
    return Instrument(id="x", name="X", min=0, max=5, labels={}, scoring="mean", min_answered=1, subscales=subs)


def section_of(waves, *, measures=("m",), arm=None, kind="children"):
    """A SectionData as the cleaning gives it: scores pre/post (intervention only with an arm), waves all."""
    scores = waves[waves["timepoint"].isin(["pre", "post"])]
    if arm is not None:
        scores = scores[scores["arm"].isin(arm)]
    scores = scores.reset_index(drop=True)
    items = scores[["id", "timepoint"]].assign(**{f"i_{m}": scores[m] for m in measures})
    sec = SectionData(section=kind, instrument=instrument(measures), scores=scores, items=items,
                      measures=list(measures), factors=[])
    sec.waves = waves.reset_index(drop=True)
    return sec


@pytest.fixture(scope="module")
def itt_waves():
    """55 people (47 in 10 groups, 8 alone), pre/post/follow-up; a second measure, facilitators and sessions."""
    data = pd.read_csv(REFERENCE / "itt_groups.csv", keep_default_na=False, dtype={"group": str})
    data["group"] = data["group"].replace("", pd.NA)
    data = data.rename(columns={"score": "m"})
    rng = np.random.default_rng(12)
    people = data["id"].unique()
    sessions = dict(zip(people, rng.integers(0, 7, people.size).astype(float)))
    sessions[people[0]] = np.nan  # a blank sessions count: left out of the dose table
    data["sessions"] = data["id"].map(sessions)
    data["facilitator"] = data["group"].map(lambda g: f"F{int(g[1:]) % 4}" if isinstance(g, str) else pd.NA)
    data["m2"] = 0.6 * data["m"] + 0.3 * np.sin(np.arange(len(data)))
    return data


@pytest.fixture(scope="module")
def itt_results(itt_waves):
    return analyse_section(section_of(itt_waves, measures=("m", "m2")), columns=ALL_ROLES)


@pytest.fixture(scope="module")
def arm_waves():
    data = pd.read_csv(REFERENCE / "arms_groups.csv", keep_default_na=False, dtype={"group": str})
    data["group"] = data["group"].replace("", pd.NA)
    return data.rename(columns={"score": "m"})


def _issue_columns(table, columns):
    assert table.columns[0] == "section"
    assert [c for c in table.columns if c in columns] == columns, set(columns) - set(table.columns)


def _wide(waves, measure, first="pre", second="post"):
    wide = waves.pivot(index="id", columns="timepoint", values=measure)
    return wide[[first, second]].dropna()


# --------------------------------------------------------------------------- intention to treat

@pytest.mark.parametrize("roles, reference", [(ALL_ROLES, R_NESTED),
                                               ({"id": "id", "timepoint": "timepoint"}, R_PERSON)])
def test_intention_to_treat_csv_equals_lme4(itt_waves, roles, reference, tmp_path):
    res = analyse_section(section_of(itt_waves, measures=("m", "m2")), columns=roles)
    write_results({"intention_to_treat": res["intention_to_treat"]}, tmp_path)
    table = pd.read_csv(tmp_path / "intention_to_treat.csv", keep_default_na=False)
    _issue_columns(table, ITT_COLUMNS)
    rows = table[table["measure"] == "m"].set_index("contrast")
    for contrast, (estimate, se) in reference.items():  # the issue: within 1e-3 of R's lme4
        assert float(rows.loc[contrast, "estimate"]) == pytest.approx(estimate, abs=1e-4)
        assert float(rows.loc[contrast, "se"]) == pytest.approx(se, abs=1e-4)
    assert (table["section"] == "children").all() and (table["n_people"] == 55).all()
    if "group" in roles:
        assert (rows["n_groups"] == 18).all() and rows["method"].str.contains("nested").all()
    else:
        assert (rows["n_groups"] == "").all()


def test_intention_to_treat_complete_case_and_difference_from_pandas(itt_waves, itt_results):
    table = itt_results["intention_to_treat"].set_index(["measure", "contrast"])
    for measure in ("m", "m2"):
        for wave in ("post", "follow_up"):
            pairs = _wide(itt_waves, measure, "pre", wave)
            row = table.loc[(measure, f"{wave}-pre")]
            assert row["complete_case_estimate"] == pytest.approx((pairs[wave] - pairs["pre"]).mean())
            assert row["difference"] == pytest.approx(row["estimate"] - row["complete_case_estimate"])


def test_intention_to_treat_keeps_to_the_intervention_arm(arm_waves):
    res = analyse_section(section_of(arm_waves, arm=["healing together"]), columns=ALL_ROLES, comparison=ARMS)
    itt = res["intention_to_treat"].iloc[0]
    assert itt["n_people"] == arm_waves.loc[(arm_waves["arm"] == "healing together")
                                            & (arm_waves["timepoint"] == "pre"), "id"].nunique()


# --------------------------------------------------------------------------- clustering

def test_clustering_csv_from_the_formulas_and_statsmodels_cluster_robust(itt_waves, itt_results, tmp_path):
    import statsmodels.api as sm

    write_results({"clustering": itt_results["clustering"]}, tmp_path)
    table = pd.read_csv(tmp_path / "clustering.csv")
    _issue_columns(table, CLUSTERING_COLUMNS)
    assert table["level"].tolist() == ["group", "facilitator"] * 2  # configured levels, in CLUSTER_LEVELS order
    pairs = _wide(itt_waves, "m")
    d = (pairs["post"] - pairs["pre"]).to_numpy()
    people = itt_waves.drop_duplicates("id").set_index("id")
    for level in ("group", "facilitator"):
        row = table[(table["measure"] == "m") & (table["level"] == level)].iloc[0]
        cluster = people.loc[pairs.index, level]
        cluster = cluster.fillna(pd.Series([f"alone {i}" for i in cluster.index], index=cluster.index))
        codes = pd.factorize(cluster)[0]
        n, k = d.size, codes.max() + 1
        # ICC(1) by the issue's formula, from a one-way ANOVA done again with numpy
        n_j = np.bincount(codes)
        means = np.bincount(codes, weights=d) / n_j
        msb = np.sum(n_j * (means - d.mean()) ** 2) / (k - 1)
        msw = np.sum((d - means[codes]) ** 2) / (n - k)
        n0 = (n - np.sum(n_j ** 2) / n) / (k - 1)
        icc = max((msb - msw) / (msb + (n0 - 1) * msw), 0.0)
        assert row["n_clusters"] == k and row["mean_cluster_size"] == pytest.approx(n / k)
        assert row["icc"] == pytest.approx(icc, abs=1e-9)
        assert row["design_effect"] == pytest.approx(1 + (n / k - 1) * icc)
        assert row["effective_n"] == pytest.approx(n / (1 + (n / k - 1) * icc))
        # CR1 standard error of the mean: statsmodels OLS d ~ 1 with cov_type="cluster"
        fit = sm.OLS(d, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": codes})
        half = stats.t.ppf(0.975, k - 1) * fit.bse[0]
        assert (row["robust_ci_low"], row["robust_ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))


def test_clustering_is_a_header_without_levels(itt_waves, tmp_path):
    res = analyse_section(section_of(itt_waves), columns={"id": "id", "timepoint": "timepoint"})
    write_results({"clustering": res["clustering"]}, tmp_path)
    header = (tmp_path / "clustering.csv").read_text().splitlines()
    assert len(header) == 1
    _issue_columns(pd.read_csv(tmp_path / "clustering.csv"), CLUSTERING_COLUMNS)


def test_clustering_counts_intervention_children_only(arm_waves):
    res = analyse_section(section_of(arm_waves, arm=["healing together"]), columns=ALL_ROLES, comparison=ARMS)
    treated = arm_waves[arm_waves["arm"] == "healing together"]
    assert res["clustering"].loc[0, "n"] == len(_wide(treated, "m"))


# --------------------------------------------------------------------------- comparison

@pytest.mark.parametrize("roles, se, p, se_type", [
    (ALL_ROLES, R_ARMS["se_cr1"], R_ARMS["p_cr1"], "CR1"),
    ({"id": "id", "timepoint": "timepoint", "arm": "arm"}, R_ARMS["se_classical"], R_ARMS["p_classical"],
     "classical")])
def test_comparison_csv_equals_r_lm_and_vcovcl(arm_waves, roles, se, p, se_type, tmp_path):
    res = analyse_section(section_of(arm_waves, arm=["healing together"]), columns=roles, comparison=ARMS)
    write_results({"comparison": res["comparison"]}, tmp_path)
    table = pd.read_csv(tmp_path / "comparison.csv")
    _issue_columns(table, COMPARISON_COLUMNS)
    row = table.iloc[0]
    assert row["adjusted_difference"] == pytest.approx(R_ARMS["estimate"], abs=1e-9)
    assert row["se"] == pytest.approx(se, abs=1e-9) and row["p"] == pytest.approx(p, abs=1e-8)
    assert se_type in row["se_type"]
    assert (row["n_intervention"], row["n_comparison"]) == (50, 30)  # R: table(w$arm1)
    assert "cautious" in row["attrition_standard"]  # the WWC boundary is named


def test_arm_labels_written_as_intervention_and_comparison_are_read_too(arm_waves):
    # the cleaning writes the arm column as intervention / comparison
    clean = arm_waves.assign(arm=arm_waves["arm"].map({"healing together": "intervention",
                                                       "waiting list": "comparison"}))
    res = analyse_section(section_of(clean, arm=["intervention"]), columns=ALL_ROLES, comparison=ARMS)
    assert res["comparison"].loc[0, "adjusted_difference"] == pytest.approx(R_ARMS["estimate"], abs=1e-9)


def test_comparison_only_for_children_with_an_arm(arm_waves, itt_waves):
    assert "comparison" not in analyse_section(section_of(itt_waves), columns=ALL_ROLES)  # no analysis.comparison
    fac = analyse_section(section_of(arm_waves, arm=["healing together"], kind="facilitators"), columns=ALL_ROLES,
                          comparison=ARMS)
    assert "comparison" not in fac


# --------------------------------------------------------------------------- dose

def test_dose_csv_equals_statsmodels_ols(itt_waves, itt_results, tmp_path):
    import statsmodels.api as sm

    write_results({"dose": itt_results["dose"]}, tmp_path)
    table = pd.read_csv(tmp_path / "dose.csv")
    _issue_columns(table, DOSE_COLUMNS)
    pairs = _wide(itt_waves, "m")
    sessions = itt_waves.drop_duplicates("id").set_index("id").loc[pairs.index, "sessions"]
    keep = sessions.notna()
    change, x = (pairs["post"] - pairs["pre"])[keep].to_numpy(), sessions[keep].to_numpy()
    fit = sm.OLS(change, sm.add_constant(x)).fit()
    row = table[table["measure"] == "m"].iloc[0]
    assert row["n"] == keep.sum()
    assert row["slope"] == pytest.approx(fit.params[1]) and row["slope_p"] == pytest.approx(fit.pvalues[1])
    assert (row["slope_ci_low"], row["slope_ci_high"]) == pytest.approx(tuple(fit.conf_int()[1]))
    full = x >= 5  # analysis.full_dose defaults to 5; a partial dose is fewer, 0 included
    assert (row["full_dose_n"], row["partial_dose_n"]) == (full.sum(), (~full).sum())
    assert row["full_dose_mean_change"] == pytest.approx(change[full].mean())
    assert row["partial_dose_mean_change"] == pytest.approx(change[~full].mean())


def test_full_dose_comes_from_the_config(itt_waves):
    res = analyse_section(section_of(itt_waves), columns=ALL_ROLES, full_dose=3)
    sessions = itt_waves.drop_duplicates("id").set_index("id").loc[_wide(itt_waves, "m").index, "sessions"]
    assert res["dose"].loc[0, "full_dose_n"] == (sessions >= 3).sum()


# --------------------------------------------------------------------------- follow-up

def test_follow_up_rows_equal_scipy_and_form_their_own_holm_family(itt_waves, itt_results):
    from statsmodels.stats.multitest import multipletests

    out = itt_results["child_outcomes"]
    assert out["contrast"].tolist() == ["post-pre"] * 2 + ["follow_up-pre"] * 2 + ["follow_up-post"] * 2
    for measure in ("m", "m2"):
        for contrast, first, second in (("follow_up-pre", "pre", "follow_up"), ("follow_up-post", "post", "follow_up")):
            pairs = _wide(itt_waves, measure, first, second)
            row = out[(out["measure"] == measure) & (out["contrast"] == contrast)].iloc[0]
            ref = stats.ttest_rel(pairs[second], pairs[first])
            assert row["n"] == len(pairs) and row["t"] == pytest.approx(ref.statistic)
            assert row["p"] == pytest.approx(ref.pvalue)
            assert row["mean_pre"] == pytest.approx(pairs[first].mean())
    follow = out[out["contrast"] != "post-pre"]
    assert follow["p_primary_holm"].to_numpy() == pytest.approx(
        multipletests(follow["p_primary"], method="holm")[1])
    assert follow["holm_family"].str.startswith("follow-up").all()


def test_post_pre_rows_findings_and_reliable_change_do_not_move_with_a_follow_up(itt_waves, itt_results):
    without = analyse_section(section_of(itt_waves[itt_waves["timepoint"] != "follow_up"], measures=("m", "m2")),
                              columns=ALL_ROLES)
    assert without["child_outcomes"]["contrast"].eq("post-pre").all()  # always there, for consumers to filter
    with_follow = itt_results["child_outcomes"]
    pd.testing.assert_frame_equal(with_follow[with_follow["contrast"] == "post-pre"].reset_index(drop=True),
                                  without["child_outcomes"])
    said = itt_results["findings"]
    pd.testing.assert_frame_equal(said[said["contrast"] == "post-pre"].reset_index(drop=True), without["findings"])
    pd.testing.assert_frame_equal(itt_results["reliable_change"], without["reliable_change"])
    assert said.loc[said["contrast"] == "follow_up", "measure"].tolist() == ["m", "m2"]


def test_sustained_wording():
    rows = []
    for contrast, diff, p in (("post-pre", 0.4, 0.001), ("follow_up-pre", 0.3, 0.002), ("follow_up-post", -0.3, 0.01)):
        rows.append({"measure": "m", "label": "Mood", "contrast": contrast, "n": 40, "mean_diff": diff,
                     "ci_low": diff - 0.1, "ci_high": diff + 0.1, "primary_test": "paired t", "p_primary_holm": p,
                     "rank_biserial": np.sign(diff) * 0.5, "confidence": 0.95, "note": ""})
    from evalkit.report.findings import sustained

    table = pd.DataFrame(rows)
    said = sustained(table).iloc[0]
    assert said["direction"] == "partly sustained" and "fell significantly after the end" in said["sentence"]
    table.loc[2, "p_primary_holm"] = 0.4
    assert sustained(table).iloc[0]["direction"] == "sustained"
    table.loc[1, "p_primary_holm"] = 0.2
    said = sustained(table, min_cell=50).iloc[0]
    assert said["direction"] == "not sustained" and "no longer significantly higher" in said["sentence"]
    assert "fewer than 50 matched" in said["sentence"] and "40 matched" not in said["sentence"]


def test_no_follow_up_wave_gives_no_follow_up_rows():
    waves = pd.DataFrame({"id": list("aabb"), "timepoint": ["pre", "post"] * 2, "m": [1.0, 2, 2, 3]})
    assert follow_up_outcomes(waves, measures=["m"]) is None


# --------------------------------------------------------------------------- the files of a report

def _old_shape_children(n=40, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for tp, shift in (("pre", 0), ("post", 0.4)):
            if tp == "post" and i % 9 == 0:
                continue
            answers = np.clip(np.round(2 + shift + rng.normal(0, 0.7, len(EAQ_ITEMS))), 1, 3).astype(int)
            rows.append({"child_id": f"C{i:03d}", "timepoint": tp, **dict(zip(EAQ_ITEMS, answers))})
    return pd.DataFrame(rows)


def test_a_cohort_without_arm_or_sessions_writes_no_comparison_or_dose(tmp_path):
    from evalkit.report.notebook import compute

    config = write_cohort(tmp_path / "cohort", children=_old_shape_children())
    compute(config, results_dir=tmp_path / "results")
    files = {p.name for p in (tmp_path / "results").glob("*.csv")}
    assert {"intention_to_treat.csv", "clustering.csv", "evidence.csv"} <= files
    assert "comparison.csv" not in files and "dose.csv" not in files
    _issue_columns(pd.read_csv(tmp_path / "results" / "intention_to_treat.csv"), ITT_COLUMNS)
    _issue_columns(pd.read_csv(tmp_path / "results" / "clustering.csv"), CLUSTERING_COLUMNS)
    evidence = pd.read_csv(tmp_path / "results" / "evidence.csv", keep_default_na=False)
    assert [c for c in evidence.columns if c in EVIDENCE_COLUMNS] == EVIDENCE_COLUMNS
    assert evidence["check"].iloc[-1] == "claim" and evidence["status"].iloc[-1] == ""
    outcomes = pd.read_csv(tmp_path / "results" / "child_outcomes.csv")
    assert outcomes["contrast"].eq("post-pre").all()


def test_result_keys_list_every_file():
    assert OPTIONAL_KEYS == ("comparison", "dose") and CLUSTER_LEVELS == ("group", "facilitator", "site")
    for keys in RESULT_KEYS.values():
        assert {"intention_to_treat", "clustering"} <= set(keys)


def test_a_cohort_with_every_design_feature_writes_every_file(tmp_path):
    """The sample generator's full design (groups, facilitators, sessions, a waiting-list arm, follow-up)."""
    from evalkit.report.notebook import compute
    from evalkit.sample import write_sample

    write_sample(tmp_path / "cohort", n_children=150, n_facilitators=30, messy=False, xlsx_site=False,
                 design="full")
    compute(tmp_path / "cohort" / "cohort.yml", results_dir=tmp_path / "results")
    results = tmp_path / "results"
    for name, columns in (("intention_to_treat", ITT_COLUMNS), ("clustering", CLUSTERING_COLUMNS),
                          ("comparison", COMPARISON_COLUMNS), ("dose", DOSE_COLUMNS)):
        table = pd.read_csv(results / f"{name}.csv", keep_default_na=False)
        _issue_columns(table, columns)
        assert len(table), name
    assert set(pd.read_csv(results / "clustering.csv")["level"]) == {"group", "facilitator", "site"}
    outcomes = pd.read_csv(results / "child_outcomes.csv")
    assert set(outcomes["contrast"]) == {"post-pre", "follow_up-pre", "follow_up-post"}
    assert set(pd.read_csv(results / "facilitator_outcomes.csv")["contrast"]) == set(outcomes["contrast"])
    evidence = pd.read_csv(results / "evidence.csv", keep_default_na=False)
    assert evidence["section"].unique().tolist() == ["children", "facilitators"]
    children = evidence[evidence["section"] == "children"].set_index("check")
    assert children.loc["comparison_group", "status"] == "met" and children.loc["follow_up", "status"] == "met"
    assert children.loc["clustering", "status"] == "met"
    for _, block in evidence.groupby("section"):
        assert block["check"].iloc[-1] == "claim" and block["status"].iloc[-1] == ""
