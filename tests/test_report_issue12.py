"""Issue 12, the report: everyone who started, children in groups, a comparison group, follow-up and dose.

Checked on two cohorts, as the notebooks show them (``ek.<call>(data, section)``):

* the sample, which has delivery groups with a facilitator each, sessions attended, a waiting-list arm
  and a follow-up wave: every new section shows, its numbers are the results tables' (the statistics
  tests check those against R, statsmodels and numpy), its figures draw those numbers, and nothing in it
  quotes a raw group or facilitator name or shows a count a reader could turn into a small one;
* ``tests/data/old_shape`` (no groups, arms, follow-up or sessions): each section the data do not
  allow says in one sentence why and what to configure, and its figure shows nothing.
"""
import copy
import html
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest

import evalkit.notebook as ek
from evalkit.report import render, summary
from evalkit.report.privacy import data_values, html_tables, is_hidden, table_problems, text_problems

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "cohort.yml"
OLD = ROOT / "tests" / "data" / "old_shape" / "cohort.yml"
TABLES = ("intention_to_treat_table", "clustering_table", "comparison_table", "follow_up_table", "dose_table")
FIGURES = ("clustering_figure", "comparison_figure", "follow_up_figure", "dose_figure")
#: The sections of notebook 02 after the before-and-after results, in order, with their calls.
SECTIONS_02 = [
    ("Everyone who started", ["ek.intention_to_treat_table"]),
    ("Children in groups", ["ek.clustering_table", "ek.clustering_figure"]),
    ("Compared with children who did not take part", ["ek.comparison_table", "ek.comparison_figure"]),
    ("Did the change last?", ["ek.follow_up_table", "ek.follow_up_figure"]),
    ("Did more sessions mean more change?", ["ek.dose_table", "ek.dose_figure"]),
]


@pytest.fixture(scope="module")
def sample():
    return ek.load(str(SAMPLE))


@pytest.fixture(scope="module")
def old():
    return ek.load(str(OLD))


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(ek, "record", lambda *a, **k: None)
    yield
    plt.close("all")


def _with_results(data, **tables):
    """``data`` with some results tables replaced (the cohort itself shared, not copied)."""
    out = copy.copy(data)
    out.results = {**data.results, **tables}
    return out


def _shown_html(shown):
    """Everything a reader of the page gets from one call: tables (summary and technical), text, alt text."""
    if isinstance(shown, ek.Table):
        return shown._repr_html_()
    if isinstance(shown, ek.Markdown):
        return shown.text
    return getattr(shown, "alt", "")


# --------------------------------------------------------------------------- the notebooks

def test_notebook_02_has_the_sections_in_order_after_the_paired_results():
    nb = nbformat.read(str(ROOT / "notebooks" / "02_child_outcomes.ipynb"), as_version=4)
    headings = [c.source.splitlines()[0].removeprefix("## ") for c in nb.cells
                if c.cell_type == "markdown" and c.source.startswith("## ")]
    start = headings.index("Effect sizes") + 1
    assert headings[start:start + 5] == [name for name, _ in SECTIONS_02]
    calls = [c.source.strip() for c in nb.cells if c.cell_type == "code"]
    order = [next(i for i, c in enumerate(calls) if c.startswith(call)) for _, names in SECTIONS_02 for call in names]
    assert order == sorted(order) and all(calls[i].endswith('(data, "children")') for i in order)
    assert order[0] > calls.index('ek.forest_figure(data, "children")')


def test_notebook_03_has_the_facilitators_follow_up_and_clustering():
    nb = nbformat.read(str(ROOT / "notebooks" / "03_facilitator_confidence.ipynb"), as_version=4)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert "## Did the confidence last?" in headings and "## Facilitators trained together" in headings
    calls = {c.source.strip() for c in nb.cells if c.cell_type == "code"}
    assert {f'ek.{f}(data, "facilitators")' for f in ("follow_up_table", "follow_up_figure", "clustering_table",
                                                      "clustering_figure")} <= calls


# --------------------------------------------------------------------------- the sample: every section shows

def test_every_section_shows_on_the_sample_with_a_plain_lead(sample):
    for name in TABLES:
        shown = getattr(ek, name)(sample, "children")
        assert isinstance(shown, ek.Table), name
        assert len(shown.data) and shown.lead.strip().endswith("."), name
        assert shown.technical is None or len(shown.technical.data), name
    for name in FIGURES:
        shown = getattr(ek, name)(sample, "children")
        assert isinstance(shown, ek.FigureImage), name
        assert shown.alt.endswith(".") and shown.alt.count(". ") == 0, name  # one specific sentence
        assert isinstance(shown.data, pd.DataFrame) and len(shown.data), name
    assert isinstance(ek.follow_up_table(sample, "facilitators"), ek.Table)
    assert isinstance(ek.follow_up_figure(sample, "facilitators"), ek.FigureImage)


def test_the_tables_show_the_results_numbers(sample):
    itt = sample.results["intention_to_treat"]
    itt = itt[(itt["section"] == "children") & (itt["contrast"] == "post-pre")].set_index("measure")
    labels = sample.cohort.sections["children"].labels
    shown = ek.intention_to_treat_table(sample, "children").data
    shown = shown[shown["Compared"] == "End − start"].set_index("Measure")
    for measure, row in itt.iterrows():
        cell = shown.loc[labels[measure], "Everyone who started: change [95% CI]"]
        assert cell.replace("−", "-") == f"{row['estimate']:+.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    clusters = sample.results["clustering"]
    clusters = clusters[(clusters["section"] == "children") & (clusters["level"] == "group")].set_index("measure")
    table = ek.clustering_table(sample, "children").data
    table = table[table["Clustered by"] == "Delivery group"].set_index("Measure")
    for measure, row in clusters.iterrows():
        assert table.loc[labels[measure], "ICC"] == f"{row['icc']:.2f}"
        assert table.loc[labels[measure], "Design effect"] == f"{row['design_effect']:.2f}"
        assert f"[{row['robust_ci_low']:.2f}, {row['robust_ci_high']:.2f}]" in \
            table.loc[labels[measure], "Change, allowing for clusters [95% CI]"].replace("−", "-")
        said = "yes" if row["width_ratio"] > 1 else "no"
        assert table.loc[labels[measure], "Usual interval too narrow?"].startswith(said)
    lead = ek.clustering_table(sample, "children").lead
    assert "By delivery group:" in lead and "too narrow" in lead and "times as wide" in lead
    compared = sample.results["comparison"].set_index("measure")
    table = ek.comparison_table(sample, "children").data.set_index("Measure")
    for measure, row in compared.iterrows():
        cell = table.loc[labels[measure], "Difference at the end, adjusted [95% CI]"].replace("−", "-")
        assert cell == f"{row['adjusted_difference']:+.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        assert table.loc[labels[measure], "Took part (n)"] == row["n_intervention"]


def test_the_follow_up_table_is_the_follow_up_rows_only(sample):
    outcomes = sample.results["child_outcomes"]
    later = outcomes[outcomes["contrast"].isin(["follow_up-pre", "follow_up-post"])]
    table = ek.follow_up_table(sample, "children").data
    assert len(table) == len(later) and set(table["Compared"]) == {"Follow-up − start", "Follow-up − end"}
    assert sorted(table["n"]) == sorted(later["n"].astype(int))  # the sample's follow-up groups are not small
    assert "answered the follow-up questionnaire" in ek.follow_up_table(sample, "children").lead


# --------------------------------------------------------------------------- the old shape: a reason each

@pytest.mark.parametrize("section", ["children", "facilitators"])
def test_sections_the_data_do_not_allow_say_why_and_what_to_configure(old, section):
    reasons = {
        "comparison_table": "`columns: {arm: ...}`",
        "follow_up_table": "`timepoints: {follow_up: [...]}`",
        "dose_table": "`columns: {sessions: ...}`",
    }
    for name, configure in reasons.items():
        shown = getattr(ek, name)(old, section)
        assert isinstance(shown, ek.Markdown) and isinstance(shown.data, pd.DataFrame) and shown.data.empty
        sentence = shown.text.strip("_")
        assert configure in sentence and sentence.count(". ") == 0 and sentence.endswith("."), name
    for name in ("comparison_figure", "follow_up_figure", "dose_figure"):
        shown = getattr(ek, name)(old, section)
        assert isinstance(shown, ek.Markdown) and shown.text == "", name  # the table above said why
    # clustering: only by site in the old shape (children), which the section says, naming what to add
    clustering = ek.clustering_table(old, section)
    if section == "facilitators":
        assert isinstance(clustering, ek.Markdown) and "`columns: {group: ..., facilitator: ...}`" in clustering.text
    else:
        assert set(clustering.data["Clustered by"]) == {"Site"}
        assert "add columns: {group: ..., facilitator: ...} to the children section" in clustering.lead


def test_absent_sections_when_the_keys_are_missing_or_empty(sample):
    keys = ("intention_to_treat", "clustering", "comparison", "dose")
    missing = copy.copy(sample)
    missing.results = {k: v for k, v in sample.results.items() if k not in keys}
    empty = _with_results(sample, **{k: sample.results[k].iloc[:0] for k in keys})
    for data in (missing, empty):
        for name in ("intention_to_treat_table", "clustering_table", "comparison_table", "dose_table"):
            shown = getattr(ek, name)(data, "children")
            assert isinstance(shown, ek.Markdown) and shown.text.startswith("_") and shown.data.empty, name
        for name in ("clustering_figure", "comparison_figure", "dose_figure"):
            assert getattr(ek, name)(data, "children").text == ""


# --------------------------------------------------------------------------- nothing raw, nothing small

def test_no_raw_group_facilitator_or_data_value_is_shown(sample):
    ids, texts = data_values(sample.config)
    waves = sample.cohort.sections["children"].waves
    codes = {str(v) for c in ("group", "facilitator") for v in waves[c].dropna().unique()}
    pages = [_shown_html(getattr(ek, name)(sample, section)) for name in TABLES + FIGURES
             for section in ("children", "facilitators")]
    text = html.unescape(" ".join(pages))
    tokens = set(re.findall(r"[\w-]+", text))
    assert not [v for v in ids if v in tokens]
    assert not [v for v in texts if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]
    assert not codes & tokens  # not even the opaque codes: the report speaks of groups, never of one


def _problems(shown, min_cell):
    found = []
    for rows in html_tables(_shown_html(shown)):
        found += table_problems(rows, min_cell=min_cell)
    return found + text_problems(_shown_html(shown), min_cell=min_cell)


def test_the_new_tables_pass_the_disclosure_check(sample):
    for name in TABLES:
        for section in ("children", "facilitators"):
            assert _problems(getattr(ek, name)(sample, section), sample.min_cell) == [], (name, section)


def test_people_who_started_are_hidden_when_few_left(sample):
    """Started (n) minus the completers' n (shown in the change table) is how many left: hidden when small."""
    itt = sample.results["intention_to_treat"].copy()
    matched = summary.post_pre(sample.results["child_outcomes"]).set_index("measure")["n"]
    first = itt.index[(itt["section"] == "children") & (itt["measure"] == "differentiating")]
    itt.loc[first, "n_people"] = matched["differentiating"] + 3
    shown = ek.intention_to_treat_table(_with_results(sample, intention_to_treat=itt), "children")
    label = sample.cohort.sections["children"].labels["differentiating"]
    rows = shown.data[shown.data["Measure"] == label]
    assert set(rows["Started (n)"]) == {"*"}
    assert set(shown.technical.data.loc[shown.technical.data["Measure"] == label, "Questionnaires used"]) == {"*"}
    assert any("hidden" in note for note in shown.notes)


def test_attrition_shares_are_hidden_when_few_left_an_arm(sample):
    """A share who left, beside the analysed counts, gives away how many left each arm: hidden when that is small."""
    waves = sample.cohort.sections["children"].waves
    pre = waves[waves["timepoint"] == "pre"]
    compared = sample.results["comparison"]

    def started(arm, measure):
        return int(pre.loc[(pre["arm"] == arm) & pre[measure].notna(), "id"].nunique())

    left = [(started("intervention", m) - a, started("comparison", m) - b)
            for m, a, b in zip(compared["measure"], compared["n_intervention"], compared["n_comparison"])]
    small = [any(0 < k < sample.min_cell for k in pair) for pair in left]
    shown = ek.comparison_table(sample, "children")
    assert [v == "*" for v in shown.data["Left before the end"]] == small
    for verdict, hidden in zip(shown.technical.data["Attrition standard"], small):
        if hidden:  # the verdict stays, without the percentages that would give the count away
            assert re.fullmatch(r"(low|high) attrition \(WWC cautious boundary\)", verdict)
    # when nobody left an arm in small numbers, the shares are shown
    wide = compared.assign(n_comparison=[started("comparison", m) - 10 for m in compared["measure"]],
                           n_intervention=[started("intervention", m) - 20 for m in compared["measure"]])
    shown = ek.comparison_table(_with_results(sample, comparison=wide), "children")
    assert all(v.endswith("%") for v in shown.data["Left before the end"])


def test_dose_counts_carry_complementary_suppression(sample):
    dose = sample.results["dose"].copy()
    dose.loc[0, ["partial_dose_n", "full_dose_n"]] = [3, dose.loc[0, "n"] - 3]
    shown = ek.dose_table(_with_results(sample, dose=dose), "children").data
    row = shown.iloc[0]
    partial = [c for c in shown.columns if c.startswith("Fewer than")]
    full = [c for c in shown.columns if c.startswith("5 or more")]
    assert row[partial[0]] == "<5" and row[partial[1]] == ""  # no mean change of fewer than 5
    hidden = [row[c] for c in ("n", full[0])]
    assert sum(is_hidden(v) for v in hidden) == 1  # n or the full dose's n, never both shown
    assert row[full[1]] != ""  # the full dose's mean is of many people: shown


def test_dose_bins_pool_sessions_until_each_holds_min_cell():
    from evalkit.report.plots import dose_bins

    sessions = [0, 1, 1, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6]
    changes = pd.DataFrame({"m": np.linspace(-0.5, 1, len(sessions)), "sessions": sessions})
    bins = dose_bins(changes, measures=["m"], full_dose=5, min_cell=5)
    assert bins["bin"].tolist() == ["0–3", "4", "5", "6"] or bins["n"].min() >= 5
    assert (bins["n"] >= 5).all()
    assert set(bins.loc[bins["dose"] == "partial", "high"]) <= {0, 1, 2, 3, 4}  # never across the full dose
    for dose, side in (("partial", changes["sessions"] < 5), ("full", changes["sessions"] >= 5)):
        part = bins[bins["dose"] == dose]
        assert part["n"].sum() == side.sum()
        assert np.average(part["mean_change"], weights=part["n"]) == pytest.approx(changes.loc[side, "m"].mean())
    few = dose_bins(changes[changes["sessions"] != 4].assign(sessions=lambda c: c["sessions"].clip(lower=3)).head(3),
                    measures=["m"], full_dose=5, min_cell=5)
    assert few["mean_change"].isna().all()  # fewer than min_cell in all: nothing about them is drawn


def test_follow_up_figure_hides_the_n_that_would_give_a_small_count_away(sample):
    """A panel's n (people with all three questionnaires) beside the tables' n of each contrast would give away
    how many missed one wave: printed only where no such difference is small."""
    image = ek.follow_up_figure(sample, "children")
    outcomes = sample.results["child_outcomes"]
    labels = sample.cohort.sections["children"].labels
    for ax in image.figure.axes:
        match = re.search(r"\(n = (\d+)\)", ax.get_title())
        measure = next((m for m, lab in labels.items() if ax.get_title().startswith(lab)), None)
        if measure is None:
            continue
        n = image.data.loc[image.data["measure"] == measure, "n"].iloc[0]
        others = outcomes.loc[outcomes["measure"] == measure, "n"]
        risky = any(0 < abs(n - k) < sample.min_cell for k in others)
        assert bool(match) == (not risky), ax.get_title()
        if match:
            assert int(match.group(1)) == n


# --------------------------------------------------------------------------- consumers ignore follow-up rows

def test_outcome_consumers_read_only_the_post_pre_rows(sample):
    before = _with_results(sample, child_outcomes=summary.post_pre(sample.results["child_outcomes"]),
                           facilitator_outcomes=summary.post_pre(sample.results["facilitator_outcomes"]))
    assert len(sample.results["child_outcomes"]) > len(before.results["child_outcomes"])  # the sample has them
    for section in ("children", "facilitators"):
        pd.testing.assert_frame_equal(ek.outcomes_table(sample, section).data, ek.outcomes_table(before, section).data)
        pd.testing.assert_frame_equal(ek.outcomes_table(sample, section).technical.data,
                                      ek.outcomes_table(before, section).technical.data)
        pd.testing.assert_frame_equal(summary.summary_table(sample, section), summary.summary_table(before, section))
        forest = [list(line.get_xdata()) for line in ek.forest_figure(sample, section).figure.axes[0].lines]
        assert forest == [list(line.get_xdata()) for line in ek.forest_figure(before, section).figure.axes[0].lines]
    pd.testing.assert_frame_equal(summary.main_points(sample), summary.main_points(before))
    # and a table written before follow-up existed (no contrast column) is all post-pre
    bare = _with_results(before, child_outcomes=before.results["child_outcomes"].drop(columns="contrast"))
    pd.testing.assert_frame_equal(ek.outcomes_table(bare, "children").data, ek.outcomes_table(before, "children").data)


# --------------------------------------------------------------------------- figures draw the table's numbers

def test_clustering_figure_draws_both_intervals_of_the_results(sample):
    image = ek.clustering_figure(sample, "children")
    clusters = sample.results["clustering"]
    clusters = clusters[clusters["section"] == "children"]
    levels = list(dict.fromkeys(clusters["level"]))
    axes = [ax for ax in image.figure.axes if ax.get_visible()]
    assert len(axes) == len(levels)
    for ax, level in zip(axes, levels):
        rows = clusters[clusters["level"] == level]
        naive = next(c for c in ax.collections if c.get_gid() == "naive").get_segments()
        robust = next(c for c in ax.collections if c.get_gid() == "robust").get_segments()
        assert np.ravel([s[:, 0] for s in naive]) == pytest.approx(
            np.ravel(rows[["naive_ci_low", "naive_ci_high"]].to_numpy(dtype=float)))
        assert np.ravel([s[:, 0] for s in robust]) == pytest.approx(
            np.ravel(rows[["robust_ci_low", "robust_ci_high"]].to_numpy(dtype=float)))
        assert ax.get_legend() is not None
    sys.path.insert(0, str(Path(__file__).parent))
    from test_plots import _legend_clashes

    assert _legend_clashes(image.figure) == []
    assert "grey line treating the children as independent and a blue line allowing for delivery groups" in image.alt


def test_comparison_figure_draws_the_adjusted_differences(sample):
    image = ek.comparison_figure(sample, "children")
    (ax,) = image.figure.axes
    points = next(line for line in ax.lines if line.get_gid() == "effect")
    compared = sample.results["comparison"].set_index("measure").loc[image.data["measure"]]
    assert points.get_xdata().tolist() == pytest.approx(compared["adjusted_difference"].tolist())
    segments = next(c for c in ax.collections if c.get_gid() == "ci").get_segments()
    assert np.ravel([s[:, 0] for s in segments]) == pytest.approx(
        np.ravel(compared[["ci_low", "ci_high"]].to_numpy(dtype=float)))
    assert ax.get_xlabel() == "End score, took part minus comparison, adjusted for the start score (95% CI)"


@pytest.mark.parametrize("section", ["children", "facilitators"])
def test_follow_up_figure_draws_the_means_of_people_with_all_three(sample, section):
    from scipy import stats

    image = ek.follow_up_figure(sample, section)
    sec = sample.cohort.sections[section]
    waves = sec.waves[sec.waves["arm"].fillna("intervention") != "comparison"] if "arm" in sec.waves else sec.waves
    drawn = [ax for ax in image.figure.axes if ax.get_gid() == "drawn"]
    assert len(drawn) == len(sec.measures)
    for ax, measure in zip(drawn, sec.measures):
        wide = waves.pivot_table(index="id", columns="timepoint", values=measure)[["pre", "post", "follow_up"]].dropna()
        means = next(line for line in ax.lines if line.get_gid() == "means").get_ydata()
        assert list(means) == pytest.approx(wide.mean().tolist())  # an independent pandas pivot
        half = stats.t.ppf(0.975, len(wide) - 1) * wide.std(ddof=1) / np.sqrt(len(wide))
        segments = next(c for c in ax.collections if c.get_gid() == "ci").get_segments()
        assert np.ravel([s[:, 1] for s in segments]) == pytest.approx(
            np.ravel(np.column_stack([wide.mean() - half, wide.mean() + half])))
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Start", "End", "Follow-up"]


def test_dose_figure_draws_bins_that_add_up_to_the_table(sample):
    image = ek.dose_figure(sample, "children")
    bins = image.data
    dose = sample.results["dose"].set_index("measure")
    assert (bins["n"].dropna() >= sample.min_cell).all()
    for measure, rows in bins.groupby("measure"):
        full, partial = rows[rows["dose"] == "full"], rows[rows["dose"] == "partial"]
        assert full["n"].sum() == dose.loc[measure, "full_dose_n"]
        assert partial["n"].sum() == dose.loc[measure, "partial_dose_n"]
        assert np.average(full["mean_change"], weights=full["n"].astype(float)) == pytest.approx(
            dose.loc[measure, "full_dose_mean_change"])
    labels = sample.cohort.sections["children"].labels
    for ax in [a for a in image.figure.axes if a.get_visible()]:
        measure = next(m for m, lab in labels.items() if lab == ax.get_title())
        drawn = next(line for line in ax.lines if line.get_gid() == "means").get_ydata()
        assert list(drawn) == pytest.approx(bins.loc[bins["measure"] == measure, "mean_change"].dropna().tolist())


# --------------------------------------------------------------------------- how far to trust: evidence and claim

def test_index_trust_section_opens_with_the_claim_and_ends_with_the_evidence(sample):
    trust = summary.trust(sample)
    page = render.index_html("Report", trust=trust, main_points=["x"])
    section = re.search(r'<section id="trust">(.*?)</section>', page, re.S).group(1)
    evidence = sample.results["evidence"]
    claim = evidence.loc[(evidence["check"] == "claim") & (evidence["section"] == "children"), "detail"].iloc[0]
    assert section.index('class="claim"') < section.index("<dl>") < section.index('<table class="evidence">')
    assert html.escape(claim, quote=False) in section.split("<dl>")[0]
    rows = html_tables(section)[0]
    assert rows[0] == ["Check", "Status", "What the data show", "To strengthen"]
    checks = evidence[(evidence["section"] == "children") & (evidence["check"] != "claim")]
    assert len(rows) - 1 == len(checks)
    assert {r[1] for r in rows[1:]} <= set(summary.STATUS_WORDS.values())
    assert [r[0] for r in rows[1:]] == [summary.CHECK_WORDS[c] for c in checks["check"]]
    assert "does not award an evidence rating" in section
    assert table_problems(rows, min_cell=sample.min_cell) == []


def test_design_statement_follows_the_comparison_group(sample, old):
    design = dict(zip(*summary.trust(sample)[["topic", "text"]].T.values))["Design"]
    assert "comparison group" in design and "there is no comparison group" not in design
    assert "regression to the mean" in design
    design = dict(zip(*summary.trust(old)[["topic", "text"]].T.values))["Design"]
    assert "there is no comparison group" in design


def test_word_summary_carries_the_claim_and_the_evidence(sample, tmp_path):
    import docx

    from evalkit.report.word import write_summary

    path = write_summary(summary.word_summary(sample), tmp_path / "summary.docx")
    document = docx.Document(path)
    text = [p.text for p in document.paragraphs]
    trust = text.index("How far to trust these results")
    claim = summary.claims(sample)[0][1]
    assert any(claim in t for t in text[trust:trust + 3])
    headers = [[c.text for c in t.rows[0].cells] for t in document.tables]
    assert headers[0][0] == "Measure"  # the summary tables first, the evidence after them
    assert headers[-1] == ["Check", "Status", "What the data show", "To strengthen"]
    assert text.index("Summary tables") < text.index("Evidence checks") < text.index("Disclosure control")


# --------------------------------------------------------------------------- captions name what is drawn

def test_captions_of_the_new_figures_name_the_colours_drawn(sample, old):
    """As issue 10's caption tests: each colour word in a caption is the nearest plain word to the colour drawn.
    The captions come with the figures, so a cohort without the figure shows no caption either."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_plots import _colour_word

    image = ek.clustering_figure(sample, "children")
    ax = image.figure.axes[0]
    naive = next(c for c in ax.collections if c.get_gid() == "naive")
    robust = next(c for c in ax.collections if c.get_gid() == "robust")
    means = next(line for line in ax.lines if line.get_gid() == "means")
    zero = next(line for line in ax.lines if line.get_gid() == "zero")
    assert f"mean change ({_colour_word(means.get_markerfacecolor())} points)" in image.caption
    assert f"a {_colour_word(naive.get_color()[0])} line treating the children as independent" in image.caption
    assert f"a {_colour_word(robust.get_color()[0])} line allowing for the clusters" in image.caption
    assert f"the {_colour_word(zero.get_color())} vertical line is zero" in image.caption

    image = ek.comparison_figure(sample, "children")
    (ax,) = image.figure.axes
    points = next(line for line in ax.lines if line.get_gid() == "effect")
    assert f"a {_colour_word(points.get_markerfacecolor())} point for each measure" in image.caption

    for section in ("children", "facilitators"):
        image = ek.follow_up_figure(sample, section)
        ax = next(a for a in image.figure.axes if a.get_gid() == "drawn")
        means = next(line for line in ax.lines if line.get_gid() == "means")
        ci = next(c for c in ax.collections if c.get_gid() == "ci")
        colour = _colour_word(means.get_color())
        assert f"{colour} points joined by a {colour} line" in image.caption
        assert f"a {_colour_word(ci.get_color()[0])} line for its 95% confidence interval" in image.caption

    image = ek.dose_figure(sample, "children")
    ax = image.figure.axes[0]
    means = next(line for line in ax.lines if line.get_gid() == "means")
    zero = next(line for line in ax.lines if line.get_gid() == "zero")
    assert f"a {_colour_word(means.get_markerfacecolor())} point for each number of sessions" in image.caption
    assert zero.get_linestyle() == "--" and f"the dashed {_colour_word(zero.get_color())} line is zero" in image.caption
    assert "each labelled with its number of children" in image.caption
    assert all("n=" in t.get_text() for t in ax.get_xticklabels())
    # no figure, no caption: the notebooks carry none of their own for these figures
    for name in FIGURES:
        assert getattr(ek, name)(old, "facilitators").text == ""
    for notebook in ("02_child_outcomes", "03_facilitator_confidence"):
        cells = nbformat.read(str(ROOT / "notebooks" / f"{notebook}.ipynb"), as_version=4).cells
        for k, cell in enumerate(cells):
            if cell.cell_type == "code" and cell.source.strip().startswith(tuple(f"ek.{f}" for f in FIGURES)):
                assert cells[k - 1].cell_type == "code", (notebook, cell.source)


def test_a_captioned_figure_shows_its_caption_then_the_image(sample, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr(shell.display_pub, "publish",
                        lambda data, metadata=None, **kws: shown.append((data, metadata or {})))
    image = ek.comparison_figure(sample, "children")
    image._ipython_display_()
    assert shown[0][0]["text/markdown"] == image.caption
    assert "image/png" in shown[1][0] and shown[1][1]["image/png"]["alt"] == image.alt
