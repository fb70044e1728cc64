"""Everything a connector writes to Kafka, numbered for the acknowledgement tracker.

One producer per connector (idempotent, acks=all), so acknowledgements of one
connector never wait on another's. Change envelopes get their table's schema
registered once per column layout; ops records and dead letters use the
catalog's schemas.

A change whose envelope Kafka would refuse for its size (over the connector's
``max_message_bytes``, checked before producing, or refused by the broker with
MSG_SIZE_TOO_LARGE) goes to dlq.capture instead, under the change's own ack number:
the checkpoint passes it only once the dead letter is acknowledged (at-least-once),
and the connector goes on with the next change instead of restarting forever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture import envelope
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.delivery import AckTracker
from streamhub.capture.envelope_codec import EnvelopeEncoder
from streamhub.capture.errors import CaptureError, UnrepresentableChangeError
from streamhub.capture.model import Op, RowEvent, TableInfo
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.dead_letter import DeadLetterRecord, Original, Placement
from streamhub.core.topic_names import DLQ_CAPTURE, HEARTBEAT, SOURCE_COUNTS
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.serde.errors import IncompatibleSchemaError

OPS_SCHEMAS = {
    HEARTBEAT: "ops/heartbeat.avsc",
    SOURCE_COUNTS: "ops/source_counts.avsc",
    DLQ_CAPTURE: "ops/dead_letter.avsc",
}


log = get_logger(__name__)

# what the record batch adds to key + value on the wire (batch header, record varints): a
# margin, so that an envelope passing the check is not refused by the producer after all
RECORD_OVERHEAD_BYTES = 512
MAX_TABLE_OBJECTS = 1024  # encoders kept by TableInfo object before the map starts afresh

Delivered = Callable[[KafkaError | None, Message], None]
# builds the dead letter (key, value) for a change Kafka refused for its size, given why
Refusal = Callable[[str], tuple[bytes, bytes]]


# how a capture agent's producer delivers: idempotent, every replica acknowledges, batched
DELIVERY: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "compression.type": "lz4",
}


_registries: dict[str, SchemaRegistryClient] = {}
_registries_lock = threading.Lock()


def registry_client(url: str) -> SchemaRegistryClient:
    """The process's client of the registry at ``url``, made once: each client builds a TLS
    context (about 50 ms of CPU and 2 MB), and one serves every connector's thread (its
    caches take locks, its HTTP pool too). Each emitter keeps its own AvroSerde."""
    with _registries_lock:
        client = _registries.get(url)
        if client is None:
            client = _registries[url] = SchemaRegistryClient({"url": url})
        return client


class Emitter:
    clock: Clock = SYSTEM_CLOCK  # stamps envelopes and letters; flush's deadline

    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        tracker: AckTracker,
        clock: Clock = SYSTEM_CLOCK,
        *,
        producer: Producer | None = None,
        serde: AvroSerde | None = None,
    ) -> None:
        """``producer`` and ``serde`` may be shared by many connectors' emitters in one process
        (the fleet source); the caller has then checked the topics and flushes the producer."""
        self.config = config
        self.tracker = tracker
        self.clock = clock
        if producer is not None:
            self.producer = producer
        else:
            self._require_topics(settings, [config.topic, *OPS_SCHEMAS])
            self.producer = self._own_producer(settings, config)
        self.serde = serde or AvroSerde(registry_client(settings.registry_url))
        self._tables: dict[tuple[str, str, str], RegisteredWriter] = {}
        # a table's encoder, by the TableInfo object the readers hand out (held in the
        # entry, so its id stays its own); equal layouts share one encoder
        self._encoders: dict[int, tuple[TableInfo, EnvelopeEncoder]] = {}
        self._layouts: dict[tuple[str, str, str], EnvelopeEncoder] = {}
        self._ops = {
            topic: self.serde.register(
                f"{topic}-value", load_schema(settings.project_dir / "avro_schemas", path)
            )
            for topic, path in OPS_SCHEMAS.items()
        }
        self.bytes_out = 0
        self.max_message_bytes = config.max_message_bytes
        self.oversized_total = 0  # changes sent to dlq.capture for their size
        # dead letters of changes the broker refused for their size, with their ack callback
        self._refused: list[tuple[bytes, bytes, Delivered]] = []

    @staticmethod
    def _own_producer(settings: Settings, config: ConnectorConfig) -> Producer:
        return Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                **DELIVERY,
                # what may wait in the producer (bytes and messages): the agent's memory
                # beyond its idle size is mostly this, whatever the size of a transaction
                "queue.buffering.max.messages": 100_000,
                "queue.buffering.max.kbytes": 65_536,
                "message.max.bytes": config.max_message_bytes,
                "client.id": f"streamhub-capture-{config.name}",
            }
        )

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
                    f"{DLQ_CAPTURE} until the table is re-snapshotted under a fixed schema"
                ) from exc
            self._tables[cache_key] = writer
        return writer

    def encoder_for(self, table: TableInfo) -> EnvelopeEncoder:
        """The table's envelope encoder under its registered schema (registers a version)."""
        entry = self._encoders.get(id(table))
        if entry is not None:
            return entry[1]
        writer = self.writer_for(table)
        layout = (table.database, table.qualified, table.fingerprint())
        encoder = self._layouts.get(layout)
        if encoder is None or encoder.schema_id != writer.schema_id:
            encoder = EnvelopeEncoder(self.config, table, writer.schema_id, writer.subject)
            self._layouts[layout] = encoder
        if len(self._encoders) >= MAX_TABLE_OBJECTS:  # readers describe tables anew on restart
            self._encoders.clear()
        self._encoders[id(table)] = (table, encoder)
        return encoder

    def change(self, event: RowEvent) -> None:
        encoder = self.encoder_for(event.table)
        value = encoder.encode(event, now_ms(self.clock))
        key = encoder.key(event)
        # what a dead letter needs, kept while the change is in flight instead of the change
        # itself: its row images would stay in memory with every message in the queue
        refused: Refusal = partial(
            self._refused_change,
            event.table,
            event.op,
            event.position,
            event.position_seq,
            event.commit_ts_ms,
            key,
            len(value),
        )
        size = len(key) + len(value) + RECORD_OVERHEAD_BYTES
        if size > self.max_message_bytes:
            number = self.tracker.next_number()
            self._produce(DLQ_CAPTURE, *refused("over the limit"), self._acknowledge(number))
            return
        self._send(self.config.topic, key, value, refused)

    def _refused_change(
        self,
        table: TableInfo,
        op: Op,
        position: str,
        position_seq: int,
        commit_ts_ms: int,
        key: bytes,
        size: int,
        why: str,
    ) -> tuple[bytes, bytes]:
        placed = RowEvent(table, op, None, None, position, position_seq, None, commit_ts_ms)
        return self._oversized_letter(placed, key, size, why)

    def _oversized_letter(
        self, event: RowEvent, key: bytes, size: int, why: str
    ) -> tuple[bytes, bytes]:
        """The dead letter of a change too large for Kafka; the reason names table, key, size
        and limit, never a row value, and the envelope itself is left out (it cannot fit)."""
        table = f"{event.table.database}.{event.table.qualified}"
        limit = self.max_message_bytes
        self.oversized_total += 1
        log.error(
            f"change too large for Kafka: sent to {DLQ_CAPTURE}",
            extra={
                "connector": self.config.name,
                "institution": self.config.institution_id,
                "table": table,
                "bytes": size,
                "limit": limit,
            },
        )
        reason = (
            f"change too large for Kafka: {event.op} of {table} at {event.position}, key "
            f"{key.decode(errors='replace')}: the envelope has {size} bytes, {why} "
            f"(limit: max_message_bytes {limit}); "
            "original_value omitted (it does not fit either), original_key kept; the change is "
            "counted at the source; raise max_message_bytes in the connector file and the raw "
            "topic's max.message.bytes, then re-snapshot the row"
        )
        record = DeadLetterRecord(
            stage="capture",
            reason=reason,
            error_type="MessageTooLarge",
            failed_ts_ms=now_ms(self.clock),
            institution_id=self.config.institution_id,
            table=table,
            original=Original(topic=self.config.topic, key=key),
            # with original_key (the row key), what the reconciler needs to compute the
            # change's version and count it once as rejected: no identity key here
            placement=Placement(
                system=self.config.system,
                database=event.table.database,
                commit_ts_ms=event.commit_ts_ms,
                position_seq=event.position_seq,
            ),
        )
        return key, self.serde.encode(self._ops[DLQ_CAPTURE], record.to_avro())

    def dead_letter(
        self,
        *,
        reason: str,
        error_type: str,
        table: str | None,
        key: bytes | None,
        raw: bytes | None,
    ) -> None:
        record = DeadLetterRecord(
            stage="capture",
            reason=reason,
            error_type=error_type,
            failed_ts_ms=now_ms(self.clock),
            institution_id=self.config.institution_id,
            table=table,
            original=Original(key=key, value=raw),
        )
        self._ops_record(DLQ_CAPTURE, key or self.config.name.encode(), record.to_avro())

    def ops(self, topic: str, key: dict[str, Any], record: dict[str, Any]) -> None:
        self._ops_record(topic, json.dumps(key, sort_keys=True).encode(), record)

    def _ops_record(self, topic: str, key: bytes, record: dict[str, Any]) -> None:
        self._send(topic, key, self.serde.encode(self._ops[topic], record))

    def _acknowledge(self, number: int) -> Delivered:
        return partial(self._delivered, number)

    def _delivered(self, number: int, err: KafkaError | None, _msg: Message) -> None:
        self.tracker.acknowledged(number, None if err is None else str(err))

    def _change_delivered(
        self, number: int, refused: Refusal, err: KafkaError | None, msg: Message
    ) -> None:
        if err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
            # the broker's (topic's) limit is below ours: the letter stands for the change,
            # sent from the next poll/flush, not from inside librdkafka's callback
            why = "refused by the broker: the topic's max.message.bytes is lower"
            self._refused.append((*refused(why), self._acknowledge(number)))
            return
        self._delivered(number, err, msg)

    def _send(self, topic: str, key: bytes, value: bytes, refused: Refusal | None = None) -> None:
        """Produce under the next ack number; with ``refused``, a size refusal sends the dead
        letter it builds instead, and the number is acknowledged when the letter is."""
        number = self.tracker.next_number()
        # one partial per message, called back once: no closures built per change
        delivered: Delivered = (
            partial(self._delivered, number)
            if refused is None
            else partial(self._change_delivered, number, refused)
        )
        try:
            self._produce(topic, key, value, delivered)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            too_large = isinstance(error, KafkaError) and (
                error.code() == KafkaError.MSG_SIZE_TOO_LARGE
            )
            if refused is None or not too_large:
                raise
            self._produce(
                DLQ_CAPTURE, *refused("refused by the producer"), self._acknowledge(number)
            )
            return
        self.bytes_out += len(value)

    def _produce(self, topic: str, key: bytes, value: bytes, delivered: Delivered) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                self.producer.poll(0.1)

    def _send_refused(self) -> None:
        while self._refused:
            key, letter, acknowledge = self._refused.pop(0)
            self._produce(DLQ_CAPTURE, key, letter, acknowledge)

    def poll(self) -> None:
        self.producer.poll(0)
        self._send_refused()

    def flush(self, timeout_s: float) -> int:
        deadline = self.clock.monotonic() + timeout_s
        left = int(self.producer.flush(timeout_s))
        while self._refused and self.clock.monotonic() < deadline:  # refusals just seen
            self._send_refused()
            left = int(self.producer.flush(max(0.0, deadline - self.clock.monotonic())))
        return left + len(self._refused)
