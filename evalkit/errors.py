"""One exception family for everything a user can cause, with messages that say how to fix it."""
from __future__ import annotations


class EvalkitError(Exception):
    """Base class for every problem a user can cause (bad config, bad data, failed notebook).

    The CLI prints ``str(error)`` without a traceback and exits with ``exit_code``.

    Parameters
    ----------
    message : str
        What went wrong and how to fix it.
    file : str, optional
        The file the problem is in.
    column : str, optional
        The column (or config key) the problem is in.
    expected : str, optional
        What was expected there.
    shareable : str, optional
        The same message without any value quoted from a data file, for pages that are shared (the
        batch index); defaults to the message itself, which then must quote none.
    """

    exit_code = 2

    def __init__(self, message, *, file=None, column=None, expected=None, shareable=None):
        self.message = message
        self.file = None if file is None else str(file)
        self.column = column
        self.expected = expected
        super().__init__(self._render())
        self.shareable = self._render(shareable) if shareable is not None else str(self)

    def _render(self, message=None):
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = self.message if message is None else message
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.expected:
            text = f"{text} (expected {self.expected})"
        return text


class ConfigError(EvalkitError):
    """The cohort config or an instrument file is wrong."""


class DataError(EvalkitError):
    """A data file cannot be used (missing, unreadable, required column absent, no usable rows)."""


class NotebookError(EvalkitError):
    """A report notebook failed while executing."""

    exit_code = 1
