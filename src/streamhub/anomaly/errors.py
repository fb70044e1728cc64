"""Errors of the traffic-anomaly stage."""

from streamhub.errors import StreamhubError


class AnomalyError(StreamhubError):
    """Base of the errors the anomaly detector raises."""


class InvalidRecordError(AnomalyError):
    """An ops.source_counts or ops.heartbeat record lacks a field the detector needs.

    The message names the record's connector and the missing field; the record came
    from a capture agent whose schema is older than this detector, so upgrade the agent.
    """


class InvalidSuppressionError(AnomalyError):
    """A maintenance window or acknowledgement is malformed (e.g. it ends before it starts)."""


class HistoryReadError(AnomalyError):
    """Kafka could not be read back (the warm start's replay, `anomaly show`)."""


class SuppressionLogError(AnomalyError):
    """The suppressions topic could not be created, read or written; nothing was changed."""


class UnknownAnomalyError(AnomalyError):
    """An acknowledgement names an anomaly id that ops.anomaly does not hold."""


class PublishError(AnomalyError):
    """Anomaly events could not be delivered to ops.anomaly."""
