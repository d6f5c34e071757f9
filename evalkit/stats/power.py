"""Planning: children to recruit for a paired or two-arm design, with clustering and attrition; detectable effects."""
from __future__ import annotations

import math

import numpy as np

DESIGNS = ("paired", "comparison")


def _power_class(design):
    from statsmodels.stats.power import TTestIndPower, TTestPower

    return TTestPower() if design == "paired" else TTestIndPower()


def _power(cls, effect, n, alpha):
    """Power at ``n`` pairs (TTestPower) or ``n`` per arm (TTestIndPower, equal arms)."""
    if cls.__class__.__name__ == "TTestPower":
        return float(cls.power(effect_size=effect, nobs=n, alpha=alpha, alternative="two-sided"))
    return float(cls.power(effect_size=effect, nobs1=n, ratio=1.0, alpha=alpha, alternative="two-sided"))


def _solve_n(cls, effect, power, alpha):
    """Smallest whole n whose power reaches ``power`` (statsmodels' root, then checked either side)."""
    key = "nobs" if cls.__class__.__name__ == "TTestPower" else "nobs1"
    n = math.ceil(float(np.squeeze(cls.solve_power(effect_size=effect, alpha=alpha, power=power,
                                                   alternative="two-sided", **{key: None}))) - 1e-6)
    n = max(n, 2)
    while n > 2 and _power(cls, effect, n - 1, alpha) >= power:
        n -= 1
    while _power(cls, effect, n, alpha) < power:
        n += 1
    return n


def design_effect(icc=0.0, group_size=1):
    """Design effect of children in groups: ``1 + (group_size - 1) * icc``.

    Examples
    --------
    >>> design_effect(0.05, 8)
    1.35
    """
    return 1 + (group_size - 1) * icc


def children_to_recruit(design, effect, *, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05):
    """Children to recruit so that the analysis reaches ``power`` for a standardised ``effect``.

    Parameters
    ----------
    design : {"paired", "comparison"}
        ``paired``: one group measured before and after (effect is d_z; statsmodels ``TTestPower``).
        ``comparison``: two equal arms (effect is d; statsmodels ``TTestIndPower``).
    effect : float
        Standardised effect to detect.
    icc, group_size : float, int
        Clustering of children in delivery groups.
    attrition : float
        Share of recruited children expected to be lost before the follow-up (0 to < 1).
    power, alpha : float
        Two-sided test.

    Returns
    -------
    dict
        ``n_analysed`` (pairs, or children per arm: the smallest whole number reaching the power),
        ``children`` (the total to recruit = ceil(n x design effect / (1 - attrition)), over both arms
        for a comparison), ``design_effect`` and ``sentence`` (the calculation in words).

    Examples
    --------
    >>> children_to_recruit("paired", 0.3)["children"]
    90
    >>> children_to_recruit("comparison", 0.3, icc=0.05, group_size=8, attrition=0.2)["children"]
    594
    """
    cls = _power_class(design)
    n_whole = _solve_n(cls, effect, power, alpha)
    deff = design_effect(icc, group_size)
    per_unit = math.ceil(n_whole * deff / (1 - attrition) - 1e-9)
    arms = 2 if design == "comparison" else 1
    total = per_unit * arms
    unit = "pairs" if design == "paired" else "children per arm"
    sentence = (f"{n_whole} {unit} give {power:.0%} power to detect an effect of {effect:g} "
                f"(two-sided alpha {alpha:g}, statsmodels {cls.__class__.__name__}); times the design effect "
                f"{deff:.3g} (1 + ({group_size:g} - 1) x ICC {icc:g}) and divided by {1 - attrition:.3g} for "
                f"{attrition:.0%} attrition, that is {per_unit}" + (" per arm, " if arms == 2 else ", ")
                + f"so {total} children to recruit.")
    return {"n_analysed": n_whole, "children": total, "design_effect": deff, "sentence": sentence}


def minimum_detectable_effect(design, n, *, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05):
    """Smallest standardised effect that ``n`` recruited children can detect with ``power``.

    ``n`` is the total recruited (over both arms for a comparison); the analysed number is
    ``n x (1 - attrition) / design effect`` (per arm for a comparison).

    Examples
    --------
    >>> round(minimum_detectable_effect("paired", 90), 3)
    0.299
    """
    arms = 2 if design == "comparison" else 1
    analysed = n / arms * (1 - attrition) / design_effect(icc, group_size)
    if analysed < 2:
        return float("nan")
    cls = _power_class(design)
    key = "nobs" if design == "paired" else "nobs1"
    return float(np.squeeze(cls.solve_power(effect_size=None, alpha=alpha, power=power, alternative="two-sided",
                                            **{key: analysed})))
