"""Render executed notebooks and index pages as self-contained, offline HTML for sharing.

Reports go to commissioners on locked-down networks, so every page this module
writes must open from a file or an e-mail attachment with no network at all:

* no code: notebook inputs, prompts, the ``parameters`` and papermill
  ``injected-parameters`` cells (and their outputs) are dropped;
* no stderr streams (warnings quote code and values), no JavaScript or widget
  outputs;
* nothing loaded from anywhere: the head of nbconvert's ``lab`` template (which
  pulls require.js, MathJax and mermaid from a CDN) is replaced by a head with
  one inline stylesheet and a Content-Security-Policy that forbids every load
  except ``data:`` images, so even an HTML output that slipped through cannot
  reach the network; figures are base64 PNG ``data:`` URIs;
* :func:`notebook_to_html` checks the finished page with
  :func:`external_references` and refuses to return a page that would load
  anything.

Maths in markdown is shown as its TeX source (MathJax is not loaded).
"""
from __future__ import annotations

import html as _html
import json
import logging
import math
import re
import threading
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path

from evalkit.errors import EvalkitError, NotebookError

__all__ = [
    "notebook_to_html",
    "write_html",
    "external_references",
    "hyperlinks",
    "index_html",
    "instrument_warning_html",
    "batch_index_html",
    "REMOVED_CELL_TAGS",
]

#: Cells with any of these tags are removed from shared HTML, inputs and outputs.
#: ``remove-cell`` follows the Jupyter Book convention for scaffolding cells.
REMOVED_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})

#: Cells with this tag keep their place but lose every output.
REMOVED_OUTPUT_TAGS = frozenset({"remove-output"})

# Shown mime types, best first. Widget and JavaScript bundles are left out on
# purpose, so an output that carries both (plotly, bokeh) falls back to its
# static HTML or image form.
_DISPLAY_PRIORITY = [
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/plain",
    "text/latex",
]

# Nothing may be fetched or run: no scripts, fonts, frames or forms; images only as data: URIs; styles
# only the page's own stylesheet, allowed by its SHA-256 (see _csp), so a <style> or a style="..."
# that slipped into a page through a label cannot hide tables or dress up a fake headline.
_CSP_TEMPLATE = (
    "default-src 'none'; img-src data:; style-src {style}; base-uri 'none'; form-action 'none'"
)

_TEMPLATES = Path(__file__).with_name("templates")
_lock = threading.Lock()
_cache: dict = {}


def _css():
    if "css" not in _cache:
        _cache["css"] = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    return _cache["css"]


def _csp():
    """The pages' Content-Security-Policy: only their own stylesheet, by hash (CSP level 2).

    Examples
    --------
    >>> _csp().startswith("default-src 'none'; img-src data:; style-src 'sha256-")
    True
    """
    import base64
    import hashlib

    if "csp" not in _cache:
        digest = base64.b64encode(hashlib.sha256(_css().encode("utf-8")).digest()).decode("ascii")
        _cache["csp"] = _CSP_TEMPLATE.format(style=f"'sha256-{digest}'")
    return _cache["csp"]


#: Kept for callers that read it; the policy itself is :func:`_csp`.
_CSP = _CSP_TEMPLATE.format(style="'sha256-...'")


def _exporter_class():
    """nbconvert's HTMLExporter without its BeautifulSoup pass over the finished page.

    ``HTMLExporter.from_notebook_node`` renders the template, then parses the whole page with
    BeautifulSoup to add ``alt`` to images without one and ``tabindex`` to outputs under
    ``.jp-Notebook``, and serialises it again: about 0.9 s of the report's CPU time over five pages
    (soupsieve compiles its selector grammar on first use). Neither applies to our pages: every
    figure carries its own ``alt`` (:class:`evalkit.report.notebook.FigureImage`; a missing one is
    refused by the accessibility tests), and ``report.html.j2`` has no ``.jp-Notebook`` and makes
    tables focusable itself. So this subclass does what ``HTMLExporter.from_notebook_node`` does
    before that pass (its code highlighting and widget filters) and returns the template's output.
    """
    if "exporter_class" not in _cache:
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class ReportExporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                langinfo = nb.metadata.get("language_info", {})
                lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

        _cache["exporter_class"] = ReportExporter
    return _cache["exporter_class"]


def _exporter():
    """Return the one HTMLExporter this process uses (building one costs ~0.25 s)."""
    if "exporter" not in _cache:
        from traitlets.config import Config

        HTMLExporter = _exporter_class()

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_CELL_TAGS)
        config.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVED_OUTPUT_TAGS)
        # The pygments stylesheet is for code we never show.
        config.CSSHTMLHeaderPreprocessor.enabled = False
        config.NbConvertBase.display_data_priority = list(_DISPLAY_PRIORITY)
        # nbconvert warns once per figure that has no alt text; keep that out of CLI output.
        log = logging.getLogger("evalkit.report.render.nbconvert")
        log.setLevel(logging.ERROR)
        _cache["exporter"] = HTMLExporter(
            config=config,
            log=log,
            template_name="lab",
            template_file="report.html.j2",
            extra_template_paths=[str(_TEMPLATES)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            exclude_anchor_links=True,
            embed_images=True,
            sanitize_html=False,
            # Never used by our template; emptied so no CDN address can leak into a page.
            require_js_url="",
            mathjax_url="",
            mermaid_js_url="",
            mermaid_layout_elk_js_url="",
            jquery_url="",
            jupyter_widgets_base_url="",
        )
    return _cache["exporter"]


def _read_notebook(nb_or_path):
    import nbformat

    if isinstance(nb_or_path, (str, Path)):
        path = Path(nb_or_path)
        if not path.is_file():
            raise NotebookError("notebook not found; run the report first", file=path)
        try:
            return nbformat.read(path, as_version=4), path
        except Exception as exc:  # nbformat raises several unrelated types
            raise NotebookError(f"cannot read notebook ({exc})", file=path) from exc
    if isinstance(nb_or_path, Mapping) and "cells" in nb_or_path:
        return nbformat.from_dict(nb_or_path), None
    raise TypeError(f"expected a notebook path or NotebookNode, got {type(nb_or_path).__name__}")


def _shareable(nb, path):
    """Copy ``nb`` without what must never be shared; refuse notebooks that failed."""
    import copy

    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVED_CELL_TAGS:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise NotebookError(
                    f"cell {index} failed with {output.get('ename', 'an error')}: "
                    f"{output.get('evalue', '')}; fix the notebook and run it again before sharing",
                    file=path,
                )
        cell.outputs = [output for output in cell.get("outputs", []) if _shows_something(output)]
    return nb


def _joined(value):
    return "".join(value) if isinstance(value, list) else str(value)


def _shows_something(output):
    """False for stderr (warnings quote source lines and values) and for outputs with
    nothing visible, such as values recorded under a private mime type with empty text."""
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("name") != "stderr" and _joined(output.get("text", "")).strip() != ""
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        return any(_joined(data[m]).strip() for m in _DISPLAY_PRIORITY if m in data)
    return True


def notebook_to_html(nb_or_path, *, title=None):
    """Render an executed notebook as one offline HTML page for sharing.

    Parameters
    ----------
    nb_or_path : str, pathlib.Path or nbformat.NotebookNode
        The executed notebook (papermill output).
    title : str, optional
        Page title. Defaults to the notebook's ``metadata.title``, then the file
        name without extension, then "Report".

    Returns
    -------
    str
        A complete HTML document: markdown and outputs only (no code, no prompts,
        no ``parameters``/``injected-parameters``/``remove-cell`` cells, no stderr,
        no outputs without a visible form, e.g. values recorded for tests),
        figures as ``data:`` URIs, one inline stylesheet, no scripts, and a
        Content-Security-Policy that blocks any load.

    Raises
    ------
    NotebookError
        If the notebook cannot be read, a cell failed (error output), or an output
        would make the page load something (a remote image in an HTML output, a
        markdown image that is neither local nor embedded...); the message lists
        the addresses.

    Notes
    -----
    The nbconvert exporter is built once per process and reused; it is shared
    under a lock, so rendering from threads is safe but serial. Local images in
    markdown cells (``![](chart.png)``, relative to the notebook) are embedded.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Findings")])
    >>> page = notebook_to_html(nb, title="Cohort A")
    >>> "<title>Cohort A</title>" in page, "<script" in page, external_references(page)
    (True, False, [])
    """
    nb, path = _read_notebook(nb_or_path)
    if title is None:
        title = nb.metadata.get("title") or (path.stem if path else "Report")
    resources = {
        "metadata": {"name": _one_line(title), "path": str(path.parent) if path else ""},
        "evalkit_title": _one_line(title),
        "evalkit_css": _css(),
        "evalkit_csp": _csp(),
    }
    shareable = _shareable(nb, path)
    with _lock:
        page, _ = _exporter().from_notebook_node(shareable, resources=resources)
    page = _without_style_attributes(neutralise_links(page))
    loads = external_references(page)
    if loads:
        shown = ", ".join(loads[:5]) + (" ..." if len(loads) > 5 else "")
        raise NotebookError(
            f"the report would load {len(loads)} resource(s) from outside the page: {shown}; "
            "show figures with matplotlib, tables as DataFrames, and do not output HTML "
            "or markdown that points at other files or web addresses",
            file=path,
        )
    return page


def write_html(nb_path, html_path, *, title=None):
    """Render the notebook at ``nb_path`` with :func:`notebook_to_html` and write it.

    Parameters
    ----------
    nb_path : str or pathlib.Path
        Executed notebook.
    html_path : str or pathlib.Path
        Where to write the page (UTF-8); missing folders are created.
    title : str, optional
        Page title, as in :func:`notebook_to_html`.

    Returns
    -------
    pathlib.Path
        ``html_path``.

    Raises
    ------
    NotebookError
        As :func:`notebook_to_html`; nothing is written then.
    """
    page = notebook_to_html(nb_path, title=title)
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(html_path)
    return html_path


# --------------------------------------------------------------------------- offline checks

# Attributes whose value the browser fetches, by tag.
_LOAD_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset", "lowsrc"),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "body": ("background",),
    "table": ("background",),
    "td": ("background",),
    "th": ("background",),
    # inline SVG
    "image": ("href", "xlink:href"),
    "feimage": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
}
# <link rel=...> values that only describe a page and fetch nothing.
_NAVIGATION_RELS = {"canonical", "alternate", "author", "help", "license", "next", "prev",
                    "search", "bookmark", "external", "nofollow", "noopener", "noreferrer"}
# url(...) in any of its quotings, or @import with a bare string, in page order.
_CSS_LOAD = re.compile(
    r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""",
    re.I,
)
_SCRIPT_URL = re.compile(r"""["'`]((?:https?:)?//[^"'`\s]+)""", re.I)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.I)


def _is_load(url):
    url = url.strip()
    lowered = url.lower()
    return bool(url) and not url.startswith("#") and not lowered.startswith("data:") \
        and lowered != "about:blank"


def _css_urls(text):
    return ["".join(groups) for groups in _CSS_LOAD.findall(text)]


class _ReferenceParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads = []
        self.links = []
        self._in = None  # "style" or "script" while inside one

    def handle_starttag(self, tag, attrs):
        attrs = [(name.lower(), value or "") for name, value in attrs]
        values = dict(attrs)
        for name in _LOAD_ATTRIBUTES.get(tag, ()):
            if name not in values:
                continue
            if name.endswith("srcset") and not values[name].lstrip().lower().startswith("data:"):
                self.loads += [part.split()[0] for part in values[name].split(",") if part.split()]
            else:
                self.loads.append(values[name])
        if tag == "link" and "href" in values:
            rels = set(values.get("rel", "").lower().split())
            if not rels or rels - _NAVIGATION_RELS:
                self.loads.append(values["href"])
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.loads += _REFRESH_URL.findall(values.get("content", ""))
        if tag in ("a", "area") and "href" in values:
            self.links.append(values["href"])
        if "style" in values:
            self.loads += _css_urls(values["style"])
        if tag in ("style", "script"):
            self._in = tag

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.loads += _css_urls(data)
        elif self._in == "script":
            self.loads += _SCRIPT_URL.findall(data)


def _parse(page):
    parser = _ReferenceParser()
    parser.feed(page)
    parser.close()
    return parser


def _unique(items):
    return list(dict.fromkeys(item.strip() for item in items))


def external_references(html):
    """List every address a page would load: anything that makes it not self-contained.

    Parameters
    ----------
    html : str
        A complete page or a fragment.

    Returns
    -------
    list of str
        Unique addresses in page order from ``<script src>``, ``<link href>``
        (stylesheet, icon, preload...; not purely descriptive rels such as
        ``canonical``), ``<img src/srcset>``, ``<source>``, ``<video>``,
        ``<audio>``, ``<track>``, ``<iframe>``, ``<embed>``, ``<object data>``,
        SVG ``<image>``/``<use>`` hrefs, ``background`` attributes, meta refresh,
        CSS ``url()`` and ``@import`` in ``<style>`` blocks and ``style``
        attributes, and absolute addresses quoted inside inline scripts
        (``import("https://...")``). ``data:`` URIs, in-page ``#anchors`` and
        ``about:blank`` are not loads. Relative paths *are* listed: they break
        as soon as the page is sent on its own. Hyperlinks are not loads; see
        :func:`hyperlinks`.

    Examples
    --------
    >>> external_references('<script src="https://cdn.example/r.js"></script>'
    ...                     '<img src="data:image/png;base64,AAAA"><a href="#top">top</a>'
    ...                     '<style>@import "https://x.example/a.css"; '
    ...                     'b { background: url(logo.png) }</style>')
    ['https://cdn.example/r.js', 'https://x.example/a.css', 'logo.png']
    """
    return [url for url in _unique(_parse(html).loads) if _is_load(url)]


def hyperlinks(html, *, external_only=False):
    """List the targets of ``<a href>`` and ``<area href>`` (navigation, not loads).

    Parameters
    ----------
    html : str
        Page or fragment.
    external_only : bool, default False
        Keep only links that leave the page's folder: an address with a scheme
        (``https:``, ``mailto:``...) or starting with ``//``. A shared report
        needs none of these.

    Returns
    -------
    list of str
        Unique targets in page order, in-page ``#anchors`` excluded.

    Examples
    --------
    >>> hyperlinks('<a href="cohort_a/report.html">A</a> <a href="https://x.example">x</a>',
    ...            external_only=True)
    ['https://x.example']
    """
    links = [url for url in _unique(_parse(html).links) if url and not url.startswith("#")]
    if external_only:
        links = [url for url in links if _leaves_folder(url)]
    return links


def _leaves_folder(url):
    url = re.sub(r"[\x00-\x20]+", "", _html.unescape(url))  # browsers drop these: "java\tscript:"
    return url.startswith(("//", "\\\\", "/\\", "\\/")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", url) is not None


_ANCHOR = re.compile(r"<(a|area)\b([^>]*)>", re.I)
_HREF = re.compile(r"""\s(?:href|xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)


def neutralise_links(page):
    """Drop the address of every link that leaves the report folder (a scheme, ``//``), keeping its text.

    A shared page needs no link to anywhere else; one that arrives through a
    label or an output would take a reader off the page.

    Examples
    --------
    >>> neutralise_links('<a href="https://evil.example">more</a> <a href="02.html">next</a>')
    '<a>more</a> <a href="02.html">next</a>'
    """
    def fix(match):
        attrs = match.group(2)
        for href in _HREF.finditer(attrs):
            if _leaves_folder(href.group(1).strip("\"'")):
                attrs = attrs.replace(href.group(0), "")
        return f"<{match.group(1)}{attrs}>"

    return _ANCHOR.sub(fix, page)


_STYLE_ATTRIBUTE = re.compile(r"""(<[a-zA-Z][^<>]*?)\s+style\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")


_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.I | re.S)


def _without_style_attributes(page):
    """Drop the styles outputs bring (pandas' ``<style scoped>`` and the ``style="..."`` on its table
    headers): the policy refuses them, and only the page's own stylesheet in ``<head>`` may style it.

    Examples
    --------
    >>> _without_style_attributes('<head><style>p {}</style></head><body><style>table {display: none}'
    ...                           '</style><tr style="text-align: right;"><td>a style="x"</td></tr>')
    '<head><style>p {}</style></head><body><tr><td>a style="x"</td></tr>'
    """
    head, sep, body = page.partition("</head>")
    if not sep:
        head, body = "", page
    previous = None
    while previous != body:
        previous, body = body, _STYLE_ATTRIBUTE.sub(r"\1", _STYLE_ELEMENT.sub("", body))
    return head + sep + body


def _one_line(text):
    """A title on one line: line breaks in a cohort name become spaces."""
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- index pages


def _text(value):
    """Escaped text for one table cell; numbers kept short, missing shown as an en dash."""
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        if math.isnan(value):
            return "&ndash;"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 10000 else str(int(value))
        return f"{value:,.2f}" if abs(value) >= 0.1 else f"{value:.2g}"
    if isinstance(value, (list, tuple, set)):
        return _html.escape(", ".join(str(v) for v in value))
    if isinstance(value, Mapping):
        return _html.escape(json.dumps(value, default=str, sort_keys=True))
    try:  # pandas missing values (NA, NaT) without importing pandas here
        if value != value or str(value) in ("<NA>", "NaT"):
            return "&ndash;"
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        return _text(value.item())
    return _html.escape(str(value))


def _is_text(value):
    """True for words; suppression markers such as "<5" and "*" count as numbers."""
    return isinstance(value, str) and value.strip() != "" and not re.fullmatch(
        r"[<>*\u2264\u2265]?\s*[\d.,]*\*?", value.strip())


def _records(rows):
    """Rows as a list of dicts, from a DataFrame or any iterable of mappings."""
    if rows is None:
        return []
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return rows.to_dict(orient="records")
    return [dict(row) for row in rows]


def _href(href, where):
    href = str(href)
    if _leaves_folder(href):
        raise EvalkitError(
            f"link '{href}' points outside the report folder; shared pages may only link "
            "to files next to them",
            column=where,
            expected="a relative path such as 'cohort_a/outcomes.html'",
        )
    return _html.escape(href, quote=True)


def _table(records, *, caption=None, css_class=""):
    if not records:
        return '<p class="muted">No rows.</p>'
    columns = list(dict.fromkeys(key for record in records for key in record))
    # Numbers line up on the right, words on the left.
    text = {c for c in columns if any(_is_text(record.get(c)) for record in records)}
    attr = {c: ' class="text"' if c in text else "" for c in columns}
    parts = [f'<table class="{css_class}">' if css_class else "<table>"]
    if caption:
        parts.append(f"<caption>{_html.escape(str(caption))}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th{attr[c]}>{_html.escape(str(c))}</th>" for c in columns)
                 + "</tr></thead><tbody>")
    for record in records:
        parts.append("<tr>" + "".join(f"<td{attr[c]}>{_text(record.get(c))}</td>" for c in columns)
                     + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _page(title, body):
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_csp()}\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<title>{_html.escape(_one_line(title))}</title>\n<style>{_css()}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{_html.escape(_one_line(title))}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _link_pairs(links):
    if links is None:
        return []
    if isinstance(links, Mapping):
        return list(links.items())
    return [tuple(pair) for pair in links]


def _topics(items):
    """``(topic, text)`` pairs from a DataFrame with ``topic``/``text``, a mapping or a list of pairs or strings."""
    if items is None:
        return []
    if hasattr(items, "columns") and {"topic", "text"} <= set(items.columns):
        return [(str(t), str(x)) for t, x in zip(items["topic"], items["text"])]
    if isinstance(items, Mapping):
        return [(str(t), str(x)) for t, x in items.items()]
    return [(None, str(item)) if isinstance(item, str) else (str(item[0]), str(item[1])) for item in items]


def _topic_list(items):
    """A definition list of topics (or a bullet list for plain sentences), every text escaped."""
    pairs = _topics(items)
    if all(topic is None for topic, _ in pairs):
        return "<ul>" + "".join(f"<li>{_html.escape(text)}</li>" for _, text in pairs) + "</ul>"
    return "<dl>" + "".join(
        (f"<dt>{_html.escape(topic)}</dt>" if topic is not None else "") + f"<dd>{_html.escape(text)}</dd>"
        for topic, text in pairs) + "</dl>"


#: Who each section's claim and evidence checks are about, as the index names them.
_SECTION_WORDS = {"children": "Children", "facilitators": "Facilitators"}


def _claims_html(claims):
    """The claim sentences in one box, each after the people it is about.

    Examples
    --------
    >>> _claims_html([("children", "Scores rose; this cannot show the programme caused it.")]).startswith(
    ...     '<div class="claim" role="note"><h3>What these data can show</h3><p><strong>Children:</strong> Scores')
    True
    >>> _claims_html([])
    ''
    """
    claims = [(str(who), str(text)) for who, text in claims or () if str(text).strip()]
    if not claims:
        return ""
    items = "".join(f"<p><strong>{_html.escape(_SECTION_WORDS.get(who, who.capitalize()))}:</strong> "
                    f"{_html.escape(text)}</p>" for who, text in claims)
    return f'<div class="claim" role="note"><h3>What these data can show</h3>{items}</div>\n'


def _evidence_html(evidence):
    """The evidence checks, a table per section, with the note on what frames them."""
    from .summary import EVIDENCE_NOTE

    parts = []
    for who, table in (evidence or {}).items():
        records = _records(table)
        if records:
            parts.append(_table(records, caption=f"Evidence checks: {_SECTION_WORDS.get(who, str(who).capitalize())}",
                                css_class="evidence"))
    if not parts:
        return ""
    return "\n" + "\n".join(parts) + f'\n<p class="note">{_html.escape(EVIDENCE_NOTE)}</p>'


def instrument_warning_html(warnings):
    """The banner a page opens with when an instrument has a placeholder key or is an example.

    Examples
    --------
    >>> instrument_warning_html(["EAQ-30 uses a placeholder <key>."])[:44]
    '<div class="instrument-warning" role="note">'
    >>> instrument_warning_html([])
    ''
    """
    warnings = [str(w) for w in warnings or ()]
    if not warnings:
        return ""
    items = "".join(f"<li>{_html.escape(w)}</li>" for w in warnings)
    return (f'<div class="instrument-warning" role="note"><h2>Check the questionnaire before relying on '
            f'these results</h2>\n<ul>{items}</ul></div>')


def index_html(title, rows=None, *, links=(), headline_sentences=(), provenance=None, warnings=(),
               main_points=None, main_points_note="", about=None, trust=None, instrument_warnings=(),
               checksums=None, claims=None, evidence=None):
    """Build the offline front page of one cohort's report.

    The page reads, in order: the instrument warning (a placeholder key or an
    example instrument), any data warning, ``<section id="main-points">``,
    ``<section id="about">``, ``<section id="trust">`` ("How far to trust these
    results"), the links to the pages, then provenance, with the input files'
    checksums folded away in a ``<details>``.

    Parameters
    ----------
    title : str
        Page title and heading.
    rows : pandas.DataFrame or list of dict, optional
        A summary table (already rounded and small-count suppressed; cells are
        shown as text; floats to 2 decimals, or 2 significant figures below
        0.1, so format p-values yourself), shown after the links.
    links : mapping or sequence of (label, href)
        The report pages, e.g. ``{"Outcomes": "outcomes.html"}``; hrefs must be
        relative paths.
    headline_sentences : sequence of str
        Plain-language findings; used as the main points when ``main_points`` is not given.
    provenance : dict, optional
        How the report was made (evalkit version, config, run time...), shown as a two-column table.
    warnings : sequence of str
        Shown in a ``class="data-warning"`` box (for example answers that cleaning set missing).
    main_points : sequence of str, optional
        The main points, shown as a list in ``<section id="main-points">``.
    main_points_note : str
        A footnote under the main points (the convention for sizes in words).
    about, trust : DataFrame with ``topic`` and ``text``, mapping, or list of (topic, text) or str, optional
        The ``<section id="about">`` and ``<section id="trust">`` statements.
    instrument_warnings : sequence of str
        Shown first, in a ``class="instrument-warning"`` banner.
    checksums : dict, optional
        File -> SHA-256, shown in a closed ``<details>`` after the provenance.
    claims : sequence of (section, sentence), optional
        What the data can and cannot show (:func:`evalkit.report.summary.claims`), shown first in
        ``<section id="trust">``, in a ``class="claim"`` box. Default: ``trust.attrs["claims"]``.
    evidence : mapping of section -> DataFrame, optional
        The evidence checks (:func:`evalkit.report.summary.evidence`), shown as a table per section after
        the trust statements. Default: ``trust.attrs["evidence"]``.

    Returns
    -------
    str
        A complete HTML page: inline CSS, no scripts, every text escaped.

    Raises
    ------
    EvalkitError
        If a link has a scheme or starts with ``//`` (it would leave the folder).

    Examples
    --------
    >>> page = index_html("Cohort <A>", [{"measure": "total", "n": 24, "d": 0.61234}],
    ...                   links={"Outcomes": "outcomes.html"},
    ...                   main_points=["Scores improved."],
    ...                   provenance={"evalkit": "0.1.0"})
    >>> "Cohort &lt;A&gt;" in page, "<td>0.61</td>" in page, hyperlinks(page)
    (True, True, ['outcomes.html'])
    >>> page.index('id="main-points"') < page.index("Provenance")
    True
    """
    sections = []
    banner = instrument_warning_html(instrument_warnings)
    if banner:
        sections.append(banner)
    notes = [str(w) for w in warnings or ()]
    if notes:
        items = "".join(f"<li>{_html.escape(w)}</li>" for w in notes)
        sections.append(f'<div class="data-warning" role="note"><h2>Read this first</h2>\n<ul>{items}</ul></div>')
    points = [str(s) for s in (main_points if main_points is not None else headline_sentences) or ()]
    if points:
        items = "".join(f"<li>{_html.escape(s)}</li>" for s in points)
        note = f'<p class="note">{_html.escape(str(main_points_note))}</p>' if main_points_note else ""
        sections.append(f'<section id="main-points">\n<h2>Main points</h2>\n<ul>{items}</ul>{note}\n</section>')
    if about is not None and _topics(about):
        sections.append(f'<section id="about">\n<h2>About this evaluation</h2>\n{_topic_list(about)}\n</section>')
    attrs = getattr(trust, "attrs", {}) or {}
    claims = list(attrs.get("claims", ()) if claims is None else claims)
    evidence = dict(attrs.get("evidence", {}) if evidence is None else evidence)
    if (trust is not None and _topics(trust)) or claims or evidence:
        sections.append('<section id="trust">\n<h2>How far to trust these results</h2>\n'
                        + _claims_html(claims) + (_topic_list(trust) if trust is not None else "")
                        + _evidence_html(evidence) + "\n</section>")
    pairs = _link_pairs(links)
    if pairs:
        items = "".join(f'<li><a href="{_href(href, "links")}">{_html.escape(str(label))}</a></li>'
                        for label, href in pairs)
        sections.append(f'<section id="pages">\n<h2>Report pages</h2>\n<ul>{items}</ul>\n</section>')
    records = _records(rows)
    if records:
        sections.append("<h2>Summary</h2>\n" + _table(records))
    if provenance or checksums:
        parts = ['<section id="provenance">\n<h2>Provenance</h2>']
        if provenance:
            parts.append(_table([{"Item": key, "Value": value} for key, value in dict(provenance).items()]))
        if checksums:
            parts.append("<details><summary>Input files and their SHA-256 checksums</summary>\n"
                         + _table([{"File": key, "SHA-256": value} for key, value in dict(checksums).items()])
                         + "\n</details>")
        sections.append("\n".join(parts) + "\n</section>")
    return _page(title, "\n".join(sections))


_BATCH_COLUMNS = [("name", "Cohort"), ("status", "Status"), ("n", "n"),
                  ("headline_effect", "Headline measure"), ("error", "Problem"), ("link", "Report")]
#: Under the batch index's table: what the headline is and how it was chosen.
_BATCH_NOTE = ("Headline measure: the first measure the cohort's config declares primary (analysis.primary), or "
               "its first measure when none is declared, with d_z and its 95% confidence interval, the size in "
               "words (Cohen's 1988 convention: below 0.2 negligible, 0.2 small, 0.5 moderate, 0.8 large) and that "
               "measure's own n. Problem: why a cohort failed, as the error says it.")


def _batch_min_cell(record, default):
    """The cohort's ``disclosure.min_cell``: the row's ``min_cell``, else its config's, else ``default``."""
    value = record.get("min_cell")
    if value is None and record.get("config"):
        try:
            from evalkit.data.config import load_config

            value = load_config(record["config"]).disclosure["min_cell"]
        except Exception:  # noqa: BLE001 - an unreadable config: the safest known threshold
            value = None
    try:
        return max(int(value), default) if value is not None else default
    except (TypeError, ValueError):
        return default


def _suppressed_counts(text, min_cell):
    """``text`` with every count of 1 to ``min_cell - 1`` written before a word ("3 rows", "2 unknown
    timepoint") shown as ``"<min_cell"``; numbers after a word ("cell 3") are places, not counts.

    Examples
    --------
    >>> _suppressed_counts("all 3 rows were excluded (2 unknown timepoint, 12 exact duplicate); cell 3", 5)
    'all <5 rows were excluded (<5 unknown timepoint, 12 exact duplicate); cell 3'
    """
    def hide(match):
        return f"<{min_cell}" if 1 <= int(match.group(0)) < min_cell else match.group(0)

    return re.sub(r"(?<![\w.,<\-/])\d+(?=\s+[^\W\d_])", hide, text)


def _suppressed_n(record, min_cell):
    """``(n shown, headline shown)``: an n of 1 to min_cell - 1 becomes "<min_cell", in the headline too."""
    n, headline = record.get("n"), record.get("headline_effect")
    try:
        value = float(n)
    except (TypeError, ValueError):
        return n, headline
    if value != value or not 1 <= value < min_cell:
        return n, headline
    if isinstance(headline, str):
        headline = re.sub(rf"(?<![\d.]){int(value)}(?![\d.])", f"<{min_cell}", headline)
    return f"<{min_cell}", headline


def _batch_error(record, min_cell):
    """The row's error as the index shows it: complete, without the command-line prefix, small counts hidden."""
    error = record.get("error")
    if not isinstance(error, str) or not error.strip():
        return None
    text = re.sub(r"^evalkit: (?:error: )?", "", error.strip())
    return _suppressed_counts(text, min_cell)


#: Under the pooled table: how the cohorts were combined and how to read the table.
_POOLED_NOTE = ("Pooled by a random-effects meta-analysis (DerSimonian\u2013Laird between-cohort variance "
                "\u03c4\u00b2) of each cohort's before-and-after change (post \u2212 pre): d_z with variance "
                "1/n + d_z\u00b2/(2n), and the mean change in scale points with variance SD of the changes\u00b2/n, "
                "n being the cohort's matched pairs. {interval} I\u00b2 is the share of the variation between "
                "cohorts beyond chance (Higgins et al. 2003: 25% low, 50% moderate, 75% high); Q and p (Q) test "
                "whether the cohorts differ. The 95% prediction interval (t on k \u2212 2 degrees of freedom, Higgins, "
                "Thompson & Spiegelhalter 2009) is where a new cohort like these would be expected to fall; it needs "
                "3 or more cohorts. Size words follow Cohen (1988). The same numbers are in pooled.csv.")
_POOLED_SECTIONS = {"children": "Children", "facilitators": "Facilitators"}


def _figure_png(fig):
    """A finished figure as a ``data:`` URI (the pages' Content-Security-Policy allows ``img-src data:`` only)."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pooled_section_html(pooled, cohorts=None, *, notes=()):
    """The batch index's "Pooled across cohorts" section: plain sentences, the table, a forest plot per measure.

    Parameters
    ----------
    pooled : pandas.DataFrame
        :func:`evalkit.stats.meta.pool_cohorts` rows (``pooled.csv``), with ``section`` and, optionally,
        ``label`` (the measure's name as the reports show it).
    cohorts : pandas.DataFrame, optional
        :func:`evalkit.stats.meta.cohort_effects` rows, with an optional ``name`` per cohort: one forest
        plot (d_z, one row per cohort and the pooled diamond) per pooled measure.
    notes : sequence of str
        Why cohorts or measures were left out (shown under the table).

    Returns
    -------
    str
        ``<section id="pooled">`` HTML; figures are inline PNG ``data:`` URIs with text alternatives.

    Examples
    --------
    >>> import pandas as pd
    >>> pooled = pd.DataFrame([{"measure": "m", "effect": "d_z", "k": 2, "estimate": 0.5, "ci_low": 0.3,
    ...     "ci_high": 0.7, "tau2": 0.0, "i2": 0.0, "q": 0.4, "q_p": 0.53, "prediction_low": float("nan"),
    ...     "prediction_high": float("nan"), "method": "random effects, DerSimonian-Laird tau2, Wald z interval",
    ...     "section": "children", "label": "Knowledge"}])
    >>> html = pooled_section_html(pooled, notes=["north: left out"])
    >>> "Across 2 cohorts, children's Knowledge scores rose" in html, "north: left out" in html
    (True, True)
    """
    import matplotlib as mpl
    import pandas as pd
    from matplotlib.figure import Figure

    from ._theme import THEME_RC
    from .findings import format_number
    from .forest import pooled_forest_plot, pooled_sentence

    table = pd.DataFrame(pooled).copy()
    if "section" not in table:
        table["section"] = "children"
    if "label" not in table:
        table["label"] = table["measure"]
    table["label"] = table["label"].where(table["label"].notna() & (table["label"].astype(str) != ""),
                                          table["measure"])
    parts = ['<section id="pooled">', "<h2>Pooled across cohorts</h2>"]
    if table.empty:
        parts.append('<p>No measure was reported by two or more of these cohorts, so nothing is pooled.</p>')
    else:
        keys = list(dict.fromkeys(zip(table["section"], table["measure"])))
        parts.append("<p>Where two or more of these cohorts measured the same thing, their changes are combined "
                     "here, so that a commissioner can see the programme's effect across sites and how much it "
                     "varies between them.</p>")
        sentences = []
        for section, measure in keys:
            rows = table[(table["section"] == section) & (table["measure"] == measure)].set_index("effect")
            if "d_z" in rows.index:
                sentences.append(pooled_sentence(rows.loc["d_z"], rows.loc["mean_change"] if "mean_change" in
                                                 rows.index else None, label=rows["label"].iloc[0], section=section))
        parts.append('<ul class="main-points">' + "".join(f"<li>{_html.escape(t, quote=False)}</li>" for t in sentences)
                     + "</ul>")
        header = [("Who", True), ("Measure", True), ("Effect", True), ("Cohorts (k)", False), ("Estimate", False),
                  ("95% CI", False), ("\u03c4\u00b2", False), ("I\u00b2 (%)", False), ("Q", False), ("p (Q)", False),
                  ("95% prediction interval", False)]
        text = ' class="text"'
        body = ["<table>", "<thead><tr>" + "".join(f"<th{text if t else ''}>{_html.escape(h)}</th>"
                                                   for h, t in header) + "</tr></thead><tbody>"]
        for _, row in table.iterrows():
            pred = (f"{format_number(row['prediction_low'])} to {format_number(row['prediction_high'])}"
                    if pd.notna(row["prediction_low"]) else None)
            p = float(row["q_p"])
            cells = [(_POOLED_SECTIONS.get(row["section"], row["section"]), True), (row["label"], True),
                     ("d_z" if row["effect"] == "d_z" else "mean change", True), (int(row["k"]), False),
                     (format_number(row["estimate"]), False),
                     (f"{format_number(row['ci_low'])} to {format_number(row['ci_high'])}", False),
                     (format_number(row["tau2"], 3), False), (f"{float(row['i2']):.0f}", False),
                     (format_number(row["q"]), False),
                     ("<0.001" if p < 0.001 else format_number(p, 3) if p == p else None, False), (pred, False)]
            body.append("<tr>" + "".join(f"<td{text if t else ''}>{_text(v)}</td>" for v, t in cells) + "</tr>")
        body.append("</tbody></table>")
        parts.append("\n".join(body))
        hk = table["method"].astype(str).str.contains("Hartung-Knapp").any()
        interval = ("95% confidence intervals by Hartung\u2013Knapp (t on k \u2212 1 degrees of freedom with "
                    "the weighted spread of the cohorts; the Wald z interval is the default; when the cohorts agree "
                    "more closely than their own uncertainty leads one to expect, it can be narrower than the Wald "
                    "interval)." if hk else
                    "95% confidence intervals are Wald z intervals (evalkit batch --hartung-knapp gives the "
                    "Hartung\u2013Knapp interval, wider and safer with few cohorts, instead).")
        parts.append(f'<p class="note">{_html.escape(_POOLED_NOTE.format(interval=interval))}</p>')
        if cohorts is not None and len(cohorts):
            for section, measure in keys:
                rows = table[(table["section"] == section) & (table["measure"] == measure)
                             & (table["effect"] == "d_z")]
                these = cohorts[(cohorts["section"].fillna("children") == section) & (cohorts["measure"] == measure)
                                & (cohorts["effect"] == "d_z")] if "section" in cohorts else cohorts[
                    (cohorts["measure"] == measure) & (cohorts["effect"] == "d_z")]
                if rows.empty or these.empty:
                    continue
                row, label = rows.iloc[0], str(rows["label"].iloc[0])
                with mpl.rc_context(THEME_RC):
                    mpl.rcParams["text.parse_math"] = False  # labels come from configs: shown literally
                    fig = Figure(figsize=(7.5, 1.6 + 0.42 * (len(these) + 2)), layout="constrained")
                    ax = fig.subplots()
                    who = _POOLED_SECTIONS.get(section, str(section))
                    pooled_forest_plot(these, row, label=f"{who}: {label}", ax=ax)
                    uri = _figure_png(fig)
                names = these["name"] if "name" in these else these["cohort"]
                whose = {"Children": "children's", "Facilitators": "facilitators'"}.get(who, f"{who}:")
                alt = (f"Forest plot of {whose} {label}: d_z and 95% CI of each of {len(these)} cohorts "
                       f"({', '.join(map(str, names))}) and the pooled d_z {format_number(row['estimate'])}, "
                       f"95% CI {format_number(row['ci_low'])} to {format_number(row['ci_high'])}.")
                parts.append(f'<figure><img src="{uri}" alt="{_html.escape(alt, quote=True)}">'
                             f"<figcaption>{_html.escape(label, quote=False)} ({who.lower()}): each cohort's d_z "
                             f"(square, its "
                             f"size the cohort's weight in the pooling) with a 95% interval from its variance, and "
                             f"the pooled estimate (blue diamond, its width the 95% CI"
                             f"{'; dashed: the 95% prediction interval' if pd.notna(row['prediction_low']) else ''}"
                             f").</figcaption></figure>")
    if notes:
        left_out = "; ".join(_html.escape(n, quote=False) for n in notes)
        parts.append(f'<p class="note">Left out of the pooling: {left_out}.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def batch_index_html(rows, *, title="Evaluation reports by cohort", min_cell=5, pooled=None):
    """Build the offline page that lists many cohorts' reports.

    Parameters
    ----------
    rows : pandas.DataFrame or list of dict
        One row per cohort with ``name`` (the cohort's name from its config; else
        ``cohort``, its folder, is shown), ``status`` (e.g. "ok", "failed",
        "withheld"), ``n``, ``headline_effect`` (or ``"headline effect"``; text
        naming the headline measure, e.g. "Knowledge: d_z 0.62 [0.30, 0.94],
        moderate, 24 children"), ``error`` (the complete shareable message of a
        failed cohort) and ``link`` (relative path to the cohort's index page;
        empty for cohorts without a report). Missing columns show as dashes.
    title : str, default "Evaluation reports by cohort"
        Page title and heading.
    min_cell : int, default 5
        Smallest n shown; a row's own ``min_cell``, or its ``config``'s
        ``disclosure.min_cell``, raises it for that row. A smaller n shows as
        ``"<min_cell"``, in the headline effect too, and so does a count of 1 to
        ``min_cell - 1`` in the error ("all 3 rows were excluded").
    pooled : str, optional
        The "Pooled across cohorts" section (:func:`pooled_section_html`), placed after the table.

    Returns
    -------
    str
        A complete offline HTML page with one table and a note on how the
        headline was chosen; a status is a ``<span class="status-<status>">``
        for colour; words are left-aligned (``class="text"``), numbers right.

    Raises
    ------
    EvalkitError
        If a link has a scheme or starts with ``//``.

    Examples
    --------
    >>> page = batch_index_html([
    ...     {"name": "North", "cohort": "north", "status": "ok", "n": 24, "headline_effect": "Knowledge: d_z 0.62",
    ...      "link": "north/index.html"},
    ...     {"cohort": "south", "status": "failed", "n": None, "headline_effect": None, "link": "",
    ...      "error": "evalkit: error: file x.csv: no usable rows: all 3 rows were excluded"}])
    >>> hyperlinks(page), 'class="status-failed"' in page, ">North<" in page, "all &lt;5 rows" in page
    (['north/index.html'], True, True, True)
    """
    text = ' class="text"'
    body = ["<table>", "<thead><tr>" + "".join(f"<th{'' if key == 'n' else text}>{label}</th>"
                                               for key, label in _BATCH_COLUMNS) + "</tr></thead><tbody>"]
    for record in _records(rows):
        if "headline_effect" not in record and "headline effect" in record:
            record["headline_effect"] = record["headline effect"]
        status = "" if record.get("status") is None else str(record.get("status"))
        slug = re.sub(r"[^a-z0-9]+", "-", status.lower()).strip("-")
        link = record.get("link")
        has_link = isinstance(link, (str, Path)) and str(link).strip() != ""
        cell_min = _batch_min_cell(record, min_cell)
        n, headline = _suppressed_n(record, cell_min)
        name = record.get("name")
        if not isinstance(name, str) or not name.strip():
            name = record.get("cohort")
        cells = [
            f"<td{text}>{_text(name)}</td>",
            f'<td{text}><span class="status-{slug}">{_text(status)}</span></td>' if status else
            f"<td{text}>&ndash;</td>",
            f"<td>{_text(n)}</td>",
            f"<td{text}>{_text(headline)}</td>",
            f"<td{text}>{_text(_batch_error(record, cell_min))}</td>",
            f'<td{text}><a href="{_href(link, "link")}">report</a></td>' if has_link else f"<td{text}>&ndash;</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    body.append("</tbody></table>")
    body.append(f'<p class="note">{_html.escape(_BATCH_NOTE)}</p>')
    if pooled:
        body.append(pooled)
    return _page(title, "\n".join(body))
