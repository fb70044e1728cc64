"""Errors of the demo runner."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class WorkerError(StreamhubError):
    """A pipeline worker could not start or stopped; the message names its log file."""
