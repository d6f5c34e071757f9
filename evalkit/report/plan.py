"""``evalkit plan`` in words: children to recruit, or the smallest effect a number of children can detect."""
from __future__ import annotations

from ..stats.power import (achieved_power, analysed, check_plan, children_to_recruit, design_effect,
                           minimum_detectable_effect)

#: How the command line spells each argument of :func:`plan`, so that errors name the flag to change.
FLAGS = {"design": "--design", "effect": "--effect", "n": "--n", "icc": "--icc", "group_size": "--group-size",
         "attrition": "--attrition", "power": "--power", "alpha": "--alpha"}


def _clustering(icc, group_size, deff):
    if icc == 0 or group_size == 1:
        return "no clustering (design effect 1)"
    return f"the design effect {deff:.3g} (1 + ({group_size:g} − 1) × ICC {icc:g}) for children seen in groups"


def _chance(power):
    """The chance with its article, e.g. "an 80% chance"."""
    text = f"{power:.0%}"
    return f"{'an' if text.startswith('8') or text in ('11%', '18%') else 'a'} {text} chance"


def _lost(attrition):
    if attrition == 0:
        return "no child lost before the end"
    return f"{attrition:.0%} of children lost before the end (divide by {1 - attrition:.3g})"


def plan(design, *, effect=None, n=None, icc=0.0, group_size=1, attrition=0.0, power=0.8, alpha=0.05,
         flags=None):
    """The lines ``evalkit plan`` prints: the answer, then the calculation in one plain sentence.

    Parameters
    ----------
    design : {"paired", "comparison"}
        ``paired``: one group measured before and after; ``comparison``: a programme group against an
        equal comparison group.
    effect : float, optional
        Standardised effect to detect (d_z for paired, d for comparison): gives ``children to recruit: N``.
    n : int, optional
        Children recruited (over both groups for a comparison): gives ``minimum detectable effect: X``.
        With ``effect`` too, the sentence adds the power that ``n`` gives for ``effect``.
    icc, group_size, attrition, power, alpha : float
        As :func:`evalkit.stats.power.children_to_recruit`.
    flags : dict, optional
        How the caller spells each argument in error messages (default :data:`FLAGS`).

    Returns
    -------
    list of str
        Two lines: ``"children to recruit: N"`` (or ``"minimum detectable effect: X"``) and the sentence.

    Raises
    ------
    ConfigError
        An input outside its range, the message naming its flag and the fix (:func:`check_plan`).

    Examples
    --------
    >>> plan("paired", effect=0.3)[0]
    'children to recruit: 90'
    >>> plan("paired", n=90)[0]
    'minimum detectable effect: 0.299'
    """
    flags = FLAGS if flags is None else flags
    check_plan(design, effect=effect, n=n, icc=icc, group_size=group_size, attrition=attrition, power=power,
               alpha=alpha, names=flags)
    deff = design_effect(icc, group_size)
    test = "paired t test" if design == "paired" else "two-sample t test, equal groups"
    if n is None:
        res = children_to_recruit(design, effect, icc=icc, group_size=group_size, attrition=attrition,
                                  power=power, alpha=alpha)
        unit = "pairs (children answering before and after)" if design == "paired" else "children in each group"
        total = (f"{res['per_arm']} children in each of the two groups, {res['children']} in all"
                 if res["arms"] == 2 else f"{res['children']} children")
        sentence = (f"{res['n_analysed']} {unit} give {_chance(power)} of detecting an effect of {effect:g} "
                    f"({test}, two-sided alpha {alpha:g}, statsmodels {res['power_class']}); allowing for "
                    f"{_clustering(icc, group_size, deff)} and {_lost(attrition)} gives {total} to recruit.")
        return [f"children to recruit: {res['children']}", sentence]
    mde = minimum_detectable_effect(design, n, icc=icc, group_size=group_size, attrition=attrition, power=power,
                                    alpha=alpha)
    left = analysed(design, n, icc=icc, group_size=group_size, attrition=attrition)
    if mde != mde:
        from ..errors import ConfigError

        unit = "pairs" if design == "paired" else "children per group"
        raise ConfigError(f"{flags['n']} {n} leaves fewer than 2 {unit} "
                          f"to analyse after attrition and clustering: recruit more children (raise {flags['n']})")
    unit = "pairs" if design == "paired" else "children per group"
    sentence = (f"{n} children recruited{' over both groups' if design == 'comparison' else ''}, with "
                f"{_lost(attrition)} and allowing for {_clustering(icc, group_size, deff)}, count as "
                f"{left:.1f} {unit}, which detect an effect of {mde:.3f} or larger with {_chance(power)} "
                f"({test}, two-sided alpha {alpha:g}, statsmodels "
                f"{'TTestPower' if design == 'paired' else 'TTestIndPower'})")
    if effect is not None:
        chance = achieved_power(design, effect, left, alpha=alpha)
        sentence += f"; an effect of {effect:g} would be detected with {_chance(chance)}"
    return [f"minimum detectable effect: {mde:.3f}", sentence + "."]
