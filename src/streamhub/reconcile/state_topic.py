"""Checkpoints in a compacted topic: the parts first, the head last, then tombstones.

Records of one deployment are keyed by its group (``<group>|head`` and
``<group>|<blob>|<generation>|<part>``), so reconcile apps of different groups (tests)
share the topic without meeting. A checkpoint counts once its head is acknowledged: a
crash before that leaves the previous head and the parts it names untouched (new
parts carry a new generation in their key, so they overwrite nothing); parts no head
names any more are tombstoned after the next head is written, and compaction removes
them. Reading takes the latest value per key of the group, the head, and exactly the
parts it names; anything missing is an error, and the app falls back to a full replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from streamhub.config import Settings
from streamhub.core.topic_names import RECONCILE_STATE
from streamhub.kafka.reading import read_since
from streamhub.kafka.topics import ensure_topic, wait_for_leaders
from streamhub.reconcile.checkpoint import Blobs, Head
from streamhub.reconcile.errors import SnapshotFormatError, StateTopicError

#: compaction runs on closed segments: roll them hourly so superseded parts go within hours
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": "3600000",
    "min.cleanable.dirty.ratio": "0.2",
}


@dataclass
class StateTopic:
    settings: Settings
    group: str
    topic: str = RECONCILE_STATE
    timeout_s: float = 60.0
    #: the last head written or read: the next checkpoint names its unchanged blobs
    head: Head | None = None
    #: part keys of this group that no head names (a crash before the head): tombstoned next
    orphans: set[bytes] = field(default_factory=set)
    _producer: Producer | None = None

    def ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        try:
            created = ensure_topic(admin, self.topic, config=TOPIC_CONFIG, timeout_s=30.0)
        except KafkaException as exc:
            raise StateTopicError(
                f"cannot create the reconcile state topic {self.topic}: {exc}"
            ) from exc
        if created and not wait_for_leaders(admin, self.topic, 30.0):
            raise StateTopicError(
                f"reconcile state topic {self.topic} has no partition leader after 30 s; "
                "check the broker"
            )

    # --- keys -----------------------------------------------------------------------------

    def head_key(self) -> bytes:
        return f"{self.group}|head".encode()

    def part_key(self, name: str, generation: int, part: int) -> bytes:
        return f"{self.group}|{name}|{generation}|{part}".encode()

    def _part_keys(self, head: Head) -> set[bytes]:
        return {
            self.part_key(name, generation, i)
            for name, (generation, parts) in head.blobs.items()
            for i in range(parts)
        }

    # --- reading --------------------------------------------------------------------------

    def load(self) -> tuple[Head, Blobs] | None:
        """The group's last checkpoint, or None when it has none. Raises
        :class:`SnapshotFormatError` when it cannot be read whole."""
        prefix = f"{self.group}|".encode()
        latest: dict[bytes, bytes] = {}
        for message in read_since(self.settings, [self.topic], 0, timeout_s=self.timeout_s):
            key = message.key
            if key is None or not key.startswith(prefix):
                continue
            if message.value is None:
                latest.pop(key, None)
            else:
                latest[key] = message.value
        raw_head = latest.pop(self.head_key(), None)
        if raw_head is None:
            self.orphans = set(latest)
            return None
        head = Head.from_bytes(raw_head)
        blobs: Blobs = {}
        for name, (generation, parts) in head.blobs.items():
            keys = [self.part_key(name, generation, i) for i in range(parts)]
            missing = [k.decode() for k in keys if k not in latest]
            if missing:
                raise SnapshotFormatError(
                    f"reconcile checkpoint {head.generation} of group {self.group} lacks "
                    f"{len(missing)} part(s) (first {missing[0]}) in {self.topic}"
                )
            blobs[name] = [latest.pop(k) for k in keys]
        self.head = head
        self.orphans = set(latest)
        return head, blobs

    # --- writing --------------------------------------------------------------------------

    def write(self, head: Head, blobs: Blobs) -> None:
        """Store a checkpoint: ``blobs`` (the parts the head names at its generation), then
        the head, then tombstones of what no head names any more. Blocking: the app runs it
        off its event loop. Raises :class:`StateTopicError` when Kafka does not acknowledge."""
        records: list[tuple[bytes, bytes | None]] = [
            (self.part_key(name, head.generation, i), part)
            for name, parts in blobs.items()
            for i, part in enumerate(parts)
        ]
        try:
            self._send(records, f"parts of checkpoint {head.generation}")
            self._send(
                [(self.head_key(), head.to_bytes())], f"head of checkpoint {head.generation}"
            )
        except StateTopicError:
            self.orphans |= {key for key, _ in records}  # no head names them: tombstone later
            raise
        previous, self.head = self.head, head
        stale = (self.orphans | (set() if previous is None else self._part_keys(previous))) - (
            self._part_keys(head)
        )
        self.orphans = set()
        if stale:
            # a failure here leaves superseded parts behind: harmless, tombstoned next time
            try:
                self._send([(key, None) for key in sorted(stale)], "tombstones")
            except StateTopicError:
                self.orphans = stale

    def _send(self, records: list[tuple[bytes, bytes | None]], what: str) -> None:
        producer = self._producer
        if producer is None:
            producer = self._producer = Producer(
                {
                    "bootstrap.servers": self.settings.kafka_bootstrap,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "message.max.bytes": 1_000_000,
                }
            )
        errors: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        send: Callable[..., None] = producer.produce
        for key, value in records:
            while True:
                try:
                    send(self.topic, key=key, value=value, on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let it drain
                    producer.poll(0.5)
        remaining = producer.flush(self.timeout_s)
        if remaining or errors:
            raise StateTopicError(
                f"reconcile state topic {self.topic}: {what} not acknowledged "
                f"({remaining} pending, errors: {errors[:3]}); the previous checkpoint stays"
            )
