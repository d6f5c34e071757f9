"""Read and check the cohort config (YAML): the contract every other part of evalkit reads."""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from ..errors import ConfigError
from .instruments import load_instrument, parse_step, timepoint_key
from .io import column_key

#: Defaults applied to every cohort config; documented in README.md ("Cohort config").
DEFAULTS = {
    "analysis": {"alpha": 0.05, "age_bands": [5, 11, 17], "min_group_n": 10, "primary": [], "comparison": None,
                 "full_dose": 5},
    "disclosure": {"min_cell": 5},
}
SECTION_DEFAULTS = {
    "children": {
        "instrument": "eaq30",
        "columns": {"id": "child_id", "timepoint": "timepoint"},
        "items": {},
        "timepoints": {"pre": ["pre", "baseline"], "post": ["post", "end"]},
        "reliability": {},
    },
    "facilitators": {
        "instrument": "facilitator_tip",
        "columns": {"id": "facilitator_id", "timepoint": "timepoint"},
        "items": {},
        "timepoints": {"pre": ["pre"], "post": ["post"]},
        "reliability": {},
    },
}
TOP_KEYS = {"name", "children", "facilitators", "analysis", "disclosure", "about", "sessions", "system"}
ABOUT_KEYS = {"programme", "description", "period"}
#: Shown on the index and in Word when the config's ``about.programme`` is not given.
DEFAULT_PROGRAMME = (
    "Healing Together is a trauma-informed programme for children aged 5 to 16 who have been affected by domestic "
    "abuse: six sessions, in groups or one-to-one, delivered by trained practitioners such as school staff and "
    "family-hub and early-help workers. Children answer a questionnaire about their emotions before and after the "
    "sessions, and facilitators answer one about their knowledge, understanding and confidence before and after "
    "their training.")
SECTION_KEYS = {"file", "instrument", "columns", "items", "timepoints", "reliability", "layout", "wide_columns",
                "response"}
COLUMN_ROLES = {"id", "timepoint", "age", "delivery", "referral_reason", "site", "date_of_birth", "date",
                "group", "facilitator", "sessions", "arm", "trained_on"}
#: Keys of the ``sessions`` section (issue 13: one row per delivered session).
SESSIONS_KEYS = {"file", "columns", "fidelity", "planned_sessions"}
#: Roles of ``sessions.columns``; ``group`` and ``date`` are required.
SESSIONS_ROLES = ("group", "facilitator", "site", "date", "session", "attended")
SESSIONS_REQUIRED = ("group", "date")
#: Keys of the ``system`` section (issue 13: one row per locality, month and measure).
SYSTEM_KEYS = {"file", "columns", "embedded_from", "measures"}
#: Roles of ``system.columns``, all required.
SYSTEM_ROLES = ("locality", "month", "measure", "count", "denominator")
#: Keys of one entry of ``system.measures``, and the values ``lower_is`` takes.
MEASURE_KEYS = {"label", "lower_is"}
LOWER_IS = ("better", "worse")
#: Layouts of a section's files: one questionnaire per row (long), or one person per row (wide).
LAYOUTS = ("long", "wide")
#: How a wide file names its answer columns, unless the section's ``wide_columns`` says otherwise.
DEFAULT_WIDE_COLUMNS = "{item}_{timepoint}"
RESPONSE_KEYS = ("min", "max", "step")
ANALYSIS_KEYS = {"alpha", "age_bands", "min_group_n", "primary", "comparison", "full_dose"}
DISCLOSURE_KEYS = {"min_cell"}
#: The two timepoints every section has; ``scores`` holds these.
TIMEPOINTS = ("pre", "post")
#: Every wave a section may have, in time order: ``follow_up`` is optional (``timepoints: {follow_up: [...]}``).
WAVES = ("pre", "post", "follow_up")
#: The two arms of ``analysis.comparison``, as the ``arm`` column of ``SectionData.scores`` and ``waves`` holds them.
ARMS = ("intervention", "comparison")


@dataclass
class SectionConfig:
    """Settings of one section (``children`` or ``facilitators``) of a cohort config."""

    name: str
    files: list
    instrument: str
    columns: dict
    items: dict
    timepoints: dict
    reliability: dict = field(default_factory=dict)
    #: ``"long"`` (one questionnaire per row) or ``"wide"`` (one person per row, a block of items per timepoint).
    layout: str = "long"
    #: How a wide file's answer columns are named: ``{item}`` and ``{timepoint}`` (any label of a timepoint).
    wide_columns: str = DEFAULT_WIDE_COLUMNS
    #: The timepoint (``"pre"``/``"post"``/``"follow_up"``) of each file of ``files`` when ``file`` gives one
    #: per timepoint, else empty.
    file_timepoints: list = field(default_factory=list)
    #: ``response: {min, max, step}`` of the section: overrides the instrument's (None when not given).
    response: dict | None = None

    @property
    def waves(self):
        """The section's timepoints in time order: ``("pre", "post")``, then ``"follow_up"`` when configured."""
        return tuple(tp for tp in WAVES if tp in self.timepoints)

    def timepoint_of(self, path):
        """The timepoint a file was given for (``file: {pre: ..., post: ...}``), or None."""
        if not self.file_timepoints:
            return None
        return dict(zip(map(str, self.files), self.file_timepoints)).get(str(path))


@dataclass
class SessionsConfig:
    """The ``sessions`` section: one row per delivered session (issue 13).

    Attributes
    ----------
    files : list of pathlib.Path
        Absolute paths of the session files.
    columns : dict
        Role (``group``, ``date`` and optionally ``facilitator``, ``site``, ``session``, ``attended``) ->
        source column name.
    fidelity : list of str
        The source columns holding yes/no (1/0): a core component delivered at the session. Empty when
        not given.
    planned_sessions : int or None
        Sessions each group should deliver.
    """

    files: list
    columns: dict
    fidelity: list = field(default_factory=list)
    planned_sessions: int | None = None


@dataclass
class SystemConfig:
    """The ``system`` section: system outcomes, one row per locality, month and measure (issue 13).

    Attributes
    ----------
    files : list of pathlib.Path
        Absolute paths of the system files.
    columns : dict
        Role (``locality``, ``month``, ``measure``, ``count``, ``denominator``) -> source column name.
    embedded_from : dict
        Locality (as written in the config) -> :class:`pandas.Period` of monthly frequency
        (``Period('2025-09', 'M')``): the month it embedded the programme, which counts as after.
    measures : dict
        Measure key (as the ``measure`` column holds it) -> ``{"label": str, "lower_is": "better" | "worse"}``,
        in the config's order.
    """

    files: list
    columns: dict
    embedded_from: dict = field(default_factory=dict)
    measures: dict = field(default_factory=dict)


@dataclass
class CohortConfig:
    """A checked cohort config with defaults applied and file paths made absolute."""

    path: Path
    name: str
    sections: dict
    analysis: dict
    disclosure: dict
    raw: dict
    #: ``about``: ``programme`` (default :data:`DEFAULT_PROGRAMME`), ``description`` and ``period`` (empty if not
    #: given); free text shown escaped on the index and in Word.
    about: dict = field(default_factory=dict)
    #: The ``sessions`` section (:class:`SessionsConfig`: one row per delivered session), or None.
    sessions: SessionsConfig | None = None
    #: The ``system`` section (:class:`SystemConfig`: monthly system outcomes per locality), or None.
    system: SystemConfig | None = None

    @property
    def children(self):
        """The children section, or None when the cohort has none."""
        return self.sections.get("children")

    @property
    def facilitators(self):
        """The facilitators section, or None when the cohort has none."""
        return self.sections.get("facilitators")

    def input_files(self):
        """Every data file the config points at (for checksums in the manifest), per-timepoint files included."""
        return ([f for s in self.sections.values() for f in s.files]
                + [f for s in (self.sessions, self.system) if s is not None for f in s.files])


def _unknown(keys, allowed, where, path):
    extra = sorted(set(keys) - set(allowed))
    if extra:
        raise ConfigError(
            f"unknown key '{extra[0]}' in {where}"
            + (f" (also: {', '.join(extra[1:])})" if len(extra) > 1 else "")
            + f"; allowed keys are {', '.join(sorted(allowed))}. Fix the spelling or remove it.",
            file=path,
            column=f"{where}.{extra[0]}" if where != "the top level" else extra[0],
        )


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when installed
    """A safe YAML loader that refuses a key given twice (YAML would silently keep the last)."""


class _RepeatedKey(yaml.YAMLError):
    def __init__(self, key, line):
        super().__init__(f"the key '{key}' is given twice (the second time on line {line}); keep one")


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)):
            continue
        if key in seen:
            raise _RepeatedKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path):
    """Read a YAML file (UTF-8, with or without BOM), refusing repeated keys.

    Raises
    ------
    ConfigError
        Unreadable file, invalid YAML or a key given twice, naming the line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text; save it as UTF-8", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror or exc.__class__.__name__})", file=path) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except _RepeatedKey as exc:
        raise ConfigError(str(exc), file=path) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"not valid YAML{line} ({exc.__class__.__name__}: {problem})", file=path) from None


def _scalar(value):
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip() != ""


def _section(name, raw, path):
    if not isinstance(raw, dict):
        raise ConfigError(f"section '{name}' must be a mapping with at least a 'file' key", file=path, column=name)
    _unknown(raw, SECTION_KEYS, name, path)
    merged = copy.deepcopy(SECTION_DEFAULTS[name])
    for key, value in raw.items():
        if key in ("columns", "timepoints") and isinstance(value, dict):
            merged[key] = {**merged[key], **value} if key == "columns" else dict(value)
        else:
            merged[key] = value
    if "file" not in raw or not (raw["file"] if isinstance(raw["file"], dict) else _as_list(raw["file"])):
        raise ConfigError(f"section '{name}' has no 'file'", file=path, column=f"{name}.file",
                          expected="a path relative to the config, or a list of paths")
    if not _scalar(merged["instrument"]):
        raise ConfigError("'instrument' must be a shipped instrument id or a path to an instrument .yml file",
                          file=path, column=f"{name}.instrument", expected="e.g. eaq30")
    columns = merged["columns"]
    if not isinstance(columns, dict):
        raise ConfigError("'columns' must map roles to column names", file=path, column=f"{name}.columns")
    _unknown(columns, COLUMN_ROLES, f"{name}.columns", path)
    if "trained_on" in columns and name != "facilitators":
        raise ConfigError(f"'{name}.columns.trained_on' names a training date, which is read from the facilitators "
                          f"section only; move it to 'facilitators.columns' or remove it", file=path,
                          column=f"{name}.columns.trained_on", expected="facilitators: {columns: {trained_on: "
                                                                        "training_date}}")
    named = {}
    for role, column in columns.items():
        if not _scalar(column):
            raise ConfigError(f"'{name}.columns.{role}' must be a column name", file=path,
                              column=f"{name}.columns.{role}", expected="e.g. child_id")
        key = column_key(column)
        if key in named:
            raise ConfigError(f"roles '{named[key]}' and '{role}' both name the column '{column}'; each role needs "
                              f"its own column", file=path, column=f"{name}.columns.{role}")
        named[key] = role
    timepoints = merged["timepoints"]
    if not isinstance(timepoints, dict):
        raise ConfigError("'timepoints' must map pre/post to lists of labels", file=path, column=f"{name}.timepoints")
    _unknown(timepoints, WAVES, f"{name}.timepoints", path)
    owner = {}
    waves = [tp for tp in WAVES if tp in TIMEPOINTS or tp in timepoints]
    for tp in waves:
        if tp not in timepoints or not _as_list(timepoints[tp]):
            raise ConfigError(f"'{name}.timepoints' has no '{tp}' labels", file=path,
                              column=f"{name}.timepoints.{tp}",
                              expected="e.g. {pre: [pre], post: [post]}" if tp != "follow_up" else
                              "e.g. follow_up: [follow-up, 6 months], or remove 'follow_up'")
        for label in _as_list(timepoints[tp]):
            if not _scalar(label):
                raise ConfigError(f"'{name}.timepoints.{tp}' must be a list of labels (text or numbers)", file=path,
                                  column=f"{name}.timepoints.{tp}", expected="e.g. [pre, baseline]")
            key = timepoint_key(label)
            if owner.get(key, tp) != tp:
                raise ConfigError(f"the label '{label}' is listed under both {owner[key]} and {tp}; a label must "
                                  f"say one timepoint (numbers compare as numbers: 1, 1.0 and 01 are one label)",
                                  file=path, column=f"{name}.timepoints.{tp}")
            owner[key] = tp
    files, file_timepoints = _files(name, raw["file"], owner, path)
    layout, wide_columns = _layout(name, merged, path)
    if file_timepoints and layout == "wide":
        raise ConfigError(f"'{name}.file' gives a file per timepoint, which is the long layout (a wide file holds "
                          f"every timepoint in one row); remove 'layout: wide', or give the wide file as "
                          f"'file: name.csv'", file=path, column=f"{name}.layout")
    response = _response(name, merged.get("response"), path)
    _check_dates(name, columns, path)
    items = merged.get("items") or {}
    if not isinstance(items, dict):
        raise ConfigError("'items' must map source columns to item ids", file=path, column=f"{name}.items")
    for source, target in items.items():
        if not _scalar(source) or not _scalar(target):
            raise ConfigError("'items' must map column names to item ids", file=path,
                              column=f"{name}.items.{source}", expected="e.g. {'Question 1': q1}")
    reliability = merged.get("reliability") or {}
    if not isinstance(reliability, dict):
        raise ConfigError("'reliability' must map measure ids to reliability coefficients",
                          file=path, column=f"{name}.reliability")
    for measure, value in reliability.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
            raise ConfigError(f"the reliability of '{measure}' must be a number above 0 and at most 1",
                              file=path, column=f"{name}.reliability.{measure}", expected="e.g. 0.78")
    return SectionConfig(
        name=name,
        files=files,
        instrument=str(merged["instrument"]),
        columns={k: str(v) for k, v in columns.items()},
        items={str(k): str(v) for k, v in items.items()},
        timepoints={tp: [str(x) for x in _as_list(timepoints[tp])] for tp in waves},
        reliability={str(k): float(v) for k, v in reliability.items()},
        layout=layout,
        wide_columns=wide_columns,
        file_timepoints=file_timepoints,
        response=response,
    )


def _files(name, value, owner, path):
    """``file`` as absolute paths, with each file's timepoint when given per timepoint (``{pre: .., post: ..}``).

    A per-timepoint key is ``pre``, ``post`` or any label listed under ``timepoints``.
    """
    def one(entry):
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"'{name}.file' entries must be paths", file=path, column=f"{name}.file",
                              expected="e.g. file: children.csv, file: [site_a.csv, site_b.xlsx] or "
                                       "file: {pre: baseline.xlsx, post: end.csv}")
        p = Path(entry)
        return p if p.is_absolute() else (path.parent / p)

    if not isinstance(value, dict):
        return [one(entry) for entry in _as_list(value)], []
    files, timepoints = [], []
    waves = set(owner.values())
    for key, entries in value.items():
        tp = key if key in waves else owner.get(timepoint_key(key)) if _scalar(key) else None
        if tp is None:
            raise ConfigError(f"'{name}.file' names the timepoint '{key}', which is neither "
                              f"{', '.join(w for w in WAVES if w in waves)} nor a label under "
                              f"'{name}.timepoints'", file=path, column=f"{name}.file.{key}",
                              expected="e.g. file: {pre: baseline.xlsx, post: [end_site_a.csv, end_site_b.csv]}")
        listed = _as_list(entries)
        if not listed:
            raise ConfigError(f"'{name}.file.{key}' names no file", file=path, column=f"{name}.file.{key}",
                              expected="a path, or a list of paths")
        for entry in listed:
            files.append(one(entry))
            timepoints.append(tp)
    return files, timepoints


def _layout(name, section, path):
    """``layout`` and ``wide_columns`` of a section, checked."""
    layout = section.get("layout", "long")
    if not isinstance(layout, str) or layout.strip().lower() not in LAYOUTS:
        raise ConfigError(f"'{name}.layout' must be long or wide, not {layout!r}", file=path, column=f"{name}.layout",
                          expected="layout: long (one questionnaire per row, the default) or layout: wide (one "
                                   "person per row, e.g. q1_pre ... q1_post)")
    layout = layout.strip().lower()
    pattern = section.get("wide_columns")
    if pattern is None:
        return layout, DEFAULT_WIDE_COLUMNS
    if layout != "wide":
        raise ConfigError(f"'{name}.wide_columns' is only read with 'layout: wide'; add 'layout: wide' or remove "
                          f"'wide_columns'", file=path, column=f"{name}.wide_columns")
    fields = re_fields(pattern) if isinstance(pattern, str) else None
    if fields is None or sorted(fields) != ["item", "timepoint"]:
        raise ConfigError(f"'{name}.wide_columns' must hold {{item}} and {{timepoint}} once each (and no other "
                          f"{{...}}), e.g. \"{{item}}_{{timepoint}}\" for q1_pre or \"{{timepoint}}{{item}}\" for Preq1",
                          file=path, column=f"{name}.wide_columns", expected=f'"{DEFAULT_WIDE_COLUMNS}"')
    return layout, pattern


def re_fields(pattern):
    """The ``{name}`` fields of a ``wide_columns`` pattern, in order (None when a brace is unbalanced).

    Examples
    --------
    >>> re_fields("{timepoint}{item}"), re_fields("{item}_{timepoint"), re_fields("{item}_{time}_{item}")
    (['timepoint', 'item'], None, ['item', 'time', 'item'])
    """
    fields = re.findall(r"\{([^{}]*)\}", pattern)
    if re.sub(r"\{[^{}]*\}", "", pattern).count("{") or re.sub(r"\{[^{}]*\}", "", pattern).count("}"):
        return None
    return fields


def _response(name, value, path):
    """A section's ``response: {min, max, step}`` (overrides the instrument's), checked; None when absent."""
    if value is None:
        return None
    key = f"{name}.response"
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"'{key}' must map min, max (and optionally step) to numbers", file=path, column=key,
                          expected="e.g. response: {min: 0, max: 40}")
    _unknown(value, RESPONSE_KEYS, key, path)
    out = {}
    for k in ("min", "max"):
        if k in value:
            if not _number(value[k]):
                raise ConfigError(f"'{key}.{k}' must be a finite number (not true/false)", file=path,
                                  column=f"{key}.{k}", expected="e.g. response: {min: 0, max: 40}")
            out[k] = value[k]
    if "min" in out and "max" in out and not out["min"] < out["max"]:
        raise ConfigError(f"'{key}' gives min {out['min']:g} and max {out['max']:g}: min must be below max",
                          file=path, column=key, expected="e.g. response: {min: 0, max: 40}")
    if "step" in value:

        def fail(msg, column=None, expected=None):
            raise ConfigError(msg, file=path, column=f"{name}.{column}", expected=expected)

        out["step"] = parse_step(value["step"], fail, "response.step")
    return out


def _check_dates(name, columns, path):
    """``date_of_birth`` needs ``date`` (the age is computed at the questionnaire's date) and excludes ``age``."""
    if "date_of_birth" in columns and "date" not in columns:
        raise ConfigError(f"'{name}.columns.date_of_birth' needs '{name}.columns.date' too: the age is computed at "
                          f"the date of the baseline questionnaire", file=path, column=f"{name}.columns.date",
                          expected="e.g. columns: {date_of_birth: dob, date: completed_on}")
    if "date_of_birth" in columns and "age" in columns:
        raise ConfigError(f"'{name}.columns' names both an age and a date of birth column; name one of them (the "
                          f"age is computed from the date of birth)", file=path, column=f"{name}.columns.age")


def load_config(path):
    """Read a cohort config, apply defaults and check every key.

    Parameters
    ----------
    path : str or pathlib.Path
        The cohort YAML file. Data file paths inside it are relative to it.

    Returns
    -------
    CohortConfig

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, repeats a key, has an unknown key or
        a value of the wrong kind (e.g. a timepoint label under both pre and
        post, two roles naming one column), or has no section; in ``sessions``
        and ``system`` (issue 13) also a required column role missing,
        ``fidelity`` not a list of column names, ``planned_sessions`` not a
        whole number of at least 1, an ``embedded_from`` month not written
        ``YYYY-MM``, a measure without a label or with ``lower_is`` other than
        better or worse. Each message names the key and the fix.

    Examples
    --------
    >>> cfg = load_config("data/sample/cohort.yml")
    >>> sorted(cfg.sections)
    ['children', 'facilitators']
    >>> cfg.analysis["min_group_n"], cfg.disclosure["min_cell"]
    (10, 5)
    """
    path = Path(path)
    if not path.is_file():  # never opened unless a regular file: opening a named pipe waits forever
        if path.exists():
            raise ConfigError("this is not a regular file (a folder, a named pipe or a device); name the cohort "
                              "config .yml file", file=path)
        raise ConfigError("cohort config not found; check the path", file=path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("a cohort config must be a YAML mapping", file=path,
                          expected="keys name, children, facilitators, analysis, disclosure")
    _unknown(raw, TOP_KEYS, "the top level", path)
    sections = {}
    for name in ("children", "facilitators"):
        if raw.get(name) is not None:
            sections[name] = _section(name, raw[name], path.resolve())
    if not sections:
        raise ConfigError("the config has neither a 'children' nor a 'facilitators' section", file=path,
                          expected="at least one section with a 'file'")
    for key in ("analysis", "disclosure"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise ConfigError(f"'{key}' must be a mapping of settings", file=path, column=key,
                              expected="e.g. {alpha: 0.05}" if key == "analysis" else "e.g. {min_cell: 5}")
    if raw.get("name") is not None and not _scalar(raw["name"]):
        raise ConfigError("'name' must be a short text", file=path, column="name")
    analysis = copy.deepcopy(DEFAULTS["analysis"])
    a = raw.get("analysis") or {}
    _unknown(a, ANALYSIS_KEYS, "analysis", path)
    analysis.update(a)
    _check_analysis(analysis, path)
    disclosure = copy.deepcopy(DEFAULTS["disclosure"])
    d = raw.get("disclosure") or {}
    _unknown(d, DISCLOSURE_KEYS, "disclosure", path)
    disclosure.update(d)
    disclosure["min_cell"] = _whole_number(disclosure["min_cell"], 1, path, "disclosure.min_cell",
                                           "e.g. min_cell: 5 (counts below it are shown as '<5')")
    about = _about(raw.get("about"), path)
    _check_primary(analysis, sections, path)
    _check_comparison(analysis, sections, path)
    sessions = _sessions(raw["sessions"], path.resolve()) if raw.get("sessions") is not None else None
    system = _system(raw["system"], path.resolve()) if raw.get("system") is not None else None
    return CohortConfig(path=path.resolve(), name=str(raw.get("name") or path.stem), sections=sections,
                        analysis=analysis, disclosure=disclosure, raw=raw, about=about, sessions=sessions,
                        system=system)


# ----------------------------------------------------------------------------- issue 13: sessions and system

_SESSIONS_EXAMPLE = ("e.g. sessions: {file: sessions.csv, columns: {group: group_id, date: session_date}, "
                     "fidelity: [core_1, core_2], planned_sessions: 6}")
_SYSTEM_EXAMPLE = ("e.g. system: {file: system.csv, columns: {locality: area, month: month, measure: measure, "
                   "count: count, denominator: children_open}, measures: {referrals_on: {label: Referrals to "
                   "specialist services, lower_is: better}}}")


def _plain_files(name, value, path):
    """``file`` of a section without timepoints: one path or a list of paths, made absolute."""
    listed = _as_list(value) if not isinstance(value, dict) else None
    if not listed:
        raise ConfigError(f"section '{name}' has no 'file'" if not value else
                          f"'{name}.file' must be a path or a list of paths (a file per timepoint is for "
                          f"questionnaires only)", file=path, column=f"{name}.file",
                          expected="a path relative to the config, or a list of paths")
    out = []
    for entry in listed:
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"'{name}.file' entries must be paths", file=path, column=f"{name}.file",
                              expected=f"e.g. file: {name}.csv or file: [{name}_a.csv, {name}_b.xlsx]")
        p = Path(entry)
        out.append(p if p.is_absolute() else path.parent / p)
    return out


def _role_columns(name, value, roles, required, path, example):
    """``<name>.columns``: known roles mapped to distinct column names, the required ones present."""
    if not isinstance(value, dict):
        raise ConfigError(f"'{name}.columns' must map roles to column names", file=path, column=f"{name}.columns",
                          expected=example)
    _unknown(value, roles, f"{name}.columns", path)
    missing = [r for r in required if r not in value]
    if missing:
        raise ConfigError(f"'{name}.columns' does not name the {' and '.join(missing)} column"
                          f"{'s' if len(missing) > 1 else ''}; the {name} section needs "
                          f"{', '.join(required)}: add {', '.join(f'{r}: <column name>' for r in missing)}",
                          file=path, column=f"{name}.columns.{missing[0]}", expected=example)
    named = {}
    for role, column in value.items():
        if not _scalar(column):
            raise ConfigError(f"'{name}.columns.{role}' must be a column name", file=path,
                              column=f"{name}.columns.{role}", expected=example)
        key = column_key(column)
        if key in named:
            raise ConfigError(f"roles '{named[key]}' and '{role}' both name the column '{column}'; each role needs "
                              f"its own column", file=path, column=f"{name}.columns.{role}")
        named[key] = role
    return {str(k): str(v) for k, v in value.items()}


def _sessions(raw, path):
    """The ``sessions`` section, checked (see :class:`SessionsConfig`)."""
    if not isinstance(raw, dict):
        raise ConfigError("section 'sessions' must be a mapping with at least 'file' and 'columns'", file=path,
                          column="sessions", expected=_SESSIONS_EXAMPLE)
    _unknown(raw, SESSIONS_KEYS, "sessions", path)
    files = _plain_files("sessions", raw.get("file"), path)
    columns = _role_columns("sessions", raw.get("columns"), SESSIONS_ROLES, SESSIONS_REQUIRED, path,
                            "e.g. columns: {group: group_id, facilitator: facilitator_id, site: site, date: "
                            "session_date, session: session_number, attended: children_present}")
    fidelity = raw.get("fidelity")
    if fidelity is None:
        fidelity = []
    if not isinstance(fidelity, list) or not all(isinstance(c, str) and c.strip() for c in fidelity):
        raise ConfigError("'sessions.fidelity' must be a list of column names (text), one per core component "
                          "holding yes/no or 1/0", file=path, column="sessions.fidelity",
                          expected="e.g. fidelity: [core_1, core_2, core_3, core_4]")
    keys = [column_key(c) for c in fidelity]
    if len(set(keys)) != len(keys):
        raise ConfigError("'sessions.fidelity' lists a column twice; list each core component's column once",
                          file=path, column="sessions.fidelity", expected="e.g. fidelity: [core_1, core_2]")
    roles = {column_key(v): r for r, v in columns.items()}
    clash = [c for c in fidelity if column_key(c) in roles]
    if clash:
        raise ConfigError(f"'sessions.fidelity' lists the column '{clash[0]}', which "
                          f"'sessions.columns.{roles[column_key(clash[0])]}' names too; a fidelity column holds "
                          f"only yes/no", file=path, column="sessions.fidelity")
    planned = raw.get("planned_sessions")
    if planned is not None:
        planned = _whole_number(planned, 1, path, "sessions.planned_sessions",
                                "e.g. planned_sessions: 6 (the sessions each group should deliver)")
    return SessionsConfig(files=files, columns=columns, fidelity=[str(c) for c in fidelity],
                          planned_sessions=planned)


def _month(value):
    """``value`` as a monthly :class:`pandas.Period` when it is written ``YYYY-MM``, else None.

    Examples
    --------
    >>> _month("2025-09"), _month("2025-9"), _month("2025-13")
    (Period('2025-09', 'M'), None, None)
    """
    if isinstance(value, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value.strip()):
        return pd.Period(value.strip(), freq="M")
    return None


def _system(raw, path):
    """The ``system`` section, checked (see :class:`SystemConfig`)."""
    if not isinstance(raw, dict):
        raise ConfigError("section 'system' must be a mapping with at least 'file', 'columns' and 'measures'",
                          file=path, column="system", expected=_SYSTEM_EXAMPLE)
    _unknown(raw, SYSTEM_KEYS, "system", path)
    files = _plain_files("system", raw.get("file"), path)
    columns = _role_columns("system", raw.get("columns"), SYSTEM_ROLES, SYSTEM_ROLES, path,
                            "e.g. columns: {locality: area, month: month, measure: measure, count: count, "
                            "denominator: children_open}")
    embedded = raw.get("embedded_from")
    if embedded is None:
        embedded = {}
    example = "e.g. embedded_from: {Kent North: 2025-09, Camden: 2025-11}"
    if not isinstance(embedded, dict):
        raise ConfigError("'system.embedded_from' must map each locality to the month it embedded the programme",
                          file=path, column="system.embedded_from", expected=example)
    months, seen = {}, {}
    for locality, month in embedded.items():
        if not _scalar(locality):
            raise ConfigError("'system.embedded_from' must be keyed by locality names", file=path,
                              column="system.embedded_from", expected=example)
        period = _month(month)
        if period is None:
            found = "a full date" if hasattr(month, "year") else repr(month)
            raise ConfigError(f"the month of '{locality}' must be written YYYY-MM (year and month, e.g. 2025-09), "
                              f"not {found}; write the first month that counts as embedded", file=path,
                              column=f"system.embedded_from.{locality}", expected=example)
        key = " ".join(str(locality).split()).casefold()
        if key in seen:
            raise ConfigError(f"'system.embedded_from' names the locality '{locality}' twice ('{seen[key]}'); "
                              f"localities are compared ignoring case and spaces; keep one", file=path,
                              column=f"system.embedded_from.{locality}", expected=example)
        seen[key] = locality
        months[" ".join(str(locality).split())] = period
    measures = raw.get("measures")
    example = "e.g. measures: {referrals_on: {label: Referrals to specialist services, lower_is: better}}"
    if not isinstance(measures, dict) or not measures:
        raise ConfigError("'system.measures' must map each measure (as the measure column writes it) to its "
                          "label and whether lower is better or worse", file=path, column="system.measures",
                          expected=example)
    out, seen = {}, {}
    for key, entry in measures.items():
        where = f"system.measures.{key}"
        if not _scalar(key):
            raise ConfigError("'system.measures' must be keyed by measure names", file=path,
                              column="system.measures", expected=example)
        if not isinstance(entry, dict):
            raise ConfigError(f"'{where}' must be a mapping with a label and lower_is", file=path, column=where,
                              expected=example)
        _unknown(entry, MEASURE_KEYS, where, path)
        if not _scalar(entry.get("label")):
            raise ConfigError(f"'{where}' has no label; add the words a reader sees, e.g. label: Referrals to "
                              f"specialist services", file=path, column=f"{where}.label", expected=example)
        lower = entry.get("lower_is")
        if not isinstance(lower, str) or lower.strip().lower() not in LOWER_IS:
            raise ConfigError(f"'{where}.lower_is' must be better or worse, not {lower!r}: say whether a fall in "
                              f"this measure is good news", file=path, column=f"{where}.lower_is",
                              expected="lower_is: better (e.g. escalations) or lower_is: worse")
        folded = " ".join(str(key).split()).casefold()
        if folded in seen:
            raise ConfigError(f"'system.measures' names '{key}' and '{seen[folded]}', which the measure column "
                              f"cannot tell apart (case and spaces are ignored); keep one", file=path,
                              column=where)
        seen[folded] = key
        out[str(key)] = {"label": " ".join(str(entry["label"]).split()), "lower_is": lower.strip().lower()}
    return SystemConfig(files=files, columns=columns, embedded_from=months, measures=out)


def _about(raw, path):
    """The ``about`` section with its defaults: the programme, who took part, the period."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("'about' must be a mapping", file=path, column="about",
                          expected='e.g. {programme: Healing Together, period: "September 2025 to July 2026"}')
    _unknown(raw, ABOUT_KEYS, "about", path)
    for key, value in raw.items():
        if value is not None and not _scalar(value):
            raise ConfigError(f"'about.{key}' must be text", file=path, column=f"about.{key}",
                              expected='e.g. period: "September 2025 to July 2026"')
    return {"programme": " ".join(str(raw.get("programme") or DEFAULT_PROGRAMME).split()),
            "description": " ".join(str(raw.get("description") or "").split()),
            "period": " ".join(str(raw.get("period") or "").split())}


def _check_primary(analysis, sections, path):
    """``analysis.primary``: a list of measure ids that the cohort's instruments score."""
    primary = analysis.get("primary")
    if primary is None:
        primary = []
    if isinstance(primary, str):
        primary = [primary]
    if not isinstance(primary, list) or not all(_scalar(p) for p in primary):
        raise ConfigError("'analysis.primary' must be a list of measure ids", file=path, column="analysis.primary",
                          expected="e.g. primary: [differentiating, verbal_sharing]")
    primary = [str(p) for p in primary]

    known = []
    for section in sections.values():
        try:
            known += load_instrument(section.instrument, base=path.parent).measures
        except ConfigError:
            return  # the instrument's own error is raised, with its file, when the cohort is read
    unknown = [p for p in primary if p not in known]
    if unknown:
        raise ConfigError(f"'analysis.primary' names '{unknown[0]}', which no instrument of this cohort scores",
                          file=path, column="analysis.primary", expected=f"some of {', '.join(known)}")
    if len(set(primary)) != len(primary):
        raise ConfigError("'analysis.primary' lists a measure twice", file=path, column="analysis.primary")
    analysis["primary"] = primary


def _number(value):
    """Whether ``value`` is a finite number (not a boolean, which YAML reads from true/false/yes/no)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole_number(value, least, path, key, example):
    """``value`` as an int when it is a whole number of at least ``least`` (``5.0`` counts), else ConfigError."""
    if _number(value) and float(value).is_integer() and value >= least:
        return int(value)
    found = ("true/false" if isinstance(value, bool) else "not a finite number" if isinstance(value, float)
             and not math.isfinite(value) else f"{value!r}")
    raise ConfigError(f"{key.split('.')[-1]} must be a whole number of at least {least}, not {found}; write "
                      f"{example}", file=path, column=key)


def _check_analysis(analysis, path):
    alpha = analysis["alpha"]
    if not _number(alpha) or not 0 < alpha < 1:
        raise ConfigError("alpha must be a number between 0 and 1 (not true/false or NaN); write e.g. alpha: 0.05",
                          file=path, column="analysis.alpha")
    bands = analysis["age_bands"]
    if not isinstance(bands, list) or len(bands) < 2 or not all(_number(b) for b in bands):
        bad = [b for b in bands if not _number(b)] if isinstance(bands, list) else []
        why = "" if not bad else (" (true/false is not an age)" if isinstance(bad[0], bool) else
                                  " (NaN or infinity is not an age)" if isinstance(bad[0], float) else
                                  f" ({bad[0]!r} is not an age)")
        raise ConfigError(f"age_bands must be an increasing list of at least two ages (band edges), each a finite "
                          f"number{why}", file=path, column="analysis.age_bands", expected="e.g. [5, 11, 17]")
    if any(b2 <= b1 for b1, b2 in zip(bands, bands[1:])):
        raise ConfigError("age_bands must be increasing (each band edge above the one before); sort them",
                          file=path, column="analysis.age_bands", expected="e.g. [5, 11, 17]")
    analysis["min_group_n"] = _whole_number(analysis["min_group_n"], 2, path, "analysis.min_group_n",
                                            "e.g. min_group_n: 10")
    analysis["full_dose"] = _whole_number(analysis["full_dose"], 1, path, "analysis.full_dose",
                                          "e.g. full_dose: 5 (the sessions attended that count as a full dose)")


def _check_comparison(analysis, sections, path):
    """``analysis.comparison``: which levels of the ``arm`` column are the intervention and which the comparison.

    Stored as ``{"intervention": [...], "comparison": [...]}`` (lists of text), or None when not given. Labels
    are compared as timepoint labels are (case, spaces and numbers folded), so they must differ under that
    folding. A section that names an ``arm`` column needs it, and it needs an ``arm`` column in the children.
    """
    value = analysis.get("comparison")
    example = "e.g. comparison: {intervention: [healing together], comparison: [waiting list]}"
    armed = [name for name, s in sections.items() if "arm" in s.columns]
    if value is None:
        analysis["comparison"] = None
        if armed:
            raise ConfigError(f"'{armed[0]}.columns.arm' names an arm column, but 'analysis.comparison' does not say "
                              f"which of its levels are the intervention and which the comparison; add "
                              f"'analysis.comparison', or remove 'columns.arm'", file=path,
                              column="analysis.comparison", expected=example)
        return
    if not isinstance(value, dict):
        raise ConfigError("'analysis.comparison' must map intervention and comparison to lists of labels of the "
                          "arm column", file=path, column="analysis.comparison", expected=example)
    _unknown(value, ARMS, "analysis.comparison", path)
    out, owner = {}, {}
    for arm in ARMS:
        labels = _as_list(value.get(arm))
        if not labels:
            raise ConfigError(f"'analysis.comparison' has no '{arm}' labels; list the levels of the arm column "
                              f"that mean the {arm} arm", file=path, column=f"analysis.comparison.{arm}",
                              expected=example)
        for label in labels:
            if not _scalar(label):
                raise ConfigError(f"'analysis.comparison.{arm}' must be a list of labels (text or numbers)",
                                  file=path, column=f"analysis.comparison.{arm}", expected=example)
            key = timepoint_key(label)
            if owner.get(key, arm) != arm:
                raise ConfigError(f"the label '{label}' is listed under both intervention and comparison; a level "
                                  f"of the arm column must say one arm (case and spaces do not count)", file=path,
                                  column=f"analysis.comparison.{arm}", expected=example)
            owner[key] = arm
        out[arm] = [str(label) for label in labels]
    if "children" not in sections or "arm" not in sections["children"].columns:
        raise ConfigError("'analysis.comparison' names the levels of the children's arm column, but "
                          "'children.columns.arm' is not given; add it (e.g. columns: {arm: arm}) or remove "
                          "'analysis.comparison'", file=path, column="children.columns.arm",
                          expected="e.g. children: {columns: {arm: arm}}")
    analysis["comparison"] = out
