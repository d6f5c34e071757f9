"""Issue 13 pages: 04_implementation and 05_system_outcomes on the sample report, and their figures read back.

The pages are read as a commissioner gets them (the HTML of the sample report, built once per test run and
shared with the other sample-report tests); the numbers they show are those of the results files, which
tests/test_service_results.py checks against pandas, statsmodels' Wilson interval and an independent GLM fit.
"""
import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from conftest import shared_sample_report  # noqa: E402
from evalkit.report.privacy import disclosure_check, html_tables  # noqa: E402
from evalkit.report.service_plots import embedding_plot, fidelity_plot, its_legend, its_plot  # noqa: E402
from evalkit.stats.its import fitted_rates  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
#: Headers of the pages' tables that count children or facilitators.
PEOPLE_COUNTS = ("children reached", "trained", "delivering within 3 months", "delivering within 6 months", "n")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- figures, read back

def test_fidelity_plot_draws_each_group_at_its_percentage_and_the_80_line():
    groups = pd.DataFrame({"site": ["A", "A", "B", "A"], "group": ["G001", "G002", "G003", "G004"],
                           "fidelity_pct": [95.0, 62.5, 80.0, 95.0]})
    ax = fidelity_plot(groups)
    above, below = ax.collections[:2]
    assert sorted(above.get_offsets()[:, 0]) == [80.0, 95.0, 95.0] and below.get_offsets()[:, 0].tolist() == [62.5]
    a = above.get_offsets()
    assert len(set(a[a[:, 0] == 95.0][:, 1])) == 2  # equal percentages stack, not overlap
    assert ax.lines[0].get_xdata()[0] == 80 and ax.lines[0].get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A (3 groups)", "B (1 group)"]
    assert list(ax.get_yticks()) == [1, 0]  # the table's first site at the top


def test_embedding_plot_draws_only_the_shares_shown_with_their_intervals():
    rows = pd.DataFrame({"level": ["site", "site", "overall", "overall"], "site": ["A", "A", "All sites", "All sites"],
                         "window": ["3m", "6m", "3m", "6m"], "share": [40.0, np.nan, 45.0, 70.0],
                         "ci_low": [20.0, np.nan, 30.0, 55.0], "ci_high": [60.0, np.nan, 60.0, 82.0]})
    ax = embedding_plot(rows)
    assert len(ax.lines) == 3  # the hidden 6-month share of site A is not drawn
    assert [tuple(line.get_xdata()) for line in ax.lines] == [(20.0, 60.0), (30.0, 60.0), (55.0, 82.0)]
    assert ax.collections[1].get_offsets()[:, 0].tolist() == [70.0]


def test_its_plot_draws_the_rate_the_embedding_month_and_the_projected_trend():
    months = pd.period_range("2024-01", periods=24, freq="M").astype(str)
    count = [40 + (i % 3) if i < 12 else 30 + (i % 3) for i in range(24)]
    count[3] = 2  # a small monthly count: drawn hollow, never written
    system = pd.DataFrame({"locality": "L", "month": months, "measure": "m", "count": count, "denominator": 1000.0})
    lines = fitted_rates(system, embedded_from={"L": "2025-01"})
    ax = its_plot(lines, embedded="2025-01", min_cell=5)
    observed, fit_before, fit_after, projected, embedded = ax.lines
    assert np.allclose(observed.get_ydata(), 1000 * np.array(count) / 1000)
    assert projected.get_linestyle() == "--" and len(projected.get_ydata()) == 12
    assert np.all(np.asarray(projected.get_ydata()) > np.asarray(fit_after.get_ydata()))  # the drop after embedding
    assert pd.Timestamp(embedded.get_xdata()[0]) == pd.Timestamp("2025-01-01")
    hollow = ax.collections[1]
    assert hollow.get_offsets().shape[0] == 1 and tuple(hollow.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)
    assert not any(re.search(r"\d", t.get_text()) for t in ax.texts)  # no count written on the axes
    legend = its_legend(ax.figure, min_cell=5)
    assert [t.get_text() for t in legend.get_texts()] == [
        "Monthly rate", "Month with fewer than 5 events", "Model fit", "Earlier trend carried forward",
        "Month embedded"]
    assert legend.get_lines()[3].get_linestyle() == "--"


# ----------------------------------------------------------------------------- the sample report

needs_sample = pytest.mark.skipif(not ((SAMPLE / "sessions.csv").is_file() and (SAMPLE / "system.csv").is_file()),
                                  reason="the sample has no sessions or system outcomes")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return shared_sample_report(tmp_path_factory)  # built once per run, shared with the other modules; read only


def _text(page):
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _table(page, first_header):
    for rows in html_tables(page):
        if rows and rows[0] and rows[0][0] == first_header:
            return pd.DataFrame(rows[1:], columns=rows[0])
    raise AssertionError(f"no table starting with {first_header!r}")


def check_pages(report):
    """Every check of the two pages on one report folder (also usable on any report with both pages)."""
    results = report / "results"
    page4 = (report / "04_implementation.html").read_text(encoding="utf-8")
    page5 = (report / "05_system_outcomes.html").read_text(encoding="utf-8")
    index = (report / "index.html").read_text(encoding="utf-8")
    assert 'href="04_implementation.html"' in index and 'href="05_system_outcomes.html"' in index
    for heading in ("Were the sessions delivered as designed?", "Groups to follow up", "Fidelity of each group",
                    "Fidelity and children's change (exploratory)", "Did the trained facilitators go on to deliver?"):
        assert f">{heading}<" in page4.replace("&#x27;", "'").replace("&#39;", "'"), heading
    for heading in ("Rates before and after embedding", "Rates month by month", "What this can and cannot show"):
        assert f">{heading}<" in page5, heading
    assert re.search(r'<img [^>]*alt="Dot plot of the fidelity of \d+ groups', page4)
    assert re.search(r'<img [^>]*alt="Line charts of the monthly rate per 1,000', page5)

    # the pages show the results files' numbers
    impl = pd.read_csv(results / "implementation.csv")
    by_site = _table(page4, "Site")
    overall = impl[impl["level"] == "overall"].iloc[0]
    assert by_site.iloc[-1]["Site"] == "All sites"
    assert by_site.iloc[-1]["Fidelity"] == f"{overall['fidelity_pct']:.0f}%"
    assert int(by_site.iloc[-1]["Sessions delivered"]) == overall["sessions_delivered"]
    its = pd.read_csv(results / "system_its.csv", keep_default_na=False, na_values=[""])
    shown = _table(page5, "Measure")
    pooled = its[its["locality"] == "all"]
    for _, row in pooled.iterrows():
        if np.isfinite(row["level_change_rr"]):
            assert any(f"{row['level_change_rr']:.2f} [{row['level_ci_low']:.2f}, {row['level_ci_high']:.2f}]"
                       == cell for cell in shown["Rate ratio [95% CI]"])
    withheld = its[its["note"].fillna("").str.contains("fewer than 6 months")]
    assert len(withheld), "the sample has a locality with too few months"
    assert (shown["Note"] == "Not modelled: fewer than 6 months on one side").sum() == len(withheld)

    # disclosure: no count of people from 1 to min_cell - 1 on either page, and the repository's check passes
    for page in (page4, page5):
        for rows in html_tables(page):
            header = [h.strip().casefold() for h in rows[0]]
            for j, name in enumerate(header):
                if name in PEOPLE_COUNTS:
                    for r in rows[1:]:
                        cell = r[j].strip().replace(",", "")
                        assert not (cell.isdigit() and 1 <= int(cell) < 5), (name, cell)
    files = [report / "04_implementation.html", report / "05_system_outcomes.html"]
    assert disclosure_check(report, 5, files=files).empty
    # no monthly count is printed on the system page: no table has a count column, and the sample's
    # small monthly counts (1 to 4) are nowhere in a table
    for rows in html_tables(page5):
        assert not any(h.casefold() in ("count", "events", "n") for h in rows[0])
    # groups and facilitators appear only as their codes
    codes = set(re.findall(r"\b[GF]\d{3}\b", _text(page4)))
    assert codes and all(re.fullmatch(r"G\d{3}", c) for c in codes)

    # main points and caveats join the index
    text = _text(index)
    assert re.search(r"\d+ of \d+ groups delivered all \d+ planned sessions with at least 80%", text)
    assert "Without a comparison locality this shows a change in time, not its cause." in text
    assert "shows an association in time, not that the programme caused it" in text
    assert "self-reported" in text


@needs_sample
def test_pages_04_and_05_show_their_tables_figures_and_caveats(report):
    check_pages(report)


# ----------------------------------------------------------------------------- sections absent

def test_each_call_says_why_when_its_section_is_absent():
    from types import SimpleNamespace

    import evalkit.notebook as ek

    config = SimpleNamespace(sessions=None, system=None, analysis={"alpha": 0.05})
    data = SimpleNamespace(results={}, cohort=SimpleNamespace(config=config, sections={}, system=None),
                           config=config, min_cell=5)
    said = {name: getattr(ek, name)(data) for name in (
        "delivery_table", "flagged_groups_table", "fidelity_outcomes_table", "embedding_table", "practice_table",
        "system_table", "system_caveat", "fidelity_figure", "embedding_figure", "system_figure")}
    for name, shown in said.items():
        assert isinstance(shown, ek.Markdown) and isinstance(shown.data, pd.DataFrame), name
    for name, key in (("delivery_table", "`sessions:`"), ("embedding_table", "`trained_on`"),
                      ("system_table", "`system:`"), ("fidelity_outcomes_table", "`group`")):
        assert key in said[name].text and said[name].text.count(". ") <= 1, name
    for name in ("fidelity_figure", "embedding_figure", "system_figure"):
        assert said[name].text == "", name  # a figure the data do not allow is simply not there
