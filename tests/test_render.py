"""Tests for evalkit.report.render: shared HTML shows no code or parameters and loads nothing."""
import base64
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from evalkit.report import render
from evalkit.errors import EvalkitError, NotebookError
from evalkit.report.privacy import find_identifiers

sys.path.insert(0, os.path.dirname(__file__))
import browser  # noqa: E402  (test helper next to this file)

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "notebooks", "report_fixture.ipynb")
SECRET = "HT-0099"

# 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _ensure_python3_kernel():
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
                       check=True, capture_output=True)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The fixture notebook run by papermill with a cohort and a raw id as parameters."""
    import papermill

    _ensure_python3_kernel()
    out = tmp_path_factory.mktemp("executed") / "report.ipynb"
    papermill.execute_notebook(FIXTURE, str(out), parameters={"cohort": "Cohort Zeta",
                                                              "secret_id": SECRET},
                               kernel_name="python3", progress_bar=False, cwd=str(out.parent))
    return out


@pytest.fixture(scope="module")
def page(executed):
    return render.notebook_to_html(executed, title="Cohort Zeta: outcomes")


def _notebook(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _code(outputs, source="x = 1", tags=()):
    cell = new_code_cell(source, execution_count=1, outputs=outputs)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


# --------------------------------------------------------------------------- notebook_to_html


def test_papermill_really_tags_the_injected_cell(executed):
    # The removal below relies on papermill's tag name; check it, not assume it.
    tags = [c.metadata.get("tags", []) for c in nbformat.read(executed, as_version=4).cells]
    assert ["injected-parameters"] in tags and ["parameters"] in tags


def test_no_code_reaches_the_page(page):
    for code in ["import matplotlib", "plt.subplots", "pd.DataFrame", "print(", "warnings.warn",
                 "%matplotlib", "execution_count"]:
        assert code not in page


def test_parameters_cells_removed_with_their_values(page):
    assert SECRET not in page
    assert "secret_id" not in page and "# Parameters" not in page
    assert "injected-parameters" not in page and '"demo"' not in page
    assert find_identifiers(page, [SECRET, "HT-0001"]) == []


def test_stderr_is_dropped(page):
    # The warning would quote the line of code and the raw id.
    assert "quoted in a warning" not in page and "UserWarning" not in page


def test_markdown_and_outputs_shown(page):
    assert "Outcome report" in page and "<strong>improved</strong>" in page
    assert "<em>fictional</em>" in page
    assert "Report for Cohort Zeta" in page
    assert "<table" in page and "12.25" in page


def test_figure_embedded_as_png_data_uri(page):
    assert re.search(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/]{200,}', page)


def test_no_prompts_no_scripts_no_loads(page):
    assert "In&nbsp;[" not in page and "Out[" not in page and "In [" not in page
    assert "<script" not in page.lower()
    assert "cdnjs" not in page and "mathjax" not in page.lower() and "require" not in page
    assert render.external_references(page) == []
    assert render.hyperlinks(page, external_only=True) == []
    assert "Content-Security-Policy" in page


def test_title_is_escaped(executed):
    page = render.notebook_to_html(executed, title="A <b>&</b> B")
    assert "<title>A &lt;b&gt;&amp;&lt;/b&gt; B</title>" in page


def test_default_title_is_file_name(executed):
    assert "<title>report</title>" in render.notebook_to_html(executed)


def test_exporter_built_once(page):
    assert render._exporter() is render._exporter()


def test_write_html(executed, tmp_path):
    target = render.write_html(executed, tmp_path / "site" / "outcomes.html", title="T")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("site/*.tmp"))


def test_failed_cell_refuses_to_render():
    error = new_output("error", ename="KeyError", evalue="'score'", traceback=["..."])
    with pytest.raises(NotebookError, match=r"cell 0 failed with KeyError"):
        render.notebook_to_html(_notebook(_code([error])))


def test_output_loading_a_remote_image_refuses_to_render():
    html = new_output("display_data", data={"text/html": '<img src="https://example.invalid/a.png">',
                                            "text/plain": "img"})
    with pytest.raises(NotebookError, match="example.invalid/a.png"):
        render.notebook_to_html(_notebook(_code([html])))


def test_markdown_remote_image_refuses_to_render():
    with pytest.raises(NotebookError, match="https://example.invalid/logo.png"):
        render.notebook_to_html(_notebook(new_markdown_cell("![logo](https://example.invalid/logo.png)")))


def test_local_markdown_image_is_embedded(tmp_path):
    (tmp_path / "chart.png").write_bytes(PNG)
    path = tmp_path / "nb.ipynb"
    nbformat.write(_notebook(new_markdown_cell("![chart](chart.png)")), path)
    page = render.notebook_to_html(path)
    assert 'src="data:image/png;base64,' in page and render.external_references(page) == []


def test_javascript_output_falls_back_to_static_form():
    both = new_output("display_data", data={"application/javascript": "fetch('https://x.invalid')",
                                            "text/html": "<p>static chart</p>",
                                            "text/plain": "chart"})
    page = render.notebook_to_html(_notebook(_code([both])))
    assert "static chart" in page and "fetch(" not in page and "<script" not in page


def test_outputs_with_nothing_visible_leave_no_trace():
    # e.g. evalkit.notebook.record(): a private mime type plus empty text/plain
    recorded = new_output("display_data", data={"application/vnd.evalkit.record+json": {"n": 12},
                                                "text/plain": ""})
    blank = new_output("stream", name="stdout", text="\n")
    body = render.notebook_to_html(_notebook(_code([recorded, blank]))).split("<main>")[1]
    assert "<pre" not in body and "jp-OutputArea-output" not in body


def test_remove_tags():
    removed = _code([new_output("stream", name="stdout", text="scaffolding\n")], tags=["remove-cell"])
    quiet = _code([new_output("stream", name="stdout", text="noisy\n")], tags=["remove-output"])
    page = render.notebook_to_html(_notebook(removed, quiet, new_markdown_cell("kept")))
    assert "scaffolding" not in page and "noisy" not in page and "kept" in page


def test_missing_notebook_is_a_notebook_error(tmp_path):
    with pytest.raises(NotebookError, match="not found"):
        render.notebook_to_html(tmp_path / "absent.ipynb")


# --------------------------------------------------------------------------- external_references


@pytest.mark.parametrize("snippet, expected", [
    ('<script src="https://cdn.example/require.js"></script>', ["https://cdn.example/require.js"]),
    ('<link rel="stylesheet" href="http://x.example/a.css">', ["http://x.example/a.css"]),
    ('<link rel="icon" href="favicon.ico">', ["favicon.ico"]),
    ('<link rel="preload" href="//fonts.example/f.woff2" as="font">', ["//fonts.example/f.woff2"]),
    ('<link rel="canonical" href="https://x.example/page">', []),
    ('<img src="https://x.example/a.png">', ["https://x.example/a.png"]),
    ('<img src="data:image/png;base64,AAAA">', []),
    ('<img srcset="a.png 1x, https://x.example/b.png 2x">', ["a.png", "https://x.example/b.png"]),
    ('<iframe src="https://x.example/embed"></iframe>', ["https://x.example/embed"]),
    ('<object data="movie.swf"></object>', ["movie.swf"]),
    ('<video poster="p.jpg"><source src="v.mp4"></video>', ["p.jpg", "v.mp4"]),
    ('<div style="background: url(\'https://x.example/bg.png\')"></div>', ["https://x.example/bg.png"]),
    ('<style>@font-face { src: url("https://f.example/f.woff") }</style>', ["https://f.example/f.woff"]),
    ('<style>@import url(https://x.example/a.css);</style>', ["https://x.example/a.css"]),
    ("<style>@import 'https://x.example/b.css';</style>", ["https://x.example/b.css"]),
    ('<style>b { background: url(data:image/svg+xml;base64,AA) }</style>', []),
    ('<svg><image href="https://x.example/i.png"/><use href="#icon"/></svg>', ["https://x.example/i.png"]),
    ('<meta http-equiv="refresh" content="0; url=https://x.example/">', ["https://x.example/"]),
    ('<script type="module">import("https://cdn.example/m.mjs")</script>', ["https://cdn.example/m.mjs"]),
    ('<a href="https://x.example/">site</a> <a href="#top">top</a>', []),
    ('<img src="a.png"><img src="a.png">', ["a.png"]),
])
def test_external_references(snippet, expected):
    assert render.external_references(snippet) == expected


def test_hyperlinks():
    snippet = ('<a href="#s1">s1</a><a href="cohort/index.html">c</a>'
               '<a href="https://x.example">x</a><area href="mailto:a@b.example">')
    assert render.hyperlinks(snippet) == ["cohort/index.html", "https://x.example",
                                          "mailto:a@b.example"]
    assert render.hyperlinks(snippet, external_only=True) == ["https://x.example",
                                                             "mailto:a@b.example"]


# --------------------------------------------------------------------------- index pages


def test_index_html_escapes_and_is_offline():
    page = render.index_html(
        "Cohort <script>alert(1)</script>",
        [{"measure": "<b>total</b>", "n": 24, "d": 0.61234, "p": 0.0012, "missing": None}],
        links=[("Outcomes & reliability", "outcomes.html")],
        headline_sentences=["Scores rose by 3 points <on average>."],
        provenance={"evalkit": "0.1.0", "files": ["a.csv", "b.csv"], "config": {"min_cell": 5}},
    )
    assert "<script" not in page
    assert "Cohort &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;total&lt;/b&gt;" in page and "&lt;on average&gt;" in page
    assert "<td>0.61</td>" in page and "<td>0.0012</td>" in page and "<td>&ndash;</td>" in page
    assert "Outcomes &amp; reliability" in page and "a.csv, b.csv" in page
    assert render.external_references(page) == []
    assert render.hyperlinks(page) == ["outcomes.html"]


def test_index_html_takes_a_dataframe():
    import pandas as pd

    page = render.index_html("T", pd.DataFrame({"measure": ["a"], "n": [3]}), links={})
    assert '<th class="text">measure</th>' in page and "<td>3</td>" in page


@pytest.mark.parametrize("href", ["https://x.example/r.html", "//x.example/r.html",
                                  "javascript:alert(1)", "file:///etc/passwd"])
def test_index_links_must_stay_in_folder(href):
    with pytest.raises(EvalkitError, match="outside the report folder"):
        render.index_html("T", links={"r": href})


def test_batch_index_html():
    import pandas as pd

    rows = pd.DataFrame([
        {"cohort": "North <1>", "status": "ok", "n": 24, "headline effect": "d = 0.62",
         "link": "north/index.html"},
        {"cohort": "South", "status": "failed", "n": float("nan"), "headline effect": None,
         "link": None},
    ])
    page = render.batch_index_html(rows, title="All cohorts")
    assert "North &lt;1&gt;" in page and "d = 0.62" in page
    assert 'class="status-ok"' in page and 'class="status-failed"' in page
    assert render.hyperlinks(page) == ["north/index.html"]
    assert render.external_references(page) == [] and "<script" not in page


# --------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def chromium():
    path = browser.chromium_path()
    if path is None:
        pytest.skip("headless Chromium is not installed and could not be installed "
                    "(needs root and apt-get; set EVALKIT_CHROMIUM to a binary)")
    return path


def test_browser_check_detects_a_remote_script(chromium, tmp_path):
    # The control: if this passes without a failed request, the check is blind.
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><head><script src="https://example.invalid/x.js">'
                       "</script></head><body></body></html>")
    result = browser.screenshot(control, tmp_path / "control.png")
    assert result["loaded"]
    assert result["requests"] == ["https://example.invalid/x.js"]
    assert any("example.invalid/x.js" in failed for failed in result["failed_requests"])
    assert not result["nonblank"]


def test_report_opens_offline_in_chromium(chromium, page, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    result = browser.screenshot(path, tmp_path / "report.png")
    assert result["loaded"] and result["nonblank"]
    assert result["requests"] == [] and result["failed_requests"] == []
    assert result["console_errors"] == []


def test_report_policy_blocks_a_smuggled_load(chromium, page, tmp_path):
    # Defence in depth: even HTML that escaped the checks cannot fetch anything.
    path = tmp_path / "smuggled.html"
    path.write_text(page.replace("</main>", '<img src="https://example.invalid/p.png"></main>'),
                    encoding="utf-8")
    result = browser.screenshot(path, tmp_path / "smuggled.png")
    assert result["failed_requests"] == ["https://example.invalid/p.png (csp)"]


def test_index_opens_offline_in_chromium(chromium, tmp_path):
    path = tmp_path / "index.html"
    path.write_text(render.index_html("Cohort A", [{"measure": "total", "n": 24}],
                                      links={"Outcomes": "outcomes.html"},
                                      headline_sentences=["Scores improved."],
                                      provenance={"evalkit": "0.1.0"}), encoding="utf-8")
    result = browser.screenshot(path, tmp_path / "index.png")
    assert result["nonblank"] and result["requests"] == [] and result["failed_requests"] == []


# --------------------------------------------------------------------------- issue 9, family 4: hostile text

HOSTILE = ["<style>table{display:none}</style>", "</h1><h1>All children improved</h1>", "[link](http://evil)",
           '<a href="https://evil.example/x">click</a>', "$\\alpha$", "{{ config }}", "North\n# Fake headline\n- x"]


def _hostile_page(name):
    from types import SimpleNamespace

    import pandas as pd

    from evalkit.report.notebook import Markdown, Table, title

    data = SimpleNamespace(config=SimpleNamespace(name=name))
    outputs = []
    for shown in (title(data, "Child outcomes"), Markdown(f"- {__import__('evalkit.report.notebook', fromlist=['x']).markdown_text(name)} rose"),
                  Table(pd.DataFrame({"Measure": [name], "n": [12]}), caption=name, notes=[name])):
        bundle = {}
        if hasattr(shown, "_repr_markdown_"):
            bundle["text/markdown"] = shown._repr_markdown_()
        if hasattr(shown, "_repr_html_"):
            bundle["text/html"] = shown._repr_html_()
        outputs.append(new_output("display_data", data=bundle))
    return render.notebook_to_html(_notebook(_code(outputs)), title=f"Child outcomes: {name}")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_cohort_names_show_literally(name):
    page = _hostile_page(name)
    body = page.split("<main>", 1)[1]
    assert "<style" not in body and "<h1>All children" not in body and "evil" not in "".join(
        render.hyperlinks(page))
    assert body.count("<h1") == 1  # only the page's own heading
    assert body.count("<table") == 1 and render.external_references(page) == []
    flat = " ".join(name.split())
    assert flat in html_text(body)  # the name itself, shown as text, on one line


def html_text(body):
    import html as _html

    return " ".join(_html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_markdown_text_shows_maths_and_markup_as_text():
    from evalkit.report.notebook import markdown_text

    page = render.notebook_to_html(_notebook(new_markdown_cell("x"), _code([new_output(
        "display_data", data={"text/markdown": f"Label: {markdown_text('$x^2$ *bold* `code` <b>b</b>')}"})])))
    body = page.split("<main>", 1)[1]
    assert "$x^2$ *bold* `code` <b>b</b>" in html_text(body)
    assert "<em>" not in body and "<code>" not in body and "<b>" not in body


def _policy(page):
    meta = next(m for m in re.findall(r"<meta[^>]*>", page) if "Content-Security-Policy" in m)
    return re.search(r'content="([^"]*)"', meta).group(1)


def test_policy_allows_only_the_page_stylesheet_by_hash():
    import hashlib

    page = render.notebook_to_html(_notebook(new_markdown_cell("# Findings")))
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = _policy(page)
    assert policy == (f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; base-uri 'none'; "
                      "form-action 'none'")
    index = render.index_html("A", [{"n": 12}])
    assert _policy(index) == policy
    assert re.search(r"<style>(.*?)</style>", index, re.S).group(1) == css


def test_outputs_lose_their_styles_and_outside_links():
    html_out = ('<style>table {display: none}</style><table><tr style="text-align: right;"><td>1</td></tr></table>'
                '<a href="https://evil.example">more</a> <a href=" javascript:alert(1)">js</a> '
                '<a href="02_child_outcomes.html">next</a>')
    page = render.notebook_to_html(_notebook(_code([new_output("display_data", data={"text/html": html_out})])))
    body = page.split("</head>", 1)[1]
    assert "<style" not in body and "style=" not in body
    assert render.hyperlinks(page) == ["02_child_outcomes.html"]
    assert "<a>more</a>" in body and "<a>js</a>" in body


def test_batch_index_hides_a_small_n_by_the_cohorts_min_cell(tmp_path):
    config = tmp_path / "cohort.yml"
    config.write_text("name: North\nchildren: {file: children.csv}\ndisclosure: {min_cell: 10}\n")
    page = render.batch_index_html([
        {"cohort": "north", "status": "ok", "n": 7, "headline_effect": "Total: d_z = 0.70 [0.10, 1.20], 7 children",
         "link": "north/index.html", "config": str(config)},
        {"cohort": "south", "status": "ok", "n": 3, "headline_effect": "Total: d_z = 0.33, 3 children",
         "link": "south/index.html"},
        {"cohort": "east", "status": "ok", "n": 24, "headline_effect": "d_z = 0.62, 24 children", "link": ""}])
    cells = [row[2:4] for row in __import__("evalkit.report.privacy", fromlist=["x"]).html_tables(page)[0][1:]]
    assert cells == [["<10", "Total: d_z = 0.70 [0.10, 1.20], <10 children"],
                     ["<5", "Total: d_z = 0.33, <5 children"], ["24", "d_z = 0.62, 24 children"]]


def test_titles_are_one_line():
    page = render.index_html("North\n<h1>x</h1>", [])
    assert "<title>North &lt;h1&gt;x&lt;/h1&gt;</title>" in page


def test_hostile_name_page_opens_cleanly_in_chromium(chromium, tmp_path):
    """The multi-line markup name: the page loads nothing, breaks no policy rule and shows its table."""
    path = tmp_path / "hostile.html"
    path.write_text(_hostile_page("\n".join(HOSTILE)), encoding="utf-8")
    result = browser.screenshot(path, tmp_path / "hostile.png")
    assert result["loaded"] and result["nonblank"]
    assert result["requests"] == [] and result["failed_requests"] == [] and result["console_errors"] == []
