"""Building std records, producing them framed, reading them back."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.avro_schema import std_schema
from streamhub.standardize.model import StdRecord

HOSPITAL = "123502001549897397"


def record(model: type[StdRecord], key: str, seq: int, **fields: Any) -> StdRecord:
    """A std record with plausible base fields; ``key`` is the source primary key."""
    now = datetime.now(UTC)
    institution = fields.pop("institution_id", HOSPITAL)
    deleted = fields.pop("deleted", False)
    base: dict[str, Any] = {
        "record_id": fields.pop(
            "record_id",
            hashlib.sha256(f"{institution}|his|{model.entity}|{key}".encode()).hexdigest()[:32],
        ),
        "institution_id": institution,
        "source_system": "his",
        "source_database": "his",
        "source_table": f"public.{model.entity}",
        "source_key": f'{{"id":"{key}"}}',
        "operation": "d" if deleted else ("c" if seq % 10 == 0 else "u"),
        "deleted": deleted,
        "source_position": f"0/{seq:X}",
        "source_position_seq": seq,
        "commit_time": fields.pop("commit_time", now),
        "received_time": now,
        "standardized_time": now,
        "profile": "test@1",
    }
    return model(**base, **fields)


def avro_value(rec: StdRecord) -> dict[str, Any]:
    return rec.model_dump()


class StdProducer:
    """Produces std records of one model to one topic, Confluent-framed."""

    def __init__(self, bootstrap: str, registry: SchemaRegistryClient) -> None:
        self.serde = AvroSerde(registry)
        self.producer = Producer({"bootstrap.servers": bootstrap})

    def encode(self, topic: str, rec: StdRecord) -> bytes:
        writer = self.serde.register(f"{topic}-value", std_schema(type(rec)))
        return self.serde.encode(writer, avro_value(rec))

    def send(self, topic: str, rec: StdRecord) -> None:
        self.send_raw(topic, rec.record_id.encode(), self.encode(topic, rec))

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.produce(topic, key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, serde: AvroSerde, group: str) -> list[dict[str, Any]]:
    """Every record on ``topic`` (one pass from the beginning), decoded."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    out: list[dict[str, Any]] = []
    try:
        eof = 0
        while eof == 0:
            msg = consumer.poll(10)
            assert msg is not None, f"no end of {topic} within 10 s"
            if msg.error():
                eof += 1
                continue
            out.append(serde.decode(msg.value()).value)
    finally:
        consumer.close()
    return out
