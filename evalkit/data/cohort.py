"""In-memory shapes shared by cleaning, statistics, plots and reports (the data contract between modules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Folder of the instruments shipped with evalkit (their ``source`` starts with it).
_SHIPPED = str(Path(__file__).with_name("instruments"))
#: Factor columns a section may carry, in the order analyses report them.
FACTORS = ("delivery", "age_band", "referral_reason", "site")


@dataclass(frozen=True)
class Subscale:
    """One scored measure of an instrument."""

    id: str
    label: str
    items: tuple
    reverse: tuple = ()
    #: ``"better"`` or ``"worse"``: what a higher score means; None when the instrument does not say.
    higher_is: str | None = None


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
    #: The instrument file's ``key_status`` (e.g. ``"placeholder - check ..."``, ``"example"``); empty if not given.
    key_status: str = ""
    reference: str = ""
    #: Item id -> the question as asked (``items: [{id: k1, text: "..."}]``); items without text are absent.
    item_texts: dict = field(default_factory=dict)
    #: ``response.step`` as written: a positive number, ``"any"``, or None when not given (see :attr:`answer_step`).
    step: float | str | None = None
    #: ``ages: [8, 16]``: the age range (years) the instrument was validated for, as two floats; None if not given.
    ages: tuple | None = None
    #: ``norms``: measure id -> ``{"mean": float, "sd": float, "source": str}`` (published norms); empty if none.
    norms: dict = field(default_factory=dict)

    @property
    def answer_step(self):
        """The step answers must be on, counted from ``min`` (None: any number in range).

        ``step: any`` gives None; no ``step`` gives 1 (whole numbers) when ``min``
        and ``max`` are whole numbers, else None.

        Examples
        --------
        >>> base = dict(id="x", name="X", labels={}, scoring="mean", min_answered=1, subscales=())
        >>> Instrument(min=0, max=10, **base).answer_step, Instrument(min=0, max=10, step=0.5, **base).answer_step
        (1.0, 0.5)
        >>> Instrument(min=0, max=10, step="any", **base).answer_step is None
        True
        """
        if self.step == "any":
            return None
        if self.step is not None:
            return float(self.step)
        if self.min is None or self.max is None:
            return None
        return 1.0 if float(self.min).is_integer() and float(self.max).is_integer() else None

    @property
    def whole_numbers(self):
        """Whether the answers are the whole numbers from ``min`` to ``max`` (step 1 from a whole ``min``)."""
        return self.answer_step == 1 and self.min is not None and float(self.min).is_integer()

    def on_step(self, value):
        """Whether ``value`` (in range) is ``min + k * step`` for a whole ``k``, within 1e-9 relative.

        Examples
        --------
        >>> half = Instrument(id="x", name="X", min=0, max=10, labels={}, scoring="mean", min_answered=1,
        ...                   subscales=(), step=0.5)
        >>> half.on_step(2.5), half.on_step(2.25), half.on_step(0.1 + 0.2 + 2.2)
        (True, False, True)
        """
        step = self.answer_step
        if step is None:
            return True
        k = (value - self.min) / step
        return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))

    @property
    def warning(self):
        """Why this instrument's results cannot be defended as they stand, or None.

        An instrument whose ``key_status`` says ``placeholder`` (its scoring key
        has not been checked against the administered form) or ``example`` (not a
        published scale) gets a sentence naming it and saying how to replace it.

        Examples
        --------
        >>> Instrument(id="x", name="X", min=1, max=3, labels={}, scoring="mean", min_answered=1,
        ...            subscales=(), key_status="example").warning.split(":")[0]
        'X is an example instrument shipped with evalkit, not a published or validated scale'
        """
        status = str(self.key_status or "").strip().lower()
        how = (f"copy evalkit/data/instruments/{self.id}.yml, check it against the questionnaire you used, and "
               f"give its path as `instrument:` in the cohort config, then set its key_status to say it was checked") if self.source.startswith(
            _SHIPPED) else "correct the instrument file named by `instrument:` in the cohort config"
        if "placeholder" in status:
            return (f"{self.name} uses a placeholder scoring key (which items belong to which subscale, and which "
                    f"are reverse-scored, have not been checked against the published form): subscale results "
                    f"cannot be relied on until it is. To fix: {how}.")
        if status.startswith("example"):
            return (f"{self.name} is an example instrument shipped with evalkit, not a published or validated "
                    f"scale: its results show how the analysis works, not what a validated measure would find. "
                    f"To fix: {how}.")
        return None

    def higher_is(self, measure_id):
        """``"better"``, ``"worse"`` or None: what a higher score on ``measure_id`` means."""
        try:
            return self.measure(measure_id).higher_is
        except KeyError:
            return None

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
        One row per person and timepoint kept, ``pre`` and ``post`` only, and
        only the people of the intervention arm when the section names an
        ``arm`` column (everyone otherwise). Columns: ``id`` (cleaned text id),
        ``timepoint`` (``"pre"`` or ``"post"``), the factor columns present
        (``age`` as float, ``age_band``, ``delivery``, ``referral_reason``, ``site``
        as text), the person-level columns present (``group`` and
        ``facilitator`` as opaque codes ``G001``/``F001``... or missing,
        ``sessions`` as float, ``arm`` as ``"intervention"``/``"comparison"``),
        ``matched`` (the person has both pre and post), then one float column per
        measure id in ``measures`` (NaN when too few items were answered to
        score it).
    items : pandas.DataFrame
        Same rows as ``scores``: ``id``, ``timepoint``, then one float column per
        item id present in the data, reverse items already reversed
        (``min + max - value``), missing answers NaN.
    waves : pandas.DataFrame
        Same columns as ``scores``, for every kept person of every arm at every
        wave (``timepoint`` ``"pre"``, ``"post"`` or ``"follow_up"``), ordered by
        id then wave. When not given it is ``scores``.
    waves_items : pandas.DataFrame
        Same rows as ``waves``, the keyed items as in ``items``. When not given it
        is ``items``.
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
    waves: pd.DataFrame | None = None
    waves_items: pd.DataFrame | None = None

    def __post_init__(self):
        if self.waves is None:
            self.waves = self.scores
        if self.waves_items is None:
            self.waves_items = self.items

    @property
    def labels(self):
        """Mapping measure id -> label for the measures collected."""
        lab = self.instrument.measure_labels
        return {m: lab.get(m, m) for m in self.measures}
