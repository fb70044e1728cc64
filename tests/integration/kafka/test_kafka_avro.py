"""Avro through the real broker and registry, and what bad bytes look like to a consumer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.serde import AvroSerde, CorruptMessageError, MessageRef, UnknownSchemaError, wire

HEARTBEAT_LIKE: dict[str, Any] = {
    "type": "record",
    "name": "Pulse",
    "namespace": "streamhub.test",
    "fields": [
        {"name": "connector", "type": "string"},
        {"name": "institution_id", "type": "string"},
        {"name": "lag_ms", "type": ["null", "long"], "default": None},
        {"name": "note", "type": "string"},
    ],
}


def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    for value in values:
        producer.produce(topic, key=b"k", value=value)
    assert producer.flush(30) == 0


def consume(settings: Settings, topic: str, count: int, group: str) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < count and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=count, timeout=1.0):
                assert message.error() is None, message.error()
                got.append(message)
    finally:
        consumer.close()
    assert len(got) == count, f"expected {count} messages from {topic}, got {len(got)}"
    return got


def where(message: Message) -> MessageRef:
    return MessageRef(message.topic(), message.partition(), message.offset())


def test_avro_round_trip_through_kafka_with_the_registry(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    topic = new_topic("avro")
    writer_serde = AvroSerde(registry)
    writer = writer_serde.register(f"{topic}-value", HEARTBEAT_LIKE)
    records = [
        {
            "connector": "his-1",
            "institution_id": "123502001549897397",
            "lag_ms": 12,
            "note": "门诊挂号 UTF-8",
        },
        {"connector": "his-1", "institution_id": "91350200776049653A", "lag_ms": None, "note": ""},
    ]
    produce(settings, topic, [writer_serde.encode(writer, r) for r in records])

    reader_serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    messages = consume(settings, topic, len(records), unique("g"))
    decoded = [reader_serde.decode(m.value(), where(m)) for m in messages]
    assert [d.value for d in decoded] == records
    assert {d.schema_id for d in decoded} == {writer.schema_id}


def test_unknown_schema_id_and_truncated_message_name_their_location(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    topic = new_topic("badbytes")
    serde = AvroSerde(registry)
    writer = serde.register(f"{topic}-value", HEARTBEAT_LIKE)
    good = serde.encode(
        writer,
        {
            "connector": "c",
            "institution_id": "i",
            "lag_ms": 1,
            "note": "a longer note so truncation cuts the body",
        },
    )
    unknown = wire.header(2_000_000_000) + good[wire.HEADER_SIZE :]
    produce(settings, topic, [unknown, good[:-7]])
    first, second = consume(settings, topic, 2, unique("g"))

    with pytest.raises(UnknownSchemaError) as missing:
        serde.decode(first.value(), where(first))
    assert f"topic {topic} partition 0 offset {first.offset()}" in str(missing.value)
    assert "2000000000" in str(missing.value)

    with pytest.raises(CorruptMessageError) as truncated:
        serde.decode(second.value(), where(second))
    assert f"topic {topic} partition 0 offset {second.offset()}" in str(truncated.value)
