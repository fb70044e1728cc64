"""The lander's loop driven with a manual clock and fakes of Kafka, the registry, ClickHouse
and the outbox: what it inserts, sends and commits, and in which order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock, now_ms
from streamhub.core.identity import version_id
from streamhub.land.config import LanderConfig
from streamhub.land.errors import KafkaUnavailableError, LandingFailedError
from streamhub.land.lander import Lander
from streamhub.land.links import Links, OnPartitions
from streamhub.land.metrics import LandMetrics
from streamhub.serde.avro_serde import DecodedRecord
from streamhub.serde.errors import CorruptMessageError
from streamhub.serde.wire import MessageRef
from streamhub.standardize.model import Encounter
from tests.integration.land.helpers import record

TOPIC = "std.encounter"
CORRUPT = b"\x00not-avro"
Event = tuple[Any, ...]


class FakeMessage:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return f"k{self._offset}".encode()

    def value(self) -> bytes:
        return self._value


class FakeConsumer:
    """Hands out its messages, then nothing; waiting for more moves the manual clock."""

    def __init__(self, values: list[bytes], clock: ManualClock, events: list[Event]) -> None:
        self._pending = [FakeMessage(i, v) for i, v in enumerate(values)]
        self._clock, self._events = clock, events

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        taken, self._pending = self._pending[:num_messages], self._pending[num_messages:]
        if not taken:
            self._clock.advance(timeout)
        return taken

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert not asynchronous
        self._events.append(("commit", {(tp.topic, tp.partition): tp.offset for tp in offsets}))

    def close(self) -> None:
        self._events.append(("close",))


class FakeSerde:
    def __init__(self, records: dict[bytes, dict[str, Any]]) -> None:
        self._records = records

    def decode(self, data: bytes | memoryview, where: MessageRef | None = None) -> DecodedRecord:
        if bytes(data) not in self._records:
            raise CorruptMessageError(f"{where}: not a framed Avro message")
        return DecodedRecord(1, self._records[bytes(data)])


class FakeClickHouse:
    """Stores inserted rows; refuses a batch holding a refused record (as a CHECK constraint
    does), and fails the first ``outages`` inserts as a server that is down."""

    def __init__(self, events: list[Event], refuse: set[str], outages: int = 0) -> None:
        self._events, self._refuse, self.outages = events, refuse, outages
        self.stored: list[dict[str, Any]] = []
        self.attempts = 0

    def insert(
        self,
        table: str,
        data: list[list[Any]],
        column_names: list[str],
        column_oriented: bool,
    ) -> None:
        self.attempts += 1
        if self.outages:
            self.outages -= 1
            raise OperationalError("connection refused")
        rows = [dict(zip(column_names, row, strict=True)) for row in zip(*data, strict=True)]
        if any(row["record_id"] in self._refuse for row in rows):
            raise DatabaseError("Constraint `ok` is violated (VIOLATED_CONSTRAINT)", code=469)
        self.stored.extend(rows)
        self._events.append(("insert", table, len(rows)))

    def close(self) -> None:
        pass


class FakeOutbox:
    def __init__(self, events: list[Event], refuse_topic: str | None = None) -> None:
        self._events, self._refuse_topic = events, refuse_topic
        self.sent: dict[str, list[tuple[bytes | None, dict[str, Any]]]] = {}

    def send_all(
        self,
        writer: Any,
        topic: str,
        messages: list[tuple[bytes | None, dict[str, Any]]],
        timeout_s: float,
    ) -> None:
        if topic == self._refuse_topic:
            raise KafkaUnavailableError(f"{topic}: 1 message(s) not acknowledged")
        self.sent.setdefault(topic, []).extend(messages)
        self._events.append(("send", topic, len(messages)))

    def close(self) -> None:
        pass


class Harness:
    def __init__(
        self,
        records: list[dict[str, Any] | None],
        *,
        refuse: frozenset[str] = frozenset(),
        outages: int = 0,
        refuse_topic: str | None = None,
        retry_for_s: float = 60.0,
    ) -> None:
        self.clock = ManualClock()
        self.registry = CollectorRegistry()
        self.events: list[Event] = []
        values = [CORRUPT if r is None else f"v{i}".encode() for i, r in enumerate(records)]
        self.consumer = FakeConsumer(values, self.clock, self.events)
        self.serde = FakeSerde(
            {v: r for v, r in zip(values, records, strict=True) if r is not None}
        )
        self.client = FakeClickHouse(self.events, set(refuse), outages)
        self.outbox = FakeOutbox(self.events, refuse_topic)
        self.config = LanderConfig(
            bootstrap="kafka.invalid:9092",
            registry_url="http://registry.invalid",
            dsn="http://clickhouse.invalid:8123",
            database="db",
            group="g",
            avro_dir=Path("avro_schemas"),
            routes={TOPIC: "encounter"},
            until_idle_s=2.0,
            retry_for_s=retry_for_s,
        )

    def open(
        self, config: LanderConfig, clock: Any, on_assign: OnPartitions, on_revoke: OnPartitions
    ) -> Links:
        on_assign(cast(Any, self.consumer), [TopicPartition(TOPIC, 0)])
        return Links(
            client=cast(Any, self.client),
            consumer=cast(Any, self.consumer),
            serde=self.serde,
            outbox=self.outbox,
            dlq_writer=cast(Any, "dlq-writer"),
            counts_writer=cast(Any, "counts-writer"),
        )

    def lander(self) -> Lander:
        return Lander(
            self.config,
            progress_out=None,
            clock=self.clock,
            opener=self.open,
            metrics=LandMetrics.create(self.registry),
        )

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(f"streamhub_land_{name}", labels)

    def commits(self) -> list[dict[tuple[str, int], int]]:
        return [e[1] for e in self.events if e[0] == "commit"]


def encounters(n: int) -> Iterator[dict[str, Any]]:
    t0 = datetime(2026, 11, 25, 8, 1, 5, tzinfo=UTC)
    for i in range(n):
        rec = record(Encounter, f"e{i}", 10 + i, encounter_id=f"E{i}", commit_time=t0)
        yield rec.model_dump()


def test_commits_only_after_the_insert_and_the_acknowledged_counts_and_letters() -> None:
    h = Harness([*encounters(3), None])
    started_ms = now_ms(h.clock)
    stats = h.lander().run()

    kinds = [e[:2] for e in h.events]
    assert kinds == [
        ("insert", "std_encounter"),
        ("send", "dlq.land"),
        ("send", "ops.landed_counts"),
        ("commit", {(TOPIC, 0): 4}),
        ("close",),
    ]
    assert (stats.messages, stats.rows, stats.dead_letters, stats.batches) == (4, 3, 1, 1)
    assert [row["encounter_id"] for row in h.client.stored] == ["E0", "E1", "E2"]
    # the letter keeps the bytes as they were; times come from the lander's clock
    ((key, letter),) = h.outbox.sent["dlq.land"]
    assert key == b"k3" and letter["original_value"] == CORRUPT
    assert letter["error_type"] == "CorruptMessageError" and letter["stage"] == "land"
    ((_, counts),) = h.outbox.sent["ops.landed_counts"]
    assert counts["upserts"] == 3 and counts["landed_ts_ms"] == letter["failed_ts_ms"]
    assert counts["landed_ts_ms"] == started_ms + 200  # flushed when the batch was 200 ms old


def test_unacknowledged_counts_commit_nothing() -> None:
    h = Harness(list(encounters(3)), refuse_topic="ops.landed_counts")
    with pytest.raises(KafkaUnavailableError, match=r"ops\.landed_counts"):
        h.lander().run()
    assert h.client.stored and h.commits() == []


def test_a_transient_failure_is_retried_with_backoff_on_the_clock() -> None:
    h = Harness(list(encounters(2)), outages=2)
    stats = h.lander().run()
    assert h.clock.sleeps == [0.1, 0.2] and stats.retries == 2
    assert h.metric("errors_total", kind="transient") == 2
    assert h.metric("rows_total", entity="encounter") == 2
    assert len(h.client.stored) == 2 and h.commits() == [{(TOPIC, 0): 2}]


def test_a_lasting_failure_is_given_up_with_the_land_error_and_commits_nothing() -> None:
    h = Harness(list(encounters(2)), outages=1_000, retry_for_s=20.0)
    with pytest.raises(LandingFailedError, match=r"inserting into db\.std_encounter") as caught:
        h.lander().run()
    assert "nothing of the current batch was committed" in str(caught.value)
    assert isinstance(caught.value.__cause__, OperationalError)
    assert h.clock.sleeps[:4] == [0.1, 0.2, 0.4, 0.8] and max(h.clock.sleeps) == 5.0
    assert sum(h.clock.sleeps) <= 20.0 and h.commits() == []
    assert h.metric("errors_total", kind="fatal") == 1


def test_a_refused_row_is_bisected_out_to_a_dead_letter_and_the_rest_lands() -> None:
    batch = list(encounters(5))
    bad = batch[3]
    h = Harness(batch, refuse=frozenset({bad["record_id"]}))
    started_ms = now_ms(h.clock)
    stats = h.lander().run()

    assert [row["encounter_id"] for row in h.client.stored] == ["E0", "E1", "E2", "E4"]
    assert h.client.attempts > 2  # the whole batch, then halves until the row is alone
    assert (stats.rows, stats.dead_letters) == (4, 1)
    ((key, letter),) = h.outbox.sent["dlq.land"]
    assert key == b"k3" and letter["error_type"] == "DatabaseError"
    assert "VIOLATED_CONSTRAINT" in letter["reason"] and letter["reason"].startswith("encounter:")
    assert (
        letter["record_id"] == bad["record_id"]
        and letter["institution_id"] == bad["institution_id"]
    )
    assert letter["version"] == version_id(bad["record_id"], bad["source_position_seq"])
    assert letter["commit_ts_ms"] == int(bad["commit_time"].timestamp() * 1000)
    assert letter["failed_ts_ms"] >= started_ms
    ((_, counts),) = h.outbox.sent["ops.landed_counts"]
    assert counts["upserts"] == 4  # the refused row is not counted as landed
    assert h.commits() == [{(TOPIC, 0): 5}]
    assert h.metric("errors_total", kind="dead_letter") == 1
    assert h.metric("records_total", institution=bad["institution_id"]) == 4
