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
