"""Seeded sample cohort, with every data problem it plants written down, for the README, tests and benchmarks.

The sample imitates what Healing Together evaluations receive: three sites'
exports of the children's EAQ-30 (one row per questionnaire), and the
facilitators' before/after training questionnaire. Answers come from an
ordinal model (a latent trait per child and subscale, plus item noise, cut
at thresholds), so reliabilities, pre/post changes and moderator effects look
like real data. With ``messy=True`` the files also carry the problems real
exports have (text labels, blanks, impossible values, duplicates, attrition,
timepoint spellings, id spellings, three file formats); :func:`write_sample`
returns, and writes to ``planted.json`` and ``PLANTED.md``, exactly what was
planted and where, so cleaning and validation can be checked against it.

Nothing here names a real child or place: ids are ``C0001``..., facilitator
ids ``F001``..., and the free-text ``notes`` column holds stock phrases.
"""
from __future__ import annotations

import argparse
import calendar
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import EvalkitError

#: Site names as they appear in the ``site`` column, with the file each is exported to.
SITES = ("Site A", "Site B", "Site C")
DELIVERY = ("group", "one-to-one")
REFERRAL_REASONS = ("witnessed abuse", "parental conflict", "post-separation", "social care referral")
CHILD_COLUMNS = ("child_id", "timepoint", "age", "delivery", "referral_reason", "site")
#: Columns the full design (issue 12) adds after ``site``: delivery group, facilitator, sessions attended, arm.
DESIGN_COLUMNS = ("group_id", "facilitator_id", "sessions_attended", "arm")
FACILITATOR_COLUMNS = ("facilitator_id", "timepoint")
#: ``"full"``: groups, facilitators, sessions, a waiting-list arm at one site and a 6-month follow-up (the
#: sample); ``"pre-post"``: one group measured before and after, as evaluations were before issue 12.
DESIGNS = ("full", "pre-post")
#: The arm column's levels, as written in the files (``analysis.comparison`` of the sample's config lists them).
ARM_LABELS = {"intervention": "healing together", "comparison": "waiting list"}
#: How each site labels the follow-up questionnaire (the config's ``timepoints.follow_up`` lists both).
FOLLOW_UP_LABELS = {"Site A": "6 months", "Site B": "Follow-up", "Site C": "follow-up"}

#: Exact strings planted by ``messy=True`` (a cleaning module must cope with each).
TIMEPOINT_VARIANTS = {"pre": (" PRE", "Pre", "pre "), "post": ("POST ", "Post", " post")}
SITE_B_TIMEPOINTS = {"pre": "Baseline", "post": "End"}
UNKNOWN_TIMEPOINTS = ("mid", "week 3")
OUT_OF_RANGE = {"eaq30": (4, 0, 9), "facilitator_tip": (6, 0, 55)}
UNPARSEABLE = ("n/a", "?", "-")
ID_VARIANTS = ("{lower} ", " {id}", "{lower}", "{id} ")
ENCODINGS_MESSY = {"Site A": "utf-8-sig", "Site B": "cp1252", "Site C": "xlsx"}

_SITE_P = (0.40, 0.35, 0.25)
_GROUP_P = {"Site A": 0.70, "Site B": 0.66, "Site C": 0.55}
_REFERRAL_P = (0.42, 0.27, 0.19, 0.12)
# Ages 5..16: most referrals are primary-school age.
_AGE_W = np.array([4, 7, 9, 10, 10, 10, 9, 8, 7, 6, 5, 3], dtype=float)
_BIRTHDAY_P = 0.15  # pre and post are about eight weeks apart
_NOTES = (
    "Completed with support from key worker",
    "Interpreter present",
    "Completed at home visit",
    "Session 3 missed \u2013 school trip",
    "Moved to the caf\u00e9 room",
    "Carer\u2019s questionnaire also returned",
)
_NOTE_P = 0.05

# Ordinal model. Loadings give Cronbach's alpha of about 0.6-0.8 per subscale;
# effects are mean latent gains (in pre-SD units) for an average child, scaled
# per child by _moderation() so that delivery and age moderate the change.
_CHILD_LOADING = {"differentiating": 0.62, "verbal_sharing": 1.0, "not_hiding": 0.78,
                  "bodily_awareness": 0.72, "attending_others": 0.78, "analyses": 0.74}
_CHILD_EFFECT = {"differentiating": 0.62, "verbal_sharing": 0.62, "not_hiding": 0.48,
                 "bodily_awareness": 0.0, "attending_others": 0.0, "analyses": 0.0}
_CHILD_CUTS = (-0.9, 0.5)
_CHILD_TRAIT_R = 0.3
_CHANGE_SD = 0.55
_FAC_LOADING = {"knowledge": 1.0, "understanding": 1.0, "confidence": 1.0}
_FAC_EFFECT = {"knowledge": 1.0, "understanding": 0.85, "confidence": 0.75}
_FAC_CUTS = (-1.9, -1.0, 0.1, 1.3)
_FAC_TRAIT_R = 0.5

# The full design (issue 12). The waiting list: half of Site C, whose gain is 15% of the programme's. Sessions
# attended 0-6, mostly 5 or 6; each session fewer than the full dose of 5 takes 8% off the programme's gain (and
# the sixth adds 8%). A group effect (SD 0.5 latent units) on the gain of the improving subscales gives a modest
# ICC of change. 55% of intervention children with a post questionnaire answer again 6 months later, keeping
# 85% of their gain. Facilitators: 70% with a post questionnaire answer at follow-up; knowledge and
# understanding mostly hold, confidence fades to 35% of its gain ("training that does not last").
_WAITING_SITE = "Site C"
_WAITING_P = 0.5
_WAITING_GAIN = 0.15
_SESSIONS_P = (0.03, 0.04, 0.05, 0.08, 0.12, 0.25, 0.43)
_FULL_DOSE = 5
_DOSE_STEP = 0.08
_GROUP_SD = 0.5
_FOLLOW_UP_P = 0.55
_SUSTAINED = 0.85
_FOLLOW_UP_SD = 0.3
_FAC_FOLLOW_UP_P = 0.7
_FAC_SUSTAINED = {"knowledge": 0.85, "understanding": 0.75, "confidence": 0.35}


# ----------------------------------------------------------------------------- public API

def make_children(n_children=300, *, seed=2026, messy=True, design="pre-post"):
    """Generate the children's EAQ-30 questionnaires of a sample cohort.

    Parameters
    ----------
    n_children : int, default 300
        Number of distinct children (the published evaluation had 327). A
        messy cohort needs at least 40.
    seed : int, default 2026
        Seed; the same seed always gives the same frame. The clean answers do
        not depend on ``messy``: a messy frame is the clean one with problems
        planted in it.
    messy : bool, default True
        Plant the data problems listed in the module notes (see
        :func:`write_sample` for the record of what was planted).

    Returns
    -------
    pandas.DataFrame
        Long format, one row per questionnaire, sorted by site, timepoint and
        id: ``child_id``, ``timepoint``, ``age`` (int, 5-16), ``delivery``
        (``"group"``/``"one-to-one"``), ``referral_reason``, ``site``
        (``"Site A"``...), ``q1``..``q30`` (raw answers 1-3 as on the form,
        reverse items not reversed), ``notes`` (free text, mostly empty).
        Clean frames have int64 item columns; messy ones have object item
        columns holding ints, strings and ``None``.

    Notes
    -----
    Each child has a latent trait per subscale, correlated 0.3 across
    subscales. An item's keyed answer is ``1 + (z > -0.9) + (z > 0.5)`` with
    ``z = (lambda * theta + e) / sqrt(lambda**2 + 1) + b_item``, ``e ~ N(0, 1)``;
    reverse items are then written as ``4 - keyed``. Post traits add a gain
    on Differentiating Emotions, Verbal Sharing and Not Hiding Emotions
    (paired d about 0.3-0.6) and none on the other three subscales; the gain
    is larger for one-to-one delivery and for older children.

    Examples
    --------
    >>> from evalkit.sample import make_children
    >>> kids = make_children(40, seed=1, messy=False)
    >>> kids.shape
    (80, 37)
    >>> sorted(kids["timepoint"].unique())
    ['post', 'pre']
    """
    return _children(n_children, seed, messy, design=design)[0]


def make_facilitators(n_facilitators=60, *, seed=2026, messy=True, design="pre-post"):
    """Generate the facilitators' before/after training questionnaires.

    Parameters
    ----------
    n_facilitators : int, default 60
        Number of distinct facilitators. A messy sample needs at least 20.
    seed : int, default 2026
        Seed; the same seed always gives the same frame.
    messy : bool, default True
        Plant a few blank answers, one exact duplicate row and a few
        facilitators who only answered before training.

    Returns
    -------
    pandas.DataFrame
        One row per questionnaire: ``facilitator_id`` (``F001``...),
        ``timepoint`` (``"pre"``/``"post"``), then ``k1``..``k4``,
        ``u1``..``u4``, ``c1``..``c4`` (1 = strongly disagree ... 5 = strongly
        agree; ``c4`` is worded negatively and not reversed). Item columns
        are int64, or nullable ``Int64`` when ``messy``.

    Examples
    --------
    >>> from evalkit.sample import make_facilitators
    >>> fac = make_facilitators(20, seed=1, messy=False)
    >>> fac.shape
    (40, 14)
    """
    return _facilitators(n_facilitators, seed, messy, design=design)[0]


def write_sample(out_dir, *, n_children=300, n_facilitators=60, seed=2026, messy=True, xlsx_site=True,
                 design="full"):
    """Write a sample cohort (data files, ``cohort.yml``, record of planted problems).

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into (created if needed; files there are overwritten).
    n_children, n_facilitators : int
        Cohort sizes (defaults 300 and 60).
    seed : int, default 2026
    messy : bool, default True
        Plant data problems. Clean samples are written as plain UTF-8 CSV.
    xlsx_site : bool, default True
        Write Site C as ``children_site_c.xlsx`` (otherwise ``.csv``). Large
        workbooks are slow to write; benchmarks may prefer ``False``.

    Returns
    -------
    dict
        JSON-ready record of the sample, also written to ``planted.json``
        (and summarised in ``PLANTED.md``). Keys: ``seed``, ``messy``,
        ``files`` (file name -> encoding), and per section (``"children"``,
        ``"facilitators"``): ``n``, ``n_rows``, ``n_with_pre``,
        ``n_with_post``, ``n_with_both``, ``counts`` (problem -> number of
        cells/rows/ids) and one list per problem. Every list entry names the
        canonical ``id`` (upper case, no spaces), the canonical
        ``timepoint`` where it applies, and ``file`` and ``row`` (spreadsheet
        row number: the header is row 1, the first data row is row 2).

    Examples
    --------
    >>> import tempfile
    >>> from evalkit.sample import write_sample
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     planted = write_sample(tmp, n_children=60, n_facilitators=20, xlsx_site=False)
    ...     sorted(p.name for p in Path(tmp).iterdir())[:3]
    ['PLANTED.md', 'children_site_a.csv', 'children_site_b.csv']
    >>> planted["children"]["counts"]["conflicting_duplicates"]
    2
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    site_files = _site_files(xlsx_site)
    kids, kid_record = _children(n_children, seed, messy, site_files=site_files, design=design)
    fac, fac_record = _facilitators(n_facilitators, seed, messy, design=design)

    files = {}
    for site, name in site_files.items():
        part = kids[kids["site"] == site]
        if name.endswith(".xlsx"):
            _write_xlsx(part, out / name)
            files[name] = "xlsx"
            continue
        encoding = ENCODINGS_MESSY[site] if messy and ENCODINGS_MESSY[site] != "xlsx" else "utf-8"
        newline = "\r\n" if messy and encoding == "cp1252" else "\n"
        part.to_csv(out / name, index=False, encoding=encoding, lineterminator=newline)
        files[name] = encoding + (" (CRLF line endings)" if newline == "\r\n" else "")
    delivery = {}
    if design == "full":  # issue 13: sessions delivered, training dates and system outcomes
        sessions, training, system, delivery = _delivery(kids, list(dict.fromkeys(fac["facilitator_id"])), seed,
                                                         messy)
        by_id = training.set_index("facilitator_id")
        for k, column in enumerate(TRAINING_COLUMNS):
            fac.insert(2 + k, column, fac["facilitator_id"].map(by_id[column]))
    fac.to_csv(out / "facilitators.csv", index=False, encoding="utf-8", lineterminator="\n")
    files["facilitators.csv"] = "utf-8"
    if delivery:
        sessions.to_csv(out / "sessions.csv", index=False, encoding="utf-8", lineterminator="\n")
        system.to_csv(out / "system.csv", index=False, encoding="utf-8", lineterminator="\n")
        files["sessions.csv"] = files["system.csv"] = "utf-8"
    (out / "cohort.yml").write_text(_cohort_yml(list(site_files.values()), design), encoding="utf-8")

    record = {"seed": seed, "messy": messy, **({"design": design} if design != "full" else {}), "files": files,
              "children": kid_record, "facilitators": fac_record, **delivery}
    (out / "planted.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "PLANTED.md").write_text(_planted_markdown(record), encoding="utf-8")
    return record


# ----------------------------------------------------------------------------- instruments

def _instrument(name):
    path = Path(__file__).parent / "data" / "instruments" / f"{name}.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    resp = spec["response"]
    return {
        "id": spec["id"],
        "min": int(resp["min"]),
        "max": int(resp["max"]),
        "labels": {str(k): int(v) for k, v in resp["labels"].items()},
        "min_answered": float(spec["min_answered"]),
        # an item is an id or {id: ..., text: the question}
        "subscales": [(s["id"], [i["id"] if isinstance(i, dict) else i for i in s["items"]],
                       list(s.get("reverse", []))) for s in spec["subscales"]],
    }


def _tolerant_items(inst, columns):
    """Items whose subscale can lose one answer and still be scored."""
    ok = set()
    for _, items, _ in inst["subscales"]:
        if (len(items) - 1) / len(items) >= inst["min_answered"] - 1e-9:
            ok.update(items)
    return np.array([i for i, c in enumerate(columns) if c in ok])


def _blank_needed(n_items, min_answered):
    """Smallest number of blanks that makes a subscale of ``n_items`` unscorable."""
    return next(m for m in range(1, n_items + 1) if (n_items - m) / n_items < min_answered - 1e-9)


# ----------------------------------------------------------------------------- the ordinal model

def _latent(rng, n, n_sub, r):
    corr = np.full((n_sub, n_sub), r) + np.eye(n_sub) * (1 - r)
    return rng.standard_normal((n, n_sub)) @ np.linalg.cholesky(corr).T


def _answers(rng, theta, inst, columns, loading, cuts, shifts):
    """Raw answers (ints, reverse items un-reversed) for latent traits ``theta`` (rows x subscales)."""
    n = theta.shape[0]
    col_sub = np.empty(len(columns), dtype=int)
    lam = np.empty(len(columns))
    reverse = np.zeros(len(columns), dtype=bool)
    pos = {c: i for i, c in enumerate(columns)}
    for s, (sid, items, rev) in enumerate(inst["subscales"]):
        for item in items:
            col_sub[pos[item]] = s
            lam[pos[item]] = loading[sid]
            reverse[pos[item]] = item in rev
    z = (theta[:, col_sub] * lam + rng.standard_normal((n, len(columns)))) / np.sqrt(lam ** 2 + 1)
    z += shifts
    keyed = inst["min"] + (z[:, :, None] > np.asarray(cuts)[None, None, :]).sum(axis=2)
    return np.where(reverse, inst["min"] + inst["max"] - keyed, keyed).astype(np.int64)


def _moderation(age, one_to_one):
    """Per-child multiplier of the gain: about 1 on average, larger one-to-one and with age."""
    return 0.45 + 0.6 * one_to_one + 0.07 * (age - 5)


def _child_columns():
    return [f"q{i}" for i in range(1, 31)]


def _ids(prefix, n, width):
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


# ----------------------------------------------------------------------------- children

def _site_files(xlsx_site=True):
    return {"Site A": "children_site_a.csv", "Site B": "children_site_b.csv",
            "Site C": "children_site_c.xlsx" if xlsx_site else "children_site_c.csv"}


def _design(drng, n, site, one_to_one, age, effect, gain):
    """Issue 12's evaluation design of the children: arms, delivery groups, facilitators, sessions attended.

    Site C puts about half its children on a waiting list (the comparison arm: they improve much less); the
    intervention children delivered in groups are cut, per site, into groups of 4 to 8 with one facilitator
    each, and a group effect on the gain makes the change of group members alike (a modest ICC); one-to-one
    children have a facilitator and no group; sessions attended (0-6) scale the gain a little.

    Returns
    -------
    dict
        Per child: ``waiting`` (bool), ``group`` (int, -1 none), ``facilitator`` (int, -1 none), ``sessions``
        (int, -1 none), and ``gain`` (the changed gains) and ``group_sizes`` (list of int).
    """
    waiting = (site == SITES.index(_WAITING_SITE)) & (drng.random(n) < _WAITING_P)
    sessions = np.where(waiting, -1, drng.choice(7, size=n, p=_SESSIONS_P))
    group = np.full(n, -1)
    facilitator = np.full(n, -1)
    group_site, sizes = [], []
    next_facilitator = 0
    for s in range(len(SITES)):
        in_site = np.flatnonzero(site == s)
        pool = np.arange(next_facilitator, next_facilitator + max(2, round(len(in_site) / 10)))
        next_facilitator = pool[-1] + 1
        members = drng.permutation(in_site[(one_to_one[in_site] == 0) & ~waiting[in_site]])
        start = 0
        for size in _group_sizes(drng, len(members)):
            group[members[start:start + size]] = len(sizes)
            sizes.append(size)
            group_site.append(s)
            start += size
        site_groups = np.array([g for g, gs in enumerate(group_site) if gs == s], dtype=np.int64)
        runs = drng.choice(pool, size=len(site_groups))
        if len(site_groups):
            grouped = members[:start]
            facilitator[grouped] = runs[np.searchsorted(site_groups, group[grouped])]
        alone = in_site[(one_to_one[in_site] == 1) & ~waiting[in_site]]
        facilitator[alone] = drng.choice(pool, size=len(alone))
    group_effect = _GROUP_SD * drng.standard_normal(len(sizes))
    dose = np.where(waiting, _WAITING_GAIN, 1 + _DOSE_STEP * (sessions - _FULL_DOSE))
    extra = (dose[:, None] - 1) * _moderation(age, one_to_one)[:, None] * effect[None, :]
    extra += np.where(group >= 0, group_effect[np.maximum(group, 0)], 0.0)[:, None] * (effect[None, :] > 0)
    return {"waiting": waiting, "group": group, "facilitator": facilitator, "sessions": sessions,
            "gain": gain + extra, "group_sizes": sizes}


def _group_sizes(drng, m):
    """Sizes of groups (4 to 8 children each, fewer only when fewer than 4 children are left) that sum to ``m``."""
    sizes = []
    while m >= 12:
        size = int(drng.integers(4, 9))
        sizes.append(size)
        m -= size
    if m > 8:
        sizes += [m // 2, m - m // 2]
    elif m > 0:
        sizes.append(m)
    return sizes


def _children(n, seed, messy, site_files=None, design="full"):
    if design not in DESIGNS:
        raise EvalkitError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    if int(n) != n or n < 1:
        raise EvalkitError(f"n_children must be a positive whole number, got {n!r}")
    if messy and n < 40:
        raise EvalkitError(f"a messy sample needs at least 40 children, got {n}",
                           expected="n_children >= 40, or messy=False (--clean)")
    n = int(n)
    site_files = site_files or _site_files()
    inst = _instrument("eaq30")
    columns = _child_columns()
    # the design's draws come from a third stream, so that the pre-post design is what it always was
    data_ss, mess_ss, design_ss = np.random.SeedSequence([seed, 1]).spawn(3)
    rng = np.random.default_rng(data_ss)

    site = rng.choice(3, size=n, p=_SITE_P)
    group_p = np.array([_GROUP_P[s] for s in SITES])[site]
    one_to_one = (rng.random(n) >= group_p).astype(np.int64)
    age = 5 + rng.choice(12, size=n, p=_AGE_W / _AGE_W.sum())
    referral = rng.choice(4, size=n, p=_REFERRAL_P)
    n_sub = len(inst["subscales"])
    theta_pre = _latent(rng, n, n_sub, _CHILD_TRAIT_R)
    effect = np.array([_CHILD_EFFECT[s[0]] for s in inst["subscales"]])
    gain = _moderation(age, one_to_one)[:, None] * effect + _CHANGE_SD * rng.standard_normal((n, n_sub))
    full = design == "full"
    if full:
        drng = np.random.default_rng(design_ss)
        plan = _design(drng, n, site, one_to_one, age, effect, gain)
        gain = plan["gain"]
    shifts = rng.uniform(-0.3, 0.3, size=len(columns))
    answers = _answers(rng, np.vstack([theta_pre, theta_pre + gain]), inst, columns,
                       _CHILD_LOADING, _CHILD_CUTS, shifts)
    birthday = (rng.random(n) < _BIRTHDAY_P) & (age < 16)
    has_note = rng.random(2 * n) < _NOTE_P
    note_pick = rng.choice(len(_NOTES), size=2 * n)

    ids = _ids("C", n, 4)
    child = np.concatenate([np.arange(n), np.arange(n)])
    tp_code = np.repeat([0, 1], n)
    base = {
        "child": child,
        "tp_code": tp_code,
        "age": np.concatenate([age, age + birthday]),
        "notes": np.where(has_note, np.array(_NOTES, dtype=object)[note_pick], None),
    }
    if full:  # the follow-up questionnaires: rows 2n.. of ``base`` and ``answers``
        later = np.flatnonzero(~plan["waiting"] & (drng.random(n) < _FOLLOW_UP_P))
        theta_later = (theta_pre[later] + _SUSTAINED * gain[later]
                       + _FOLLOW_UP_SD * drng.standard_normal((len(later), n_sub)))
        answers = np.vstack([answers, _answers(drng, theta_later, inst, columns, _CHILD_LOADING, _CHILD_CUTS,
                                               shifts)])
        older = age[later] + birthday[later]
        older = older + ((drng.random(len(later)) < 0.5) & (older < 16))  # six months on
        notes = np.where(drng.random(len(later)) < _NOTE_P,
                         np.array(_NOTES, dtype=object)[drng.choice(len(_NOTES), size=len(later))], None)
        base = {"child": np.concatenate([child, later]), "tp_code": np.concatenate([tp_code, np.full(len(later), 2)]),
                "age": np.concatenate([base["age"], older]), "notes": np.concatenate([base["notes"], notes])}
    if messy:
        rows, answers, record = _mess_children(np.random.default_rng(mess_ss), base, answers, ids, site,
                                               theta_pre, gain, inst, columns, shifts, site_files)
    else:
        order = np.lexsort((base["child"], base["tp_code"], site[base["child"]]))
        rows = {k: v[order] for k, v in base.items()}
        rows["tp_text"] = _timepoint_texts(rows["tp_code"], site[rows["child"]])
        rows["id_text"] = ids[rows["child"]]
        answers = answers[order]
        record = _section_record(n, rows["child"], rows["tp_code"], {})
    c = rows["child"]
    frame = pd.DataFrame({
        "child_id": rows["id_text"],
        "timepoint": rows["tp_text"],
        "age": rows["age"].astype(np.int64),
        "delivery": np.array(DELIVERY, dtype=object)[one_to_one[c]],
        "referral_reason": np.array(REFERRAL_REASONS, dtype=object)[referral[c]],
        "site": np.array(SITES, dtype=object)[site[c]],
    })
    if full:
        letters = np.array([s_[-1] for s_ in SITES], dtype=object)
        group_site = np.zeros(len(plan["group_sizes"]), dtype=np.int64)
        grouped = plan["group"] >= 0
        group_site[plan["group"][grouped]] = site[grouped]
        number_in_site = np.zeros(len(group_site), dtype=np.int64)
        for s_ in range(len(SITES)):
            number_in_site[group_site == s_] = np.arange((group_site == s_).sum()) + 1
        names = np.array([f"Group {letters[group_site[g]]}{number_in_site[g]}" for g in range(len(group_site))]
                         + [None], dtype=object)
        fac_ids = np.array([f"F{f + 1:03d}" for f in range(plan["facilitator"].max() + 1)] + [None], dtype=object)
        frame["group_id"] = names[plan["group"][c]]
        frame["facilitator_id"] = fac_ids[plan["facilitator"][c]]
        frame["sessions_attended"] = pd.array(np.where(plan["sessions"][c] >= 0, plan["sessions"][c], 0),
                                              dtype="Int64")
        frame.loc[plan["sessions"][c] < 0, "sessions_attended"] = pd.NA
        frame["arm"] = np.where(plan["waiting"][c], ARM_LABELS["comparison"], ARM_LABELS["intervention"])
    items = pd.DataFrame(answers, columns=columns)
    frame = pd.concat([frame, items], axis=1)
    frame["notes"] = rows["notes"]
    record["birthday_between_pre_and_post"] = int(birthday.sum())
    if full:
        record["design"] = _design_record(plan, site, record, rows)
    return frame, record


def _timepoint_texts(tp_code, row_site):
    """The timepoint each row is written with: pre, post, or its site's follow-up label."""
    text = np.array(["pre", "post", None], dtype=object)[np.minimum(tp_code, 2)]
    later = tp_code == 2
    text[later] = np.array([FOLLOW_UP_LABELS[s] for s in SITES], dtype=object)[row_site[later]]
    return text


def _design_record(plan, site, record, rows):
    """What the full design plants, for ``planted.json`` and ``PLANTED.md``."""
    group, waiting, sessions = plan["group"], plan["waiting"], plan["sessions"]
    intervention = ~waiting
    return {
        "arms": {"intervention": int(intervention.sum()), "comparison": int(waiting.sum()),
                 "comparison_site": _WAITING_SITE, "labels": dict(ARM_LABELS),
                 "comparison_gain_share": _WAITING_GAIN},
        "groups": {"n": len(plan["group_sizes"]), "sizes": [int(s) for s in plan["group_sizes"]],
                   "children_in_groups": int((group >= 0).sum()),
                   "one_to_one": int((intervention & (group < 0)).sum()), "group_effect_sd": _GROUP_SD},
        "facilitators": {"n": int(len(set(plan["facilitator"][plan["facilitator"] >= 0])))},
        "sessions": {"counts": {str(k): int((sessions == k).sum()) for k in range(7)}, "full_dose": _FULL_DOSE,
                     "gain_change_per_session": _DOSE_STEP},
        "follow_up": {"n_rows": int((rows["tp_code"] == 2).sum()), "labels": dict(FOLLOW_UP_LABELS),
                      "sustained_share": _SUSTAINED},
    }


def _take(n, pool, rng):
    """Draw ``n`` distinct entries of ``pool`` and return (drawn, rest)."""
    n = min(n, len(pool))
    pick = rng.choice(len(pool), size=n, replace=False)
    mask = np.zeros(len(pool), dtype=bool)
    mask[pick] = True
    return np.sort(pool[mask]), pool[~mask]


def _mess_children(rng, base, answers, ids, site, theta_pre, gain, inst, columns, shifts, site_files):
    n = len(ids)
    # Children with one planted person-level problem each (disjoint groups).
    pool = np.arange(n)
    pre_only, pool = _take(round(0.08 * n), pool, rng)
    post_only, pool = _take(max(3, round(0.015 * n)), pool, rng)
    id_variant, pool = _take(max(3, round(0.01 * n)), pool, rng)
    exact_dup, pool = _take(max(3, round(0.01 * n)), pool, rng)
    conflict, pool = _take(max(2, round(0.005 * n)), pool, rng)
    unknown, pool = _take(max(2, round(0.005 * n)), pool, rng)

    # Source rows: 0..n-1 are pre, n..2n-1 post, then the follow-up questionnaires (as in ``base``).
    keep = np.ones(len(base["child"]), dtype=bool)
    keep[pre_only + n] = False
    keep[post_only] = False
    later = np.arange(2 * n, len(keep))
    keep[later[np.isin(base["child"][later], pre_only)]] = False  # who left before post answers no follow-up
    dup_tp = rng.integers(0, 2, size=len(exact_dup))
    conflict_tp = rng.integers(0, 2, size=len(conflict))
    src = np.concatenate([np.flatnonzero(keep), exact_dup + dup_tp * n, conflict + conflict_tp * n,
                          unknown])
    kind = np.concatenate([np.zeros(keep.sum(), int), np.ones(len(exact_dup), int),
                           np.full(len(conflict), 2), np.full(len(unknown), 3)])
    rows = {k: v[src] for k, v in base.items()}
    rows["kind"] = kind
    rows["tp_code"] = np.where(kind == 3, 3, rows["tp_code"])
    ans = answers[src]

    # Conflicting copies: three answers changed by one step.
    conflict_items = []
    lo, hi = inst["min"], inst["max"]
    for r in np.flatnonzero(kind == 2):
        cols = np.sort(rng.choice(len(columns), size=3, replace=False))
        step = np.where(ans[r, cols] == hi, -1, np.where(ans[r, cols] == lo, 1, rng.choice([-1, 1], 3)))
        ans[r, cols] += step
        conflict_items.append([columns[c] for c in cols])
    # Unknown timepoints: an extra mid-programme questionnaire.
    unk_rows = np.flatnonzero(kind == 3)
    c_unk = rows["child"][unk_rows]
    ans[unk_rows] = _answers(rng, theta_pre[c_unk] + gain[c_unk] / 2, inst, columns, _CHILD_LOADING,
                             _CHILD_CUTS, shifts)

    order = np.lexsort((kind, rows["child"], rows["tp_code"], site[rows["child"]]))
    sorted_pos = np.argsort(order)  # where each unsorted row ends up
    conflict_at = sorted_pos[np.flatnonzero(kind == 2)]
    rows = {k: v[order] for k, v in rows.items()}
    ans = ans[order]
    kind = rows["kind"]
    child = rows["child"]
    tp = rows["tp_code"]
    row_site = site[child]
    file_of = np.array([site_files[s] for s in SITES], dtype=object)[row_site]
    file_row = np.empty(len(child), dtype=np.int64)
    for s in range(3):
        m = row_site == s
        file_row[m] = np.arange(m.sum()) + 2
    tp_names = np.array(["pre", "post", "follow_up", None], dtype=object)

    # Texts for timepoint and id.
    tp_text = _timepoint_texts(tp, row_site)
    site_b = (row_site == 1) & (tp < 2)
    tp_text[site_b] = np.where(tp[site_b] == 0, SITE_B_TIMEPOINTS["pre"], SITE_B_TIMEPOINTS["post"])
    unk_at = np.flatnonzero(kind == 3)
    tp_text[unk_at] = np.array(UNKNOWN_TIMEPOINTS, dtype=object)[np.arange(len(unk_at)) % len(UNKNOWN_TIMEPOINTS)]
    id_text = ids[child].copy()

    def where(r):
        return {"id": str(ids[child[r]]), "file": str(file_of[r]), "row": int(file_row[r])}

    record_lists = {}
    dup_children = np.concatenate([exact_dup, conflict, unknown])
    plain = np.flatnonzero((kind == 0) & ~np.isin(child, dup_children))

    # Timepoint spellings: all of Site B says Baseline/End; elsewhere a few odd spellings.
    ac_plain = plain[(row_site[plain] != 1) & (tp[plain] < 2)]
    variant_rows, _ = _take(max(4, round(0.04 * len(ac_plain))), ac_plain, rng)
    for r in variant_rows:
        choices = TIMEPOINT_VARIANTS[tp_names[tp[r]]]
        tp_text[r] = choices[rng.integers(len(choices))]
    record_lists["timepoint_variants"] = [
        {**where(r), "timepoint": tp_names[tp[r]], "value": tp_text[r]} for r in variant_rows]
    record_lists["timepoint_synonyms"] = [
        {**where(r), "timepoint": tp_names[tp[r]], "value": tp_text[r]} for r in np.flatnonzero(site_b)]
    record_lists["unknown_timepoints"] = [{**where(r), "value": tp_text[r]} for r in unk_at]

    # Id spellings: the post questionnaire of a few children.
    id_records = []
    for k, c in enumerate(id_variant):
        r = np.flatnonzero((child == c) & (tp == 1))[0]
        raw = ID_VARIANTS[k % len(ID_VARIANTS)].format(id=ids[c], lower=ids[c].lower())
        id_text[r] = raw
        id_records.append({**where(r), "timepoint": "post", "value": raw, "pre_value": str(ids[c])})
    record_lists["id_variants"] = id_records

    # Cell-level problems, each on its own rows of plain questionnaires.
    obj = ans.astype(object)
    invalid = np.zeros(ans.shape, dtype=bool)  # cells a cleaner must treat as missing
    n_cells = len(plain) * len(columns)
    row_pool = plain[~np.isin(child[plain], id_variant)]
    label_rows, row_pool = _take(max(4, round(0.02 * len(plain))), row_pool, rng)
    missing_rows, row_pool = _take(max(5, round(0.0015 * n_cells)), row_pool, rng)
    toomany_rows, row_pool = _take(max(3, round(0.01 * n)), row_pool, rng)
    oor_rows, row_pool = _take(max(3, round(0.0003 * n_cells)), row_pool, rng)
    bad_rows, row_pool = _take(max(3, round(0.0003 * n_cells)), row_pool, rng)
    tolerant = _tolerant_items(inst, columns)

    labels = {v: k for k, v in inst["labels"].items()}
    label_cells = []
    for r in label_rows:
        cols = np.flatnonzero(rng.random(len(columns)) < 0.35)
        if len(cols) == 0:
            cols = np.array([rng.integers(len(columns))])
        for c in cols:
            text = _label_variant(labels[int(ans[r, c])], int(rng.integers(6)))
            obj[r, c] = text
            label_cells.append({**where(r), "timepoint": tp_names[tp[r]], "item": columns[c],
                                "value": text, "means": int(ans[r, c])})
    record_lists["text_labels"] = label_cells

    def one_cell(rows_, values, key):
        out = []
        for k, r in enumerate(rows_):
            c = tolerant[rng.integers(len(tolerant))]
            obj[r, c] = values[k % len(values)] if values is not None else None
            invalid[r, c] = True
            out.append({**where(r), "timepoint": tp_names[tp[r]], "item": columns[c],
                        "value": obj[r, c], "was": int(ans[r, c])})
        record_lists[key] = out

    one_cell(missing_rows, None, "missing_answers")
    one_cell(oor_rows, OUT_OF_RANGE[inst["id"]], "out_of_range")
    one_cell(bad_rows, UNPARSEABLE, "unparseable")

    too_many = []
    for k, r in enumerate(toomany_rows):
        sid, items, _ = inst["subscales"][rng.integers(len(inst["subscales"]))]
        m = _blank_needed(len(items), inst["min_answered"]) if k % 2 == 0 else len(items)
        blank = sorted(rng.choice(items, size=m, replace=False), key=columns.index)
        for item in blank:
            obj[r, columns.index(item)] = None
            invalid[r, columns.index(item)] = True
        too_many.append({**where(r), "timepoint": tp_names[tp[r]], "subscale": sid, "items": blank})
    record_lists["too_many_missing"] = too_many

    # Duplicates, as they appear in the files.
    exact, conflicting = [], []
    for r in np.flatnonzero(kind == 1):
        first = np.flatnonzero((child == child[r]) & (tp == tp[r]) & (kind == 0))[0]
        exact.append({**where(r), "timepoint": tp_names[tp[r]], "rows": [int(file_row[first]), int(file_row[r])]})
    for k, r in enumerate(conflict_at):
        first = np.flatnonzero((child == child[r]) & (tp == tp[r]) & (kind == 0))[0]
        conflicting.append({**where(r), "timepoint": tp_names[tp[r]],
                            "rows": [int(file_row[first]), int(file_row[r])], "items": conflict_items[k]})
    record_lists["exact_duplicates"] = exact
    record_lists["conflicting_duplicates"] = conflicting
    record_lists["pre_only"] = [str(i) for i in ids[pre_only]]
    record_lists["post_only"] = [str(i) for i in ids[post_only]]

    # Non-ASCII text in the Windows-1252 file (Site B).
    notes = rows["notes"]
    b_rows = np.flatnonzero(row_site == 1)
    has_non_ascii = np.array([n_ is not None and not n_.isascii() for n_ in notes[b_rows]], dtype=bool)
    if len(b_rows) and not has_non_ascii.any():
        notes[b_rows[0]] = _NOTES[4]
        has_non_ascii[0] = True
    record_lists["non_ascii"] = [{**where(r), "column": "notes", "value": notes[r]}
                                 for r in b_rows[has_non_ascii]]

    record_lists["unscorable"] = _unscorable(invalid, inst, columns, where, tp_names[tp], exclude=kind > 0)

    rows.update(tp_text=tp_text, id_text=id_text, notes=notes)
    return rows, obj, _section_record(n, child, tp, record_lists)


def _label_variant(label, style):
    """A case/space variant of an instrument label, e.g. ``' sometimes TRUE '``."""
    words = label.split(" ")
    return (label.capitalize(), label.upper(), label.title(), label, f" {label} ",
            " " + " ".join(words[:-1] + [words[-1].upper()]) + " ")[style]


def _unscorable(invalid, inst, columns, where, tp_text, exclude):
    """(row, subscale) pairs with fewer than ``min_answered`` valid answers (blank, out-of-range, unparseable)."""
    valid = ~invalid
    out = []
    pos = {c: i for i, c in enumerate(columns)}
    for sid, items, _ in inst["subscales"]:
        frac = valid[:, [pos[i] for i in items]].mean(axis=1)
        for r in np.flatnonzero((frac < inst["min_answered"] - 1e-9) & ~exclude):
            out.append({**where(r), "timepoint": tp_text[r], "subscale": sid})
    return sorted(out, key=lambda d: (d["file"], d["row"], d["subscale"]))


def _section_record(n, person, tp_code, lists):
    present = np.zeros((n, 3), dtype=bool)
    m = tp_code < 3
    present[person[m], tp_code[m]] = True
    record = {
        "n": int(n),
        "n_rows": int(len(person)),
        "n_with_pre": int(present[:, 0].sum()),
        "n_with_post": int(present[:, 1].sum()),
        "n_with_both": int(present[:, :2].all(axis=1).sum()),
    }
    if present[:, 2].any():  # a follow-up wave (the full design)
        record["n_with_follow_up"] = int(present[:, 2].sum())
        record["n_with_pre_and_follow_up"] = int((present[:, 0] & present[:, 2]).sum())
    record["counts"] = {k: len(v) for k, v in lists.items()}
    record.update(lists)
    return record


# ----------------------------------------------------------------------------- facilitators

def _facilitators(n, seed, messy, design="full"):
    if design not in DESIGNS:
        raise EvalkitError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    if int(n) != n or n < 1:
        raise EvalkitError(f"n_facilitators must be a positive whole number, got {n!r}")
    if messy and n < 20:
        raise EvalkitError(f"a messy sample needs at least 20 facilitators, got {n}",
                           expected="n_facilitators >= 20, or messy=False (--clean)")
    n = int(n)
    inst = _instrument("facilitator_tip")
    columns = [i for _, items, _ in inst["subscales"] for i in items]
    data_ss, mess_ss, design_ss = np.random.SeedSequence([seed, 2]).spawn(3)
    rng = np.random.default_rng(data_ss)
    n_sub = len(inst["subscales"])
    theta = _latent(rng, n, n_sub, _FAC_TRAIT_R)
    effect = np.array([_FAC_EFFECT[s[0]] for s in inst["subscales"]])
    gain = effect + 0.5 * rng.standard_normal((n, n_sub))
    shifts = rng.uniform(-0.3, 0.3, size=len(columns))
    answers = _answers(rng, np.vstack([theta, theta + gain]), inst, columns, _FAC_LOADING, _FAC_CUTS, shifts)
    ids = _ids("F", n, 3)
    person = np.concatenate([np.arange(n), np.arange(n)])
    tp = np.repeat([0, 1], n)
    if design == "full":  # a follow-up after training: knowledge holds, confidence fades
        drng = np.random.default_rng(design_ss)
        later = np.flatnonzero(drng.random(n) < _FAC_FOLLOW_UP_P)
        kept = np.array([_FAC_SUSTAINED[sid] for sid, _, _ in inst["subscales"]])
        theta_later = theta[later] + kept * gain[later] + _FOLLOW_UP_SD * drng.standard_normal((len(later), n_sub))
        answers = np.vstack([answers, _answers(drng, theta_later, inst, columns, _FAC_LOADING, _FAC_CUTS, shifts)])
        person = np.concatenate([person, later])
        tp = np.concatenate([tp, np.full(len(later), 2)])
    lists = {}
    if messy:
        mrng = np.random.default_rng(mess_ss)
        pool = np.arange(n)
        pre_only, pool = _take(max(2, round(0.03 * n)), pool, mrng)
        dup, pool = _take(max(1, round(0.01 * n)), pool, mrng)
        keep = np.ones(len(person), dtype=bool)
        keep[pre_only + n] = False
        keep[2 * n:][np.isin(person[2 * n:], pre_only)] = False
        src = np.concatenate([np.flatnonzero(keep), dup + n * mrng.integers(0, 2, size=len(dup))])
        kind = np.concatenate([np.zeros(keep.sum(), int), np.ones(len(dup), int)])
        order = np.lexsort((kind, person[src], tp[src]))
        src, kind = src[order], kind[order]
        person, tp, answers = person[src], tp[src], answers[src]
        frame = pd.DataFrame({"facilitator_id": ids[person],
                              "timepoint": np.array(["pre", "post", "follow-up"], dtype=object)[tp]})
        items = pd.DataFrame(answers, columns=columns).astype("Int64")
        tp_names = np.array(["pre", "post", "follow_up"], dtype=object)

        def where(r):
            return {"id": str(ids[person[r]]), "file": "facilitators.csv", "row": int(r) + 2}

        plain = np.flatnonzero((kind == 0) & ~np.isin(person, dup))
        missing_rows, plain = _take(max(3, round(0.05 * n)), plain, mrng)
        toomany_rows, plain = _take(max(1, round(0.01 * n)), plain, mrng)
        tolerant = _tolerant_items(inst, columns)
        invalid = np.zeros(answers.shape, dtype=bool)
        missing = []
        for r in missing_rows:
            c = tolerant[mrng.integers(len(tolerant))]
            invalid[r, c] = True
            items.iat[r, c] = pd.NA
            missing.append({**where(r), "timepoint": tp_names[tp[r]], "item": columns[c], "was": int(answers[r, c])})
        too_many = []
        for r in toomany_rows:
            sid, sub_items, _ = inst["subscales"][mrng.integers(n_sub)]
            blank = sorted(mrng.choice(sub_items, size=_blank_needed(len(sub_items), inst["min_answered"]),
                                       replace=False), key=columns.index)
            for item in blank:
                invalid[r, columns.index(item)] = True
                items.iat[r, columns.index(item)] = pd.NA
            too_many.append({**where(r), "timepoint": tp_names[tp[r]], "subscale": sid, "items": blank})
        exact = []
        for r in np.flatnonzero(kind == 1):
            first = np.flatnonzero((person == person[r]) & (tp == tp[r]) & (kind == 0))[0]
            exact.append({**where(r), "timepoint": tp_names[tp[r]], "rows": [int(first) + 2, int(r) + 2]})
        lists = {"missing_answers": missing, "too_many_missing": too_many, "exact_duplicates": exact,
                 "pre_only": [str(i) for i in ids[pre_only]],
                 "unscorable": _unscorable(invalid, inst, columns, where, tp_names[tp], exclude=kind > 0)}
    else:
        order = np.lexsort((person, tp))
        person, tp, answers = person[order], tp[order], answers[order]
        frame = pd.DataFrame({"facilitator_id": ids[person],
                              "timepoint": np.array(["pre", "post", "follow-up"], dtype=object)[tp]})
        items = pd.DataFrame(answers, columns=columns)
    frame = pd.concat([frame, items], axis=1)
    return frame, _section_record(n, person, tp, lists)


# ----------------------------------------------------------------------------- writing

def _write_xlsx(frame, path):
    """Write one sheet with openpyxl, with fixed timestamps so the same data gives the same bytes."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name="Export")
        props = writer.book.properties
        props.created = props.modified = pd.Timestamp("2026-01-01").to_pydatetime()
    stamp = (2026, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)


def _cohort_yml(child_files, design="full"):
    """The sample's ``cohort.yml``: one template, with the evaluation design's keys only in ``full``."""
    full = design == "full"
    return _COHORT_YML.format(
        files=", ".join(child_files),
        design_columns=(",\n            group: group_id, facilitator: facilitator_id, sessions: sessions_attended, "
                        "arm: arm") if full else "",
        child_follow_up=", follow_up: [follow-up, 6 months]" if full else "",
        follow_up_note="; follow_up optional" if full else "",
        facilitator_follow_up=", follow_up: [follow-up]" if full else "",
        training_columns=", trained_on: training_date, site: site" if full else "",
        delivery=_DELIVERY_YML.format(
            planned=PLANNED_SESSIONS, fidelity=", ".join(FIDELITY_COLUMNS),
            embedded=", ".join(f"{k}: {v}" for k, v in EMBEDDED_FROM.items()),
            measures="".join(f"    {k}: {{label: \"{label}\", lower_is: better}}\n"
                             for k, (label, _) in SYSTEM_MEASURES.items())) if full else "",
        design_analysis=("  comparison: {intervention: [healing together], comparison: [waiting list]}   "
                         "# levels of the arm column\n"
                         "  full_dose: 5          # sessions attended that count as a full dose\n") if full else "")


_COHORT_YML = """\
name: Sample cohort 2026
about:               # optional; shown on the index and in the Word summary (programme: defaults to a description of Healing Together)
  description: "Children referred to Healing Together at three sample sites (synthetic data made by evalkit.sample), and the facilitators trained to deliver it."
  period: "September 2025 to July 2026"
children:
  file: [{files}]   # a path or a list, relative to this config
  instrument: eaq30
  columns: {{id: child_id, timepoint: timepoint, age: age, delivery: delivery,
            referral_reason: referral_reason, site: site{design_columns}}}
  items: {{}}            # optional source-column -> item-id renames
  timepoints: {{pre: [pre, baseline], post: [post, end]{child_follow_up}}}   # matched case- and space-insensitively{follow_up_note}
facilitators:
  file: facilitators.csv
  instrument: facilitator_tip
  columns: {{id: facilitator_id, timepoint: timepoint{training_columns}}}
  timepoints: {{pre: [pre], post: [post]{facilitator_follow_up}}}
{delivery}analysis:
  alpha: 0.05
  age_bands: [5, 11, 17]
  min_group_n: 10
  primary: [differentiating, verbal_sharing, not_hiding]   # pre-declared primary measures; the others are secondary
{design_analysis}disclosure: {{min_cell: 5}}
"""


_DELIVERY_YML = """\
sessions:            # one row per delivered session (issue 13)
  file: sessions.csv
  columns: {{group: group_id, facilitator: facilitator_id, site: site, date: session_date,
            session: session_number, attended: children_present}}
  fidelity: [{fidelity}]   # yes/no (1/0): core components delivered
  planned_sessions: {planned}
system:              # system outcomes: one row per locality, month and measure
  file: system.csv
  columns: {{locality: area, month: month, measure: measure, count: count, denominator: children_open}}
  embedded_from: {{{embedded}}}   # the month each locality embedded the programme
  measures:
{measures}"""


_EXPLAIN = {
    "text_labels": "answers typed as the instrument's label, in case/space variants",
    "missing_answers": "single blank answers (the subscale can still be scored)",
    "too_many_missing": "blanks that leave a subscale below the instrument's min_answered",
    "out_of_range": "numbers outside the response scale",
    "unparseable": "text that is neither a number nor a label",
    "exact_duplicates": "rows repeated exactly (second copy listed)",
    "conflicting_duplicates": "same id and timepoint twice with different answers",
    "pre_only": "ids with a pre questionnaire only (attrition)",
    "post_only": "ids with a post questionnaire only",
    "timepoint_variants": "'pre'/'post' in other case or with surrounding spaces",
    "timepoint_synonyms": "Site B's wording for pre/post, mapped by the config's timepoints",
    "unknown_timepoints": "timepoints the config does not map (rows to drop)",
    "id_variants": "post id spelt with other case or surrounding spaces",
    "non_ascii": "non-ASCII free text in the Windows-1252 file",
    "unscorable": "resulting subscale scores that cannot be computed (invalid answers counted as missing)",
}


def _planted_markdown(record):
    lines = [
        "# What the sample cohort plants",
        "",
        f"Generated by `python -m evalkit.sample` (seed {record['seed']}, "
        f"{'messy' if record['messy'] else 'clean'}). The full list, with ids and spreadsheet row numbers "
        "(header = row 1), is in `planted.json`.",
        "",
        "## Files",
        "",
        "| file | encoding |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {enc} |" for name, enc in record["files"].items()]
    for section in ("children", "facilitators"):
        sec = record[section]
        lines += [
            "",
            f"## {section.capitalize()}",
            "",
            f"{sec['n']} people, {sec['n_rows']} rows; {sec['n_with_pre']} with pre, "
            f"{sec['n_with_post']} with post, {sec['n_with_both']} with both"
            + (f"; {sec['n_with_follow_up']} with a follow-up ({sec['n_with_pre_and_follow_up']} of them with pre)."
               if "n_with_follow_up" in sec else "."),
            "",
            "| problem | count | what | values used |",
            "| --- | --- | --- | --- |",
        ]
        for key, count in sec["counts"].items():
            values = sorted({repr(e["value"]) for e in sec[key] if isinstance(e, dict) and "value" in e
                             and e["value"] is not None})
            shown = ", ".join(f"`{v}`" for v in values[:12]) + (" ..." if len(values) > 12 else "")
            lines.append(f"| {key} | {count} | {_EXPLAIN.get(key, '')} | {shown} |")
    kids = record["children"]
    if kids.get("conflicting_duplicates"):
        lines += ["", f"A cleaner that drops both copies of a conflicting duplicate keeps "
                  f"{kids['n_with_both'] - len(kids['conflicting_duplicates'])} children with both pre and post "
                  f"(each conflict removes one child's pre or post)."]
    if "birthday_between_pre_and_post" in record["children"]:
        lines += ["", f"{record['children']['birthday_between_pre_and_post']} children are one year older "
                  "at post than at pre (a birthday during the programme); this is not a problem."]
    if "design" in kids:
        lines += _design_markdown(kids["design"], record["facilitators"])
    if "sessions" in record:
        lines += _delivery_markdown(record)
    return "\n".join(lines) + "\n"


def _delivery_markdown(record):
    """What ``sessions.csv``, the training dates and ``system.csv`` plant (issue 13), with their numbers."""
    ses, tra, sysm = record["sessions"], record["training"], record["system"]
    units = ses["units"]
    short = ", ".join(f"{g['group']} ({g['sessions']})" for g in ses["short_groups"])
    low = ", ".join(f"{g['group']} ({g['fidelity_pct']:.0f}%)" for g in ses["low_fidelity_groups"])
    rows = []
    for level, v in tra["by_site"].items():
        median = v["median_days_to_first_session"]
        rows.append(f"| {level} | {v['trained']} | {v['delivering_3m']} | {v['delivering_6m']} | {v['never']} | "
                    f"{'' if median is None else f'{median:g}'} |")
    lever = sysm["level_change"]
    before_after = "; ".join(f"{loc}: {b} before, {a} after" for loc, (b, a) in sysm["months_before_after"].items())
    lines = [
        "", "## Delivery, training and system outcomes (issue 13)", "",
        f"- **Sessions** (`sessions.csv`, {ses['n_sessions']} sessions from {ses['date_range'][0]} to "
        f"{ses['date_range'][1]}): the {units['group']} children's groups, {units['one-to-one']} one-to-one "
        f"deliveries (one per child, named '1:1 <facilitator> <n>', a child present at as many sessions as "
        f"`sessions_attended` says) and {units['extra']} groups of facilitators whose children are not in the "
        f"questionnaires. {ses['planned_sessions']} sessions are planned; groups delivering fewer: {short}. Core "
        f"components ({', '.join(ses['fidelity'])}) are mostly delivered ({ses['fidelity_pct']:.1f}% overall); "
        f"groups planted under 80% fidelity: {low} (drawn among the groups whose children changed least, so that "
        f"the exploratory table of change by fidelity points the way the programme expects: planted, not a "
        f"finding).",
        f"- **Training** (`training_date` and `site` in `facilitators.csv`): most facilitators trained at Site A "
        f"and Site B first deliver within 3 months, some within 6; at {tra['not_embedding_site']} most trained "
        f"facilitators never deliver (training without embedding).",
        "",
        "| site | trained | delivering within 91 days | within 182 days | never | median days to first session |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"- **System outcomes** (`system.csv`): {', '.join(sysm['localities'])}, monthly from {sysm['months'][0]} "
        f"to {sysm['months'][1]}; counts are Poisson on the children open (`children_open`), with a trend and a "
        f"seasonal wobble (log rate {', '.join(f'{v:+g} in {k}' for k, v in sysm['seasonal_log_rate'].items())}"
        f"). Embedded from "
        f"{', '.join(f'{k} {v}' for k, v in sysm['embedded_from'].items())} ({before_after}). Planted: a level "
        f"drop of rate ratio {lever['rate_ratio']:g} in {lever['measure']} in {lever['locality']} at its "
        f"embedding month; no other change. {sysm['too_few_months']} has fewer than 6 months after embedding: "
        f"a note and no model.",
    ]
    if "planted" in ses:
        lines += ["", "Messy values: " + "; ".join(
            f"{part} {key.replace('_', ' ')}: {n}" for part, sec in (("sessions", ses), ("training", tra),
                                                                    ("system", sysm))
            for key, n in (sec["planted"].get("counts") or {k: len(v) for k, v in sec["planted"].items()
                                                           if isinstance(v, list)}).items())
            + " (rows in planted.json)."]
    return lines


def _design_markdown(design, facilitators):
    """The evaluation design the sample plants (issue 12), as sentences with its numbers."""
    arms, groups, sessions, later = design["arms"], design["groups"], design["sessions"], design["follow_up"]
    sizes = groups["sizes"]
    counts = ", ".join(f"{k}: {v}" for k, v in sessions["counts"].items())
    return [
        "", "## Evaluation design (planted effects)", "",
        f"- **Comparison arm.** {arms['comparison']} children at {arms['comparison_site']} are on a waiting list "
        f"(`arm` = '{arms['labels']['comparison']}'; the other {arms['intervention']} children: "
        f"'{arms['labels']['intervention']}'). Their gain is {arms['comparison_gain_share']:.0%} of the "
        f"programme's, so they improve much less. They have no group, facilitator or sessions.",
        f"- **Delivery groups.** {groups['children_in_groups']} intervention children are in {groups['n']} groups "
        f"of {min(sizes)} to {max(sizes)} (`group_id`), each run by one facilitator (`facilitator_id`, "
        f"{design['facilitators']['n']} facilitators); {groups['one_to_one']} are seen one-to-one (no group). A "
        f"group effect (SD {groups['group_effect_sd']} latent units) on the gain of the three improving "
        f"subscales makes the change of children in one group alike: the ICC of change is modestly positive.",
        f"- **Sessions attended** (`sessions_attended`, 0 to 6; {counts}). Each session below the full dose of "
        f"{sessions['full_dose']} takes {sessions['gain_change_per_session']:.0%} off the programme's gain (the "
        f"sixth adds as much): more sessions, a bit more improvement.",
        f"- **Follow-up.** {later['n_rows']} follow-up questionnaires of intervention children about 6 months "
        f"after the programme (labelled {', '.join(repr(v) for v in later['labels'].values())} by site); they keep "
        f"{later['sustained_share']:.0%} of their gain: the change is mostly sustained.",
        f"- **Facilitators' follow-up.** {facilitators.get('n_with_follow_up', 0)} facilitators answer again "
        f"after training (`follow-up`): knowledge and understanding mostly hold, confidence keeps only about a "
        f"third of its gain (training that does not last).",
    ]


# ----------------------------------------------------------------------------- delivery, training, system (issue 13)

#: The sessions each group should deliver (``sessions.planned_sessions``) and the core-component columns.
PLANNED_SESSIONS = 6
FIDELITY_COLUMNS = ("core_1", "core_2", "core_3", "core_4")
SESSION_COLUMNS = ("group_id", "facilitator_id", "site", "session_date", "session_number", "children_present",
                   *FIDELITY_COLUMNS)
#: Columns the full design adds to ``facilitators.csv`` after ``timepoint``.
TRAINING_COLUMNS = ("training_date", "site")
#: The site where training does not become practice: most facilitators trained there never deliver.
NOT_EMBEDDING_SITE = "Site C"
#: Localities of ``system.csv`` and the month each embedded the programme (Medway too late for a model).
LOCALITIES = ("Kent North", "Camden", "Medway")
EMBEDDED_FROM = {"Kent North": "2025-09", "Camden": "2025-11", "Medway": "2026-02"}
SYSTEM_START, SYSTEM_MONTHS = "2024-07", 24
#: Measure key -> (label, base rate per 1,000 children open per month).
SYSTEM_MEASURES = {"referrals_on": ("Referrals to specialist services", 24.0),
                   "escalations": ("Escalations to children's social care", 7.0)}
#: The planted level change (rate ratio at the embedding month); every other locality and measure has none.
LEVEL_CHANGE = {"locality": "Kent North", "measure": "referrals_on", "rate_ratio": 0.75}
_CHILDREN_OPEN = {"Kent North": 5200, "Camden": 3600, "Medway": 1800}
_TREND = {"Kent North": 0.004, "Camden": 0.0, "Medway": -0.003}  # log rate per month, before and after
#: The system outcomes' own random stream (``SeedSequence([seed, 6])``): with seed 2026 its draws recover the
#: planted level change within its interval and the null changes without a spurious one (tests check both).
_SYSTEM_STREAM = 6
#: The seasonal wobble: log-rate dips in the school summer holiday and at Christmas (month number -> change).
_SEASON = {8: -0.15, 12: -0.08}
_COHORT_START, _LAST_START = pd.Timestamp("2025-09-08"), pd.Timestamp("2026-05-25")
_TRAINING_EVENTS = pd.to_datetime(["2025-07-21", "2025-09-01", "2025-10-13", "2025-12-01", "2026-01-19"])
#: Share of trained facilitators delivering a first session within 3 months, within 6 months, or never, for
#: facilitators who run none of the children's groups or one-to-ones (those all deliver: within 3 or 6 months).
_DELIVERY_P = {"Site A": (0.75, 0.15, 0.10), "Site B": (0.70, 0.15, 0.15), "Site C": (0.15, 0.15, 0.70)}
_DELIVERY_P_KIDS = {"Site A": (0.85, 0.15), "Site B": (0.85, 0.15), "Site C": (0.35, 0.65)}
_EXTRA_SITE_P = (0.3, 0.3, 0.4)
_FIDELITY_P, _FIDELITY_FLOOR, _LOW_FIDELITY = 0.97, 0.85, 0.35
_N_SHORT, _N_LOW = 3, 3
_ATTEND_P = 0.8  # children present at a session of a group whose children are not in the questionnaires


def _delivery(kids, facilitator_ids, seed, messy):
    """Sessions delivered, training dates and system outcomes of the full design (issue 13).

    Drawn from their own random stream, so every child and facilitator value stays what it was. The
    children's groups (and one-to-one deliveries, one per child) are delivered by the facilitators the
    children's files name; facilitators who are in no child's row deliver groups of their own (whose
    children are not in the questionnaires) or never deliver.

    Returns
    -------
    sessions : pandas.DataFrame
        ``sessions.csv`` (columns :data:`SESSION_COLUMNS`), messy values planted when ``messy``.
    training : pandas.DataFrame
        Per facilitator id: ``training_date`` (text as written) and ``site``.
    system : pandas.DataFrame
        ``system.csv``: ``area, month, measure, count, children_open``.
    record : dict
        ``sessions``, ``training`` and ``system`` entries of ``planted.json``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    units, fac_site, with_kids = _delivery_units(kids, rng)
    facs = list(dict.fromkeys([*facilitator_ids, *sorted(fac_site)]))
    for f in facs:
        if f not in fac_site:
            fac_site[f] = SITES[rng.choice(3, p=_EXTRA_SITE_P)]
    # training date and delay to the first session
    trained, first, category = {}, {}, {}
    for f in facs:
        site = fac_site[f]
        if f in with_kids:
            category[f] = ("3m", "6m")[rng.choice(2, p=_DELIVERY_P_KIDS[site])]
        else:
            category[f] = ("3m", "6m", "never")[rng.choice(3, p=_DELIVERY_P[site])]
        trained[f] = _TRAINING_EVENTS[rng.integers(len(_TRAINING_EVENTS))]
        if category[f] == "never":
            continue
        low = max(14, (_COHORT_START - trained[f]).days) if category[f] == "3m" else 92
        high = 91 if category[f] == "3m" else min(182, (_LAST_START - trained[f]).days)
        first[f] = trained[f] + pd.Timedelta(days=int(rng.integers(low, high + 1)))
    # groups of their own for delivering facilitators who run none of the children's
    letters = {s: s[-1] for s in SITES}
    taken = {s: max([int(u["name"].split(letters[s])[-1]) for u in units
                     if u["kind"] == "group" and u["site"] == s] or [0]) for s in SITES}
    for f in facs:
        if f in with_kids or f not in first:
            continue
        for _ in range(int(rng.integers(1, 3))):
            taken[fac_site[f]] += 1
            units.append({"name": f"Group {letters[fac_site[f]]}{taken[fac_site[f]]}", "kind": "extra",
                          "site": fac_site[f], "facilitator": f, "size": int(rng.integers(4, 9)), "attended": None})
    groups = [u for u in units if u["kind"] == "group"]
    short = {groups[k]["name"] for k in rng.choice(len(groups), size=min(_N_SHORT, len(groups)), replace=False)}
    # low fidelity is planted in groups whose children changed least, so that the exploratory link between
    # fidelity and change points the way the programme expects (planted, not a finding)
    change = _group_change(kids)
    rest = sorted((u for u in groups if u["name"] not in short), key=lambda u: (change.get(u["name"], 0.0), u["name"]))
    rest = rest[:max(_N_LOW, len(rest) // 2)]
    low = {rest[k]["name"] for k in rng.choice(len(rest), size=min(_N_LOW, len(rest)), replace=False)}
    rows = []
    for f in facs:
        start = first.get(f)
        for u in (u for u in units if u["facilitator"] == f):
            start = min(start, _LAST_START)
            n = int(rng.integers(4, 6)) if u["name"] in short else PLANNED_SESSIONS
            rows += _unit_sessions(u, start, n, u["name"] in low, rng)
            start = start + pd.Timedelta(days=int(rng.integers(7, 43)))
    sessions = pd.DataFrame(rows).sort_values(["session_date", "group_id", "session_number"], kind="stable")
    sessions = sessions.reset_index(drop=True)
    listed = [f for f in facs if f in set(facilitator_ids)]  # training dates are in facilitators.csv only
    record = {"sessions": _sessions_record(sessions, units, short, low),
              "training": _training_record(listed, fac_site, trained, sessions, category)}
    training = pd.DataFrame({"facilitator_id": listed,
                             "training_date": [trained[f].strftime("%Y-%m-%d") for f in listed],
                             "site": [fac_site[f] for f in listed]})
    system, record["system"] = _system(np.random.default_rng(np.random.SeedSequence([seed, _SYSTEM_STREAM])))
    first_clean = sessions_first(sessions)
    if messy:
        sessions, record["sessions"]["planted"] = _mess_sessions(sessions, rng)
        training, record["training"]["planted"] = _mess_training(training, category, fac_site, rng)
        system, record["system"]["planted"] = _mess_system(system, rng)
        record["training"]["trained"] = record["training"]["n"] - sum(
            len(v) for k, v in record["training"]["planted"].items() if k != "day_first")
        _training_truth(record["training"], listed, fac_site, trained, first_clean, training)
    for part in ("sessions", "system"):
        record[part]["n_rows"] = len(sessions if part == "sessions" else system)
    return sessions, training, system, record


def _group_change(kids):
    """Mean change (post - pre) of each group's children on the improving subscales' keyed answers."""
    inst = _instrument("eaq30")
    rows = kids[kids["group_id"].notna()]
    keyed = []
    for sid, items, reverse in inst["subscales"]:
        if _CHILD_EFFECT[sid] <= 0:
            continue
        for item in items:
            value = pd.to_numeric(rows[item], errors="coerce")
            keyed.append(inst["min"] + inst["max"] - value if item in reverse else value)
    score = pd.concat(keyed, axis=1).mean(axis=1)
    when = rows["timepoint"].str.strip().str.casefold().replace({"baseline": "pre", "end": "post"})
    child = rows["child_id"].str.strip().str.upper()
    wide = pd.DataFrame({"child": child, "when": when, "score": score, "group": rows["group_id"]})
    wide = wide[wide["when"].isin(["pre", "post"])].pivot_table(index=["group", "child"], columns="when",
                                                                 values="score", aggfunc="first")
    return (wide["post"] - wide["pre"]).groupby(level="group").mean().dropna().to_dict()


def _delivery_units(kids, rng):
    """The children's groups and one-to-one deliveries: name, site, facilitator and each child's sessions."""
    rows = kids[kids["arm"] == ARM_LABELS["intervention"]].copy()
    rows["child"] = rows["child_id"].str.strip().str.upper()
    person = rows.drop_duplicates("child").set_index("child")
    units, fac_site, with_kids = [], {}, set()
    for name, part in person[person["group_id"].notna()].groupby("group_id", sort=False):
        f = part["facilitator_id"].iloc[0]
        units.append({"name": name, "kind": "group", "site": part["site"].iloc[0], "facilitator": f,
                      "size": len(part), "attended": part["sessions_attended"].astype(int).tolist()})
    count = {}
    for child, row in person[person["group_id"].isna() & person["facilitator_id"].notna()].iterrows():
        f = row["facilitator_id"]
        count[f] = count.get(f, 0) + 1
        units.append({"name": f"1:1 {f} {count[f]}", "kind": "one-to-one", "site": row["site"], "facilitator": f,
                      "size": 1, "attended": [int(row["sessions_attended"])]})
    for u in units:
        fac_site[u["facilitator"]] = u["site"]
        with_kids.add(u["facilitator"])
    units.sort(key=lambda u: (u["kind"] != "group", u["name"]))
    return units, fac_site, with_kids


def _unit_sessions(unit, start, n, low, rng):
    """One row per session of a group or one-to-one delivery: weekly, a skipped week now and then."""
    dates, day = [], start
    for _ in range(n):
        dates.append(day)
        day += pd.Timedelta(days=14 if rng.random() < 0.1 else 7)
    if unit["attended"] is None:
        present = rng.binomial(unit["size"], _ATTEND_P, size=n)
    else:  # each child present at as many sessions as their questionnaire says they attended
        present = np.zeros(n, dtype=int)
        for a in unit["attended"]:
            present[rng.choice(n, size=min(a, n), replace=False)] += 1
    marks = (rng.random((n, len(FIDELITY_COLUMNS))) < _FIDELITY_P).astype(int)
    if low:
        marks[:] = 1
        flat = rng.choice(marks.size, size=round(_LOW_FIDELITY * marks.size), replace=False)
        marks.flat[flat] = 0
    else:
        while marks.mean() < _FIDELITY_FLOOR:
            zeros = np.flatnonzero(marks.ravel() == 0)
            marks.flat[zeros[rng.integers(len(zeros))]] = 1
    return [{"group_id": unit["name"], "facilitator_id": unit["facilitator"], "site": unit["site"],
             "session_date": d.strftime("%Y-%m-%d"), "session_number": k + 1, "children_present": int(present[k]),
             **{c: int(marks[k, j]) for j, c in enumerate(FIDELITY_COLUMNS)}} for k, d in enumerate(dates)]


def sessions_first(sessions):
    """Each facilitator's first session date (as written, ISO) in a clean or messy ``sessions.csv`` frame."""
    rows = sessions[sessions["group_id"].notna() & sessions["group_id"].astype(str).str.strip().ne("")]
    dates = pd.to_datetime(rows["session_date"], errors="coerce", format="%Y-%m-%d")
    return dates.groupby(rows["facilitator_id"]).min().dropna()


def _sessions_record(sessions, units, short, low):
    """What ``sessions.csv`` plants, computed from the clean rows (before any messy value)."""
    fid = sessions[list(FIDELITY_COLUMNS)]
    per = sessions.assign(marks=fid.sum(axis=1)).groupby("group_id").agg(
        site=("site", "first"), sessions=("session_number", "size"), marks=("marks", "sum"))
    per["fidelity_pct"] = 100 * per["marks"] / (per["sessions"] * len(FIDELITY_COLUMNS))
    kinds = {u["name"]: u["kind"] for u in units}
    return {
        "file": "sessions.csv", "planned_sessions": PLANNED_SESSIONS, "fidelity": list(FIDELITY_COLUMNS),
        "n_sessions": len(sessions),
        "units": {k: sum(1 for v in kinds.values() if v == k) for k in ("group", "extra", "one-to-one")},
        "short_groups": [{"group": g, "site": per.loc[g, "site"], "sessions": int(per.loc[g, "sessions"])}
                         for g in sorted(short)],
        "low_fidelity_groups": [{"group": g, "site": per.loc[g, "site"],
                                 "fidelity_pct": round(float(per.loc[g, "fidelity_pct"]), 4)} for g in sorted(low)],
        "under_80": sorted(per.index[per["fidelity_pct"] < 80]),
        "fidelity_pct": round(float(100 * fid.to_numpy().mean()), 4),
        "fidelity_pct_by_site": {s: round(float(100 * fid[sessions["site"] == s].to_numpy().mean()), 4)
                                 for s in SITES if (sessions["site"] == s).any()},
        "sessions_by_site": {s: int((sessions["site"] == s).sum()) for s in SITES},
        "children_present": int(sessions["children_present"].sum()),
        "date_range": [sessions["session_date"].min(), sessions["session_date"].max()],
    }


def _training_record(facs, fac_site, trained, sessions, category):
    out = {"file": "facilitators.csv", "columns": list(TRAINING_COLUMNS), "n": len(facs),
           "not_embedding_site": NOT_EMBEDDING_SITE, "windows_days": {"3m": 91, "6m": 182},
           "category": {f: category[f] for f in facs}}
    _training_truth(out, facs, fac_site, trained, sessions_first(sessions), None)
    return out


def _training_truth(out, facs, fac_site, trained, first, training):
    """Trained, delivering within 91 and 182 days, and the median days to a first session, per site."""
    left_out = set()
    if training is not None:  # messy: facilitators whose training date is blank or not a date are left out
        for k in ("no_training_date", "not_a_date"):
            left_out |= {e["id"] for e in out.get("planted", {}).get(k, [])}
    per = {}
    for level in [*SITES, "overall"]:
        who = [f for f in facs if f not in left_out and (level == "overall" or fac_site[f] == level)]
        days = pd.Series([(first[f] - trained[f]).days if f in first.index else np.nan for f in who], dtype=float)
        per[level] = {"trained": len(who), "delivering_3m": int((days <= 91).sum()),
                      "delivering_6m": int((days <= 182).sum()), "never": int(days.isna().sum()),
                      "median_days_to_first_session": float(days.median()) if days.notna().any() else None}
    out["by_site"] = per


def _mess_sessions(sessions, rng):
    """Plant what real session logs hold: yes/no spellings, a bad cell or two, a day-first site, extra rows."""
    frame = sessions.astype(object).copy()
    planted = {}
    # Site B writes its dates day first
    site_b = np.flatnonzero(frame["site"] == "Site B")
    frame.loc[site_b, "session_date"] = [pd.Timestamp(d).strftime("%d/%m/%Y")
                                         for d in frame.loc[site_b, "session_date"]]
    planted["day_first_dates"] = {"site": "Site B", "rows": len(site_b)}
    # fidelity written as words: the same meaning
    words = {1: ("Yes", "yes", "Y", "TRUE"), 0: ("No", "no", "N", "false")}
    picks = rng.choice(len(frame), size=8, replace=False)
    planted["fidelity_words"] = []
    for r in picks:
        c = FIDELITY_COLUMNS[rng.integers(len(FIDELITY_COLUMNS))]
        v = int(frame.at[r, c])
        frame.at[r, c] = words[v][rng.integers(4)]
        planted["fidelity_words"].append({"row": int(r), "column": c, "value": frame.at[r, c], "means": v})
    # cells the cleaning sets missing
    free = np.array([r for r in range(len(frame)) if r not in set(picks)])
    chosen = rng.choice(free, size=3, replace=False)
    planted["fidelity_invalid"] = []
    for r, text in zip(chosen[:2], ("?", "partly")):
        c = FIDELITY_COLUMNS[rng.integers(len(FIDELITY_COLUMNS))]
        planted["fidelity_invalid"].append({"row": int(r), "column": c, "value": text, "was": int(frame.at[r, c])})
        frame.at[r, c] = text
    r = int(chosen[2])
    planted["attended_invalid"] = [{"row": r, "column": "children_present", "value": "n/k",
                                    "was": int(frame.at[r, "children_present"])}]
    frame.at[r, "children_present"] = "n/k"
    # spellings of one group and one site that the cleaning folds together
    r = int(rng.choice(np.flatnonzero(frame["group_id"].str.startswith("Group"))))
    planted["group_spelling"] = [{"row": r, "column": "group_id", "value": frame.at[r, "group_id"].lower(),
                                  "means": frame.at[r, "group_id"]}]
    frame.at[r, "group_id"] = frame.at[r, "group_id"].lower()
    r = int(rng.choice(np.flatnonzero(frame["site"] == "Site A")))
    planted["site_spelling"] = [{"row": r, "column": "site", "value": "site A ", "means": "Site A"}]
    frame.at[r, "site"] = "site A "
    # extra rows the cleaning excludes: a session without its group, one not yet dated, one typed twice
    frame["_source"] = np.arange(len(frame))
    bases = rng.choice(len(frame), size=3, replace=False)
    missing_group = frame.iloc[bases[0]].copy()
    missing_group["group_id"], missing_group["_source"] = None, -1
    undated = frame.iloc[bases[1]].copy()
    undated["session_date"], undated["session_number"], undated["_source"] = "TBC", PLANNED_SESSIONS + 1, -2
    twice = frame.iloc[bases[2]].copy()
    twice["_source"] = -3
    for row, after in ((missing_group, int(rng.integers(len(frame)))), (undated, bases[1]), (twice, bases[2])):
        at = int(np.flatnonzero(frame["_source"] == after)[0]) + 1
        frame = pd.concat([frame.iloc[:at], row.to_frame().T, frame.iloc[at:]], ignore_index=True)
    position = {int(s): k + 2 for k, s in enumerate(frame["_source"])}
    planted["excluded"] = [{"row": position[-1], "reason": "missing group"},
                           {"row": position[-2], "reason": "date not a date"},
                           {"row": position[-3], "reason": "exact duplicate", "same_as": position[int(bases[2])]}]
    for key in ("fidelity_words", "fidelity_invalid", "attended_invalid", "group_spelling", "site_spelling"):
        for e in planted[key]:
            e["row"] = position[e["row"]]
    for entries in planted.values():
        for e in entries if isinstance(entries, list) else []:
            e["file"] = "sessions.csv"
    planted["counts"] = {k: (len(v) if isinstance(v, list) else v["rows"]) for k, v in planted.items()}
    return frame.drop(columns="_source"), planted


def _mess_training(training, category, fac_site, rng):
    """A blank training date, one that is no date, and a few written day first (all read as dates)."""
    frame = training.copy()
    never = [f for f in frame["facilitator_id"] if category[f] == "never" and fac_site[f] != NOT_EMBEDDING_SITE]
    pick = [never[k] for k in sorted(rng.choice(len(never), size=min(2, len(never)), replace=False))]
    planted = {"no_training_date": [], "not_a_date": [], "day_first": []}
    if pick:
        frame.loc[frame["facilitator_id"] == pick[0], "training_date"] = None
        planted["no_training_date"].append({"id": pick[0], "file": "facilitators.csv"})
    if len(pick) > 1:
        frame.loc[frame["facilitator_id"] == pick[1], "training_date"] = "booked"
        planted["not_a_date"].append({"id": pick[1], "file": "facilitators.csv", "value": "booked"})
    rest = np.flatnonzero(~frame["facilitator_id"].isin(pick))
    for r in sorted(rng.choice(rest, size=4, replace=False)):
        iso = frame.at[r, "training_date"]
        frame.at[r, "training_date"] = pd.Timestamp(iso).strftime("%d/%m/%Y")
        planted["day_first"].append({"id": frame.at[r, "facilitator_id"], "file": "facilitators.csv",
                                     "value": frame.at[r, "training_date"], "date": iso})
    return frame, planted


def _system(rng):
    """Monthly counts per locality and measure: Poisson on children open, a trend, holiday dips, a level drop."""
    months = pd.period_range(SYSTEM_START, periods=SYSTEM_MONTHS, freq="M")
    rows = []
    for locality in LOCALITIES:
        start = pd.Period(EMBEDDED_FROM[locality], freq="M")
        open_ = np.round(_CHILDREN_OPEN[locality] * np.exp(0.03 * np.cumsum(rng.standard_normal(len(months))) / 3))
        for measure, (_, rate) in SYSTEM_MEASURES.items():
            t = np.arange(len(months))
            after = np.array([m >= start for m in months])
            log_rate = (np.log(rate / 1000) + _TREND[locality] * t
                        + np.array([_SEASON.get(m, 0.0) for m in months.month]))
            if (locality, measure) == (LEVEL_CHANGE["locality"], LEVEL_CHANGE["measure"]):
                log_rate = log_rate + np.log(LEVEL_CHANGE["rate_ratio"]) * after
            counts = rng.poisson(open_ * np.exp(log_rate))
            rows += [{"area": locality, "month": str(m), "measure": measure, "count": int(c), "children_open": int(d)}
                     for m, c, d in zip(months, counts, open_)]
    system = pd.DataFrame(rows).sort_values(["area", "month", "measure"], kind="stable").reset_index(drop=True)
    record = {"file": "system.csv", "localities": list(LOCALITIES), "months": [str(months[0]), str(months[-1])],
              "embedded_from": dict(EMBEDDED_FROM),
              "measures": {k: {"label": v[0], "rate_per_1000": v[1]} for k, v in SYSTEM_MEASURES.items()},
              "level_change": dict(LEVEL_CHANGE), "other_level_changes": 1.0,
              "trend_per_month": dict(_TREND),
              "seasonal_log_rate": {calendar.month_name[k]: v for k, v in _SEASON.items()},
              "months_before_after": {loc: [int((months < pd.Period(m, freq="M")).sum()),
                                            int((months >= pd.Period(m, freq="M")).sum())]
                                      for loc, m in EMBEDDED_FROM.items()},
              "too_few_months": "Medway"}
    return system, record


def _mess_system(system, rng):
    """A thousands separator (read as one) and three extra rows the cleaning excludes."""
    frame = system.astype(object).copy()
    frame["_source"] = np.arange(len(frame))
    big = np.flatnonzero(frame["children_open"].astype(int) >= 1000)
    r = int(rng.choice(big))
    frame.at[r, "children_open"] = f"{int(frame.at[r, 'children_open']):,}"
    thousands = {"row": r, "column": "children_open", "value": frame.at[r, "children_open"]}
    bases = rng.choice(len(frame), size=3, replace=False)
    other = frame.iloc[bases[0]].copy()
    other["measure"], other["_source"] = "waiting_times", -1
    no_count = frame.iloc[bases[1]].copy()
    no_count["count"], no_count["_source"] = "n/a", -2
    twice = frame.iloc[bases[2]].copy()
    twice["_source"] = -3
    for row, after in ((other, bases[0]), (no_count, bases[1]), (twice, bases[2])):
        at = int(np.flatnonzero(frame["_source"] == after)[0]) + 1
        frame = pd.concat([frame.iloc[:at], row.to_frame().T, frame.iloc[at:]], ignore_index=True)
    position = {int(s): k + 2 for k, s in enumerate(frame["_source"])}
    thousands["row"] = position[thousands["row"]]
    planted = {"thousands_separator": [{"file": "system.csv", **thousands}],
               "excluded": [{"file": "system.csv", "row": position[-1], "reason": "measure not configured"},
                            {"file": "system.csv", "row": position[-2],
                             "reason": "count not a whole number of 0 or more"},
                            {"file": "system.csv", "row": position[-3], "reason": "exact duplicate",
                             "same_as": position[int(bases[2])]}]}
    planted["counts"] = {k: len(v) for k, v in planted.items()}
    return frame.drop(columns="_source"), planted


# ----------------------------------------------------------------------------- command line

def main(argv=None):
    """Command line: ``python -m evalkit.sample OUT_DIR [--children N] [--facilitators N] [--seed S] [--clean]``."""
    parser = argparse.ArgumentParser(prog="python -m evalkit.sample", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder to write the sample into")
    parser.add_argument("--children", type=int, default=300, help="number of children (default 300)")
    parser.add_argument("--facilitators", type=int, default=60, help="number of facilitators (default 60)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--clean", action="store_true", help="plant no data problems")
    parser.add_argument("--csv-only", action="store_true", help="write Site C as CSV instead of XLSX")
    parser.add_argument("--pre-post", action="store_true",
                        help="the old single-group shape: no groups, sessions, comparison arm or follow-up")
    args = parser.parse_args(argv)
    try:
        record = write_sample(args.out_dir, n_children=args.children, n_facilitators=args.facilitators,
                              seed=args.seed, messy=not args.clean, xlsx_site=not args.csv_only,
                              design="pre-post" if args.pre_post else "full")
    except EvalkitError as error:
        parser.exit(error.exit_code, f"error: {error}\n")
    kids = record["children"]
    print(f"wrote {args.out_dir}: {kids['n']} children ({kids['n_rows']} rows), "
          f"{record['facilitators']['n']} facilitators; see PLANTED.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
