"""Connect's error text in a Debezium connector's heartbeat: one line, masked, cut."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.debezium.ops import (
    ERROR_CHARS,
    Carried,
    ConnectStatus,
    error_text,
    heartbeat_record,
)
from streamhub.serde.avro_serde import AvroSerde

from ..capture.task_fakes import connector

LEAKY = (
    "org.apache.kafka.connect.errors.ConnectException: Unable to connect: "
    "jdbc:postgresql://streamhub:s3cr3t-pw@10.0.0.5:5432/his password=hunter2\n"
    "\tat io.debezium.jdbc.JdbcConnection.connect(JdbcConnection.java:42)\n"
    "Caused by: database.password=hunter2"
)


def test_error_text_keeps_the_first_line_with_credentials_masked() -> None:
    text = error_text(LEAKY)
    assert text is not None
    assert "s3cr3t-pw" not in text and "hunter2" not in text
    assert text.startswith("org.apache.kafka.connect.errors.ConnectException: Unable to connect")
    assert "10.0.0.5:5432/his" in text and "\n" not in text and "JdbcConnection" not in text


def test_error_text_is_cut_and_empty_is_none() -> None:
    long = error_text("x" * 5_000)
    assert long is not None and len(long) == ERROR_CHARS and long.endswith("…")
    assert error_text(None) is None and error_text("  \n ") is None


@pytest.mark.parametrize(
    ("answer", "state", "error"),
    [
        (
            {"connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]},
            "streaming",
            None,
        ),
        (
            {"connector": {"state": "RUNNING"}, "tasks": [{"state": "FAILED", "trace": LEAKY}]},
            "failed",
            "org.apache.kafka.connect.errors.ConnectException: Unable to connect: "
            "jdbc:postgresql://streamhub:***@10.0.0.5:5432/his password=***",
        ),
        (
            {"connector": {"state": "PAUSED"}, "tasks": [{"state": "PAUSED"}]},
            "paused",
            "connector PAUSED, tasks: PAUSED",
        ),
        (None, "failed", "Kafka Connect does not run this connector (unreachable or unknown)"),
    ],
)
def test_the_heartbeat_carries_why_it_is_not_streaming(
    answer: dict[str, Any] | None, state: str, error: str | None
) -> None:
    status = None if answer is None else ConnectStatus.from_rest(answer)
    record = heartbeat_record(connector(), status, Carried(), 0, 1_800_000_000_000)
    assert (record["state"], record["error"]) == (state, error)
    # the record is the schema's, error included (an optional field: old readers skip it)
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://beats-error"}))
    writer = serde.register(
        "ops.heartbeat-value",
        load_schema(Settings().project_dir / "avro_schemas", "ops/heartbeat.avsc"),
    )
    assert serde.decode(serde.encode(writer, record)).value == record
