"""What people see: results tables, notebook calls, findings, figures, privacy and rendered pages.

Imports :mod:`evalkit.stats` and :mod:`evalkit.data`, never the commands above it.

- :mod:`~evalkit.report.analysis`: every results table of a section, written as CSV;
- :mod:`~evalkit.report.findings`: plain-English sentences;
- :mod:`~evalkit.report.notebook`: one call per notebook section (``import evalkit.notebook as ek``);
- :mod:`~evalkit.report.plots`: figures (computation apart from drawing);
- :mod:`~evalkit.report.privacy`: pseudonyms, small-count suppression, identifier scan;
- :mod:`~evalkit.report.render`: offline HTML pages and the index.
"""
