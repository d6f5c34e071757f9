"""The tables of the report pages (issue 10): a readable summary first, every statistic one click away, human
headers, words left and numbers right, one p format, and disclosure control as strong as before."""
import copy
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import evalkit.report.notebook as ek
from conftest import SAMPLE
from evalkit.report.findings import SIZE_CONVENTION
from evalkit.report.privacy import COUNT_HEADERS, html_tables, table_problems

#: Every table call of the three report notebooks, with its arguments.
TABLE_CALLS = [("provenance", {}), ("provenance", {"compact": True}), ("accounting", {}),
               ("accounting", {"section": "children"}), ("problems", {}), ("cleaning_actions", {}),
               ("matching", {}), ("outcomes_table", {"section": "children"}),
               ("outcomes_table", {"section": "facilitators"}), ("moderators_table", {}), ("ancova_table", {}),
               ("reliable_change_table", {"section": "children"}), ("reliability_table", {"section": "children"}),
               ("reliability_table", {"section": "facilitators"}), ("attrition_table", {})]
P_FORMAT = re.compile(r"^(< \.001|> \.999|\.\d{3}|)$")


@pytest.fixture(scope="module")
def data():
    return ek.load(str(SAMPLE / "cohort.yml"))


@pytest.fixture(autouse=True)
def _no_records(monkeypatch):
    monkeypatch.setattr(ek, "record", lambda *a, **k: None)


@pytest.fixture(scope="module")
def by_hand(data):
    """The children's pre/post change per subscale from the cleaned scores, with scipy only."""
    sec = data.cohort.sections["children"]
    rows = []
    for m in sec.measures:
        wide = sec.scores.pivot(index="id", columns="timepoint", values=m).dropna()
        change = wide["post"] - wide["pre"]
        n = len(change)
        half = stats.t.ppf(0.975, n - 1) * change.std(ddof=1) / np.sqrt(n)
        rows.append({"measure": m, "n": n, "pre": wide["pre"].mean(), "post": wide["post"].mean(),
                     "change": change.mean(), "lo": change.mean() - half, "hi": change.mean() + half,
                     "d_z": change.mean() / change.std(ddof=1), "p": stats.ttest_rel(wide["post"], wide["pre"]).pvalue})
    return pd.DataFrame(rows).set_index("measure")


def _tables(data):
    for name, kwargs in TABLE_CALLS:
        shown = getattr(ek, name)(data, **kwargs)
        assert isinstance(shown, ek.Table), name
        yield f"{name}({kwargs})", shown


def test_outcomes_summary_matches_scipy_and_statsmodels(data, by_hand):
    """Reference: scipy.stats.ttest_rel and the t interval on the cleaned scores, Holm from
    statsmodels.stats.multitest.multipletests(p, method="holm"), sizes by Cohen's (1988) thresholds."""
    table = ek.outcomes_table(data, "children")
    shown = table.data
    assert shown.columns.tolist() == ["Measure", "Outcome", "n", "Before (mean)", "After (mean)", "Change [95% CI]",
                                      "Size in words", "p (Holm)"]
    labels = data.cohort.sections["children"].labels
    # the sample declares differentiating, verbal_sharing, not_hiding primary: they come first, in that order
    assert shown["Measure"].tolist() == [labels[m] for m in ("differentiating", "verbal_sharing", "not_hiding",
                                                              "bodily_awareness", "attending_others", "analyses")]
    assert shown["Outcome"].tolist() == ["Primary"] * 3 + ["Secondary"] * 3
    holm = pd.Series(multipletests(by_hand["p"], method="holm")[1], index=by_hand.index)
    for row, measure in zip(shown.itertuples(index=False), ["differentiating", "verbal_sharing", "not_hiding",
                                                             "bodily_awareness", "attending_others", "analyses"]):
        ref = by_hand.loc[measure]
        assert row.n == ref["n"]
        assert row[3] == f"{ref['pre']:.2f}" and row[4] == f"{ref['post']:.2f}"
        # a change that rounds to 0.00 is shown without a sign
        sign = "" if round(abs(ref["change"]), 2) == 0 else "+" if ref["change"] > 0 else "\u2212"
        assert row[5] == (f"{sign}{abs(ref['change']):.2f} [{ref['lo']:.2f}, {ref['hi']:.2f}]"
                          .replace("-", "\u2212"))
        d = abs(ref["d_z"])
        word = "large" if d >= 0.8 else "moderate" if d >= 0.5 else "small" if d >= 0.2 else "negligible"
        assert row[6] == f"{word} (d_z {ref['d_z']:.2f})".replace("-", "\u2212")
        p = holm[measure]
        assert row[7] == ("< .001" if p < 0.001 else f"{p:.3f}".lstrip("0"))
    # Differentiating Emotions by hand: t(268) on 269 pairs, d_z 0.49 is "small" (below 0.5)
    assert shown.iloc[0].tolist() == ["Differentiating Emotions", "Primary", 232, "2.15", "2.34",
                                      "+0.19 [0.14, 0.24]", "small (d_z 0.50)", "< .001"]
    assert any(SIZE_CONVENTION in note for note in table.notes)
    assert table.technical is not None and len(table.technical.data.columns) >= 14


def test_no_primary_declared_keeps_instrument_order_and_no_column(data):
    plain = copy.deepcopy(data)
    plain.config.analysis["primary"] = []
    shown = ek.outcomes_table(plain, "children").data
    assert "Outcome" not in shown.columns
    assert shown["Measure"].iloc[3] == "Bodily Awareness"  # instrument order: the fourth subscale


def test_wilcoxon_measures_are_sized_by_the_rank_biserial_r(data):
    wilcoxon = copy.deepcopy(data)
    o = wilcoxon.results["facilitator_outcomes"]
    o.loc[0, "primary_test"] = "Wilcoxon"
    row = ek.outcomes_table(wilcoxon, "facilitators").data.iloc[0]
    r = o.loc[0, "rank_biserial"]
    assert row["Size in words"] == f"{'large' if r >= 0.8 else 'moderate'} (rank-biserial r {r:.2f})"


def test_technical_tables_are_closed_details(data):
    for name, table in _tables(data):
        page = table._repr_html_()
        if name.startswith(("outcomes_table", "moderators_table", "ancova_table", "reliable_change_table",
                            "reliability_table", "attrition_table", "provenance({'compact'")):
            assert table.technical is not None, name
            assert page.count('<details class="technical"><summary>Full technical table: ') == 1, name
            assert "<details open" not in page and " open>" not in page, name
            # the summary shows fewer columns than the full table
            assert len(table.data.columns) < len(table.technical.data.columns), name


def test_headers_are_words_not_column_names(data):
    ids = set()
    for sec in data.cohort.sections.values():
        ids |= set(sec.labels)
    raw = {"completers_n", "alpha_ci_low", "rows_in", "rows_kept", "rows_excluded", "np2", "n_items", "note",
           "section", "file", "measure", "factor", "kind", "variable"}
    for name, table in _tables(data):
        for shown in [table] + ([table.technical] if table.technical is not None else []):
            headers = [str(c) for c in shown.data.columns]
            assert not raw & set(headers), (name, headers)
            # statistic symbols (d_z, g_av) and config keys named in brackets, "(min_cell)", may keep theirs
            words = [re.sub(r"\([a-z_]+\)", "", h) for h in headers if not h.startswith(("d_z", "g_av"))]
            assert not [h for h in words if "_" in h], (name, headers)
            if "Measure" in shown.data.columns:  # subscales by their labels, never their ids
                assert not ids & set(shown.data["Measure"]), name


def test_text_left_numbers_right(data):
    page = ek.outcomes_table(data, "children")._repr_html_()
    head = html_tables(page)[0][0]
    assert head[:3] == ["Measure", "Outcome", "n"]
    assert '<th class="text">Measure</th><th class="text">Outcome</th><th>n</th><th>Before (mean)</th>' in page
    assert '<th>Change [95% CI]</th><th class="text">Size in words</th><th>p (Holm)</th>' in page
    # a negative change and CI (Bodily Awareness in the sample) are numbers, with true minus signs
    assert re.search('<td>\u2212\\d\\.\\d\\d \\[\u2212\\d\\.\\d\\d, \u2212\\d\\.\\d\\d\\]</td>', page)
    accounting = ek.accounting(data)._repr_html_()
    assert '<th class="text">Section</th><th class="text">File</th><th>Rows in</th>' in accounting
    assert "style=" not in page + accounting  # the pages' policy forbids inline styles


def test_one_p_format_everywhere(data):
    for name, table in _tables(data):
        for shown in [table] + ([table.technical] if table.technical is not None else []):
            for column in shown.data.columns:
                if column == "p" or str(column).startswith(("p (", "Wilcoxon p")):
                    bad = [v for v in shown.data[column] if not P_FORMAT.match(str(v))]
                    assert not bad, (name, column, bad)
    assert [ek._p(v) for v in (0.0004, 0.0344, 0.5, 1.0)] == ["< .001", ".034", ".500", "> .999"]


def test_moderators_show_the_family_correction_beside_p(data):
    """Reference: statsmodels multipletests(method="holm") over every interaction p of results/moderators."""
    m = data.results["moderators"]
    inter = m[m["source"] == "interaction"]
    tests = int(inter["p"].notna().sum())
    assert tests == 24  # 6 subscales x 4 factors
    table = ek.moderators_table(data)
    column = f"p (Holm, {tests} tests)"
    assert table.data.columns.tolist()[:5] == ["Measure", "Factor", "n", "p", column]
    expected = multipletests(inter["p"], method="holm")[1]
    assert table.data[column].tolist() == [ek._p(v) for v in expected]
    assert table.data["p"].tolist() == [ek._p(v) for v in inter["p"]]
    assert "Exploratory" in table.lead and f"all {tests} moderator tests" in table.lead and "Holm" in table.lead
    assert "(exploratory)" in table.caption


def _markers(frame):
    return [v for c in frame.columns for v in frame[c] if isinstance(v, str) and re.fullmatch(r"<\d+|\*", v)]


def test_disclosure_as_strong_as_before(data):
    """With min_cell 232 the one n of 231 is hidden, in the summary and in the full table, the n's of 232
    are shown, and the page check finds nothing a reader could work out."""
    strict = copy.deepcopy(data)
    strict.config.disclosure["min_cell"] = 232
    outcomes = ek.outcomes_table(strict, "children")
    assert outcomes.data.set_index("Measure").loc["Verbal Sharing of Emotions", "n"] == "<232"
    assert outcomes.technical.data.set_index("Measure").loc["Verbal Sharing of Emotions", "n"] == "<232"
    assert outcomes.data.set_index("Measure").loc["Bodily Awareness", "n"] == 232
    shown_n = ek.moderators_table(strict).data["n"].tolist()
    assert "<232" in shown_n and all(n == "<232" or int(n) >= 232 for n in shown_n)
    for name, table in _tables(strict):
        for rows in html_tables(table._repr_html_()):
            assert table_problems(rows, min_cell=232, where=name) == [], name


def test_the_page_check_still_reads_every_count_column(data):
    """A small count planted in any shown count column is found by the disclosure check: the human headers
    are ones it knows (the attrition counts, under words, are recorded under count names for it)."""
    for name, table in _tables(data):
        for shown in [table] + ([table.technical] if table.technical is not None else []):
            counts = [c for c in shown.data.columns if str(c).casefold() in COUNT_HEADERS]
            if not counts:
                continue
            planted = shown.data.astype(object).copy()
            planted.loc[planted.index[0], counts[0]] = 2
            rows = html_tables(ek.html_table(planted))[0]
            assert table_problems(rows, min_cell=5), (name, counts[0])
    attrition = ek.attrition_table(data)
    assert {"Completers (n)", "Left before follow-up (n)"} <= set(attrition.data.columns)
    assert {"completers_n", "dropouts_n"} <= COUNT_HEADERS


def test_researchers_get_the_shown_tables_as_data(data):
    table = ek.reliable_change_table(data, "children")
    assert isinstance(table.data, pd.DataFrame) and table.frame is table.data
    assert table.data.columns.tolist() == ["Measure", "n", "Reliably improved", "No reliable change",
                                           "Reliably deteriorated"]
    # complementary suppression, as before: Differentiating Emotions 28 improved is hidden beside 1 deteriorated
    assert table.data.iloc[0, 2:].tolist() == ["*", "203 (88%)", "<5"]
    findings = ek.findings(data, "children")
    # one sentence per measure on the change, then one per measure on whether it lasted (the follow-up)
    assert findings.data.columns.tolist() == ["Measure", "Finding"] and len(findings.data) == 12
    assert findings.data["Finding"].iloc[0].startswith("Differentiating Emotions scores rose")
