"""The Avro serde on confluent-kafka's in-memory registry client: framed round trips, one
registry look-up per schema (not per message), and its errors."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
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


STD_LIKE: dict[str, Any] = {
    "type": "record",
    "name": "Charge",
    "namespace": "streamhub.test",
    "fields": [
        {"name": "record_id", "type": "string"},
        {"name": "count", "type": ["null", "long"], "default": None},
        {"name": "value", "type": ["null", "double"], "default": None},
        {"name": "flag", "type": ["null", "boolean"], "default": None},
        {"name": "text", "type": ["null", "string"], "default": None},
        {
            "name": "amount",
            "type": [
                "null",
                {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
            ],
            "default": None,
        },
        {
            "name": "at",
            "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "default": None,
        },
        {"name": "on", "type": ["null", {"type": "int", "logicalType": "date"}], "default": None},
        {"name": "either", "type": ["null", "string", "long"], "default": None},
    ],
}
AT = datetime(2026, 3, 2, 8, 30, 15, 123000, tzinfo=UTC)


def _plain(record: dict[str, Any]) -> bytes:
    """What fastavro writes resolving every union itself."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(STD_LIKE), record)
    return out.getvalue()


def test_nullable_fields_name_their_branch_and_the_bytes_stay_fastavros() -> None:
    serde = AvroSerde(_Counting())
    writer = serde.register("charges-value", STD_LIKE)
    assert dict(writer.branches) == {
        "count": ("long", int),
        "value": ("double", float),
        "flag": ("boolean", bool),
        "text": ("string", str),
        "amount": ("bytes", Decimal),
        "at": ("long", datetime),
        "on": ("int", date),
    }  # a union of more than null and one type is left to fastavro
    records: list[dict[str, Any]] = [
        {"record_id": "r", "count": 3, "value": 1.5, "flag": True, "text": "文本",
         "amount": Decimal("12.30"), "at": AT, "on": date(2026, 3, 2), "either": 7},
        {"record_id": "r"},  # every nullable field left out
        {"record_id": "r", "count": None, "value": 2, "flag": False, "text": "",  # int: resolved
         "amount": Decimal("-0.01"), "at": AT.replace(tzinfo=None), "either": "x"},
        {"record_id": "r", "value": float("inf"), "amount": "not named", "at": 1_772_420_000_000},
    ]  # fmt: skip
    for record in records:
        try:
            expected: bytes | type[Exception] = writer.header + _plain(record)
        except (ValueError, TypeError):
            expected = CorruptMessageError
        if expected is CorruptMessageError:
            with pytest.raises(CorruptMessageError):
                serde.encode(writer, record)
        else:
            assert serde.encode(writer, record) == expected, record


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", True), ("count", "3"), ("flag", 1), ("amount", Decimal("1.234")), ("on", AT)],
)
def test_a_value_of_another_type_is_resolved_or_refused_as_fastavro_does(
    field: str, value: object
) -> None:
    serde = AvroSerde(_Counting())
    writer = serde.register("charges-value", STD_LIKE)
    record = {"record_id": "r", field: value}
    try:
        expected = writer.header + _plain(record)
    except (ValueError, TypeError):
        with pytest.raises(CorruptMessageError, match="subject charges-value"):
            serde.encode(writer, record)
        return
    assert serde.encode(writer, record) == expected
