"""Reading Kafka for health: recent history of a topic, and how far groups are behind.

Nothing here joins a consumer group or commits: the reader assigns partitions itself, so a
status check never disturbs the stages it looks at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streamhub.health.errors import HealthError
from streamhub.health.model import TopicLag

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Message:
    topic: str
    timestamp_ms: int
    value: bytes


class KafkaReader:
    """One non-committing consumer reused for every read of one health check."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._marks: dict[tuple[str, int], tuple[int, int]] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "streamhub-status",  # never joined, never committed
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

    def partitions(self, topics: list[str]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in self.topics.get(t, [])]

    def watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        """(low, high) of a partition, asked once per check: every group shares them."""
        key = (tp.topic, tp.partition)
        marks = self._marks.get(key)
        if marks is None:
            low, high = self.consumer.get_watermark_offsets(tp, timeout=TIMEOUT_S)
            marks = self._marks[key] = (int(low), int(high))
        return marks

    def since(self, topics: list[str], since_ms: int) -> list[Message]:
        """Every message of ``topics`` with a timestamp from ``since_ms`` to the current end."""
        wanted = [
            TopicPartition(tp.topic, tp.partition, since_ms) for tp in self.partitions(topics)
        ]
        if not wanted:
            return []
        starts = self.consumer.offsets_for_times(wanted, timeout=TIMEOUT_S)
        ends: dict[tuple[str, int], int] = {}
        assignment = []
        for tp in starts:
            if tp.offset < 0:  # OFFSET_END: nothing since then
                continue
            _, high = self.watermarks(tp)
            if high > tp.offset:
                ends[(tp.topic, tp.partition)] = high
                assignment.append(tp)
        return self._read_to(assignment, ends)

    def _read_to(
        self, assignment: list[TopicPartition], ends: dict[tuple[str, int], int]
    ) -> list[Message]:
        """Messages of ``assignment`` (partitions at their start offsets) up to ``ends``."""
        if not assignment:
            return []
        out: list[Message] = []
        self.consumer.assign(assignment)
        deadline = time.monotonic() + 3 * TIMEOUT_S
        try:
            while ends:
                if time.monotonic() > deadline:
                    late = ", ".join(f"{t}[{p}]" for t, p in sorted(ends)[:5])
                    raise HealthError(
                        f"Kafka at {self.bootstrap}: could not read {late} to its end "
                        f"within {3 * TIMEOUT_S:.0f} s"
                    )
                batch = self.consumer.consume(1000, timeout=0.5)
                if not batch:
                    self._drop_passed(ends)
                for message in batch:
                    if message.error() is not None:
                        continue
                    where = (message.topic() or "", message.partition() or 0)
                    end = ends.get(where)
                    if end is None:
                        continue
                    offset = message.offset() or 0
                    if offset + 1 >= end:
                        del ends[where]
                        # stop fetching it: a probe of one message must not read the backlog
                        self.consumer.pause([TopicPartition(*where)])
                    if offset < end:
                        _, timestamp = message.timestamp()
                        out.append(Message(where[0], timestamp, message.value() or b""))
        finally:
            self.consumer.resume(assignment)  # pausing outlives the assignment
            self.consumer.unassign()
        return out

    def _drop_passed(self, ends: dict[tuple[str, int], int]) -> None:
        """Forget partitions read past their end without a message at it (a compacted or
        control record can hold the last offset)."""
        positions = self.consumer.position([TopicPartition(t, p) for t, p in ends])
        for tp in positions:
            if tp.offset >= ends[(tp.topic, tp.partition)]:
                del ends[(tp.topic, tp.partition)]

    def group_lags(
        self, group: str, topics: list[str], *, uncommitted: bool = True
    ) -> list[TopicLag]:
        """``group``'s lag per topic with the timestamp of its oldest unconsumed message.

        Topics the group never committed on are reported (``committed`` False, every
        message counted) only when ``uncommitted``.
        """
        partitions = self.partitions(topics)
        if not partitions:
            return []
        probe = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            committed = probe.committed(partitions, timeout=TIMEOUT_S)
        except KafkaException as exc:
            raise HealthError(f"offsets of group {group} unreadable: {exc}") from exc
        finally:
            probe.close()
        behind: dict[str, int] = {}
        has_commit: dict[str, bool] = {}
        firsts: list[TopicPartition] = []
        ends: dict[tuple[str, int], int] = {}
        for tp in committed:
            has_commit[tp.topic] = has_commit.get(tp.topic, False) or tp.offset >= 0
        for tp in committed:
            if not (has_commit[tp.topic] or uncommitted):
                continue
            low, high = self.watermarks(tp)
            start = max(tp.offset, low)
            behind[tp.topic] = behind.get(tp.topic, 0) + max(high - start, 0)
            if high > start:
                firsts.append(TopicPartition(tp.topic, tp.partition, start))
                ends[(tp.topic, tp.partition)] = start + 1
        oldest: dict[str, int] = {}
        for message in self._read_to(firsts, ends):
            oldest[message.topic] = min(
                oldest.get(message.topic, message.timestamp_ms), message.timestamp_ms
            )
        return [
            TopicLag(group, topic, behind[topic], oldest.get(topic), has_commit[topic])
            for topic in sorted(behind)
        ]
