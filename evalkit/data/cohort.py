"""In-memory shapes shared by cleaning, statistics, plots and reports (the data contract between modules)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: Factor columns a section may carry, in the order analyses report them.
FACTORS = ("delivery", "age_band", "referral_reason", "site")


@dataclass(frozen=True)
class Subscale:
    """One scored measure of an instrument."""

    id: str
    label: str
    items: tuple
    reverse: tuple = ()


@dataclass(frozen=True)
class Instrument:
    """A questionnaire described as data (see ``evalkit/instruments/*.yml``).

    ``measures`` lists every scored column in ``SectionData.scores``: the
    subscale ids, then ``total`` when the instrument defines one.
    """

    id: str
    name: str
    min: float
    max: float
    labels: dict
    scoring: str
    min_answered: float
    subscales: tuple
    total: Subscale | None = None
    reliability: dict = field(default_factory=dict)
    source: str = ""

    @property
    def items(self):
        """Every item id, in form order of the subscales."""
        seen = []
        for sub in self.subscales:
            seen.extend(i for i in sub.items if i not in seen)
        return seen

    @property
    def measures(self):
        """Scored measure ids: subscales, then the total if defined."""
        ids = [s.id for s in self.subscales]
        if self.total is not None:
            ids.append(self.total.id)
        return ids

    @property
    def measure_labels(self):
        """Mapping measure id -> human label."""
        out = {s.id: s.label for s in self.subscales}
        if self.total is not None:
            out[self.total.id] = self.total.label
        return out

    def measure(self, measure_id):
        """Return the :class:`Subscale` for ``measure_id`` (total included)."""
        for sub in self.subscales:
            if sub.id == measure_id:
                return sub
        if self.total is not None and self.total.id == measure_id:
            return self.total
        raise KeyError(measure_id)


@dataclass
class SectionData:
    """Cleaned, scored data of one section (``children`` or ``facilitators``).

    Attributes
    ----------
    section : str
        ``"children"`` or ``"facilitators"``.
    instrument : Instrument
    scores : pandas.DataFrame
        One row per person and timepoint kept. Columns: ``id`` (cleaned text id),
        ``timepoint`` (``"pre"`` or ``"post"``), the factor columns present
        (``age`` as float, ``age_band``, ``delivery``, ``referral_reason``, ``site``
        as text), then one float column per measure id in ``measures`` (NaN when
        too few items were answered to score it).
    items : pandas.DataFrame
        Same rows as ``scores``: ``id``, ``timepoint``, then one float column per
        item id present in the data, reverse items already reversed
        (``min + max - value``), missing answers NaN.
    measures : list of str
        Measures actually collected (a subscale none of whose items is in the
        data is left out and listed in ``not_collected``).
    factors : list of str
        Factor columns present in ``scores`` (subset of ``FACTORS``).
    not_collected : list of str
        Instrument measures with no item in the data.
    """

    section: str
    instrument: Instrument
    scores: pd.DataFrame
    items: pd.DataFrame
    measures: list
    factors: list
    not_collected: list = field(default_factory=list)
    log: pd.DataFrame | None = None
    files: list = field(default_factory=list)

    @property
    def labels(self):
        """Mapping measure id -> label for the measures collected."""
        lab = self.instrument.measure_labels
        return {m: lab.get(m, m) for m in self.measures}
