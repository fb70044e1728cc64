"""Heartbeats of Debezium-captured sources: Kafka Connect's state of each connector, as the
agent's ``ops.heartbeat`` records that link health reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.debezium.ops import (
    Carried,
    ConnectStatus,
    Heartbeats,
    fetch_status,
    heartbeat_state,
)
from streamhub.serde.avro_serde import AvroSerde

from ..capture.task_fakes import connector

TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Could not connect to 127.0.0.1:5432"
    "\n\tat io.debezium..."
)
RUNNING = {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]}
FAILED = {
    "connector": {"state": "RUNNING"},
    "tasks": [{"id": 0, "state": "FAILED", "trace": TRACE}],
}


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (RUNNING, "streaming"),
        (FAILED, "failed"),
        ({"connector": {"state": "FAILED", "trace": TRACE}, "tasks": []}, "failed"),
        ({"connector": {"state": "PAUSED"}, "tasks": [{"state": "PAUSED"}]}, "paused"),
        ({"connector": {"state": "STOPPED"}, "tasks": []}, "paused"),
        ({"connector": {"state": "RUNNING"}, "tasks": []}, "paused"),
        ({"connector": {"state": "RUNNING"}, "tasks": [{"state": "UNASSIGNED"}]}, "paused"),
    ],
)
def test_connect_states_map_to_heartbeat_states(answer: dict[str, Any], state: str) -> None:
    assert heartbeat_state(ConnectStatus.from_rest(answer))[0] == state


def test_a_failed_task_says_connects_error_and_no_connect_is_failed() -> None:
    state, why = heartbeat_state(ConnectStatus.from_rest(FAILED))
    assert state == "failed" and why == TRACE.splitlines()[0]
    assert heartbeat_state(None)[0] == "failed"


class _Answer(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path, (404, b'{"error_code":404}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def connect_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    _Answer.answers = {"/connectors/xm-his/status": (200, json.dumps(FAILED).encode())}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_status_is_read_from_connects_rest_api(connect_url: str) -> None:
    status = fetch_status(connect_url, "xm-his")
    assert status == ConnectStatus("RUNNING", ("FAILED",), TRACE.splitlines()[0])
    assert fetch_status(connect_url, "unknown") is None  # 404: Connect does not run it
    assert fetch_status("http://127.0.0.1:9", "xm-his", timeout_s=1) is None  # nothing there


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _: float) -> int:
        return 0

    def flush(self, _: float) -> int:
        return 0


def test_heartbeats_carry_connects_state_and_what_was_carried() -> None:
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://beats"}))
    writer = serde.register(
        "ops.heartbeat-value",
        load_schema(Settings().project_dir / "avro_schemas", "ops/heartbeat.avsc"),
    )
    carried = Carried()
    carried.carried(1_772_440_200_000, "0/16B3748")
    carried.carried(1_772_440_100_000, "0/16B0000")  # an older commit does not move it back
    carried.rejected()
    answers = [ConnectStatus.from_rest(RUNNING), ConnectStatus.from_rest(FAILED), None]
    producer = _Producer()
    beats = Heartbeats(
        [(connector(), carried)],
        producer,  # type: ignore[arg-type]  # duck-typed confluent Producer
        serde,
        writer,
        lambda _: answers.pop(0),
        ManualClock(1_800_000_000.0),
    )
    records = [beats.beat()[0], beats.beat()[0], beats.beat()[0]]
    assert [r["state"] for r in records] == ["streaming", "failed", "failed"]
    first = records[0]
    assert (first["connector"], first["system"], first["engine"]) == ("xm-his", "his", "postgresql")
    assert first["events_total"] == 3 and first["errors_total"] == 1
    assert first["last_event_ts_ms"] == 1_772_440_200_000 and first["position"] == "0/16B3748"
    assert first["emitted_ts_ms"] == 1_800_000_000_000
    # each new failure counts once as an error: link health sees errors, then the failed state
    assert [r["errors_total"] for r in records] == [1, 2, 3]
    topic, key, value = producer.sent[0]
    assert topic == "ops.heartbeat" and json.loads(key) == {"connector": "xm-his"}
    assert serde.decode(value).value == first
