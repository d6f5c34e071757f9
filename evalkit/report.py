"""``evalkit report``: clean, analyse and write results (notebooks and HTML are added on top)."""
from __future__ import annotations

from pathlib import Path

from .pipeline import prepare_cohort, write_cleaning_results


def report(config, *, out_dir, force=False, jobs=None, notebooks=True):
    """Write a cohort's results (and, when available, its notebooks and HTML) to ``out_dir``.

    Parameters
    ----------
    config : str or pathlib.Path
        Cohort config.
    out_dir : str or pathlib.Path
        Output folder; ``results/`` is created inside it.

    Returns
    -------
    list of pathlib.Path
        Files written.
    """
    cohort = prepare_cohort(config)
    return write_cleaning_results(cohort, Path(out_dir) / "results")
