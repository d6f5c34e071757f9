"""Numbers only: statistics that take tidy DataFrames and return tidy DataFrames.

This wing imports neither :mod:`evalkit.data` nor :mod:`evalkit.report`.

- :mod:`~evalkit.stats.paired`: paired t and Wilcoxon tests, d_z, g_av, Bayes factor, Holm;
- :mod:`~evalkit.stats.change`: Jacobson & Truax reliable change;
- :mod:`~evalkit.stats.attrition`: completers against people lost to follow-up;
- :mod:`~evalkit.stats.items`: item response distributions;
- :mod:`~evalkit.stats.moderators`: mixed ANOVA (time x factor) and ANCOVA;
- :mod:`~evalkit.stats.reliability`: Cronbach's alpha, McDonald's omega, item statistics.
"""
from .attrition import ATTRITION_COLUMNS, attrition
from .change import RELIABLE_CHANGE_COLUMNS, reliable_change, reliable_change_scores
from .items import ITEM_DISTRIBUTION_COLUMNS, item_distributions
from .moderators import ANCOVA_COLUMNS, GROUP_MEANS_COLUMNS, MODERATOR_COLUMNS, ancova, group_means, moderators
from .paired import MIN_PAIRS, PAIRED_COLUMNS, TIMEPOINTS, hedges_j, holm, paired_outcomes
from .reliability import ITEM_STATISTICS_COLUMNS, RELIABILITY_COLUMNS, item_statistics, measure_items, reliability

__all__ = [
    "ANCOVA_COLUMNS", "ATTRITION_COLUMNS", "GROUP_MEANS_COLUMNS", "ITEM_DISTRIBUTION_COLUMNS",
    "ITEM_STATISTICS_COLUMNS", "MIN_PAIRS", "MODERATOR_COLUMNS", "PAIRED_COLUMNS", "RELIABILITY_COLUMNS",
    "RELIABLE_CHANGE_COLUMNS", "TIMEPOINTS", "ancova", "attrition", "group_means", "hedges_j", "holm",
    "item_distributions", "item_statistics", "measure_items", "moderators", "paired_outcomes", "reliability",
    "reliable_change", "reliable_change_scores",
]
