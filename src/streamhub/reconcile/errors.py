"""Errors of the reconcile stage; each names the institution, table or window to look at."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class ReconcileError(StreamhubError):
    """Base of the reconcile stage's errors."""


class WindowShapeError(ReconcileError):
    """A counts record's window is not the reconciler's (length or alignment)."""


class AmbiguousTableError(ReconcileError):
    """A record names a table without its database and the institution has several."""


class SnapshotFormatError(ReconcileError):
    """A stored reconciler snapshot cannot be read by this version."""


class RegistryUnreachableError(ReconcileError):
    """The schema registry stayed unreachable while an input waited to be decoded; the
    worker exits (without acking) and rebuilds its state from Kafka when restarted."""

    def __init__(self, topic: str, partition: int, offset: int, attempts: int) -> None:
        super().__init__(
            f"schema registry unreachable: {topic}[{partition}]@{offset} could not be decoded "
            f"after {attempts} attempt(s); exiting, the state is rebuilt from Kafka on restart "
            "— check that the registry at the registry_url setting answers"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.attempts = attempts


class StateTopicError(ReconcileError):
    """The reconcile state topic (checkpoints) could not be created or written."""


class RebuildError(ReconcileError):
    """The app could not rebuild its state from Kafka at start; nothing was committed."""

    def __init__(self, message: str, *, group: str) -> None:
        super().__init__(message)
        self.group = group  # the app's consumer group whose offsets could not be set


class TimeFormatError(ReconcileError):
    """A time or duration the operator typed is not in a form streamhub reads."""


class TableNotFoundError(ReconcileError):
    """No raw change of the institution names the table (or several databases hold it)."""

    def __init__(self, message: str, *, institution: str, table: str, window_start_ms: int) -> None:
        super().__init__(message)
        self.institution = institution
        self.table = table  # the name as the operator gave it
        self.window_start_ms = window_start_ms


class RepairTimeoutError(ReconcileError):
    """Re-read rows did not land within the timeout: is the lander running and keeping up?"""

    def __init__(
        self,
        message: str,
        *,
        institution: str,
        table: str,
        window_start_ms: int,
        not_landed: int,
    ) -> None:
        super().__init__(message)
        self.institution = institution
        self.table = table  # database.[schema.]table
        self.window_start_ms = window_start_ms
        self.not_landed = not_landed  # re-read rows the lander has not reported yet
