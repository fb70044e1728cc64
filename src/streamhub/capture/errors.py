"""Errors of the capture agent, each naming the connector and what to do."""

from streamhub.errors import StreamhubError


class CaptureError(StreamhubError):
    """Capture of a connector failed."""


class ConnectorConfigError(CaptureError):
    """A connector file is invalid; nothing was started for it."""

    exit_code = 2


class PreflightError(CaptureError):
    """The source is not set up for log-based capture (the message says what to change)."""


class SourceUnavailableError(CaptureError):
    """The source database cannot be reached or refused the replication connection."""


class UnrepresentableChangeError(CaptureError):
    """A source schema change cannot be expressed as a compatible Avro schema: the table stops."""


class PositionLostError(CaptureError):
    """The stored position is no longer in the source log (retention, slot dropped)."""


class SnapshotRequestError(CaptureError):
    """A re-snapshot request is malformed and was not sent (the message says what to fix)."""

    exit_code = 2


class SnapshotRejectedError(CaptureError):
    """The agent running the connector refused a re-snapshot request; ``reason`` says why."""

    def __init__(self, connector: str, request_id: str, reason: str) -> None:
        self.connector = connector
        self.request_id = request_id
        self.reason = reason
        super().__init__(
            f"connector {connector} refused re-snapshot request {request_id}: {reason}"
        )


class SnapshotTimeoutError(CaptureError):
    """No answer to a re-snapshot request in time: the connector may not be running."""

    def __init__(self, connector: str, request_id: str, timeout_s: float, topic: str) -> None:
        self.connector = connector
        self.request_id = request_id
        who = f"connector {connector}" if connector else "its connector"
        super().__init__(
            f"no answer to re-snapshot request {request_id} from {who} within {timeout_s:g}s "
            f"(signal topic {topic}): check that a capture agent runs {connector or 'it'} "
            "(`streamhub capture`, log event 'connector assigned') and its log for "
            "'targeted re-snapshot'; a request sent while the connector restarts is dropped, "
            "send it again"
        )


class UnknownEngineError(CaptureError):
    """No capture engine is registered under the connector's ``engine`` name."""

    def __init__(self, connector: str, engine: str, known: list[str]) -> None:
        self.connector = connector
        self.engine = engine
        super().__init__(
            f"connector {connector}: no capture engine named {engine!r}; "
            f"set engine to one of {', '.join(known)}"
        )


class DuplicateEngineError(CaptureError):
    """Two capture engines were registered under one name."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        super().__init__(f"capture engine {engine!r} is already registered")


class InvalidKeyError(CaptureError):
    """A requested key does not fit the table's primary key (the message says how).

    ``column`` names the key column whose value does not fit, when one does not."""

    def __init__(self, message: str, column: str | None = None) -> None:
        self.column = column
        super().__init__(message)


class DeliveryFailedError(CaptureError):
    """Kafka refused a message; the connector restarts from its last stored position."""

    def __init__(self, kafka_error: str) -> None:
        self.kafka_error = kafka_error
        super().__init__(
            f"Kafka did not accept a change: {kafka_error}; the connector restarts from its "
            "last stored position (check the broker: `streamhub stack status`)"
        )


class PositionStoreError(CaptureError):
    """The positions topic cannot be read or written."""


class UndecodableTextError(CaptureError):
    """Stored bytes that are not valid in a text column's codec (MariaDB/MySQL).

    Not fatal: the reader puts None in the row and sends ``raw`` to dlq.capture with
    ``reason``; ``codec`` and ``offset`` say which byte broke the decoding.
    """

    def __init__(self, raw: bytes, codec: str, offset: int) -> None:
        self.raw = raw
        self.codec = codec
        self.offset = offset
        self.reason = f"not valid {codec}: byte 0x{raw[offset]:02x} at offset {offset}"
        super().__init__(self.reason)
