"""The lander's two buffers: std.* topics flush after ``flush_ms``, the ops topics after
``ops_flush_ms``, each flush inserting, sending and committing only its own buffer's rows
and offsets; stop, idle exit and revoke flush both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka import TopicPartition

from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.land.config import LanderConfig
from streamhub.land.errors import LanderConfigError
from streamhub.land.lander import Lander
from tests.unit.land.test_lander import Event, FakeSerde, Harness, encounters

STD, OPS = "std.encounter", "ops.landed_counts"
COUNTS = {  # an ops.landed_counts record (the lander lands its own counts like any ops topic)
    "institution_id": "h01",
    "system": "his",
    "table": "public.visit",
    "entity": "encounter",
    "window_start_ms": 60_000,
    "window_ms": 60_000,
    "upserts": 2,
    "deletes": 0,
    "landed_ts_ms": 1,
}


class Message:
    def __init__(self, topic: str, offset: int) -> None:
        self._topic, self._offset = topic, offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return f"{self._topic}-{self._offset}".encode()

    def value(self) -> bytes:
        return f"{self._topic}@{self._offset}".encode()


Step = list[Message] | Callable[[], None]


class ScriptedConsumer:
    """Each poll takes the next step (messages to hand out, or an action such as a revoke);
    a poll with nothing to hand out moves the manual clock by its timeout."""

    def __init__(self, steps: list[Step], clock: ManualClock, events: list[Event]) -> None:
        self.steps, self._clock, self._events = steps, clock, events

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        if self.steps:
            step = self.steps.pop(0)
            if isinstance(step, list):
                return step
            step()
        self._clock.advance(timeout)
        return []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert not asynchronous
        commit = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self._events.append(("commit", commit, self._clock.monotonic()))

    def close(self) -> None:
        self._events.append(("close",))


class TimedClickHouse:
    """Stores inserted rows per table and when; fails every insert into ``down`` as a server
    that is unreachable."""

    def __init__(self, events: list[Event], clock: ManualClock, down: str | None = None) -> None:
        self._events, self._clock, self._down = events, clock, down
        self.stored: dict[str, list[dict[str, Any]]] = {}

    def insert(
        self, table: str, data: list[list[Any]], column_names: list[str], column_oriented: bool
    ) -> None:
        if table.endswith(f".{self._down}") or table == self._down:
            raise OperationalError("connection refused")
        rows = [dict(zip(column_names, row, strict=True)) for row in zip(*data, strict=True)]
        self.stored.setdefault(table, []).extend(rows)
        self._events.append(("insert", table, len(rows), self._clock.monotonic()))

    def close(self) -> None:
        pass


def harness(steps: list[Step], *, down: str | None = None, **config: Any) -> Harness:
    h = Harness([])
    h.consumer = cast(Any, ScriptedConsumer(steps, h.clock, h.events))
    values = {m.value(): m for step in steps if isinstance(step, list) for m in step}
    std_records = iter(encounters(len(values)))
    h.serde = FakeSerde(
        {v: (next(std_records) if m.topic() == STD else dict(COUNTS)) for v, m in values.items()}
    )
    h.client = cast(Any, TimedClickHouse(h.events, h.clock, down))
    routes = {STD: "encounter", OPS: "ops_landed_counts"}
    h.config = h.config.model_copy(update={"routes": routes, **config})
    return h


def inserts(h: Harness) -> list[tuple[str, int, float]]:
    return [(e[1], e[2], e[3]) for e in h.events if e[0] == "insert"]


def commits(h: Harness) -> list[tuple[dict[tuple[str, int], int], float]]:
    return [(e[1], e[2]) for e in h.events if e[0] == "commit"]


def test_an_ops_message_is_neither_inserted_nor_committed_by_the_std_flush() -> None:
    h = harness(
        [[Message(STD, 0), Message(OPS, 0), Message(STD, 1), Message(OPS, 1)]], until_idle_s=5.0
    )
    start = h.clock.monotonic()
    stats = h.lander().run()

    (std_insert, ops_insert) = inserts(h)
    assert std_insert[:2] == ("std_encounter", 2)
    assert std_insert[2] == pytest.approx(start + 0.2)  # flush_ms: 200 ms
    assert ops_insert[:2] == ("ops_landed_counts", 2)
    assert ops_insert[2] == pytest.approx(start + 2.0, abs=0.011)  # ops_flush_ms: 2,000 ms
    (std_commit, std_at), (ops_commit, ops_at) = commits(h)
    assert std_commit == {(STD, 0): 2} and std_at == std_insert[2]
    assert ops_commit == {(OPS, 0): 2} and ops_at == ops_insert[2]
    # the std flush sends its landed counts; the ops flush has none to send
    sends = [e for e in h.events if e[0] == "send"]
    assert sends == [("send", "ops.landed_counts", 1)]
    assert h.events.index(sends[0]) < h.events.index(("commit", std_commit, std_at))
    assert (stats.rows, stats.batches) == (4, 2)
    assert stats.rows_by_target == {"encounter": 2, "ops_landed_counts": 2}


def test_the_ops_buffer_flushes_once_its_own_age_passes_ops_flush_ms() -> None:
    h = harness(
        [[Message(OPS, 0)], [Message(STD, 0)], [Message(OPS, 1)]],
        ops_flush_ms=500,
        until_idle_s=5.0,
    )
    start = h.clock.monotonic()
    h.lander().run()

    # the ops buffer's age runs from its own first message: the std flush at 200 ms does
    # not move it, and the ops flush waits for 500 ms, not 200
    assert [(table, n) for table, n, _ in inserts(h)] == [
        ("std_encounter", 1),
        ("ops_landed_counts", 2),
    ]
    (_, _, std_at), (_, _, ops_at) = inserts(h)
    assert std_at == pytest.approx(start + 0.2)
    assert ops_at == pytest.approx(start + 0.5, abs=0.011)
    assert [c for c, _ in commits(h)] == [{(STD, 0): 1}, {(OPS, 0): 2}]


def test_an_ops_buffer_reaching_the_row_cap_flushes_before_its_age() -> None:
    h = harness([[Message(OPS, i) for i in range(3)]], flush_rows=3)
    start = h.clock.monotonic()
    h.lander().run()
    ((table, n, at),) = inserts(h)
    assert (table, n, at) == ("ops_landed_counts", 3, start)


def test_both_buffers_are_flushed_on_stop() -> None:
    lander: Lander | None = None

    def stop() -> None:
        assert lander is not None
        lander.stop()

    h = harness(
        [[Message(STD, 0), Message(OPS, 0)], stop],
        flush_ms=60_000,
        ops_flush_ms=60_000,
        until_idle_s=None,
    )
    lander = h.lander()
    lander.run()
    assert [(table, n) for table, n, _ in inserts(h)] == [
        ("std_encounter", 1),
        ("ops_landed_counts", 1),
    ]
    assert [c for c, _ in commits(h)] == [{(STD, 0): 1}, {(OPS, 0): 1}]
    assert h.events[-1] == ("close",)


def test_both_buffers_are_flushed_on_idle_exit() -> None:
    h = harness([[Message(STD, 0), Message(OPS, 0)]], flush_ms=60_000, ops_flush_ms=60_000)
    h.lander().run()
    assert [c for c, _ in commits(h)] == [{(STD, 0): 1}, {(OPS, 0): 1}]


def test_both_buffers_are_flushed_on_revoke() -> None:
    lander: Lander | None = None
    partitions = [TopicPartition(STD, 0), TopicPartition(OPS, 0)]

    def revoke() -> None:
        assert lander is not None
        lander._on_revoke(cast(Any, h.consumer), partitions)

    h = harness(
        [[Message(STD, 0), Message(OPS, 0)], revoke],
        flush_ms=60_000,
        ops_flush_ms=60_000,
    )
    lander = h.lander()
    lander.run()
    assert [(table, n) for table, n, _ in inserts(h)] == [
        ("std_encounter", 1),
        ("ops_landed_counts", 1),
    ]
    assert [c for c, _ in commits(h)] == [{(STD, 0): 1}, {(OPS, 0): 1}]  # nothing at exit


def test_a_failed_flush_on_revoke_forgets_the_revoked_partitions_in_both_buffers() -> None:
    lander: Lander | None = None
    partitions = [TopicPartition(STD, 0), TopicPartition(OPS, 0)]

    def revoke() -> None:
        assert lander is not None
        lander._on_revoke(cast(Any, h.consumer), partitions)

    h = harness(
        [[Message(STD, 0), Message(OPS, 0)], revoke],
        down="std_encounter",
        flush_ms=60_000,
        ops_flush_ms=60_000,
        retry_for_s=1.0,
    )
    lander = h.lander()
    stats = lander.run()
    # the new owner re-reads both partitions from the last commit: nothing is committed,
    # and the exit flush finds nothing left of them in either buffer
    assert inserts(h) == [] and commits(h) == []
    assert stats.retries > 0 and stats.batches == 0


def test_ops_flush_ms_defaults_to_two_seconds_and_is_at_least_one() -> None:
    assert LanderConfig.from_settings(Settings(), "db").ops_flush_ms == 2_000
    assert LanderConfig.model_fields["ops_flush_ms"].description
    with pytest.raises(LanderConfigError, match="ops_flush_ms"):
        LanderConfig.from_settings(Settings(), "db", ops_flush_ms=0)
