"""The registry's durable store: a single-partition compacted Kafka topic.

Changes are written to Kafka (acks=all, idempotent) and applied to memory only
after the broker acknowledged them, so an answer the registry gave survives a
restart. One registry process writes the topic (single writer); at start it
replays the topic to its end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamhub.log import get_logger
from streamhub.registry.errors import StorageError
from streamhub.registry.state import Record, RegistryState

log = get_logger(__name__)


def _encode(data: dict[str, Any] | None) -> bytes | None:
    if data is None:
        return None
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class KafkaLog:
    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 30.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
            }
        )

    def ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        metadata = admin.list_topics(timeout=self.timeout_s)
        if self.topic in metadata.topics:
            return
        replication = min(3, len(metadata.brokers))
        new = NewTopic(
            self.topic,
            num_partitions=1,
            replication_factor=replication,
            config={"cleanup.policy": "compact", "min.insync.replicas": "1"},
        )
        try:
            admin.create_topics([new])[self.topic].result(self.timeout_s)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StorageError(f"cannot create registry topic {self.topic}: {exc}") from exc
        self._wait_for_leader(admin)

    def _wait_for_leader(self, admin: AdminClient) -> None:
        """A just-created topic is not readable until its partition has a leader."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            topic = admin.list_topics(self.topic, timeout=self.timeout_s).topics.get(self.topic)
            partitions = topic.partitions if topic is not None and topic.error is None else {}
            if partitions and all(p.leader >= 0 for p in partitions.values()):
                return
            time.sleep(0.1)
        raise StorageError(
            f"registry topic {self.topic} has no partition leader after {self.timeout_s:.0f}s; "
            "check the broker log under <data_dir>/kafka/"
        )

    def replay(self) -> Iterable[Record]:
        """Every record from the start of the topic to its current end."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "streamhub-registry",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            partition = TopicPartition(self.topic, 0)
            low, high = consumer.get_watermark_offsets(partition, timeout=self.timeout_s)
            if high <= low:
                return
            consumer.assign([TopicPartition(self.topic, 0, low)])
            position = low
            while position < high:
                message = consumer.poll(self.timeout_s)
                if message is None:
                    raise StorageError(
                        f"registry topic {self.topic}: no data at offset {position} of {high} "
                        f"within {self.timeout_s}s; is the broker healthy?"
                    )
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        break
                    raise StorageError(f"registry topic {self.topic}: {error}")
                position = (message.offset() or position) + 1
                raw_key = message.key()
                if raw_key is None:
                    continue
                raw_value = message.value()
                yield json.loads(raw_key), (json.loads(raw_value) if raw_value else None)
        finally:
            consumer.close()

    def append(self, records: list[Record]) -> None:
        errors: list[str] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for key, value in records:
            self._producer.produce(
                self.topic, key=_encode(key), value=_encode(value), on_delivery=on_delivery
            )
        remaining = self._producer.flush(self.timeout_s)
        if remaining or errors:
            raise StorageError(
                f"registry topic {self.topic}: write not acknowledged "
                f"({remaining} pending, errors: {errors}); the change was not applied"
            )


class RegistryStore:
    """Thread-safe registry operations over the Kafka log."""

    def __init__(self, log_: KafkaLog) -> None:
        self._log = log_
        self._lock = threading.Lock()
        self.state = RegistryState()

    def load(self) -> int:
        self._log.ensure_topic()
        count = 0
        for key, value in self._log.replay():
            self.state.apply(key, value)
            count += 1
        log.info(
            "registry loaded",
            extra={"topic": self._log.topic, "records": count, "schemas": len(self.state.schemas)},
        )
        return count

    def _commit(self, records: list[Record]) -> None:
        if records:
            self._log.append(records)
            for key, value in records:
                self.state.apply(key, value)

    def register(self, subject: str, schema_text: str) -> tuple[int, int]:
        """(schema id, version) of the schema under the subject, registering it if new."""
        with self._lock:
            schema_id, record = self.state.plan_register(subject, schema_text)
            if record is not None:
                self._commit([record])
                log.info(
                    "schema registered",
                    extra={"subject": subject, "id": schema_id, "version": record[0]["version"]},
                )
                return schema_id, int(record[0]["version"])
            return schema_id, self.state.version_of(subject, schema_id)

    def delete(self, subject: str, version: str | int | None, permanent: bool) -> list[int]:
        with self._lock:
            records = self.state.plan_delete(subject, version, permanent)
            self._commit(records)
            return [int(key["version"]) for key, _ in records]

    def set_level(self, subject: str | None, level: str | None) -> None:
        with self._lock:
            self._commit([self.state.plan_level(subject, level)])
