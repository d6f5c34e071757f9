"""Nothing lost silently (issue 9, family 9): a report opens with the warning validate prints."""
import html
import shutil
from pathlib import Path

from evalkit.cli import main

CASE = Path(__file__).parent / "data" / "attack" / "decimals_on_a_whole_number_scale"
WARNING = ("children: 20% of the answers to Worry were set missing (not a whole number: 16 cells); "
           "see results/cleaning_log.csv")


def test_index_and_every_page_open_with_the_warning(tmp_path, capsys):
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    assert main(["report", str(case / "cohort.yml"), "--out", str(tmp_path / "out")]) == 0
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'class="data-warning"' in index and html.escape(WARNING) in index
    assert index.index("data-warning") < index.index('id="main-points"')
    for page in ("01_data_quality.html", "02_child_outcomes.html"):
        text = (tmp_path / "out" / page).read_text()
        body = text[text.index("<body"):]
        # the warning follows the page's heading, before any table
        assert "Warning:" in body and "20% of the answers to Worry were set missing" in html.unescape(body)
        assert body.index("Warning:") < body.index("<table")
