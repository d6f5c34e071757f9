"""Numbers only: statistics that take tidy DataFrames and return tidy DataFrames.

This wing imports neither :mod:`evalkit.data` nor :mod:`evalkit.report`.

- :mod:`~evalkit.stats.paired`: paired t and Wilcoxon tests, d_z, g_av, Bayes factor, Holm;
- :mod:`~evalkit.stats.change`: Jacobson & Truax reliable change;
- :mod:`~evalkit.stats.attrition`: completers against people lost to follow-up;
- :mod:`~evalkit.stats.items`: item response distributions;
- :mod:`~evalkit.stats.moderators`: mixed ANOVA (time x factor) and ANCOVA;
- :mod:`~evalkit.stats.reliability`: Cronbach's alpha, McDonald's omega, item statistics;
- :mod:`~evalkit.stats.multilevel`: intention-to-treat linear mixed model (people nested in groups);
- :mod:`~evalkit.stats.clustering`: ICC(1), design effect, cluster-robust interval;
- :mod:`~evalkit.stats.comparison`: intervention against comparison arm, baseline equivalence, attrition;
- :mod:`~evalkit.stats.dose`: change against sessions attended;
- :mod:`~evalkit.stats.delivery`: fidelity, reach and training that becomes practice;
- :mod:`~evalkit.stats.its`: interrupted time series of monthly rates;
- :mod:`~evalkit.stats.meta`: random-effects pooling across cohorts;
- :mod:`~evalkit.stats.power`: children to recruit, minimum detectable effect.
"""
import importlib
import sys
import types

#: Public name -> the module that defines it, imported on first use (PEP 562): a report kernel that needs
#: one constant of :mod:`~evalkit.stats.delivery` then does not import scipy.stats with every other module.
_WHERE = {
    "ATTRITION_COLUMNS": "attrition", "attrition": "attrition", "RELIABLE_CHANGE_COLUMNS": "change",
    "reliable_change": "change", "reliable_change_scores": "change", "CLUSTERING_COLUMNS": "clustering",
    "clustering": "clustering", "COMPARISON_COLUMNS": "comparison", "compare_arms": "comparison",
    "EMBEDDING_COLUMNS": "delivery", "IMPLEMENTATION_COLUMNS": "delivery", "embedding": "delivery",
    "implementation": "delivery", "DOSE_COLUMNS": "dose", "dose_response": "dose",
    "ITEM_DISTRIBUTION_COLUMNS": "items", "item_distributions": "items", "ITS_COLUMNS": "its",
    "interrupted_time_series": "its", "POOLED_COLUMNS": "meta", "pool_cohorts": "meta", "random_effects": "meta",
    "ANCOVA_COLUMNS": "moderators", "GROUP_MEANS_COLUMNS": "moderators", "MODERATOR_COLUMNS": "moderators",
    "ancova": "moderators", "group_means": "moderators", "moderators": "moderators",
    "INTENTION_TO_TREAT_COLUMNS": "multilevel", "intention_to_treat": "multilevel", "MIN_PAIRS": "paired",
    "PAIRED_COLUMNS": "paired", "TIMEPOINTS": "paired", "hedges_j": "paired", "holm": "paired",
    "paired_outcomes": "paired", "children_to_recruit": "power", "minimum_detectable_effect": "power",
    "ITEM_STATISTICS_COLUMNS": "reliability", "RELIABILITY_COLUMNS": "reliability",
    "item_statistics": "reliability", "measure_items": "reliability", "reliability": "reliability",
}
#: Functions named like their module: ``evalkit.stats.attrition`` is the function, as it always was, not the
#: module that the import system would otherwise bind to the package when it first imports the module.
_SAME_NAME = {name for name, module in _WHERE.items() if name == module}


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _SAME_NAME and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable as sys.modules["evalkit.stats.<name>"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "CLUSTERING_COLUMNS", "COMPARISON_COLUMNS", "DOSE_COLUMNS", "EMBEDDING_COLUMNS", "IMPLEMENTATION_COLUMNS",
    "INTENTION_TO_TREAT_COLUMNS", "ITS_COLUMNS", "POOLED_COLUMNS", "children_to_recruit", "clustering",
    "compare_arms", "dose_response", "embedding", "implementation", "interrupted_time_series",
    "intention_to_treat", "minimum_detectable_effect", "pool_cohorts", "random_effects",
    "ANCOVA_COLUMNS", "ATTRITION_COLUMNS", "GROUP_MEANS_COLUMNS", "ITEM_DISTRIBUTION_COLUMNS",
    "ITEM_STATISTICS_COLUMNS", "MIN_PAIRS", "MODERATOR_COLUMNS", "PAIRED_COLUMNS", "RELIABILITY_COLUMNS",
    "RELIABLE_CHANGE_COLUMNS", "TIMEPOINTS", "ancova", "attrition", "group_means", "hedges_j", "holm",
    "item_distributions", "item_statistics", "measure_items", "moderators", "paired_outcomes", "reliability",
    "reliable_change", "reliable_change_scores",
]
