"""Accessibility of the shared pages: axe-core finds no WCAG 2.1 A/AA violation, headings and images are sound.

axe-core (npm) is injected into each page of the sample report in headless
Chromium with ``Runtime.evaluate`` over the DevTools protocol: the pages' policy
allows no script, and DevTools evaluation is not subject to it. ``make test``
installs axe-core into ``.cache/npm`` (``make axe``); ``$EVALKIT_AXE`` may point
at another ``axe.min.js``.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE
from evalkit.cli import main
from evalkit.report import render

sys.path.insert(0, os.path.dirname(__file__))
import browser  # noqa: E402  (test helper next to this file)

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["index.html", "01_data_quality.html", "02_child_outcomes.html", "03_facilitator_confidence.html"]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# What nbconvert writes into an <img> that has no alt text of its own: not a description.
NBCONVERT_PLACEHOLDER = "No description has been provided for this image"

_AXE_RUN = (
    "axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']})"
    ".then((r) => ({version: axe.version, rules: r.violations.length + r.passes.length,"
    " violations: r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,"
    " target: v.nodes[0].target.join(' '), html: v.nodes[0].html.slice(0, 160)}))}))" % json.dumps(WCAG_TAGS)
)

# Headings (outside closed <details>) and every image, as the page's DOM has them.
_STRUCTURE = r"""(() => {
  const hidden = (el) => !!el.parentElement && !!el.parentElement.closest('details:not([open])');
  const text = (el) => (el.textContent || '').replace(/\s+/g, ' ').trim();
  return {
    lang: document.documentElement.lang,
    title: document.title,
    mains: document.querySelectorAll('main').length,
    headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter((h) => !hidden(h))
      .map((h) => ({level: Number(h.tagName[1]), text: text(h).slice(0, 80)})),
    images: [...document.images].map((img, i) => ({index: i + 1, hasAlt: img.hasAttribute('alt'),
      alt: img.getAttribute('alt') || '', role: img.getAttribute('role') || ''})),
  };
})()"""


def _axe_source():
    """The axe-core script: ``$EVALKIT_AXE``, else the copy ``make axe`` installs; skip or fail clearly."""
    override = os.environ.get("EVALKIT_AXE")
    path = Path(override) if override else ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if override:
        pytest.fail(f"EVALKIT_AXE={override} is not a file")
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node/npm is not installed, so axe-core could not be installed (apt-get install npm; "
                    "then make axe)")
    pytest.fail(f"axe-core is not installed at {path}: run `make axe` (or `make test`, which does it)")


def _chromium():
    if browser.chromium_path() is None:
        pytest.skip("Chromium is not installed and could not be installed (apt-get install chromium); "
                    "axe-core runs inside it")


def _audit(page, source):
    """axe-core's WCAG 2.1 A/AA result and the heading/image structure of one loaded page."""
    assert page.evaluate(source + "\n;typeof axe.run", await_promise=False) == "function"
    result = page.evaluate(_AXE_RUN, timeout=120)
    result["structure"] = page.evaluate(_STRUCTURE)
    return result


def _audit_file(html_path, source):
    with browser.open_page(html_path) as page:
        return _audit(page, source)


def _sample_report(folder):
    assert main(["report", str(SAMPLE / "cohort.yml"), "--out", str(folder), "--force"]) == 0


@pytest.fixture(scope="module")
def axe_source():
    _chromium()
    return _axe_source()


def _audit_pages(folder, report, source):
    with browser.Browser() as chromium:
        results = {}
        for name in PAGES:
            with chromium.open(report / name) as page:
                results[name] = _audit(page, source)
    (folder / "audits.json").write_text(json.dumps(results), encoding="utf-8")


@pytest.fixture(scope="module")
def audits(tmp_path_factory, axe_source):
    """Every page of the sample report, audited: once per test run, shared by the pytest-xdist workers
    (the report itself is shared with test_print)."""
    report = browser.built_once(tmp_path_factory, "sample-report", _sample_report)
    folder = browser.built_once(tmp_path_factory, "sample-report-axe",
                                lambda f: _audit_pages(f, report, axe_source))
    return json.loads((folder / "audits.json").read_text(encoding="utf-8"))


def _violations(audits):
    lines = []
    for name, result in audits.items():
        for v in result["violations"]:
            lines.append(f"{name}: {v['id']} ({v['impact']}, {v['count']} element(s)): {v['help']}; "
                         f"first: {v['target']}  {v['html']}")
    return lines


def test_axe_really_ran(audits):
    for name, result in audits.items():
        assert result["version"].startswith("4."), name
        assert result["rules"] >= 10, f"{name}: axe ran only {result['rules']} rules"


def test_no_wcag_21_a_or_aa_violations(audits):
    lines = _violations(audits)
    assert not lines, "axe-core (WCAG 2.1 A/AA) found:\n" + "\n".join(lines)


def test_batch_index_has_no_wcag_21_a_or_aa_violations(tmp_path, axe_source):
    """The many-cohorts page shows every status in its colour: each must be readable on both row shades."""
    rows = [{"cohort": f"Cohort {status}", "status": status, "n": 40 + i, "headline_effect": "d = 0.40",
             "link": f"c{i}/index.html" if status == "ok" else ""}
            for i, status in enumerate(["ok", "failed", "error", "withheld", "skipped", "ok"])]
    page = tmp_path / "batch.html"
    page.write_text(render.batch_index_html(rows), encoding="utf-8")
    lines = _violations({"batch index": _audit_file(page, axe_source)})
    assert not lines, "axe-core (WCAG 2.1 A/AA) found:\n" + "\n".join(lines)


def test_axe_catches_a_violation_on_a_page_like_ours(tmp_path, axe_source):
    """The check is real: the same pipeline flags an image without alt text and an empty link."""
    dot = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    page = tmp_path / "bad.html"
    page.write_text(render._page("Bad", f'<p><img src="data:image/png;base64,{dot}"></p><a href="x.html"></a>'),
                    encoding="utf-8")
    found = {v["id"] for v in _audit_file(page, axe_source)["violations"]}
    assert {"image-alt", "link-name"} <= found


def test_pages_have_a_language_a_title_and_one_main(audits):
    for name, result in audits.items():
        structure = result["structure"]
        assert structure["lang"] == "en", name
        assert structure["title"].strip(), name
        assert structure["mains"] == 1, name


def test_headings_are_in_order(audits):
    """One h1 first, and no level skipped on the way down (axe's heading-order is only best practice)."""
    problems = []
    for name, result in audits.items():
        headings = result["structure"]["headings"]
        if not headings or headings[0]["level"] != 1:
            problems.append(f"{name}: the first heading is not an h1: {headings[:1]}")
        if sum(h["level"] == 1 for h in headings) != 1:
            problems.append(f"{name}: {sum(h['level'] == 1 for h in headings)} h1 headings")
        for before, after in zip(headings, headings[1:]):
            if after["level"] > before["level"] + 1:
                problems.append(f"{name}: h{before['level']} {before['text']!r} is followed by "
                                f"h{after['level']} {after['text']!r}")
    assert all(len(r["structure"]["headings"]) >= 3 for r in audits.values())
    assert not problems, "\n".join(problems)


def test_every_image_has_alt_text(audits):
    images = [(name, img) for name, result in audits.items() for img in result["structure"]["images"]]
    assert len(images) >= 5, "the outcome pages show figures"
    problems = [f"{name}: image {img['index']} has alt {img['alt']!r}" for name, img in images
                if not img["alt"].strip() or img["alt"].strip() == NBCONVERT_PLACEHOLDER]
    assert not problems, "every figure needs a description (FigureImage(alt=...)):\n" + "\n".join(problems)
