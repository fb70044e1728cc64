"""Reading Kafka for one health check: recent history of topics, and how far groups are behind.

The reads themselves are :mod:`streamhub.kafka`'s (``read_range`` reads partitions to their
ends, ``committed_lags`` puts a group's committed offsets beside the watermarks); this
module keeps what one check shares: one consumer, the topics' metadata and the watermarks,
asked once per check. Nothing here joins a consumer group or commits, so a health check
never disturbs the stages it looks at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as RawMessage

from streamhub.health.errors import HealthError
from streamhub.health.model import TopicLag
from streamhub.health.scan import scan
from streamhub.kafka.errors import GroupOffsetsError, TopicReadError
from streamhub.kafka.groups import committed_lags
from streamhub.kafka.reading import Message, Offsets, read_range, starts_since

TIMEOUT_S = 10.0
READ_TIMEOUT_S = 3 * TIMEOUT_S


class KafkaReader:
    """One non-committing consumer reused for every read of one health check."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._marks: dict[tuple[str, int], tuple[int, int]] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "streamhub-health",  # never joined, never committed
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "fetch.wait.max.ms": 20,  # reads end at known offsets: no need to wait
                # an unreachable broker becomes one HealthError, not a retry line every 50 ms
                "log_level": 2,
            }
        )
        try:
            self.topics = {
                name: sorted(meta.partitions)
                for name, meta in self.consumer.list_topics(timeout=TIMEOUT_S).topics.items()
                if meta.error is None
            }
        except KafkaException as exc:
            self.consumer.close()
            raise HealthError(f"Kafka at {bootstrap} did not answer: {exc}") from exc

    def close(self) -> None:
        self.consumer.close()

    def new_check(self) -> None:
        """Forget the watermarks and re-read the topics: a reader kept between checks (the
        exporter's) sees partitions and ends as they are now."""
        self._marks.clear()
        try:
            self.topics = {
                name: sorted(meta.partitions)
                for name, meta in self.consumer.list_topics(timeout=TIMEOUT_S).topics.items()
                if meta.error is None
            }
        except KafkaException as exc:
            raise HealthError(f"Kafka at {self.bootstrap} did not answer: {exc}") from exc

    def partitions(self, topics: list[str]) -> list[tuple[str, int]]:
        return [(t, p) for t in topics for p in self.topics.get(t, [])]

    def watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        """(low, high) of a partition, asked once per check: every group shares them."""
        key = (tp.topic, tp.partition)
        marks = self._marks.get(key)
        if marks is None:
            try:
                low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=TIMEOUT_S
                )
            except KafkaException as exc:
                # a partition without a leader (a broker down) fails this check, not the process
                where = f"{tp.topic}[{tp.partition}]"
                raise HealthError(
                    f"Kafka at {self.bootstrap}: no watermarks of {where}: {exc}"
                ) from exc
            marks = self._marks[key] = (int(low), int(high))
        return marks

    def since(self, topics: list[str], since_ms: int) -> list[Message]:
        """Every message of ``topics`` with a timestamp from ``since_ms`` to the current end."""
        return list(self.read(self.starts(topics, since_ms), self.ends(topics)))

    def starts(self, topics: list[str], since_ms: int) -> Offsets:
        """The first offset of each partition stamped ``since_ms`` or later (partitions with
        nothing that late are left out)."""
        return starts_since(self.consumer, self.partitions(topics), since_ms, timeout_s=TIMEOUT_S)

    def ends(self, topics: list[str]) -> Offsets:
        """The current end (high watermark) of every partition of ``topics``."""
        return {
            where: self.watermarks(TopicPartition(*where))[1] for where in self.partitions(topics)
        }

    def lows(self, topics: list[str]) -> Offsets:
        """The first offset still held (low watermark) of every partition of ``topics``."""
        return {
            where: self.watermarks(TopicPartition(*where))[0] for where in self.partitions(topics)
        }

    def read(self, starts: Offsets, ends: Offsets) -> Iterator[Message]:
        """Messages from ``starts`` up to ``ends`` (excluded), partition by partition in order."""
        try:
            yield from read_range(self.consumer, starts, ends, timeout_s=READ_TIMEOUT_S)
        except TopicReadError as exc:
            raise HealthError(f"Kafka at {self.bootstrap}: {exc}") from exc

    def scan(self, starts: Offsets, ends: Offsets) -> Iterator[RawMessage]:
        """As :meth:`read`, confluent's own messages (no copy each: reads in bulk)."""
        return scan(self.consumer, starts, ends, timeout_s=READ_TIMEOUT_S)

    def group_lags(
        self, group: str, topics: list[str], *, uncommitted: bool = True
    ) -> list[TopicLag]:
        """``group``'s lag per topic with the timestamp of its oldest unconsumed message.

        Topics the group never committed on are reported (``committed`` False, every
        message counted) only when ``uncommitted``.
        """
        if not self.partitions(topics):
            return []
        try:
            lags = committed_lags(
                self.bootstrap, group, topics, watermarks=self.watermarks, timeout_s=TIMEOUT_S
            )
        except GroupOffsetsError as exc:
            raise HealthError(f"offsets of group {group} unreadable: {exc}") from exc
        has_commit: dict[str, bool] = defaultdict(bool)
        for lag in lags:
            has_commit[lag.topic] |= lag.has_commit
        behind: dict[str, int] = {}
        firsts: Offsets = {}  # the oldest unconsumed message of each partition behind
        for lag in lags:
            if not (has_commit[lag.topic] or uncommitted):
                continue
            behind[lag.topic] = behind.get(lag.topic, 0) + lag.behind
            if lag.behind:
                firsts[(lag.topic, lag.partition)] = lag.next_offset
        oldest: dict[str, int] = {}
        ends = {where: start + 1 for where, start in firsts.items()}
        for message in self._read(firsts, ends):
            oldest[message.topic] = min(
                oldest.get(message.topic, message.timestamp_ms), message.timestamp_ms
            )
        return [
            TopicLag(group, topic, behind[topic], oldest.get(topic), has_commit[topic])
            for topic in sorted(behind)
        ]

    def _read(self, starts: Offsets, ends: Offsets) -> list[Message]:
        return list(self.read(starts, ends))
