"""Issue 10: a report a commissioner can read, trust and file.

Checked on the sample cohort's report, read as a commissioner gets it: the
index opens with main points, about and how far to trust (computed, not fixed
text), every page shows the instrument warning, and the statements' numbers
are those of the results files (the outside reference for each number is the
results CSV the statistics tests already check against R, scipy and
statsmodels).
"""
import html
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import post_pre, shared_sample_report
from evalkit.cli import main
from evalkit.report import summary
from evalkit.report.findings import size_words

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
PAGES = ["index.html", "01_data_quality.html", "02_child_outcomes.html", "03_facilitator_confidence.html"]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    return shared_sample_report(tmp_path_factory)  # built once per run, read only


def _section(page, name):
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert match, f'no <section id="{name}">'
    return match.group(1)


def _items(fragment, tag="li"):
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(rf"<{tag}>(.*?)</{tag}>", fragment, re.S)]


def test_index_reads_main_points_about_trust_pages_then_provenance(sample_report):
    page = (sample_report / "index.html").read_text(encoding="utf-8")
    order = [page.index(marker) for marker in ('class="instrument-warning"', 'id="main-points"', 'id="about"',
                                               'id="trust"', 'id="pages"', 'id="provenance"')]
    assert order == sorted(order)
    # the checksums are folded away, not half the page
    assert re.search(r"<details><summary>Input files and their SHA-256 checksums</summary>", page)
    assert "<h2>Summary</h2>" not in page  # the "ok, ok, ok" table is gone when every page rendered


def test_main_points_are_three_to_six_computed_bullets(sample_report):
    page = (sample_report / "index.html").read_text(encoding="utf-8")
    points = _items(_section(page, "main-points"))
    # 3 to 6 on the outcomes, then one on delivery and training and one on system outcomes (issue 13)
    assert 3 <= len(points) - 2 <= 6 and points[-2].startswith(tuple("0123456789")) and "rate ratio" in points[-1]
    outcomes = post_pre(pd.read_csv(sample_report / "results" / "child_outcomes.csv")).set_index("measure")
    # primary measures first, one bullet each, with direction, size in words, d_z and n from the results file
    for point, measure in zip(points[1:4], ["differentiating", "verbal_sharing", "not_hiding"]):
        row = outcomes.loc[measure]
        assert point.startswith(f"Children's {row['label']} scores improved: a {size_words(row['d_z'])} improvement")
        assert f"d_z {row['d_z']:.2f}" in point and f"{int(row['n'])} children" in point
    assert points[0].startswith("Bottom line: Children's scores improved on 3 of the 3 primary measures")
    # the sample has a waiting-list comparison arm: the bottom line points to the comparison instead of
    # saying there is none (the old single-group shape is checked in tests/test_report_issue12.py)
    assert "how the children who took part compare with children who did not" in points[0]
    assert points[4].startswith("Secondary measures")
    for measure in ("bodily_awareness", "attending_others", "analyses"):
        assert outcomes.loc[measure, "label"] in points[4]
    facilitators = post_pre(pd.read_csv(sample_report / "results" / "facilitator_outcomes.csv"))
    assert points[5].startswith("Facilitators' scores")
    for row in facilitators.itertuples():
        assert f"{row.label} improved ({size_words(row.d_z)}, d_z {row.d_z:.2f}" in points[5]
    assert "Cohen's (1988) convention" in html.unescape(_section(page, "main-points"))


def test_about_names_the_programme_period_sites_and_n(sample_report):
    page = (sample_report / "index.html").read_text(encoding="utf-8")
    about = html.unescape(_section(page, "about"))
    assert "Healing Together is a trauma-informed programme" in about
    assert "September 2025 to July 2026" in about
    assert "Site A, Site B and Site C (3 sites)." in about
    matched = post_pre(pd.read_csv(sample_report / "results" / "child_outcomes.csv"))["n"].max()
    assert f"{matched} children answered the questionnaire both before and after" in about


def test_trust_is_computed_from_the_data(sample_report):
    page = (sample_report / "index.html").read_text(encoding="utf-8")
    trust = html.unescape(_section(page, "trust"))
    assert "so did children who did not take part (a comparison group)" in trust and "regression to the mean" in trust
    assert "cannot prove that the programme caused the difference" in trust
    assert "placeholder scoring key" in trust and "example instrument" in trust
    moderators = pd.read_csv(sample_report / "results" / "moderators.csv")
    n_mod = int(((moderators["source"] == "interaction") & moderators["p"].notna()).sum())
    assert f"{n_mod} of whether change differed between groups" in trust
    assert "Counts from 1 to 4 are shown as '<5'" in trust
    # the facilitators' pre-only count is small in the sample: it and the total that would give it away are hidden
    assert "Fewer than 5 facilitators with a questionnaire at the start have none at the end" in trust


@pytest.mark.parametrize("name", PAGES)
def test_every_page_shows_the_instrument_warning(sample_report, name):
    page = (sample_report / name).read_text(encoding="utf-8")
    banner = re.search(r'<div class="instrument-warning" role="note">(.*?)</div>', page, re.S)
    assert banner, name
    text = html.unescape(banner.group(1))
    assert "Emotion Awareness Questionnaire (EAQ-30) uses a placeholder scoring key" in text
    assert "evalkit/data/instruments/eaq30.yml" in text  # says how to replace it
    assert "Facilitator trauma-informed practice (evalkit example instrument) is an example instrument" in text
    assert page.index("instrument-warning") < page.find("<table") or "<table" not in page


def test_report_and_validate_print_the_instrument_warning(tmp_path, capsys):
    assert main(["validate", str(SAMPLE / "cohort.yml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("check the questionnaire: Emotion Awareness Questionnaire (EAQ-30) uses a placeholder")
    assert main(["report", str(SAMPLE / "cohort.yml"), "--out", str(tmp_path / "r"), "--no-notebooks"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("evalkit: check the questionnaire:") == 2
    assert captured.out.count("index.html") <= 1


def _data(tmp_path, primary, min_cell=5, drop_post=0):
    """A ReportData of the sample with another analysis.primary / min_cell, and some facilitators' post rows dropped."""
    import shutil

    import yaml

    import evalkit.notebook as ek

    folder = tmp_path / "cohort"
    shutil.copytree(SAMPLE, folder)
    config = yaml.safe_load((folder / "cohort.yml").read_text())
    config["analysis"]["primary"] = primary
    config["disclosure"]["min_cell"] = min_cell
    (folder / "cohort.yml").write_text(yaml.safe_dump(config))
    return ek.load(str(folder / "cohort.yml"))


def test_no_primary_declared_shows_every_measure_alike(tmp_path):
    data = _data(tmp_path, [])
    points = summary.main_points(data)
    assert list(points["kind"]) == ["bottom line", "measures", "measures", "delivery", "system"]  # issue 13 last
    assert "no measure was declared primary" in points.loc[1, "sentence"]
    assert points.loc[0, "sentence"].startswith("Bottom line: Children's scores improved on 3 of the 6 measures")
    # instrument order, no measure picked out after the fact
    order = [points.loc[1, "sentence"].index(label) for label in data.cohort.children.labels.values()]
    assert order == sorted(order)


def test_higher_is_worse_turns_a_rise_into_a_worsening(tmp_path):
    from dataclasses import replace

    data = _data(tmp_path, ["differentiating"])
    sec = data.cohort.sections["children"]
    subs = tuple(replace(s, higher_is="worse") for s in sec.instrument.subscales)
    sec.instrument = replace(sec.instrument, subscales=subs)
    point = summary.main_points(data, "children").loc[0, "sentence"]
    assert point.startswith("Children's Differentiating Emotions scores worsened: a small worsening")


def test_counts_below_min_cell_are_words_and_totals_that_give_them_away_are_left_out(tmp_path):
    data = _data(tmp_path, ["differentiating"], min_cell=300)
    text = " ".join(summary.main_points(data)["sentence"]) + " ".join(summary.about(data)["text"]) + \
        " ".join(summary.trust(data)["text"])
    assert "fewer than 300 children" in text and "fewer than 300 facilitators" in text
    # no count of people below 300 appears as a number
    for number in re.findall(r"(?<![\d.,])(\d{1,3}) (?:children|facilitators)", text):
        assert int(number) >= 300 or int(number) == 0, number


# ----------------------------------------------------------------------------- Word

def test_summary_docx_opens_and_holds_the_committee_paper(sample_report):
    import docx

    document = docx.Document(sample_report / "summary.docx")
    text = [p.text for p in document.paragraphs]
    page = (sample_report / "index.html").read_text(encoding="utf-8")
    points = _items(_section(page, "main-points"))
    children = [p for p in points if not p.startswith("Facilitators'")]
    start = text.index("Main points")
    assert text[start + 1:start + 1 + len(children)] == children  # the same main points as the index
    for heading in ("About this evaluation", "How far to trust these results", "Summary tables",
                    "Facilitators: main points", "Disclosure control"):
        assert heading in text
    assert text.index("Main points") < text.index("About this evaluation") < text.index(
        "How far to trust these results") < text.index("Summary tables") < text.index("Facilitators: main points")
    assert any(t.startswith("Emotion Awareness Questionnaire (EAQ-30) uses a placeholder") for t in text[:4])
    # the summary tables: the same numbers as the results file, n disclosure-controlled
    outcomes = post_pre(pd.read_csv(sample_report / "results" / "child_outcomes.csv")).set_index("label")
    rows = [[c.text for c in row.cells] for row in document.tables[0].rows]
    assert rows[0] == ["Measure", "Role", "n", "Before", "After", "Change [95% CI]", "Size", "p (Holm)"]
    assert [r[1] for r in rows[1:]] == ["Primary"] * 3 + ["Secondary"] * 3
    for r in rows[1:]:
        o = outcomes.loc[r[0]]
        assert r[2] == str(int(o["n"])) and r[3] == f"{o['mean_pre']:.2f}" and r[4] == f"{o['mean_post']:.2f}"
        assert r[6] == f"{size_words(o['d_z'])} (d_z {o['d_z']:.2f})".replace("-", "\u2212")
    facilitators = [[c.text for c in row.cells] for row in document.tables[1].rows]
    assert facilitators[0][0] == "Measure" and len(facilitators) == 5
    assert len(document.inline_shapes) == 1  # the effect-size figure, taken from notebook 02
    assert "Children: size of the change on each measure" in " ".join(text)


def test_summary_docx_passes_the_disclosure_and_identifier_checks(sample_report):
    from evalkit.report.privacy import disclosure_check, identifier_scan

    docx_file = [sample_report / "summary.docx"]
    assert disclosure_check(sample_report, 5, files=docx_file).empty
    assert identifier_scan(sample_report, files=docx_file).empty


def test_summary_docx_is_in_the_shared_zip(sample_report, tmp_path):
    import zipfile

    assert main(["share", str(sample_report), "--to", str(tmp_path / "s.zip")]) == 0
    assert f"{sample_report.name}/summary.docx" in zipfile.ZipFile(tmp_path / "s.zip").namelist()


def test_small_counts_in_word_follow_min_cell(tmp_path):
    from evalkit.report.word import write_summary

    import docx

    data = _data(tmp_path, ["differentiating"], min_cell=300)
    path = write_summary(summary.word_summary(data), tmp_path / "s.docx")
    document = docx.Document(path)
    ns = [row.cells[2].text for row in document.tables[0].rows[1:]]
    assert ns and set(ns) == {"<300"}
    body = " ".join(p.text for p in document.paragraphs)
    assert "fewer than 300 children" in body
    for number in re.findall(r"(?<![\d.,])(\d{1,3}) (?:children|facilitators)", body):
        assert int(number) >= 300 or int(number) == 0, number
