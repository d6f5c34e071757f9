"""Planning: children to recruit for a paired or two-arm design, with clustering and attrition; detectable effects."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

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


def check_plan(design, *, effect=None, n=None, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05,
               names=None):
    """Check a plan's inputs; raise one clear error naming the first bad one and how to fix it.

    Parameters
    ----------
    design : str
        ``"paired"`` or ``"comparison"``.
    effect, n : float or int, optional
        Standardised effect to detect (above 0), or children recruited (a whole number, 2 or more).
    icc, group_size, attrition, power, alpha : float
        ICC in [0, 1), group size 1 or more, attrition in [0, 1), power and alpha in (0, 1).
    names : dict, optional
        How the user spelled each argument (``{"group_size": "--group-size", ...}``); default the
        argument's own name.

    Raises
    ------
    ConfigError
        The first input outside its range, e.g. ``--icc 1.2 is not an intra-class correlation: give a
        value from 0 up to (not including) 1, e.g. --icc 0.05``.

    Examples
    --------
    >>> check_plan("paired", effect=0.3, icc=0.05, group_size=8)
    >>> check_plan("paired", effect=0, names={"effect": "--effect"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.ConfigError: --effect 0 is not a standardised effect to detect: give a number above 0, ...
    """
    names = {**{key: key for key in ("design", "effect", "n", "icc", "group_size", "attrition", "power", "alpha")},
             **(names or {})}
    flag = names.get
    joiner = " " if any(str(v).startswith("-") for v in names.values()) else "="

    examples = {"effect": "0.3", "n": "120", "icc": "0.05", "group_size": "8", "attrition": "0.2", "power": "0.8",
                "alpha": "0.05"}

    def bad(key, value, what, fix):
        raise ConfigError(f"{flag(key)}{joiner}{value:g} is not {what}: give {fix}, e.g. "
                          f"{flag(key)}{joiner}{examples[key]}")

    if design not in DESIGNS:
        raise ConfigError(f"{flag('design')}{joiner}{design} is not a design evalkit can plan: give "
                          f"{' or '.join(DESIGNS)} (paired: one group measured before and after; comparison: "
                          f"a programme group against an equal comparison group)")
    numbers = {"effect": effect, "n": n, "icc": icc, "group_size": group_size, "attrition": attrition,
               "power": power, "alpha": alpha}
    for key, value in numbers.items():
        if value is not None and not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
            raise ConfigError(f"{flag(key)}{joiner}{value} is not a number: give a finite number, e.g. "
                              f"{flag(key)}{joiner}{examples[key]}")
    if effect is None and n is None:
        raise ConfigError(f"give {flag('effect')} (the effect to detect, for the children to recruit) or "
                          f"{flag('n')} (the children recruited, for the minimum detectable effect)")
    if effect is not None and effect <= 0:
        bad("effect", effect, "a standardised effect to detect", "a number above 0")
    if n is not None and (n < 2 or n != int(n)):
        bad("n", n, "a number of children recruited", "a whole number, 2 or more")
    if not 0 <= icc < 1:
        bad("icc", icc, "an intra-class correlation", "a value from 0 up to (not including) 1")
    if group_size < 1:
        bad("group_size", group_size, "a group size", "1 or more children per group (1 when children are not "
            "seen in groups)")
    if not 0 <= attrition < 1:
        bad("attrition", attrition, "a share of children lost", "a share from 0 up to (not including) 1")
    if not 0 < power < 1:
        bad("power", power, "a power", "a probability between 0 and 1")
    if not 0 < alpha < 1:
        bad("alpha", alpha, "a significance level", "a probability between 0 and 1")


def analysed(design, n, *, icc=0.0, group_size=1, attrition=0.0):
    """Pairs (paired) or children per arm (comparison) that ``n`` recruited children leave for the analysis,
    as effective independent observations: ``n / arms x (1 - attrition) / design effect``.

    Examples
    --------
    >>> analysed("comparison", 600, icc=0.05, group_size=8, attrition=0.2)  # doctest: +ELLIPSIS
    177.77...
    """
    arms = 2 if design == "comparison" else 1
    return n / arms * (1 - attrition) / design_effect(icc, group_size)


def achieved_power(design, effect, n_analysed, *, alpha=0.05):
    """Power of the two-sided test at ``n_analysed`` pairs (paired) or children per arm (comparison).

    Examples
    --------
    >>> round(achieved_power("paired", 0.3, 90), 3)
    0.804
    """
    return _power(_power_class(design), effect, n_analysed, alpha)


def children_to_recruit(design, effect, *, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05):
    """Children to recruit so that the analysis reaches ``power`` for a standardised ``effect``.

    Parameters
    ----------
    design : {"paired", "comparison"}
        ``paired``: one group measured before and after (effect is d_z; statsmodels ``TTestPower``).
        ``comparison``: two equal arms (effect is d; statsmodels ``TTestIndPower``).
    effect : float
        Standardised effect to detect (above 0).
    icc, group_size : float, int
        Clustering of children in delivery groups (ICC in [0, 1), group size 1 or more).
    attrition : float
        Share of recruited children expected to be lost before the follow-up (0 to < 1).
    power, alpha : float
        Two-sided test.

    Returns
    -------
    dict
        ``n_analysed`` (pairs, or children per arm: the smallest whole number reaching the power),
        ``per_arm`` (children to recruit per arm, or in all for a paired design:
        ceil(n_analysed x design effect / (1 - attrition))), ``children`` (the total to recruit, over both
        arms for a comparison), ``design_effect``, ``arms`` and ``power_class`` (the statsmodels class used).

    Raises
    ------
    ConfigError
        An input outside its range (see :func:`check_plan`).

    Notes
    -----
    ``children = arms x ceil(n x (1 + (group_size - 1) x icc) / (1 - attrition))``, with ``n`` the smallest
    whole number whose power (statsmodels, two-sided, noncentral t) reaches ``power``.

    Examples
    --------
    >>> children_to_recruit("paired", 0.3)["children"]
    90
    >>> children_to_recruit("comparison", 0.3, icc=0.05, group_size=8, attrition=0.2)["children"]
    594
    """
    check_plan(design, effect=effect, icc=icc, group_size=group_size, attrition=attrition, power=power, alpha=alpha)
    cls = _power_class(design)
    n_whole = _solve_n(cls, effect, power, alpha)
    deff = design_effect(icc, group_size)
    per_arm = math.ceil(n_whole * deff / (1 - attrition) - 1e-9)
    arms = 2 if design == "comparison" else 1
    return {"n_analysed": n_whole, "per_arm": per_arm, "children": per_arm * arms, "design_effect": deff,
            "arms": arms, "power_class": cls.__class__.__name__}


def minimum_detectable_effect(design, n, *, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05):
    """Smallest standardised effect that ``n`` recruited children can detect with ``power``.

    ``n`` is the total recruited (over both arms for a comparison); the analysed number is
    ``n x (1 - attrition) / design effect`` (per arm for a comparison, see :func:`analysed`).
    NaN when fewer than 2 remain.

    Examples
    --------
    >>> round(minimum_detectable_effect("paired", 90), 3)
    0.299
    """
    left = analysed(design, n, icc=icc, group_size=group_size, attrition=attrition)
    if left < 2:
        return float("nan")
    cls = _power_class(design)
    key = "nobs" if design == "paired" else "nobs1"
    return float(np.squeeze(cls.solve_power(effect_size=None, alpha=alpha, power=power, alternative="two-sided",
                                            **{key: left})))
