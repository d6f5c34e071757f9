"""What a commissioner reads first: the main points, who took part, and how far to trust the results.

Every statement here is computed from the cohort's config, its cleaned data and
its results tables, never fixed text, and every count in it obeys the report's
disclosure control: counts from 1 to ``min_cell - 1`` are written "fewer than
{min_cell}", and a total is left out wherever it and the shown parts would give
a small count away (the same complementary suppression as the tables).

The functions take a :class:`evalkit.report.notebook.ReportData` (anything with
``cohort``, ``results``, ``config`` and ``min_cell``) and return tidy
DataFrames of sentences, which the index page, the outcome pages and the Word
summary show.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .findings import SIZE_CONVENTION, format_number, format_p, size_words

__all__ = ["main_points", "about", "trust", "evidence", "claims", "matching_counts", "instrument_warnings", "post_pre",
           "SIZE_CONVENTION"]

#: The people of each section, as the sentences name them.
POPULATION = {"children": ("children", "child", "Children's"),
              "facilitators": ("facilitators", "facilitator", "Facilitators'")}
#: Columns of :func:`main_points`.
MAIN_POINT_COLUMNS = ["section", "kind", "measures", "sentence"]
#: Most main points on one page (the issue's "3 to 6 bullets").
MAX_POINTS = 6
#: Primary measures shown one bullet each before they share a bullet.
MAX_PRIMARY_BULLETS = 3


# --------------------------------------------------------------------------- counts

def post_pre(table):
    """The rows of an outcomes table that compare the end with the start (``contrast == "post-pre"``).

    With a follow-up wave ``child_outcomes`` and ``facilitator_outcomes`` also hold ``follow_up-pre`` and
    ``follow_up-post`` rows; every table, figure and sentence about change over the programme reads
    only the ``post-pre`` rows. A table without a ``contrast`` column (written before follow-up
    existed) is all ``post-pre``.

    Examples
    --------
    >>> t = pd.DataFrame({"measure": ["a", "a"], "contrast": ["post-pre", "follow_up-pre"]})
    >>> post_pre(t)["contrast"].tolist(), len(post_pre(t.drop(columns="contrast")))
    (['post-pre'], 2)
    """
    if table is None or "contrast" not in getattr(table, "columns", ()):
        return table
    return table[table["contrast"].fillna("post-pre") == "post-pre"].reset_index(drop=True)


def matching_counts(data):
    """People with a start (pre) questionnaire only, an end (post) one only, and both, per section.

    Returns
    -------
    pandas.DataFrame
        One row per section: ``section``, ``people``, ``pre only``, ``post only``,
        ``matched``, after complementary suppression (people = pre only + post
        only + matched; a hidden count shows ``"<min_cell"`` or ``"*"``), so a
        sentence built from it can give nothing away that the tables hide.
    """
    from .privacy import complementary_suppression

    rows = []
    for name, sec in data.cohort.sections.items():
        people = sec.scores.groupby("id")["timepoint"].agg(frozenset)
        rows.append({"section": name, "people": len(people),
                     "pre only": int((people == frozenset({"pre"})).sum()),
                     "post only": int((people == frozenset({"post"})).sum()),
                     "matched": int((people == frozenset({"pre", "post"})).sum())})
    table = pd.DataFrame(rows, columns=["section", "people", "pre only", "post only", "matched"])
    return complementary_suppression(table, relations=[("people", ["pre only", "post only", "matched"])],
                                     keep=["pre only", "post only", "matched"], min_cell=data.min_cell)


def _shown(value):
    """A count as shown: an int, or None when disclosure control hides it."""
    from .privacy import is_hidden

    if value is None or is_hidden(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) else None


def _people(n, section, min_cell):
    plural, singular, _ = POPULATION.get(section, ("people", "person", "People's"))
    if n is None or not np.isfinite(n):
        return f"an unknown number of {plural}"
    n = int(n)
    if 0 < n < min_cell:
        return f"fewer than {min_cell} {plural}"
    return f"{n:,} {singular if n == 1 else plural}"


# --------------------------------------------------------------------------- main points

def _effect(row):
    """(value, text) of the primary test's effect size: d_z for the paired t-test, r for Wilcoxon."""
    if row.get("primary_test") == "Wilcoxon":
        value = row.get("rank_biserial", np.nan)
        return value, f"rank-biserial r {format_number(value)}"
    value = row.get("d_z", np.nan)
    return value, f"d_z {format_number(value)}"


def _direction(row, higher_is, alpha):
    """('improved' | 'worsened' | 'rose' | 'fell' | 'no change' | 'not tested', noun)."""
    if row.get("primary_test") not in ("paired t", "Wilcoxon"):
        return "not tested", ""
    p = row.get("p_primary_holm", np.nan)
    if not (isinstance(p, (int, float)) and np.isfinite(p) and p < alpha):
        return "no change", ""
    effect, _ = _effect(row)
    sign = effect if np.isfinite(effect) and effect != 0 else row.get("mean_diff", 0)
    up = sign > 0
    if higher_is == "better":
        return ("improved", "improvement") if up else ("worsened", "worsening")
    if higher_is == "worse":
        return ("worsened", "worsening") if up else ("improved", "improvement")
    return ("rose", "rise") if up else ("fell", "fall")


def _measure_text(row, section, label, higher_is, alpha, min_cell, *, lead=True):
    """One measure's direction, size in words, effect and n: the body of a main point."""
    direction, noun = _direction(row, higher_is, alpha)
    n = _people(row.get("n"), section, min_cell)
    _, possessive = POPULATION.get(section, ("people", "person", "People's"))[1:]
    who = f"{possessive} {label} scores" if lead else f"{label}"
    value, effect = _effect(row)
    words = size_words(value)
    p = f"{format_p(row.get('p_primary_holm'))} after Holm adjustment"
    if direction == "not tested":
        why = str(row.get("note") or "").strip() or "too few people with both questionnaires"
        return direction, f"{who} could not be tested ({why}; {n})"
    if direction == "no change":
        return direction, f"{who} did not change significantly ({effect}, {words}; {p}; {n})"
    if not lead:
        return direction, f"{who} {direction} ({words}, {effect}; {p}; {n})"
    article = "an" if words[:1] in "aeiou" else "a"
    return direction, f"{who} {direction}: {article} {words} {noun} ({effect}; {p}; {n})"


def _section_rows(data, section):
    key = "child_outcomes" if section == "children" else "facilitator_outcomes"
    table = post_pre(data.results.get(key))
    if table is None or getattr(table, "empty", True):
        return []
    return [row for _, row in table.iterrows()]


def _labels(data, section):
    sec = data.cohort.sections.get(section)
    return dict(getattr(sec, "labels", {}) or {}) if sec is not None else {}


def _instrument(data, section):
    sec = data.cohort.sections.get(section)
    return getattr(sec, "instrument", None)


def _joined(parts):
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return "; ".join(parts[:-1]) + "; and " + parts[-1]


def _count_words(results):
    """'improved on 3 of the 3 primary measures' style summary of directions."""
    improved = sum(d in ("improved",) for d in results)
    worsened = sum(d in ("worsened",) for d in results)
    rose = sum(d == "rose" for d in results)
    fell = sum(d == "fell" for d in results)
    return improved, worsened, rose, fell


def main_points(data, section=None):
    """The 3 to 6 plain-English main points of the report, primary measures first.

    Parameters
    ----------
    data : ReportData
    section : {"children", "facilitators"}, optional
        Only that section's points (an outcome page); default: the whole report
        (the index and Word), children first.

    Returns
    -------
    pandas.DataFrame
        Columns ``section``, ``kind`` (``"bottom line"``, ``"primary"``,
        ``"secondary"``, ``"measures"``), ``measures`` (the measure ids the point
        covers, comma-separated) and ``sentence``. At most :data:`MAX_POINTS` rows on the outcomes; the
        whole report's points then add one on delivery and training (``section`` ``delivery``) and one on
        system outcomes (``system``) where the cohort has them (:func:`evalkit.report.service.points`).

    Notes
    -----
    Each point gives the direction, the size in words, the effect size and the
    number of people. A change counts when the Holm-adjusted p of the primary
    test is below ``analysis.alpha``; its direction is "improved" or "worsened"
    when the instrument says what a higher score means (``higher_is``), else
    "rose" or "fell". Sizes in words follow :data:`SIZE_CONVENTION` (Cohen,
    1988), applied to d_z, or to the rank-biserial r where the Wilcoxon test is
    primary. Measures declared in ``analysis.primary`` get a bullet each (up to
    three); the others are grouped in one bullet marked "secondary". With no
    primary measure declared, the children's measures share one bullet, in
    instrument order, so that no measure is picked out after the fact.
    """
    alpha = float(data.config.analysis.get("alpha", 0.05))
    primary = list(data.config.analysis.get("primary") or [])
    sections = [section] if section else [s for s in ("children", "facilitators") if s in data.cohort.sections]
    points, verdicts = [], {}
    for name in sections:
        rows = _section_rows(data, name)
        if not rows:
            continue
        labels, inst = _labels(data, name), _instrument(data, name)
        higher = {r["measure"]: (inst.higher_is(r["measure"]) if inst is not None else None) for r in rows}

        def text(row, lead=True):
            return _measure_text(row, name, labels.get(row["measure"], row["measure"]), higher[row["measure"]],
                                 alpha, data.min_cell, lead=lead)

        declared = [r for r in rows if r["measure"] in primary]
        others = [r for r in rows if r["measure"] not in primary]
        verdicts[name] = {r["measure"]: text(r)[0] for r in rows}
        if declared:
            if len(declared) <= MAX_PRIMARY_BULLETS:
                for r in declared:
                    points.append((name, "primary", r["measure"], text(r)[1] + "."))
            else:
                points.append((name, "primary", ",".join(r["measure"] for r in declared),
                               f"Primary measures: {_joined(text(r, lead=False)[1] for r in declared)}."))
            if others:
                points.append((name, "secondary", ",".join(r["measure"] for r in others),
                               f"Secondary measures (not pre-declared as primary): "
                               f"{_joined(text(r, lead=False)[1] for r in others)}."))
        elif section and len(rows) <= MAX_POINTS:  # a page of its own: a bullet per measure
            for r in rows:
                points.append((name, "measures", r["measure"], text(r)[1] + "."))
        else:
            _, _, possessive = POPULATION.get(name, ("people", "person", "People's"))
            declared_note = " (no measure was declared primary in analysis.primary, so all are shown alike)" \
                if name == "children" or not primary else ""
            points.append((name, "measures", ",".join(r["measure"] for r in rows),
                           f"{possessive} scores{declared_note}: {_joined(text(r, lead=False)[1] for r in rows)}."))
    bottom = _bottom_line(data, verdicts, primary) if not section else None
    frame = pd.DataFrame(([("all", "bottom line", "", bottom)] if bottom else []) + points,
                         columns=MAIN_POINT_COLUMNS).head(MAX_POINTS)
    if not section:  # issue 13: one point on delivery and training, one on system outcomes, after the outcomes
        from .service import points as service_points

        extra = service_points(data)
        if len(extra):
            frame = pd.concat([frame, extra[MAIN_POINT_COLUMNS]], ignore_index=True)
    return frame.reset_index(drop=True)


def _bottom_line(data, verdicts, primary):
    """One sentence: what changed on the measures that matter, and what the design cannot show."""
    when = {"children": "after the programme", "facilitators": "after their training"}
    parts = []
    for name, verdict in verdicts.items():
        possessive = POPULATION.get(name, ("", "", "People's"))[2].lower()
        chosen = [m for m in verdict if m in primary] or list(verdict)
        kind = "primary measures" if any(m in primary for m in verdict) else "measures"
        improved, worsened, rose, fell = _count_words([verdict[m] for m in chosen])
        total, after = len(chosen), when.get(name, "afterwards")
        if improved or worsened:
            bits = ([f"improved on {improved} of the {total} {kind}"] if improved else []) + \
                   ([f"worsened on {worsened} of the {total}"] if worsened else [])
            parts.append(f"{possessive} scores {' and '.join(bits)} {after}")
        elif rose or fell:
            parts.append(f"{possessive} scores changed significantly on {rose + fell} of the {total} {kind} {after}")
        else:
            parts.append(f"{possessive} scores did not change significantly on any of the {total} {kind} {after}")
    if not parts:
        return ""
    text = "; ".join(parts)
    if _compared(data):
        return (f"Bottom line: {text[0].upper()}{text[1:]}. These are changes over the programme; how the children "
                f"who took part compare with children who did not is in the child outcomes report, and what that "
                f"can show under how far to trust these results.")
    return (f"Bottom line: {text[0].upper()}{text[1:]}. Because there is no comparison group, this shows change "
            f"over the programme, not that the programme caused it.")


def _compared(data, section="children"):
    """True when the results compare the section's programme people with a comparison group."""
    table = data.results.get("comparison")
    if not isinstance(table, pd.DataFrame) or table.empty or "adjusted_difference" not in table.columns:
        return False
    if "section" in table.columns:
        table = table[table["section"] == section]
    return bool(np.isfinite(pd.to_numeric(table["adjusted_difference"], errors="coerce")).any())


# --------------------------------------------------------------------------- about

def about(data):
    """Who, what, where and when: the programme, the people, the period, the sites and n.

    Returns
    -------
    pandas.DataFrame
        Columns ``topic`` and ``text``: ``Programme``, ``This evaluation`` (the
        config's ``about.description``, when given), ``Period``, ``Sites`` (when
        the data has a site column), and one row per section with the number of
        people (disclosure-controlled, see :func:`matching_counts`).
    """
    config = data.config
    info = dict(getattr(config, "about", {}) or {})
    rows = [("Programme", info.get("programme", ""))]
    if info.get("description"):
        rows.append(("This evaluation", info["description"]))
    rows.append(("Period", info.get("period") or "Not stated (add about: {period: ...} to the cohort config)."))
    children = data.cohort.sections.get("children")
    if children is not None and "site" in children.scores.columns:
        sites = sorted({str(s) for s in children.scores["site"].dropna().unique()})
        if sites:
            names = sites[0] if len(sites) == 1 else ", ".join(sites[:-1]) + " and " + sites[-1]
            rows.append(("Sites", f"{names} ({len(sites)} site{'s' if len(sites) != 1 else ''})."))
    counts = matching_counts(data).set_index("section")
    for name in ("children", "facilitators"):
        if name not in counts.index:
            continue
        row = counts.loc[name]
        matched, people = _shown(row["matched"]), _shown(row["people"])
        plural = POPULATION[name][0]
        text = f"{_people(matched, name, data.min_cell)} answered the questionnaire both before and after"
        if people is not None and people != matched:
            text += f" ({_people(people, name, data.min_cell)} answered at least once)"
        rows.append((plural.capitalize(), text + "."))
    return pd.DataFrame(rows, columns=["topic", "text"])


# --------------------------------------------------------------------------- trust

def instrument_warnings(data):
    """The instrument warnings of the cohort (placeholder key, example instrument), one per instrument."""
    return list(data.cohort.instrument_warnings)


def _tests(data):
    """Counts of the hypothesis tests the report runs, by family."""
    primary = set(data.config.analysis.get("primary") or [])
    out = {"primary": 0, "secondary": 0, "facilitators": 0, "moderators": 0, "ancova": 0, "attrition": 0,
           "follow_up": 0, "comparison": 0, "dose": 0, "intention_to_treat": 0}
    for name, key in (("children", "child_outcomes"), ("facilitators", "facilitator_outcomes")):
        table = data.results.get(key)
        if isinstance(table, pd.DataFrame) and "contrast" in table.columns and "primary_test" in table.columns:
            later = table[table["contrast"].fillna("post-pre") != "post-pre"]
            out["follow_up"] += int(later["primary_test"].isin(["paired t", "Wilcoxon"]).sum())
        table = post_pre(table)
        if table is None or table.empty:
            continue
        tested = table[table["primary_test"].isin(["paired t", "Wilcoxon"])]
        if name == "facilitators":
            out["facilitators"] += len(tested)
        else:
            out["primary"] += int(tested["measure"].isin(primary).sum())
            out["secondary"] += int((~tested["measure"].isin(primary)).sum())
    m = data.results.get("moderators")
    if m is not None and not m.empty:
        out["moderators"] = int(((m["source"] == "interaction") & m["p"].notna()).sum())
    a = data.results.get("ancova")
    if a is not None and not a.empty:
        out["ancova"] = int(((a["source"] == a["factor"]) & a["p"].notna()).sum())
    t = data.results.get("attrition")
    if t is not None and not t.empty and "p" in t.columns:
        out["attrition"] = int(t["p"].notna().sum())
    for key, column in (("comparison", "p"), ("dose", "slope_p"), ("intention_to_treat", "p")):
        t = data.results.get(key)
        if isinstance(t, pd.DataFrame) and column in t.columns:
            out[key] = int(pd.to_numeric(t[column], errors="coerce").notna().sum())
    return out


def _apa(alpha):
    """A significance level as APA writes it: ``.05``."""
    return f"{alpha:g}".lstrip("0") if alpha < 1 else f"{alpha:g}"


def _tests_text(t, alpha):
    """The sentence on how many tests the report runs, which are the main questions and which exploratory."""
    total = sum(t.values())
    main = t["primary"] or t["secondary"]
    what = "pre-declared primary measures" if t["primary"] else "measures (none was declared primary)"
    text = (f"The report runs {total} significance tests: {main} on the children's {what}, the main questions"
            + (f"; {t['secondary']} on secondary measures" if t["primary"] and t["secondary"] else "")
            + (f"; {t['facilitators']} on the facilitators' measures" if t["facilitators"] else "")
            + ". Each questionnaire's tests are Holm-adjusted together.")
    exploratory = t["moderators"] + t["ancova"]
    if exploratory:
        text += (f" {exploratory} further tests are exploratory ({t['moderators']} of whether change differed "
                 f"between groups, {t['ancova']} ANCOVA): even if nothing differed, about {alpha * exploratory:.1f} "
                 f"of them would reach p < {_apa(alpha)} by chance.")
    if t["attrition"]:
        text += f" {t['attrition']} more compare those who left with those who stayed."
    further = [(t["follow_up"], "test whether change lasted to the follow-up (Holm-adjusted as a family of "
                                "their own)"),
               (t["intention_to_treat"], "estimate the change counting everyone who started"),
               (t["comparison"], "compare the children who took part with the comparison group"),
               (t["dose"], "test whether more sessions went with more change")]
    further = [f"{k} {words}" for k, words in further if k]
    if further:
        text += " Also, " + "; ".join(further) + "."
    return text


def trust(data):
    """How far to trust these results: design, who is counted, the questionnaire, the tests, disclosure.

    Returns
    -------
    pandas.DataFrame
        Columns ``topic`` and ``text``, in reading order: ``Design``, ``Who is
        counted``, ``Children seen together`` (when the data shows group
        delivery), ``The questionnaire``, ``How many tests``, ``Disclosure``.
        Every statement is computed from the config, the data and the results.
        ``attrs["claims"]`` holds :func:`claims` and ``attrs["evidence"]`` the
        :func:`evidence` table of each section that has one, which the index shows
        in the same section (the claim first, the table after the statements).
    """
    alpha = float(data.config.analysis.get("alpha", 0.05))
    sections = list(data.cohort.sections)
    rows = []
    who = " and ".join(POPULATION[s][0] for s in sections if s in POPULATION)
    if _compared(data):
        design = (f"The same {who} answered the same questionnaire before and after, and so did children who did "
                  "not take part (a comparison group). The comparison shows how the two groups' scores differed "
                  "once their starting scores are taken into account; unless children were allocated to the "
                  "groups at random, the groups may also differ in ways the questionnaire does not measure, so it "
                  "cannot prove that the programme caused the difference. Unusually low (or high) starting scores "
                  "tend to move back towards the average (regression to the mean) in both groups, so the "
                  "comparison allows for it only as far as the groups started alike.")
    else:
        design = (f"The same {who} answered the same questionnaire before and after, and there is no comparison "
                  "group. The results show whether scores changed, not that the programme caused the change: "
                  "scores can also change with time, with other support, or because unusually low (or high) "
                  "starting scores tend to move back towards the average (regression to the mean).")
    rows.append(("Design", design))
    counts = matching_counts(data).set_index("section")
    attrition = data.results.get("attrition")
    for name in sections:
        if name not in counts.index:
            continue
        row = counts.loc[name]
        matched, pre_only = _shown(row["matched"]), _shown(row["pre only"])
        plural = POPULATION[name][0]
        if pre_only is None:
            lost = f"Fewer than {data.min_cell} {plural} with a questionnaire at the start have none at the end"
        elif pre_only == 0:
            lost = f"Every one of the {plural} with a questionnaire at the start also has one at the end"
        else:
            start = pre_only + matched if matched is not None else None
            share = f" ({100 * pre_only / start:.0f}%)" if start else ""
            lost = (f"Of the {_people(start, name, data.min_cell)} with a questionnaire at the start, "
                    f"{_people(pre_only, name, data.min_cell)}{share} have none at the end")
        text = (f"{lost}; the before-and-after tests count only the {_people(matched, name, data.min_cell)} "
                f"with both (a completers analysis, which can overstate change if those who left were doing less "
                f"well).")
        if name == "children" and attrition is not None and not attrition.empty and "p" in attrition.columns:
            tested = attrition["p"].notna()
            differ = int((attrition.loc[tested, "p"] < alpha).sum())
            text += (f" Comparing those who left with those who stayed, {differ} of {int(tested.sum())} "
                     f"start-of-programme comparisons differed at p < {_apa(alpha)} (see the attrition table)."
                     if tested.any() else "")
        rows.append((f"Who is counted ({plural})", text))
    children = data.cohort.sections.get("children")
    together = _clustered_text(data)
    if together:
        rows.append(("Children seen together", together))
    elif children is not None and "delivery" in children.scores.columns:
        levels = {str(v).lower() for v in children.scores["delivery"].dropna().unique()}
        if any("group" in v for v in levels):
            rows.append(("Children seen together", (
                "Some children were seen in groups. The tests treat every child as independent; children in "
                "the same group can answer alike, and the confidence intervals may then be too narrow.")))
    warnings = instrument_warnings(data)
    questionnaire = " ".join(warnings) if warnings else ""
    reliability = data.results.get("reliability")
    inst = _instrument(data, "children")
    if reliability is not None and not reliability.empty and inst is not None:
        rel = reliability[(reliability["instrument"] == inst.id) & (reliability["timepoint"] == "pre")] \
            if "timepoint" in reliability.columns else reliability[reliability["instrument"] == inst.id]
        alphas = pd.to_numeric(rel["alpha"], errors="coerce").dropna()
        if len(alphas):
            low = int((alphas < 0.7).sum())
            digits = 3 if (alphas < 0.7).any() and round(alphas.max(), 2) >= 0.7 > alphas.max() else 2
            questionnaire += (f" Internal consistency at the start (Cronbach's alpha) ranged from "
                              f"{format_number(alphas.min(), digits)} to {format_number(alphas.max(), digits)} across "
                              f"{len(alphas)} measures; {low} {'is' if low == 1 else 'are'} below the usual 0.70.")
    if not warnings:
        names = ", ".join(sorted({sec.instrument.name for sec in data.cohort.sections.values()}))
        questionnaire = f"The scoring keys of {names} are not marked as placeholders or examples." + questionnaire
    rows.append(("The questionnaire", questionnaire.strip()))
    rows.append(("How many tests", _tests_text(_tests(data), alpha)))
    from .service import trust_rows  # issue 13: delivery records, training that becomes practice, system outcomes

    rows.extend(trust_rows(data))
    rows.append(("Disclosure", (
        f"Counts from 1 to {data.min_cell - 1} are shown as '<{data.min_cell}', and a further count is hidden "
        f"('*') wherever a total would let a small one be worked out; groups of fewer than "
        f"{int(data.config.analysis.get('min_group_n', 10))} people are not analysed on their own. No names, ids "
        f"or free-text answers appear in the report.")))
    frame = pd.DataFrame(rows, columns=["topic", "text"])
    # the index shows these with the statements (evalkit.report.render.index_html reads them from here)
    frame.attrs["claims"] = claims(data)
    tables = {name: evidence(data, name) for name in ("children", "facilitators") if name in data.cohort.sections}
    frame.attrs["evidence"] = {name: table for name, table in tables.items() if not table.empty}
    return frame


def _clustered_text(data):
    """What the clustering check found for the children's delivery groups (or facilitators), or ''."""
    table = data.results.get("clustering")
    if not isinstance(table, pd.DataFrame) or table.empty:
        return ""
    if "section" in table.columns:
        table = table[table["section"] == "children"]
    words = {"group": "delivery group", "facilitator": "facilitator"}
    found = []  # the level whose clustering weighs most, as the evidence check names it
    for level, noun in words.items():
        rows = table[table["level"] == level] if "level" in table.columns else table.iloc[:0]
        ratio = pd.to_numeric(rows.get("width_ratio"), errors="coerce")
        deff = pd.to_numeric(rows.get("design_effect"), errors="coerce")
        if not rows.empty and np.isfinite(ratio).any():
            found.append((float(np.nanmax(deff)) if np.isfinite(deff).any() else 1.0, level, noun, ratio, deff))
    for _, level, noun, ratio, deff in sorted(found, key=lambda f: -f[0])[:1]:
        widest = float(ratio.max())
        return (f"Children were seen in groups. The before-and-after tests treat every child as independent; "
                f"children with the same {noun} changed alike to a degree (design effect up to "
                f"{format_number(float(deff.max()))}), and allowing for the {noun}s makes the confidence "
                f"intervals up to {format_number(widest)} times as wide "
                + ("(see Children in groups in the child outcomes report)." if widest > 1 else
                   "(see Children in groups in the child outcomes report), so they were not too narrow."))
    return ""


# --------------------------------------------------------------------------- evidence and the claim

#: The checks of ``results/evidence.csv`` in words a reader uses.
CHECK_WORDS = {
    "design": "Design", "comparison_group": "Comparison group",
    "baseline_equivalence": "Groups alike at the start", "attrition": "People lost before the end",
    "clustering": "Children in groups", "follow_up": "Follow-up", "precision": "Enough people to detect a change",
    "measure_validity": "Questionnaire suited to these ages", "primary_declared": "Main measures declared",
    "multiple_testing": "Many tests", "regression_to_the_mean": "Regression to the mean",
}
#: ``status`` of ``results/evidence.csv`` in words.
STATUS_WORDS = {"met": "Met", "partly": "Partly met", "not met": "Not met", "not applicable": "Not applicable"}
#: The note under the evidence table: its frame, and what it is not.
EVIDENCE_NOTE = ("The checks follow the pitfalls the Early Intervention Foundation's evidence standards name (no "
                 "robust comparison group, high drop-out, excluding participants, small samples, no long-term "
                 "follow-up), with the What Works Clearinghouse's standards for baseline equivalence and attrition. "
                 "The report does not award an evidence rating: each row says what an assessor would look for "
                 "next.")


def _evidence_rows(data, section):
    table = data.results.get("evidence")
    if not isinstance(table, pd.DataFrame) or table.empty or "check" not in table.columns:
        return None
    if "section" in table.columns:
        table = table[table["section"].fillna(section) == section]
    return table.reset_index(drop=True)


def evidence(data, section="children"):
    """The evidence checks of one section as a reader sees them (``results/evidence.csv`` without the claim).

    Returns
    -------
    pandas.DataFrame
        Columns ``Check`` (:data:`CHECK_WORDS`), ``Status`` (:data:`STATUS_WORDS`), ``What the data show``
        (``detail``) and ``To strengthen`` (``to_strengthen``), in the results' order; empty when the results
        have no evidence table for the section.
    """
    columns = ["Check", "Status", "What the data show", "To strengthen"]
    rows = _evidence_rows(data, section)
    if rows is None:
        return pd.DataFrame(columns=columns)
    rows = rows[rows["check"] != "claim"]

    def text(column):
        return rows[column].fillna("").astype(str).to_numpy() if column in rows.columns else [""] * len(rows)

    return pd.DataFrame({
        "Check": rows["check"].map(lambda c: CHECK_WORDS.get(c, str(c).replace("_", " ").capitalize())).to_numpy(),
        "Status": [STATUS_WORDS.get(v, v) for v in text("status")],
        "What the data show": text("detail"), "To strengthen": text("to_strengthen"),
    }, columns=columns)


def claims(data):
    """What these data can and cannot show: the ``claim`` sentence of each section's evidence checks.

    Returns
    -------
    list of (str, str)
        ``(section, sentence)``, children first; empty without an evidence table.
    """
    out = []
    for name in ("children", "facilitators"):
        if name not in data.cohort.sections:
            continue
        rows = _evidence_rows(data, name)
        if rows is None:
            continue
        said = [str(v).strip() for v in rows.loc[rows["check"] == "claim", "detail"].dropna() if str(v).strip()]
        if said:
            out.append((name, said[0]))
    return out


# --------------------------------------------------------------------------- summary table

def _p_text(p):
    """APA p without "p = ": ``.034``, ``< .001``; empty when missing."""
    text = format_p(p)
    return text[4:] if text.startswith("p = ") else text[2:] if text.startswith("p ") else text


def summary_table(data, section="children"):
    """The readable summary table of one section: one row per measure, in words a commissioner reads.

    Parameters
    ----------
    data : ReportData
    section : {"children", "facilitators"}

    Returns
    -------
    pandas.DataFrame
        Columns ``Measure``, ``Role`` (``Primary``/``Secondary``, only when
        ``analysis.primary`` names a measure of this section; primary measures
        first), ``n``, ``Before``, ``After`` (means, 2 decimals), ``Change
        [95% CI]`` (mean of post − pre), ``Size`` (in words, with the effect:
        ``"small (d_z 0.49)"``; the rank-biserial r where the Wilcoxon test is
        primary) and ``p (Holm)`` (the primary test's Holm-adjusted p, APA).
        Disclosure control applied: n from 1 to ``min_cell - 1`` shows
        ``"<min_cell"``.
    """
    from .privacy import suppress_small_counts

    rows = _section_rows(data, section)
    labels = _labels(data, section)
    primary = [m for m in (data.config.analysis.get("primary") or []) if m in {r["measure"] for r in rows}]
    if primary:
        rows = [r for r in rows if r["measure"] in primary] + [r for r in rows if r["measure"] not in primary]
    out = []
    for r in rows:
        tested = r.get("primary_test") in ("paired t", "Wilcoxon")
        value, effect = _effect(r)
        change = (f"{format_number(r['mean_diff'], sign=True)} [{format_number(r['ci_low'])}, "
                  f"{format_number(r['ci_high'])}]") if np.isfinite(r.get("mean_diff", np.nan)) else ""
        record = {"Measure": labels.get(r["measure"], r["measure"])}
        if primary:
            record["Role"] = "Primary" if r["measure"] in primary else "Secondary"
        record.update({
            "n": int(r["n"]) if np.isfinite(r["n"]) else np.nan,
            "Before": format_number(r["mean_pre"]) if np.isfinite(r.get("mean_pre", np.nan)) else "",
            "After": format_number(r["mean_post"]) if np.isfinite(r.get("mean_post", np.nan)) else "",
            "Change [95% CI]": change,
            "Size": f"{size_words(value)} ({effect})" if tested and np.isfinite(value) else "not tested",
            "p (Holm)": _p_text(r.get("p_primary_holm")) if tested else "",
        })
        out.append(record)
    columns = ["Measure"] + (["Role"] if primary else []) + ["n", "Before", "After", "Change [95% CI]", "Size",
                                                            "p (Holm)"]
    table = pd.DataFrame(out, columns=columns)
    table["n"] = table["n"].astype("Int64")
    return suppress_small_counts(table, columns=["n"], min_cell=data.min_cell)


# --------------------------------------------------------------------------- Word

def word_summary(data, *, figures=()):
    """Everything the Word summary holds, as a :class:`evalkit.report.word.Summary`.

    Parameters
    ----------
    data : ReportData
    figures : sequence of (caption, PNG bytes)
        Figures to include (the report passes the effect-size figure drawn by notebook 02).

    Returns
    -------
    evalkit.report.word.Summary
        Main points (children, with the bottom line), about, how far to trust,
        the summary tables, the figures, the facilitators' main points and the
        disclosure note, all disclosure-controlled as the HTML pages are.
    """
    from .privacy import suppression_note
    from .word import Summary

    points = main_points(data)
    children = points[points["section"] != "facilitators"]["sentence"].tolist()
    facilitators = main_points(data, "facilitators")["sentence"].tolist() \
        if "facilitators" in data.cohort.sections else []
    tables = []
    for section, caption in (("children", "Children: change from before to after the programme"),
                             ("facilitators", "Facilitators: change from before to after training")):
        if section in data.cohort.sections and _section_rows(data, section):
            tables.append((caption, summary_table(data, section)))
    if not children and facilitators:
        children = facilitators
    statements = trust(data)  # its attrs carry the claims and evidence tables the index shows too
    return Summary(
        title=f"Evaluation report: {' '.join(str(data.config.name).split())}",
        main_points=children,
        main_points_note=SIZE_CONVENTION,
        facilitator_points=facilitators,
        about=[f"{t}: {x}" for t, x in zip(*about(data).T.values)],
        trust=[f"{t}: {x}" for t, x in zip(*statements.T.values)],
        claims=[f"What these data can show ({POPULATION.get(who, (who,))[0]}): {text}"
                for who, text in statements.attrs["claims"]],
        evidence=[(f"Evidence checks: {POPULATION.get(who, (who,))[0]}", table)
                  for who, table in statements.attrs["evidence"].items()],
        evidence_note=EVIDENCE_NOTE,
        warnings=list(instrument_warnings(data)) + list(getattr(data.cohort, "warnings", ()) or ()),
        tables=tables,
        figures=list(figures),
        disclosure=(suppression_note(data.min_cell) + " Change is after minus before; p (Holm): the primary "
                    "test's p, Holm-adjusted across each questionnaire's measures. The full tables are in the "
                    "HTML report."),
    )
