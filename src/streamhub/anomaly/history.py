"""The anomaly app's reads of the past: its warm start and ``streamhub anomaly show``.

Built on :func:`streamhub.kafka.reading.read_since`; adds what the app needs on top: the
partitions' ends (live input resumes there), a filter applied before values are kept, and
a refusal when an input topic does not exist (a warm start on a missing topic would judge
every feed as silent).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException

from streamhub.anomaly.errors import HistoryReadError
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.kafka.errors import TopicReadError
from streamhub.kafka.reading import (
    Message,
    Offsets,
    high_watermarks,
    partitions_of,
    read_range,
)
from streamhub.kafka.reading import read_since as read_topics

FUTURE_MS = 10 * 365 * 86_400_000  # a start no message has: only the ends are read


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
    clock: Clock = SYSTEM_CLOCK,
) -> History:
    """Messages of ``topics`` with a timestamp ≥ ``since_ms`` (None: nothing, only the ends),
    up to each partition's end at the time of the call, filtered by
    ``keep(topic, key, timestamp_ms)``. Raises HistoryReadError naming what failed."""
    ends: Offsets = {}
    start = since_ms if since_ms is not None else now_ms(clock) + FUTURE_MS
    try:
        messages = [
            m
            for m in read_topics(settings, topics, start, timeout_s=timeout_s, ends=ends.update)
            if keep(m.topic, m.key, m.timestamp_ms)
        ]
    except (TopicReadError, KafkaException) as exc:
        raise HistoryReadError(f"reading {', '.join(topics)}: {exc}") from exc
    missing = sorted(set(topics) - {topic for topic, _ in ends})
    if missing:
        raise HistoryReadError(
            f"topics {', '.join(missing)} do not exist at {settings.kafka_bootstrap}; "
            "create them with `streamhub topics apply`"
        )
    return History(messages, ends)


def read_from(
    settings: Settings,
    topics: list[str],
    starts: Offsets,
    *,
    keep: Callable[[str, bytes | None, int], bool] = lambda _topic, _key, _ts: True,
    timeout_s: float = 120.0,
) -> History:
    """Messages of ``topics`` from the given offsets (a partition not in ``starts``, e.g.
    one added since: from its first) up to each partition's end at the time of the call,
    filtered like :func:`read_since`. The warm start from a snapshot reads this way."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"streamhub-anomaly-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = partitions_of(consumer, topics)
        ends = high_watermarks(consumer, partitions)
        missing = sorted(set(topics) - {topic for topic, _ in ends})
        if missing:
            raise HistoryReadError(
                f"topics {', '.join(missing)} do not exist at {settings.kafka_bootstrap}; "
                "create them with `streamhub topics apply`"
            )
        first = {where: starts.get(where, 0) for where in partitions}
        messages = [
            m
            for m in read_range(consumer, first, ends, timeout_s=timeout_s)
            if keep(m.topic, m.key, m.timestamp_ms)
        ]
    except (TopicReadError, KafkaException) as exc:
        raise HistoryReadError(f"reading {', '.join(topics)}: {exc}") from exc
    finally:
        consumer.close()
    return History(messages, ends)
