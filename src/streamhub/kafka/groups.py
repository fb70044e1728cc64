"""Consumer-group offsets: where topics end, pinning a group there, and how far behind it is.

A pipeline started for a particular run (the demo, tests, benchmarks) pins fresh groups at
the topics' current ends so it processes that run's messages, not every earlier one. Lag is
computed here only: a group's from its committed offsets (:func:`committed_lags`,
:func:`group_lag`), a running consumer's from its own positions (:func:`assigned_lag`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streamhub.config import Settings
from streamhub.kafka.errors import GroupOffsetsError
from streamhub.kafka.reading import REQUEST_TIMEOUT_S, Offsets, high_watermarks, partitions_of

#: (low, high) watermarks of a partition
Watermarks = Callable[[TopicPartition], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """A group's committed offset on one partition beside the partition's watermarks."""

    topic: str
    partition: int
    committed: int  # negative: the group never committed on this partition
    low: int
    high: int

    @property
    def has_commit(self) -> bool:
        return self.committed >= 0

    @property
    def next_offset(self) -> int:
        """The first offset the group has not consumed (the oldest kept, without a commit or
        when retention removed the committed one)."""
        return max(self.committed, self.low)

    @property
    def behind(self) -> int:
        """Messages the group has yet to consume on this partition."""
        return max(self.high - self.next_offset, 0)


def _consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )


def topic_ends(settings: Settings, topics: list[str]) -> Offsets:
    """The next offset of every partition of ``topics`` (missing topics are skipped)."""
    consumer = _consumer(settings.kafka_bootstrap, "streamhub-offsets-reader")
    try:
        return high_watermarks(consumer, partitions_of(consumer, topics))
    finally:
        consumer.close()


def commit_offsets(settings: Settings, group: str, offsets: Offsets) -> None:
    """Set ``group``'s committed offsets (the group must have no active member)."""
    if not offsets:
        return
    consumer = _consumer(settings.kafka_bootstrap, group)
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


def committed_lags(
    bootstrap: str,
    group: str,
    topics: Sequence[str],
    *,
    watermarks: Watermarks | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> list[PartitionLag]:
    """``group``'s committed offset and the watermarks of every partition of ``topics``
    (missing topics skipped), without joining the group. ``watermarks`` answers (low, high)
    of a partition when the caller keeps them (one request per partition otherwise).
    Raises :class:`GroupOffsetsError` when Kafka does not answer."""
    probe = _consumer(bootstrap, group)
    try:
        partitions = [TopicPartition(t, p) for t, p in partitions_of(probe, topics)]
        if not partitions:
            return []
        committed = probe.committed(partitions, timeout=timeout_s)
        lags = []
        for tp in committed:
            if watermarks is not None:
                low, high = watermarks(tp)
            else:
                low, high = probe.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=timeout_s
                )
            lags.append(PartitionLag(tp.topic, tp.partition, tp.offset, int(low), int(high)))
        return lags
    except KafkaException as exc:
        raise GroupOffsetsError(
            f"offsets of group {group} on {', '.join(topics)} unreadable at {bootstrap}: {exc}",
            group,
        ) from exc
    finally:
        probe.close()


def group_lag(settings: Settings, group: str, topics: list[str]) -> int:
    """Messages in ``topics`` after ``group``'s committed offsets (all kept, where none)."""
    return sum(lag.behind for lag in committed_lags(settings.kafka_bootstrap, group, topics))


def assigned_lag(consumer: Consumer) -> int | None:
    """Messages a running consumer has yet to read on its assignment: its positions against
    the high watermarks last seen by its fetches (no broker round trip); None when the
    consumer cannot tell. Partitions whose position or watermark is not known yet count 0."""
    try:
        positions = consumer.position(consumer.assignment())
        lag = 0
        for tp in positions:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                lag += max(0, high - tp.offset)
        return lag
    except KafkaException:
        return None
