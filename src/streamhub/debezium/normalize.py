"""The normalizing step: a Debezium connector's change topics → ``cdc.raw.<system>`` envelopes.

Debezium writes one topic per table (``<prefix>.<schema>.<table>``, JSON with schemas); the
standardizer reads the agent's Avro envelopes on ``cdc.raw.*``. The normalizer rewrites each
Debezium event through the agent's own envelope code (:mod:`streamhub.capture.envelope`
schemas registered per table and layout, :class:`~streamhub.capture.envelope_codec.EnvelopeEncoder`
bytes and message key), so a Debezium-captured source reaches the standardizer, the lander and
the reconciler exactly as an agent-captured one does (see docs/decisions/debezium.md, "One
envelope downstream").

Guarantees, from :class:`~streamhub.kafka.batch_loop.BatchLoop`: a batch's Debezium offsets
are committed only after every envelope and dead letter it produced was acknowledged by the
broker (at-least-once; the lander is idempotent on ``position_seq``). An event that cannot be
carried (undecodable value, truncate, no position) goes to ``dlq.capture`` with its original
bytes and the reason; tombstones are skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from confluent_kafka import Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture import envelope
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope_codec import EnvelopeEncoder
from streamhub.capture.model import TableInfo
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.dead_letter import DeadLetterRecord, Original, Placement
from streamhub.core.topic_names import DLQ_CAPTURE, HEARTBEAT
from streamhub.debezium.events import EventReader
from streamhub.debezium.heartbeat_watch import HeartbeatWatch
from streamhub.debezium.normalize_errors import EventError, NormalizeError
from streamhub.debezium.ops import Carried, Heartbeats, fetch_status
from streamhub.debezium.render import topic_prefix
from streamhub.kafka.batch_loop import BatchLoop, BatchLoopOptions
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.serde.errors import CorruptMessageError, IncompatibleSchemaError

log = get_logger(__name__)

DEAD_LETTER_SCHEMA: Final = "ops/dead_letter.avsc"
HEARTBEAT_SCHEMA: Final = "ops/heartbeat.avsc"


def topic_pattern(prefix: str) -> str:
    """The subscription (a librdkafka regex) of every change topic under ``prefix``."""
    return "^" + re.escape(prefix) + r"\..+"


def group_id(config: ConnectorConfig) -> str:
    return f"streamhub-debezium-normalize-{config.name}"


@dataclass(frozen=True, slots=True)
class Out:
    """One output message (the batch loop's ``Outgoing``)."""

    topic: str
    key: bytes | None
    value: bytes


class EnvelopeWriter:
    """The agent's envelope encoders for one connector, under schemas registered per layout."""

    def __init__(self, config: ConnectorConfig, serde: AvroSerde) -> None:
        self.config = config
        self.serde = serde
        self._encoders: dict[TableInfo, EnvelopeEncoder] = {}

    def encoder(self, table: TableInfo) -> EnvelopeEncoder:
        found = self._encoders.get(table)
        if found is not None:
            return found
        try:
            writer = self.serde.register(
                envelope.subject(self.config, table), envelope.envelope_schema(self.config, table)
            )
        except IncompatibleSchemaError as exc:
            raise EventError(
                f"table {table.full_name} changed in a way its Avro schema cannot follow "
                f"({exc}); re-snapshot the table under a fixed schema"
            ) from exc
        encoder = EnvelopeEncoder(self.config, table, writer.schema_id, writer.subject)
        self._encoders[table] = encoder
        return encoder


class Normalizer:
    """Turns batches of Debezium messages into envelopes and dead letters (pure but for the
    registry: the batch loop delivers and commits)."""

    def __init__(
        self,
        config: ConnectorConfig,
        serde: AvroSerde,
        dead_letter_writer: RegisteredWriter,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.clock = clock
        self.reader = EventReader()
        self.writer = EnvelopeWriter(config, serde)
        self.serde = serde
        self._letters = dead_letter_writer
        self.envelopes = 0
        self.dead_letters = 0
        self.tombstones = 0
        self.carried = Carried()  # what its heartbeats report

    @classmethod
    def from_settings(
        cls, settings: Settings, config: ConnectorConfig, clock: Clock = SYSTEM_CLOCK
    ) -> Normalizer:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        letters = serde.register(
            f"{DLQ_CAPTURE}-value",
            load_schema(settings.project_dir / "avro_schemas", DEAD_LETTER_SCHEMA),
        )
        return cls(config, serde, letters, clock)

    def handle(self, batch: list[Message]) -> Sequence[Out]:
        out: list[Out] = []
        for message in batch:
            out.extend(self.one(message))
        return out

    def one(self, message: Message) -> list[Out]:
        key, value = message.key(), message.value()
        try:
            decoded = self.reader.read(key, value)
            if decoded.event is None:
                self.tombstones += 1
                return []
            event = decoded.event
            encoder = self.writer.encoder(event.table)
            data = encoder.encode(event, now_ms(self.clock))
        except (EventError, CorruptMessageError) as exc:
            return [self._dead_letter(message, exc)]
        self.envelopes += 1
        self.carried.carried(event.commit_ts_ms, event.position)
        return [Out(self.config.topic, encoder.key(event), data)]

    def _dead_letter(self, message: Message, exc: Exception) -> Out:
        self.dead_letters += 1
        self.carried.rejected()
        where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
        error_type = getattr(exc, "error_type", type(exc).__name__)
        reason = (
            f"Debezium event {where} of connector {self.config.name} not carried: {exc}; "
            "it stays counted at the source (reconciliation shows it as rejected)"
        )
        log.warning(
            f"Debezium event sent to {DLQ_CAPTURE}",
            extra={"connector": self.config.name, "where": where, "error_type": error_type},
        )
        record = DeadLetterRecord(
            stage="capture",
            reason=reason,
            error_type=str(error_type),
            failed_ts_ms=now_ms(self.clock),
            institution_id=self.config.institution_id,
            table=None,
            original=Original(
                topic=message.topic(),
                partition=message.partition(),
                offset=message.offset(),
                key=message.key(),
                value=message.value(),
            ),
            placement=Placement(system=self.config.system),
        )
        key = message.key() or self.config.name.encode()
        return Out(DLQ_CAPTURE, key, self.serde.encode(self._letters, record.to_avro()))


def batch_loop(
    settings: Settings,
    config: ConnectorConfig,
    *,
    prefix: str | None = None,
    group: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[BatchLoop, Normalizer]:
    """The normalizer of one connector in a batch loop (commit after delivery)."""
    normalizer = Normalizer.from_settings(settings, config, clock)
    options = BatchLoopOptions(
        bootstrap=settings.kafka_bootstrap,
        group=group or group_id(config),
        topics=(topic_pattern(prefix or topic_prefix(config)),),
        max_messages=1000,
        within_s=0.1,
        # a topic Debezium creates later is picked up within this
        consumer_config={"topic.metadata.refresh.interval.ms": 5000},
        producer_config={"linger.ms": 20, "compression.type": "lz4"},
    )
    return BatchLoop(options, normalizer.handle, clock=clock), normalizer


def run(
    settings: Settings,
    configs: Sequence[ConnectorConfig],
    stop: threading.Event,
    *,
    prefixes: dict[str, str] | None = None,
) -> None:
    """Normalize every connector in ``configs`` (a thread each) until ``stop`` is set."""
    if not configs:
        raise NormalizeError("no Debezium connector to normalize")
    threads = []
    for config in configs:
        loop, _ = batch_loop(settings, config, prefix=(prefixes or {}).get(config.name))
        thread = threading.Thread(
            target=loop.run, args=(stop,), name=f"normalize-{config.name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def heartbeats(
    settings: Settings,
    carried: Sequence[tuple[ConnectorConfig, Carried]],
    connect_url: str,
    clock: Clock = SYSTEM_CLOCK,
) -> Heartbeats:
    """The ``ops.heartbeat`` writer of these connectors, asking Connect at ``connect_url``."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    writer = serde.register(
        f"{HEARTBEAT}-value", load_schema(settings.project_dir / "avro_schemas", HEARTBEAT_SCHEMA)
    )
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "linger.ms": 50,
            "acks": "all",
            "enable.idempotence": True,
        }
    )
    # Debezium's own heartbeats: a RUNNING task that cannot reach its source (heartbeat_watch)
    watch = HeartbeatWatch.from_bootstrap(settings.kafka_bootstrap, [c for c, _ in carried], clock)
    return Heartbeats(
        carried, producer, serde, writer, lambda name: fetch_status(connect_url, name), clock, watch
    )
