"""evalkit: scrutiny-ready evaluation of the Healing Together programme.

Clean questionnaire exports, test child outcomes and facilitator confidence,
and render reproducible, offline, disclosure-controlled reports.
"""
__version__ = "0.1.0"

from .errors import ConfigError, DataError, EvalkitError, NotebookError  # noqa: E402

__all__ = ["ConfigError", "DataError", "EvalkitError", "NotebookError", "__version__"]
