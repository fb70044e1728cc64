"""Read Kafka topics from a moment in the past to where they end now.

The warm start replays the detector's inputs this way, and ``streamhub anomaly show``
reads ops.anomaly this way; neither joins a consumer group (partitions are assigned).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streamhub.anomaly.errors import HistoryReadError
from streamhub.config import Settings

Offsets = dict[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass
class History:
    messages: list[Message]
    ends: Offsets  # where each partition ended when the read began: live input starts there


def read_since(
    settings: Settings,
    topics: list[str],
    since_ms: int | None,
    *,
    keep: Callable[[str, bytes | None, int], bool] = lambda _topic, _key, _ts: True,
    timeout_s: float = 120.0,
) -> History:
    """Messages of ``topics`` with a timestamp ≥ ``since_ms`` (None: nothing, only the ends),
    up to each partition's end at the time of the call; ``keep(topic, key, timestamp_ms)``
    filters before
    the value is kept. Raises HistoryReadError if the ends cannot be reached in time."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "streamhub-anomaly-history",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=15)
        missing = [t for t in topics if t not in metadata.topics]
        if missing:
            raise HistoryReadError(
                f"topics {', '.join(missing)} do not exist at {settings.kafka_bootstrap}; "
                "create them with `streamhub topics apply`"
            )
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in metadata.topics[topic].partitions
        ]
        ends: Offsets = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=15)[1]
            for tp in partitions
        }
        if since_ms is None:
            return History([], ends)
        starts = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, since_ms) for tp in partitions], timeout=15
        )
        # -1: no message at or after since_ms, so nothing to read in that partition
        wanted = {
            (tp.topic, tp.partition): tp.offset
            for tp in starts
            if 0 <= tp.offset < ends[(tp.topic, tp.partition)]
        }
        messages = _consume(consumer, wanted, ends, keep, timeout_s)
        return History(messages, ends)
    except KafkaException as exc:
        raise HistoryReadError(f"reading {', '.join(topics)}: {exc}") from exc
    finally:
        consumer.close()


def _consume(
    consumer: Consumer,
    starts: Offsets,
    ends: Offsets,
    keep: Callable[[str, bytes | None, int], bool],
    timeout_s: float,
) -> list[Message]:
    if not starts:
        return []
    consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in starts.items()])
    pending = set(starts)
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise HistoryReadError(
                f"could not read {sorted(pending)} to their ends within {timeout_s:.0f}s; "
                "is the broker healthy (`streamhub stack status`)?"
            )
        for message in consumer.consume(2000, timeout=1.0):
            if message.error() is not None:
                continue
            where = (message.topic() or "", message.partition() or 0)
            offset = message.offset() or 0
            if where not in pending or offset >= ends[where]:
                continue
            timestamp_ms = message.timestamp()[1]
            if keep(where[0], message.key(), timestamp_ms):
                out.append(
                    Message(
                        where[0], where[1], offset, timestamp_ms, message.key(), message.value()
                    )
                )
            if offset + 1 >= ends[where]:
                pending.discard(where)
    return out
