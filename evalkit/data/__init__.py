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
import importlib

#: Public name -> the module that defines it. Imported on first use (PEP 562), so that a report
#: kernel, which only reads a config, does not import pandera and pydantic with the cleaning code.
_WHERE = {
    "accounting": "cleaning", "action_counts": "cleaning", "clean_section": "cleaning", "read_section": "cleaning",
    "score": "cleaning", "load_config": "config", "load_instrument": "instruments", "parse_instrument": "instruments",
    "read_table": "io", "prepare_cohort": "pipeline", "write_cleaning_results": "pipeline",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
