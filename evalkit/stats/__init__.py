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
from .attrition import ATTRITION_COLUMNS, attrition
from .clustering import CLUSTERING_COLUMNS, clustering
from .comparison import COMPARISON_COLUMNS, compare_arms
from .delivery import EMBEDDING_COLUMNS, IMPLEMENTATION_COLUMNS, embedding, implementation
from .dose import DOSE_COLUMNS, dose_response
from .its import ITS_COLUMNS, interrupted_time_series
from .meta import POOLED_COLUMNS, pool_cohorts, random_effects
from .multilevel import INTENTION_TO_TREAT_COLUMNS, intention_to_treat
from .power import children_to_recruit, minimum_detectable_effect
from .change import RELIABLE_CHANGE_COLUMNS, reliable_change, reliable_change_scores
from .items import ITEM_DISTRIBUTION_COLUMNS, item_distributions
from .moderators import ANCOVA_COLUMNS, GROUP_MEANS_COLUMNS, MODERATOR_COLUMNS, ancova, group_means, moderators
from .paired import MIN_PAIRS, PAIRED_COLUMNS, TIMEPOINTS, hedges_j, holm, paired_outcomes
from .reliability import ITEM_STATISTICS_COLUMNS, RELIABILITY_COLUMNS, item_statistics, measure_items, reliability

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
