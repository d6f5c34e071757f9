"""The report on A4 paper: every table whole, every figure on one page, headings with what follows.

Every HTML page of the sample report is printed to PDF by headless Chromium
(``Page.printToPDF``, A4, backgrounds on) and the PDF's text is read back with
pypdf. A column that the page cut off is simply not drawn, so its header is
missing from the PDF; a header that only appears elsewhere (a footnote naming
"BF10") must not count, so each header row is looked for whole, its cells'
text run together in order, as Chromium paints them.
"""
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import SAMPLE
from evalkit.cli import main
from evalkit.report import render

sys.path.insert(0, os.path.dirname(__file__))
import browser  # noqa: E402  (test helper next to this file)

pypdf = pytest.importorskip("pypdf", reason="pypdf is a dev dependency: pip install -e '.[dev]'")

PAGES = ["index.html", "01_data_quality.html", "02_child_outcomes.html", "03_facilitator_confidence.html"]
CSS = Path(render.__file__).with_name("templates") / "report.css"
MM = 96 / 25.4  # CSS pixels per millimetre
A4_MM = (210.0, 297.0)

# What the page shows on paper, read in the browser: the header rows of every table that is not inside a
# closed <details> (Chromium does not print a closed details' content), and the "lead-ins" that must never
# end a page: headings, table captions, and a notebook's text cell when an output follows it.
_DOM = r"""(() => {
  const hidden = (el) => {
    for (let n = el.parentElement; n; n = n.parentElement) {
      if (n.tagName === 'DETAILS' && !n.open) {
        const summary = n.querySelector(':scope > summary');
        if (!(summary && summary.contains(el))) return true;
      }
    }
    return false;
  };
  const text = (el) => (el.textContent || '').replace(/\s+/g, ' ').trim();
  const tables = [];
  document.querySelectorAll('table').forEach((table, index) => {
    if (hidden(table)) return;
    let caption = table.caption ? text(table.caption) : '';
    const before = table.previousElementSibling;
    if (!caption && before && before.classList.contains('caption')) caption = text(before);
    const rows = [];
    for (const tr of table.rows) {
      const cells = [...tr.cells];
      const headers = cells.filter((c) => c.tagName === 'TH').map(text).filter((t) => t);
      if (!headers.length) continue;
      const wholeRow = tr.parentElement.tagName === 'THEAD' || headers.length === cells.length;
      rows.push({headers, wholeRow});
    }
    tables.push({index: index + 1, caption, rows});
  });
  const leads = [];
  document.querySelectorAll('h1, h2, h3, h4, h5, h6, .caption, caption').forEach((el) => {
    if (!hidden(el) && text(el)) leads.push(text(el));
  });
  document.querySelectorAll('.jp-MarkdownCell').forEach((cell) => {
    const next = cell.nextElementSibling;
    if (next && !next.classList.contains('jp-MarkdownCell') && text(next) + next.querySelectorAll('img').length
        && text(cell)) leads.push(text(cell));
  });
  return {tables, leads};
})()"""

# Laid out for print at the width of the printed area: every figure's size, and anything wider than the page.
_PRINT_LAYOUT = r"""(() => {
  const width = document.documentElement.clientWidth;
  const figures = [...document.images].map((img, i) => {
    const box = img.getBoundingClientRect();
    return {index: i + 1, alt: img.alt, width: box.width, height: box.height};
  });
  const wide = [];
  document.querySelectorAll('main *').forEach((el) => {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !wide.some((w) => w.el.contains(el))) wide.push({el, box});
  });
  return {figures, wide: wide.map(({el, box}) =>
    `<${el.tagName.toLowerCase()} class="${el.className}"> ${Math.round(box.right)} px wide: ` +
    (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 80))};
})()"""


def _norm(text):
    """Text as compared with the PDF: NFKC, no whitespace, no hyphens (a wrapped header may gain or lose one)."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\u00ad\u2010\u2011-]+", "", text)


def _margins_mm():
    """The ``@page`` margins of report.css as (top, right, bottom, left) in mm."""
    css = CSS.read_text(encoding="utf-8")
    page = re.search(r"@page\s*\{(.*?)\n\}", css, re.S)
    assert page, "report.css has no @page rule: printing would use the browser's paper and margins"
    margin = re.search(r"(?<![-\w])margin\s*:\s*([^;]+);", page.group(1))
    assert margin, "the @page rule of report.css sets no margin"
    values = [float(v[:-2]) for v in margin.group(1).split() if v.endswith("mm")]
    assert values and len(values) == len(margin.group(1).split()), "give the @page margins in mm"
    top, right, bottom, left = (values * 4)[:4] if len(values) == 1 else (
        [values[0], values[1], values[0], values[1]] if len(values) == 2 else
        [values[0], values[1], values[2], values[1]] if len(values) == 3 else values)
    return top, right, bottom, left


def _printable_px():
    """Width and height of the printed area of an A4 page, in CSS pixels."""
    top, right, bottom, left = _margins_mm()
    return (A4_MM[0] - left - right) * MM, (A4_MM[1] - top - bottom) * MM


_PAGE_NUMBER = re.compile(r"Page\s*\d+\s*of\s*\d+")


def _sheets(pdf_path):
    """Each PDF page's text (without the page-number footer), and the text drawn after its last image.

    Returns
    -------
    list of dict
        ``text``: the page's text in drawing order; ``tail``: the text drawn after the
        page's last image (all of it when the page has none), so a heading followed
        by its figure does not count as ending the page.
    """
    reader = pypdf.PdfReader(str(pdf_path))
    sheets = []
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        images = {name for name in xobjects if xobjects[name].get_object().get("/Subtype") == "/Image"}
        tail = []

        def operator(op, args, cm, tm, tail=tail, images=images):
            if op == b"Do" and args and args[0] in images:
                tail.clear()

        def text(piece, cm, tm, font, size, tail=tail):
            tail.append(piece)

        full = page.extract_text(visitor_operand_before=operator, visitor_text=text) or ""
        sheets.append({"text": _PAGE_NUMBER.sub("", full), "tail": _PAGE_NUMBER.sub("", "".join(tail))})
    return sheets


def _sample_report(folder):
    assert main(["report", str(SAMPLE / "cohort.yml"), "--out", str(folder), "--force"]) == 0


def _print_pages(folder, report):
    """Print every page of ``report`` into ``folder`` as PDF, with its DOM facts and print layout as JSON."""
    width, height = _printable_px()
    with browser.Browser() as chromium:
        for name in PAGES:
            with chromium.open(report / name) as page:
                page.print_pdf(folder / name.replace(".html", ".pdf"))
                facts = {"dom": page.evaluate(_DOM)}
                page.emulate_media("print")
                page.set_viewport(width, height)
                facts["layout"] = page.evaluate(_PRINT_LAYOUT)
            (folder / name.replace(".html", ".json")).write_text(json.dumps(facts), encoding="utf-8")


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """The sample report, each page printed to A4 PDF and read back, with what its DOM says should be there.

    Built and printed once per test run, whichever pytest-xdist worker gets here first.
    """
    if browser.chromium_path() is None:
        pytest.skip("Chromium is not installed and could not be installed (apt-get install chromium); "
                    "it prints the pages to PDF")
    report = browser.built_once(tmp_path_factory, "sample-report", _sample_report)
    pdfs = browser.built_once(tmp_path_factory, "sample-report-pdf", lambda f: _print_pages(f, report))
    pages = {}
    for name in PAGES:
        pdf = pdfs / name.replace(".html", ".pdf")
        facts = json.loads((pdfs / name.replace(".html", ".json")).read_text(encoding="utf-8"))
        pages[name] = {"pdf": pdf, "sheets": _sheets(pdf), **facts}
    return pages


def test_every_page_prints_on_a4(printed):
    for name, page in printed.items():
        reader = pypdf.PdfReader(str(page["pdf"]))
        for number, sheet in enumerate(reader.pages, 1):
            width_mm, height_mm = (float(v) * 25.4 / 72 for v in (sheet.mediabox.width, sheet.mediabox.height))
            assert (round(width_mm), round(height_mm)) == (210, 297), f"{name} page {number}"
        assert len(reader.pages) >= 1 and any(sheet["text"].strip() for sheet in page["sheets"]), name


def test_every_column_header_is_printed(printed):
    """Every header row is printed whole: a table the page cut off loses its last columns' headers."""
    problems = []
    checked = 0
    for name, page in printed.items():
        whole = _norm("".join(sheet["text"] for sheet in page["sheets"]))
        for table in page["dom"]["tables"]:
            label = f"{name}, table {table['index']}" + (f" ({table['caption']!r})" if table["caption"] else "")
            for row in table["rows"]:
                headers = row["headers"]
                checked += len(headers)
                if row["wholeRow"]:
                    if _norm("".join(headers)) in whole:
                        continue
                    shown = 0
                    while shown < len(headers) and _norm("".join(headers[:shown + 1])) in whole:
                        shown += 1
                    problems.append(f"{label}: header row printed only up to "
                                    f"{headers[shown - 1]!r}; missing: {headers[shown:]}" if shown else
                                    f"{label}: header row not printed: {headers}")
                else:
                    missing = [h for h in headers if _norm(h) not in whole]
                    if missing:
                        problems.append(f"{label}: row headers not printed: {missing}")
    assert checked > 50, "the sample report should have many table headers to check"
    assert not problems, "columns cut off in print:\n" + "\n".join(problems)


def test_nothing_is_wider_than_the_printed_page(printed):
    problems = [f"{name}: {item}" for name, page in printed.items() for item in page["layout"]["wide"]]
    assert not problems, "wider than A4 between the margins (cut off on paper):\n" + "\n".join(problems)


def test_no_figure_is_taller_than_a_page(printed):
    width, height = _printable_px()
    figures = [(name, f) for name, page in printed.items() for f in page["layout"]["figures"]]
    assert len(figures) >= 5, "the sample report has figures on the outcome pages"
    problems = [f"{name}: figure {f['index']} ({f['alt']!r}) is {f['height']:.0f} px tall, "
                f"the printed page {height:.0f} px" for name, f in figures if f["height"] > height]
    problems += [f"{name}: figure {f['index']} ({f['alt']!r}) is {f['width']:.0f} px wide, "
                 f"the printed page {width:.0f} px" for name, f in figures if f["width"] > width + 0.5]
    assert not problems, "\n".join(problems)


def test_no_page_ends_with_a_heading_or_caption(printed):
    """A heading, a table caption or a notebook's introducing text is never the last thing on a sheet."""
    problems = []
    for name, page in printed.items():
        leads = [(lead, _norm(lead)) for lead in page["dom"]["leads"]]
        for number, sheet in enumerate(page["sheets"][:-1], 1):
            tail = _norm(sheet["tail"])
            for lead, key in leads:
                if key and tail.endswith(key):
                    problems.append(f"{name} page {number} ends with {lead[:80]!r}")
                    break
    assert all(page["dom"]["leads"] for page in printed.values())
    assert not problems, "left at the foot of a page, apart from what it introduces:\n" + "\n".join(problems)


def test_closed_details_stay_closed_and_long_tables_repeat_their_header(tmp_path):
    """On a page of our own: a closed <details> prints its summary only; a long table breaks between rows
    and repeats its header row on every sheet."""
    if browser.chromium_path() is None:
        pytest.skip("Chromium is not installed and could not be installed (apt-get install chromium)")
    rows = "".join(f"<tr><td>row {i:03d}</td><td>{i * 7}</td></tr>" for i in range(150))
    body = ("<h2>Closed</h2><details><summary>Show the hidden table</summary>"
            "<table><thead><tr><th>HiddenColumnName</th></tr></thead><tbody><tr><td>secret cell</td></tr>"
            "</tbody></table></details>"
            "<h2>Long</h2><table><thead><tr><th>RepeatedHeaderA</th><th>RepeatedHeaderB</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
    html = tmp_path / "page.html"
    html.write_text(render._page("Print check", body), encoding="utf-8")
    pdf = browser.print_pdf(html, tmp_path / "page.pdf")
    texts = [sheet["text"] for sheet in _sheets(pdf)]
    assert len(texts) >= 3, "150 rows should take several A4 sheets"
    assert "Show the hidden table" in texts[0]
    assert not any("HiddenColumnName" in t or "secret cell" in t for t in texts)
    for number, text in enumerate(texts, 1):
        assert "RepeatedHeaderARepeatedHeaderB" in _norm(text), f"sheet {number} has no header row"
    # rows never split: every row's two cells are on the same sheet
    for i in range(150):
        assert sum(f"row {i:03d}" in t for t in texts) == 1
        sheet = next(t for t in texts if f"row {i:03d}" in t)
        assert re.search(rf"row {i:03d}\s*{i * 7}\b", sheet)
