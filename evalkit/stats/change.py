"""Reliable change: the Jacobson & Truax (1991) reliable change index per person and its category counts."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

from .paired import MIN_PAIRS, _PrePost

RELIABLE_CHANGE_COLUMNS = [
    "measure", "n", "r_used", "r_source", "sd_pre", "sdiff", "rci_threshold",
    "improved", "no_change", "deteriorated", "improved_pct", "no_change_pct",
    "deteriorated_pct", "note",
]


def _rci_threshold(confidence):
    return float(st.norm.ppf(1 - (1 - confidence) / 2))


def _resolve_reliability(measures, *, reliability, items, instrument):
    """Per measure, the reliability coefficient to use and where it came from."""
    given = dict(reliability or {})
    alphas = {}
    missing = [m for m in measures if m not in given]
    if missing and items is not None and instrument is not None:
        from .reliability import _alphas  # local import: reliability imports stats

        alphas = _alphas(items, instrument=instrument, measures=missing, timepoint="pre")
    out = {}
    for m in measures:
        if m in given and given[m] is not None and np.isfinite(float(given[m])):
            out[m] = (float(given[m]), "given (instrument file or config)")
        elif m in alphas and np.isfinite(alphas[m]):
            out[m] = (float(alphas[m]), "cohort baseline Cronbach's alpha")
        else:
            out[m] = (np.nan, "")
    return out


def _rci(scores, measures, reliability, items, instrument, confidence):
    """Per measure: its parameters row and the matched people's ids, pre, post and RCI.

    The RCI array is NaN when the index is undefined (the row's ``note`` says why).
    """
    split = _PrePost.of(scores)
    rel = _resolve_reliability(measures, reliability=reliability, items=items,
                               instrument=instrument)
    threshold = _rci_threshold(confidence)
    out = []
    for m in measures:
        r, source = rel[m]
        note = ""
        if m not in split.columns:
            x = y = np.array([])
            ids = np.array([], dtype=object)
            note = f"no column '{m}' in the scores"
        else:
            xs, ys = split.measure(m)
            keep = ~np.isnan(xs) & ~np.isnan(ys)
            x, y, ids = xs[keep], ys[keep], split.ids.to_numpy()[keep]
        sd_pre = x.std(ddof=1) if x.size >= 2 else np.nan
        sdiff = math.sqrt(2 * (sd_pre * math.sqrt(1 - r)) ** 2) if (np.isfinite(r) and r < 1
                                                                   and np.isfinite(sd_pre)) else np.nan
        if not note:
            if x.size < MIN_PAIRS:
                note = f"fewer than {MIN_PAIRS} matched pairs"
            elif not np.isfinite(r):
                note = "no reliability coefficient (give one, or provide items to estimate alpha)"
            elif r >= 1:
                note = "reliability of 1 or more: reliable change undefined"
            elif not sdiff > 0:
                note = "baseline SD is zero: reliable change undefined"
        rci = (y - x) / sdiff if not note else np.full(x.size, np.nan)
        params = {"measure": m, "n": int(x.size), "r_used": r, "r_source": source,
                  "sd_pre": sd_pre, "sdiff": sdiff if not note else np.nan,
                  "rci_threshold": threshold, "note": note}
        out.append((params, ids, x, y, rci))
    return out


def reliable_change_scores(scores, *, measures, reliability=None, items=None, instrument=None,
                           confidence=0.95):
    """Jacobson-Truax reliable change index of every matched person on every measure.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores (``id``, ``timepoint``, measure columns).
    measures : list of str
        Measures to classify.
    reliability : dict, optional
        Measure id -> reliability coefficient to use (e.g. the instrument's
        published alpha, from the instrument file or cohort config). Measures not
        in it use the cohort's baseline Cronbach's alpha from ``items``.
    items : pandas.DataFrame, optional
        Item answers (``id``, ``timepoint``, keyed item columns) for the alpha.
    instrument : evalkit.data.cohort.Instrument, optional
        Maps measures to items (needed with ``items``).
    confidence : float
        Two-sided level of the RCI threshold (0.95 gives 1.959964).

    Returns
    -------
    pandas.DataFrame
        One row per matched person and measure, measures in the given order and
        ids sorted: ``id``, ``measure``, ``pre``, ``post``, ``change`` (post - pre),
        ``rci`` and ``category`` (``"improved"``, ``"no change"``,
        ``"deteriorated"``; empty and ``rci`` NaN when the RCI is undefined).

    Notes
    -----
    ``RCI = (post - pre) / S_diff`` with ``S_diff = sqrt(2 SE^2)`` and
    ``SE = SD_pre sqrt(1 - r)`` (Jacobson & Truax, 1991), where ``SD_pre`` is
    the SD of the baseline scores of the matched pairs (the ``sd_pre`` of
    :func:`paired_outcomes`). ``RCI >= z_{1-a/2}`` (1.959964) is improved, ``<= -1.959964``
    deteriorated (higher scores are better on every evalkit measure).

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a statistical
    approach to defining meaningful change in psychotherapy research. Journal of
    Consulting and Clinical Psychology, 59(1), 12-19.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"id": list("abcd") * 2,
    ...                        "timepoint": ["pre"] * 4 + ["post"] * 4,
    ...                        "m": [1.0, 2.0, 3.0, 2.0, 3.0, 2.0, 2.0, 2.2]})
    >>> reliable_change_scores(scores, measures=["m"], reliability={"m": 0.8})[["id", "rci", "category"]].round(3)
      id    rci   category
    0  a  3.873   improved
    1  b  0.000  no change
    2  c -1.936  no change
    3  d  0.387  no change
    """
    threshold = _rci_threshold(confidence)
    parts = []
    for params, ids, x, y, rci in _rci(scores, measures, reliability, items, instrument,
                                       confidence):
        if params["note"]:
            cat = np.full(x.size, "", dtype=object)
        else:
            cat = np.where(rci >= threshold, "improved",
                           np.where(rci <= -threshold, "deteriorated", "no change"))
        parts.append(pd.DataFrame({"id": ids, "measure": params["measure"], "pre": x, "post": y,
                                   "change": y - x, "rci": rci, "category": cat}))
    return pd.concat(parts, ignore_index=True)


def reliable_change(scores, *, measures, reliability=None, items=None, instrument=None,
                    confidence=0.95):
    """Counts of people who reliably improved, did not change or deteriorated, per measure.

    Parameters
    ----------
    scores, measures, reliability, items, instrument, confidence
        As :func:`reliable_change_scores`.

    Returns
    -------
    pandas.DataFrame
        One row per measure:

        * ``measure``; ``n``: matched pairs classified.
        * ``r_used``: reliability coefficient used; ``r_source``: ``"given
          (instrument file or config)"`` or ``"cohort baseline Cronbach's alpha"``.
        * ``sd_pre``: baseline SD of the matched pairs; ``sdiff``: ``S_diff``.
        * ``rci_threshold``: |RCI| cut-off (1.959964 for 95%).
        * ``improved``, ``no_change``, ``deteriorated``: counts.
        * ``improved_pct``, ``no_change_pct``, ``deteriorated_pct``: percent of ``n``.
        * ``note``: why counts are missing.

    Notes
    -----
    See :func:`reliable_change_scores` for the formula. The smallest change
    counted as reliable is ``rci_threshold * sdiff`` scale points.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Journal of Consulting and Clinical
    Psychology, 59(1), 12-19.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"id": list("abcd") * 2,
    ...                        "timepoint": ["pre"] * 4 + ["post"] * 4,
    ...                        "m": [1.0, 2.0, 3.0, 2.0, 3.0, 2.0, 2.0, 2.2]})
    >>> reliable_change(scores, measures=["m"], reliability={"m": 0.8})[
    ...     ["measure", "n", "improved", "no_change", "deteriorated"]]
      measure  n  improved  no_change  deteriorated
    0       m  4         1          3             0
    """
    rows = []
    for params, _, _, _, rci in _rci(scores, measures, reliability, items, instrument,
                                     confidence):
        threshold, n = params["rci_threshold"], params["n"]
        if params["note"]:
            counts = dict.fromkeys(("improved", "no_change", "deteriorated"), pd.NA)
            pct = dict.fromkeys(counts, np.nan)
        else:
            up, down = int(np.count_nonzero(rci >= threshold)), int(np.count_nonzero(rci <= -threshold))
            counts = {"improved": up, "no_change": n - up - down, "deteriorated": down}
            pct = {k: 100 * v / n for k, v in counts.items()}
        rows.append(params | counts | {f"{k}_pct": v for k, v in pct.items()})
    out = pd.DataFrame(rows, columns=RELIABLE_CHANGE_COLUMNS)
    for c in ("improved", "no_change", "deteriorated"):
        out[c] = out[c].astype("Int64")  # nullable: counts stay whole numbers, NA when undefined
    for c in ("improved_pct", "no_change_pct", "deteriorated_pct", "sdiff", "sd_pre"):
        out[c] = out[c].astype(float)
    return out
