"""Read, validate, clean and score: from a cohort config and its exports to tidy, scored sections.

This wing imports neither :mod:`evalkit.stats` nor :mod:`evalkit.report`.

- :mod:`~evalkit.data.io`: readers (CSV, XLSX, SPSS);
- :mod:`~evalkit.data.config`: the cohort config contract;
- :mod:`~evalkit.data.instruments`: instrument loader and the shipped instrument YAMLs;
- :mod:`~evalkit.data.headers`: headers matched to roles and items (by id, question text, wide pattern);
- :mod:`~evalkit.data.layouts`: long, wide and per-timepoint files as one questionnaire per row; ages
  from dates of birth;
- :mod:`~evalkit.data.cohort`: the instrument and section containers;
- :mod:`~evalkit.data.validation`: pandera schemas, every problem at once;
- :mod:`~evalkit.data.cleaning`: cleaning rules, log and accounting; scoring;
- :mod:`~evalkit.data.pipeline`: config -> cleaned, scored sections.
"""
from .cleaning import accounting, action_counts, clean_section, read_section, score
from .config import load_config
from .instruments import load_instrument, parse_instrument
from .io import read_table
from .pipeline import prepare_cohort, write_cleaning_results

__all__ = ["accounting", "action_counts", "clean_section", "load_config", "load_instrument",
           "parse_instrument", "prepare_cohort", "read_section", "read_table", "score",
           "write_cleaning_results"]
