"""Errors of the demo runner."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class DemoError(StreamhubError):
    """The demo could not run to its end (the package's root)."""


class WorkerError(DemoError):
    """A pipeline worker could not start or stopped; the message names its log file.

    ``worker`` is the worker's command (``standardize``, ``land`` …) when one is to blame."""

    def __init__(self, message: str, *, worker: str | None = None) -> None:
        super().__init__(message)
        self.worker = worker
