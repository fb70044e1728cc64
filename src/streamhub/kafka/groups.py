"""Consumer-group offsets: where topics end, pinning a group there, and how far behind it is.

A pipeline started for a particular run (the demo, tests, benchmarks) pins fresh groups at
the topics' current ends so it processes that run's messages, not every earlier one.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from streamhub.config import Settings

Offsets = dict[tuple[str, int], int]


def _consumer(settings: Settings, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )


def _partitions(consumer: Consumer, topics: list[str]) -> list[TopicPartition]:
    metadata = consumer.list_topics(timeout=10)
    return [
        TopicPartition(topic, partition)
        for topic in topics
        if topic in metadata.topics
        for partition in metadata.topics[topic].partitions
    ]


def topic_ends(settings: Settings, topics: list[str]) -> Offsets:
    """The next offset of every partition of ``topics`` (missing topics are skipped)."""
    consumer = _consumer(settings, "streamhub-offsets-reader")
    try:
        return {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
            for tp in _partitions(consumer, topics)
        }
    finally:
        consumer.close()


def commit_offsets(settings: Settings, group: str, offsets: Offsets) -> None:
    """Set ``group``'s committed offsets (the group must have no active member)."""
    if not offsets:
        return
    consumer = _consumer(settings, group)
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
    finally:
        consumer.close()


def pin_to_end(settings: Settings, group: str, topics: list[str]) -> Offsets:
    """Commit the topics' current ends for ``group``; the offsets pinned."""
    ends = topic_ends(settings, topics)
    commit_offsets(settings, group, ends)
    return ends


def group_lag(settings: Settings, group: str, topics: list[str]) -> int:
    """Messages in ``topics`` after ``group``'s committed offsets (all, where none)."""
    consumer = _consumer(settings, group)
    try:
        lag = 0
        for tp in consumer.committed(_partitions(consumer, topics), timeout=10):
            high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), 10)[1]
            lag += max(0, high - max(tp.offset, 0))
        return lag
    finally:
        consumer.close()
