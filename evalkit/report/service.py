"""Delivery, training that becomes practice and system outcomes: their results tables, sentences and page calls.

The results tables (:func:`service_results`) carry real numbers for the data team; every call a page makes
(``ek.delivery_table(data)`` and the others of notebooks ``04_implementation`` and ``05_system_outcomes``)
applies the report's disclosure control: a count of children or facilitators from 1 to ``min_cell - 1`` shows
as ``<5``, groups and facilitators appear only as their codes (``G001``), and no monthly count is printed.
Rows about delivery (groups, sites, localities) are shown, because they describe services, not children.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.delivery import FIDELITY_FLAG, WINDOWS, embedding, implementation
from ..stats.its import fitted_rates, interrupted_time_series
from .findings import format_number, format_p
from .privacy import HIDDEN

#: Columns of ``results/fidelity_outcomes.csv``: children's change (post − pre) by their group's fidelity band.
FIDELITY_OUTCOMES_COLUMNS = ["measure", "label", "fidelity_band", "groups", "n", "mean_change", "sd_change",
                             "ci_low", "ci_high", "note"]
#: The bands of a group's fidelity (its share of core components delivered over all its sessions).
FIDELITY_BANDS = (f"{FIDELITY_FLAG}% or more", f"under {FIDELITY_FLAG}%")
EXPLORATORY_NOTE = ("exploratory: groups were not assigned their fidelity, and children in one group are not "
                    "independent, so the interval is too narrow")
#: ``embedding`` note when training dates were given without a sessions file.
NO_SESSIONS_NOTE = "no sessions were recorded, so no first session is known"
#: What the pages call the pooled row of ``system_its``.
POOLED_WORDS = "All localities (pooled)"


# ---------------------------------------------------------------------------- results

def _config_part(cohort, name):
    return getattr(getattr(cohort, "config", None), name, None)


def _programme_waves(cohort):
    """The children's questionnaires of the programme arm (every wave), group codes cleaned; None without any."""
    from .analysis import _blank_to_missing

    section = getattr(cohort, "sections", {}).get("children")
    if section is None:
        return None
    waves = section.waves if getattr(section, "waves", None) is not None else section.scores
    if "group" not in waves.columns:
        return None
    if "arm" in waves.columns:
        waves = waves[waves["arm"].astype("string").fillna("intervention") != "comparison"]
    return waves.assign(group=_blank_to_missing(waves["group"]))


def children_reached(cohort):
    """Group -> children of the outcome data with that group (the programme arm, any questionnaire).

    Returns
    -------
    dict or None
        None when the children's data carry no group.
    """
    waves = _programme_waves(cohort)
    if waves is None or not waves["group"].notna().any():
        return None
    first = waves.dropna(subset=["group"]).drop_duplicates("id")  # a child counts once, in their first group
    return {str(g): int(n) for g, n in first.groupby("group")["id"].nunique().items()}


def fidelity_band(pct):
    """The band of a group's fidelity percentage (:data:`FIDELITY_BANDS`), or None when unknown.

    Examples
    --------
    >>> fidelity_band(80.0), fidelity_band(79.9), fidelity_band(float("nan"))
    ('80% or more', 'under 80%', None)
    """
    if pct is None or not np.isfinite(pct):
        return None
    return FIDELITY_BANDS[0] if pct >= FIDELITY_FLAG else FIDELITY_BANDS[1]


def fidelity_outcomes(cohort, implementation_table, *, confidence=0.95):
    """Children's change (post − pre) on each measure by the fidelity band of their group: exploratory.

    Parameters
    ----------
    cohort : evalkit.data.pipeline.Cohort
    implementation_table : pandas.DataFrame
        :func:`evalkit.stats.implementation` (its ``group`` rows give each group's fidelity).
    confidence : float

    Returns
    -------
    pandas.DataFrame or None
        Columns :data:`FIDELITY_OUTCOMES_COLUMNS`, one row per measure and band: ``groups`` (groups of the
        band with a child in it), ``n`` (children with both questionnaires), mean and SD of their change
        and its t interval (children treated as independent); None when the children's data carry no
        group that the sessions record.
    """
    from scipy import stats

    from .analysis import _person_changes

    waves = _programme_waves(cohort)
    section = getattr(cohort, "sections", {}).get("children")
    if waves is None or section is None:
        return None
    groups = implementation_table[implementation_table["level"] == "group"]
    band = {str(g): fidelity_band(p) for g, p in zip(groups["group"], pd.to_numeric(groups["fidelity_pct"]))}
    measures = list(section.measures)
    changes = _person_changes(waves, measures, ["group"])
    if "group" not in changes:
        return None
    changes["band"] = changes["group"].map(lambda g: band.get(str(g)) if isinstance(g, str) else None)
    changes = changes.dropna(subset=["band"])
    if changes.empty:
        return None
    rows = []
    for m in measures:
        for b in FIDELITY_BANDS:
            part = changes[(changes["band"] == b) & changes[m].notna()]
            x = part[m].to_numpy(dtype=float)
            n = len(x)
            mean = float(x.mean()) if n else np.nan
            sd = float(x.std(ddof=1)) if n > 1 else np.nan
            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
            rows.append({"measure": m, "label": section.labels.get(m, m), "fidelity_band": b,
                         "groups": int(part["group"].nunique()), "n": n, "mean_change": mean, "sd_change": sd,
                         "ci_low": mean - half, "ci_high": mean + half, "note": EXPLORATORY_NOTE})
    out = pd.DataFrame(rows, columns=FIDELITY_OUTCOMES_COLUMNS)
    return out


def _system_inputs(cohort):
    cfg = _config_part(cohort, "system")
    system = getattr(cohort, "system", None)
    if cfg is None or system is None:
        return None
    embedded = {str(k): str(v) for k, v in (getattr(cfg, "embedded_from", None) or {}).items()}
    measures = [m for m in (getattr(cfg, "measures", None) or {}) if m in set(system["measure"])] or None
    return system, embedded, measures


def service_results(cohort):
    """The delivery, embedding and system-outcome results of a cohort (each only when its section is present).

    Parameters
    ----------
    cohort : evalkit.data.pipeline.Cohort
        ``cohort.sessions`` (one row per delivered session), ``cohort.training`` (one row per trained
        facilitator) and ``cohort.system`` (locality x month x measure), each None when absent, with the
        config's ``sessions`` and ``system`` sections.

    Returns
    -------
    dict of str -> pandas.DataFrame
        ``implementation`` (:func:`evalkit.stats.implementation`, ``children_reached`` filled where the
        children's data carry the group) and ``fidelity_outcomes`` (:func:`fidelity_outcomes`) with
        sessions; ``embedding`` (:func:`evalkit.stats.embedding`) with training dates; ``system_its``
        (:func:`evalkit.stats.interrupted_time_series`) and ``system_lines`` (each month's rate, fitted rate
        and projected earlier trend, :func:`evalkit.stats.its.fitted_rates`: what the figure draws) with
        system outcomes.

    Examples
    --------
    >>> from evalkit.data.config import load_config
    >>> from evalkit.data.pipeline import prepare_cohort
    >>> res = service_results(prepare_cohort(load_config("data/sample/cohort.yml")))
    >>> sorted(res)
    ['embedding', 'fidelity_outcomes', 'implementation', 'system_its', 'system_lines']
    >>> its = res["system_its"].set_index(["measure", "locality"])
    >>> round(float(its.loc[("referrals_on", "Kent North"), "level_change_rr"]), 2)
    0.75
    """
    out = {}
    sessions = getattr(cohort, "sessions", None)
    if sessions is not None:
        cfg = _config_part(cohort, "sessions")
        table = implementation(sessions, fidelity=list(getattr(cfg, "fidelity", None) or []),
                               planned_sessions=getattr(cfg, "planned_sessions", None),
                               children_reached=children_reached(cohort))
        out["implementation"] = table
        linked = fidelity_outcomes(cohort, table)
        if linked is not None:
            out["fidelity_outcomes"] = linked
    training = getattr(cohort, "training", None)
    if training is not None:
        out["embedding"] = embedding(training)
        if sessions is None:  # nothing says when anyone first delivered: not "nobody delivered"
            out["embedding"]["note"] = NO_SESSIONS_NOTE
    inputs = _system_inputs(cohort)
    if inputs is not None:
        system, embedded, measures = inputs
        out["system_its"] = interrupted_time_series(system, embedded_from=embedded, measures=measures)
        # what the system figure draws, made here where statsmodels is loaded (not again in the page's kernel)
        out["system_lines"] = fitted_rates(system, embedded_from=embedded, measures=measures)
    return out


def system_lines(data):
    """Each locality's monthly rate with the fitted model and the pre-embedding trend carried forward
    (:func:`evalkit.stats.its.fitted_rates`), or None without system outcomes."""
    inputs = _system_inputs(data.cohort)
    if inputs is None:
        return None
    lines = data.results.get("system_lines")
    if isinstance(lines, pd.DataFrame):
        return lines
    system, embedded, measures = inputs
    return fitted_rates(system, embedded_from=embedded, measures=measures)


# ---------------------------------------------------------------------------- words

def _count_words(n, noun, min_cell):
    """``12 groups``, ``fewer than 5 facilitators``, ``no facilitators``."""
    n = int(n)
    if 0 < n < min_cell:
        return f"fewer than {min_cell} {noun}"
    return f"{n:,} {noun if n != 1 else noun.rstrip('s')}"


def _measure_label(data, measure):
    cfg = _config_part(data.cohort, "system")
    info = (getattr(cfg, "measures", None) or {}).get(measure) or {}
    return str(info.get("label") or measure), info.get("lower_is")


def _rr_words(rr, low, high):
    """``fell by 25%``: the step at the embedding month in words (RR = 1 + change)."""
    if not np.isfinite(rr):
        return ""
    change = 100 * (rr - 1)
    if round(abs(change)) < 1:
        return "did not change"
    return f"{'fell' if rr < 1 else 'rose'} by {abs(change):.0f}%"


def _measure_phrase(data, rows):
    """One measure's steps in words: each locality's, then all modelled localities together.

    ``Referrals to specialist services, allowing for the earlier trend, fell by 25% in Kent North (rate ratio
    0.75, 95% CI 0.65 to 0.86) and rose by 9% in Camden (rate ratio 1.09, 95% CI 0.91 to 1.29, could be chance)
    when the programme was embedded; in these localities together, fell by 11% (...). Lower is better.``
    """
    label, lower_is = _measure_label(data, rows["measure"].iloc[0])

    def one(r, where):
        rr, low, high = r["level_change_rr"], r["level_ci_low"], r["level_ci_high"]
        chance = low <= 1 <= high
        return (f"{_rr_words(rr, low, high)}{where} (rate ratio {format_number(rr)}, 95% CI {format_number(low)} "
                f"to {format_number(high)}{', could be chance' if chance else ''})")

    local = [one(r, f" in {r['locality']}") for _, r in rows[rows["locality"] != "all"].iterrows()]
    pooled = [one(r, "") for _, r in rows[rows["locality"] == "all"].iterrows()]
    text = f"{label}, allowing for the earlier trend, {_and(local)} when the programme was embedded"
    if pooled and len(local) > 1:
        text += f"; in these localities together, {pooled[0]}"
    return text + "." + (f" Lower is {lower_is}." if lower_is in ("better", "worse") else "")


def _and(names):
    names = [str(n) for n in names if str(n)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


def _delivery_sentence(data, table):
    groups = table[table["level"] == "group"]
    overall = table[table["level"] == "overall"].iloc[0]
    planned = pd.to_numeric(groups["sessions_planned"], errors="coerce")
    pct = pd.to_numeric(groups["fidelity_pct"], errors="coerce")
    full = (planned.isna() | (groups["sessions_delivered"] >= planned)) & (pct >= FIDELITY_FLAG)
    plan = (f"all {int(planned.dropna().iloc[0])} planned sessions" if planned.notna().any() and
            planned.dropna().nunique() == 1 else "all their planned sessions")
    text = (f"{int(full.sum())} of {len(groups)} groups delivered {plan} with at least {FIDELITY_FLAG}% of the core "
            f"components (fidelity)")
    if np.isfinite(overall["fidelity_pct"]):
        text += (f"; over all {int(overall['sessions_delivered']):,} sessions, {overall['fidelity_pct']:.0f}% of the "
                 f"core components were delivered")
    return text + "."


def _embedding_sentence(data, table):
    """The overall row of the embedding table in words, printing only what the page's table shows."""
    idx = table.index[table["level"] == "overall"][0]
    overall = table.loc[idx]
    shown = _embedding_shown(data, table).loc[idx]
    trained = int(overall["trained"])
    if trained == 0:
        return ""
    if str(overall["note"]) == NO_SESSIONS_NOTE:
        return (f"No sessions were recorded, so whether the {_count_words(trained, 'facilitators', data.min_cell)} "
                f"trained went on to deliver is not known; add a `sessions:` section to the cohort config.")
    m = data.min_cell
    if not _is_number(shown["trained"]):
        return f"Fewer than {m} facilitators were trained, too few to say how many went on to deliver."

    def said(key):
        return _is_number(shown[f"d{key}"])

    words = {"3m": "3 months", "6m": "6 months"}
    parts, withheld = [], []
    for key in ("6m", "3m"):
        if not said(key):
            withheld.append(words[key])
            continue
        k = int(overall[f"delivering_{key}"])
        interval = (f", 95% CI {100 * overall[f'delivering_{key}_ci_low']:.0f}% to "
                    f"{100 * overall[f'delivering_{key}_ci_high']:.0f}%")
        parts.append(f"{k} ({100 * k / trained:.0f}%{interval if not parts else ''}) "
                     f"{'delivered a first session ' if not parts else ''}within {words[key]}"
                     f"{' of training' if not parts else ''}")
    text = f"Of {trained} trained facilitators, " + ", ".join(parts) if parts else \
        f"Of {trained} trained facilitators, how many delivered a first session is not shown"
    if withheld:
        text += (f"{'; the number within ' + ' or '.join(withheld) + ' is' if parts else ''} not shown, because "
                 f"with the sites' counts it would give away a number below {m}")
    return text + "."


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value)


def points(data, page=None):
    """Main points of the delivery page (``"delivery"``), the system page (``"system"``), or both (the index).

    Returns
    -------
    pandas.DataFrame
        Columns ``section`` (``delivery`` / ``system``), ``kind``, ``measures`` and ``sentence``, as
        :func:`evalkit.report.summary.main_points`. On the index: one bullet on delivery and training, and
        one on the system outcomes (the pooled step of each measure, else each locality's).
    """
    rows = []
    results = data.results
    if page in (None, "delivery"):
        parts = []
        if isinstance(results.get("implementation"), pd.DataFrame) and len(results["implementation"]):
            parts.append(("fidelity", _delivery_sentence(data, results["implementation"])))
        if isinstance(results.get("embedding"), pd.DataFrame) and len(results["embedding"]):
            said = _embedding_sentence(data, results["embedding"])
            if said:
                parts.append(("embedding", said))
        if page is None and parts:
            rows.append(("delivery", "delivery", ",".join(k for k, _ in parts),
                         " ".join(s for _, s in parts)))
        else:
            rows += [("delivery", "delivery", k, s) for k, s in parts]
    its = results.get("system_its")
    if page in (None, "system") and isinstance(its, pd.DataFrame) and len(its):
        modelled = its[np.isfinite(pd.to_numeric(its["level_change_rr"], errors="coerce"))]
        phrases = [(m, _measure_phrase(data, modelled[modelled["measure"] == m]))
                   for m in dict.fromkeys(modelled["measure"])]
        if page is None and phrases:
            rows.append(("system", "system", ",".join(m for m, _ in phrases),
                         " ".join(p for _, p in phrases)
                         + " Without a comparison locality this shows a change in time, not its cause."))
        elif page is not None:
            for m, phrase in phrases:
                rows.append(("system", "system", m, phrase))
            short = its[its["note"].astype(str).str.contains("fewer than")]
            if len(short) and page is not None:
                places = list(dict.fromkeys(short["locality"]))
                rows.append(("system", "withheld", ",".join(dict.fromkeys(short["measure"])),
                             f"{_and(places)} had too few months on one side of the embedding month to model "
                             f"(at least 6 before and 6 after are needed), so "
                             f"{'it is' if len(places) == 1 else 'they are'}"
                             f" left out of the pooled estimate."))
    return pd.DataFrame(rows, columns=["section", "kind", "measures", "sentence"])


def trust_rows(data):
    """What a reader must know about the delivery and system results: ``(topic, text)`` rows for "How far to
    trust these results"."""
    out = []
    results = data.results
    impl = results.get("implementation")
    if isinstance(impl, pd.DataFrame) and len(impl):
        cfg = _config_part(data.cohort, "sessions")
        k = len(getattr(cfg, "fidelity", None) or [])
        text = (f"Fidelity is the share of the {k} core components recorded as delivered in each session. Where "
                "the facilitators who ran a session recorded it themselves, fidelity is self-reported, and "
                "self-report tends to run high; an observed check of a sample of sessions would show how far to "
                "trust it.")
        if isinstance(results.get("fidelity_outcomes"), pd.DataFrame):
            text += (" Children's change by their group's fidelity is exploratory: groups were not assigned "
                     "their fidelity, and groups that kept to the programme may differ in other ways.")
        out.append(("Delivery records", text))
    if isinstance(results.get("embedding"), pd.DataFrame) and len(results["embedding"]):
        out.append(("Training that becomes practice", (
            "A trained facilitator counts as delivering when the session records show a first session within 91 "
            "days (3 months) or 182 days (6 months) of training; a session that was not recorded is not "
            "counted, so the shares are a floor.")))
    its = results.get("system_its")
    if isinstance(its, pd.DataFrame) and len(its):
        out.append(("System outcomes over time", (
            "The rates of referrals and escalations are compared before and after each locality embedded the "
            "programme (an interrupted time series). There is no comparison locality that did not embed it, so "
            "a step at that month shows an association in time, not that the programme caused it: other "
            "changes at the same time, such as new thresholds or staffing, would show the same way. The model "
            "allows for a trend and for counts more variable than chance (quasi-Poisson) but not for seasons, "
            "and a locality with fewer than 6 months on either side is not modelled.")))
    return out


# ---------------------------------------------------------------------------- pages

def _nb():
    from . import notebook

    return notebook


def _table(data, key):
    table = data.results.get(key)
    return table.reset_index(drop=True) if isinstance(table, pd.DataFrame) else None


def service_points(data, page="delivery"):
    """The page's main points, first thing after the title (``<section id="main-points">``)."""
    import html

    nb = _nb()
    table = points(data, page)
    nb.record(f"{page}_main_points", table["sentence"].tolist())
    body = ("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in table["sentence"]) + "</ul>") if len(table) \
        else "<p>This cohort has no data for this page's questions.</p>"
    return nb.Html(f'<section id="main-points">\n<h2>Main points</h2>\n{body}\n</section>',
                   "\n".join(f"- {s}" for s in table["sentence"]), data=table)


def _shown_counts(frame, *, relations=(), column_relations=(), columns=(), min_cell=5, keep=()):
    from .privacy import complementary_suppression

    return complementary_suppression(frame, relations=list(relations), column_relations=list(column_relations),
                                     columns=list(columns), keep=list(keep), min_cell=min_cell)


def _implementation_shown(data, table):
    """``children_reached`` with small counts hidden (group rows add up to their site, sites to overall)."""
    reached = pd.to_numeric(table["children_reached"], errors="coerce").astype(float)
    frame = pd.DataFrame({"children_reached": reached})
    if reached.isna().all():
        return pd.Series([""] * len(table), dtype=object)
    relations = []
    overall = table.index[table["level"] == "overall"].tolist()
    sites = table.index[table["level"] == "site"].tolist()
    if overall:
        relations.append((overall[0], sites, ["children_reached"]))
    for s in sites:
        members = table.index[(table["level"] == "group") & (table["site"] == table.at[s, "site"])].tolist()
        relations.append((s, members, ["children_reached"]))
    shown = _shown_counts(frame.fillna(0), column_relations=relations, columns=["children_reached"],
                          min_cell=data.min_cell)["children_reached"]
    return pd.Series([("" if np.isnan(r) else (int(v) if isinstance(v, float) else v))
                      for v, r in zip(shown, reached)], dtype=object)


def _pct_text(v):
    return f"{v:.0f}%" if v is not None and np.isfinite(v) else ""


def _attended_text(v, min_cell, *, group):
    """A mean of children present: a group's mean over its few sessions is close to a count of children, so
    below ``min_cell`` it shows ``<min_cell``; a site's or the overall mean, over many sessions, is shown."""
    if v is None or not np.isfinite(v):
        return ""
    return f"<{min_cell}" if group and v < min_cell else f"{v:.1f}"


def _absent_delivery():
    return _nb()._absent("No sessions were recorded for this cohort, so delivery and fidelity cannot be shown; add a "
                         "`sessions:` section (one row per delivered session) to the cohort config.")


def delivery_table(data):
    """Sessions, fidelity and reach by site and overall, with each group's row one click away."""
    from .privacy import is_hidden

    nb = _nb()
    table = _table(data, "implementation")
    if table is None or table.empty:
        return _absent_delivery()
    reached = _implementation_shown(data, table)
    groups = table[table["level"] == "group"]
    counts = groups.groupby("site", dropna=False)["group"].nunique()

    def frame(rows, *, by_group):
        out = pd.DataFrame({
            "Site": rows["site"].replace("", "All sites").to_numpy(),
            **({"Group": rows["group"].to_numpy()} if by_group else
               {"Groups": [int(counts.sum()) if lvl == "overall" else int(counts.get(s, 0))
                           for lvl, s in zip(rows["level"], rows["site"])]}),
            "Sessions delivered": rows["sessions_delivered"].astype(int).to_numpy(),
            "Sessions planned": [int(v) if pd.notna(v) else "" for v in rows["sessions_planned"]],
            "Fidelity": [_pct_text(v) for v in pd.to_numeric(rows["fidelity_pct"], errors="coerce")],
            "Children per session (mean)": [_attended_text(v, data.min_cell, group=by_group)
                                            for v in pd.to_numeric(rows["mean_attended"], errors="coerce")],
            "Children reached": reached.loc[rows.index].to_numpy(),
        })
        if by_group:
            out["Flag"] = rows["note"].fillna("").to_numpy()
        if not any(str(v) for v in out["Children reached"]):
            out = out.drop(columns="Children reached")
        return out

    summary = frame(table[table["level"] != "group"], by_group=False)
    detail = frame(groups, by_group=True)
    nb.record("implementation_shown", summary.astype(str).to_dict(orient="list"))
    cfg = _config_part(data.cohort, "sessions")
    k = len(getattr(cfg, "fidelity", None) or [])
    notes = [f"Fidelity: the share of the {k} core components recorded as delivered, over every session of the row "
             f"(not an average of the groups' shares). Children per session: the mean number present over every "
             f"recorded session; a group's mean below {data.min_cell} shows as <{data.min_cell}. Children reached: "
             f"children in the outcome data whose group is this group, blank where the children's data do not "
             f"record it.",
             nb._small_note(data) if any(is_hidden(v) for v in reached if isinstance(v, str)) else ""]
    return nb.Table(summary, caption="Were the sessions delivered as designed? Sessions, fidelity and reach by site",
                    lead=points(data, "delivery")["sentence"].iloc[0] if len(points(data, "delivery")) else "",
                    notes=notes,
                    technical=nb.Table(detail, caption="each group (groups by their code)", notes=[
                        f"Flag: fewer sessions than planned, or fidelity under {FIDELITY_FLAG}%."]))


def flagged_groups_table(data):
    """The groups to follow up: under 80% fidelity or fewer sessions than planned."""
    nb = _nb()
    table = _table(data, "implementation")
    if table is None or table.empty:
        return _absent_delivery()
    groups = table[(table["level"] == "group") & (table["note"].fillna("") != "")]
    total = int((table["level"] == "group").sum())
    if groups.empty:
        return nb.Markdown(f"Every one of the {total} groups delivered its planned sessions with at least "
                           f"{FIDELITY_FLAG}% fidelity.", data=groups)
    shown = pd.DataFrame({"Group": groups["group"].to_numpy(), "Site": groups["site"].to_numpy(),
                          "Sessions delivered": groups["sessions_delivered"].astype(int).to_numpy(),
                          "Fidelity": [_pct_text(v) for v in pd.to_numeric(groups["fidelity_pct"])],
                          "Why flagged": groups["note"].to_numpy()})
    return nb.Table(shown, caption=f"Groups to follow up: {len(groups)} of {total}",
                    lead=(f"A group is flagged when it delivered fewer sessions than planned or under "
                          f"{FIDELITY_FLAG}% of the core components. Groups are shown by their code."))


def fidelity_figure(data):
    """Each group's fidelity as a dot, by site, with the 80% line."""
    nb = _nb()
    table = _table(data, "implementation")
    if table is None or table.empty or table["fidelity_pct"].isna().all():
        return nb._no_figure()
    nb._theme()
    import matplotlib.pyplot as plt

    from .service_plots import fidelity_plot

    groups = table[table["level"] == "group"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.9 * groups["site"].nunique()))
    fidelity_plot(groups, ax=ax, flag=FIDELITY_FLAG)
    fig.tight_layout()
    below = int((pd.to_numeric(groups["fidelity_pct"]) < FIDELITY_FLAG).sum())
    caption = (f"Fidelity of each group, one row per site: a blue dot for a group at or above {FIDELITY_FLAG}% of the "
               f"core components delivered, a larger orange dot for a group below it; groups with the same "
               f"percentage are stacked; the dashed grey line marks {FIDELITY_FLAG}%. The groups below the line are "
               f"listed by their code under Groups to follow up.")
    return nb._captioned(fig, caption=caption, data=groups[["site", "group", "fidelity_pct"]],
                         alt=(f"Dot plot of the fidelity of {len(groups)} groups, {below} of them below the "
                              f"{FIDELITY_FLAG}% line."))


def fidelity_outcomes_table(data):
    """Exploratory: the children's change by the fidelity of their group."""
    nb = _nb()
    table = _table(data, "fidelity_outcomes")
    if table is None or table.empty:
        return nb._absent("The children's questionnaires do not record their group, or no group of the sessions "
                          "matches theirs, so change cannot be linked to fidelity; add `group` to the children's "
                          "`columns:` in the cohort config, with the same codes as the sessions file.")
    m = data.min_cell
    n = pd.to_numeric(table["n"]).astype(int)
    small = table.assign(_n=n).groupby("measure")["_n"].transform(lambda s: ((s > 0) & (s < m)).any())
    shown_n = [(f"<{m}" if 0 < k < m else "*") if hide else k for k, hide in zip(n, small)]
    change = [("" if hide or k < m else nb._interval(v, lo, hi))
              for v, lo, hi, k, hide in zip(table["mean_change"], table["ci_low"], table["ci_high"], n, small)]
    shown = pd.DataFrame({"Measure": table["label"].to_numpy(),
                          "Group fidelity": table["fidelity_band"].to_numpy(),
                          "Groups": table["groups"].astype(int).to_numpy(), "n": shown_n,
                          "Mean change [95% CI]": change})
    return nb.Table(shown, caption="Exploratory: children's change (end − start) by the fidelity of their group",
                    lead=("This table is exploratory. Groups were not assigned their fidelity, so groups that kept "
                          "closer to the programme may differ in other ways; children in one group are not "
                          "independent, so the intervals are too narrow. Read it as a question to follow up, not "
                          "as evidence that fidelity caused more change."),
                    notes=nb._with_small_note([
                        f"n: children with both questionnaires whose group is in the band; a mean change of fewer "
                        f"than {m} children is not shown, nor the other band's n where that would give it away."],
                        shown, data))


def _embedding_shown(data, table):
    """Counts of the embedding table as shown: ``trained``, ``d3m`` and ``d6m`` (numbers, ``"<5"`` or ``"*"``).

    A row's count of facilitators delivering within a window is hidden when it, or the number who did not, is
    from 1 to ``min_cell - 1`` (``"<5"`` when the count itself is small, ``"*"`` otherwise). The overall row is
    the sum of the sites, so its count is hidden too ("*") when exactly one site is hidden, or when the
    hidden sites together deliver, or do not deliver, fewer than ``min_cell``: otherwise the overall minus
    the sites shown would give them away. A share is shown only beside a count that is shown.
    """
    m = data.min_cell

    def small(k):
        return 0 < k < m

    trained = table["trained"].astype(int).to_numpy()
    sites = np.flatnonzero((table["level"] == "site").to_numpy())
    overall = np.flatnonzero((table["level"] == "overall").to_numpy())
    out = pd.DataFrame({"trained": pd.Series(list(trained), dtype=object)}, index=table.index)
    hidden_trained = [i for i in sites if small(trained[i])]
    for i in hidden_trained:
        out.iat[i, 0] = f"<{m}"
    if overall.size and (small(trained[overall[0]]) or len(hidden_trained) == 1 or
                         small(sum(trained[i] for i in hidden_trained))):
        out.iat[overall[0], 0] = f"<{m}" if small(trained[overall[0]]) else HIDDEN
    for key in WINDOWS:
        d = table[f"delivering_{key}"].astype(int).to_numpy()
        n = trained - d
        cells = list(d)
        hidden = []
        for i in [*sites, *overall]:
            if small(d[i]) or small(n[i]) or small(trained[i]):
                cells[i] = f"<{m}" if small(d[i]) else HIDDEN
                hidden.append(i)
        site_hidden = [i for i in hidden if i in set(sites)]
        if overall.size and overall[0] not in hidden and site_hidden and (
                len(site_hidden) == 1 or small(sum(d[i] for i in site_hidden))
                or small(sum(n[i] for i in site_hidden))):
            cells[overall[0]] = HIDDEN
        out[f"d{key}"] = pd.Series(cells, index=table.index, dtype=object)
    return out


def _shown_int(v):
    return int(v) if isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v) else v


def embedding_rows(data):
    """The embedding table as shown, tidy: ``level, site, trained, window, delivering, share, ci_low, ci_high``,
    with ``share`` and its interval blank wherever a count behind them is hidden (the figure draws these)."""
    table = _table(data, "embedding")
    if table is None or table.empty:
        return None
    shown = _embedding_shown(data, table)
    rows = []
    for i, r in table.iterrows():
        for key in WINDOWS:
            visible = _is_number(shown.at[i, "trained"]) and _is_number(shown.at[i, f"d{key}"]) and r["trained"] > 0
            rows.append({"level": r["level"], "site": r["site"] or "All sites",
                         "trained": _shown_int(shown.at[i, "trained"]),
                         "window": key, "delivering": _shown_int(shown.at[i, f"d{key}"]),
                         "share": 100 * r[f"delivering_{key}"] / r["trained"] if visible else np.nan,
                         "ci_low": 100 * r[f"delivering_{key}_ci_low"] if visible else np.nan,
                         "ci_high": 100 * r[f"delivering_{key}_ci_high"] if visible else np.nan})
    return pd.DataFrame(rows)


def _absent_training():
    return _nb()._absent("No training dates were recorded, so whether trained facilitators went on to deliver "
                         "cannot be shown; add `trained_on` (and `site`) to the facilitators' `columns:` in the "
                         "cohort config.")


def embedding_table(data):
    """Training that becomes practice: trained facilitators who delivered a first session within 3 and 6 months."""
    nb = _nb()
    table = _table(data, "embedding")
    rows = embedding_rows(data)
    if rows is None:
        return _absent_training()
    m = data.min_cell

    def share(r):
        return "" if not np.isfinite(r["share"]) else f"{r['share']:.0f}% [{r['ci_low']:.0f}%, {r['ci_high']:.0f}%]"

    wide = {}
    for (level, site), part in rows.groupby(["level", "site"], sort=False):
        by = part.set_index("window")
        wide[(level, site)] = {"Site": site, "Trained": by.iloc[0]["trained"],
                               "Delivering within 3 months": by.loc["3m", "delivering"],
                               "Share [95% CI], 3 months": share(by.loc["3m"]),
                               "Delivering within 6 months": by.loc["6m", "delivering"],
                               "Share [95% CI], 6 months": share(by.loc["6m"])}
    shown = pd.DataFrame(list(wide.values()))
    median = []
    for _, r in table.iterrows():
        v = r["median_days_to_first_session"]
        base = int(r["delivering_6m"])  # those who delivered within 6 months at least; a median of few is hidden
        median.append("" if not np.isfinite(v) or base < m else f"{v:.0f}")
    shown["Median days to first session"] = median
    if table["note"].fillna("").str.strip().any():
        shown["Note"] = table["note"].fillna("").to_numpy()
    nb.record("embedding_shown", shown.astype(str).to_dict(orient="list"))
    return nb.Table(shown, caption="Did the facilitators who were trained go on to deliver?",
                    lead=(_embedding_sentence(data, table) + " 'Training without embedding' is when people are "
                          "trained but never deliver, so the training never reaches children."),
                    notes=nb._with_small_note([
                        "Delivering within 3 (6) months: a first recorded session no more than 91 (182) days after "
                        "training. Share: of the trained facilitators, with a Wilson 95% confidence interval. "
                        f"Median days: over those who delivered at all; not shown for fewer than {m}.",
                        "A share is not shown where the count behind it, or the number who did not deliver, is "
                        "hidden."], shown, data))


def embedding_figure(data):
    """Share of trained facilitators delivering within 3 and 6 months, per site and overall, with Wilson CIs."""
    nb = _nb()
    rows = embedding_rows(data)
    if rows is None or rows["share"].isna().all():
        return nb._no_figure()
    nb._theme()
    import matplotlib.pyplot as plt

    from .service_plots import embedding_plot

    drawn = rows.groupby(["level", "site"], sort=False)["share"].transform(lambda v: np.isfinite(v).any())
    rows = rows[drawn.astype(bool)]  # a site with no share shown is left out (the table says why)
    n_rows = rows[["level", "site"]].drop_duplicates().shape[0]
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.55 * n_rows))
    embedding_plot(rows, ax=ax)
    fig.tight_layout()
    caption = ("Share of trained facilitators who delivered a first session within 3 months (light blue) and within "
               "6 months (dark blue) of training, each with its Wilson 95% confidence interval, per site and for "
               "all sites. A site whose share would give away a count below "
               f"{data.min_cell} is left out.")
    return nb._captioned(fig, caption=caption, data=rows,
                         alt="Dot plot of the share of trained facilitators delivering within 3 and 6 months of "
                             "training, by site, with confidence intervals.")


def practice_table(data):
    """Whether practice started beside whether confidence lasted (with a facilitator follow-up wave)."""
    nb = _nb()
    emb = _table(data, "embedding")
    outcomes = _table(data, "facilitator_outcomes")
    follow = None
    if outcomes is not None and "contrast" in outcomes.columns:
        follow = outcomes[outcomes["contrast"] == "follow_up-pre"]
    if emb is None or follow is None or follow.empty:
        return nb._absent("Whether confidence lasted is shown beside whether practice started when the facilitators "
                          "have training dates and a follow-up questionnaire; this cohort lacks one of them.")
    rows = [("Practice started", _embedding_sentence(data, emb))]
    alpha = float(data.config.analysis.get("alpha", 0.05))
    for _, r in follow.iterrows():
        p = r.get("p_primary_holm", np.nan)
        significant = np.isfinite(p) and p < alpha
        lasted = ("still higher than before training" if significant and r["mean_diff"] > 0 else
                  "lower than before training" if significant else "not clearly different from before training")
        n = r.get("n", np.nan)
        who = _count_words(n, "facilitators", data.min_cell) if np.isfinite(n) else "the facilitators"
        rows.append((f"Confidence lasted: {r['label']}",
                     f"At follow-up, scores were {lasted} (change {format_number(r['mean_diff'], sign=True)}, "
                     f"{format_p(p)} after Holm adjustment; {who} with both questionnaires)."))
    return nb.Table(pd.DataFrame(rows, columns=["Question", "What the data show"]),
                    caption="Training that lasts: did practice start, and did confidence last?",
                    lead=("Training works when trained people go on to deliver and keep their confidence; the "
                          "first row is from the sessions records, the others from the facilitators' follow-up "
                          "questionnaire."))


# --- system outcomes

def _absent_system():
    return _nb()._absent("No system outcomes were recorded for this cohort, so rates over time cannot be shown; add a "
                         "`system:` section (one row per locality, month and measure) to the cohort config.")


def system_table(data):
    """The interrupted time series per locality and measure, and pooled: rates before and after, and the step."""
    nb = _nb()
    table = _table(data, "system_its")
    if table is None or table.empty:
        return _absent_system()
    labels = {m: _measure_label(data, m)[0] for m in table["measure"].unique()}
    rr = pd.to_numeric(table["level_change_rr"], errors="coerce")

    def words(r):
        return _rr_words(r["level_change_rr"], r["level_ci_low"], r["level_ci_high"])

    shown = pd.DataFrame({
        "Measure": table["measure"].map(labels).to_numpy(),
        "Locality": table["locality"].replace("all", POOLED_WORDS).to_numpy(),
        "Months before / after": [f"{int(b)} / {int(a)}" if pd.notna(b) and pd.notna(a) else ""
                                  for b, a in zip(table["months_before"], table["months_after"])],
        "Rate before (per 1,000)": [format_number(v, 1) if np.isfinite(v) else "" for v in table["rate_before"]],
        "Rate after (per 1,000)": [format_number(v, 1) if np.isfinite(v) else "" for v in table["rate_after"]],
        "Step at embedding": [words(r) for _, r in table.iterrows()],
        "Rate ratio [95% CI]": [nb._interval(v, lo, hi, sign=False) for v, lo, hi in
                                zip(rr, table["level_ci_low"], table["level_ci_high"])],
        "p": [nb._p(v) for v in pd.to_numeric(table["p_level"], errors="coerce")],
        "Note": [_short_note(n) for n in table["note"].fillna("")],
    })
    technical = pd.DataFrame({
        "Measure": shown["Measure"], "Locality": shown["Locality"],
        "Trend change per month, rate ratio [95% CI]": [
            nb._interval(v, lo, hi, sign=False) for v, lo, hi in
            zip(pd.to_numeric(table["slope_change_rr"], errors="coerce"), table["slope_ci_low"],
                table["slope_ci_high"])],
        "p (trend)": [nb._p(v) for v in pd.to_numeric(table["p_slope"], errors="coerce")],
        "Dispersion": [format_number(v) if np.isfinite(v) else "" for v in
                       pd.to_numeric(table.get("dispersion", pd.Series(np.nan, index=table.index)), errors="coerce")],
        "Model": table["model"].fillna("").to_numpy(),
    })
    nb.record("system_its_shown", shown.astype(str).to_dict(orient="list"))
    return nb.Table(shown, caption="Did referrals and escalations change when the programme was embedded?",
                    lead=("Each row compares a locality's monthly rate before and after the month it embedded the "
                          "programme. The rate ratio is the step in the rate at that month, allowing for the trend "
                          "before it: 0.75 means a quarter lower than the trend predicted, 1 means no step."),
                    notes=["Rates: all events over all children counted (the denominator) on each side, per 1,000. "
                           "Model: segmented quasi-Poisson regression of the monthly count with the denominator as "
                           "exposure; the pooled row gives each locality its own starting level and shares the trend "
                           "and the step. Localities without a model of their own are left out of the pooled row.",
                           "Monthly counts are not shown; a month with fewer than "
                           f"{data.min_cell} events is drawn hollow in the figure and still counts in the model."],
                    technical=nb.Table(technical, caption="trend changes and the model"))


def system_figure(data):
    """Monthly rate per 1,000 per locality and measure, the embedding month, and the earlier trend carried forward."""
    nb = _nb()
    lines = system_lines(data)
    if lines is None or lines.empty:
        return nb._no_figure()
    nb._theme()
    import matplotlib.pyplot as plt

    from .service_plots import its_plot

    inputs = _system_inputs(data.cohort)
    embedded = inputs[1]
    table = _table(data, "system_its")
    measures = list(dict.fromkeys(lines["measure"]))
    localities = list(dict.fromkeys(lines["locality"]))
    rows = len(measures)  # 2.4 inches a panel, with the margins its_legend sets around them
    fig, axes = plt.subplots(rows, len(localities), figsize=(3.6 * len(localities) + 0.6,
                                                             2.4 * rows + 0.7 * (rows - 1) + 1.9),
                             squeeze=False, sharex=True)
    for i, m in enumerate(measures):
        label, _ = _measure_label(data, m)
        for j, loc in enumerate(localities):
            part = lines[(lines["measure"] == m) & (lines["locality"] == loc)]
            its_plot(part, ax=axes[i, j], embedded=embedded.get(loc), min_cell=data.min_cell,
                     title=f"{loc}: {label}", note=_panel_note(table, loc, m))
            if j == 0:
                axes[i, j].set_ylabel("Rate per 1,000")
    from .service_plots import its_legend

    its_legend(fig, min_cell=data.min_cell)
    caption = ("Each panel is one locality and measure: blue points joined by a line are the monthly rate per 1,000 "
               "(hollow where the month had fewer than "
               f"{data.min_cell} events); the vertical dark grey line is the month the locality embedded the "
               "programme; the solid black line is the model's fit, and the dashed black line carries the trend "
               "before embedding forward, as if nothing had changed. The gap between the dashed and solid lines "
               "after embedding is the change the table reports. A panel without these lines has no model.")
    return nb._captioned(fig, caption=caption, data=lines.drop(columns=["count", "denominator"]),
                         alt=(f"Line charts of the monthly rate per 1,000 for {len(localities)} localities and "
                              f"{len(measures)} measures, each with the embedding month marked and the earlier trend "
                              f"projected forward."))


def _short_note(note):
    """A ``system_its`` note as the page's table says it."""
    note = str(note)
    if note.startswith("pooled over"):
        return ""
    if "fewer than" in note:
        return "Not modelled: fewer than 6 months on one side"
    if note.startswith("no embedding month"):
        return "Not modelled: no embedding month"
    return note


def _panel_note(table, locality, measure):
    """Why a panel has no model ('' when it has one)."""
    if table is None:
        return ""
    row = table[(table["locality"] == locality) & (table["measure"] == measure)]
    if row.empty or np.isfinite(pd.to_numeric(row["level_change_rr"], errors="coerce")).any():
        return ""
    note = str(row["note"].iloc[0])
    return ("No embedding month: not modelled" if note.startswith("no embedding") else
            "Too few months on one side: not modelled" if "fewer than" in note else "Not modelled")


def system_caveat(data):
    """What the system outcomes can and cannot show, in plain words."""
    nb = _nb()
    rows = trust_rows(data)
    text = dict(rows).get("System outcomes over time")
    if not text:
        return _absent_system()
    return nb.Markdown(text, data=pd.DataFrame(rows, columns=["topic", "text"]))
