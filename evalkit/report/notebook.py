"""One call per report section: what the notebooks show, with disclosure control applied to every table and figure."""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
import html
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import DataError

#: Name of the cache the report command leaves for its notebooks in ``results/``: a pickle signed with
#: HMAC-SHA256 keyed by the cohort's secret salt (see :func:`save`), never unpickled unless the signature holds.
CACHE = ".evalkit-cache.pkl"
#: The cleaned cohort without results, written by ``evalkit report`` as soon as the cleaning is done, so
#: a notebook that needs no results (01, data quality) starts while the analysis runs; removed at the end.
CLEANED_CACHE = ".evalkit-cache-cleaned.pkl"
#: First bytes of a signed cache; the hex HMAC and a newline follow, then the pickle.
_CACHE_MAGIC = b"EVALKIT-SIGNED-CACHE-1 "
#: Marker ``evalkit report`` leaves in ``results/`` while it is still analysing; it holds the writer's pid
#: (see :func:`pending_text`), so a marker left by a killed run is ignored at once.
PENDING = ".evalkit-pending"
#: Mime type of values a notebook records for tests and the index page (not shown in HTML).
RECORD_MIME = "application/vnd.evalkit.record+json"
#: Columns holding counts of people or rows; small values are suppressed when shown.
COUNT_COLUMNS = ("n", "rows_in", "rows_kept", "rows_excluded", "improved", "no_change", "deteriorated",
                 "rows", "completers_n", "dropouts_n", "n_pre", "n_post", "people", "matched")


@dataclass
class ReportData:
    """A cohort's cleaned data and every results table, as the notebooks use them.

    Attributes
    ----------
    cohort : evalkit.data.pipeline.Cohort
    results : dict of str -> pandas.DataFrame
        Results tables keyed by file stem (``child_outcomes``, ``moderators``, ...).
    salt : str
        Per-cohort key of the pseudonyms (never displayed).
    """

    cohort: object
    results: dict
    salt: str = ""
    fingerprint: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def config(self):
        """The cohort config."""
        return self.cohort.config

    @property
    def min_cell(self):
        """Smallest count that may be shown (``disclosure.min_cell``)."""
        return int(self.config.disclosure["min_cell"])

    @property
    def min_group_n(self):
        """Smallest group whose results are shown (``analysis.min_group_n``)."""
        return int(self.config.analysis["min_group_n"])


def fingerprint(hashes):
    """One digest of the input checksums and the evalkit version: what a cached analysis was made from.

    Parameters
    ----------
    hashes : dict
        From :func:`file_hashes`.

    Examples
    --------
    >>> from evalkit.data.config import load_config
    >>> len(fingerprint(file_hashes(load_config("data/sample/cohort.yml"))))
    64
    """
    digest = hashlib.sha256(__version__.encode())
    for name, value in sorted(hashes.items()):
        digest.update(f"\n{name}:{value}".encode())
    return digest.hexdigest()


def file_hashes(config):
    """SHA-256 of the config and every input file, keyed by path relative to the config."""
    out = {Path(config.path).name: hashlib.sha256(Path(config.path).read_bytes()).hexdigest()}
    for path in config.input_files():
        out[str(Path(path).relative_to(config.path.parent)) if Path(path).is_relative_to(config.path.parent)
            else str(path)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def analyse(cohort):
    """Run every analysis of every section and return the results tables keyed by file stem.

    Parameters
    ----------
    cohort : evalkit.data.pipeline.Cohort

    Returns
    -------
    dict of str -> pandas.DataFrame
        :func:`evalkit.report.analysis.analyse_cohort`: every section's tables, stacked by key, and the
        cohort's ``evidence`` appraisal.
    """
    from .analysis import analyse_cohort

    return analyse_cohort(cohort)


def salt_path(config):
    """Where a cohort's pseudonym salt lives: next to its config, outside every report folder.

    ``<config folder>/.<config stem>.salt`` (git-ignored), or, when that folder is
    not writable, ``~/.config/evalkit/salts/<hash of the config path>.salt``. The
    environment variable ``EVALKIT_SALT_FILE`` overrides both.
    """
    import os

    if os.environ.get("EVALKIT_SALT_FILE"):
        return Path(os.environ["EVALKIT_SALT_FILE"])
    folder = Path(config.path).parent
    if os.access(folder, os.W_OK):
        return folder / f".{Path(config.path).stem}.salt"
    key = hashlib.sha256(str(config.path).encode()).hexdigest()[:16]
    return Path.home() / ".config" / "evalkit" / "salts" / f"{key}.salt"


def cleaned_data(cohort, *, salt=None):
    """A cleaned cohort with its provenance (input checksums, time, salt) and no results yet.

    :func:`report_data` fills in the results; a notebook that needs none (data quality) can use this.
    """
    from .privacy import load_or_create_salt

    config = cohort.config
    hashes = file_hashes(config)
    return ReportData(cohort=cohort, results={}, salt=salt or load_or_create_salt(salt_path(config)),
                      fingerprint=fingerprint(hashes),
                      meta={"input_sha256": hashes,
                            "analysed_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")})


def report_data(cohort, *, salt=None, cleaned=None):
    """Analyse a cleaned cohort and bundle it with its provenance (input checksums, time, salt).

    ``cleaned`` (from :func:`cleaned_data`) gives the provenance already worked out, so that both
    record the same checksums and time.
    """
    data = cleaned if cleaned is not None else cleaned_data(cohort, salt=salt)
    return ReportData(cohort=cohort, results=analyse(cohort), salt=data.salt, fingerprint=data.fingerprint,
                      meta=dict(data.meta))


def compute(config_path, *, results_dir=None, salt=None):
    """Clean and analyse a cohort; with ``results_dir`` also write the results tables and the cache.

    Raises
    ------
    ConfigError, DataError
        Problems with the config or the data (before anything is written).
    """
    from ..data.config import load_config
    from ..data.pipeline import prepare_cohort

    config = load_config(config_path)
    data = report_data(prepare_cohort(config), salt=salt)
    if results_dir:
        save(data, results_dir)
    return data


def save(data, results_dir):
    """Write every results table (CSV) and the notebooks' signed cache into ``results_dir``.

    The cache is a pickle of ``data`` (without the salt) preceded by its HMAC-SHA256 keyed with the
    cohort's secret salt, which lives outside every report folder. :func:`load` unpickles it only
    when that signature verifies, so a pickle planted in ``results/`` is never loaded (unpickling
    can run code). Signing costs about a millisecond; the cache is not written without a salt.
    """
    from .analysis import write_results
    from ..data.pipeline import write_cleaning_results

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    write_cleaning_results(data.cohort, results_dir)
    write_results({k: v for k, v in data.results.items() if isinstance(v, pd.DataFrame)}, results_dir)
    if not data.salt:
        return
    _write_signed(data, results_dir / CACHE)


def save_cleaned(data, results_dir):
    """Write the signed cache of a cleaned cohort without results (:func:`cleaned_data`) into ``results_dir``.

    Read by ``load(..., analysis=False)`` while the analysis still runs; same signing as :func:`save`.
    """
    if data.salt:
        _write_signed(data, Path(results_dir) / CLEANED_CACHE)


def _write_signed(data, path):
    """Pickle ``data`` (without its salt) after its HMAC-SHA256 keyed with the salt; atomically, no links followed."""
    salt, data.salt = data.salt, ""  # the key of the pseudonyms never goes into a report folder
    try:
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        data.salt = salt
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # never write through a planted link: a new file or nothing
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_CACHE_MAGIC + _signature(payload, salt).encode() + b"\n")
        fh.write(payload)
    tmp.replace(path)  # atomic: a waiting notebook never reads half a file


def _signature(payload, salt):
    return hmac.new(salt.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def _verified_payload(raw, salt):
    """The pickle inside a signed cache, or None when the file is not one signed with ``salt``."""
    if not raw.startswith(_CACHE_MAGIC):
        return None
    head, sep, payload = raw[len(_CACHE_MAGIC):].partition(b"\n")
    if not sep or not hmac.compare_digest(head, _signature(payload, salt).encode()):
        return None
    return payload


def load(config_path, results_dir="", *, analysis=True, draw_ahead=None):
    """What every notebook calls first: the cohort's data and results.

    Uses the cache that ``evalkit report`` left in ``results_dir`` when its signature
    verifies with the cohort's salt (HMAC-SHA256, see :func:`save`) and it was made
    from the same config and input files; otherwise cleans and analyses here (so a
    notebook opened in JupyterLab with its defaults just works, and a planted or
    tampered cache is never unpickled).

    With ``analysis=False`` the notebook needs the cleaned data only (``results`` is
    empty): under ``evalkit report`` it takes the cleaned cohort as soon as the cleaning
    is done (:data:`CLEANED_CACHE`), while the analysis still runs; on its own it only
    cleans.

    ``draw_ahead`` (a section, e.g. ``"children"``) uses the time spent waiting for the
    results: when the cleaned cohort is there first, the section's figures that need no
    results (the paired figure, the overview of change by group) are drawn then, and
    the cells that show them later take them. The figures are the same either way;
    without a report still analysing, nothing is drawn ahead.

    Parameters
    ----------
    config_path : str
        Cohort config. A relative path is looked for in the working folder first and,
        when it is not there, in the notebooks folder (:func:`resolve_config`), so the
        notebooks' default ``"../data/sample/cohort.yml"`` works whether the kernel
        starts in ``notebooks/`` (JupyterLab) or in the repository root
        (``papermill notebooks/02_child_outcomes.ipynb out.ipynb``).
    results_dir : str, optional
        Folder holding ``results/`` tables and the cache.

    Returns
    -------
    ReportData

    Raises
    ------
    ConfigError
        The config is in neither place, or is not a valid cohort config.
    """
    from ..data.config import load_config

    config_path = resolve_config(config_path)
    config = load_config(config_path)
    if results_dir:
        full, cleaned = Path(results_dir) / CACHE, Path(results_dir) / CLEANED_CACHE
        expected = _Expected(config)  # the salt and the inputs' fingerprint, each worked out once
        if analysis and draw_ahead:
            _wait_for(Path(results_dir), full, cleaned)
            stage = _read_cache(cleaned, expected) if not full.is_file() else None
            if stage is not None:
                try:
                    _draw_ahead(stage, [draw_ahead] if isinstance(draw_ahead, str) else list(draw_ahead))
                except Exception:  # noqa: BLE001 - the cell that shows the figure draws it, and says why not
                    _AHEAD.clear()
        caches = [full] + ([] if analysis else [cleaned])
        _wait_for(Path(results_dir), *caches)
        for cache in caches:
            data = _read_cache(cache, expected)
            if data is not None:
                return data
    if not analysis:
        from ..data.pipeline import prepare_cohort

        return cleaned_data(prepare_cohort(config))
    return compute(config_path)


class _Expected:
    """A cohort's salt and the fingerprint of its inputs, worked out on first use and kept."""

    def __init__(self, config):
        self.config = config

    @functools.cached_property
    def salt(self):
        from .privacy import load_or_create_salt

        return load_or_create_salt(salt_path(self.config))

    @functools.cached_property
    def fingerprint(self):
        return fingerprint(file_hashes(self.config))


def _read_cache(cache, expected):
    """The ReportData in ``cache`` when signed with the cohort's salt and made from its inputs (``_Expected``), else None."""
    try:
        raw = cache.read_bytes() if cache.is_file() else b""
    except OSError:
        raw = b""
    if not raw:
        return None
    payload = _verified_payload(raw, expected.salt)
    if payload is None:  # not signed with this cohort's secret: never unpickled
        return None
    data = pickle.loads(payload)
    if data.fingerprint != expected.fingerprint:
        return None
    data.salt = expected.salt
    return data


def notebooks_folder():
    """The folder of the running notebook: JupyterLab's ``__session__`` (the notebook's path) when the
    kernel has one, else the repository's ``notebooks/`` folder next to the installed package.

    Examples
    --------
    >>> notebooks_folder().name
    'notebooks'
    """
    session = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        session = shell.user_ns.get("__session__") if shell is not None else None
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        pass
    if isinstance(session, str) and session.strip():
        folder = Path(session).expanduser().parent
        if folder.is_dir():
            return folder.resolve()
    import evalkit

    return Path(evalkit.__file__).resolve().parents[1] / "notebooks"


def resolve_config(config_path):
    """Where a notebook's ``config_path`` points: the path itself when absolute or found from the working
    folder, else the same relative path from the notebooks folder (:func:`notebooks_folder`).

    Parameters
    ----------
    config_path : str or pathlib.Path

    Returns
    -------
    pathlib.Path
        The path found, or ``config_path`` unchanged when it is in neither place (loading it then
        raises :class:`~evalkit.errors.ConfigError` naming it).

    Examples
    --------
    >>> import os, tempfile
    >>> here = os.getcwd()
    >>> os.chdir(tempfile.mkdtemp())  # a kernel started away from the notebooks
    >>> resolve_config("../data/sample/cohort.yml") == notebooks_folder() / "../data/sample/cohort.yml"
    True
    >>> os.chdir(here)
    """
    path = Path(config_path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    beside = notebooks_folder() / path
    return beside if beside.exists() else path


def pending_text():
    """What ``evalkit report`` writes into ``PENDING``: its pid, the pid's start time and the host (JSON)."""
    import platform

    return json.dumps({"pid": os.getpid(), "started": _process_start(os.getpid()), "host": platform.node()}) + "\n"


def _process_start(pid):
    """When process ``pid`` started (clock ticks since boot, Linux), or None where not known (or a zombie)."""
    state = _process_state(pid)
    return None if state is None or state[0] in ("Z", "X") else state[1]


def _process_state(pid):
    """``(state letter, start time in clock ticks since boot)`` of process ``pid`` (Linux), or None."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid, started=None):
    """Whether process ``pid`` is running and, when ``started`` is given, is the one that started then.

    Examples
    --------
    >>> import os
    >>> process_alive(os.getpid()), process_alive(0), process_alive(2 ** 22 + 1)
    (True, False, False)
    """
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # alive, owned by another user
        pass
    except (OSError, OverflowError):
        return False
    if Path("/proc/self/stat").exists():  # Linux: a zombie or a reused pid is not the writer
        now = _process_start(pid)
        if now is None or (started is not None and now != started):
            return False
    return True


def owner_alive(text):
    """Read a ``PENDING`` or lock file's text: ``(pid, alive)``; a bare pid is accepted, anything else is stale."""
    import platform

    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if isinstance(info, int):
        info = {"pid": info}
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None, False
    if info.get("host") not in (None, platform.node()):
        return info["pid"], True  # another machine's run (a shared disk): cannot tell, assume it is running
    return info["pid"], process_alive(info["pid"], info.get("started"))


def _wait_for(results_dir, *caches, timeout=900):
    """While ``evalkit report`` is still analysing (``PENDING`` marker), wait for one of its ``caches``.

    A marker whose writer is no longer running (a killed run) is ignored at once.
    """
    import time

    marker = results_dir / PENDING
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(caches) > 1 and any(cache.is_file() for cache in caches):
            return
        try:
            text = marker.read_text(encoding="utf-8", errors="replace")
        except OSError:  # gone (the cache is written) or unreadable
            return
        if not owner_alive(text)[1]:
            return
        time.sleep(0.05)


# ---------------------------------------------------------------------------- display

class Table:
    """A table as shown in a report: caption, disclosure-controlled body, footnotes, and optionally the
    full technical table one click away.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as shown: disclosure control applied, human column labels.
    caption : str
        Shown above the table.
    notes : sequence of str
        Footnotes shown under it (empty ones are dropped).
    lead : str, optional
        A sentence shown between the caption and the table.
    technical : Table, optional
        The full technical table, shown under this one in a ``<details>`` element
        that is closed until a reader opens it (its caption is the summary line:
        "Full technical table: ...").

    Attributes
    ----------
    data : pandas.DataFrame
        What the table shows (``frame``): the values a reader sees, never the raw results.
    technical : Table or None

    Examples
    --------
    >>> import pandas as pd
    >>> t = Table(pd.DataFrame({"Measure": ["Knowledge"], "n": [24], "p": [".034"]}), caption="Change",
    ...           technical=Table(pd.DataFrame({"Measure": ["Knowledge"], "t (df)": ["2.27 (23)"]}),
    ...                           caption="every statistic"))
    >>> t.data.columns.tolist()
    ['Measure', 'n', 'p']
    >>> '<th class="text">Measure</th><th>n</th><th>p</th>' in t._repr_html_()
    True
    >>> '<details class="technical"><summary>Full technical table: every statistic</summary>' in t._repr_html_()
    True
    """

    def __init__(self, frame, *, caption="", notes=(), lead="", technical=None):
        self.data = frame
        self.caption = caption
        self.notes = [n for n in notes if n]
        self.lead = lead
        self.technical = technical

    @property
    def frame(self):
        """The shown table (the older name of :attr:`data`)."""
        return self.data

    def _body_html(self):
        lead = f"<p class='lead'>{html.escape(self.lead)}</p>" if self.lead else ""
        notes = "".join(f"<p class='note'><em>{html.escape(n)}</em></p>" for n in self.notes)
        return lead + html_table(self.data) + notes

    def _repr_html_(self):
        cap = f"<p class='caption'><strong>{html.escape(self.caption)}</strong></p>" if self.caption else ""
        more = ""
        if self.technical is not None:
            summary = html.escape("Full technical table: " + (self.technical.caption or "every statistic"))
            more = (f'<details class="technical"><summary>{summary}</summary>'
                    f"{self.technical._body_html()}</details>")
        return cap + self._body_html() + more

    def __repr__(self):
        text = (self.caption + "\n" if self.caption else "") + self.data.to_string(index=False)
        if self.technical is not None:
            text += "\n\nFull technical table (.technical): " + repr(self.technical)
        return text


#: Parts of a formatted statistic that are not words: brackets, signs, separators, percent and markers.
_STATISTIC_MARKS = re.compile(r"[\s\[\]();,%+\-\u2212\u2013]")


def _cell_text(value):
    """One shown cell as text: missing blank, whole numbers without decimals, other numbers to 2 decimals."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        return str(int(value)) if float(value).is_integer() else _fmt(float(value))
    return str(value)


def _is_text_cell(text):
    """True for words, False for numbers however they are dressed: ``0.17 [0.13, 0.22]``, ``26 (10%)``,
    ``< .001``, ``<5``, ``*``, ``−0.06``. Uses the index page's rule (:func:`evalkit.report.render._is_text`)
    on the text without the statistic's brackets, signs and separators."""
    from .render import _is_text

    return _is_text(_STATISTIC_MARKS.sub("", text)) if text.strip() else False


def html_table(frame):
    """A shown table as HTML: words left-aligned, numbers right-aligned.

    Every cell is escaped; a column holding any words has ``class="text"`` on its
    header and cells (the report stylesheet left-aligns those and right-aligns the
    rest), as the index page's tables do. No inline style (the pages' policy
    forbids them).

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> html_table(pd.DataFrame({"Measure": ["A & B"], "n": ["<5"], "Change [95% CI]": ["−0.06 [−0.11, −0.01]"]}))
    '<table class="dataframe evalkit-table"><thead><tr><th class="text">Measure</th><th>n</th><th>Change [95% CI]</th></tr></thead><tbody><tr><td class="text">A &amp; B</td><td>&lt;5</td><td>−0.06 [−0.11, −0.01]</td></tr></tbody></table>'
    """
    columns = [str(c) for c in frame.columns]
    cells = [[_cell_text(v) for v in frame.iloc[:, j].tolist()] for j in range(frame.shape[1])]
    attr = [' class="text"' if any(_is_text_cell(t) for t in column) else "" for column in cells]
    head = "".join(f"<th{a}>{html.escape(c)}</th>" for a, c in zip(attr, columns))
    rows = "".join("<tr>" + "".join(f"<td{attr[j]}>{html.escape(cells[j][i])}</td>" for j in range(len(columns)))
                   + "</tr>" for i in range(frame.shape[0]))
    return (f'<table class="dataframe evalkit-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def markdown_text(text):
    """Text from a config, an instrument or a data file, made safe to put inside Markdown.

    Every character that Markdown, HTML or the notebook's maths treat as markup
    (``< > & [ ] ( ) * _ # $ `` and other ASCII punctuation) becomes a numeric
    character reference, and line breaks become spaces, so the text shows
    literally: it cannot start a heading, a list, a link, raw HTML or maths.

    Examples
    --------
    >>> markdown_text("A & B")
    'A &#38; B'
    >>> markdown_text("</h1>[x](http://e)\\n# $a$")
    '&#60;&#47;h1&#62;&#91;x&#93;&#40;http&#58;&#47;&#47;e&#41; &#35; &#36;a&#36;'
    """
    flat = " ".join(str(text).split())
    return "".join(f"&#{ord(ch)};" if (ch.isascii() and not ch.isalnum() and ch != " ") else ch
                   for ch in flat)


class Markdown:
    """Markdown text shown as a report paragraph or list (put outside text through :func:`markdown_text`).

    Parameters
    ----------
    text : str
        The Markdown shown.
    data : pandas.DataFrame, optional
        What the text lists, as a table (:func:`findings`: one row per sentence), or an
        empty table where a section has nothing to show; None for plain text.
    """

    def __init__(self, text, data=None):
        self.text = text
        self.data = data

    def _repr_markdown_(self):
        return self.text

    def __repr__(self):
        return self.text


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _p(value):
    """A p value as the tables show it: APA, 3 decimals, no leading zero (the sentences' ``format_p``
    without "p = ").

    Examples
    --------
    >>> [_p(v) for v in (0.0004, 0.03449, 0.5, 0.99999, float("nan"))]
    ['< .001', '.034', '.500', '> .999', '']
    """
    from .findings import format_p

    if value is None or not np.isfinite(value):
        return ""
    return format_p(value).removeprefix("p = ").removeprefix("p ")


#: Headers a reader sees instead of the results files' column names; any other name is shown with
#: spaces for underscores and a capital first letter (:func:`human_label`).
COLUMN_LABELS = {
    "rows_in": "Rows in", "rows_kept": "Kept", "rows_excluded": "Excluded", "n_items": "Items",
    "completers_n": "Completers (n)", "dropouts_n": "Left before follow-up (n)",
    "completers_mean": "Completers: mean", "completers_sd": "Completers: SD",
    "dropouts_mean": "Left before follow-up: mean", "dropouts_sd": "Left before follow-up: SD",
}


def human_label(name):
    """A results column's header as a reader sees it.

    Examples
    --------
    >>> [human_label(c) for c in ("rows_in", "unknown timepoint", "completers_n", "n", "p", "section")]
    ['Rows in', 'Unknown timepoint', 'Completers (n)', 'n', 'p', 'Section']
    """
    name = str(name)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    text = " ".join(name.replace("_", " ").split())
    if len(text) <= 2:  # statistic symbols stay as they are: n, p, t, F, df
        return text
    return text[:1].upper() + text[1:]


def _labelled(frame):
    """``frame`` with human headers (:func:`human_label`) and section names as words ("Children")."""
    out = frame.rename(columns=human_label)
    if "Section" in out.columns:
        out["Section"] = out["Section"].map(lambda s: s.capitalize() if isinstance(s, str) else s)
    return out


def _noted(frame):
    """The ``note`` column as ``Note``, or no column when every note is empty."""
    if "note" not in frame.columns:
        return frame
    notes = frame["note"].fillna("").astype(str)
    out = frame.drop(columns="note")
    return out.assign(Note=notes.to_numpy()) if notes.str.strip().any() else out


def _primary_first(table, data):
    """One row per measure, the measures declared primary (``analysis.primary``) first in the config's
    order, then the others in their own order; and each row's role ("Primary" / "Secondary"), or None
    when the config declares no primary measure."""
    primary = list(data.config.analysis.get("primary") or [])
    if not primary:
        return table, None
    rank = {m: i for i, m in enumerate(primary)}
    order = np.argsort(table["measure"].map(lambda m: rank.get(m, len(primary))).to_numpy(), kind="stable")
    out = table.iloc[order]
    return out, np.where(out["measure"].isin(primary), "Primary", "Secondary")


_PRIMARY_NOTE = ("Primary: declared primary in the cohort config (analysis.primary) and listed first; the "
                 "other measures are secondary, best read as supporting evidence.")


def _with_small_note(notes, frame, data):
    """``notes`` and, when the shown ``frame`` hides a count, the note explaining the markers."""
    from .privacy import is_hidden

    hidden = any(is_hidden(v) for column in frame.columns for v in frame[column].tolist()
                 if isinstance(v, str))
    return [*notes, _small_note(data)] if hidden else list(notes)


def disclose(frame, data, *, counts=None, group_n=None):
    """Apply the report's disclosure control to a table before it is shown.

    Person ids become pseudonyms; every count from 1 to ``min_cell - 1`` becomes
    ``"<min_cell"``; rows whose group ``n`` is below ``min_group_n`` have their
    statistics withheld.

    Parameters
    ----------
    frame : pandas.DataFrame
    data : ReportData
    counts : list of str, optional
        Count columns (default: those of ``COUNT_COLUMNS`` present).
    group_n : str, optional
        Column holding the group size for withholding small groups.

    Returns
    -------
    pandas.DataFrame
    """
    from .privacy import pseudonymise, suppress_small_counts, withhold_small_groups

    out = frame.copy()
    if "id" in out.columns:
        out["id"] = pseudonymise(out["id"], salt=data.salt)
    if group_n and group_n in out.columns:
        out = withhold_small_groups(out, n_column=group_n, min_group_n=data.min_group_n)
    cols = [c for c in (counts if counts is not None else COUNT_COLUMNS) if c in out.columns]
    if cols:
        out = suppress_small_counts(out, columns=cols, min_cell=data.min_cell)
    return out


def record(name, value):
    """Record a value in the executed notebook for tests and the index page (not shown in HTML).

    The value is displayed under the mime type ``RECORD_MIME`` only, which the
    HTML renderer does not show; :func:`recorded` reads it back.
    """
    from IPython.display import display

    payload = json.loads(pd.Series([value]).to_json(orient="values"))[0] if not isinstance(
        value, (dict, list, str)) else value
    bundle = {RECORD_MIME: {"name": name, "value": payload}, "text/plain": ""}
    display(bundle, raw=True)


def recorded(notebook):
    """Read back the values a notebook recorded with :func:`record`.

    Parameters
    ----------
    notebook : str, pathlib.Path or nbformat.NotebookNode

    Returns
    -------
    dict
    """
    import nbformat

    nb = notebook if hasattr(notebook, "cells") else nbformat.read(str(notebook), as_version=4)
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload:
                out[payload["name"]] = payload["value"]
    return out


class Figures(list):
    """Several figures (or notes) shown one after another when a notebook cell returns them.

    Attributes
    ----------
    figures : list of matplotlib.figure.Figure
        Every figure shown, in order (the notes left out).
    figure : matplotlib.figure.Figure or None
        The first of them.
    """

    @property
    def figures(self):
        return [shown.figure for shown in self if getattr(shown, "figure", None) is not None]

    @property
    def figure(self):
        return next(iter(self.figures), None)

    def _ipython_display_(self):
        from IPython.display import display

        for fig in self:
            display(fig)


def _section(data, section):
    sec = data.cohort.sections.get(section)
    if sec is None:
        raise DataError(f"this cohort has no '{section}' section; add it to the cohort config or skip this notebook",
                        file=data.config.path, column=section)
    return sec


_THEMED = []


def _theme():
    """Apply evalkit's plot theme once per process, on the first figure."""
    if not _THEMED:
        from .plots import set_theme

        set_theme()
        _THEMED.append(True)


def _reset_kernel_state():
    """Forget per-process state, as in a fresh kernel (called by :mod:`evalkit.kernels` between notebooks)."""
    _THEMED.clear()
    _AHEAD.clear()


#: Figures drawn while the notebook waited for the results (see :func:`load`'s ``draw_ahead``), by
#: :func:`_ahead_key`; each is taken, once, by the cell that shows it.
_AHEAD = {}
#: The figures of each section's report page that need the cleaned data only, so can be drawn before the
#: analysis is done (02 shows the children's change by group; 03 shows no such figure).
_DRAWN_AHEAD = {"children": ("paired_figure", "interaction_overview"), "facilitators": ("paired_figure",)}


def _ahead_key(name, data, section):
    """What a figure drawn ahead was drawn from: figure, section, input fingerprint and the display settings."""
    return name, section, data.fingerprint, data.min_cell, data.min_group_n


def _drawn(name, data, section, draw):
    """The figure ``name`` of ``section`` drawn ahead for these data, else ``draw()`` now.

    A figure drawn ahead was drawn by the same function from the same cleaned data, settings and
    theme, so it is the same figure (``tests/test_notebooks.py`` compares the PNG bytes).
    """
    shown = _AHEAD.pop(_ahead_key(name, data, section), None)
    return shown if shown is not None else draw()


def _draw_ahead(cleaned, sections):
    """Draw the figures of ``sections`` that need no results (``_DRAWN_AHEAD``) into ``_AHEAD``."""
    drawers = {"paired_figure": _paired_figure, "interaction_overview": _interaction_overview}
    for section in sections:
        if section not in cleaned.cohort.sections:
            continue
        for name in _DRAWN_AHEAD.get(section, ("paired_figure",)):
            key = _ahead_key(name, cleaned, section)
            if key not in _AHEAD:
                drawn = drawers[name](cleaned, section)
                if drawn is not None:
                    _AHEAD[key] = drawn


class FigureImage:
    """A finished figure as PNG, shown once by the notebook (and kept for tests as ``.figure``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The finished figure; it is drawn once, here.
    alt : str, optional
        The image's text alternative, for screen readers and for anyone the
        picture does not reach. Defaults to one built from the figure's
        titles (see :meth:`default_alt`); never empty.

    Notes
    -----
    ``_repr_png_`` returns ``(png, {"alt": alt})``: IPython files the second
    item as the output's ``image/png`` metadata, where the report template
    reads the ``alt`` of the ``<img>``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 1.5))
    >>> _ = ax.set_title("Knowledge")
    >>> image = FigureImage(fig)
    >>> image.alt
    'Figure: Knowledge.'
    >>> FigureImage(fig, alt="Scores rose on every subscale.")._repr_png_()[1]
    {'alt': 'Scores rose on every subscale.'}
    >>> plt.close(fig)
    """

    def __init__(self, fig, *, alt=None):
        import io

        buffer = io.BytesIO()
        # every report figure lays itself out (tight_layout, constrained layout or fixed margins),
        # (bbox_inches=None falls back to rcParams["savefig.bbox"], "tight" in the theme: that crop is kept,
        # because a suptitle or axis label wider than the figure would otherwise be cut)
        fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches=None, facecolor="white")
        self.png = buffer.getvalue()
        self.figure = fig
        given = " ".join(str(alt).split()) if alt is not None else ""
        self.alt = given or self.default_alt(fig)

    def _repr_png_(self):
        return self.png, {"alt": self.alt}

    def __repr__(self):
        return f"<figure {self.figure.get_figwidth():.1f} x {self.figure.get_figheight():.1f} in>"

    @staticmethod
    def default_alt(fig, limit=300):
        """A text alternative for ``fig`` from its own words: suptitle, else panel titles, else axis labels.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
        limit : int, default 300
            Longest text returned (cut at a word, with an ellipsis).

        Returns
        -------
        str
            ``"Figure: <title>."``, ``"Figure, <k> panels: <title>; <title>."``, or
            ``"Figure"`` when the figure has no words at all; never empty.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, axes = plt.subplots(1, 2)
        >>> _ = axes[0].set_title("Pre"), axes[1].set_title("Post")
        >>> FigureImage.default_alt(fig)
        'Figure, 2 panels: Pre; Post.'
        >>> _ = fig.suptitle("Scores before and after")
        >>> FigureImage.default_alt(fig)
        'Figure: Scores before and after.'
        >>> plt.close(fig)
        """

        def words(text):
            return " ".join(str(text or "").replace("$", "").split()).rstrip(".")

        suptitle = words(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) is not None else ""
        axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison]
        titles = [t for t in (words(" ".join(ax.get_title(loc) for loc in ("left", "center", "right")))
                              for ax in axes) if t]
        if suptitle:
            text = f"Figure: {suptitle}"
        elif len(titles) == 1:
            text = f"Figure: {titles[0]}"
        elif titles:
            text = f"Figure, {len(titles)} panels: " + "; ".join(titles)
        else:
            labels = [t for ax in axes[:1] for t in (words(ax.get_xlabel()), words(ax.get_ylabel())) if t]
            text = "Figure: " + " against ".join(labels) if labels else "Figure"
        if len(text) > limit:
            text = text[:limit].rsplit(" ", 1)[0].rstrip(";,:") + " \u2026"
        return text if text == "Figure" or text.endswith("\u2026") else text + "."


def _figure(fig, alt=None):
    """Close ``fig`` (so the notebook shows only the PNG) and wrap it, with ``alt`` if given."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return FigureImage(fig, alt=alt)


# ---------------------------------------------------------------------------- sections

def _input_hashes(data):
    """Checksums recorded when the data was analysed (read again only for an old cache)."""
    return data.meta.get("input_sha256") or file_hashes(data.config)


def provenance(data, compact=False, **parameters):
    """Parameters and provenance of the report: where every number comes from.

    ``compact=True`` gives the short version shown at the top of the outcome reports: cohort, config,
    when it was analysed and the evalkit version, with the input checksums and the analysis settings in
    its ``.technical`` table (shown collapsed).
    """
    from importlib.metadata import version

    cfg = data.config
    if compact:
        hashes = _input_hashes(data)
        row = {"Cohort": cfg.name, "Config": Path(cfg.path).name,
               "Analysed (UTC)": data.meta.get("analysed_at", ""), "evalkit": __version__}
        full = {**row, "Input files (SHA-256, first 12)": "; ".join(f"{k}: {v[:12]}" for k, v in hashes.items()),
                "Significance level (alpha)": _fmt(cfg.analysis["alpha"], 3),
                "Smallest group reported (min_group_n)": data.min_group_n,
                "Smallest count shown (min_cell)": data.min_cell}
        return Table(pd.DataFrame([row]), caption="Provenance (full table in the data quality report)",
                     technical=Table(pd.DataFrame([full]), caption="input checksums and analysis settings"))
    rows = [("Cohort", cfg.name), ("Config file", Path(cfg.path).name),
            ("Sections", ", ".join(f"{k} ({v.instrument.name})" for k, v in data.cohort.sections.items())),
            ("Significance level (alpha)", _fmt(cfg.analysis["alpha"], 3)),
            ("Age bands (edges)", ", ".join(map(str, cfg.analysis["age_bands"]))),
            ("Smallest group reported (min_group_n)", str(data.min_group_n)),
            ("Smallest count shown (min_cell)", str(data.min_cell)),
            ("evalkit / pandas / pingouin / pandera", f"{__version__} / {pd.__version__} / {version('pingouin')}"
                                                      f" / {version('pandera')}"),
            ("Analysed at (UTC)", data.meta.get("analysed_at", _dt.datetime.now(_dt.timezone.utc)
                                                .strftime("%Y-%m-%d %H:%M")))]
    for name, digest in _input_hashes(data).items():
        rows.append((f"SHA-256 of {name}", digest[:16] + "…"))
    for key, value in parameters.items():
        rows.append((f"Parameter {key}", Path(str(value)).name if "path" in key or "dir" in key else str(value)))
    for name, sec in data.cohort.sections.items():
        inst = sec.instrument
        if sec.not_collected:
            rows.append((f"{name}: subscales not collected", ", ".join(sec.not_collected)))
        rows.append((f"{name}: instrument source", Path(inst.source).name))
    return Table(pd.DataFrame(rows, columns=["Item", "Value"]), caption="Provenance and parameters")


def accounting(data, section=None):
    """Rows in = rows kept + rows excluded, per file and per exclusion reason (optionally one section)."""
    s = data.cohort.summary
    if section is not None:
        s = s[s["section"] == section]
    keep = ["section", "file", "rows_in", "rows_kept", "rows_excluded"]
    reasons = [c for c in s.columns if c not in keep and s[c].sum() > 0]
    table = _protected_accounting(s[keep + reasons].reset_index(drop=True), reasons, data.min_cell)
    ok = bool((s["rows_in"] == s["rows_kept"] + s["rows_excluded"]).all())
    record("accounting_identity", ok)
    totals = table.loc[table["file"] == "all files", "rows_in"].tolist()
    # what the page shows, never more: the total when every section's total is shown
    record("rows_in", int(sum(totals)) if not any(isinstance(v, str) for v in totals) else "hidden")
    # the exclusion reasons stay after "Excluded": the disclosure check reads them as its parts
    table = _labelled(table.assign(file=table["file"].replace("all files", "All files")))
    return Table(table, caption="Cleaning accounting: every row is kept or excluded with a reason",
                 notes=[f"Rows in = kept + excluded holds for every file: {'yes' if ok else 'NO'}.",
                        _small_note(data)])


def _protected_accounting(table, reasons, min_cell):
    """The accounting table with complementary suppression: in each row rows in = kept + excluded and
    excluded = the reasons; in each section the "all files" row is the sum of the file rows."""
    from .privacy import complementary_suppression

    counts = ["rows_in", "rows_kept", "rows_excluded", *reasons]
    columns = []
    for _, rows in table.groupby("section", sort=False):
        total = rows.index[rows["file"] == "all files"]
        if len(total) == 1:
            columns.append((total[0], [r for r in rows.index if r != total[0]], counts))
    relations = [("rows_in", ["rows_kept", "rows_excluded"])] + ([("rows_excluded", reasons)] if reasons else [])
    return complementary_suppression(table, relations=relations, column_relations=columns, min_cell=min_cell)


def _small_note(data):
    from .privacy import suppression_note

    return suppression_note(data.min_cell)


def cleaning_actions(data):
    """Counts of every cleaning action by section, action and reason (no ids)."""
    from ..data.cleaning import action_counts

    table = disclose(action_counts(data.cohort.log), data, counts=["rows"])
    # excluded rows per reason are also the accounting table's "all files" cells: hidden there, hidden here
    s = data.cohort.summary
    base = ["section", "file", "rows_in", "rows_kept", "rows_excluded"]
    reasons = [c for c in s.columns if c not in base and s[c].sum() > 0]
    shown = _protected_accounting(s[base + reasons].reset_index(drop=True), reasons, data.min_cell)
    totals = shown[shown["file"] == "all files"].set_index("section")
    rows = table["rows"].astype(object)
    for i, row in table.iterrows():
        if row["action"] == "excluded" and row["reason"] in totals.columns and row["section"] in totals.index:
            marker = totals.loc[row["section"], row["reason"]]
            if isinstance(marker, str):
                rows[i] = marker
    table["rows"] = rows
    return Table(_labelled(table), caption="Cleaning actions (full log: results/cleaning_log.csv)",
                 notes=[_small_note(data)])


def problems(data):
    """Problems pandera found in the files, and how cleaning handled each."""
    p = data.cohort.problems.drop(columns=["example_rows"])
    return Table(_labelled(disclose(p, data, counts=["rows"])), caption="Problems found in the input files")


def matching(data):
    """People with pre, post and both questionnaires, per section."""
    rows = []
    for name, sec in data.cohort.sections.items():
        people = sec.scores.groupby("id")["timepoint"].agg(set)
        rows.append({"section": name, "people": len(people),
                     "pre only": int(people.map(lambda s: s == {"pre"}).sum()),
                     "post only": int(people.map(lambda s: s == {"post"}).sum()),
                     "matched": int(people.map(lambda s: s == {"pre", "post"}).sum())})
    from .privacy import complementary_suppression

    # matched people are the n of the outcome tables and people with one questionnaire are counted in the
    # cleaning actions ("no post questionnaire"): hide the total before any of them
    table = complementary_suppression(pd.DataFrame(rows), relations=[("people", ["pre only", "post only", "matched"])],
                                      keep=["pre only", "post only", "matched"], min_cell=data.min_cell)
    for row in table.itertuples():
        record(f"{row.section}_matched", row.matched)
    return Table(_labelled(table), caption="Pre/post matching",
                 notes=["Matched: people with both a pre and a post questionnaire, who count in the pre/post "
                        "tests.", _small_note(data)])


def findings(data, section="children"):
    """The plain-English findings, first thing in each outcomes report.

    Returns
    -------
    Markdown
        A bulleted list; ``.data`` holds the same sentences as a table (``Measure``, ``Finding``).
    """
    table = data.results.get("findings" if section == "children" else "facilitator_findings")
    sentences, measures = [], []
    if isinstance(table, pd.DataFrame) and len(table):
        if "section" in table.columns:
            table = table[table["section"] == section]
        sentences = table["sentence"].tolist() if "sentence" in table.columns else table.iloc[:, -1].tolist()
        measures = (table["label"] if "label" in table.columns else table.get("measure", pd.Series(
            [""] * len(table)))).tolist()
    record(f"{section}_findings", sentences)
    frame = pd.DataFrame({"Measure": measures, "Finding": sentences})
    if not sentences:
        return Markdown("_No findings could be computed for this section._", data=frame)
    return Markdown("\n".join(f"- {markdown_text(s)}" for s in sentences), data=frame)


def _outcomes(data, section):
    """The section's before-and-after rows (``contrast == "post-pre"``; follow-up rows have their own section)."""
    from .summary import post_pre

    return post_pre(data.results["child_outcomes" if section == "children" else "facilitator_outcomes"])


def outcomes_table(data, section="children"):
    """Change per measure: a readable summary, with every statistic in the full technical table under it.

    The summary gives, per measure, n, the mean before and after, the mean change with its 95% CI,
    the size of the change in words (of d_z, or of the rank-biserial r where the Wilcoxon test is
    primary; Cohen's convention, :data:`evalkit.report.findings.SIZE_CONVENTION`) and the
    Holm-adjusted p of the primary test (``p_primary_holm``). When the config declares primary
    measures (``analysis.primary``) they come first and a column says Primary or Secondary. The full
    technical table (t, df, p unadjusted and Holm, d_z, g_av, Wilcoxon, BF10, the primary test) is
    ``.technical``, shown collapsed. Both go through the same disclosure control (:func:`disclose`).

    Returns
    -------
    Table
        ``.data`` is the summary as shown; ``.technical.data`` the full table as shown.
    """
    from .findings import SIZE_CONVENTION, format_number, size_words

    o = _outcomes(data, section)
    record(f"{section}_outcomes", disclose(o[["measure", "n", "mean_pre", "mean_post", "mean_diff", "t", "df", "p",
                                              "p_holm", "d_z"]], data, counts=["n"]).to_dict(orient="records"))
    o, role = _primary_first(o, data)
    label = o["label"] if "label" in o else o["measure"]
    wilcoxon = (o["primary_test"] == "Wilcoxon").to_numpy()
    effect = np.where(wilcoxon, o["rank_biserial"], o["d_z"]).astype(float)
    summary = pd.DataFrame({
        "Measure": label.to_numpy(),
        "n": o["n"].to_numpy(),
        "Before (mean)": o["mean_pre"].map(_fmt).to_numpy(),
        "After (mean)": o["mean_post"].map(_fmt).to_numpy(),
        "Change [95% CI]": [f"{format_number(d, sign=True)} [{format_number(lo)}, {format_number(hi)}]"
                            if np.isfinite(d) else "" for d, lo, hi in zip(o["mean_diff"], o["ci_low"], o["ci_high"])],
        "Size in words": [f"{size_words(v)} ({'rank-biserial r' if w else 'd_z'} {format_number(v)})"
                          if np.isfinite(v) else "" for v, w in zip(effect, wilcoxon)],
        "p (Holm)": o["p_primary_holm"].map(_p).to_numpy(),
        "note": (o["note"].fillna("") if "note" in o else pd.Series("", index=o.index)).to_numpy(),
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    summary = _noted(disclose(summary, data, counts=["n"], group_n="n"))
    tested = int(o["p_primary_holm"].notna().sum())
    notes = ["Before and after: mean scores of the people with both questionnaires. Change: after minus "
             "before, the mean of each person's change, with its 95% confidence interval.",
             "Size in words: of d_z (the mean change over the SD of the changes), or of the rank-biserial r "
             f"where the Wilcoxon test is primary. {SIZE_CONVENTION}",
             "p (Holm): p of the primary test (the paired t-test, or the Wilcoxon signed-rank test for a small "
             "sample whose changes are not normal), Holm (1979) adjusted across the "
             f"{tested} measures tested on this questionnaire."]
    if role is not None:
        notes.append(_PRIMARY_NOTE)
    technical = pd.DataFrame({
        "Measure": label.to_numpy(),
        "n": o["n"].to_numpy(),
        "Pre mean (SD)": [f"{_fmt(m)} ({_fmt(s)})" for m, s in zip(o["mean_pre"], o["sd_pre"])],
        "Post mean (SD)": [f"{_fmt(m)} ({_fmt(s)})" for m, s in zip(o["mean_post"], o["sd_post"])],
        "Change post − pre [95% CI]": [f"{_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(d) else ""
                                       for d, lo, hi in zip(o["mean_diff"], o["ci_low"], o["ci_high"])],
        "t (df)": [f"{_fmt(t)} ({_fmt(df, 0)})" if np.isfinite(t) else "" for t, df in zip(o["t"], o["df"])],
        "p": o["p"].map(_p).to_numpy(), "p (Holm)": o["p_holm"].map(_p).to_numpy(),
        "d_z [95% CI]": [f"{_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(d) else ""
                         for d, lo, hi in zip(o["d_z"], o["d_z_ci_low"], o["d_z_ci_high"])],
        "g_av [95% CI]": [f"{_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(d) else ""
                          for d, lo, hi in zip(o["g_av"], o["g_av_ci_low"], o["g_av_ci_high"])],
        "Wilcoxon p": o["wilcoxon_p"].map(_p).to_numpy(), "Rank-biserial r": o["rank_biserial"].map(_fmt).to_numpy(),
        "BF10": o["bf10"].map(lambda v: _fmt(v) if np.isfinite(v) and v < 1000 else (">1000" if np.isfinite(v) else ""))
        .to_numpy(),
        "Primary test": o["primary_test"].to_numpy(),
        "note": (o["note"].fillna("") if "note" in o else pd.Series("", index=o.index)).to_numpy(),
    })
    technical = _noted(disclose(technical, data, counts=["n"], group_n="n"))
    technical_notes = [
        "Direction is always post minus pre. p (Holm): Holm (1979) adjustment across the measures of this "
        "questionnaire. d_z = mean change / SD of the changes (Cohen's d for paired data), 95% CI from the "
        "noncentral t distribution. g_av = mean change / average of the pre and post SDs, with Hedges' small-"
        "sample correction. BF10: JZS Bayes factor (Cauchy prior, r = 0.707), as JASP. Rank-biserial r: "
        "matched-pairs rank-biserial correlation of the Wilcoxon signed-rank test.",
        "Primary test: the paired t-test, unless the sample is small (n < 30) and the Shapiro–Wilk test "
        "rejects normal differences, when the Wilcoxon signed-rank test is primary."]
    return Table(summary, caption="Change per measure, before and after (people with both questionnaires)",
                 notes=_with_small_note(notes, summary, data),
                 technical=Table(technical, caption="every statistic of the paired tests",
                                 notes=technical_notes))


def paired_figure(data, section="children"):
    """Individual pre→post lines and means with within-subject 95% CIs, one panel per measure."""
    return _drawn("paired_figure", data, section, lambda: _paired_figure(data, section))


def _paired_figure(data, section):
    _theme()
    from .plots import paired_alt, paired_grid

    sec = _section(data, section)
    unit = "children" if section == "children" else "facilitators"
    fig = paired_grid(sec.scores, measures=sec.measures, labels=sec.labels,
                      scale=(sec.instrument.min, sec.instrument.max), unit=unit, min_cell=data.min_cell)
    noun = "measure" if sec.instrument.total is not None and sec.instrument.total.id in sec.measures else "subscale"
    return _figure(fig, alt=paired_alt(fig, unit=unit, noun=noun))


def forest_figure(data, section="children", effect="d_z"):
    """Effect sizes with 95% CIs, one row per measure."""
    _theme()
    import matplotlib.pyplot as plt

    from .plots import EFFECTS, forest_plot

    o = _outcomes(data, section)
    if "label" not in o.columns:
        o = o.assign(label=o["measure"])
    o = o.assign(n=o["n"].where(o["n"] >= data.min_cell, np.nan))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(o) + 1.6))
    forest_plot(o, effect=effect, ax=ax)
    fig.tight_layout()
    name = EFFECTS[effect][3].removesuffix(", 95% CI")
    alt = (f"{name} as a blue point with its 95% confidence interval for each of {len(o)} measures "
           f"({', '.join(map(str, o['label']))}), beside a vertical line at zero, no change.")
    return _figure(fig, alt=alt)


def _factor_name(factor):
    """A factor as a reader names it: "referral_reason" -> "Referral reason"."""
    text = str(factor).replace("_", " ")
    return text[:1].upper() + text[1:]


def _factor_tests(rows, labels, *, groups=False):
    """One shown row per measure and factor: F (df1, df2), p, partial eta squared, n, note."""
    shown = pd.DataFrame({
        "Measure": rows["measure"].map(lambda x: labels.get(x, x)),
        "Factor": rows["factor"].map(_factor_name),
        "F (df1, df2)": [f"{_fmt(f)} ({_fmt(a, 0)}, {_fmt(b, 0)})" if np.isfinite(f) else ""
                         for f, a, b in zip(rows["F"], rows["df1"], rows["df2"])],
        "p": rows["p"].map(_p),
        "Partial eta²": rows["np2"].map(lambda v: _fmt(v, 3)),
        "n": rows["n"],
        "note": rows["note"].fillna(""),
    })
    if groups:
        shown.insert(2, "Groups", rows["groups"].fillna("").to_numpy())
    return _noted(shown)


def moderators_table(data):
    """Does the pre→post change differ by group? The time × factor interaction of each mixed ANOVA.

    Exploratory: the summary shows each interaction's p beside its Holm (1979) adjustment across all
    the moderator tests of the table (``p_holm_family``), and says how many tests that is; the full
    technical table (F, df, partial eta squared, groups) is ``.technical``, shown collapsed.
    """
    m = data.results.get("moderators")
    if m is None or m.empty:
        return Markdown("_No moderator analysis was possible (no factor with two groups large enough)._",
                        data=pd.DataFrame())
    record("moderator_interactions", m[m["source"] == "interaction"][["measure", "factor", "F", "df1", "df2", "p"]]
           .to_dict(orient="records"))
    if "p_holm_family" not in m.columns:  # a results table written before the family correction
        from ..stats.moderators import interaction_holm  # only here: evalkit.stats imports scipy.stats

        m = m.assign(p_holm_family=interaction_holm(m))
    labels = _section(data, "children").labels
    tests = int(((m["source"] == "interaction") & m["p"].notna()).sum())
    # one row per measure and factor: the interaction test, or the note saying why there is none
    rows = m[(m["source"] == "interaction") | m["F"].isna()].drop_duplicates(["measure", "factor", "source"])
    adjusted = f"p (Holm, {tests} tests)"
    summary = pd.DataFrame({
        "Measure": rows["measure"].map(lambda x: labels.get(x, x)).to_numpy(),
        "Factor": rows["factor"].map(_factor_name).to_numpy(),
        "n": rows["n"].to_numpy(),
        "p": rows["p"].map(_p).to_numpy(),
        adjusted: rows["p_holm_family"].map(_p).to_numpy(),
        "note": rows["note"].fillna("").to_numpy(),
    })
    summary = _noted(disclose(summary, data, counts=["n"]))
    technical = _factor_tests(rows, labels, groups=True)
    technical.insert(technical.columns.get_loc("p") + 1, adjusted, rows["p_holm_family"].map(_p).to_numpy())
    lead = (f"Exploratory: these {tests} tests (each measure by each factor) look for groups whose change "
            f"differed; the evaluation was not designed to test them, so a difference here is a question for "
            f"further work rather than a finding. With {tests} tests some small p values are expected by "
            f"chance, so each p is shown beside its Holm (1979) adjustment across all {tests} moderator tests.")
    return Table(summary, caption="Does the change differ by group? Time × factor interaction, mixed ANOVA "
                                  "(exploratory)",
                 lead=lead,
                 notes=_with_small_note([
                     "p: the interaction test unadjusted; " + adjusted + ": Holm-adjusted across every "
                     "moderator test in this table (results/moderators.csv, column p_holm_family). A small p "
                     "means the pre→post change differs between the groups.",
                     f"Groups with fewer than {data.min_group_n} matched people are left out (a Note says where)."],
                     summary, data),
                 technical=Table(disclose(technical, data, counts=["n"]),
                                 caption="F, degrees of freedom and partial eta squared of each interaction",
                                 notes=["Mixed ANOVA on the matched pairs, time (within) × factor (between), "
                                        "type III sums of squares (as JASP, jamovi and SPSS; checked against "
                                        "pingouin.mixed_anova in the tests). Main effects of time and of the "
                                        "factor are in results/moderators.csv."]))


def ancova_table(data):
    """ANCOVA of post scores adjusting for pre scores (post ~ pre + factor): the factor's test per measure.

    The summary shows n and p per measure and factor; F, df and partial eta squared are in
    ``.technical``, shown collapsed.
    """
    a = data.results.get("ancova")
    if a is None or a.empty:
        return Markdown("_No ANCOVA was possible._", data=pd.DataFrame())
    labels = _section(data, "children").labels
    rows = a[(a["source"] == a["factor"]) | a["F"].isna()].drop_duplicates(["measure", "factor"])
    summary = pd.DataFrame({
        "Measure": rows["measure"].map(lambda x: labels.get(x, x)).to_numpy(),
        "Factor": rows["factor"].map(_factor_name).to_numpy(),
        "n": rows["n"].to_numpy(),
        "p": rows["p"].map(_p).to_numpy(),
        "note": rows["note"].fillna("").to_numpy(),
    })
    summary = _noted(disclose(summary, data, counts=["n"]))
    return Table(summary,
                 caption="ANCOVA: do post scores differ by group once pre scores are taken into account?",
                 notes=_with_small_note([
                     "post ~ pre + factor. Exploratory, like the moderator tests: p is not adjusted for the "
                     "number of tests. Recommended for pre/post designs because it adjusts for baseline "
                     "differences (Van Breukelen, 2006)."], summary, data),
                 technical=Table(disclose(_factor_tests(rows, labels), data, counts=["n"]),
                                 caption="F, degrees of freedom and partial eta squared of each factor",
                                 notes=["Type II sums of squares (equal to type III here: no interaction "
                                        "term). The covariate rows are in results/ancova.csv."]))


def interaction_figures(data, section="children"):
    """How the change differs by group: mean change per group for every factor, then the classic
    pre/post interaction plots of the measure × factor pairs whose interaction test reached p < alpha.

    Returns
    -------
    Figures
        The overview figure (one panel per factor), then the interaction plots (or a note that
        no interaction reached p < alpha).
    """
    import matplotlib.pyplot as plt

    from .plots import interaction_plot, legend_inches

    _theme()
    sec = _section(data, section)
    shown = Figures()
    if not sec.factors:
        return Markdown("_No group factors (delivery, age, referral reason, site) in this cohort._")
    shown.append(_drawn("interaction_overview", data, section, lambda: _interaction_overview(data, section)))

    alpha = data.config.analysis["alpha"]
    m = data.results.get("moderators")
    pairs = [] if m is None else [
        (r.measure, r.factor) for r in m[(m["source"] == "interaction") & (m["p"] < alpha)].itertuples()]
    if not pairs:
        shown.append(Markdown(f"_No time × group interaction reached p < {alpha:g}, so no pre/post plots by "
                              f"group are shown._"))
        return shown
    cols = min(3, len(pairs))
    rows = int(np.ceil(len(pairs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.1 * rows), squeeze=False)
    for k, (ax, (measure, factor)) in enumerate(zip(axes.flat, pairs)):
        interaction_plot(sec.scores, measure=measure, factor=factor, min_group_n=data.min_group_n,
                         label=sec.labels.get(measure, measure), ax=ax, min_cell=data.min_cell)
        note = ax.get_title().split("\n", 1)[1:] if "\n" in ax.get_title() else []
        ax.set_title("\n".join([f"{sec.labels.get(measure, measure)} by {factor.replace('_', ' ')}"] + note),
                     fontsize=10)
        ax.set_ylabel("Mean (95% CI)" if k % cols == 0 else "")
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    fig.set_figheight(sum(3.3 + max(legend_inches(ax) for ax in row) for row in axes))
    fig.suptitle(f"Pre and post means by group where the interaction reached p < {alpha:g}", fontsize=12)
    fig.tight_layout()
    named = "; ".join(f"{sec.labels.get(m, m)} by {f.replace('_', ' ')}" for m, f in pairs)
    shown.append(_figure(fig, alt=f"Pre and post means with 95% confidence intervals, one coloured line per "
                                  f"group, for the {len(pairs)} measure and factor pairs whose time × group "
                                  f"interaction reached p < {alpha:g}: {named}."))
    return shown


def _interaction_overview(data, section):
    """The first figure of :func:`interaction_figures`: mean change by group, one panel per factor.

    It needs the cleaned scores only (no results), so it can be drawn ahead (:func:`load`).
    """
    import matplotlib.pyplot as plt

    from .plots import change_by_group_plot, legend_inches

    _theme()
    sec = _section(data, section)
    if not sec.factors:
        return None
    cols = min(2, len(sec.factors))
    rows = int(np.ceil(len(sec.factors) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, (0.5 * len(sec.measures) + 2.6) * rows),
                             squeeze=False, sharey=True)  # height set below
    for ax, factor in zip(axes.flat, sec.factors):
        change_by_group_plot(sec.scores, measures=sec.measures, factor=factor, labels=sec.labels,
                             min_group_n=data.min_group_n, ax=ax, min_cell=data.min_cell)
    for ax in list(axes.flat)[len(sec.factors):]:
        ax.set_visible(False)
    # each row of panels is as tall as its measures, its labels and the tallest key below it
    fig.set_figheight(sum(0.5 * len(sec.measures) + 1.9 + max(legend_inches(ax) for ax in row) for row in axes))
    fig.suptitle("Mean change by group (post − pre, 95% CI)", fontsize=12)
    fig.tight_layout()
    factors = [f.replace("_", " ") for f in sec.factors]
    by = factors[0] if len(factors) == 1 else ", ".join(factors[:-1]) + " and " + factors[-1]
    return _figure(fig, alt=f"Mean change (post − pre) with its 95% confidence interval for each of "
                            f"{len(sec.measures)} measures by {by}: one panel per factor, one colour "
                            f"per group, named in the key below each panel.")


def _reliable_change(data, section):
    """The section's reliable-change table, or None when there is none."""
    rc = data.results.get("reliable_change" if section == "children" else "facilitator_reliable_change")
    return None if rc is None or rc.empty else rc


def _reliable_change_shown(data, rc):
    """Reliable change counts as shown: small counts hidden, and one more wherever n and the other two
    counts would give a hidden one away (n = improved + no change + deteriorated)."""
    from .privacy import complementary_suppression

    counts = ["n", "improved", "no_change", "deteriorated"]
    # as floats: a nullable count column's NA (no reliability, too few people) becomes NaN, shown blank
    whole = rc[counts].apply(lambda c: pd.to_numeric(c, errors="coerce").astype(float))
    out = complementary_suppression(rc.assign(**{c: whole[c] for c in counts}),
                                    relations=[("n", counts[1:])], keep=["n"], min_cell=data.min_cell)
    for c in counts:  # whole numbers shown as such, missing as blank
        out[c] = pd.Series([int(v) if isinstance(v, float) and v == v else v for v in out[c]],
                           index=out.index, dtype=object)
    return out


def reliable_change_table(data, section="children"):
    """Reliable change (Jacobson & Truax, 1991): people reliably improved, unchanged or deteriorated.

    The summary shows the counts (with their share of n); the reliability used, its source and the
    threshold are in ``.technical``, shown collapsed. Both carry the same complementary suppression.
    """
    from .privacy import is_hidden

    rc = _reliable_change(data, section)
    if rc is None:
        return Markdown("_Reliable change could not be computed._", data=pd.DataFrame())
    counts = _reliable_change_shown(data, rc)
    record(f"{section}_reliable_change", counts[["measure", "n", "improved", "no_change", "deteriorated"]]
           .to_dict(orient="records"))
    labels = _section(data, section).labels

    def share(count, n):  # a hidden count keeps its marker; a percentage only beside a shown count
        if is_hidden(count):
            return count
        if pd.isna(count) or is_hidden(n) or pd.isna(n) or not n:
            return ""
        return f"{int(count)} ({100 * count / n:.0f}%)"

    rc = counts
    summary = pd.DataFrame({
        "Measure": rc["measure"].map(lambda m: labels.get(m, m)),
        "n": rc["n"],
        "Reliably improved": [share(c, n) for c, n in zip(rc["improved"], rc["n"])],
        "No reliable change": [share(c, n) for c, n in zip(rc["no_change"], rc["n"])],
        "Reliably deteriorated": [share(c, n) for c, n in zip(rc["deteriorated"], rc["n"])],
    })
    technical = summary.copy()
    technical.insert(2, "r used (source)", [f"{_fmt(r)} ({src})" if np.isfinite(r) else "" for r, src in
                                            zip(rc["r_used"], rc["r_source"].fillna(""))])
    technical.insert(3, "RCI threshold", rc["rci_threshold"].map(_fmt))
    technical["note"] = rc["note"].fillna("").to_numpy() if "note" in rc else ""
    technical = _noted(technical)
    return Table(summary, caption="Reliable change per person (Jacobson & Truax, 1991)",
                 notes=["Reliable change: a change larger than the questionnaire's measurement error would "
                        "explain (|RCI| ≥ 1.959964).", _small_note(data)],
                 technical=Table(technical, caption="reliability used and threshold",
                                 notes=["RCI = (post − pre) / sqrt(2 · (SD_pre · sqrt(1 − r))²); |RCI| ≥ 1.959964 "
                                        "(the 97.5th normal percentile) is reliable change. r is the baseline "
                                        "Cronbach's alpha of this cohort unless the instrument or config gives "
                                        "one.", _small_note(data)]))


def reliable_change_figure(data, section="children"):
    """Stacked bars of reliably deteriorated / unchanged / improved people per measure."""
    _theme()
    import matplotlib.pyplot as plt

    from .plots import reliable_change_plot

    rc = _reliable_change(data, section)
    if rc is None:
        return Markdown("_Reliable change could not be computed._")
    labels = _section(data, section).labels
    shown = _reliable_change_shown(data, rc.assign(measure=rc["measure"].map(lambda m: labels.get(m, m))))
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(shown) + 2.0))
    unit = "children" if section == "children" else "facilitators"
    reliable_change_plot(shown, ax=ax, unit=unit)
    fig.tight_layout()
    hidden = sum(t.get_gid() == "not_drawn" for t in ax.texts)
    alt = (f"Percentage of {unit} who reliably deteriorated (orange-red), showed no reliable change (light grey) or "
           f"reliably improved (green), as one bar for each of {len(shown)} measures"
           + (f"; {hidden} of them not drawn, to keep small counts hidden." if hidden else "."))
    return _figure(fig, alt=alt)


def reliability_table(data, section="children"):
    """Cronbach's alpha (95% CI) and McDonald's omega per measure and timepoint.

    The summary shows alpha before and after per measure; n, the CIs and omega are in ``.technical``,
    shown collapsed.
    """
    rel = data.results.get("reliability")
    if rel is None or rel.empty:
        return Markdown("_Reliability could not be computed._", data=pd.DataFrame())
    sec = _section(data, section)
    rel = rel[rel["instrument"] == sec.instrument.id]
    label = rel["measure"].map(lambda m: sec.labels.get(m, m))
    when = rel["timepoint"].map({"pre": "Before", "post": "After"}).fillna(rel["timepoint"])
    measures = list(dict.fromkeys(rel["measure"]))
    alpha = {(m, t): a for m, t, a in zip(rel["measure"], rel["timepoint"], rel["alpha"])}
    items = dict(zip(rel["measure"], rel["n_items"]))
    summary = pd.DataFrame({
        "Measure": [sec.labels.get(m, m) for m in measures],
        "Items": [items[m] for m in measures],
        "Cronbach's alpha before": [_fmt(alpha.get((m, "pre"), np.nan)) for m in measures],
        "Cronbach's alpha after": [_fmt(alpha.get((m, "post"), np.nan)) for m in measures],
    })
    technical = pd.DataFrame({
        "Measure": label.to_numpy(), "Timepoint": when.to_numpy(), "Items": rel["n_items"].to_numpy(),
        "n": rel["n"].to_numpy(),
        "Cronbach's alpha [95% CI]": [f"{_fmt(a)} [{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(a) else "" for a, lo, hi
                                      in zip(rel["alpha"], rel["alpha_ci_low"], rel["alpha_ci_high"])],
        "McDonald's omega": rel["omega"].map(_fmt).to_numpy(),
        "note": rel["note"].fillna("").to_numpy() if "note" in rel else "",
    })
    technical = _noted(disclose(technical, data, counts=["n"]))
    return Table(summary, caption="Internal consistency",
                 notes=["Cronbach's alpha: how consistently the items of a measure are answered (0 to 1), on "
                        "complete cases."],
                 technical=Table(technical, caption="n, 95% confidence intervals and omega",
                                 notes=_with_small_note([
                                     "Cronbach's alpha on complete cases with its 95% CI (Feldt), as "
                                     "pingouin.cronbach_alpha. McDonald's omega: omega total from a one-factor "
                                     "model (blank where not estimable)."], technical, data)))


def attrition_table(data):
    """People with a baseline but no follow-up compared with completers.

    The summary shows, per baseline score and group factor, the two counts, the effect size and p; the
    means, SDs, test statistics and tests are in ``.technical``, shown collapsed.
    """
    from .findings import format_number

    a = data.results.get("attrition")
    if a is None or a.empty:
        return Markdown("_No attrition analysis: everyone with a baseline has a follow-up._", data=pd.DataFrame())
    labels = _section(data, "children").labels
    a = disclose(a, data, counts=["completers_n", "dropouts_n"])
    # the counts as shown, under the names the disclosure check knows as counts (the page's headers are words)
    record("attrition", a[["kind", "variable", "completers_n", "dropouts_n"]].to_dict(orient="records"))
    scores = a["kind"] == "baseline score"
    compared = [labels.get(v, v) if s else _factor_name(v) for v, s in zip(a["variable"], scores)]
    kind = np.where(scores, "Baseline score", "Group mix")
    effect = [f"{lab.replace('Cramer', 'Cramér')} {format_number(e)}" if np.isfinite(e) else ""
              for lab, e in zip(a["effect_label"].fillna(""), a["effect"].astype(float))]
    summary = pd.DataFrame({
        "Compared": compared, "Kind": kind,
        "completers_n": a["completers_n"].to_numpy(), "dropouts_n": a["dropouts_n"].to_numpy(),
        "Difference": effect, "p": a["p"].map(_p).to_numpy(),
    })
    statistic = [f"{lab} = {_fmt(s)} (df {_fmt(df, 0 if float(df).is_integer() else 1)})" if np.isfinite(s) else ""
                 for lab, s, df in zip(a["statistic_label"].fillna(""), a["statistic"].astype(float),
                                       a["df"].astype(float))]
    technical = pd.DataFrame({
        "Compared": compared, "Kind": kind,
        "completers_n": a["completers_n"].to_numpy(), "dropouts_n": a["dropouts_n"].to_numpy(),
        "completers_mean": a["completers_mean"].map(_fmt).to_numpy(), "completers_sd": a["completers_sd"].map(_fmt)
        .to_numpy(),
        "dropouts_mean": a["dropouts_mean"].map(_fmt).to_numpy(), "dropouts_sd": a["dropouts_sd"].map(_fmt).to_numpy(),
        "Test statistic": statistic, "p": a["p"].map(_p).to_numpy(), "Difference": effect,
        "Test": a["test"].fillna("").to_numpy(), "note": a["note"].fillna("").to_numpy(),
    })
    return Table(_labelled(summary), caption="Attrition: did the people who left differ at baseline?",
                 notes=["Difference: Hedges' g for a baseline score (completers minus those who left), Cramér's V "
                        "(or an odds ratio, Fisher's exact test) for the group mix.", _small_note(data)],
                 technical=Table(_labelled(_noted(technical)), caption="means, SDs and tests",
                                 notes=["Baseline scores compared with Welch's t-test (effect: Hedges' g); groups "
                                        "compared with a chi-square test (effect: Cramér's V).",
                                        _small_note(data)]))


def item_figure(data, section="facilitators"):
    """Diverging stacked bars of item responses before and after (facilitators)."""
    _theme()
    import matplotlib.pyplot as plt

    from .plots import ITEM_ROW_INCHES, diverging_bar_plot, diverging_rows

    dist = data.results.get("facilitator_items")
    if dist is None or dist.empty:
        return Markdown("_No item responses to show._")
    sec = _section(data, section)
    texts = sec.instrument.item_texts
    # the height follows the wrapped question texts; the x label and the key take about 1.7 in
    fig, ax = plt.subplots(figsize=(10, ITEM_ROW_INCHES * diverging_rows(dist, item_labels=texts) + 1.9))
    diverging_bar_plot(dist, ax=ax, item_labels=texts, scale=(sec.instrument.min, sec.instrument.max),
                       min_cell=data.min_cell)
    fig.tight_layout()
    answers = [c.get_label() for c in ax.containers]
    alt = (f"Answers to each of the {dist['item'].nunique()} questions before and after, as bars from "
           f"“{answers[0]}” in brown on the left to “{answers[-1]}” in teal on the right of a line at zero, "
           f"the neutral answer split across it.")
    return _figure(fig, alt=alt)


class Html:
    """A piece of report page made here (escaped by the maker), shown as HTML; ``.data`` holds its content."""

    def __init__(self, html_text, text="", data=None):
        self.html = html_text
        self.text = text
        self.data = data

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return self.text


def title(data, heading):
    """The page's heading with the cohort's name, then the warnings a reader must see first.

    The page opens with:

    * a banner (``class="instrument-warning"``) for each instrument whose scoring key is a
      placeholder or which is an example instrument (:attr:`evalkit.data.cohort.Instrument.warning`),
      naming it and saying how to replace it;
    * each of the cohort's data warnings (``Cohort.warnings``: a measure where cleaning set more than
      5% of the answers missing, with the share and the cause), so nothing is lost silently.
    """
    from .render import instrument_warning_html
    from .summary import instrument_warnings

    name = " ".join(str(data.config.name).split())
    cohort = getattr(data, "cohort", None)
    banners = instrument_warnings(data) if cohort is not None and hasattr(cohort, "sections") else []
    warnings = list(getattr(cohort, "warnings", ()) or ())
    parts = [f"<h1>{html.escape(heading)}: {html.escape(name)}</h1>", instrument_warning_html(banners)]
    if warnings:
        parts.append('<div class="data-warning" role="note">' + "".join(
            f"<p><strong>Warning:</strong> {html.escape(' '.join(str(w).split()))}</p>" for w in warnings) + "</div>")
    text = "\n".join([f"{heading}: {name}"] + [f"Check: {w}" for w in banners] + [f"Warning: {w}" for w in warnings])
    return Html("\n".join(p for p in parts if p), text,
                data=pd.DataFrame({"kind": ["instrument"] * len(banners) + ["data"] * len(warnings),
                                   "warning": banners + warnings}))


def main_points(data, section="children"):
    """The page's main points, first thing after the title: ``<section id="main-points">``.

    Plain-English bullets, primary measures first and secondary ones marked, each with the
    direction, the size in words (Cohen's convention, named in a footnote), the effect size and n
    (:func:`evalkit.report.summary.main_points`). ``.data`` is the table of sentences.
    """
    from .summary import SIZE_CONVENTION
    from .summary import main_points as points

    table = points(data, section)
    record(f"{section}_main_points", table["sentence"].tolist())
    if table.empty:
        body = "<p>No results could be computed for this section.</p>"
    else:
        body = "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in table["sentence"]) + "</ul>" + \
            f'<p class="note">{html.escape(SIZE_CONVENTION)}</p>'
    return Html(f'<section id="main-points">\n<h2>Main points</h2>\n{body}\n</section>',
                "\n".join(f"- {s}" for s in table["sentence"]), data=table)


def setup(figures=True):
    """Notebook set-up: figure format, plot theme and quiet warnings for shareable output.

    Parameters
    ----------
    figures : bool
        Load the plotting stack (seaborn, the evalkit theme) now. Under
        ``evalkit report`` this runs while the main process is still analysing,
        so the figures later in the notebook start at once; a notebook without
        figures passes False and never imports seaborn.
    """
    import warnings

    warnings.filterwarnings("ignore")
    try:  # MPLBACKEND=Agg (as in `make test`) would otherwise reach the kernel and hide every figure
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:  # pragma: no cover - outside IPython
        pass
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - outside IPython
        pass
    if figures:
        _theme()
    pd.set_option("display.max_columns", 50)


# ---------------------------------------------------------------------------- issue 12: evidence that survives scrutiny
#
# Each section below shows a results table of the analysis (intention_to_treat, clustering, comparison,
# the follow-up rows of the outcomes tables, dose) when the data allow it, and otherwise one sentence
# saying why it is absent and what to configure. Figures are computed here and drawn in plots.py.

#: The clusters a cohort can record, as a reader names them.
_LEVEL_WORDS = {"group": "delivery group", "facilitator": "facilitator", "site": "site"}
#: The contrasts of the outcomes tables, as the report names them.
_CONTRAST_WORDS = {"post-pre": "End − start", "follow_up-pre": "Follow-up − start",
                   "follow_up-post": "Follow-up − end"}
#: The follow-up contrasts: the rows "Did the change last?" shows.
FOLLOW_UP_CONTRASTS = ("follow_up-pre", "follow_up-post")


def _primary_rows(rows, data):
    """:func:`_primary_first`, with no role column where none of the rows' measures is declared primary (the
    facilitators' measures when analysis.primary names the children's)."""
    primary = set(data.config.analysis.get("primary") or [])
    if not primary & set(rows["measure"]):
        return rows, None
    return _primary_first(rows, data)


def _unit(section):
    return "children" if section == "children" else "facilitators"


def _possessive(unit):
    """"children" -> "children's", "facilitators" -> "facilitators'"."""
    return unit + ("'" if unit.endswith("s") else "'s")


def _rows(data, key, section):
    """The section's rows of results table ``key``, or None when the analysis wrote no such table."""
    table = data.results.get(key)
    if not isinstance(table, pd.DataFrame):
        return None
    if "section" in table.columns:
        table = table[table["section"] == section]
    return table.reset_index(drop=True)


def _roles(data, section):
    """The section's configured column roles (``id``, ``group``, ``facilitator``, ``sessions``, ``arm``, ...)."""
    sec = data.config.sections.get(section)
    return dict(getattr(sec, "columns", {}) or {})


def _absent(text):
    """What a section shows when the data do not allow it: one sentence on why, and what to configure."""
    return Markdown(f"_{text}_", data=pd.DataFrame())


def _no_figure():
    """A figure the data do not allow: nothing (the table above it has said why)."""
    return Markdown("", data=pd.DataFrame())


class CaptionedFigure(FigureImage):
    """A figure shown under its caption, for a section that may have no figure at all: the caption comes
    with the figure (not from a markdown cell of the notebook), so a cohort whose data do not allow the
    figure shows neither.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    caption : str
        What is drawn, colour by colour (Markdown; evalkit's own words, no data values).
    alt : str
        The image's text alternative.
    data : pandas.DataFrame, optional
        The table drawn (``.data``).
    """

    def __init__(self, fig, *, caption, alt, data=None):
        super().__init__(fig, alt=alt)
        self.caption = caption
        self.data = data

    def _ipython_display_(self):
        from IPython.display import display

        display(Markdown(self.caption))
        display(_Png(self.png, self.alt))


class _Png:
    """A finished PNG with its alt text, as IPython shows it (the image half of :class:`CaptionedFigure`)."""

    def __init__(self, png, alt):
        self.png, self.alt = png, alt

    def _repr_png_(self):
        return self.png, {"alt": self.alt}

    def __repr__(self):  # the notebook's text/plain: the same in every run (no memory address)
        return "<figure>"


def _captioned(fig, *, caption, alt, data=None):
    """Close ``fig`` and wrap it with its caption (:class:`CaptionedFigure`)."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return CaptionedFigure(fig, caption=caption, alt=alt, data=data)


def _waves(data, section):
    """Every questionnaire of the section's programme people (not the comparison arm): start, end and
    follow-up. ``SectionData.waves`` where the cleaning wrote it, else the start and end scores."""
    sec = _section(data, section)
    waves = getattr(sec, "waves", None)
    waves = sec.scores if waves is None else waves
    if "arm" in waves.columns:
        waves = waves[waves["arm"].astype("string").fillna("intervention") != "comparison"]
    return waves


def _interval(value, low, high, *, sign=True):
    """``+0.21 [0.13, 0.29]``, or blank when the value is missing."""
    from .findings import format_number

    if value is None or not np.isfinite(value):
        return ""
    text = format_number(value, sign=sign)
    if np.isfinite(low) and np.isfinite(high):
        text += f" [{format_number(low)}, {format_number(high)}]"
    return text


def _floats(frame, column):
    """A column as floats (NaN where missing or absent)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _count_text(n, min_cell):
    """A count as a table shows it: the number, or ``"<min_cell"`` from 1 to ``min_cell - 1``."""
    if n is None or not np.isfinite(n):
        return ""
    n = int(n)
    return f"<{min_cell}" if 0 < n < min_cell else n


def _small_difference(a, b, min_cell):
    """True when two shown counts would give away a count of 1 to ``min_cell - 1`` (their difference)."""
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return False
    return 0 < abs(int(a) - int(b)) < min_cell


def _matched_n(data, section, contrast="post-pre"):
    """Measure -> n of the outcomes table's rows of one contrast (what the other tables already show)."""
    table = data.results.get("child_outcomes" if section == "children" else "facilitator_outcomes")
    if not isinstance(table, pd.DataFrame) or table.empty:
        return {}
    if "contrast" in table.columns:
        table = table[table["contrast"].fillna("post-pre") == contrast]
    elif contrast != "post-pre":
        return {}
    return dict(zip(table["measure"], pd.to_numeric(table["n"], errors="coerce")))


def _list_words(names):
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# --- everyone who started

def intention_to_treat_table(data, section="children"):
    """Everyone who started: the change from the start estimated on every questionnaire of every person
    with a start questionnaire (a linear mixed model), beside the completers-only change.

    The summary gives, per measure and later wave, the people who started, both estimates and their
    difference, under one plain sentence on how far counting everyone moves the estimates. The model's
    estimate, standard error, Wald interval and p, the questionnaires and groups it used and the model in
    words are in ``.technical``, shown collapsed.

    Returns
    -------
    Table or Markdown
        Markdown (one sentence on why) when the analysis has no intention-to-treat rows.
    """
    from .findings import format_number, size_words

    unit = _unit(section)
    rows = _rows(data, "intention_to_treat", section)
    if rows is None:
        return _absent(f"The change counting every one of the {unit} who started was not estimated for this "
                       f"report (it has no intention-to-treat results); run evalkit report again to add it.")
    estimated = rows[np.isfinite(_floats(rows, "estimate"))] if not rows.empty else rows
    if estimated.empty:
        notes = sorted({str(n) for n in rows.get("note", pd.Series(dtype=object)).dropna() if str(n).strip()})
        return _absent(f"The change counting every one of the {unit} who started could not be estimated"
                       + (f" ({'; '.join(notes)})." if notes else "."))
    sec = _section(data, section)
    rows, role = _primary_rows(rows, data)
    label = rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy()
    compared = rows["contrast"].map(lambda c: _CONTRAST_WORDS.get(c, c)).to_numpy()
    estimate, cc, diff = (_floats(rows, c) for c in ("estimate", "complete_case_estimate", "difference"))
    started, used = _floats(rows, "n_people"), _floats(rows, "n_observations")
    matched = _matched_n(data, section)
    followed = _matched_n(data, section, "follow_up-pre")
    hide = np.array([_small_difference(s, matched.get(m), data.min_cell)
                     or _small_difference(u - s - matched.get(m, np.nan), 0, data.min_cell)
                     or (np.isfinite(followed.get(m, np.nan)) and _small_difference(
                         u - s - matched.get(m, np.nan), followed.get(m), data.min_cell))
                     for m, s, u in zip(rows["measure"], started, used)], dtype=bool)

    def counts(values, hidden):
        return pd.Series([HIDDEN_MARK if h and np.isfinite(v) and v >= data.min_cell else _count_text(v, data.min_cell)
                          for v, h in zip(values, hidden)], dtype=object).to_numpy()

    summary = pd.DataFrame({
        "Measure": label, "Compared": compared, "Started (n)": counts(started, hide),
        "Everyone who started: change [95% CI]": [_interval(e, lo, hi) for e, lo, hi in
                                                  zip(estimate, _floats(rows, "ci_low"), _floats(rows, "ci_high"))],
        "Completers only: change": [format_number(v, sign=True) if np.isfinite(v) else "" for v in cc],
        "Difference": [format_number(v, sign=True) if np.isfinite(v) else "" for v in diff],
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    groups = _floats(rows, "n_groups")
    technical = pd.DataFrame({
        "Measure": label, "Compared": compared,
        "Estimate (SE)": [f"{_fmt(e)} ({_fmt(s)})" if np.isfinite(e) else "" for e, s in
                          zip(estimate, _floats(rows, "se"))],
        "95% CI (Wald z)": [f"[{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(lo) else "" for lo, hi in
                            zip(_floats(rows, "ci_low"), _floats(rows, "ci_high"))],
        "p (Wald z)": [_p(v) for v in _floats(rows, "p")],
        "Started (n)": counts(started, hide), "Questionnaires used": counts(used, hide),
        "Groups (groups of one included)": [int(g) if np.isfinite(g) else "" for g in groups],
        "Completers only: change": [format_number(v) if np.isfinite(v) else "" for v in cc],
        "Difference": [format_number(v) if np.isfinite(v) else "" for v in diff],
        "Model": rows["method"].fillna("").astype(str).to_numpy() if "method" in rows else "",
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    technical = _noted(technical)
    methods = sorted({m for m in technical["Model"] if m.strip()})
    if len(methods) <= 1:  # one model for every row: said once, under the table
        technical = technical.drop(columns="Model")
    if not np.isfinite(groups).any():
        technical = technical.drop(columns="Groups (groups of one included)")
    # the plain sentence: how far counting everyone moves the end-of-programme estimates
    end = (rows["contrast"] == "post-pre").to_numpy() & np.isfinite(diff)
    lead = ""
    if end.any():
        k = int(np.flatnonzero(end)[np.argmax(np.abs(diff[end]))])
        spread = {r["measure"]: r.get("sd_diff", np.nan) for _, r in _outcomes(data, section).iterrows()}
        sd = float(spread.get(rows["measure"].iloc[k], np.nan))
        size = (f", {size_words(diff[k] / sd)} by Cohen's convention ({format_number(abs(diff[k]) / sd)} standard "
                f"deviations of the changes)") if np.isfinite(sd) and sd > 0 else ""
        same = bool(np.all(np.sign(estimate[end]) == np.sign(cc[end])))
        lead = (f"Counting every one of the {unit} who answered the first questionnaire, including those with no "
                f"questionnaire at the end, moves the estimated change by at most "
                f"{format_number(abs(diff[k]))} points ({label[k]}){size}; "
                + ("every estimate points the same way as the completers-only one." if same else
                   "on some measures the two estimates point different ways, so the completers-only results "
                   "should be read with care."))
    return Table(summary, caption=f"Everyone who started: change counting every one of the {unit} with a first "
                                  f"questionnaire, beside the completers-only change",
                 lead=lead,
                 notes=_with_small_note([
                     "Everyone who started: a linear mixed model of every questionnaire of every person with a "
                     "first one (score ~ timepoint, a random intercept for each person"
                     + (", nested in their delivery group" if np.isfinite(groups).any() else "")
                     + "), fitted by REML. People with no later questionnaire still count through their first "
                     "one, assuming their missing scores are missing at random given their answered ones.",
                     "Completers only: the mean change of the people with both questionnaires (the change per "
                     "measure table above). Difference: everyone who started minus completers only.",
                     *([_PRIMARY_NOTE] if role is not None else [])], summary, data),
                 technical=Table(technical, caption="the mixed model's estimate, standard error, Wald interval "
                                                    "and p",
                                 notes=_with_small_note([
                                     *([f"Model: {methods[0]}."] if len(methods) == 1 else []),
                                     "score ~ timepoint + (1 | group/person) as R's lme4::lmer(REML = TRUE) "
                                     "(without groups: (1 | person)); a person without a group is a group of "
                                     "one. SE from the model; the 95% CI and p are Wald z, as statsmodels gives "
                                     "them. A count is hidden ('*') where it and the completers' n would give "
                                     "away how many fewer than "
                                     f"{data.min_cell} people left."], technical, data)))


#: Shown instead of a count hidden so that a small one cannot be worked out.
HIDDEN_MARK = "*"


# --- children in groups

def _clustering_rows(data, section):
    """(rows with an estimate, reason when there are none)."""
    unit = _unit(section)
    roles = _roles(data, section)
    rows = _rows(data, "clustering", section)
    configured = [r for r in ("group", "facilitator") if r in roles]
    how = (f"add `columns: {{group: ..., facilitator: ...}}` to the {section} section of the cohort config "
           f"(the columns naming each one's delivery group and facilitator)")
    if rows is None or rows.empty:
        if not configured:
            return None, (f"No delivery groups or facilitators were recorded for the {unit}, so whether their "
                          f"outcomes cluster could not be checked; {how}.")
        return None, (f"Whether the {_possessive(unit)} outcomes cluster by {_list_words(_LEVEL_WORDS[r] for r in configured)} "
                      f"could not be checked for this report (it has no clustering results).")
    usable = rows[np.isfinite(_floats(rows, "robust_ci_low"))]
    if usable.empty:
        notes = sorted({str(n) for n in rows.get("note", pd.Series(dtype=object)).dropna() if str(n).strip()})
        return None, (f"Whether the {_possessive(unit)} outcomes cluster could not be estimated"
                      + (f" ({'; '.join(notes)})" if notes else "")
                      + ("" if configured else f"; {how}") + ".")
    return usable.reset_index(drop=True), ""


def clustering_table(data, section="children"):
    """Children in groups: how alike the change of people in one delivery group (or with one facilitator,
    or at one site) is, and how much wider the change's confidence interval is once that is allowed for.

    The summary shows, per measure and level, the clusters, the intraclass correlation (ICC(1)), the design
    effect and the two intervals (treating everyone as independent; cluster-robust CR1 with t on clusters
    − 1 df), under a sentence saying whether the usual interval was too narrow, and by how much. n,
    cluster sizes, effective n and notes are in ``.technical``.
    """
    from .findings import format_number

    unit = _unit(section)
    rows, reason = _clustering_rows(data, section)
    if rows is None:
        return _absent(reason)
    sec = _section(data, section)
    rows, role = _primary_rows(rows, data)
    label = rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy()
    level = rows["level"].map(lambda v: _LEVEL_WORDS.get(v, str(v)).capitalize()).to_numpy()
    mean = _floats(rows, "mean_change")
    naive_lo, naive_hi = _floats(rows, "naive_ci_low"), _floats(rows, "naive_ci_high")
    mean = np.where(np.isfinite(mean), mean, (naive_lo + naive_hi) / 2)
    robust_lo, robust_hi = _floats(rows, "robust_ci_low"), _floats(rows, "robust_ci_high")
    ratio = _floats(rows, "width_ratio")
    ratio = np.where(np.isfinite(ratio), ratio, (robust_hi - robust_lo) / (naive_hi - naive_lo))
    icc, deff = _floats(rows, "icc"), _floats(rows, "design_effect")
    clusters = _floats(rows, "n_clusters")

    def narrow(r):
        if not np.isfinite(r):
            return ""
        return f"yes: {format_number(r)} times as wide" if r > 1 else f"no ({format_number(r)} times as wide)"

    summary = pd.DataFrame({
        "Measure": label, "Clustered by": level,
        "Clusters": [int(k) if np.isfinite(k) else "" for k in clusters],
        "ICC": [_fmt(v) for v in icc], "Design effect": [_fmt(v) for v in deff],
        "Change, each one independent [95% CI]": [_interval(m, lo, hi) for m, lo, hi in zip(mean, naive_lo, naive_hi)],
        "Change, allowing for clusters [95% CI]": [_interval(m, lo, hi) for m, lo, hi in
                                                    zip(mean, robust_lo, robust_hi)],
        "Usual interval too narrow?": [narrow(r) for r in ratio],
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    n = _floats(rows, "n")
    technical = pd.DataFrame({
        "Measure": label, "Clustered by": level,
        "n": [_count_text(v, data.min_cell) for v in n],
        "Clusters": summary["Clusters"].to_numpy(),
        "Mean cluster size": [_fmt(v, 1) for v in _floats(rows, "mean_cluster_size")],
        "ICC(1)": summary["ICC"].to_numpy(), "Design effect": summary["Design effect"].to_numpy(),
        "Effective n": [_fmt(v, 0) for v in _floats(rows, "effective_n")],
        "Paired t interval": [f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(naive_lo, naive_hi)],
        "CR1 interval, t(clusters − 1)": [f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(robust_lo, robust_hi)],
        "Width ratio (CR1 / paired t)": [_fmt(v) for v in ratio],
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    technical = _noted(technical)
    return Table(summary, caption=f"{unit.capitalize()} in groups: how alike the change is within a cluster, "
                                  f"and the interval that allows for it",
                 lead=_clustering_sentence(rows, label, icc, deff, ratio, n, unit, data.min_cell)
                 + ("" if {"group", "facilitator"} & set(rows["level"]) else
                    f" No delivery groups or facilitators were recorded, so only the clustering shown could be "
                    f"checked; add columns: {{group: ..., facilitator: ...}} to the {section} section of the "
                    f"cohort config to check those."),
                 notes=_with_small_note([
                     "ICC: the intraclass correlation of the change (post − pre), ICC(1) from a one-way analysis "
                     "of variance on the clusters; 0 means people in one cluster change no more alike than "
                     "anyone else (a negative estimate is shown and used as 0). Design effect = 1 + (average "
                     "cluster size − 1) × ICC: how much the clustering inflates the variance of the mean change.",
                     "Change, each one independent: the paired t interval of the change per measure table. "
                     "Allowing for clusters: the mean change ± t(clusters − 1) × its CR1 cluster-robust standard "
                     "error, people without a cluster counted as clusters of one. Usual interval too narrow: "
                     "the width of the second interval over the first.",
                     *([f"With as few as {int(np.nanmin(clusters))} clusters the interval allowing for them rests "
                        f"on very few independent units and is itself uncertain; read it as a sign of how much "
                        f"clustering could matter rather than as a precise interval."]
                       if np.isfinite(clusters).any() and np.nanmin(clusters) < 10 else []),
                     *([_PRIMARY_NOTE] if role is not None else [])], summary, data),
                 technical=Table(technical, caption="n, cluster sizes and effective n",
                                 notes=_with_small_note([
                                     "Effective n = n / design effect: the number of independent people the "
                                     "clustered ones carry as much information as. CR1: sqrt(k / (k − 1) · "
                                     "Σ_j (Σ_i∈j (d_i − mean d))²) / N, the cluster-robust (CR1) error of a "
                                     "mean, as statsmodels' cov_type=\"cluster\"."], technical, data)))


def _clustering_sentence(rows, label, icc, deff, ratio, n, unit, min_cell):
    """One sentence per level: how alike, the design effect, and whether the usual interval was too narrow."""
    from .findings import format_number

    sentences = []
    for level in dict.fromkeys(rows["level"]):
        at = (rows["level"] == level).to_numpy() & np.isfinite(ratio)
        if not at.any():
            continue
        words = _LEVEL_WORDS.get(level, str(level))
        lo, hi = np.nanmin(icc[at]), np.nanmax(icc[at])
        k = int(np.flatnonzero(at)[int(np.nanargmax(ratio[at]))])
        big = int(np.flatnonzero(at)[int(np.nanargmax(deff[at]))])
        too_narrow = int((ratio[at] > 1).sum())
        icc_text = (f"between {format_number(lo)} and {format_number(hi)}" if round(lo, 2) != round(hi, 2)
                    else f"{format_number(lo)}")
        effective = ""
        if np.isfinite(n[big]) and n[big] >= min_cell and np.isfinite(deff[big]) and deff[big] > 1:
            effective = (f" (so {int(n[big]):,} {unit} carry about as much information as "
                         f"{int(round(n[big] / deff[big])):,} independent ones)")
        text = (f"By {words}: the intraclass correlation of the change was {icc_text} across the measures, a "
                f"design effect of up to {format_number(deff[big])}{effective}. ")
        if too_narrow:
            text += (f"The usual interval, which treats every one of the {unit} as independent, was too narrow on "
                     f"{too_narrow} of {int(at.sum())} measures: allowing for {words}s makes it up to "
                     f"{format_number(ratio[k])} times as wide ({label[k]}).")
        else:
            text += (f"The usual interval, which treats every one of the {unit} as independent, was not too "
                     f"narrow: allowing for {words}s leaves it at most {format_number(ratio[k])} times as wide.")
        sentences.append(text)
    return " ".join(sentences)


def _clustering_figure_table(data, section):
    """What :func:`clustering_figure` draws: per level and measure, the mean change and both intervals."""
    rows, _ = _clustering_rows(data, section)
    if rows is None:
        return None
    sec = _section(data, section)
    mean = _floats(rows, "mean_change")
    naive_lo, naive_hi = _floats(rows, "naive_ci_low"), _floats(rows, "naive_ci_high")
    return pd.DataFrame({
        "level": rows["level"].to_numpy(), "measure": rows["measure"].to_numpy(),
        "label": rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy(),
        "mean_change": np.where(np.isfinite(mean), mean, (naive_lo + naive_hi) / 2),
        "naive_ci_low": naive_lo, "naive_ci_high": naive_hi,
        "robust_ci_low": _floats(rows, "robust_ci_low"), "robust_ci_high": _floats(rows, "robust_ci_high"),
    })


def clustering_figure(data, section="children"):
    """The naive and the cluster-robust 95% interval of each measure's mean change, one panel per level.

    ``.data`` of the returned image is the table drawn (:func:`_clustering_figure_table`).
    """
    _theme()
    import matplotlib.pyplot as plt

    from .plots import interval_comparison_plot, legend_inches

    table = _clustering_figure_table(data, section)
    if table is None:
        return _no_figure()
    unit = _unit(section)
    levels = list(dict.fromkeys(table["level"]))
    measures = table["measure"].nunique()
    fig, axes = plt.subplots(1, len(levels), figsize=(5.2 * len(levels) + 2.4, 0.62 * measures + 2.2),
                             squeeze=False, sharey=True)
    for ax, level in zip(axes.flat, levels):
        interval_comparison_plot(table[table["level"] == level], ax=ax, unit=unit,
                                 cluster=_LEVEL_WORDS.get(level, str(level)))
        ax.set_title(f"Clustered by {_LEVEL_WORDS.get(level, str(level))}", fontsize=11)
        if ax is not axes.flat[0]:
            ax.set_ylabel("")
    fig.set_figheight(0.62 * measures + 1.6 + max(legend_inches(ax) for ax in axes.flat))
    fig.tight_layout()
    words = _list_words(_LEVEL_WORDS.get(v, str(v)) + "s" for v in levels)
    caption = (f"Each measure's mean change (black points) with two 95% confidence intervals: a grey line treating "
               f"the {unit} as independent, above a blue line allowing for the clusters named in the panel's title "
               f"(cluster-robust CR1 errors, t on clusters − 1 degrees of freedom); the dark grey vertical line is "
               f"zero, no change. Where the blue line is longer than the grey one, the usual interval was too "
               f"narrow.")
    return _captioned(fig, caption=caption, data=table,
                      alt=(f"For each of {measures} measures, the mean change (post − pre) as a black point with two "
                           f"95% confidence intervals: a grey line treating the {unit} as independent and a blue line "
                           f"allowing for {words}, one panel per kind of cluster."))


# --- compared with children who did not take part

_EQUIVALENCE_WORDS = {"satisfied": "alike (|g| ≤ 0.05)", "requires adjustment": "close; adjusted for (|g| ≤ 0.25)",
                      "not satisfied": "not alike (|g| > 0.25)"}


def _comparison_rows(data, section):
    rows = _rows(data, "comparison", section)
    unit = _unit(section)
    if rows is None:
        return None, (f"There is no comparison group, so this report shows how the {_possessive(unit)} scores changed, not "
                      f"what would have happened without the programme; to compare with {unit} who did not take "
                      f"part (a waiting list, for example), add `columns: {{arm: ...}}` to the {section} section "
                      f"and `analysis: {{comparison: {{intervention: [...], comparison: [...]}}}}` to the cohort "
                      f"config.")
    if rows.empty or not np.isfinite(_floats(rows, "adjusted_difference")).any():
        notes = sorted({str(n) for n in rows.get("note", pd.Series(dtype=object)).dropna() if str(n).strip()})
        return None, (f"The {unit} who took part could not be compared with those who did not"
                      + (f" ({'; '.join(notes)})." if notes else "."))
    return rows, ""


def _arm_starts(data, section):
    """Measure -> (people with a start score in the programme arm, in the comparison arm), from the data."""
    sec = _section(data, section)
    waves = getattr(sec, "waves", None)
    if waves is None or "arm" not in waves.columns:
        return {}
    pre = waves[waves["timepoint"] == "pre"]
    arm = pre["arm"].astype("string")
    return {m: (int(pre.loc[(arm != "comparison") & pre[m].notna(), "id"].nunique()),
                int(pre.loc[(arm == "comparison") & pre[m].notna(), "id"].nunique())) for m in sec.measures}


def comparison_table(data, section="children"):
    """Compared with children who did not take part: balance at the start, the adjusted difference at the end
    (ANCOVA, post ~ pre + arm), its effect size, and attrition against the What Works Clearinghouse boundary.

    Shares of people who left are hidden (``*``) wherever they and the analysed counts would give away that
    fewer than ``min_cell`` people left one arm; the attrition verdict is then given without its numbers.
    """
    from .findings import format_number

    unit = _unit(section)
    rows, reason = _comparison_rows(data, section)
    if rows is None:
        return _absent(reason)
    sec = _section(data, section)
    rows, role = _primary_rows(rows, data)
    label = rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy()
    n_i, n_c = _floats(rows, "n_intervention"), _floats(rows, "n_comparison")
    g0, diff = _floats(rows, "baseline_g"), _floats(rows, "adjusted_difference")
    lo, hi, p, g = (_floats(rows, c) for c in ("ci_low", "ci_high", "p", "effect_g"))
    # Holm-adjusted across the measures where the analysis gives it (the claim reads that one)
    adjusted = "p_holm" in rows.columns and np.isfinite(_floats(rows, "p_holm")).any()
    p_shown = _floats(rows, "p_holm") if adjusted else p
    overall, differential = _floats(rows, "overall_attrition"), _floats(rows, "differential_attrition")
    starts = _arm_starts(data, section)
    hidden = []
    for m, a, b in zip(rows["measure"], n_i, n_c):
        s = starts.get(m)
        left = (s[0] - a, s[1] - b) if s and np.isfinite(a) and np.isfinite(b) else (np.nan, np.nan)
        hidden.append(any(0 < v < data.min_cell for v in left if np.isfinite(v)))
    hidden = np.array(hidden, dtype=bool)
    standard = rows["attrition_standard"].fillna("").astype(str).to_numpy() if "attrition_standard" in rows \
        else np.array([""] * len(rows))
    verdict = [s.split(" (")[0] + (" (WWC cautious boundary)" if "cautious" in s else
                                   " (WWC optimistic boundary)" if "optimistic" in s else "") if h else s
               for s, h in zip(standard, hidden)]

    def share(v, h):
        return HIDDEN_MARK if h else (f"{100 * v:.0f}%" if np.isfinite(v) else "")

    summary = pd.DataFrame({
        "Measure": label,
        "Took part (n)": [_count_text(v, data.min_cell) for v in n_i],
        "Comparison (n)": [_count_text(v, data.min_cell) for v in n_c],
        "Difference at the start (g)": [f"{format_number(v, sign=True)}: "
                                        f"{_EQUIVALENCE_WORDS.get(e, e)}" if np.isfinite(v) else ""
                                        for v, e in zip(g0, rows["baseline_equivalence"].fillna(""))],
        "Difference at the end, adjusted [95% CI]": [_interval(d, a, b) for d, a, b in zip(diff, lo, hi)],
        "p (Holm)" if adjusted else "p": [_p(v) for v in p_shown],
        "Effect size (g)": [format_number(v) if np.isfinite(v) else "" for v in g],
        "Left before the end": [share(v, h) for v, h in zip(overall, hidden)],
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    technical = pd.DataFrame({
        "Measure": label,
        "Took part (n)": summary["Took part (n)"].to_numpy(), "Comparison (n)": summary["Comparison (n)"].to_numpy(),
        "Baseline g": [_fmt(v, 3) for v in g0],
        "Baseline equivalence (WWC)": rows["baseline_equivalence"].fillna("").to_numpy(),
        "Adjusted difference (SE)": [f"{_fmt(d)} ({_fmt(s)})" if np.isfinite(d) else "" for d, s in
                                     zip(diff, _floats(rows, "se"))],
        "95% CI": [f"[{_fmt(a)}, {_fmt(b)}]" if np.isfinite(a) else "" for a, b in zip(lo, hi)],
        "p": [_p(v) for v in p], **({"p (Holm)": [_p(v) for v in p_shown]} if adjusted else {}),
        "Standard errors": rows["se_type"].fillna("").to_numpy() if "se_type" in rows else "",
        "Effect size g": [_fmt(v, 3) for v in g],
        "Attrition overall": [share(v, h) for v, h in zip(overall, hidden)],
        "Attrition differential": [HIDDEN_MARK if h else (f"{100 * v:.1f} points" if np.isfinite(v) else "")
                                   for v, h in zip(differential, hidden)],
        "Attrition standard": verdict,
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    technical = _noted(technical)
    # the plain sentences: what the comparison shows, how alike the groups started, how many left
    alpha = float(data.config.analysis.get("alpha", 0.05))
    tested = np.isfinite(p_shown)
    better = [lab for lab, m, d, q in zip(label, rows["measure"], diff, p_shown) if np.isfinite(q) and q < alpha
              and _better(sec, m, d) == "better"]
    worse = [lab for lab, m, d, q in zip(label, rows["measure"], diff, p_shown) if np.isfinite(q) and q < alpha
             and _better(sec, m, d) == "worse"]
    other = [lab for lab, m, d, q in zip(label, rows["measure"], diff, p_shown) if np.isfinite(q) and q < alpha
             and _better(sec, m, d) not in ("better", "worse")]
    count = int(tested.sum())

    def on(names):
        return (f"all {count} measures" if len(names) == count and count > 1 else
                f"{len(names)} of the {count} measures ({_list_words(names)})")

    parts = ([("better", better)] if better else []) + ([("worse", worse)] if worse else []) + \
            ([("different", other)] if other else [])
    said = [f"{word} scores" + (f" than the comparison {unit}" if k == 0 else "") + f" on {on(names)}"
            for k, (word, names) in enumerate(parts)]
    lead = (f"Once their starting scores are taken into account, the {unit} who took part ended with "
            + (" and ".join(said) if said else f"scores no different from those of the comparison {unit} on any "
               f"of the {count} measures")
            + ("; on the others the difference could be chance. " if parts and sum(map(len, (better, worse, other)))
               < count else ". "))
    alike = rows["baseline_equivalence"].fillna("")
    counts = {k: int((alike == k).sum()) for k in _EQUIVALENCE_WORDS}
    lead += (f"At the start the two groups were alike on {counts['satisfied']} measures, close enough to adjust for "
             f"on {counts['requires adjustment']} and not alike on {counts['not satisfied']} (What Works "
             f"Clearinghouse baseline equivalence). ")
    judged = {v.split(" (")[0] for v in verdict if v}
    if len(set(standard)) == 1 and standard[0] and not hidden.any():
        lead += (f"{100 * overall[0]:.0f}% of the {unit} left before the end, and the two groups' shares "
                 f"differed by {100 * differential[0]:.1f} percentage points: {standard[0]}. ")
    elif len(judged) == 1:
        boundary = "optimistic" if any("optimistic" in v for v in verdict) else "cautious"
        lead += (f"Attrition (the {unit} lost before the end) was {judged.pop().split()[0]} on every measure against "
                 f"the What Works Clearinghouse {boundary} boundary. ")
    lead += (f"A difference counts where p < {_apa_alpha(alpha)} after Holm adjustment across the measures."
             if adjusted else f"A difference counts where p < {_apa_alpha(alpha)}, not adjusted for the number of "
                              f"measures.")
    se_types = sorted({str(s) for s in rows.get("se_type", pd.Series(dtype=object)).dropna() if str(s).strip()})
    return Table(summary, caption=f"Compared with {unit} who did not take part: the difference at the end, "
                                  f"adjusted for the start",
                 lead=lead.strip(),
                 notes=_with_small_note([
                     "Difference at the start: Hedges' g of the start scores, took part minus comparison, among "
                     "the people analysed; What Works Clearinghouse: |g| ≤ 0.05 alike, ≤ 0.25 acceptable when "
                     "adjusted for (as here), above 0.25 not alike.",
                     "Difference at the end, adjusted: the difference in end scores between the groups once start "
                     "scores are taken into account (ANCOVA by ordinary least squares, end ~ start + group), in "
                     "points of the answer scale, with its 95% CI and p"
                     + (" (Holm-adjusted across the measures; the interval is not adjusted, so it can leave out "
                        "zero while the adjusted p is above the significance level)" if adjusted else "")
                     + ". Effect size: that difference over the "
                     "pooled standard deviation of the end scores, with Hedges' small-sample correction.",
                     "Left before the end: the share of the people with a start questionnaire who have no end "
                     "one, both groups together; judged with the difference between the groups' shares against "
                     "the What Works Clearinghouse cautious boundary (technical table).",
                     *([_PRIMARY_NOTE] if role is not None else [])], summary, data),
                 technical=Table(technical, caption="baseline equivalence, standard errors and attrition",
                                 notes=_with_small_note([
                                     "OLS post ~ pre + arm (took part = 1). Standard errors: "
                                     + ("; ".join(se_types) if se_types else "as the analysis states")
                                     + ". With delivery groups the errors are cluster-robust (CR1, statsmodels "
                                     "cov_type=\"cluster\", factor G/(G − 1) · (N − 1)/(N − K)) with t on "
                                     "clusters − 1 df; anyone without a group is a cluster of their own. "
                                     "Hedges' g uses the pooled SD and J = 1 − 3 / (4 (n_I + n_C) − 9). A share "
                                     f"is hidden ('*') where it would give away that fewer than {data.min_cell} "
                                     "people left one group."], technical, data)))


def _better(sec, measure, difference):
    """'better' or 'worse' when the instrument says what a higher score means, else 'higher'/'lower'."""
    if not np.isfinite(difference) or difference == 0:
        return ""
    higher = sec.instrument.higher_is(measure) if hasattr(sec.instrument, "higher_is") else None
    up = difference > 0
    if higher == "better":
        return "better" if up else "worse"
    if higher == "worse":
        return "worse" if up else "better"
    return "higher" if up else "lower"


def comparison_figure(data, section="children"):
    """The adjusted difference at the end (took part minus comparison) per measure, with its 95% CI.

    ``.data`` of the returned image is the table drawn.
    """
    _theme()
    import matplotlib.pyplot as plt

    from .plots import forest_plot

    rows, _ = _comparison_rows(data, section)
    if rows is None:
        return _no_figure()
    sec = _section(data, section)
    rows, _ = _primary_rows(rows, data)
    table = pd.DataFrame({"measure": rows["measure"].to_numpy(),
                          "label": rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy(),
                          "adjusted_difference": _floats(rows, "adjusted_difference"),
                          "ci_low": _floats(rows, "ci_low"), "ci_high": _floats(rows, "ci_high"),
                          "note": rows["note"].fillna("").to_numpy() if "note" in rows else ""})
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(table) + 1.6))
    forest_plot(table, effect="adjusted_difference", ax=ax)
    fig.tight_layout()
    unit = _unit(section)
    caption = (f"The difference in end scores, {unit} who took part minus comparison {unit}, adjusted for their "
               f"start scores: a blue point for each measure with a blue line for its 95% confidence interval, the "
               f"values printed on the right; the dark grey vertical line is zero, no difference.")
    return _captioned(fig, caption=caption, data=table,
                      alt=(f"The difference in end scores between the {unit} who took part and the comparison {unit}, "
                           f"adjusted for their start scores, as a blue point with its 95% confidence interval for "
                           f"each of {len(table)} measures, beside a vertical line at zero, no difference."))


# --- did the change last?

def _follow_up_rows(data, section):
    unit = _unit(section)
    table = data.results.get("child_outcomes" if section == "children" else "facilitator_outcomes")
    rows = None
    if isinstance(table, pd.DataFrame) and "contrast" in table.columns:
        rows = table[table["contrast"].isin(FOLLOW_UP_CONTRASTS)].reset_index(drop=True)
    if rows is None or rows.empty:
        timepoints = getattr(data.config.sections.get(section), "timepoints", {}) or {}
        if "follow_up" in timepoints:
            return None, (f"No follow-up questionnaires of the {unit} could be matched to their first or last "
                          f"ones, so whether the change lasted cannot be shown yet.")
        return None, (f"No follow-up questionnaire was recorded for the {unit}, so whether the change lasted "
                      f"cannot be shown; add a follow-up wave to the {section} timepoints in the cohort config "
                      f"(`timepoints: {{follow_up: [...]}}`), for example at 6 months.")
    return rows, ""


def follow_up_table(data, section="children"):
    """Did the change last? Follow-up against the start and against the end of the programme, per measure.

    The summary shows n, both means, the mean change with its 95% CI, its size in words and the primary
    test's p, Holm-adjusted within the follow-up tests (their own family), under a sentence saying on which
    measures the change by the end was still there at follow-up. Every statistic is in ``.technical``.
    """
    from .findings import SIZE_CONVENTION, format_number, size_words

    rows, reason = _follow_up_rows(data, section)
    if rows is None:
        return _absent(reason)
    unit = _unit(section)
    sec = _section(data, section)
    order = {c: i for i, c in enumerate(FOLLOW_UP_CONTRASTS)}
    rows, role = _primary_rows(rows, data)
    # each measure's rows together, follow-up − start before follow-up − end
    rows = rows.assign(_m=pd.Categorical(rows["measure"], categories=list(dict.fromkeys(rows["measure"]))),
                       _c=rows["contrast"].map(order)).sort_values(["_m", "_c"], kind="stable")
    if role is not None:
        role = np.where(rows["measure"].isin(data.config.analysis.get("primary") or []), "Primary", "Secondary")
    label = rows["label"] if "label" in rows else rows["measure"].map(lambda m: sec.labels.get(m, m))
    wilcoxon = (rows["primary_test"] == "Wilcoxon").to_numpy()
    effect = np.where(wilcoxon, _floats(rows, "rank_biserial"), _floats(rows, "d_z"))
    earlier = np.where(rows["contrast"] == "follow_up-post", "End", "Start")
    summary = pd.DataFrame({
        "Measure": label.to_numpy(), "Compared": rows["contrast"].map(_CONTRAST_WORDS).to_numpy(),
        "n": rows["n"].to_numpy(),
        "Earlier (mean)": [f"{_fmt(v)} ({e.lower()})" for v, e in zip(_floats(rows, "mean_pre"), earlier)],
        "Follow-up (mean)": [_fmt(v) for v in _floats(rows, "mean_post")],
        "Change [95% CI]": [_interval(d, lo, hi) for d, lo, hi in
                            zip(_floats(rows, "mean_diff"), _floats(rows, "ci_low"), _floats(rows, "ci_high"))],
        "Size in words": [f"{size_words(v)} ({'rank-biserial r' if w else 'd_z'} {format_number(v)})"
                          if np.isfinite(v) else "" for v, w in zip(effect, wilcoxon)],
        "p (Holm)": [_p(v) for v in _floats(rows, "p_primary_holm")],
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    summary = _noted(disclose(summary, data, counts=["n"], group_n="n"))
    technical = pd.DataFrame({
        "Measure": label.to_numpy(), "Compared": summary["Compared"].to_numpy(), "n": rows["n"].to_numpy(),
        "Earlier mean (SD)": [f"{_fmt(m)} ({_fmt(s)})" for m, s in zip(_floats(rows, "mean_pre"),
                                                                        _floats(rows, "sd_pre"))],
        "Follow-up mean (SD)": [f"{_fmt(m)} ({_fmt(s)})" for m, s in zip(_floats(rows, "mean_post"),
                                                                          _floats(rows, "sd_post"))],
        "t (df)": [f"{_fmt(t)} ({_fmt(df, 0)})" if np.isfinite(t) else "" for t, df in
                   zip(_floats(rows, "t"), _floats(rows, "df"))],
        "p": [_p(v) for v in _floats(rows, "p")], "p (Holm)": [_p(v) for v in _floats(rows, "p_holm")],
        "d_z [95% CI]": [f"{_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}]" if np.isfinite(d) else "" for d, lo, hi in
                         zip(_floats(rows, "d_z"), _floats(rows, "d_z_ci_low"), _floats(rows, "d_z_ci_high"))],
        "Wilcoxon p": [_p(v) for v in _floats(rows, "wilcoxon_p")],
        "Primary test": rows["primary_test"].fillna("").to_numpy(),
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    technical = _noted(disclose(technical, data, counts=["n"], group_n="n"))
    return Table(summary, caption=f"Did the change last? {_possessive(unit).capitalize()} scores at follow-up, against the "
                                  f"start and the end",
                 lead=_follow_up_sentence(data, section, rows),
                 notes=_with_small_note([
                     "Each comparison counts the people with both questionnaires it compares. Change: the later "
                     "minus the earlier score, the mean of each person's change, with its 95% confidence "
                     "interval.",
                     "Size in words: of d_z (the mean change over the SD of the changes), or of the rank-biserial "
                     f"r where the Wilcoxon test is primary. {SIZE_CONVENTION}",
                     "p (Holm): the primary test (paired t, or Wilcoxon signed-rank for a small sample whose "
                     "changes are not normal), Holm (1979) adjusted across the follow-up tests of this "
                     "questionnaire: their own family, apart from the before-and-after tests.",
                     *([_PRIMARY_NOTE] if role is not None else [])], summary, data),
                 technical=Table(technical, caption="every statistic of the follow-up tests",
                                 notes=["Paired t-test (as R's t.test(paired = TRUE)) and Wilcoxon signed-rank "
                                        "test of later minus earlier scores; d_z with its noncentral t interval. "
                                        "p (Holm): across the follow-up tests of this questionnaire."]))


def _follow_up_sentence(data, section, rows):
    """Which changes by the end were still there at follow-up, and which moved back after the end."""
    unit = _unit(section)
    sec = _section(data, section)
    alpha = float(data.config.analysis.get("alpha", 0.05))
    end = {r["measure"]: r for _, r in _outcomes(data, section).iterrows()}

    def significant(row):
        p = row.get("p_primary_holm", np.nan) if row is not None else np.nan
        return isinstance(p, (int, float)) and np.isfinite(p) and p < alpha

    def sign(row):
        value = row.get("mean_diff", np.nan)
        return np.sign(value) if np.isfinite(value) else 0

    label = {m: sec.labels.get(m, m) for m in rows["measure"]}
    by = {(r["measure"], r["contrast"]): r for _, r in rows.iterrows()}
    changed = [m for m in label if m in end and significant(end[m])]
    lasted = [m for m in changed if significant(by.get((m, "follow_up-pre")))
              and sign(by[(m, "follow_up-pre")]) == sign(end[m])]
    gone = [m for m in changed if m not in lasted]
    back = [m for m in changed if significant(by.get((m, "follow_up-post")))
            and sign(by[(m, "follow_up-post")]) == -sign(end[m])]
    followed = pd.to_numeric(rows.loc[rows["contrast"] == "follow_up-pre", "n"], errors="coerce").max()
    from .summary import _people

    who = _people(followed if np.isfinite(followed) else None, section, data.min_cell)
    if not changed:
        return (f"{who.capitalize()} answered the follow-up questionnaire as well as the first. Their scores had "
                f"not changed significantly by the end of the programme on any measure, so there was no change "
                f"to last; the table compares the follow-up with the start and the end all the same.")
    def named(ms, total):
        return f"all {total}" if len(ms) == total and total > 1 else \
            f"{len(ms)} ({_list_words(label[m] for m in ms)})"

    text = (f"{who[0].upper()}{who[1:]} answered the follow-up questionnaire as well as the first. Of the "
            f"{len(changed)} measure{'s' if len(changed) != 1 else ''} on which the {_possessive(unit)} scores had "
            f"changed by the end, {named(lasted, len(changed)) if lasted else 'none'} still differed from the start "
            f"in the same direction at follow-up"
            + (f", and {named(gone, len(changed))} no longer did" if gone else "") + ".")
    if back:
        text += (f" On {named(back, len(changed))}, scores had moved back towards the start between the end and "
                 f"the follow-up.")
    return text + " The follow-up group may differ from everyone who finished: see the n of each row."


def _wave_shown_n(data, section, means):
    """Measure -> whether the number of people with all three questionnaires may be printed: not where it and
    the follow-up table's n would give away a count of 1 to ``min_cell - 1``."""
    out = {}
    known = [_matched_n(data, section, c) for c in ("post-pre", *FOLLOW_UP_CONTRASTS)]
    for m, n in means.dropna(subset=["n"]).drop_duplicates("measure")[["measure", "n"]].itertuples(index=False):
        out[m] = not any(_small_difference(n, k.get(m, np.nan), data.min_cell) for k in known)
    return out


def follow_up_figure(data, section="children"):
    """Means at the start, end and follow-up, with 95% CIs, of the people with all three questionnaires.

    One panel per measure; a measure with fewer than ``min_cell`` such people is not drawn. ``.data`` of the
    returned image is the table drawn (:func:`evalkit.report.plots.wave_means`).
    """
    _theme()
    import matplotlib.pyplot as plt

    from .plots import wave_means, wave_means_plot

    rows, _ = _follow_up_rows(data, section)
    if rows is None:
        return _no_figure()
    sec = _section(data, section)
    waves = _waves(data, section)
    means = wave_means(waves, measures=list(sec.measures), min_cell=data.min_cell)
    shown_n = _wave_shown_n(data, section, means)
    cols = min(3, len(sec.measures))
    nrows = int(np.ceil(len(sec.measures) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.0 * cols, 3.3 * nrows), squeeze=False, sharey=True)
    for ax, m in zip(axes.flat, sec.measures):
        wave_means_plot(means[means["measure"] == m], ax=ax, label=sec.labels.get(m, m), show_n=shown_n.get(m, False))
    for ax in list(axes.flat)[len(sec.measures):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Mean score (95% CI)")
    fig.tight_layout()
    unit = _unit(section)
    drawn = [ax for ax in axes.flat if ax.get_gid() == "drawn"]
    skipped = len(sec.measures) - len(drawn)
    when = ("before training, straight after it and at follow-up" if section == "facilitators" else
            "at the start, the end and the follow-up")
    caption = (f"Mean scores {when} of the {unit} who answered all three questionnaires: blue points joined by a "
               f"blue line, each with a blue line for its 95% confidence interval. A measure with fewer than "
               f"{data.min_cell} such {unit} is not drawn, and a panel gives its number of {unit} only where that "
               f"number and the table's could not give a small count away.")
    return _captioned(fig, caption=caption, data=means,
                      alt=(f"Mean scores at the start, the end and the follow-up of the {unit} with all three "
                           f"questionnaires, as blue points joined by a blue line with their 95% confidence intervals, "
                           f"one panel for each of {len(sec.measures)} measures"
                           + (f"; {skipped} not drawn, too few {unit} with all three." if skipped else ".")))


# --- did more sessions mean more change?

def _dose_rows(data, section):
    unit = _unit(section)
    rows = _rows(data, "dose", section)
    if rows is None:
        return None, (f"Sessions attended were not recorded for the {unit}, so whether more sessions went with "
                      f"more change cannot be shown; add `columns: {{sessions: ...}}` (the column of sessions "
                      f"attended) to the {section} section of the cohort config.")
    if rows.empty or not (pd.to_numeric(rows.get("n"), errors="coerce") > 0).any():
        notes = sorted({str(n) for n in rows.get("note", pd.Series(dtype=object)).dropna() if str(n).strip()})
        return None, ("Whether more sessions went with more change could not be estimated"
                      + (f" ({'; '.join(notes)})." if notes else "."))
    return rows, ""


def dose_table(data, section="children"):
    """Did more sessions mean more change? The slope of change on sessions attended, and the mean change of
    the people with a full and with a partial dose (``analysis.full_dose`` sessions, default 5).

    The three counts (n = full + partial) carry complementary suppression, and the mean change of fewer than
    ``min_cell`` people is not shown.
    """
    from .findings import format_number
    from .privacy import complementary_suppression

    rows, reason = _dose_rows(data, section)
    if rows is None:
        return _absent(reason)
    unit = _unit(section)
    sec = _section(data, section)
    full_dose = int(data.config.analysis.get("full_dose", 5))
    rows, role = _primary_rows(rows, data)
    counts = ["n", "full_dose_n", "partial_dose_n"]
    whole = rows[counts].apply(lambda c: pd.to_numeric(c, errors="coerce").astype(float))
    shown = complementary_suppression(whole.reset_index(drop=True),
                                      relations=[("n", ["full_dose_n", "partial_dose_n"])], keep=["n"],
                                      min_cell=data.min_cell)
    for c in counts:
        shown[c] = pd.Series([int(v) if isinstance(v, float) and v == v else v for v in shown[c]], dtype=object)

    def mean(values, n):
        return ["" if not np.isfinite(k) or k < data.min_cell else format_number(v, sign=True) if np.isfinite(v)
                else "" for v, k in zip(values, n)]

    label = rows["measure"].map(lambda m: sec.labels.get(m, m)).to_numpy()
    slope = _floats(rows, "slope")
    full = f"{full_dose} or more sessions"
    partial = f"Fewer than {full_dose} sessions"
    summary = pd.DataFrame({
        "Measure": label, "n": shown["n"].to_numpy(),
        "Change per extra session [95% CI]": [_interval(s, lo, hi) for s, lo, hi in
                                              zip(slope, _floats(rows, "slope_ci_low"), _floats(rows, "slope_ci_high"))],
        "p": [_p(v) for v in _floats(rows, "slope_p")],
        f"{full}: n": shown["full_dose_n"].to_numpy(),
        f"{full}: mean change": mean(_floats(rows, "full_dose_mean_change"), whole["full_dose_n"].to_numpy()),
        f"{partial}: n": shown["partial_dose_n"].to_numpy(),
        f"{partial}: mean change": mean(_floats(rows, "partial_dose_mean_change"),
                                        whole["partial_dose_n"].to_numpy()),
        "note": rows["note"].fillna("").to_numpy() if "note" in rows else "",
    })
    if role is not None:
        summary.insert(1, "Outcome", role)
    summary = _noted(summary)
    alpha = float(data.config.analysis.get("alpha", 0.05))
    p = _floats(rows, "slope_p")
    more = [(lab, s) for lab, s, q in zip(label, slope, p) if np.isfinite(q) and q < alpha and s > 0]
    less = [(lab, s) for lab, s, q in zip(label, slope, p) if np.isfinite(q) and q < alpha and s < 0]
    tested = int(np.isfinite(p).sum())
    def by(found, word):
        names = [lab for lab, _ in found]
        values = sorted(abs(v) for _, v in found)
        size = (f"{format_number(values[0])} points" if len(values) == 1 or round(values[0], 2) == round(values[-1], 2)
                else f"{format_number(values[0])} to {format_number(values[-1])} points")
        where = f"all {tested} measures" if len(names) == tested and tested > 1 else \
            f"{len(names)} of the {tested} measures ({_list_words(names)})"
        return f"changed {word} on {where}, by {size} on the answer scale for each extra session"

    if more or less:
        lead = (f"{unit.capitalize()} who attended more sessions "
                + " and ".join(([by(more, "more")] if more else []) + ([by(less, "less")] if less else []))
                + ("; on the others the slope could be chance." if len(more) + len(less) < tested else ".")
                + f" A slope counts where p < {_apa_alpha(alpha)}, not adjusted for the number of measures.")
    else:
        lead = (f"On none of the {tested} measures did the change rise or fall with the sessions attended by more "
                f"than chance would explain (p < {_apa_alpha(alpha)}).")
    lead += (f" Attendance was not assigned, so {unit} who came to more sessions may differ in other ways: this "
             f"shows an association, not the effect of a session.")
    return Table(summary, caption="Did more sessions mean more change? Change against sessions attended",
                 lead=lead,
                 notes=_with_small_note([
                     f"Change per extra session: the slope of each person's change (post − pre) on the sessions "
                     f"they attended, by ordinary least squares with classical standard errors (t on n − 2 df), "
                     f"among the {unit} who took part with both questionnaires and a sessions count.",
                     f"Full dose: {full_dose} or more sessions (analysis.full_dose); a partial dose is fewer, "
                     f"attending none included. Mean change: of the people with that dose; not shown for fewer than "
                     f"{data.min_cell}.",
                     *([_PRIMARY_NOTE] if role is not None else [])], summary, data))


def _apa_alpha(alpha):
    return f"{alpha:g}".lstrip("0") if alpha < 1 else f"{alpha:g}"


def _dose_changes(data, section):
    """One row per programme person with a start and an end questionnaire: each measure's change and the
    sessions attended."""
    sec = _section(data, section)
    waves = _waves(data, section)
    if "sessions" not in waves.columns:
        return None
    wide = waves[waves["timepoint"].isin(["pre", "post"])].pivot_table(
        index="id", columns="timepoint", values=list(sec.measures), aggfunc="first")
    changes = pd.DataFrame({m: wide[(m, "post")] - wide[(m, "pre")] if (m, "post") in wide and (m, "pre") in wide
                            else np.nan for m in sec.measures}, index=wide.index)
    sessions = waves.dropna(subset=["sessions"]).drop_duplicates("id").set_index("id")["sessions"]
    return changes.assign(sessions=pd.to_numeric(sessions.reindex(changes.index), errors="coerce"))


def dose_figure(data, section="children"):
    """Mean change by sessions attended, with 95% CIs, one panel per measure: sessions pooled with their
    neighbours until each bin holds at least ``min_cell`` people (:func:`evalkit.report.plots.dose_bins`).

    ``.data`` of the returned image is the table drawn.
    """
    _theme()
    import matplotlib.pyplot as plt

    from .plots import dose_bins, dose_plot

    rows, _ = _dose_rows(data, section)
    changes = _dose_changes(data, section) if rows is not None else None
    if changes is None:
        return _no_figure()
    sec = _section(data, section)
    full_dose = int(data.config.analysis.get("full_dose", 5))
    bins = dose_bins(changes, measures=list(sec.measures), full_dose=full_dose, min_cell=data.min_cell)
    if bins["mean_change"].isna().all():
        return _no_figure()
    # a side left out would let its size be worked out from the other side's bins and the table's n
    show_n = not bins["mean_change"].isna().any()
    cols = min(2, len(sec.measures))
    nrows = int(np.ceil(len(sec.measures) / cols))
    width = max(4.5, 0.7 * bins.groupby("measure")["bin"].count().max() + 1.2)
    fig, axes = plt.subplots(nrows, cols, figsize=(width * cols, 3.5 * nrows), squeeze=False, sharey=True)
    for ax, m in zip(axes.flat, sec.measures):
        dose_plot(bins[bins["measure"] == m], ax=ax, label=sec.labels.get(m, m), full_dose=full_dose, show_n=show_n)
    for ax in list(axes.flat)[len(sec.measures):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Mean change (95% CI)")
    fig.tight_layout()
    unit = _unit(section)
    caption = ("Mean change (post − pre) by sessions attended: a blue point for each number of sessions with a blue "
               "line for its 95% confidence interval"
               + (f", each labelled with its number of {unit}" if show_n else "")
               + f"; the dashed dark grey line is zero, no change, and the dotted line marks where a full dose of "
               f"{full_dose} sessions begins. Sessions attended by fewer than {data.min_cell} {unit} are pooled with "
               f"their neighbours.")
    return _captioned(fig, caption=caption, data=bins,
                      alt=(f"Mean change (post − pre) of the {unit} by sessions attended, as blue points with their 95% "
                           f"confidence intervals beside a dashed line at zero, one panel for each of "
                           f"{len(sec.measures)} measures, with a dotted line where a full dose of {full_dose} "
                           f"sessions begins."))


# ---------------------------------------------------------------------------- issue 13: delivery and system outcomes
# The calls of pages 04 (delivery, fidelity, training that becomes practice) and 05 (system outcomes over time)
# live in evalkit.report.service; they are named here so that the notebooks reach them as ek.<name>.
from .service import (delivery_table, embedding_figure, embedding_table, fidelity_figure,  # noqa: E402
                      fidelity_outcomes_table, flagged_groups_table, practice_table, service_points, system_caveat,
                      system_figure, system_table)
