"""Errors of the normalizing step (Debezium change events → the agent's ``cdc.raw.*`` envelopes).

An :class:`EventError` is about one event: it becomes a dead letter on ``dlq.capture`` naming
the topic, offset and what to do; the normalizer goes on with the next event. Messages name
fields and types, never row values (rows hold personal data in clear).
"""

from streamhub.errors import StreamhubError


class NormalizeError(StreamhubError):
    """The Debezium normalizer cannot run (configuration, topics, registry)."""


class EventError(NormalizeError):
    """One Debezium event cannot be carried as a change envelope; it is dead-lettered."""

    error_type = "DebeziumEventError"


class UndecodableValueError(EventError):
    """A column value does not match the type its Connect schema names."""

    error_type = "DebeziumUndecodableValue"


class UnsupportedEventError(EventError):
    """An event the envelope has no meaning for (truncate, logical message, no row image)."""

    error_type = "DebeziumUnsupportedEvent"


class PositionError(EventError):
    """The event's log position is missing or does not fit the envelope's version."""

    error_type = "DebeziumPositionError"
