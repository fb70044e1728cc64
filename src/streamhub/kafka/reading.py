"""Reading topics by time: every message from a moment on, up to where the topics end now.

The reconcile and anomaly apps rebuild their state this way on start, and the operator
commands (`reconcile show|diff`, `anomaly show`) read ops.* and raw topics this way, since
the embedded ClickHouse belongs to the lander while it runs. Nothing joins a consumer
group or commits: partitions are assigned.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamhub.config import Settings
from streamhub.kafka.errors import TopicReadError

Offsets = dict[tuple[str, int], int]


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


def read_since(
    settings: Settings,
    topics: list[str],
    since_ms: int,
    *,
    until_ts_ms: int | None = None,
    timeout_s: float = 120.0,
    ends: Callable[[Offsets], None] | None = None,
) -> Iterator[Message]:
    """Messages of ``topics`` with a timestamp from ``since_ms`` on (offsets_for_times),
    up to each partition's end as it is now, or past ``until_ts_ms`` when given.

    ``ends`` receives the end offsets (the next offset of every partition, as read when
    the call started) before the first message: a consumer group that resumes there
    sees exactly what comes after the messages read here. Missing topics are skipped.
    """
    consumer = _consumer(settings)
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(topic, p, since_ms)
            for topic in topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        high: Offsets = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
            for tp in partitions
        }
        if ends is not None:
            ends(dict(high))
        starts = consumer.offsets_for_times(partitions, timeout=10) if partitions else []
        wanted: Offsets = {}
        assignment = []
        for tp in starts:
            end = high[(tp.topic, tp.partition)]
            start = end if tp.offset < 0 else tp.offset  # -1: no message that late
            if start < end:
                wanted[(tp.topic, tp.partition)] = end
                assignment.append(TopicPartition(tp.topic, tp.partition, start))
        if not assignment:
            return
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout_s
        while wanted:
            if time.monotonic() > deadline:
                raise TopicReadError(
                    f"could not read {', '.join(f'{t}[{p}]' for t, p in sorted(wanted))} to "
                    f"their ends within {timeout_s:.0f} s",
                    sorted(wanted),
                )
            for message in consumer.consume(500, timeout=0.5):
                where = (message.topic() or "", message.partition() or 0)
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        wanted.pop(where, None)
                        continue
                    raise TopicReadError(f"reading {where[0]}[{where[1]}]: {error}", [where])
                if where not in wanted:
                    continue
                offset = message.offset() or 0
                stamp = message.timestamp()[1]
                if until_ts_ms is not None and stamp > until_ts_ms:
                    del wanted[where]  # past the range asked for (timestamps ~ monotonic)
                    continue
                if offset >= wanted[where]:
                    del wanted[where]
                    continue
                yield Message(where[0], where[1], offset, stamp, message.key(), message.value())
                if offset + 1 >= wanted[where]:
                    del wanted[where]
    finally:
        consumer.close()
