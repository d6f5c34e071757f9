"""Tests of evalkit.stats.power against statsmodels' power classes and published sample sizes."""
import math

import pytest
from statsmodels.stats.power import TTestIndPower, TTestPower

from evalkit.errors import ConfigError
from evalkit.stats.power import (achieved_power, check_plan, children_to_recruit, design_effect,
                                 minimum_detectable_effect)


def test_published_sample_sizes():
    # Cohen (1988) / G*Power: d = 0.5, alpha .05 two-sided, power .80 -> 64 per group (two groups);
    # paired d_z = 0.5 -> 34 pairs
    assert children_to_recruit("comparison", 0.5)["n_analysed"] == 64
    assert children_to_recruit("comparison", 0.5)["children"] == 128
    assert children_to_recruit("paired", 0.5)["n_analysed"] == 34


@pytest.mark.parametrize("design, effect", [("paired", 0.3), ("paired", 0.2), ("comparison", 0.3),
                                            ("comparison", 0.45)])
def test_smallest_whole_n_reaching_the_power(design, effect):
    res = children_to_recruit(design, effect, power=0.8)
    n = res["n_analysed"]
    if design == "paired":
        power = lambda k: TTestPower().power(effect, k, 0.05)  # noqa: E731
    else:
        power = lambda k: TTestIndPower().power(effect, k, 0.05, ratio=1.0)  # noqa: E731
    assert power(n) >= 0.8 > power(n - 1)


def test_clustering_and_attrition_inflate_as_the_issue_states():
    res = children_to_recruit("comparison", 0.3, icc=0.05, group_size=8, attrition=0.2)
    assert design_effect(0.05, 8) == pytest.approx(1.35)
    assert res["children"] == 2 * math.ceil(res["n_analysed"] * 1.35 / 0.8)
    assert res["per_arm"] == 297 and res["children"] == 594 and res["power_class"] == "TTestIndPower"


def test_minimum_detectable_effect_inverts_the_power():
    mde = minimum_detectable_effect("paired", 90)
    assert TTestPower().power(mde, 90, 0.05) == pytest.approx(0.8, abs=1e-6)
    mde = minimum_detectable_effect("comparison", 600, icc=0.05, group_size=8, attrition=0.2)
    assert TTestIndPower().power(mde, 600 / 2 * 0.8 / 1.35, 0.05, ratio=1.0) == pytest.approx(0.8, abs=1e-6)


def test_achieved_power_is_statsmodels_power():
    assert achieved_power("paired", 0.3, 90) == pytest.approx(TTestPower().power(0.3, 90, 0.05))
    assert achieved_power("comparison", 0.3, 176) == pytest.approx(TTestIndPower().power(0.3, 176, 0.05, ratio=1.0))


@pytest.mark.parametrize("kwargs, named", [
    ({"effect": 0}, "effect=0"), ({"effect": 0.3, "icc": 1}, "icc=1"), ({"effect": 0.3, "group_size": 0.5},
                                                                         "group_size=0.5"),
    ({"effect": 0.3, "attrition": 1}, "attrition=1"), ({"effect": 0.3, "power": 1}, "power=1"),
    ({"effect": 0.3, "alpha": 0}, "alpha=0"), ({"n": 1.5}, "n=1.5"), ({}, "give effect")])
def test_check_plan_names_the_argument(kwargs, named):
    with pytest.raises(ConfigError, match=named):
        check_plan("paired", **kwargs)
    with pytest.raises(ConfigError, match="design=x is not a design"):
        check_plan("x", effect=0.3)
