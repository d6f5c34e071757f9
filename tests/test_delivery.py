"""Tests of evalkit.stats.delivery: fidelity pooled over sessions, Wilson intervals (R's prop.test and the closed
form), days to first session."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.stats.delivery import EMBEDDING_COLUMNS, IMPLEMENTATION_COLUMNS, embedding, implementation, wilson_interval


def test_wilson_closed_form():
    # Wilson (1927): (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n);
    # R 4.x: prop.test(7, 10, correct = FALSE)$conf.int -> 0.3967781475 0.8922087326
    k, n, z = 7, 10, stats.norm.ppf(0.975)
    p = k / n
    centre, half = p + z ** 2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2))
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(((centre - half) / (1 + z ** 2 / n), (centre + half) / (1 + z ** 2 / n)))
    assert (low, high) == pytest.approx((0.3967781475, 0.8922087326), abs=1e-9)


def test_fidelity_is_pooled_over_sessions_not_averaged_over_groups():
    s = pd.DataFrame({"group": ["a"] * 6 + ["b"] * 2, "site": ["Kent"] * 8, "session": [1, 2, 3, 4, 5, 6, 1, 2],
                      "attended": [6, 6, 5, 6, 4, 5, 3, 2], "core_1": [1] * 6 + [0, 0], "core_2": [1] * 6 + [1, 0]})
    res = implementation(s, fidelity=["core_1", "core_2"], planned_sessions=6, children_reached={"a": 7})
    assert list(res.columns) == IMPLEMENTATION_COLUMNS
    overall = res[res["level"] == "overall"].iloc[0]
    assert overall["fidelity_pct"] == pytest.approx(100 * 13 / 16)  # pooled; group average would be 62.5
    assert overall["mean_attended"] == pytest.approx(np.mean([6, 6, 5, 6, 4, 5, 3, 2]))
    assert overall["sessions_delivered"] == 8 and overall["sessions_planned"] == 12
    group_b = res[(res["level"] == "group") & (res["group"] == "b")].iloc[0]
    assert "fewer sessions than planned" in group_b["note"] and "fidelity under 80%" in group_b["note"]
    assert res[(res["level"] == "group") & (res["group"] == "a")].iloc[0]["children_reached"] == 7
    assert pd.isna(group_b["children_reached"])


def test_embedding_counts_windows_and_median():
    f = pd.DataFrame({"site": ["Kent", "Kent", "Kent", "Camden", "Camden"],
                      "trained_on": ["2025-09-01"] * 5,
                      "first_session": ["2025-12-01", "2025-12-02", None, "2026-03-01", "2026-03-02"]})
    res = embedding(f).set_index(["level", "site"])
    assert list(embedding(f).columns) == EMBEDDING_COLUMNS
    kent = res.loc[("site", "Kent")]
    # 2025-09-01 -> 2025-12-01 is 91 days (counts at 3 months), 2025-12-02 is 92 (does not)
    assert (kent["trained"], kent["delivering_3m"], kent["delivering_6m"]) == (3, 1, 2)
    assert kent["median_days_to_first_session"] == 91.5
    camden = res.loc[("site", "Camden")]  # 181 and 182 days: both within 6 months
    assert (camden["delivering_3m"], camden["delivering_6m"]) == (0, 2)
    overall = res.loc[("overall", "")]
    assert overall["delivering_6m"] == 4 and (overall["delivering_6m_ci_low"], overall["delivering_6m_ci_high"]) == \
        pytest.approx(wilson_interval(4, 5))


def test_columns_are_the_issue_13_contract():
    # issue 13, results/implementation.csv and results/embedding.csv, spelled as the issue spells them
    assert IMPLEMENTATION_COLUMNS == ["level", "site", "group", "sessions_delivered", "sessions_planned",
                                      "fidelity_pct", "mean_attended", "children_reached", "note"]
    assert EMBEDDING_COLUMNS == ["level", "site", "trained", "delivering_3m", "delivering_3m_ci_low",
                                 "delivering_3m_ci_high", "delivering_6m", "delivering_6m_ci_low",
                                 "delivering_6m_ci_high", "median_days_to_first_session", "note"]
