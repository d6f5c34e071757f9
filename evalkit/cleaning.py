"""Clean one section's exports: map columns, recode answers, drop duplicates, match pre/post, log every action."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import DataError
from .instruments import normalise_label
from .io import FILE, ROW, read_table
from .validation import PROBLEM_COLUMNS, answer_schema, validate_frame

#: Columns of the cleaning log (one row per cleaning action).
LOG_COLUMNS = ["section", "file", "row", "id", "column", "action", "reason", "detail"]
#: Exclusion reasons, in the order the rules are applied.
EXCLUSION_REASONS = ("blank row", "missing id", "missing timepoint", "unknown timepoint", "no answers",
                     "exact duplicate", "conflicting duplicate")
OPTIONAL_ROLES = ("age", "delivery", "referral_reason", "site")


def _norm(series):
    """Vectorised :func:`normalise_label` keeping missing values missing."""
    text = series.astype("string").str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    return text.where(text != "", pd.NA)


def _log(section, frame, mask, *, column, action, reason, detail=None, id_column="id"):
    """Rows of the cleaning log for the rows of ``frame`` selected by ``mask``."""
    sub = frame.loc[mask]
    if sub.empty:
        return None
    if detail is None:
        det = pd.Series("", index=sub.index)
    elif isinstance(detail, str):
        det = pd.Series(detail, index=sub.index)
    else:
        det = detail.loc[sub.index].astype(str)
    return pd.DataFrame({"section": section, "file": sub[FILE].to_numpy(), "row": sub[ROW].to_numpy(),
                         "id": sub[id_column].to_numpy() if id_column in sub else "", "column": column,
                         "action": action, "reason": reason, "detail": det.to_numpy()})


def standardise(frame, *, section_cfg, instrument, path):
    """Rename an export's columns to roles (``id``, ``timepoint``, ...) and item ids.

    Column names match case- and space-insensitively. Columns the config does
    not name are dropped here and never reach results (they may hold names).

    Parameters
    ----------
    frame : pandas.DataFrame
        As returned by :func:`evalkit.io.read_table`.
    section_cfg : evalkit.config.SectionConfig
    instrument : evalkit.cohort.Instrument
    path : pathlib.Path
        The file, for messages.

    Returns
    -------
    frame : pandas.DataFrame
        ``_file, _row, id, timepoint``, the optional roles present, the item columns present.
    problems : list of dict
        Missing optional columns and missing item columns (warnings).

    Raises
    ------
    DataError
        If the id or timepoint column is missing, or no item of the instrument is present.
    """
    by_norm = {}
    for col in frame.columns:
        if col not in (FILE, ROW):
            by_norm.setdefault(normalise_label(col), col)
    found = list(c for c in frame.columns if c not in (FILE, ROW))
    rename, problems = {}, []
    for role, name in section_cfg.columns.items():
        source = by_norm.get(normalise_label(name))
        if source is None:
            if role in ("id", "timepoint"):
                raise DataError(
                    f"required {role} column '{name}' not found; the file has columns: "
                    f"{', '.join(found[:15])}{' ...' if len(found) > 15 else ''}. Set "
                    f"'{section_cfg.name}.columns.{role}' in the cohort config to the right column name",
                    file=path, column=name)
            problems.append(dict(column=name, problem=f"{role} column not found; {role} is not analysed",
                                 rows=0, severity="warning", handling="factor left out"))
            continue
        rename[source] = role
    item_renames = {normalise_label(k): v for k, v in section_cfg.items.items()}
    wanted = {normalise_label(i): i for i in instrument.items}
    for norm, col in by_norm.items():
        if col in rename:
            continue
        target = item_renames.get(norm)
        if target is None and norm in wanted:
            target = wanted[norm]
        if target is not None and target in instrument.items and target not in rename.values():
            rename[col] = target
    items = [i for i in instrument.items if i in rename.values()]
    if not items:
        raise DataError(
            f"no item column of instrument '{instrument.id}' found (expected columns such as "
            f"{', '.join(instrument.items[:4])}); map the export's question columns to item ids under "
            f"'{section_cfg.name}.items' in the cohort config", file=path, column=", ".join(instrument.items[:4]))
    missing = [i for i in instrument.items if i not in items]
    if missing:
        problems.append(dict(column=", ".join(missing), problem=f"{len(missing)} item column(s) of "
                             f"'{instrument.id}' not in the file; treated as unanswered", rows=0,
                             severity="warning", handling="subscales scored from the items present if enough"))
    keep = [FILE, ROW] + [c for c in frame.columns if c in rename]
    out = frame[keep].rename(columns=rename)
    order = [FILE, ROW, "id", "timepoint"] + [r for r in OPTIONAL_ROLES if r in out] + items
    return out[order], problems


def _parse_answers(frame, *, items, instrument, section):
    """Turn answer text into numbers; log label recodes and answers set missing."""
    logs = []
    whole = float(instrument.min).is_integer() and float(instrument.max).is_integer()
    values = {}
    for item in items:
        text = frame[item]
        present = text.notna()
        if present.sum() == 0:
            values[item] = pd.Series(np.nan, index=frame.index)
            continue
        stripped = text.astype("string").str.strip()
        num = pd.to_numeric(stripped, errors="coerce").astype(float)
        unparsed = present & num.isna()
        if unparsed.any():
            normed = _norm(text[unparsed])
            label_value = normed.map(instrument.labels).astype(float)
            num.loc[unparsed] = label_value
            recoded = label_value.notna().reindex(frame.index, fill_value=False)
            detail = ("'" + text[recoded].astype(str).str.strip() + "' read as "
                      + num[recoded].map(lambda v: f"{v:g}").astype(str))
            logs.append(_log(section, frame, recoded, column=item, action="recoded",
                             reason="response label mapped to number", detail=detail))
            blank = (normed.isna()).reindex(frame.index, fill_value=False)
            bad = unparsed & ~recoded & ~blank
            logs.append(_log(section, frame, bad, column=item, action="set missing",
                             reason="not a number or response label",
                             detail="value '" + text[bad].astype(str) + "'"))
        numeric = present & ~unparsed
        out = numeric & ~num.between(instrument.min, instrument.max)
        logs.append(_log(section, frame, out, column=item, action="set missing", reason="out of range",
                         detail="value " + text[out].astype(str).str.strip()
                         + f" outside {instrument.min:g}-{instrument.max:g}"))
        num[out] = np.nan
        if whole:
            frac = numeric & ~out & (num.round() != num)
            logs.append(_log(section, frame, frac, column=item, action="set missing",
                             reason="not a whole number",
                             detail="value " + text[frac].astype(str).str.strip()
                             + " on a whole-number scale"))
            num[frac] = np.nan
        values[item] = num
    return pd.DataFrame(values, index=frame.index), logs


def age_band_labels(edges):
    """Labels of the age bands given by their edges (each band includes its lower edge).

    Examples
    --------
    >>> age_band_labels([5, 11, 17])
    ['5-10', '11-16']
    """
    labels = []
    for lo, hi in zip(edges, edges[1:]):
        top = hi - 1 if float(lo).is_integer() and float(hi).is_integer() else hi
        labels.append(f"{lo:g}-{top:g}")
    return labels


def band_ages(age, edges):
    """Map ages to the configured bands (``[lo, hi)``); ages outside every band give missing.

    Examples
    --------
    >>> band_ages(pd.Series([5, 10.5, 11, 16, 17, None]), [5, 11, 17]).tolist()
    ['5-10', '5-10', '11-16', '11-16', nan, nan]
    """
    labels = age_band_labels(edges)
    banded = pd.cut(pd.to_numeric(age, errors="coerce"), bins=list(edges), labels=labels, right=False)
    return banded.astype(object).where(banded.notna(), np.nan)


def _tidy_factor(series):
    """Fold case and spaces of factor levels, showing each level by its most common spelling."""
    shown = series.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)
    shown = shown.where(shown != "", pd.NA)
    key = shown.str.casefold()
    if key.notna().sum() == 0:
        return shown.astype(object).where(shown.notna(), np.nan)
    counts = pd.DataFrame({"key": key, "shown": shown}).dropna().value_counts().reset_index()
    counts["not_lower"] = counts["shown"] != counts["key"]  # ties go to the lower-case spelling
    spelling = (counts.sort_values(["key", "count", "not_lower", "shown"], ascending=[True, False, True, True])
                .drop_duplicates("key").set_index("key")["shown"])
    out = key.map(spelling)
    return out.astype(object).where(out.notna(), np.nan)


def score(items, *, instrument, measures=None):
    """Score subscales from keyed item answers with the prorating rule.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item id (numbers, reverse items already reversed, NaN = unanswered).
        Items absent from the frame count as unanswered.
    instrument : evalkit.cohort.Instrument
    measures : list of str, optional
        Measures to score (default: every measure of the instrument).

    Returns
    -------
    pandas.DataFrame
        One float column per measure. A measure is scored when at least
        ``ceil(min_answered * n_items)`` of its items are answered; its score is the
        mean of the answered items (``scoring: mean``) or that mean times the number
        of items (``scoring: sum``, the prorated sum); otherwise NaN.

    Examples
    --------
    >>> from evalkit.instruments import parse_instrument
    >>> inst = parse_instrument({"id": "s", "response": {"min": 1, "max": 3}, "min_answered": 0.6,
    ...     "scoring": "sum", "subscales": [{"id": "a", "items": ["q1", "q2", "q3"]}]})
    >>> score(pd.DataFrame({"q1": [1, 3, None], "q2": [2, None, None], "q3": [3, 2, 3]}), instrument=inst)
         a
    0  6.0
    1  7.5
    2  NaN
    """
    out = {}
    for mid in measures or instrument.measures:
        sub = instrument.measure(mid)
        cols = [i for i in sub.items if i in items.columns]
        block = items[cols] if cols else pd.DataFrame(index=items.index)
        answered = block.notna().sum(axis=1)
        needed = math.ceil(instrument.min_answered * len(sub.items) - 1e-9)
        mean = block.mean(axis=1) if cols else pd.Series(np.nan, index=items.index)
        value = mean * len(sub.items) if instrument.scoring == "sum" else mean
        out[mid] = value.where(answered >= needed).astype(float)
    return pd.DataFrame(out, index=items.index)


def key_items(values, *, instrument):
    """Reverse-score items (``min + max - value``) so that higher always means more of the construct.

    Examples
    --------
    >>> from evalkit.instruments import load_instrument
    >>> key_items(pd.DataFrame({"q1": [1.0, 3.0], "q2": [1.0, 3.0]}), instrument=load_instrument("eaq30"))
        q1   q2
    0  3.0  1.0
    1  1.0  3.0
    """
    keyed = values.copy()
    reverse = [i for s in instrument.subscales for i in s.reverse if i in keyed.columns]
    keyed[reverse] = instrument.min + instrument.max - keyed[reverse]
    return keyed


def clean_section(frames, *, section_cfg, instrument, analysis, section=None):
    """Clean, match and score one section's standardised exports, logging every action.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Standardised exports (from :func:`standardise`), one per file.
    section_cfg : evalkit.config.SectionConfig
    instrument : evalkit.cohort.Instrument
    analysis : dict
        The config's ``analysis`` block (``age_bands`` is used).
    section : str, optional
        Section name for the log (default ``section_cfg.name``).

    Returns
    -------
    dict
        ``rows`` (every input row with ``status`` kept/excluded and ``reason``),
        ``scores``, ``items`` (keyed), ``log`` (cleaning log, ``LOG_COLUMNS``),
        ``measures``, ``not_collected``, ``factors``.

    Notes
    -----
    Rules, in order: blank rows, rows without id, rows whose timepoint is missing or
    not a configured label are excluded; ids are trimmed and case-folded (a change
    beyond case folding is logged per row; case folding itself once per file);
    answers given as labels are recoded, out-of-range, fractional or unparseable
    answers are set missing; rows with no answer left are excluded; exact
    duplicates (same cleaned values) keep their first row; conflicting duplicates
    (same person and timepoint, different answers) are all excluded; factor values
    of a person are taken from the baseline row (a disagreement is logged);
    unmatched persons are kept (and logged) for the attrition analysis; measures
    that cannot be scored under the prorating rule are logged per person.
    """
    section = section or section_cfg.name
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    items = [i for i in instrument.items if i in data.columns]
    roles = [r for r in OPTIONAL_ROLES if r in data.columns]
    logs = []
    status = pd.Series("kept", index=data.index, dtype=object)
    reason = pd.Series("", index=data.index, dtype=object)

    def exclude(mask, why, detail=None, column=""):
        mask = mask & (status == "kept")
        status[mask] = "excluded"
        reason[mask] = why
        logs.append(_log(section, frame_for_log, mask, column=column, action="excluded", reason=why, detail=detail))

    raw_id = data["id"].astype("string")
    clean_id = raw_id.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    clean_id = clean_id.where(clean_id != "", pd.NA)
    frame_for_log = data.assign(id=clean_id.astype(object).where(clean_id.notna(), ""))

    blank = data[["id", "timepoint"] + roles + items].isna().all(axis=1)
    exclude(blank, "blank row")
    exclude(clean_id.isna(), "missing id", column="id")

    # ids: whitespace changes are logged per row; plain case folding once per file
    spaced = clean_id.notna() & (raw_id.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
                                 != raw_id.str.casefold())
    logs.append(_log(section, frame_for_log, spaced & (status == "kept"), column="id", action="recoded",
                     reason="id trimmed of spaces", detail="'" + raw_id[spaced].astype(str) + "'"))
    folded = clean_id.notna() & (raw_id.str.strip() != raw_id.str.strip().str.casefold()) & ~spaced
    for name, n in data.loc[folded & (status == "kept"), FILE].value_counts(sort=False).sort_index().items():
        logs.append(pd.DataFrame([dict(section=section, file=name, row=pd.NA, id="", column="id",
                                       action="recoded", reason="id case-folded",
                                       detail=f"{n} ids written in lower case so that 'C0042' and 'c0042' "
                                              f"are one person")]))
    dates = clean_id.str.fullmatch(r"\d{4}-\d{2}-\d{2}(t[\d:]+)?").fillna(False).astype(bool)
    logs.append(_log(section, frame_for_log, dates & (status == "kept"), column="id", action="noted",
                     reason="id looks like a date", detail="the spreadsheet may have turned an id into a date; "
                                                           "check the export"))

    # timepoints
    tp_raw = _norm(data["timepoint"])
    mapping = {normalise_label(lbl): tp for tp, labels in section_cfg.timepoints.items() for lbl in labels}
    tp = tp_raw.map(mapping)
    exclude(tp_raw.isna(), "missing timepoint", column="timepoint")
    exclude(tp_raw.notna() & tp.isna(), "unknown timepoint", column="timepoint",
            detail="label '" + data["timepoint"].astype(str).str.strip() + "' is not one of "
            + ", ".join(sorted(mapping)))
    relabel = tp.notna() & (tp_raw != tp) & (status == "kept")
    logs.append(_log(section, frame_for_log, relabel, column="timepoint", action="recoded",
                     reason="timepoint label mapped",
                     detail="'" + data["timepoint"].astype(str).str.strip() + "' read as " + tp.astype(str)))

    # answers
    values, answer_logs = _parse_answers(frame_for_log.assign(**{i: data[i] for i in items}), items=items,
                                         instrument=instrument, section=section)
    logs.extend(answer_logs)
    exclude(values.isna().all(axis=1), "no answers", detail="every item answer is missing or unusable")

    # factors
    facts = pd.DataFrame(index=data.index)
    if "age" in roles:
        age = pd.to_numeric(data["age"].astype("string").str.strip(), errors="coerce")
        bad_age = data["age"].notna() & age.isna() & (status == "kept")
        logs.append(_log(section, frame_for_log, bad_age, column="age", action="set missing",
                         reason="age not a number", detail="value '" + data["age"].astype(str) + "'"))
        facts["age"] = age.astype(float)
    for role in ("delivery", "referral_reason", "site"):
        if role in roles:
            facts[role] = _tidy_factor(data[role])

    # duplicates: compared on cleaned values, so 'C1 ' and 'c1' with the same answers are one row twice
    kept = status == "kept"
    key = pd.DataFrame({"id": clean_id, "timepoint": tp}).join(values).join(facts)
    hashes = pd.util.hash_pandas_object(key, index=False)
    exact = hashes[kept].duplicated(keep="first").reindex(data.index, fill_value=False)
    first = data.loc[kept, [FILE, ROW]].assign(_k=hashes[kept]).drop_duplicates("_k").set_index("_k")
    origin = ("same answers as " + hashes[exact].map(first[FILE]).astype(str) + " row "
              + hashes[exact].map(first[ROW]).astype(str))
    exclude(exact, "exact duplicate", detail=origin.reindex(data.index))
    kept = status == "kept"
    person_tp = pd.DataFrame({"id": clean_id, "timepoint": tp})[kept]
    size = person_tp.groupby(["id", "timepoint"])["id"].transform("size")
    conflict = (size > 1).reindex(data.index, fill_value=False)
    detail = (size.astype(str) + " questionnaires with different answers for this person at "
              + person_tp["timepoint"].astype(str)).reindex(data.index)
    exclude(conflict, "conflicting duplicate", detail=detail)

    kept = status == "kept"
    rows = data[[FILE, ROW]].assign(id=clean_id, timepoint=tp, status=status, reason=reason)
    out = pd.DataFrame({"id": clean_id[kept].astype(str), "timepoint": tp[kept].astype(str)})
    out_facts = facts[kept].copy()

    # person-level factors from the baseline row
    if not out_facts.empty and len(out_facts.columns):
        order = out.assign(_pre=(out["timepoint"] != "pre").astype(int))
        base = (out_facts.join(order).sort_values(["id", "_pre"], kind="stable")
                .groupby("id")[list(out_facts.columns)].first())
        for col in out_facts.columns:
            person = out["id"].map(base[col])
            differs = out_facts[col].notna() & person.notna() & (out_facts[col] != person)
            if col == "age":  # a birthday during the programme is not a disagreement
                differs &= (out_facts[col] - person).abs() > 1
            logs.append(_log(section, frame_for_log.loc[kept], differs, column=col, action="noted",
                             reason="differs from baseline value; baseline used",
                             detail="'" + out_facts[col][differs].astype(str) + "' vs baseline '"
                             + person[differs].astype(str) + "'"))
            out_facts[col] = person
    if "age" in out_facts:
        edges = analysis["age_bands"]
        out_facts["age_band"] = band_ages(out_facts["age"], edges)
        outside = out_facts["age"].notna() & out_facts["age_band"].isna()
        logs.append(_log(section, frame_for_log.loc[kept], outside, column="age", action="noted",
                         reason="age outside the configured age bands",
                         detail="age " + out_facts["age"][outside].map(lambda a: f"{a:g}").astype(str)
                         + f" not in {edges[0]:g}-{edges[-1]:g}; age band left missing"))
    out = out.join(out_facts)

    # matching
    n_tp = out.groupby("id")["timepoint"].transform("nunique")
    out["matched"] = n_tp == 2
    for have, lacks in (("pre", "post"), ("post", "pre")):
        only = (~out["matched"]) & (out["timepoint"] == have)
        logs.append(_log(section, frame_for_log.loc[kept], only, column="timepoint", action="noted",
                         reason=f"no {lacks} questionnaire",
                         detail="kept: counts in the attrition analysis, not in pre/post tests"))

    # scoring
    keyed = key_items(values[kept], instrument=instrument)
    not_collected = [m for m in instrument.measures
                     if not any(i in items for i in instrument.measure(m).items)]
    measures = [m for m in instrument.measures if m not in not_collected]
    scores = score(keyed, instrument=instrument, measures=measures)
    for m in measures:
        sub = instrument.measure(m)
        cols = [i for i in sub.items if i in keyed.columns]
        answered = keyed[cols].notna().sum(axis=1)
        needed = math.ceil(instrument.min_answered * len(sub.items) - 1e-9)
        miss = scores[m].isna()
        logs.append(_log(section, frame_for_log.loc[kept], miss, column=m, action="not scored",
                         reason="too few items answered",
                         detail=answered[miss].astype(str) + f" of {len(sub.items)} items answered; "
                         f"{needed} needed ({instrument.min_answered:.0%} rule)"))
    out = out.join(scores)
    item_out = pd.DataFrame({"id": out["id"], "timepoint": out["timepoint"]}).join(keyed)
    order = np.lexsort((out["timepoint"].map({"pre": 0, "post": 1}).to_numpy(), out["id"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    item_out = item_out.iloc[order].reset_index(drop=True)

    log = pd.concat([x for x in logs if x is not None and len(x)], ignore_index=True) if any(
        x is not None and len(x) for x in logs) else pd.DataFrame(columns=LOG_COLUMNS)
    log = log[LOG_COLUMNS]
    log["row"] = log["row"].astype("Int64")
    log = log.sort_values(["file", "row", "column", "action"], kind="stable", na_position="first").reset_index(drop=True)
    factors = [f for f in ("delivery", "age_band", "referral_reason", "site") if f in out.columns]
    return dict(rows=rows, scores=out, items=item_out, log=log, measures=measures,
                not_collected=not_collected, factors=factors)


def read_section(section_cfg, *, instrument):
    """Read, standardise and validate every file of a section.

    Returns
    -------
    frames : list of pandas.DataFrame
    problems : pandas.DataFrame
        ``PROBLEM_COLUMNS``; everything pandera found plus missing columns.
    notes : dict
        File name -> list of notes on how it was read.

    Raises
    ------
    DataError
        A file is missing, unreadable, lacks the id or timepoint column or every item.
    """
    frames, problems, notes = [], [], {}
    labels = [lbl for lbls in section_cfg.timepoints.values() for lbl in lbls]
    names = [p.name for p in section_cfg.files]
    if len(set(names)) != len(names):
        raise DataError("two files of this section have the same name; rename one so that the cleaning log "
                        "can tell their rows apart", file=section_cfg.files[0], column=f"{section_cfg.name}.file")
    for path in section_cfg.files:
        raw = read_table(path, header_hint=section_cfg.columns["id"])
        notes[path.name] = list(raw.attrs.get("notes", []))
        std, missing = standardise(raw, section_cfg=section_cfg, instrument=instrument, path=path)
        for p in missing:
            problems.append(dict(section=section_cfg.name, file=path.name, example_rows="", **p))
        items = [c for c in std.columns if c in instrument.items]
        schema = answer_schema(instrument, items=items, timepoint_labels=labels, age="age" in std.columns)
        problems.append(validate_frame(std, schema=schema, section=section_cfg.name, file=path.name))
        if std.empty:
            raise DataError("the file has a header but no rows", file=path)
        frames.append(std)
    parts = [p if isinstance(p, pd.DataFrame) else pd.DataFrame([p]) for p in problems]
    problems = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=PROBLEM_COLUMNS)
    return frames, problems[PROBLEM_COLUMNS], notes


def accounting(rows):
    """Rows in = rows kept + rows excluded, per file and per reason.

    Parameters
    ----------
    rows : pandas.DataFrame
        The ``rows`` table of :func:`clean_section` (``_file``, ``status``, ``reason``).

    Returns
    -------
    summary : pandas.DataFrame
        ``file, rows_in, rows_kept, rows_excluded`` plus one column per exclusion
        reason, and a final ``all files`` row.
    by_reason : pandas.DataFrame
        Tidy ``file, outcome, reason, rows``.
    """
    tidy = (rows.assign(reason=rows["reason"].where(rows["status"] == "excluded", ""))
            .groupby([FILE, "status", "reason"], sort=True).size().rename("rows").reset_index()
            .rename(columns={FILE: "file", "status": "outcome"}))
    files = sorted(rows[FILE].unique())
    summary = pd.DataFrame({"file": files})
    summary["rows_in"] = summary["file"].map(rows[FILE].value_counts()).fillna(0).astype(int)
    kept = rows[rows["status"] == "kept"][FILE].value_counts()
    summary["rows_kept"] = summary["file"].map(kept).fillna(0).astype(int)
    summary["rows_excluded"] = summary["rows_in"] - summary["rows_kept"]
    excl = rows[rows["status"] == "excluded"]
    for why in EXCLUSION_REASONS:
        summary[why] = summary["file"].map(excl[excl["reason"] == why][FILE].value_counts()).fillna(0).astype(int)
    total = summary.drop(columns="file").sum().to_frame().T
    total.insert(0, "file", "all files")
    summary = pd.concat([summary, total], ignore_index=True)
    return summary, tidy
