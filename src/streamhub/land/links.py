"""What the lander talks to: ClickHouse, the Kafka consumer, the registry and its outbox.

:func:`open_links` opens the real ones (checking the database is migrated and registering
the schemas the lander writes); a test hands the :class:`~streamhub.land.lander.Lander` an
opener of fakes instead, and drives the same loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.errors import CatalogError
from streamhub.catalog.load import load_schema
from streamhub.core.clock import Clock
from streamhub.land.clickhouse import connect, table_columns
from streamhub.land.config import LanderConfig
from streamhub.land.errors import LandingFailedError, SchemaMismatchError
from streamhub.land.insert import ColumnWriter, ContextWriter
from streamhub.land.kafka_out import Outbox
from streamhub.land.targets import TARGETS
from streamhub.serde.avro_serde import AvroSerde, DecodedRecord, RegisteredWriter
from streamhub.serde.errors import SerdeError
from streamhub.serde.wire import MessageRef

SESSION_TIMEOUT_MS = 10_000

#: A consumer's rebalance callback (partitions assigned or revoked).
OnPartitions = Callable[[Consumer, list[TopicPartition]], None]


class Decoder(Protocol):
    def decode(
        self, data: bytes | memoryview, where: MessageRef | None = None
    ) -> DecodedRecord: ...


class Sender(Protocol):
    """The outbox: sends and waits until every message is acknowledged."""

    def send_all(
        self,
        writer: RegisteredWriter,
        topic: str,
        messages: list[tuple[bytes | None, dict[str, Any]]],
        timeout_s: float,
    ) -> None: ...

    def close(self) -> None: ...


@dataclass
class Links:
    client: Client
    consumer: Consumer  # subscribed to the routes' topics
    serde: Decoder
    outbox: Sender
    dlq_writer: RegisteredWriter
    counts_writer: RegisteredWriter
    # how the inserts reach ClickHouse; None: one plain client.insert each
    insert_writer: ColumnWriter | None = None


#: Opens the links for a config, with the lander's clock and rebalance callbacks.
Opener = Callable[[LanderConfig, Clock, OnPartitions, OnPartitions], Links]


def open_links(
    config: LanderConfig, clock: Clock, on_assign: OnPartitions, on_revoke: OnPartitions
) -> Links:
    client = connect(config.dsn, config.database)
    for target in {TARGETS[name] for name in config.routes.values()}:
        have = table_columns(client, config.database, target.table)
        missing = [c for c in target.columns if c not in have]
        if missing:
            raise SchemaMismatchError(
                f"{config.database}.{target.table} lacks column(s) {', '.join(missing)}; run "
                f"`streamhub clickhouse migrate --database {config.database}` first"
            )
    serde = AvroSerde(SchemaRegistryClient({"url": config.registry_url}))
    dlq_writer = _register(config, serde, config.dlq_topic, "ops/dead_letter.avsc")
    counts_writer = _register(config, serde, config.landed_counts_topic, "ops/landed_counts.avsc")
    outbox = Outbox(config.bootstrap, serde, clock)
    consumer = Consumer(
        {
            "bootstrap.servers": config.bootstrap,
            "group.id": config.group,
            "enable.auto.commit": False,  # commit only after ClickHouse stored the batch
            "auto.offset.reset": config.auto_offset_reset,
            "enable.partition.eof": False,
            # a lander killed with -9 holds its partitions until the broker drops it after the
            # session timeout: 10 s (librdkafka's default is 45 s), as the standardize loop's
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": SESSION_TIMEOUT_MS // 3,
        }
    )
    consumer.subscribe(list(config.routes), on_assign=on_assign, on_revoke=on_revoke)
    return Links(client, consumer, serde, outbox, dlq_writer, counts_writer, ContextWriter(client))


def _register(config: LanderConfig, serde: AvroSerde, topic: str, schema: str) -> RegisteredWriter:
    try:
        return serde.register(f"{topic}-value", load_schema(config.avro_dir, schema))
    except (SerdeError, CatalogError) as exc:
        raise LandingFailedError(f"registering the schema of {topic}: {exc}") from exc
