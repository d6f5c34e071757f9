"""Pooled across cohorts (issue 13, item 4): the numbers, the forest plot and ``evalkit batch``'s pooled.csv.

Outside references:
- an independent numpy computation of DerSimonian & Laird (1986) written from Borenstein, Hedges, Higgins &
  Rothstein (2009), *Introduction to Meta-Analysis*, chapters 12 and 16 (Q, C, tau^2, I^2, random-effects
  weights), Hartung & Knapp (2001) for the t interval and Higgins, Thompson & Spiegelhalter (2009) for the
  prediction interval on k - 2 degrees of freedom;
- statsmodels ``statsmodels.stats.meta_analysis.combine_effects(method_re="dl")`` (0.14+), whose
  "random effect" row is the Wald interval and whose "random effect wls" row with ``use_t=True`` is the
  Hartung-Knapp interval.
"""
import base64
import re
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from conftest import write_cohort
from evalkit.batch import _outcome_rows, batch, pooled
from evalkit.report.forest import pooled_forest_plot, pooled_sentence
from evalkit.report.privacy import html_tables
from evalkit.runner import NOTEBOOK_DIR
from evalkit.sample import make_children
from evalkit.stats.meta import COHORT_EFFECT_COLUMNS, POOLED_COLUMNS, cohort_effects, d_z_variance, pool_cohorts, \
    random_effects

matplotlib.use("Agg")

# six made-up cohorts with real heterogeneity (Q well above k - 1), d_z and matched pairs
D_Z = np.array([0.12, 0.55, 0.31, 0.78, 0.05, 0.44])
N = np.array([34, 61, 120, 28, 75, 47])
SD = np.array([0.52, 0.61, 0.48, 0.70, 0.55, 0.50])


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def dl_by_hand(y, v, *, confidence=0.95):
    """DerSimonian-Laird as Borenstein et al. (2009) write it out, chapter 16."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    k = len(y)
    w = 1 / v
    q = np.sum(w * y ** 2) - np.sum(w * y) ** 2 / np.sum(w)          # eq. 16.1 in its computational form
    c = np.sum(w) - np.sum(w ** 2) / np.sum(w)                        # eq. 16.3
    tau2 = max(0.0, (q - (k - 1)) / c)                                # eq. 16.4
    w_star = 1 / (v + tau2)                                           # eq. 12.2
    mu = np.sum(w_star * y) / np.sum(w_star)
    se = np.sqrt(1 / np.sum(w_star))
    z = stats.norm.ppf(0.5 + confidence / 2)
    # Hartung & Knapp (2001): weighted residual variance, t on k - 1 df
    se_hk = np.sqrt(np.sum(w_star * (y - mu) ** 2) / ((k - 1) * np.sum(w_star)))
    t_hk = stats.t.ppf(0.5 + confidence / 2, k - 1)
    # Higgins, Thompson & Spiegelhalter (2009): mu +/- t_{k-2} sqrt(tau2 + se^2)
    half = stats.t.ppf(0.5 + confidence / 2, k - 2) * np.sqrt(tau2 + se ** 2) if k >= 3 else np.nan
    return {"estimate": mu, "se": se, "ci_low": mu - z * se, "ci_high": mu + z * se, "tau2": tau2, "q": q,
            "i2": max(0.0, 100 * (q - (k - 1)) / q), "q_p": stats.chi2.sf(q, k - 1),
            "prediction_low": mu - half, "prediction_high": mu + half,
            "hk_low": mu - t_hk * se_hk, "hk_high": mu + t_hk * se_hk, "weight_pct": 100 * w_star / w_star.sum()}


def outcomes_table():
    return pd.DataFrame({"cohort": list("abcdef"), "measure": "calm", "contrast": "post-pre", "n": N, "d_z": D_Z,
                         "mean_diff": D_Z * SD, "sd_diff": SD})


# --------------------------------------------------------------------------- numbers


def test_random_effects_equals_an_independent_numpy_computation():
    v = d_z_variance(D_Z, N)
    ref = dl_by_hand(D_Z, v)
    assert ref["q"] > len(D_Z) - 1 and ref["tau2"] > 0  # the data are heterogeneous: tau2 is exercised
    res = random_effects(D_Z, v)
    for key in ("estimate", "se", "ci_low", "ci_high", "tau2", "q", "i2", "q_p", "prediction_low",
                "prediction_high"):
        assert res[key] == pytest.approx(ref[key], rel=1e-10, abs=1e-12), key
    hk = random_effects(D_Z, v, hartung_knapp=True)
    assert (hk["ci_low"], hk["ci_high"]) == pytest.approx((ref["hk_low"], ref["hk_high"]), rel=1e-10)
    assert hk["estimate"] == pytest.approx(ref["estimate"]) and "Hartung-Knapp" in hk["method"]


def test_random_effects_equals_statsmodels_combine_effects():
    v = d_z_variance(D_Z, N)
    sm = combine_effects(D_Z, v, method_re="dl")
    frame = sm.summary_frame()
    res = random_effects(D_Z, v)
    assert res["estimate"] == pytest.approx(frame.loc["random effect", "eff"], rel=1e-10)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx(
        (frame.loc["random effect", "ci_low"], frame.loc["random effect", "ci_upp"]), rel=1e-10)
    assert res["tau2"] == pytest.approx(sm.tau2, rel=1e-10)
    assert res["i2"] == pytest.approx(100 * sm.i2, rel=1e-10)  # statsmodels gives I^2 as a fraction
    assert res["q"] == pytest.approx(sm.q, rel=1e-10)
    # Hartung-Knapp: statsmodels' "random effect wls" interval with t on k - 1 df
    hk_sm = combine_effects(D_Z, v, method_re="dl", use_t=True).conf_int(use_t=True)[3]
    hk = random_effects(D_Z, v, hartung_knapp=True)
    assert (hk["ci_low"], hk["ci_high"]) == pytest.approx(tuple(hk_sm), rel=1e-10)


def test_pool_cohorts_uses_the_issue_variances_and_post_pre_only():
    outcomes = pd.concat([outcomes_table(), outcomes_table().assign(contrast="follow_up-pre", d_z=9.0)])
    res = pool_cohorts(outcomes)
    assert list(res.columns) == POOLED_COLUMNS and list(res["effect"]) == ["d_z", "mean_change"]
    d, m = res.iloc[0], res.iloc[1]
    ref_d = dl_by_hand(D_Z, 1 / N + D_Z ** 2 / (2 * N))  # var(d_z) = 1/n + d_z^2/(2n)
    ref_m = dl_by_hand(D_Z * SD, SD ** 2 / N)             # var(mean change) = SD of changes^2 / n
    assert d["k"] == 6 and d["estimate"] == pytest.approx(ref_d["estimate"]) and d["tau2"] == pytest.approx(
        ref_d["tau2"])
    assert m["estimate"] == pytest.approx(ref_m["estimate"]) and m["i2"] == pytest.approx(ref_m["i2"])
    assert d["prediction_low"] == pytest.approx(ref_d["prediction_low"])


def test_prediction_interval_is_blank_below_three_cohorts():
    res = pool_cohorts(outcomes_table().iloc[:2])
    assert (res["k"] == 2).all() and res["prediction_low"].isna().all() and res["prediction_high"].isna().all()
    assert "prediction" not in res["method"].iloc[0]
    assert pool_cohorts(outcomes_table().iloc[:1]).empty  # one cohort: nothing to pool


def test_measures_are_pooled_within_their_section():
    kids = outcomes_table().iloc[:3].assign(section="children", measure="total")
    adults = outcomes_table().iloc[3:].assign(section="facilitators", measure="total")
    res = pool_cohorts(pd.concat([kids, adults]))
    assert list(res.columns) == POOLED_COLUMNS + ["section"]
    assert list(zip(res["section"], res["effect"], res["k"])) == [
        ("children", "d_z", 3), ("children", "mean_change", 3), ("facilitators", "d_z", 3),
        ("facilitators", "mean_change", 3)]
    assert res.iloc[0]["estimate"] == pytest.approx(dl_by_hand(D_Z[:3], d_z_variance(D_Z[:3], N[:3]))["estimate"])


def test_cohort_rows_equal_statsmodels_per_study_rows():
    rows = cohort_effects(outcomes_table())
    assert list(rows.columns) == COHORT_EFFECT_COLUMNS
    d = rows[rows["effect"] == "d_z"]
    frame = combine_effects(D_Z, d_z_variance(D_Z, N), method_re="dl").summary_frame().iloc[:6]
    assert d["ci_low"].to_numpy() == pytest.approx(frame["ci_low"].to_numpy(), rel=1e-10)
    assert d["ci_high"].to_numpy() == pytest.approx(frame["ci_upp"].to_numpy(), rel=1e-10)
    assert d["weight_pct"].to_numpy() == pytest.approx(100 * frame["w_re"].to_numpy(), rel=1e-10)


# --------------------------------------------------------------------------- figure and words


def _forest(k):
    outcomes = outcomes_table().iloc[:k]
    res = pool_cohorts(outcomes).iloc[0]
    rows = cohort_effects(outcomes)
    rows = rows[rows["effect"] == "d_z"].assign(name=[f"Cohort {c}" for c in "abcdef"[:k]])
    return rows, res, pooled_forest_plot(rows, res, label="Calm")


def test_forest_plot_draws_each_cohort_and_the_pooled_diamond():
    rows, res, ax = _forest(6)
    squares = next(c for c in ax.collections if c.get_gid() == "cohort_effect")
    offsets = np.asarray(squares.get_offsets())
    assert offsets[:, 0].tolist() == pytest.approx(D_Z.tolist())
    assert offsets[:, 1].tolist() == pytest.approx(list(range(6)))
    sizes = squares.get_sizes()
    assert np.argsort(sizes).tolist() == np.argsort(rows["weight_pct"].to_numpy()).tolist()  # bigger = heavier
    whiskers = next(c for c in ax.collections if c.get_gid() == "cohort_ci")
    ends = np.array([np.asarray(seg)[:, 0] for seg in whiskers.get_segments()])
    assert ends[:, 0].tolist() == pytest.approx(rows["ci_low"].tolist())
    assert ends[:, 1].tolist() == pytest.approx(rows["ci_high"].tolist())
    diamond = next(p for p in ax.patches if p.get_gid() == "pooled_diamond")
    xs = np.asarray(diamond.get_xy())[:, 0]
    assert (xs.min(), xs.max()) == pytest.approx((res["ci_low"], res["ci_high"]))
    assert xs[1] == pytest.approx(res["estimate"])
    prediction = next(c for c in ax.collections if c.get_gid() == "prediction")
    assert np.asarray(prediction.get_segments()[0])[:, 0].tolist() == pytest.approx(
        [res["prediction_low"], res["prediction_high"]])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"Cohort {c}" for c in "abcdef"] + ["Pooled (random effects)"]
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "effect_text"]
    assert texts[-1].startswith(f"{res['estimate']:.2f} [")
    assert ax.get_title() == "Calm" and ax.get_xlabel().startswith("Cohen's d_z")


def test_forest_plot_of_two_cohorts_has_no_prediction_interval():
    _, _, ax = _forest(2)
    assert not any(c.get_gid() == "prediction" for c in ax.collections)
    assert any(p.get_gid() == "pooled_diamond" for p in ax.patches)


def test_pooled_sentence_gives_the_numbers_in_words():
    res = pool_cohorts(outcomes_table())
    d, m = res.iloc[0], res.iloc[1]
    text = pooled_sentence(d, m, label="Calm", section="children")
    assert text.startswith(f"Across 6 cohorts, children's Calm scores rose by {m['estimate']:.2f} points on average")
    assert f"d_z {d['estimate']:.2f}, 95% CI {d['ci_low']:.2f} to {d['ci_high']:.2f}" in text
    assert f"(I² {d['i2']:.0f}%)" in text and "prediction interval" in text
    assert "a small standardised change" in text  # Cohen (1988): 0.2 <= |d| < 0.5


# --------------------------------------------------------------------------- batch


def test_a_withheld_n_leaves_the_cohort_out_with_a_note(tmp_path):
    """n below min_group_n is withheld on the cohort's own pages, so it is not pooled; nothing is guessed."""
    for name, n, d in (("a", 40, 0.4), ("b", 60, 0.6), ("c", 7, 2.0), ("d", np.nan, 1.0)):
        folder = tmp_path / name / "results"
        folder.mkdir(parents=True)
        pd.DataFrame({"measure": ["calm", "calm"], "label": ["Calm", "Calm"], "contrast": ["post-pre", "follow_up-pre"],
                      "n": [n, n], "d_z": [d, 5.0], "mean_diff": [d / 2, 5.0], "sd_diff": [0.5, 0.5]}).to_csv(
            folder / "child_outcomes.csv", index=False)
    rows, notes = _outcome_rows(tmp_path / "c", 10)
    assert rows == [] and notes == ["its children's Calm (fewer than 10 matched pairs: withheld on its own pages)"]
    table = pd.DataFrame({"cohort": list("abcd"), "name": ["A", "B", "C", "D"], "config": "missing.yml",
                          "status": "ok"})
    result, cohorts, notes = pooled(table, tmp_path)
    assert len(notes) == 2 and notes[0].startswith("C: ") and notes[1].startswith("D: ")
    assert "7" not in " ".join(notes)  # the withheld count itself is never given
    d = result[result["effect"] == "d_z"].iloc[0]
    assert d["k"] == 2 and d["estimate"] == pytest.approx(
        dl_by_hand([0.4, 0.6], [d_z_variance(0.4, 40), d_z_variance(0.6, 60)])["estimate"])
    assert sorted(cohorts["name"].unique()) == ["A", "B"]


@pytest.fixture(scope="module")
def empty_notebooks(tmp_path_factory):
    """The report notebooks reduced to their parameters cell: the batch's pooling does not need them."""
    folder = tmp_path_factory.mktemp("notebooks")
    for src in NOTEBOOK_DIR.glob("*.ipynb"):
        cell = nbformat.v4.new_code_cell('config_path = ""\nresults_dir = "results"')
        cell.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[cell], metadata=nbformat.read(src, as_version=4).metadata)
        nbformat.write(nb, folder / src.name)
    return folder


def test_batch_writes_pooled_csv_and_the_forest_plot(tmp_path, empty_notebooks):
    configs, ids = [], set()
    for name, n, seed in (("north", 40, 11), ("south", 50, 12), ("tiny", 8, 13)):
        kids = make_children(n, seed=seed, messy=False)
        ids |= set(kids["child_id"].astype(str))
        configs.append(write_cohort(tmp_path / name, children=kids, extra={"name": f"{name.title()} pilot"}))
    out = tmp_path / "out"
    notes = []
    table = batch(configs, out_dir=out, jobs=1, progress=False, notebook_dir=empty_notebooks, note=notes.append)
    assert (table["status"] == "ok").all(), table["error"].tolist()
    assert sorted(table["cohort"]) == ["north-cohort", "south-cohort", "tiny-cohort"]

    csv = pd.read_csv(out / "pooled.csv", keep_default_na=False, dtype=str)
    assert list(csv.columns) == POOLED_COLUMNS + ["section"]
    assert set(csv["effect"]) == {"d_z", "mean_change"} and set(csv["k"]) == {"2"}  # tiny is left out
    assert (csv["prediction_low"] == "").all() and (csv["prediction_high"] == "").all()  # k < 3: blank
    text = (out / "pooled.csv").read_text()
    assert not any(child in text for child in ids)
    # the pooled d_z of each measure against the independent computation on the cohorts' own results
    for measure in csv["measure"].unique():
        rows = []
        for cohort in ("north-cohort", "south-cohort"):
            results = pd.read_csv(out / cohort / "results" / "child_outcomes.csv")
            rows.append(results[(results["contrast"] == "post-pre") & (results["measure"] == measure)].iloc[0])
        ref = dl_by_hand([r["d_z"] for r in rows], [d_z_variance(r["d_z"], r["n"]) for r in rows])
        got = csv[(csv["measure"] == measure) & (csv["effect"] == "d_z")].iloc[0]
        for key in ("estimate", "ci_low", "ci_high", "tau2", "i2", "q"):
            assert float(got[key]) == pytest.approx(ref[key], rel=1e-8, abs=1e-12), (measure, key)
    assert any("Tiny pilot" in text and "fewer than 10 matched pairs" in text for text in notes)

    page = (out / "index.html").read_text()
    section = page[page.index('<section id="pooled">'):page.index("</section>", page.index('id="pooled"'))]
    assert "Across 2 cohorts, children's" in section and "DerSimonian" in section and "Hartung" in section
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="Forest plot of ([^"]+)"', section)
    assert len(images) == len(csv["measure"].unique())
    assert all(base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n" for png, _ in images)
    assert "North pilot" in images[0][1] and "South pilot" in images[0][1] and "Tiny pilot" not in images[0][1]
    assert "Tiny pilot" in section  # the note says it was left out, and why
    assert not any(child in section for child in ids)
    pooled_table = [t for t in html_tables(page) if t and t[0][:3] == ["Who", "Measure", "Effect"]][0]
    assert len(pooled_table) - 1 == len(csv)


def test_batch_hartung_knapp_option(tmp_path):
    """The option reaches pooled.csv's method and interval (results folders made by hand: no kernels)."""
    for name, n, d in (("a", 40, 0.2), ("b", 60, 0.7), ("c", 45, 0.4)):
        folder = tmp_path / name / "results"
        folder.mkdir(parents=True)
        pd.DataFrame({"measure": ["calm"], "contrast": ["post-pre"], "n": [n], "d_z": [d], "mean_diff": [d / 2],
                      "sd_diff": [0.5]}).to_csv(folder / "child_outcomes.csv", index=False)
    table = pd.DataFrame({"cohort": list("abc"), "name": list("ABC"), "config": "missing.yml", "status": "ok"})
    wald = pooled(table, tmp_path)[0].iloc[0]
    hk = pooled(table, tmp_path, hartung_knapp=True)[0].iloc[0]
    ref = dl_by_hand([0.2, 0.7, 0.4], [d_z_variance(0.2, 40), d_z_variance(0.7, 60), d_z_variance(0.4, 45)])
    assert (hk["ci_low"], hk["ci_high"]) == pytest.approx((ref["hk_low"], ref["hk_high"]))
    assert (wald["ci_low"], wald["ci_high"]) == pytest.approx((ref["ci_low"], ref["ci_high"]))
    assert "Hartung-Knapp" in hk["method"] and "Wald" in wald["method"]
    assert Path(tmp_path / "a").is_dir()


def test_a_bug_in_pooling_never_costs_the_index(tmp_path, monkeypatch):
    """The cohorts' index and batch.csv are still written, with a note naming the log; no stale pooled.csv."""
    import evalkit.batch as batch_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(batch_module, "pooled", broken)
    out = tmp_path / "out"
    out.mkdir()
    (out / "pooled.csv").write_text("stale")
    table = pd.DataFrame({"cohort": ["a"], "config": ["a.yml"], "status": ["failed"], "exit_code": [2], "n": [None],
                          "headline_effect": [""], "link": [""], "error": ["x"], "name": ["A"]})
    notes = []
    # the tail of the batch: the index, batch.csv and pooled.csv of a finished table
    batch_module._write_index(table, out, title="t", hartung_knapp=False, note=notes.append)
    assert (out / "index.html").is_file() and (out / "batch.csv").is_file() and not (out / "pooled.csv").exists()
    assert len(notes) == 1 and "internal error (ZeroDivisionError)" in notes[0]
    assert "planted" in (tmp_path / "evalkit-error.log").read_text()


def test_batch_command_line_has_the_hartung_knapp_option():
    from evalkit.cli import build_parser

    assert build_parser().parse_args(["batch", "a.yml", "--out", "x", "--hartung-knapp"]).hartung_knapp is True
    assert build_parser().parse_args(["batch", "a.yml", "--out", "x"]).hartung_knapp is False
