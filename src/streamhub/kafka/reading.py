"""Reading topics to their end: every message from an offset or a moment on, up to where the
topics end now.

The reconcile and anomaly apps rebuild their state this way on start, the operator commands
(`reconcile show|diff`, `anomaly show`) read ops.* and raw topics this way, since the embedded
ClickHouse belongs to the lander while it runs, and link health reads recent history and the
oldest unconsumed messages this way. Nothing joins a consumer group or commits: partitions are
assigned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.kafka.errors import TopicReadError

Offsets = dict[tuple[str, int], int]

#: how long one metadata, watermark or offsets-for-times request may take
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


def _consumer(settings: Settings) -> Consumer:
    # a throw-away group: nothing is committed, the reader only assigns partitions
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"streamhub-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )


def partitions_of(
    consumer: Consumer, topics: Sequence[str], *, timeout_s: float = REQUEST_TIMEOUT_S
) -> list[tuple[str, int]]:
    """Every (topic, partition) of ``topics``; topics the broker does not know are skipped."""
    metadata = consumer.list_topics(timeout=timeout_s)
    return [
        (topic, partition)
        for topic in topics
        if topic in metadata.topics
        for partition in metadata.topics[topic].partitions
    ]


def high_watermarks(
    consumer: Consumer,
    partitions: Sequence[tuple[str, int]],
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> Offsets:
    """The next offset (high watermark) of every partition, asked of the broker now."""
    return {
        (topic, partition): int(
            consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)[1]
        )
        for topic, partition in partitions
    }


def starts_since(
    consumer: Consumer,
    partitions: Sequence[tuple[str, int]],
    since_ms: int,
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> Offsets:
    """The first offset of every partition whose message has a timestamp ≥ ``since_ms``
    (offsets_for_times); partitions with no message that late are left out."""
    if not partitions:
        return {}
    asked = [TopicPartition(topic, partition, since_ms) for topic, partition in partitions]
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in consumer.offsets_for_times(asked, timeout=timeout_s)
        if tp.offset >= 0  # -1 (OFFSET_END): no message that late
    }


def read_range(
    consumer: Consumer,
    starts: Offsets,
    ends: Offsets,
    *,
    until_ts_ms: int | None = None,
    timeout_s: float = 120.0,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[Message]:
    """Messages of every partition in ``starts`` from its start offset up to its offset in
    ``ends`` (excluded), or up to the first message stamped after ``until_ts_ms`` when given.

    ``consumer`` is assigned the partitions (it must not be subscribed) and unassigned at
    the end; a partition read to its end is paused at once, so reading one message of a
    partition never fetches its backlog. A partition that ends with a compacted-away or
    control record is recognized by the consumer's position. Raises :class:`TopicReadError`
    on a consumer error or when the partitions are not read within ``timeout_s``.
    """
    wanted: Offsets = {
        where: ends[where] for where, start in starts.items() if start < ends.get(where, start)
    }
    if not wanted:
        return
    assignment = [TopicPartition(topic, part, starts[(topic, part)]) for topic, part in wanted]
    consumer.assign(assignment)

    def done(where: tuple[str, int]) -> None:
        del wanted[where]
        consumer.pause([TopicPartition(*where)])

    deadline = clock.monotonic() + timeout_s
    try:
        while wanted:
            if clock.monotonic() > deadline:
                raise TopicReadError(
                    f"could not read {', '.join(f'{t}[{p}]' for t, p in sorted(wanted))} to "
                    f"their ends within {timeout_s:.0f} s",
                    sorted(wanted),
                )
            batch = consumer.consume(500, timeout=0.5)
            if not batch:
                for where in read_past(consumer, wanted):
                    done(where)
            for message in batch:
                where = (message.topic() or "", message.partition() or 0)
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        if where in wanted:
                            done(where)
                        continue
                    raise TopicReadError(f"reading {where[0]}[{where[1]}]: {error}", [where])
                if where not in wanted:
                    continue
                offset = message.offset() or 0
                stamp = message.timestamp()[1]
                if until_ts_ms is not None and stamp > until_ts_ms:
                    done(where)  # past the range asked for (timestamps ~ monotonic)
                    continue
                if offset >= wanted[where]:
                    done(where)
                    continue
                yield Message(where[0], where[1], offset, stamp, message.key(), message.value())
                if offset + 1 >= wanted[where]:
                    done(where)
    finally:
        consumer.resume(assignment)  # pausing outlives the assignment
        consumer.unassign()


def read_past(consumer: Consumer, wanted: Offsets) -> list[tuple[str, int]]:
    """Partitions whose position is at or past their end without a message there."""
    positions = consumer.position([TopicPartition(t, p) for t, p in wanted])
    return [
        (tp.topic, tp.partition)
        for tp in positions
        if tp.offset >= wanted[(tp.topic, tp.partition)]
    ]


def read_since(
    settings: Settings,
    topics: list[str],
    since_ms: int,
    *,
    until_ts_ms: int | None = None,
    timeout_s: float = 120.0,
    ends: Callable[[Offsets], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[Message]:
    """Messages of ``topics`` with a timestamp from ``since_ms`` on (offsets_for_times),
    up to each partition's end as it is now, or past ``until_ts_ms`` when given.

    ``ends`` receives the end offsets (the next offset of every partition, as read when
    the call started) before the first message: a consumer group that resumes there
    sees exactly what comes after the messages read here. Missing topics are skipped.
    """
    consumer = _consumer(settings)
    try:
        partitions = partitions_of(consumer, topics)
        high = high_watermarks(consumer, partitions)
        if ends is not None:
            ends(dict(high))
        starts = starts_since(consumer, partitions, since_ms)
        yield from read_range(
            consumer, starts, high, until_ts_ms=until_ts_ms, timeout_s=timeout_s, clock=clock
        )
    finally:
        consumer.close()
