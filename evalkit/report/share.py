"""``evalkit share``: zip only what may go to a commissioner, after checking it for identifiers and small counts."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from ..errors import ConfigError

__all__ = ["share", "shared_pages", "default_zip"]


def default_zip(report_dir):
    """Where :func:`share` writes by default: ``<folder>-share.zip`` beside the report folder.

    Beside, not inside: the report folder keeps ``results/`` (ids, restricted) and is never sent.

    Examples
    --------
    >>> default_zip("reports/sample").as_posix()
    'reports/sample-share.zip'
    """
    report_dir = Path(report_dir)
    return report_dir.parent / f"{report_dir.name}-share.zip"


def shared_pages(report_dir):
    """The files that go into the zip: the report's HTML pages, ``index.html`` and the Word summary.

    Pages are self-contained (figures are embedded), so nothing beside them is needed. Not shared:
    ``results/`` (ids, the cleaning log), ``notebooks/`` (executed notebooks), ``manifest.json``
    (absolute paths of the data files), and any file that is not a regular file (a symlink could
    point anywhere).
    """
    report_dir = Path(report_dir)
    return sorted(p for pattern in ("*.html", "*.docx") for p in report_dir.glob(pattern)
                  if p.is_file() and not p.is_symlink())


def _refuse(message, **where):
    raise ConfigError(message, **where)


def _min_cell(manifest, report_dir):
    try:
        value = manifest["config"]["disclosure"]["min_cell"]
    except (KeyError, TypeError):
        value = None
    if value is None:
        try:
            from ..data.config import load_config

            value = load_config(manifest["config_path"]).disclosure["min_cell"]
        except Exception:  # noqa: BLE001 - no readable config: the default threshold
            value = 5
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _refuse("manifest.json gives no usable disclosure.min_cell, so small counts cannot be checked",
                file=report_dir / "manifest.json", expected="a report written by evalkit report")
    return value


def share(report_dir, *, to=None):
    """Write the shareable part of a report folder as one zip, after checking it.

    Parameters
    ----------
    report_dir : str or pathlib.Path
        A finished report folder (``evalkit report --out``), with ``manifest.json`` and ``index.html``.
    to : str or pathlib.Path, optional
        The zip to write; default :func:`default_zip` (``<folder>-share.zip`` beside the folder).
        It may not be inside the report folder.

    Returns
    -------
    dict
        ``zip`` (path written), ``files`` (names in the zip), ``min_cell``.

    Raises
    ------
    ConfigError
        Exit 2, and nothing is written, when the folder is not a finished report, when a page
        would load anything from outside itself, when :func:`~evalkit.report.privacy.identifier_scan`
        finds a raw id or data text, or when :func:`~evalkit.report.privacy.disclosure_check` finds a
        small count that is shown or can be worked out. The message names the page and the problem.

    Notes
    -----
    The zip holds the pages under a folder named after the report folder, so links between them
    keep working when it is unpacked. It is written to a temporary file beside the target and
    moved into place, so a failed run leaves no half-written zip.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> share(pathlib.Path(tempfile.mkdtemp()) / "nothing")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    evalkit.errors.ConfigError: not a report folder
    """
    from .privacy import disclosure_check, identifier_scan
    from .render import external_references

    report_dir = Path(report_dir)
    manifest_path = report_dir / "manifest.json"
    if not report_dir.is_dir() or not manifest_path.is_file():
        _refuse("not a report folder: no manifest.json; run evalkit report first, then share its --out folder",
                file=report_dir)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _refuse(f"manifest.json cannot be read ({exc.__class__.__name__})", file=manifest_path)
    if manifest.get("status") != "ok":
        _refuse(f"the report did not finish (status '{manifest.get('status', 'unknown')}'); "
                "run evalkit report again before sharing", file=report_dir)
    pages = shared_pages(report_dir)
    if not any(p.name == "index.html" for p in pages):
        _refuse("the report has no index.html; run evalkit report again before sharing", file=report_dir)
    target = Path(to) if to is not None else default_zip(report_dir)
    if target.resolve().is_relative_to(report_dir.resolve()):
        _refuse("the zip would be written inside the report folder, next to results/ (restricted)",
                file=target, expected="a path outside the report folder (default: <folder>-share.zip beside it)")
    if target.suffix.lower() != ".zip":
        _refuse("the shared file must be a .zip", file=target, expected="e.g. sample-share.zip")
    if target.exists() and not target.is_file():
        _refuse("--to names something that is not a file", file=target)

    min_cell = _min_cell(manifest, report_dir)
    for page in pages:
        loads = external_references(page.read_text(encoding="utf-8", errors="replace"))
        if loads:
            _refuse(f"{page.name} would load {loads[0]} from outside the page; nothing was shared", file=page)
    problems = pd.concat([identifier_scan(report_dir, files=pages),
                          disclosure_check(report_dir, min_cell, files=pages)], ignore_index=True)
    if len(problems):
        first = problems.iloc[0]
        where = [str(first["where"])] if first["where"] in (None, "") or not first["where"].startswith(
            ("table", "output")) else [first["where"]]
        where = [w for w in where if w not in ("id", "data text", "text")]
        if not pd.isna(first["row"]):
            where.append(f"row {first['row']}")
        if first["column"] is not None and not pd.isna(first["column"]):
            where.append(f"column '{first['column']}'")
        more = f" ({len(problems) - 1} more problem(s) in the report)" if len(problems) > 1 else ""
        _refuse(f"{', '.join(where) + ': ' if where else ''}{first['problem']}{more}; nothing was shared. "
                "Fix the report (or remove the page) and share again", file=report_dir / str(first["file"]))

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for page in pages:
                zf.write(page, f"{report_dir.resolve().name}/{page.name}")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"zip": target, "files": [p.name for p in pages], "min_cell": min_cell}
