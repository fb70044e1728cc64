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
