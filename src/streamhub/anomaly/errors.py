"""Errors of the traffic-anomaly stage."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class AnomalyError(StreamhubError):
    """Base of the errors the anomaly detector raises."""


class InvalidRecordError(AnomalyError):
    """An ops.source_counts or ops.heartbeat record lacks a field the detector needs.

    The record came from a capture agent whose schema is older than this detector, so
    upgrade the agent; ``connector`` and ``field`` say which and what.
    """

    def __init__(self, connector: str, field: str) -> None:
        self.connector = connector
        self.field = field
        super().__init__(
            f"record from connector {connector!r} has no {field!r}; "
            "the capture agent's schema is older than the anomaly detector: upgrade it"
        )


class InvalidSuppressionError(AnomalyError):
    """A maintenance window or acknowledgement is malformed (e.g. it ends before it starts)."""


class HistoryReadError(AnomalyError):
    """Kafka could not be read back (the warm start's replay, `anomaly show`)."""


class SuppressionLogError(AnomalyError):
    """The suppressions topic could not be created, read or written; nothing was changed."""


class UnknownAnomalyError(AnomalyError):
    """An acknowledgement names an anomaly id that ops.anomaly does not hold."""

    def __init__(self, anomaly_id: str, since: str) -> None:
        self.anomaly_id = anomaly_id
        super().__init__(
            f"no anomaly {anomaly_id} in ops.anomaly over the last {since}; list them with "
            "`streamhub anomaly show --open`"
        )


class PublishError(AnomalyError):
    """Anomaly events could not be delivered to ops.anomaly (``topic``)."""

    def __init__(self, message: str, *, topic: str, undelivered: int) -> None:
        self.topic = topic
        self.undelivered = undelivered
        super().__init__(message)


class GroupOffsetsError(AnomalyError):
    """The warm start could not set its consumer group's offsets where the replay stopped."""

    def __init__(self, group: str, cause: Exception) -> None:
        self.group = group
        super().__init__(
            f"cannot set group {group}'s offsets ({cause}); is another "
            "`streamhub anomaly run` in that group? Only one may run per group"
        )


class SnapshotError(AnomalyError):
    """A detector snapshot could not be written, read or restored (the warm start then
    replays ``--history`` instead, and says why)."""
