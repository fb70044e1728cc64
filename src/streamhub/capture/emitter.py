"""Everything a connector writes to Kafka, numbered for the acknowledgement tracker.

One producer per connector (idempotent, acks=all), so acknowledgements of one
connector never wait on another's. Change envelopes get their table's schema
registered once per column layout; ops records and dead letters use the
catalog's schemas.
"""

from __future__ import annotations

import json
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture import envelope
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.delivery import AckTracker
from streamhub.capture.errors import CaptureError, UnrepresentableChangeError
from streamhub.capture.model import RowEvent, TableInfo
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.serde.errors import IncompatibleSchemaError

OPS_SCHEMAS = {
    "ops.heartbeat": "ops/heartbeat.avsc",
    "ops.source_counts": "ops/source_counts.avsc",
    "dlq.capture": "ops/dead_letter.avsc",
}


def now_ms() -> int:
    return int(time.time() * 1000)


class Emitter:
    def __init__(self, settings: Settings, config: ConnectorConfig, tracker: AckTracker) -> None:
        self.config = config
        self.tracker = tracker
        self._require_topics(settings, [config.topic, *OPS_SCHEMAS])
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 200_000,
                "client.id": f"streamhub-capture-{config.name}",
            }
        )
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        self._tables: dict[tuple[str, str, str], RegisteredWriter] = {}
        self._ops = {
            topic: self.serde.register(
                f"{topic}-value", load_schema(settings.project_dir / "avro_schemas", path)
            )
            for topic, path in OPS_SCHEMAS.items()
        }
        self.bytes_out = 0

    @staticmethod
    def _require_topics(settings: Settings, topics: list[str]) -> None:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        existing = admin.list_topics(timeout=15).topics
        missing = [t for t in topics if t not in existing]
        if missing:
            raise CaptureError(
                f"topics {', '.join(missing)} do not exist at {settings.kafka_bootstrap}; "
                "create them with `streamhub topics apply`"
            )

    def writer_for(self, table: TableInfo) -> RegisteredWriter:
        """The table's registered schema for this column layout; registers a new version."""
        cache_key = (table.database, table.qualified, table.fingerprint())
        writer = self._tables.get(cache_key)
        if writer is None:
            try:
                writer = self.serde.register(
                    envelope.subject(self.config, table),
                    envelope.envelope_schema(self.config, table),
                )
            except IncompatibleSchemaError as exc:
                raise UnrepresentableChangeError(
                    f"connector {self.config.name}: table {table.database}.{table.qualified} "
                    f"changed in a way its Avro schema cannot follow ({exc}); its changes go to "
                    "dlq.capture until the table is re-snapshotted under a fixed schema"
                ) from exc
            self._tables[cache_key] = writer
        return writer

    def change(self, event: RowEvent) -> None:
        writer = self.writer_for(event.table)
        value = self.serde.encode(writer, envelope.envelope(self.config, event, now_ms()))
        self._send(self.config.topic, envelope.message_key(self.config, event), value)

    def dead_letter(
        self,
        *,
        reason: str,
        error_type: str,
        table: str | None,
        key: bytes | None,
        raw: bytes | None,
    ) -> None:
        record = {
            "stage": "capture",
            "reason": reason,
            "error_type": error_type,
            "institution_id": self.config.institution_id,
            "table": table,
            "original_topic": None,
            "original_partition": None,
            "original_offset": None,
            "original_key": key,
            "original_value": raw,
            "failed_ts_ms": now_ms(),
        }
        self._ops_record("dlq.capture", key or self.config.name.encode(), record)

    def ops(self, topic: str, key: dict[str, Any], record: dict[str, Any]) -> None:
        self._ops_record(topic, json.dumps(key, sort_keys=True).encode(), record)

    def _ops_record(self, topic: str, key: bytes, record: dict[str, Any]) -> None:
        self._send(topic, key, self.serde.encode(self._ops[topic], record))

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        number = self.tracker.next_number()
        tracker = self.tracker

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            tracker.acknowledged(number, None if err is None else str(err))

        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                self.producer.poll(0.1)
        self.bytes_out += len(value)

    def poll(self) -> None:
        self.producer.poll(0)

    def flush(self, timeout_s: float) -> int:
        return int(self.producer.flush(timeout_s))
