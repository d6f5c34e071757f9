"""Item response distributions at each timepoint (for diverging bar charts)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .paired import TIMEPOINTS, _check_long

ITEM_DISTRIBUTION_COLUMNS = [
    "item", "measure", "reverse", "timepoint", "response", "label", "n", "answered", "percent",
]


def _response_labels(instrument):
    """Response value -> first label the instrument gives it."""
    out = {}
    for text, value in (instrument.labels or {}).items():
        out.setdefault(float(value), str(text))
    return out


def item_distributions(items, *, instrument, timepoints=TIMEPOINTS):
    """Response counts and percentages of every item at every timepoint (for diverging bars).

    Parameters
    ----------
    items : pandas.DataFrame
        Long item answers (``id``, ``timepoint``, one column per item), **keyed**:
        reverse items already reversed (``min + max - answer``).
    instrument : evalkit.data.cohort.Instrument
        Gives the items in form order, the response range and the labels.
    timepoints : tuple of str
        Timepoints to include, in output order.

    Returns
    -------
    pandas.DataFrame
        One row per item x timepoint x response value (``instrument.min`` to
        ``instrument.max``, including values nobody chose), items in instrument
        order:

        * ``item``: item id; ``measure``: first subscale the item belongs to.
        * ``reverse``: whether the item is reverse-scored (shown keyed).
        * ``timepoint``; ``response``: keyed response value; ``label``: its
          response label (for a reverse item, the label of the keyed value).
        * ``n``: people giving that response; ``answered``: people giving a valid
          answer to the item at that timepoint; ``percent``: ``100 n / answered``.

    Notes
    -----
    Reverse items are shown keyed, so that on every bar higher = more of the
    construct; a reverse item's "often true" column therefore counts people who
    answered "not true" on the form. Answers outside the whole numbers of the
    scale are not counted.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.data.cohort import Instrument, Subscale
    >>> inst = Instrument(id="x", name="X", min=1, max=3, labels={"no": 1, "some": 2, "yes": 3},
    ...                   scoring="mean", min_answered=1,
    ...                   subscales=(Subscale("s", "S", ("i1",)),))
    >>> items = pd.DataFrame({"id": ["a", "b", "a", "b"], "timepoint": ["pre", "pre", "post", "post"],
    ...                       "i1": [1.0, 2.0, 3.0, 3.0]})
    >>> item_distributions(items, instrument=inst)[["timepoint", "response", "label", "n", "percent"]]
      timepoint  response label  n  percent
    0       pre         1    no  1     50.0
    1       pre         2  some  1     50.0
    2       pre         3   yes  0      0.0
    3      post         1    no  0      0.0
    4      post         2  some  0      0.0
    5      post         3   yes  2    100.0
    """
    _check_long(items, name="items")
    item_ids = [i for i in instrument.items if i in items.columns]
    owner, reverse = {}, set()
    for sub in instrument.subscales:
        for i in sub.items:
            owner.setdefault(i, sub.id)
        reverse.update(sub.reverse)
    values = np.arange(math.ceil(instrument.min), math.floor(instrument.max) + 1)
    labels = _response_labels(instrument)
    tp = items["timepoint"].to_numpy()
    rows = {tpt: tp == tpt for tpt in timepoints}
    counts = np.zeros((len(item_ids), len(timepoints), values.size), dtype=np.int64)
    for i, item in enumerate(item_ids):
        answers = items[item].to_numpy(dtype=float)
        for j, tpt in enumerate(timepoints):
            v = answers[rows[tpt]]
            v = v[np.isin(v, values)]  # whole answers on the scale; NaN never matches
            counts[i, j] = np.bincount((v - values[0]).astype(np.int64), minlength=values.size)
    answered = np.repeat(counts.sum(axis=2), values.size)
    n = counts.ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(answered > 0, 100 * n / np.where(answered > 0, answered, 1), np.nan)
    item_col = np.repeat(np.array(item_ids, dtype=object), len(timepoints) * values.size)
    out = pd.DataFrame({
        "item": item_col,
        "measure": pd.Series(item_col).map(owner).to_numpy(),
        "reverse": np.isin(item_col, list(reverse)),
        "timepoint": np.tile(np.repeat(np.array(timepoints, dtype=object), values.size),
                             len(item_ids)),
        "response": np.tile(values, len(item_ids) * len(timepoints)).astype(int),
        "label": [labels.get(float(v), "") for v in np.tile(values, len(item_ids) * len(timepoints))],
        "n": n.astype(int), "answered": answered.astype(int), "percent": percent,
    })
    return out[ITEM_DISTRIBUTION_COLUMNS]
