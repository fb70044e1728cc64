"""Detector snapshots on a compacted Kafka topic (``_anomaly_state.<group>``), one partition.

The running app writes one every ``--snapshot-interval`` (:mod:`.app`); the warm start
reads the latest back (:mod:`.startup`). Compaction keeps the latest record per key: a
manifest, and per connector one record in each of two generations, written alternately,
so a write cut short by a crash leaves the previous snapshot whole (its manifest is
written last). Values are zlib-compressed JSON (:mod:`.state`): the app's own state, not
a contract with consumers.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.anomaly.errors import SnapshotError
from streamhub.anomaly.state import Record, Snapshot, decode, encode
from streamhub.kafka.topics import ensure_topic, wait_for_leaders

STATE_TOPIC = "_anomaly_state"


def state_topic_of(group: str) -> str:
    """The default snapshot topic of an anomaly group: a snapshot belongs to one group."""
    return f"{STATE_TOPIC}.{group}"


MAX_RECORD_BYTES = 8 * 1024 * 1024  # a connector with hundreds of tables fits


class SnapshotLog:
    def __init__(self, bootstrap: str, topic: str = STATE_TOPIC, timeout_s: float = 60.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self.generation = 0  # of the snapshot read or written last
        self._producer: Producer | None = None

    def ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        config = {
            "cleanup.policy": "compact",
            "max.message.bytes": str(MAX_RECORD_BYTES),
        }
        try:
            created = ensure_topic(admin, self.topic, config=config, timeout_s=self.timeout_s)
        except KafkaException as exc:
            raise SnapshotError(f"cannot create snapshot topic {self.topic}: {exc}") from exc
        if created and not wait_for_leaders(admin, self.topic, self.timeout_s):
            raise SnapshotError(f"snapshot topic {self.topic} has no partition leader yet")

    @property
    def next_generation(self) -> int:
        """The generation the next snapshot is written in (not the current one's)."""
        return 1 - self.generation

    def write(self, snapshot: Snapshot) -> int:
        """Write ``snapshot`` (acknowledged by the broker before returning); its bytes."""
        generation = self.next_generation
        return self.write_records(encode(snapshot, generation), generation)

    def write_records(self, records: list[Record], generation: int) -> int:
        """Write a snapshot's records (:func:`~.state.records_of`, manifest last) of
        ``generation``; acknowledged before returning; their bytes."""
        self.ensure_topic()
        producer = self._producer or Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "message.max.bytes": MAX_RECORD_BYTES,
            }
        )
        self._producer = producer
        errors: list[str] = []

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        for key, value in records:
            producer.produce(self.topic, key=key, value=value, on_delivery=delivered)
            producer.poll(0)
        remaining = producer.flush(self.timeout_s)
        if remaining or errors:
            raise SnapshotError(
                f"snapshot topic {self.topic}: {remaining} records unacknowledged, errors "
                f"{errors[:3]}; the previous snapshot stays the one a restart reads"
            )
        self.generation = generation
        return sum(len(k) + len(v) for k, v in records)

    def read_latest(self) -> Snapshot | None:
        """The snapshot the topic's manifest names; None when the topic holds none (or does
        not exist: it is made by the first write, not by a read)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        try:
            if self.topic not in admin.list_topics(timeout=self.timeout_s).topics:
                return None
        except KafkaException as exc:
            raise SnapshotError(f"cannot list topics to find {self.topic}: {exc}") from exc
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "streamhub-anomaly-state-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.max.bytes": 4 * MAX_RECORD_BYTES,
                "max.partition.fetch.bytes": MAX_RECORD_BYTES,
            }
        )
        records: list[Record] = []
        try:
            partition = TopicPartition(self.topic, 0)
            low, high = consumer.get_watermark_offsets(partition, timeout=self.timeout_s)
            if high <= low:
                return None
            consumer.assign([TopicPartition(self.topic, 0, low)])
            position = low
            deadline = time.monotonic() + self.timeout_s
            while position < high:
                # short waits: consume(n, timeout) waits out its timeout for n messages
                batch = consumer.consume(500, timeout=0.2)
                if not batch and time.monotonic() > deadline:
                    raise SnapshotError(
                        f"snapshot topic {self.topic}: no data at offset {position} of {high} "
                        f"within {self.timeout_s:.0f}s; is the broker healthy?"
                    )
                for message in batch:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            position = high
                            continue
                        raise SnapshotError(f"snapshot topic {self.topic}: {error}")
                    position = (message.offset() or 0) + 1
                    key, value = message.key(), message.value()
                    if key is not None and value is not None:
                        records.append((key, value))
        finally:
            consumer.close()
        if not records:
            return None
        snapshot = decode(records)
        self.generation = snapshot.generation
        return snapshot

    def delete_topic(self) -> None:
        """Remove the topic (benchmarks and tests that made their own)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.delete_topics([self.topic])[self.topic].result(self.timeout_s)
