"""Questionnaires described as data: load a shipped instrument by id, or a user's YAML file."""
from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from ..cohort import Instrument, Subscale
from ...errors import ConfigError

HERE = Path(__file__).parent
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
INSTRUMENT_KEYS = {"id", "name", "reference", "key_status", "response", "scoring", "min_answered",
                   "subscales", "total", "reliability", "higher_is", "items", "ages", "norms"}
#: Keys of one measure's entry under ``norms``.
NORM_KEYS = {"mean", "sd", "source"}
SUBSCALE_KEYS = {"id", "label", "items", "reverse", "higher_is"}
ITEM_KEYS = {"id", "text"}
RESPONSE_KEYS = {"min", "max", "step", "labels"}
#: Values of ``higher_is``: what a higher score means.
HIGHER_IS = ("better", "worse")


def shipped():
    """Ids of the instruments shipped with evalkit.

    Examples
    --------
    >>> shipped()
    ['eaq30', 'facilitator_tip', 'total_score']
    """
    return sorted(p.stem for p in HERE.glob("*.yml"))


def normalise_label(text):
    """Fold case and collapse white space, so ' Often  TRUE' matches 'often true'.

    Examples
    --------
    >>> normalise_label("  Often   TRUE ")
    'often true'
    """
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def timepoint_key(label):
    """The key timepoint labels are compared by: :func:`normalise_label`, and numbers as numbers.

    So ``'1'``, ``'1.0'`` and ``'01'`` are one label, as are ``' Pre '`` and ``'pre'``.

    Examples
    --------
    >>> timepoint_key("01"), timepoint_key(1.0), timepoint_key(" Pre  "), timepoint_key("2.50")
    ('1', '1', 'pre', '2.5')
    """
    text = normalise_label(label)
    if _PLAIN_NUMBER.fullmatch(text):
        number = float(text)
        return str(int(number)) if number.is_integer() else repr(number)
    return text


def load_instrument(spec, *, base=None):
    """Load an instrument by shipped id or by path to a YAML file.

    Parameters
    ----------
    spec : str or pathlib.Path
        A shipped id (see :func:`shipped`) or a path to an instrument YAML.
    base : pathlib.Path, optional
        Folder that relative paths are resolved against (the cohort config's folder).

    Returns
    -------
    evalkit.data.cohort.Instrument

    Raises
    ------
    ConfigError
        Unknown id, missing file, or an instrument that contradicts itself
        (an item in two subscales, a reverse item outside its subscale, a label
        outside the response range, ...).

    Examples
    --------
    >>> eaq = load_instrument("eaq30")
    >>> len(eaq.items), eaq.min, eaq.max
    (30, 1, 3)
    >>> [s.id for s in eaq.subscales][:3]
    ['differentiating', 'verbal_sharing', 'not_hiding']
    """
    spec = str(spec)
    path = Path(spec)
    if base is not None and not path.is_absolute():
        candidate = Path(base) / path
    else:
        candidate = path
    if spec in shipped() and not (candidate.suffix in (".yml", ".yaml") and candidate.is_file()):
        path = HERE / f"{spec}.yml"
    elif candidate.suffix in (".yml", ".yaml"):
        if not candidate.is_file():
            raise ConfigError("instrument file not found", file=candidate, column="instrument",
                              expected=f"a path to an instrument YAML or one of {', '.join(shipped())}")
        path = candidate
    else:
        raise ConfigError(f"unknown instrument '{spec}'", column="instrument",
                          expected=f"one of {', '.join(shipped())}, or a path to an instrument .yml file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the instrument file is not UTF-8 text; save it as UTF-8", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the instrument file ({exc.strerror or exc.__class__.__name__})",
                          file=path) from None
    try:
        raw = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader; libyaml when installed)
    except yaml.YAMLError as exc:
        raise ConfigError(f"instrument is not valid YAML ({str(exc).splitlines()[0]})", file=path) from None
    return parse_instrument(raw, source=str(path))


def _ids(value):
    """A YAML list of item ids as a tuple of text, or None when it is not a list of plain values."""
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() for v in value):
        return None
    return tuple(str(v).strip() for v in value)


def _item_entries(value, where, fail):
    """Item entries as ``(ids, texts)``: each entry is an id or ``{id: k1, text: "the question"}``.

    Returns ``(None, {})`` when ``value`` is not a list, so the caller can say what a list should hold.
    """
    if not isinstance(value, list):
        return None, {}
    ids, texts = [], {}
    for entry in value:
        if isinstance(entry, dict):
            extra = sorted(set(entry) - ITEM_KEYS)
            if extra:
                fail(f"unknown key '{extra[0]}' in an item of {where}; an item is an id or {{id: ..., text: ...}}",
                     column=f"{where}.{extra[0]}", expected='e.g. {id: k1, text: "I know the signs of trauma"}')
            if "id" not in entry:
                fail(f"an item of {where} has text but no id", column=where,
                     expected='e.g. {id: k1, text: "I know the signs of trauma"}')
            text = entry.get("text")
            if text is not None and (not isinstance(text, str) or not text.strip()):
                fail(f"the text of item '{entry['id']}' in {where} must be the question as asked", column=where)
            entry_id = entry["id"]
        else:
            entry_id, text = entry, None
        if not isinstance(entry_id, (str, int)) or isinstance(entry_id, bool) or not str(entry_id).strip():
            return None, {}
        ids.append(str(entry_id).strip())
        if text:
            texts[ids[-1]] = " ".join(text.split())
    return tuple(ids), texts


def _higher_is(value, where, fail):
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in HIGHER_IS:
        fail(f"higher_is must be 'better' or 'worse', not {value!r}", column=where,
             expected="higher_is: better (higher scores mean a better outcome)")
    return value.strip().lower()


def parse_step(value, fail, where):
    """``response.step`` checked: None (not given), a positive finite number (as float) or ``"any"``."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "any":
        return "any"
    if not _finite(value) or value <= 0:
        fail(f"{where.split('.')[-1]} must be a positive number or 'any', not {value!r}", column=where,
             expected="step: 1 (whole numbers, the default), step: 0.5 (half points) or step: any")
    return float(value)


def with_response(instrument, response, *, source=None, column="response"):
    """The instrument with its response range (``min``, ``max``, ``step``) replaced by a cohort config's.

    Parameters
    ----------
    instrument : evalkit.data.cohort.Instrument
    response : dict or None
        ``{min: ..., max: ..., step: ...}`` (any of them; checked by the config reader).
    source, column : str, optional
        The config file and key, for messages.

    Returns
    -------
    evalkit.data.cohort.Instrument

    Raises
    ------
    ConfigError
        The instrument has no range of its own and ``response`` gives none (naming the
        config key), the range is empty, or a response label of the instrument falls
        outside it.

    Examples
    --------
    >>> total = with_response(load_instrument("total_score"), {"min": 0, "max": 40})
    >>> total.min, total.max, total.answer_step is None
    (0, 40, True)
    """
    import dataclasses

    response = response or {}
    lo, hi = response.get("min", instrument.min), response.get("max", instrument.max)
    if lo is None or hi is None:
        raise ConfigError(f"the instrument '{instrument.id}' takes its response range from the cohort config, and "
                          f"'{column}' gives no min and max", file=source, column=column,
                          expected=f"e.g. {column.split('.')[0]}: {{..., response: {{min: 0, max: 100}}}} under "
                                   f"the section (the lowest and highest possible score)")
    if not lo < hi:
        raise ConfigError(f"'{column}' gives min {lo:g} and max {hi:g}: min must be below max", file=source,
                          column=column, expected="e.g. response: {min: 0, max: 100}")
    outside = sorted(t for t, v in instrument.labels.items() if not lo <= v <= hi)
    if outside:
        raise ConfigError(f"the response label '{outside[0]}' of instrument '{instrument.id}' is outside the range "
                          f"{lo:g}-{hi:g} that '{column}' gives", file=source, column=column)
    step = response.get("step", instrument.step)
    return dataclasses.replace(instrument, min=lo, max=hi, step=step)


def _finite(value):
    """Whether ``value`` is a finite number (YAML's true/false, .nan and .inf are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _ages(value, fail):
    """``ages: [lowest, highest]``, the age range the instrument was validated for, as two floats (None if absent)."""
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_finite(v) for v in value)
            or not 0 <= value[0] <= value[1]):
        fail("ages must be the validated age range as two ages in years, lowest first (not true/false, NaN or a "
             "negative age)", column="ages", expected="e.g. ages: [8, 16]")
    return float(value[0]), float(value[1])


def _norms(value, measures, fail):
    """``norms: {measure: {mean, sd, source}}`` checked: measure -> ``{"mean": float, "sd": float, "source": str}``."""
    if value is None:
        return {}
    example = 'e.g. norms: {total: {mean: 2.1, sd: 0.4, source: "Author (year), sample of 500 children aged 8-16"}}'
    if not isinstance(value, dict):
        fail("norms must map measure ids to {mean, sd, source}", column="norms", expected=example)
    out = {}
    for measure, entry in value.items():
        where = f"norms.{measure}"
        if str(measure) not in measures:
            fail(f"norms names '{measure}', which is not a measure of this instrument", column=where,
                 expected=f"one of {', '.join(measures)}")
        if not isinstance(entry, dict):
            fail(f"{where} must give mean, sd and source", column=where, expected=example)
        extra = sorted(set(entry) - NORM_KEYS)
        if extra:
            fail(f"unknown key '{extra[0]}' in {where}; allowed: mean, sd, source", column=f"{where}.{extra[0]}")
        for key in sorted(NORM_KEYS):
            if key not in entry:
                fail(f"{where} has no '{key}'", column=f"{where}.{key}", expected=example)
        if not _finite(entry["mean"]):
            fail(f"{where}.mean must be a finite number", column=f"{where}.mean", expected=example)
        if not _finite(entry["sd"]) or entry["sd"] <= 0:
            fail(f"{where}.sd must be a number above 0", column=f"{where}.sd", expected=example)
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            fail(f"{where}.source must say where the norms were published", column=f"{where}.source",
                 expected=example)
        out[str(measure)] = {"mean": float(entry["mean"]), "sd": float(entry["sd"]),
                             "source": " ".join(entry["source"].split())}
    return out


def parse_instrument(raw, *, source="<instrument>"):
    """Check an instrument mapping (as read from YAML) and build an :class:`Instrument`.

    Examples
    --------
    >>> inst = parse_instrument({"id": "s", "name": "S", "response": {"min": 1, "max": 3},
    ...     "subscales": [{"id": "a", "label": "A", "items": ["q1", "q2"], "reverse": ["q2"]}]})
    >>> inst.measures, inst.scoring, inst.min_answered
    (['a'], 'mean', 0.8)
    """
    def fail(msg, column=None, expected=None):
        raise ConfigError(msg, file=source, column=column, expected=expected)

    if not isinstance(raw, dict):
        fail("an instrument must be a YAML mapping", expected="keys id, name, response, subscales")
    extra = sorted(set(raw) - INSTRUMENT_KEYS)
    if extra:
        fail(f"unknown key '{extra[0]}' in instrument; allowed: {', '.join(sorted(INSTRUMENT_KEYS))}", column=extra[0])
    for key in ("id", "response", "subscales"):
        if key not in raw:
            fail(f"instrument has no '{key}'", column=key)
    resp = raw["response"]
    if not isinstance(resp, dict) or ("min" in resp) != ("max" in resp):
        fail("response must give min and max (or neither, when the cohort config's 'response' gives the range)",
             column="response", expected="{min: 1, max: 3, step: 1, labels: {...}}")
    extra = sorted(set(resp) - RESPONSE_KEYS)
    if extra:
        fail(f"unknown key '{extra[0]}' in response; allowed: {', '.join(sorted(RESPONSE_KEYS))}",
             column=f"response.{extra[0]}")
    lo, hi = resp.get("min"), resp.get("max")
    if "min" in resp and (not all(_finite(v) for v in (lo, hi)) or lo >= hi):
        fail("response min must be a number below max (finite numbers, not true/false)", column="response")
    step = parse_step(resp.get("step"), fail, "response.step")
    labels = {}
    raw_labels = resp.get("labels") or {}
    if not isinstance(raw_labels, dict):
        fail("response labels must map each label to its number", column="response.labels",
             expected="e.g. {not true: 1, sometimes true: 2, often true: 3}")
    for text, value in raw_labels.items():
        if not _finite(value) or (lo is not None and not lo <= value <= hi):
            fail(f"label '{text}' maps to {value!r}, outside the response range {lo}-{hi}", column="response.labels")
        key = normalise_label(text)
        if key in labels and labels[key] != float(value):
            fail(f"label '{text}' is given twice with different numbers", column="response.labels")
        labels[key] = float(value)
    scoring = raw.get("scoring", "mean")
    if scoring not in ("mean", "sum"):
        fail(f"scoring '{scoring}' is not known", column="scoring", expected="mean or sum")
    min_answered = raw.get("min_answered", 0.8)
    if not _finite(min_answered) or not 0 < min_answered <= 1:
        fail("min_answered must be a share between 0 (exclusive) and 1", column="min_answered")
    higher_is = _higher_is(raw.get("higher_is"), "higher_is", fail)
    texts = {}
    if raw.get("items") is not None:
        top_ids, texts = _item_entries(raw["items"], "items", fail)
        if top_ids is None:
            fail("items must be a list of item ids or {id: ..., text: ...} entries", column="items",
                 expected='e.g. [{id: k1, text: "I know the signs of trauma"}, k2]')
    subs, owner = [], {}
    if not isinstance(raw["subscales"], list) or not raw["subscales"]:
        fail("subscales must be a non-empty list", column="subscales")
    for entry in raw["subscales"]:
        if not isinstance(entry, dict) or "id" not in entry or not entry.get("items"):
            fail("each subscale needs an id and a list of items", column="subscales")
        extra = sorted(set(entry) - SUBSCALE_KEYS)
        if extra:
            fail(f"unknown key '{extra[0]}' in subscale '{entry['id']}'", column=f"subscales.{entry['id']}.{extra[0]}")
        sid = str(entry["id"])
        items, sub_texts = _item_entries(entry["items"], f"subscales.{sid}.items", fail)
        texts.update(sub_texts)
        reverse = _ids(entry.get("reverse") or [])
        if items is None:
            fail(f"subscale '{sid}' items must be a list of item ids", column=f"subscales.{sid}.items",
                 expected="e.g. [q1, q7, q13]")
        if reverse is None:
            fail(f"subscale '{sid}' reverse must be a list of item ids", column=f"subscales.{sid}.reverse",
                 expected="e.g. [q7] or []")
        if len(set(items)) != len(items):
            fail(f"subscale '{sid}' lists an item twice", column=f"subscales.{sid}.items")
        for item in items:
            if item in owner:
                fail(f"item '{item}' is in two subscales ('{owner[item]}' and '{sid}'); an item may score one "
                     f"subscale only", column=f"subscales.{sid}.items")
            owner[item] = sid
        for item in reverse:
            if item not in items:
                fail(f"reverse item '{item}' is not one of subscale '{sid}' items", column=f"subscales.{sid}.reverse",
                     expected=f"one of {', '.join(items)}")
        if sid in {s.id for s in subs}:
            fail(f"subscale id '{sid}' is used twice", column="subscales")
        subs.append(Subscale(id=sid, label=str(entry.get("label", sid)), items=items, reverse=reverse,
                             higher_is=_higher_is(entry.get("higher_is"), f"subscales.{sid}.higher_is", fail)
                             or higher_is))
    total = None
    if raw.get("total") is not None and not isinstance(raw["total"], (dict, bool)):
        fail("total must be true or a mapping with id and label", column="total", expected="{id: total, label: Total}")
    if raw.get("total"):
        t = raw["total"]
        tid = str(t.get("id", "total")) if isinstance(t, dict) else "total"
        tlabel = str(t.get("label", "Total")) if isinstance(t, dict) else "Total"
        if tid in owner or tid in {s.id for s in subs}:
            fail(f"total id '{tid}' clashes with a subscale or item id", column="total")
        all_items = tuple(i for s in subs for i in s.items)
        all_rev = tuple(i for s in subs for i in s.reverse)
        total = Subscale(id=tid, label=tlabel, items=all_items, reverse=all_rev, higher_is=higher_is)
    rel = raw.get("reliability") or {}
    if not isinstance(rel, dict) or not all(_finite(v) and 0 < v <= 1 for v in rel.values()):
        fail("reliability must map measure ids to numbers above 0 and at most 1", column="reliability",
             expected="e.g. {knowledge: 0.8}")
    reliability = {str(k): float(v) for k, v in rel.items()}
    unknown = sorted(set(texts) - set(owner))
    if unknown:
        fail(f"item '{unknown[0]}' has a text but is in no subscale", column="items",
             expected=f"one of {', '.join(owner)}")
    for key in ("key_status", "reference"):
        if raw.get(key) is not None and not isinstance(raw[key], (str, int, float)):
            fail(f"{key} must be a short text", column=key)
    ages = _ages(raw.get("ages"), fail)
    measures = [s.id for s in subs] + ([total.id] if total is not None else [])
    norms = _norms(raw.get("norms"), measures, fail)
    return Instrument(id=str(raw["id"]), name=str(raw.get("name", raw["id"])), min=lo, max=hi, labels=labels,
                      scoring=scoring, min_answered=float(min_answered), subscales=tuple(subs), total=total,
                      reliability=reliability, source=source,
                      key_status=str(raw.get("key_status") or ""), reference=str(raw.get("reference") or ""),
                      item_texts={i: texts[i] for i in owner if i in texts}, step=step, ages=ages, norms=norms)
