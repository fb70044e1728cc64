"""The Avro serde on confluent-kafka's in-memory registry client: framed round trips, one
registry look-up per schema (not per message), and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.serde import (
    AvroSerde,
    CorruptMessageError,
    MessageRef,
    UnknownSchemaError,
    UnsupportedWireFormatError,
    wire,
)

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Thing",
    "namespace": "streamhub.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"], "default": None},
    ],
}


class _Counting(MockSchemaRegistryClient):
    """The in-memory registry, counting the serde's look-ups by id."""

    def __init__(self) -> None:
        super().__init__({"url": "mock://serde"})
        self.lookups = 0

    def get_schema(self, schema_id: int, *args: Any, **kwargs: Any) -> Schema:
        self.lookups += 1
        return super().get_schema(schema_id, *args, **kwargs)


def test_a_registered_writer_frames_its_records_with_its_header() -> None:
    serde = AvroSerde(_Counting())
    writer = serde.register("things-value", SCHEMA)
    assert writer.header == wire.header(writer.schema_id)
    data = serde.encode(writer, {"id": 7, "name": "x"})
    assert data[:5] == writer.header
    decoded = serde.decode(data)
    assert (decoded.schema_id, decoded.value) == (writer.schema_id, {"id": 7, "name": "x"})
    assert serde.register("things-value", dict(SCHEMA)) is writer  # cached per subject+schema


def test_a_reader_asks_the_registry_once_per_schema_id_not_per_message() -> None:
    registry = _Counting()
    writer = AvroSerde(registry).register("things-value", SCHEMA)
    messages = [AvroSerde(registry).encode(writer, {"id": n, "name": None}) for n in range(50)]
    reader = AvroSerde(registry)
    assert [reader.decode(m).value["id"] for m in messages] == list(range(50))
    assert registry.lookups == 1


def test_decode_errors_name_the_message() -> None:
    serde = AvroSerde(_Counting())
    writer = serde.register("things-value", SCHEMA)
    good = serde.encode(writer, {"id": 1, "name": "x"})
    where = MessageRef("cdc.raw.his", 2, 9)
    with pytest.raises(CorruptMessageError, match="partition 2 offset 9: 1 bytes left"):
        serde.decode(good + b"\x00", where)
    with pytest.raises(CorruptMessageError, match="does not decode"):
        serde.decode(good[:-2], where)
    with pytest.raises(UnsupportedWireFormatError):
        serde.decode(b"\x01" + good[1:], where)
    with pytest.raises(UnknownSchemaError, match="schema id 4242"):
        serde.decode(wire.header(4242) + good[5:], where)


def test_a_record_that_does_not_match_its_schema_is_refused_naming_the_subject() -> None:
    serde = AvroSerde(_Counting())
    writer = serde.register("things-value", SCHEMA)
    with pytest.raises(CorruptMessageError, match="subject things-value"):
        serde.encode(writer, {"id": "seven"})
