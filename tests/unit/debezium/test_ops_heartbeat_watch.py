"""A connector Connect calls RUNNING whose Debezium heartbeats stopped is failed, with why.

Debezium's PostgreSQL task retries a source it cannot reach and stays RUNNING; its
heartbeats on ``dbz.heartbeat`` stop. The watch (an injected ManualClock) fails it after
3 × ``heartbeat_s`` (at least 30 s), never during start-up before the first heartbeat within
the grace, and clears it as soon as heartbeats resume.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.debezium.heartbeat_watch import HeartbeatWatch, Limits, server_name
from streamhub.debezium.ops import Carried, ConnectStatus, Heartbeats
from streamhub.serde.avro_serde import AvroSerde

from ..capture.task_fakes import connector

RUNNING = ConnectStatus("RUNNING", ("RUNNING",))
PAUSED = ConnectStatus("PAUSED", ("PAUSED",))
SERVER = "dbz.xm-his"  # topic_prefix of task_fakes.connector()


class _Message:
    def __init__(self, key: bytes | None, error: object = None) -> None:
        self._key, self._error = key, error

    def key(self) -> bytes | None:
        return self._key

    def error(self) -> object:
        return self._error


class _Consumer:
    """dbz.heartbeat as a queue of keys (the watch only reads keys)."""

    def __init__(self) -> None:
        self.waiting: list[_Message] = []
        self.closed = False

    def beat(self, server: str = SERVER) -> None:
        payload = {"serverName": server}
        schema = {"type": "struct", "name": "io.debezium.connector.common.ServerNameKey"}
        self.waiting.append(_Message(json.dumps({"schema": schema, "payload": payload}).encode()))

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        batch, self.waiting = self.waiting[:num_messages], self.waiting[num_messages:]
        return batch

    def close(self) -> None:
        self.closed = True


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _: float) -> int:
        return 0

    def flush(self, _: float) -> int:
        return 0


def _beats(
    clock: ManualClock, statuses: list[ConnectStatus | None], heartbeat_s: float = 1.0
) -> tuple[Heartbeats, _Consumer]:
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://watch"}))
    writer = serde.register(
        "ops.heartbeat-value",
        load_schema(Settings().project_dir / "avro_schemas", "ops/heartbeat.avsc"),
    )
    config = connector(heartbeat_s=heartbeat_s)
    consumer = _Consumer()
    watch = HeartbeatWatch.for_connectors([config], consumer, clock)
    beats = Heartbeats(
        [(config, Carried())],
        _Producer(),  # type: ignore[arg-type]  # duck-typed confluent Producer
        serde,
        writer,
        lambda _: statuses[0] if len(statuses) == 1 else statuses.pop(0),
        clock,
        watch,
    )
    return beats, consumer


def test_limits_are_three_intervals_at_least_30_s_and_the_grace_at_least_300_s() -> None:
    assert Limits.of(1) == Limits(30, 300)
    assert Limits.of(20) == Limits(60, 300)
    assert Limits.of(200) == Limits(600, 600)
    assert Limits.of(5, factor=2, floor_s=5, startup_grace_s=20) == Limits(10, 20)


def test_server_name_from_a_debezium_heartbeat_key() -> None:
    assert server_name(b'{"schema": {}, "payload": {"serverName": "dbz.a"}}') == "dbz.a"
    assert server_name(b'{"serverName": "dbz.b"}') == "dbz.b"
    assert server_name(b"not json") is None and server_name(None) is None
    assert server_name(b'{"payload": {"other": 1}}') is None


def test_heartbeats_stopping_while_running_fail_it_then_resuming_recovers() -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, topic = _beats(clock, [RUNNING])
    topic.beat()
    assert beats.beat()[0]["state"] == "streaming"
    for _ in range(29):  # heartbeats stop: 30 s (the floor over 3 × 1 s) still tolerated
        clock.advance(1)
        record = beats.beat()[0]
    assert record["state"] == "streaming" and record["error"] is None
    clock.advance(15)
    record = beats.beat()[0]
    assert record["state"] == "failed"
    assert record["error"] == (
        "no Debezium heartbeat for 44 s while Connect reports RUNNING: "
        "the source database may be unreachable"
    )
    errors = record["errors_total"]
    clock.advance(5)
    later = beats.beat()[0]  # the same silence: counted once
    assert later["state"] == "failed" and later["errors_total"] == errors == 1
    assert "for 49 s" in later["error"]

    topic.beat()  # heartbeats resume
    clock.advance(1)
    assert beats.beat()[0]["state"] == "streaming"
    assert beats.beat()[0]["error"] is None


def test_no_alarm_during_start_up_before_the_first_heartbeat_within_the_grace() -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, topic = _beats(clock, [RUNNING])
    for _ in range(300):  # an initial snapshot: no heartbeat for 300 s
        assert beats.beat()[0]["state"] == "streaming"
        clock.advance(1)
    topic.beat()
    clock.advance(1)
    assert beats.beat()[0]["state"] == "streaming"


def test_no_first_heartbeat_past_the_grace_is_failed() -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, _ = _beats(clock, [RUNNING])
    assert beats.beat()[0]["state"] == "streaming"
    clock.advance(301)
    record = beats.beat()[0]
    assert record["state"] == "failed"
    assert record["error"].startswith("no Debezium heartbeat in 301 s since Connect reported")


def test_a_resumed_connector_gets_a_threshold_before_its_next_heartbeat() -> None:
    clock = ManualClock(1_800_000_000.0)
    statuses: list[ConnectStatus | None] = [RUNNING, PAUSED, RUNNING, RUNNING, RUNNING]
    beats, topic = _beats(clock, statuses)
    topic.beat()
    assert beats.beat()[0]["state"] == "streaming"
    clock.advance(600)  # paused for ten minutes: paused, not "silent"
    paused = beats.beat()[0]
    assert paused["state"] == "paused" and "PAUSED" in paused["error"]
    clock.advance(1)
    assert beats.beat()[0]["state"] == "streaming"  # resumed: the count starts again
    clock.advance(29)
    assert beats.beat()[0]["state"] == "streaming"
    clock.advance(2)
    assert beats.beat()[0]["state"] == "failed"


@pytest.mark.parametrize("status", [None, ConnectStatus("RUNNING", ("FAILED",), "boom")])
def test_connects_own_failure_keeps_connects_words(status: ConnectStatus | None) -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, _ = _beats(clock, [status])
    clock.advance(1_000)
    record = beats.beat()[0]
    assert record["state"] == "failed" and "Debezium heartbeat" not in record["error"]


def test_other_connectors_heartbeats_and_broken_messages_do_not_count() -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, topic = _beats(clock, [RUNNING])
    topic.beat()
    assert beats.beat()[0]["state"] == "streaming"
    for _ in range(40):
        clock.advance(1)
        topic.beat("dbz.another")
        topic.waiting.append(_Message(b'{"payload": {"serverName": "dbz.xm-his"}}', "error"))
        record = beats.beat()[0]
    assert record["state"] == "failed"


def test_the_watch_is_closed_when_heartbeats_stop() -> None:
    import threading

    clock = ManualClock(1_800_000_000.0)
    beats, topic = _beats(clock, [RUNNING])
    stop = threading.Event()
    stop.set()
    beats.run(stop, 1.0)
    assert topic.closed


def test_heartbeat_age_is_none_until_one_arrived() -> None:
    clock = ManualClock(1_800_000_000.0)
    beats, topic = _beats(clock, [RUNNING])
    assert beats.watch is not None
    beats.beat()
    assert beats.watch.heartbeat_age_s("xm-his") is None
    topic.beat()
    beats.beat()
    clock.advance(7)
    assert beats.watch.heartbeat_age_s("xm-his") == 7
    assert beats.watch.heartbeat_age_s("unknown") is None
