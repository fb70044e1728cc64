"""Errors of driving Debezium on Kafka Connect: rendering configs, and Connect's answers.

Messages name the connector, the field and what to do; never a password (configs carry
only config-provider references) and never a row value.
"""

from __future__ import annotations

from collections.abc import Mapping

from streamhub.errors import StreamhubError


class DebeziumError(StreamhubError):
    """Driving Debezium on Kafka Connect failed."""


class RenderError(DebeziumError):
    """A connector file cannot be rendered to a Debezium config; fix the file."""

    exit_code = 2


class ConnectUnreachableError(DebeziumError):
    """The Kafka Connect worker's REST API did not answer."""


class ConnectRequestError(DebeziumError):
    """The Kafka Connect worker refused a request; its own message says why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectValidationError(DebeziumError):
    """Connect's validation of a connector config found errors: ``errors`` by field."""

    def __init__(self, connector: str, errors: Mapping[str, list[str]]) -> None:
        self.connector = connector
        self.errors = {field: list(messages) for field, messages in errors.items()}
        listed = "; ".join(f"{f}: {' '.join(m)}" for f, m in sorted(self.errors.items()))
        super().__init__(
            f"Kafka Connect refused connector {connector}'s config ({len(self.errors)} "
            f"field(s)): {listed}; fix the connector file or the source, then apply again"
        )
