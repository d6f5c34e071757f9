"""A committee-paper summary in Word (python-docx): main points, about, how far to trust, tables, figure, disclosure."""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Characters XML 1.0 cannot hold (python-docx refuses them): removed from every text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Zip entry time written for every part, so that the same summary gives the same bytes.
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


@dataclass
class Summary:
    """What the Word summary holds, already disclosure-controlled and in plain words.

    Attributes
    ----------
    title : str
        Cohort name (shown as the title).
    main_points : list of str
        Children's main points, primary measures first.
    main_points_note : str
        Footnote under the main points (the convention for sizes in words).
    facilitator_points : list of str
    about : list of str
        The programme, the people, the period, the sites and n.
    trust : list of str
        "How far to trust these results" statements.
    claims : list of str
        What the data can and cannot show, one sentence per section (shown first under "How far to trust
        these results", in bold).
    evidence : list of (str, pandas.DataFrame)
        Caption and evidence-check table (shown under "Evidence checks", after the summary tables and the
        facilitators' main points).
    evidence_note : str
        Under the evidence tables: what frames the checks.
    warnings : list of str
        Instrument and data warnings (placeholder key, example instrument, answers set missing).
    tables : list of (str, pandas.DataFrame)
        Caption and summary table (human column labels).
    figures : list of (str, bytes)
        Caption and PNG image.
    disclosure : str
        The disclosure note.
    """

    title: str
    main_points: list = field(default_factory=list)
    main_points_note: str = ""
    facilitator_points: list = field(default_factory=list)
    about: list = field(default_factory=list)
    trust: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    evidence: list = field(default_factory=list)
    evidence_note: str = ""
    warnings: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    disclosure: str = ""


def _text(value):
    """A cell or sentence as XML-safe text ('' for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return _NOT_XML.sub("", str(value))


def _bullets(document, items):
    for item in items:
        document.add_paragraph(_text(item), style="List Bullet")


def _table(document, caption, frame):
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document.add_paragraph(_text(caption), style="Caption")
    table = document.add_table(rows=1, cols=len(frame.columns))
    table.style = "Light Grid Accent 1"
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    for cell, name in zip(table.rows[0].cells, frame.columns):
        cell.text = _text(name)
    for _, row in frame.iterrows():
        cells = table.add_row().cells
        for cell, value, is_number in zip(cells, row, numeric):
            cell.text = _text(value)
            if is_number:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _repeat_header(table)
    return table


def _repeat_header(table):
    """Mark the first row as a header row, repeated on each printed page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    props = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    props.append(header)


def _deterministic(blob):
    """Rewrite the package with fixed entry times and order, so equal content gives equal bytes."""
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(name))
    return out.getvalue()


def write_summary(summary, path):
    """Write ``summary`` as a Word document at ``path``; returns the path.

    Parameters
    ----------
    summary : Summary
    path : str or pathlib.Path

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> s = Summary(title="Sample cohort", main_points=["Children's awareness improved: a moderate change."],
    ...             tables=[("Summary", pd.DataFrame({"Measure": ["Total"], "n": [269]}))])
    >>> out = write_summary(s, Path(tempfile.mkdtemp()) / "summary.docx")
    >>> import docx
    >>> [p.text for p in docx.Document(out).paragraphs][:3]
    ['Sample cohort', 'Main points', "Children's awareness improved: a moderate change."]
    """
    import docx
    from docx.shared import Cm

    document = docx.Document()
    properties = document.core_properties
    properties.title = _text(summary.title)
    properties.author = "evalkit"
    properties.comments = "Disclosure-controlled summary; the full tables are in the HTML report."
    import datetime as _dt

    properties.created = properties.modified = _dt.datetime(2000, 1, 1)
    properties.last_modified_by = "evalkit"
    properties.revision = 1
    document.add_heading(_text(summary.title), level=0)
    for warning in summary.warnings:
        paragraph = document.add_paragraph()
        run = paragraph.add_run(_text(warning))
        run.bold = True
    sections = (("Main points", summary.main_points), ("About this evaluation", summary.about),
                ("How far to trust these results", summary.trust),
                ("Facilitators: main points", summary.facilitator_points))
    for heading, items in sections[:3]:
        trusting = heading == "How far to trust these results"
        if items or (trusting and (summary.claims or summary.evidence)):
            document.add_heading(heading, level=1)
            if trusting:
                for claim in summary.claims:
                    document.add_paragraph().add_run(_text(claim)).bold = True
            _bullets(document, items)
            if heading == "Main points" and summary.main_points_note:
                document.add_paragraph().add_run(_text(summary.main_points_note)).italic = True
            if trusting and summary.evidence:
                document.add_paragraph(_text("The evidence checks behind this are in the table under Evidence "
                                             "checks, after the summary tables."))
    if summary.tables:
        document.add_heading("Summary tables", level=1)
        for caption, frame in summary.tables:
            _table(document, caption, frame)
    for caption, png in summary.figures:
        document.add_paragraph(_text(caption), style="Caption")
        document.add_picture(io.BytesIO(png), width=Cm(16))
    heading, items = sections[3]
    if items:
        document.add_heading(heading, level=1)
        _bullets(document, items)
    if summary.evidence:  # the detail of "how far to trust", after the results it qualifies
        document.add_heading("Evidence checks", level=1)
        for caption, frame in summary.evidence:
            _table(document, caption, frame)
        if summary.evidence_note:
            document.add_paragraph().add_run(_text(summary.evidence_note)).italic = True
    if summary.disclosure:
        document.add_heading("Disclosure control", level=1)
        document.add_paragraph(_text(summary.disclosure))
    buffer = io.BytesIO()
    document.save(buffer)
    path = Path(path)
    path.write_bytes(_deterministic(buffer.getvalue()))
    return path
