"""``import evalkit.notebook as ek``: the report notebooks' calls, which live in :mod:`evalkit.report.notebook`.

This name is an alias of that module (not a copy), so ``evalkit.notebook.x is evalkit.report.notebook.x``.
"""
import sys

from .report import notebook as _notebook

sys.modules[__name__] = _notebook
