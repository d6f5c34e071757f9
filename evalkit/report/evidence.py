"""How far to trust these results: the evaluation's design appraised check by check, in plain words.

The frame is the Early Intervention Foundation's evidence standards and their named pitfalls (no robust
comparison group, high drop-out, excluding participants, small samples, no long-term follow-up); the
comparison-group checks use the What Works Clearinghouse's baseline-equivalence and attrition standards. The
appraisal never awards an EIF rating: each row says what an assessor would look for next. Every number comes
from the results tables (:mod:`evalkit.stats`), and no sentence prints a count below ``min_cell`` or a data
value (group codes, site names, ages of individuals).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .findings import _significant, _tested, format_number, size_words

#: Columns of :func:`appraise`.
EVIDENCE_COLUMNS = ["section", "check", "status", "detail", "to_strengthen"]
#: The checks, in the order they are reported; a last row ``claim`` follows them.
CHECKS = ("design", "comparison_group", "baseline_equivalence", "attrition", "clustering", "follow_up",
          "precision", "measure_validity", "primary_declared", "multiple_testing", "regression_to_the_mean")
#: Values of ``status`` (the ``claim`` row's is blank).
STATUSES = ("met", "partly", "not met", "not applicable")
#: Minimum detectable effects are judged by Cohen's (1988) words: up to 0.2 (a small effect) met, up to 0.5
#: (a moderate one) partly, above it not met.
PRECISION_BANDS = (0.2, 0.5)
#: Fewer clusters than this make a cluster-robust interval itself uncertain (the sentence says so).
FEW_CLUSTERS = 10
#: Power and two-sided significance level of the minimum detectable effect.
POWER, ALPHA = 0.8, 0.05

_KEYS = {"children": ("child_outcomes", "findings", "reliable_change"),
         "facilitators": ("facilitator_outcomes", "facilitator_findings", "facilitator_reliable_change")}
_NOUNS = {"children": ("children", "child"), "facilitators": ("facilitators", "facilitator")}
#: What else could change scores between the start and the end, by section.
_ANYWAY = {"children": "children growing older, other help they received",
           "facilitators": "experience gained at work, other training"}
#: A clustering level as a reader names it, after "in the same".
_LEVEL_WORDS = {"group": "delivery group", "facilitator": "facilitator's groups", "site": "site"}


@dataclass
class _Context:
    """What every check reads: the section's post-pre and follow-up outcomes and the issue-12 tables."""

    kind: str
    measures: list
    labels: dict
    instrument: object
    waves: pd.DataFrame
    outcomes: pd.DataFrame
    follow: pd.DataFrame
    sustained: pd.DataFrame
    itt: pd.DataFrame
    clusters: pd.DataFrame
    comparison: pd.DataFrame
    reliable: pd.DataFrame
    primary: list
    levels: list
    arm: bool
    alpha: float
    min_cell: int
    all_measures: list = field(default_factory=list)
    #: Results keys with rows for this section (``intention_to_treat``, ``comparison``, ``dose``, ``moderators``).
    tables: set = field(default_factory=set)

    @property
    def people(self):
        return _NOUNS.get(self.kind, ("people", "person"))[0]

    @property
    def programme(self):
        """What the people took part in: the programme (children) or the training (facilitators)."""
        return "training" if self.kind == "facilitators" else "programme"

    @property
    def person(self):
        return _NOUNS.get(self.kind, ("people", "person"))[1]

    def label(self, measure):
        return self.labels.get(measure, measure)

    @property
    def compared(self):
        """Comparison rows of the appraised measures whose adjusted difference was computed."""
        table = self.comparison
        if table is None or table.empty:
            return pd.DataFrame()
        return table[table["adjusted_difference"].notna()]


# --------------------------------------------------------------------------- wording helpers

def _count(n, noun, min_cell):
    """``"120 children"``, or ``"fewer than 5 children"`` for 1 to min_cell - 1."""
    n = int(n)
    return f"fewer than {min_cell} {noun}" if 0 < n < min_cell else f"{n:,} {noun}"


def _small(min_cell, *counts):
    """Whether any count is 1 to min_cell - 1 (then a percentage could give it away)."""
    return any(0 < int(round(c)) < min_cell for c in counts if np.isfinite(c))


def _and(words):
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""


def _pct(x):
    return f"{100 * x:.0f}%"


def _which(ctx):
    """How the appraised measures are named: the primary ones, or every measure."""
    return "the primary measures" if ctx.primary else "every measure"


def _rows(table, measures):
    """Rows of ``table`` for ``measures``, in the order of ``measures``."""
    if table is None or table.empty or "measure" not in table:
        return pd.DataFrame(columns=getattr(table, "columns", []))
    return table[table["measure"].isin(measures)]


# --------------------------------------------------------------------------- the checks

def _design(ctx):
    if ctx.compared.empty:
        return ("not met",
                f"One group of {ctx.people} was measured before and after the {ctx.programme}, with no comparison "
                f"group.",
                f"An assessor would look for a comparison group measured at the same times, ideally with "
                f"{ctx.people} allocated to it at random (a randomised controlled trial), or else closely matched.")
    return ("partly",
            f"{ctx.people.capitalize()} who took part were compared with a comparison group measured at the same "
            f"times. The data do not say how {ctx.people} came to be in each group, so this is read as a "
            f"comparison without random allocation.",
            f"An assessor would ask how {ctx.people} were allocated: at random (a randomised controlled trial) is "
            f"strongest; otherwise they would look for groups matched on what predicts the outcome.")


def _comparison_group(ctx):
    if not ctx.arm:
        return ("not met",
                f"There is no comparison group, so the change cannot be separated from what would have happened "
                f"anyway: {_ANYWAY.get(ctx.kind, _ANYWAY['children'])}, or scores drifting back towards the "
                f"average.",
                f"Collect the same questionnaires at the same times from a comparison group (for example "
                f"{ctx.people} on a waiting list) and name it in the config (columns.arm and analysis.comparison).")
    rows = ctx.compared
    if rows.empty:
        return ("partly",
                f"A comparison group is recorded, but too few {ctx.people} in one of the groups answered at both "
                f"the start and the end to compare them.",
                f"Follow up more of both groups at the end of the {ctx.programme}.")
    n_c, n_i = int(rows["n_comparison"].max()), int(rows["n_intervention"].max())
    return ("met",
            f"A comparison group answered the same questionnaires at the same times: "
            f"{_count(n_c, ctx.people, ctx.min_cell)} in the comparison group and "
            f"{_count(n_i, ctx.people, ctx.min_cell)} in the {ctx.programme} answered at both the start and the end.",
            f"An assessor would ask whether the comparison group came from the same population as the "
            f"{ctx.people} who took part, and how its members were chosen.")


def _baseline_equivalence(ctx):
    if ctx.compared.empty:
        why = (f"There is no comparison group whose starting scores could be compared with the {ctx.programme} "
               f"group's."
               if not ctx.arm else "The groups' starting scores could not be compared: too few people in a group.")
        return ("not applicable" if not ctx.arm else "not met", why,
                "With a comparison group, an assessor would check that the groups' starting scores were close "
                "(within 0.25 standard deviations, the What Works Clearinghouse limit).")
    rows = ctx.compared[ctx.compared["baseline_g"].notna()]
    if rows.empty:
        return ("not met", "The groups' starting scores could not be compared (no spread in the scores).",
                "An assessor would check that the groups' starting scores were close.")
    worst = rows.loc[rows["baseline_g"].abs().idxmax()]
    g = format_number(abs(float(worst["baseline_g"])))
    also = (f"An assessor would also compare the groups on who the {ctx.people} were (age, reasons for referral), "
            f"not only on their starting scores.")
    bad = rows[rows["baseline_equivalence"] == "not satisfied"]
    if len(bad):
        return ("not met",
                f"At the start the two groups differed by more than 0.25 standard deviations on "
                f"{_and(ctx.label(m) for m in bad['measure'])} (up to g = {g}); the What Works Clearinghouse does "
                f"not accept adjusting for a difference this large.",
                "Recruit a comparison group that is more alike at the start (for example matched on the starting "
                "score), or allocate at random.")
    if (rows["baseline_equivalence"] == "satisfied").all():
        return ("met",
                f"At the start the two groups' scores were within 0.05 standard deviations of each other on "
                f"{_which(ctx)} (largest difference g = {g}): equivalent by the What Works Clearinghouse standard.",
                also)
    return ("met",
            f"At the start the groups differed by up to g = {g} ({ctx.label(worst['measure'])}), within the 0.25 "
            f"standard deviations the What Works Clearinghouse accepts when, as here, the comparison adjusts for "
            f"the starting score.", also)


def _attrition(ctx):
    lost_words = (f"An assessor would look for most {ctx.people} to be followed up, and for those lost to be like "
                  f"those who stayed (the attrition table compares them).")
    rows = ctx.compared
    if not rows.empty and rows["attrition_standard"].astype(str).str.len().gt(0).any():
        rows = rows[rows["attrition_standard"].astype(str).str.len() > 0]
        worst = rows.loc[rows["overall_attrition"].idxmax()]
        high = rows["attrition_standard"].astype(str).str.startswith("high").any()
        counts = []
        for arm, n in (("intervention", worst["n_intervention"]), ("comparison", worst["n_comparison"])):
            a = float(worst[f"attrition_{arm}"])
            base = float(n) / (1 - a) if a < 1 else np.nan
            counts += [base - float(n), float(n)]  # lost and analysed: a share of either gives the other away
        standard = "the What Works Clearinghouse's cautious standard"
        if _small(ctx.min_cell, *counts):
            numbers = "(the percentages are not shown because some of the numbers are small)"
        else:
            numbers = (f"({_pct(worst['overall_attrition'])} of those who started had no end questionnaire: "
                       f"{_pct(worst['attrition_intervention'])} in the {ctx.programme} and "
                       f"{_pct(worst['attrition_comparison'])} in the comparison group)")
        if high:
            return ("not met", f"Attrition was high by {standard} {numbers}.",
                    f"Follow up more {ctx.people}, in both groups alike. " + lost_words)
        return ("met", f"Attrition was low by {standard} {numbers}.",
                "An assessor would still check that those lost were like those who stayed.")
    itt = ctx.itt[ctx.itt["contrast"] == "post-pre"] if not ctx.itt.empty else ctx.itt
    merged = _rows(itt, ctx.measures).merge(_rows(ctx.outcomes, ctx.measures)[["measure", "n"]], on="measure")
    if merged.empty:
        return ("not met", "Attrition could not be worked out.", lost_words)
    merged = merged.assign(lost=merged["n_people"] - merged["n"])
    worst = merged.loc[merged["lost"].idxmax()]
    started, lost = int(worst["n_people"]), int(worst["lost"])
    if lost <= 0:
        return ("met", f"Every {ctx.person} who answered at the start also answered at the end.",
                "With a comparison group, the What Works Clearinghouse's attrition standard could be applied.")
    share = (f"fewer than {ctx.min_cell}" if _small(ctx.min_cell, lost)
             else f"all but fewer than {ctx.min_cell}" if _small(ctx.min_cell, started - lost)
             else _pct(lost / started))
    text = (f"Of the {_count(started, ctx.people, ctx.min_cell)} who answered at the start, {share} had no end "
            f"questionnaire.")
    fitted = merged["estimate"].notna()
    if fitted.any():
        gap = float(merged.loc[fitted, "difference"].abs().max())
        by = f"by at most {format_number(gap)} points" if gap >= 0.005 else "by less than 0.01 points"
        text += (f" The intention-to-treat estimate keeps everyone who started, and differs from the estimate on "
                 f"those who answered both {by}.")
        return ("partly", text, lost_words + " With a comparison group, the What Works Clearinghouse's attrition "
                "standard could be applied.")
    return ("not met", text + " The intention-to-treat model could not be fitted, so those lost are left out.",
            lost_words)


def _clustering(ctx):
    how = (f"An assessor would look for the main estimate to allow for {ctx.people} seen together (as the "
           f"intention-to-treat model and the robust intervals do) and for enough groups: a few large groups carry "
           f"little information.")
    if not ctx.levels:
        delivery = ctx.waves["delivery"] if "delivery" in ctx.waves else pd.Series(dtype=object)
        in_groups = delivery.dropna().astype(str).str.contains("group", case=False).any()
        if in_groups:
            return ("not met",
                    f"Some {ctx.people} were seen in groups, but the data do not say which group, so every "
                    f"interval treats them as independent and may be too narrow.",
                    f"Record each {ctx.person}'s delivery group (columns.group) and facilitator "
                    f"(columns.facilitator). " + how)
        return ("not applicable",
                f"No groups, facilitators or sites are recorded, so every {ctx.person} is treated as independent; "
                f"that holds only if they " + ("were seen one to one by different practitioners." if
                                               ctx.kind == "children" else "were not trained together in groups."),
                f"If {ctx.people} were seen in groups, record which (columns.group, columns.facilitator).")
    rows = _rows(ctx.clusters, ctx.measures)
    rows = rows[rows["design_effect"].notna()] if not rows.empty else rows
    if rows.empty:
        return ("partly",
                f"The {_and(ctx.levels)} of each {ctx.person} is recorded, but too few {ctx.people} had a change score "
                f"to estimate how alike they were.", how)
    worst = rows.loc[rows["design_effect"].idxmax()]
    level, deff = str(worst["level"]), float(worst["design_effect"])
    if deff <= 1 + 1e-9:
        levels = [_LEVEL_WORDS.get(v, v) for v in ctx.levels]
        either = levels[0] if len(levels) == 1 else ", ".join(levels[:-1]) + " or " + levels[-1]
        owner = ctx.people.capitalize() + ("'" if ctx.people.endswith("s") else "'s")
        text = (f"{owner} changes were no more alike in the same {either} than between them "
                f"(design effect 1.0).")
    else:
        ratio = float(worst["width_ratio"])
        narrower = (f"; an interval that treats {ctx.people} as independent is {_pct(1 - 1 / ratio)} narrower than "
                    f"one that allows for this" if np.isfinite(ratio) and ratio > 1 else "")
        icc = float(worst["icc"])
        text = (f"Changes were most alike among {ctx.people} in the same {_LEVEL_WORDS.get(level, level)} "
                f"({ctx.label(worst['measure'])}: ICC {icc:.{2 if icc >= 0.01 else 3}f}, design effect "
                f"{deff:.2f}){narrower}.")
        k = int(worst["n_clusters"]) if pd.notna(worst["n_clusters"]) else 0
        if 0 < k < FEW_CLUSTERS:
            text += (f" With only {k} {level}s this allowance is itself uncertain: intervals from so few clusters "
                     f"are wide.")
    if "group" in ctx.levels:
        return ("met", text + f" The intention-to-treat model nests {ctx.people} in their groups, and the "
                f"clustering table gives intervals that allow for each level.", how)
    return ("partly", text + f" The clustering table gives intervals that allow for it, but the intention-to-treat "
            f"model nests {ctx.people} in delivery groups only, and none are recorded.",
            f"Record each {ctx.person}'s delivery group (columns.group). " + how)


def _follow_up(ctx):
    if ctx.follow.empty:
        return ("not met",
                f"{ctx.people.capitalize()} were not asked again after the end of the {ctx.programme}, so these data "
                f"cannot show whether the change lasted.",
                "Repeat the questionnaire 3 to 12 months after the end (timepoints.follow_up).")
    rows = _rows(ctx.follow[ctx.follow["contrast"] == "follow_up-pre"], ctx.measures)
    tested = rows[rows["primary_test"].isin(("paired t", "Wilcoxon"))]
    later = ("An assessor would ask how long after the end the follow-up was, and whether those followed up were "
             "like those who were not; a comparison group followed up too is stronger.")
    if tested.empty:
        return ("partly", f"A follow-up was recorded, but too few {ctx.people} answered both at the start and at "
                f"follow-up to test it.", later)
    followed = int(tested["n"].max())
    itt = _rows(ctx.itt, ctx.measures)
    started = float(itt["n_people"].max()) if "n_people" in itt and len(itt) else np.nan
    said = _rows(ctx.sustained, ctx.measures)
    parts = []
    for direction, words in (("sustained", "lasted on"), ("partly sustained", "partly lasted on"),
                             ("not sustained", "did not clearly last on"),
                             ("later change", "appeared only by the follow-up on")):
        labels = [ctx.label(m) for m in said.loc[said["direction"] == direction, "measure"]]
        if labels:
            parts.append(f"{words} {_and(labels)}")
    outcome = f" The change {'; it '.join(parts)}." if parts else \
        " No measure had changed significantly by the end or by the follow-up."
    share = followed / started if np.isfinite(started) and started > 0 else np.nan
    text = f"{_count(followed, ctx.people, ctx.min_cell).capitalize()} answered both at the start and at follow-up."
    if np.isfinite(share) and share < 0.5:
        return ("partly", text + outcome + " That is fewer than half of those who started.", later)
    return ("met", text + outcome, later)


def _precision(ctx):
    from ..stats.power import minimum_detectable_effect

    rows = _rows(ctx.clusters, ctx.measures)
    rows = rows[rows["design_effect"].notna() & rows["icc"].notna()] if not rows.empty else rows
    icc, size, deff, level = 0.0, 1.0, 1.0, ""
    if not rows.empty:
        worst = rows.loc[rows["design_effect"].idxmax()]
        icc, size, deff = float(worst["icc"]), float(worst["mean_cluster_size"]), float(worst["design_effect"])
        level = str(worst["level"])
    with_deff = f", and a design effect of {deff:.2f} (by {level})" if deff > 1 + 1e-9 else ""
    plan = (f"An assessor would look for a sample size planned in advance to detect the smallest change that "
            f"matters (evalkit's planner gives the numbers); more {ctx.people}, or more and smaller groups, make "
            f"the estimate more precise.")
    if not ctx.compared.empty:
        n_i, n_c = int(ctx.compared["n_intervention"].min()), int(ctx.compared["n_comparison"].min())
        # the design effect shrinks the programme arm only (the clustering table is of the programme's people);
        # unequal arms count as equal arms of their harmonic mean, which has the same standard error
        total = 4 / (deff / n_i + 1 / n_c)
        mde = minimum_detectable_effect("comparison", total, power=POWER, alpha=ALPHA)
        with_deff = with_deff.replace(")", f", in the {ctx.programme} group)") if with_deff else ""
        what = "standardised difference between the groups (d)"
        who = (f"{_count(n_i, ctx.people, ctx.min_cell)} in the {ctx.programme} and "
               f"{_count(n_c, ctx.people, ctx.min_cell)} in the comparison group")
    else:
        tested = _rows(ctx.outcomes, ctx.measures)
        tested = tested[tested["n"] > 0]
        n = int(tested["n"].min()) if not tested.empty else 0
        mde = minimum_detectable_effect("paired", n, icc=icc, group_size=size, power=POWER, alpha=ALPHA)
        what = "standardised change (d_z)"
        who = f"{_count(n, ctx.people, ctx.min_cell)} answering at the start and the end"
    if not np.isfinite(mde):
        return ("not met", f"Too few {ctx.people} to work out the smallest change this evaluation could detect.",
                plan)
    text = (f"With {who}{with_deff}, the smallest {what} that this evaluation could detect with 80% power "
            f"(5% significance, two-sided) is {mde:.2f}, {size_words(mde)} by Cohen's convention")
    low, high = PRECISION_BANDS
    if mde <= low:
        return ("met", text + ": small effects could be detected.", plan)
    if mde <= high:
        return ("partly", text + ": a small effect could be missed.", plan)
    if mde <= 0.8:
        return ("not met", text + ": small and some moderate effects could be missed.", plan)
    return ("not met", text + ": only large effects could be detected.", plan)


def _measure_validity(ctx):
    ages = getattr(ctx.instrument, "ages", None)
    name = getattr(ctx.instrument, "name", "questionnaire")
    the = name if name.lower().startswith("the ") else f"the {name}"
    if not ages:
        return ("not applicable",
                f"The instrument file of {name} gives no validated age range, so this could not be checked.",
                "Add the age range the questionnaire was validated for to its instrument file (ages: [from, to]), "
                "with its source.")
    span = f"{float(ages[0]):g} to {float(ages[1]):g}"
    if "age" not in ctx.waves:
        return ("not applicable", f"The data hold no ages, so this could not be checked against the ages of "
                f"{span} for which {the} was validated.",
                "Record each age (columns.age, or columns.date_of_birth with columns.date).")
    start = ctx.waves[ctx.waves["timepoint"] == "pre"].drop_duplicates("id")
    age = pd.to_numeric(start["age"], errors="coerce").dropna()
    if age.empty:
        return ("not applicable", "No ages were recorded at the start, so this could not be checked.",
                "Record each age (columns.age, or columns.date_of_birth with columns.date).")
    whole = np.floor(age.to_numpy(dtype=float))  # ages in whole years
    outside = int(((whole < ages[0]) | (whole > ages[1])).sum())
    n = int(age.size)
    who = f"of the {_count(n, ctx.people, ctx.min_cell)} with an age at the start"
    if outside == 0:
        return ("met", f"Every {ctx.person} with an age at the start was within the ages of {span} for which "
                f"{the} was validated.",
                f"An assessor would also look for evidence that the measure suits these {ctx.people} (language, "
                f"reasons for referral).")
    share = (f"Fewer than {ctx.min_cell}" if _small(ctx.min_cell, outside)
             else f"All but fewer than {ctx.min_cell}" if _small(ctx.min_cell, n - outside)
             else _pct(outside / n))
    text = f"{share} {who} were outside the ages of {span} for which {the} was validated."
    fix = (f"Use a measure validated for the ages of the {ctx.people} seen, or report the results of those within "
           f"the range separately.")
    return ("not met" if outside / n >= 0.5 else "partly", text, fix)


def _primary_declared(ctx):
    if ctx.primary:
        return ("met",
                f"The primary measures ({_and(ctx.label(m) for m in ctx.primary)}) are named in the config; "
                f"evalkit cannot check that this was done before the data were seen.",
                "An assessor would look for the primary outcome in a protocol or registration published before the "
                "data were collected.")
    return ("not met",
            f"No primary measure was named for the {ctx.people}, so a reader cannot tell which of the "
            f"{len(ctx.all_measures)} measures was the planned test.",
            "Name the primary measure in analysis.primary, ideally as set out in a protocol registered before the "
            "data were collected.")


def _multiple_testing(ctx):
    tested = ctx.outcomes[ctx.outcomes["primary_test"].isin(("paired t", "Wilcoxon"))]
    k = len(tested)
    if k <= 1:
        return ("not applicable", "At most one change was tested, so there was nothing to adjust for.",
                "Declare the primary measure in advance.")
    follow = ctx.follow[ctx.follow["primary_test"].isin(("paired t", "Wilcoxon"))] if not ctx.follow.empty else []
    text = (f"{k} measures were tested for change over the {ctx.programme}, and their p values are adjusted for this "
            f"with Holm's method")
    if len(follow):
        text += f"; the {len(follow)} follow-up tests are adjusted as a family of their own"
    others = [words for key, words in (("intention_to_treat", "intention-to-treat"), ("comparison", "comparison"),
                                        ("dose", "dose")) if key in ctx.tables]
    if others:
        text += f"; the {_and(others)} {'tables adjust' if len(others) > 1 else 'table adjusts'} across measures"
    if "moderators" in ctx.tables:
        text += ", and the moderator tests across all of theirs"
    text += "."
    weight = ("An assessor gives most weight to the pre-declared primary measure; the others are supporting evidence."
              if ctx.primary else "Declaring one primary measure in advance would make clear which result is the "
              "main one.")
    return ("met", text, weight)


def _regression_to_the_mean(ctx):
    norms = getattr(ctx.instrument, "norms", None) or {}
    fix = (f"A comparison group measured at the same times allows for regression to the mean directly; so does "
           f"selecting {ctx.people} on a different measurement from the one analysed.")
    normed = [m for m in ctx.measures if m in norms]
    if not normed:
        return ("not applicable",
                "The instrument file gives no published norms, so the drift of scores back towards the population "
                "average could not be estimated.",
                "Add published norms to the instrument file (norms: {measure: {mean, sd, source}}). " + fix)
    outcomes = ctx.outcomes.set_index("measure")
    reliable = ctx.reliable.set_index("measure") if not ctx.reliable.empty else pd.DataFrame()
    parts, statuses, no_r = [], [], []
    for m in normed:
        if m not in outcomes.index or not _tested(outcomes.loc[m]):
            continue
        row = outcomes.loc[m]
        if _small(ctx.min_cell, row["n"]):  # the mean of so few people is close to a person's own score
            continue
        r = float(reliable.loc[m, "r_used"]) if m in reliable.index else np.nan
        if not np.isfinite(r):
            no_r.append(ctx.label(m))
            continue
        source = str(reliable.loc[m, "r_source"])
        norm = norms[m]
        start, mean = float(row["mean_pre"]), float(norm["mean"])
        drift = (1 - r) * (mean - start)
        beyond = float(row["mean_diff"]) - drift
        low, high = float(row["ci_low"]) - drift, float(row["ci_high"]) - drift
        sign = np.sign(row["mean_diff"])
        if sign != 0 and (low > 0 or high < 0) and np.sign(beyond) == sign:
            statuses.append("met")
        elif sign != 0 and np.sign(beyond) == sign:
            statuses.append("partly")
        else:
            statuses.append("not met")
        cited = f", {norm['source']}" if norm.get("source") else ""
        parts.append(f"{ctx.label(m)}: the mean at the start was {format_number(start)} against a norm of "
                     f"{format_number(mean)}{cited}; with r = {r:.2f} ({source}) regression to the mean alone "
                     f"would move it by {format_number(drift, sign=True)}, and the change beyond that is "
                     f"{format_number(beyond, sign=True)} (95% CI {format_number(low)} to {format_number(high)}).")
    if not statuses:
        if no_r:
            return ("not applicable", f"Published norms are given, but no reliability coefficient could be found "
                    f"for {_and(no_r)}, so the expected drift could not be worked out.",
                    "Give the measure's test-retest reliability in the instrument file or the config "
                    "(reliability). " + fix)
        return ("not applicable", "No measure with published norms was tested for change.", fix)
    status = statuses[0] if len(set(statuses)) == 1 else "partly"
    head = ("Expected drift = (1 − r) × (norm mean − starting mean), with r the reliability used for reliable "
            "change. ")
    return (status, head + " ".join(parts), fix)


def _direction_words(ctx, measure, sign):
    """``improved``/``worsened`` when the instrument says what a higher score means, else ``rose``/``fell``."""
    higher = ctx.instrument.higher_is(measure) if hasattr(ctx.instrument, "higher_is") else None
    if higher == "better":
        return "improved" if sign > 0 else "worsened"
    if higher == "worse":
        return "worsened" if sign > 0 else "improved"
    return "rose" if sign > 0 else "fell"


def _claim(ctx):
    """One plain sentence: what these data can and cannot show."""
    if not ctx.compared.empty:
        rows = ctx.compared
        p = rows["p_holm"] if "p_holm" in rows else rows["p"]
        moved = {}
        for (_, row), pv in zip(rows.iterrows(), p):
            if pv < ctx.alpha:
                moved.setdefault(_direction_words(ctx, row["measure"], np.sign(row["adjusted_difference"])),
                                 []).append(ctx.label(row["measure"]))
        if not moved:
            return (f"{ctx.people.capitalize()} in the {ctx.programme} did not change clearly more than the comparison "
                    f"group, so these data cannot show that the {ctx.programme} made a difference.")
        word, labels = max(moved.items(), key=lambda kv: len(kv[1]))
        some = "" if len(labels) == len(rows) else f" on {_and(labels)}"
        caveat = (f"as the data do not show that {ctx.people} were allocated to the groups at random, this "
                  f"suggests but cannot prove that the {ctx.programme} caused it")
        base = _rows(ctx.comparison, ctx.measures)
        problems = [words for flag, words in (
            ((base["baseline_equivalence"] == "not satisfied").any(), "the groups differed at the start"),
            (base["attrition_standard"].astype(str).str.startswith("high").any(), "too many were lost before the end"))
            if flag]
        if problems:
            return (f"{ctx.people.capitalize()} in the {ctx.programme} {word} more than the comparison group{some}, "
                    f"but {_and(problems)}, so this cannot show that the {ctx.programme} caused it.")
        return (f"{ctx.people.capitalize()} in the {ctx.programme} {word} more than the comparison group{some}; "
                f"{caveat}.")
    moved = {}
    for _, row in _rows(ctx.outcomes, ctx.measures).iterrows():
        sign = _significant(row, ctx.alpha)
        if sign:
            moved.setdefault(_direction_words(ctx, row["measure"], sign), []).append(ctx.label(row["measure"]))
    without = ("with no comparison group" if not ctx.arm else
                "with too few in the comparison group to compare")
    if not moved:
        return (f"Scores did not change clearly between the start and end of the {ctx.programme}; {without} these data "
                f"cannot show whether the {ctx.programme} had any effect.")
    word, labels = max(moved.items(), key=lambda kv: len(kv[1]))
    tested = _rows(ctx.outcomes, ctx.measures)
    some = "Scores" if len(labels) == len(tested) else f"Scores on {_and(labels)}"
    lasted = ""
    said = _rows(ctx.sustained, ctx.measures)
    if len(said) and (said["direction"] == "sustained").all():
        lasted = " and the change lasted to the follow-up"
    return (f"{some} {word} between the start and end of the {ctx.programme}{lasted}; {without} this cannot show the "
            f"{ctx.programme} caused it.")


_CHECK_FUNCTIONS = {"design": _design, "comparison_group": _comparison_group,
                    "baseline_equivalence": _baseline_equivalence, "attrition": _attrition,
                    "clustering": _clustering, "follow_up": _follow_up, "precision": _precision,
                    "measure_validity": _measure_validity, "primary_declared": _primary_declared,
                    "multiple_testing": _multiple_testing, "regression_to_the_mean": _regression_to_the_mean}


def _table(results, key, kind):
    table = results.get(key)
    if not isinstance(table, pd.DataFrame):
        return pd.DataFrame()
    if "section" in table:
        table = table[table["section"] == kind]
    return table.reset_index(drop=True)


def appraise(results, *, section, primary=None, levels=None, arm=None, alpha=0.05, min_cell=5):
    """How far the results of one section can be trusted, check by check, and the claim they support.

    Parameters
    ----------
    results : dict of str -> pandas.DataFrame
        The results tables (:func:`evalkit.report.analysis.analyse_cohort`): the section's outcomes, findings
        and reliable change, and ``intention_to_treat``, ``clustering`` and (when present) ``comparison``.
    section : evalkit.data.cohort.SectionData
        The section appraised (the children, when the cohort has them): its instrument (``ages``,
        ``norms``, ``higher_is``), measures and waves (ages at the start, delivery).
    primary : list of str, optional
        ``analysis.primary``. The checks look at these measures when given, at every measure otherwise.
    levels : list of str, optional
        The clustering levels configured (``group``, ``facilitator``, ``site``); read from the clustering
        table when not given.
    arm : bool, optional
        Whether an arm column and ``analysis.comparison`` are configured; read from the results when not given.
    alpha : float
        Significance level applied to the Holm-adjusted p values.
    min_cell : int
        ``disclosure.min_cell``: no sentence prints a count from 1 to min_cell - 1, nor a percentage that would
        give one away.

    Returns
    -------
    pandas.DataFrame
        ``EVIDENCE_COLUMNS``: one row per check of ``CHECKS`` (``status`` one of ``STATUSES``, ``detail``
        in plain words, ``to_strengthen``: what an assessor would look for next), then a row ``claim`` with a
        blank status and, in ``detail``, one sentence on what these data can and cannot show. No EIF
        rating is awarded.

    Notes
    -----
    * ``design``: not met for one group before and after; partly with a comparison group (the data do not
      say whether allocation was random).
    * ``baseline_equivalence``, ``attrition`` with a comparison group: the What Works Clearinghouse
      standards (|g| at most 0.25 with adjustment; the cautious attrition boundary). Without one,
      attrition is partly met when the intention-to-treat model keeps everyone who started.
    * ``clustering``: met when the intention-to-treat model nests people in delivery groups, partly when
      facilitators or sites are only summarised (robust intervals), not met when people were delivered in
      groups that are not recorded.
    * ``precision``: the minimum detectable d_z (one group) or d (two groups) at 80% power and two-sided
      alpha .05 (:func:`evalkit.stats.power.minimum_detectable_effect`, statsmodels), with the largest design
      effect of the clustering table (applied to the programme arm only with two groups; unequal arms count
      as equal arms of their harmonic mean); met up to 0.2, partly up to 0.5 (Cohen's small and moderate).
    * ``measure_validity``: the share of people, by their whole years of age at the start, outside the
      instrument's ``ages``; met with none, not met with half or more.
    * ``regression_to_the_mean``: with the instrument's ``norms``, expected drift = (1 - r)(norm mean -
      starting mean) with r the reliability used for reliable change (its ``r_source`` is named); met when
      the change beyond the drift keeps its direction with a 95% interval clear of 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.data.cohort import Instrument, SectionData, Subscale
    >>> from evalkit.report.analysis import analyse_section
    >>> inst = Instrument(id="x", name="X", min=1, max=5, labels={}, scoring="mean", min_answered=1,
    ...                   subscales=(Subscale("k", "Knowledge", ("i1",), higher_is="better"),))
    >>> pre, post = [1, 2, 2, 3, 3, 2, 1, 2], [3, 3, 4, 4, 5, 3, 3, 4]
    >>> items = pd.DataFrame({"id": list("abcdefgh") * 2, "timepoint": ["pre"] * 8 + ["post"] * 8,
    ...                       "i1": [float(v) for v in pre + post]})
    >>> sec = SectionData(section="children", instrument=inst, scores=items.rename(columns={"i1": "k"}),
    ...                   items=items, measures=["k"], factors=[])
    >>> table = appraise(analyse_section(sec), section=sec)
    >>> table.set_index("check").loc[["design", "comparison_group", "follow_up"], "status"].tolist()
    ['not met', 'not met', 'not met']
    >>> print(table["detail"].iloc[-1])
    Scores improved between the start and end of the programme; with no comparison group this cannot show the programme caused it.
    """
    kind = section.section
    outcomes_key, findings_key, reliable_key = _KEYS.get(kind, _KEYS["children"])
    outcomes = _table(results, outcomes_key, kind)
    contrast = outcomes["contrast"] if "contrast" in outcomes else pd.Series("post-pre", index=outcomes.index)
    said = _table(results, findings_key, kind)
    said = said[said["contrast"] == "follow_up"] if "contrast" in said else said.iloc[0:0]
    measures_all = list(section.measures)
    chosen = [m for m in (primary or []) if m in measures_all]
    clusters = _table(results, "clustering", kind)
    comparison = _table(results, "comparison", kind)
    waves = getattr(section, "waves", None)
    ctx = _Context(
        kind=kind, measures=chosen or measures_all, labels=dict(section.labels), instrument=section.instrument,
        waves=section.scores if waves is None else waves,
        outcomes=outcomes[contrast == "post-pre"].reset_index(drop=True),
        follow=outcomes[contrast.str.startswith("follow_up")].reset_index(drop=True),
        sustained=said, itt=_table(results, "intention_to_treat", kind), clusters=clusters,
        comparison=_rows(comparison, chosen or measures_all), reliable=_table(results, reliable_key, kind),
        primary=chosen, levels=list(levels) if levels is not None else
        (list(dict.fromkeys(clusters["level"])) if "level" in clusters else []),
        arm=bool(arm) if arm is not None else not comparison.empty, alpha=alpha, min_cell=int(min_cell),
        all_measures=measures_all,
        tables={key for key in ("intention_to_treat", "comparison", "dose", "moderators")
                if len(_table(results, key, kind)) and (key != "moderators" or kind == "children")})
    rows = []
    for check in CHECKS:
        status, detail, strengthen = _CHECK_FUNCTIONS[check](ctx)
        rows.append({"section": kind, "check": check, "status": status, "detail": detail,
                     "to_strengthen": strengthen})
    rows.append({"section": kind, "check": "claim", "status": "", "detail": _claim(ctx), "to_strengthen": ""})
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)
