"""Reading topics to their end and consumer-group lag, on the real broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.kafka.errors import TopicReadError
from streamhub.kafka.groups import (
    assigned_lag,
    commit_offsets,
    committed_lags,
    group_lag,
    pin_to_end,
    topic_ends,
)
from streamhub.kafka.reading import read_range, read_since

BASE_MS = 1_772_420_000_000


def produce(settings: Settings, topic: str, stamps: list[tuple[int, int]]) -> None:
    """One message per (partition, timestamp), value ``<partition>-<index>``."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    for i, (partition, stamp) in enumerate(stamps):
        producer.produce(
            topic, key=b"k", value=f"{partition}-{i}".encode(), partition=partition, timestamp=stamp
        )
    assert producer.flush(30) == 0


def probe_consumer(settings: Settings, unique: Callable[[str], str], **extra: Any) -> Consumer:
    # as link health's reader: no end-of-partition events, ends found by offsets and position
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": unique("probe"),
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            **extra,
        }
    )


def test_read_since_reads_every_partition_from_a_moment_to_its_end(
    settings: Settings, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("read", partitions=2)
    produce(settings, topic, [(p, BASE_MS + i * 1000) for i in range(6) for p in (0, 1)])
    ends: dict[tuple[str, int], int] = {}
    everything = list(read_since(settings, [topic, "no-such-topic"], 0, ends=ends.update))
    assert ends == {(topic, 0): 6, (topic, 1): 6}
    assert len(everything) == 12
    assert [m.offset for m in everything if m.partition == 0] == list(range(6))

    later = list(read_since(settings, [topic], BASE_MS + 4000))
    assert sorted((m.partition, m.offset) for m in later) == [(0, 4), (0, 5), (1, 4), (1, 5)]
    assert all(m.timestamp_ms >= BASE_MS + 4000 for m in later)

    window = list(read_since(settings, [topic], BASE_MS + 1000, until_ts_ms=BASE_MS + 2000))
    assert sorted((m.partition, m.offset) for m in window) == [(0, 1), (0, 2), (1, 1), (1, 2)]

    assert list(read_since(settings, [topic], BASE_MS + 60_000)) == []


def test_read_range_reads_one_message_without_the_backlog(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    topic = new_topic("probe", partitions=1)
    produce(settings, topic, [(0, BASE_MS + i) for i in range(50)])
    consumer = probe_consumer(settings, unique)
    try:
        got = list(read_range(consumer, {(topic, 0): 7}, {(topic, 0): 8}, timeout_s=30))
        assert [(m.offset, m.value) for m in got] == [(7, b"0-7")]
        # the consumer is left unassigned and reusable
        assert consumer.assignment() == []
        again = list(read_range(consumer, {(topic, 0): 48}, {(topic, 0): 50}, timeout_s=30))
        assert [m.offset for m in again] == [48, 49]
        # nothing to read: no assignment at all
        assert list(read_range(consumer, {(topic, 0): 50}, {(topic, 0): 50})) == []
    finally:
        consumer.close()


def test_read_range_gives_up_at_its_deadline_naming_the_partitions(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # an end the partition never reaches: the manual clock runs out instead of the test's time
    topic = new_topic("short", partitions=1)
    produce(settings, topic, [(0, BASE_MS + i) for i in range(3)])
    consumer = probe_consumer(settings, unique)
    clock = ManualClock()
    try:
        reading = read_range(consumer, {(topic, 0): 0}, {(topic, 0): 10}, timeout_s=60, clock=clock)
        assert next(reading).offset == 0
        clock.advance(61)
        with pytest.raises(TopicReadError) as caught:
            list(reading)
        assert caught.value.partitions == ((topic, 0),)
        assert f"{topic}[0]" in str(caught.value)
    finally:
        consumer.close()


def test_read_range_ends_at_a_control_record_by_the_consumers_position(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # a committed transaction ends with a control record: the high watermark is one past the
    # last message, and no message (nor, without EOF events, any event) arrives at it
    topic = new_topic("txn", partitions=1)
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "transactional.id": unique("txn")}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"0-{i}".encode(), partition=0)
    producer.commit_transaction(30)
    # the coordinator writes the marker after commit_transaction returns
    deadline = time.monotonic() + 20
    while (end := topic_ends(settings, [topic])[(topic, 0)]) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert end == 4
    consumer = probe_consumer(settings, unique)
    try:
        got = list(read_range(consumer, {(topic, 0): 0}, {(topic, 0): end}, timeout_s=20))
        assert [m.value for m in got] == [b"0-0", b"0-1", b"0-2"]
    finally:
        consumer.close()


def test_group_lag_from_committed_offsets(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    topic = new_topic("lag", partitions=2)
    produce(settings, topic, [(p, BASE_MS + i) for i in range(5) for p in (0, 1)])
    group = unique("group")

    fresh = committed_lags(settings.kafka_bootstrap, group, [topic, "no-such-topic"])
    assert [(lag.partition, lag.has_commit, lag.behind) for lag in fresh] == [
        (0, False, 5),
        (1, False, 5),
    ]
    assert group_lag(settings, group, [topic]) == 10

    commit_offsets(settings, group, {(topic, 0): 2})
    assert group_lag(settings, group, [topic]) == 3 + 5
    asked: list[tuple[str, int]] = []

    def watermarks(tp: TopicPartition) -> tuple[int, int]:
        asked.append((tp.topic, tp.partition))
        return 0, 5

    lags = committed_lags(settings.kafka_bootstrap, group, [topic], watermarks=watermarks)
    assert sorted(asked) == [(topic, 0), (topic, 1)]
    assert [(lag.committed, lag.next_offset, lag.behind) for lag in lags] == [
        (2, 2, 3),
        (-1001, 0, 5),
    ]

    assert pin_to_end(settings, group, [topic]) == topic_ends(settings, [topic])
    assert group_lag(settings, group, [topic]) == 0


def test_assigned_lag_is_a_running_consumers_distance_to_the_end(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    topic = new_topic("assigned", partitions=1)
    produce(settings, topic, [(0, BASE_MS + i) for i in range(20)])
    consumer = probe_consumer(settings, unique)
    try:
        assert assigned_lag(consumer) == 0  # nothing assigned
        consumer.assign([TopicPartition(topic, 0, 0)])
        read: list[int] = []
        while len(read) < 5:
            read += [m.offset() or 0 for m in consumer.consume(1, timeout=5) if m.error() is None]
        assert assigned_lag(consumer) == 20 - len(read)
    finally:
        consumer.close()
