"""Errors of the shared parts."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class CoreError(StreamhubError):
    """Base of the shared parts' errors."""


class RetriesExhaustedError(CoreError):
    """Every attempt failed; ``__cause__`` is the last failure. A stage turns it into its own
    error saying what to do."""

    def __init__(self, what: str, attempts: int, last: Exception) -> None:
        super().__init__(f"{what}: failed {attempts} time(s), last: {last}")
        self.what = what
        self.attempts = attempts
        self.last = last


class MetricNameError(CoreError):
    """A metric name or label breaks the naming rule; a programming error caught in tests."""
