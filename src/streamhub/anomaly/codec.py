"""The anomaly stage's records on Kafka: Avro in (source counts, heartbeats), Avro out.

Inputs are decoded with their writer schema from the registry; ``ops.anomaly`` is written
with ``avro_schemas/ops/anomaly.avsc`` registered as ``ops.anomaly-value``, keyed
``institution|system|table`` (``*`` for a connector-wide anomaly) so one feed's story
stays in one partition, in order.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.anomaly.events import AnomalyEvent
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.topic_names import ANOMALY, HEARTBEAT, SOURCE_COUNTS
from streamhub.serde.avro_serde import AvroSerde
from streamhub.serde.wire import MessageRef

INPUT_TOPICS: tuple[str, ...] = (SOURCE_COUNTS, HEARTBEAT)


def anomaly_key(record: dict[str, Any]) -> bytes:
    return f"{record['institution_id']}|{record['system']}|{record['table'] or '*'}".encode()


def connector_of_key(key: bytes | None) -> str | None:
    """The connector named by a capture agent's ops key (JSON with ``connector``), if any.

    Lets a detector watching some connectors skip the others without decoding them.
    """
    if not key:
        return None
    try:
        document = json.loads(key)
    except ValueError:
        return None
    name = document.get("connector") if isinstance(document, dict) else None
    return name if isinstance(name, str) else None


class OpsCodec:
    """Decode ops inputs, encode anomaly events; one per thread (AvroSerde reuses a buffer)."""

    def __init__(self, settings: Settings) -> None:
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schema = load_schema(settings.project_dir / "avro_schemas", "ops/anomaly.avsc")
        self.writer = self.serde.register(f"{ANOMALY}-value", schema)

    def decode(self, value: bytes, where: MessageRef | None = None) -> dict[str, Any]:
        record: dict[str, Any] = self.serde.decode(value, where).value
        return record

    def encode(self, event: AnomalyEvent) -> tuple[bytes, bytes]:
        record = event.to_record()
        return anomaly_key(record), self.serde.encode(self.writer, record)
