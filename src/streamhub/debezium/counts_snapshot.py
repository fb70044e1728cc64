"""Debezium's snapshot reads of one connector, counted per table and minute for ops.source_counts.

A snapshot is not in the source's log, so the log counter (:mod:`streamhub.debezium.counts_log`)
cannot see it. The counts of a snapshot's reads come from Debezium's own change topics
(``dbz.<connector>.*``), read here before the normalizer touches them: every read (op ``r``)
is counted once in the minute of its ``source.ts_ms`` (the normalizer's commit time for it, so
the minute the reconciler lands it in), by its identity downstream: table, Debezium's message
key and the snapshot's position (the envelope's ``position_seq``). A read Connect sends again
after a crash (same key, same snapshot position) counts once, as the lander keeps it once; a
snapshot Debezium runs again at a new position (a crash before it completed) counts again, as
its reads land again under new versions.

What the reconciler judges with them: that every read Debezium put in Kafka was normalized,
standardized and landed (or dead-lettered). Not independent of Debezium's scan itself: a row
its scan skipped is in neither count (docs/decisions/debezium.md, "Source counts").

Totals are rebuilt from the topics' start on every start (nothing stored), and are *totals*:
the log counter writes them into its minute records (``snapshot_reads``) only once this reader
has caught up with the topics as they were when it started, so a restart never emits a smaller
total than before.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Final

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.counts import MINUTE_MS
from streamhub.debezium.events import EventReader
from streamhub.debezium.normalize_errors import EventError
from streamhub.debezium.render import topic_prefix
from streamhub.log import get_logger

log = get_logger(__name__)

#: the op field of a read as Connect's JsonConverter writes it: messages without these bytes
#: are not parsed (a column named ``op`` holding ``r`` matches too, and is parsed to tell)
READ_OP: Final = b'"op":"r"'
REFRESH_TOPICS_S: Final = 5.0  # how often new table topics are looked for


class SnapshotReadCounts:
    """Distinct snapshot reads per (table, minute); pure: fed one message at a time."""

    def __init__(self) -> None:
        self.reader = EventReader()
        self._reads: dict[tuple[str, int], set[int]] = {}
        self.skipped = 0  # reads that do not decode (the normalizer dead-letters them)

    def add(self, key: bytes | None, value: bytes | None) -> tuple[str, int, int] | None:
        """Count one Debezium message if it is a new snapshot read: (table, minute start,
        the read's commit time) of the window it grew, else None."""
        if value is None or READ_OP not in value:
            return None
        try:
            decoded = self.reader.read(key, value)
        except EventError:
            self.skipped += 1
            return None
        event = decoded.event
        if event is None or event.op != "r":
            return None
        table = event.table.full_name
        minute = event.commit_ts_ms - event.commit_ts_ms % MINUTE_MS
        identity = hash((key, event.position_seq))
        seen = self._reads.setdefault((table, minute), set())
        if identity in seen:
            return None
        seen.add(identity)
        return table, minute, event.commit_ts_ms

    def reads(self, table: str, window_start_ms: int) -> int:
        return len(self._reads.get((table, window_start_ms), ()))

    @property
    def total(self) -> int:
        return sum(len(s) for s in self._reads.values())


class SnapshotReads:
    """Reads one connector's Debezium change topics from their start and counts the reads."""

    def __init__(
        self,
        consumer: Consumer,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.pattern = re.compile(re.escape(prefix) + r"\..+")
        self.clock = clock
        self.counts = SnapshotReadCounts()
        self._assigned: set[tuple[str, int]] = set()
        self._started_ends: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._caught_up = False
        self._refreshed = -REFRESH_TOPICS_S

    @classmethod
    def from_bootstrap(cls, bootstrap: str, config: ConnectorConfig) -> SnapshotReads:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                # assigned, never committed: a group only because librdkafka wants one
                "group.id": f"streamhub-debezium-snapshot-counts-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        return cls(consumer, topic_prefix(config))

    def start(self) -> None:
        """Assign every change topic there is from its start; remember where they end now."""
        for topic, partition in self._refresh():
            low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            if high > low:
                self._started_ends[(topic, partition)] = high

    def _refresh(self) -> list[tuple[str, int]]:
        self._refreshed = self.clock()
        metadata = self.consumer.list_topics(timeout=10)
        new = [
            (name, partition)
            for name, topic in metadata.topics.items()
            if self.pattern.fullmatch(name)
            for partition in topic.partitions
            if (name, partition) not in self._assigned
        ]
        if new:
            self._assigned.update(new)
            self.consumer.incremental_assign(
                [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in new]
            )
        return new

    @property
    def caught_up(self) -> bool:
        """Read at least as far as the topics ended when this reader started."""
        if not self._caught_up:
            self._caught_up = all(
                self._positions.get(where, -1) + 1 >= end
                for where, end in self._started_ends.items()
            )
        return self._caught_up

    def poll(self, max_messages: int = 1000) -> list[tuple[str, int, int]]:
        """Read what arrived (without waiting); the windows that grew."""
        if self.clock() - self._refreshed >= REFRESH_TOPICS_S:
            self._refresh()
        grew: list[tuple[str, int, int]] = []
        for message in self.consumer.consume(max_messages, 0):
            if message.error() is not None:
                continue
            self._positions[(message.topic() or "", message.partition() or 0)] = (
                message.offset() or 0
            )
            found = self.counts.add(message.key(), message.value())
            if found is not None:
                grew.append(found)
        return grew

    def reads(self, table: str, window_start_ms: int) -> int:
        return self.counts.reads(table, window_start_ms)

    def close(self) -> None:
        self.consumer.close()
