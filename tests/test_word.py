"""Tests of evalkit.report.word: the Word summary read back with python-docx (the library is the reader)."""
import io

import docx
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from evalkit.report.word import Summary, write_summary


@pytest.fixture
def png():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_summary_reads_back(tmp_path, png):
    table = pd.DataFrame({"Measure": ["Differentiating emotions", "Total"], "n": [269, 270],
                          "Change (95% CI)": ["0.21 (0.16 to 0.26)", "0.10 (0.07 to 0.13)"]})
    s = Summary(title="Sample <cohort> & co\x07", main_points=["Children improved: moderate (d_z 0.49), 269 children."],
                facilitator_points=["Facilitators' confidence rose."], about=["Healing Together, Kent."],
                trust=["One group measured before and after cannot show the programme caused the change."],
                warnings=["The EAQ-30 key shipped with evalkit is a placeholder."], tables=[("Summary", table)],
                figures=[("Effect sizes", png)], disclosure="Counts from 1 to 4 are shown as <5.")
    path = write_summary(s, tmp_path / "summary.docx")
    document = docx.Document(path)
    text = [p.text for p in document.paragraphs]
    assert text[0] == "Sample <cohort> & co"  # control character removed, markup kept as text
    for heading in ("Main points", "About this evaluation", "How far to trust these results", "Summary tables",
                    "Facilitators: main points", "Disclosure control"):
        assert heading in text
    assert text.index("Main points") < text.index("About this evaluation") < text.index("How far to trust these results")
    assert "Children improved: moderate (d_z 0.49), 269 children." in text
    assert "The EAQ-30 key shipped with evalkit is a placeholder." in text
    cells = [[c.text for c in row.cells] for row in document.tables[0].rows]
    assert cells[0] == ["Measure", "n", "Change (95% CI)"] and cells[1][1] == "269"
    assert len(document.inline_shapes) == 1
    assert document.core_properties.title == "Sample <cohort> & co"


def test_same_summary_same_bytes(tmp_path):
    s = Summary(title="t", main_points=["a"])
    a = write_summary(s, tmp_path / "a.docx").read_bytes()
    b = write_summary(s, tmp_path / "b.docx").read_bytes()
    assert a == b
