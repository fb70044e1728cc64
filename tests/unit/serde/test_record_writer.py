"""The compiled record writer writes exactly fastavro's bytes, and hands fastavro every record
it does not write itself (same bytes, same errors), kind by kind and at the edges."""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fastavro
import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.catalog.load import load_schema
from streamhub.serde import AvroSerde
from streamhub.serde import record_writer as rw
from streamhub.serde.avro_binary import long_bytes
from streamhub.serde.avro_serde import RegisteredWriter, parse
from streamhub.serde.record_writer import compile_record

SCHEMAS = Path(__file__).resolve().parents[3] / "avro_schemas"

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Every",
    "namespace": "streamhub.test",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "l", "type": "long"},
        {"name": "i", "type": "int"},
        {"name": "b", "type": "boolean"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {
            "name": "amount",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
        },
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "ns", "type": ["null", "string"], "default": None},
        {"name": "nl", "type": ["null", "long"], "default": None},
        {"name": "nd", "type": ["null", "double"], "default": None},
        {
            "name": "nts",
            "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "default": None,
        },
        {
            "name": "namount",
            "type": [
                "null",
                {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
            ],
            "default": None,
        },
        {"name": "nday", "type": ["null", {"type": "int", "logicalType": "date"}], "default": None},
    ],
}
SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE: dict[str, Any] = {
    "s": "病人",
    "l": 7,
    "i": -3,
    "b": True,
    "d": 1.5,
    "by": b"\x00\xff",
    "ts": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    "day": date(2026, 3, 2),
    "amount": Decimal("12.30"),
    "tags": [],
    "ns": None,
    "nl": None,
    "nd": None,
    "nts": None,
    "namount": None,
    "nday": None,
}


@pytest.fixture
def serde_writer() -> tuple[AvroSerde, RegisteredWriter]:
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://record-writer"}))
    return serde, serde.register("every-value", SCHEMA)


def _fastavro(writer: RegisteredWriter, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, writer.parsed, record)
    return writer.header + out.getvalue()


def _variants() -> list[tuple[str, object]]:
    longs = [0, -1, 1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2**31 - 1, -(2**31), 2**62]
    longs += [2**63 - 1, -(2**63), 10**15]
    out: list[tuple[str, object]] = [("l", v) for v in longs] + [("nl", v) for v in longs]
    out += [("i", v) for v in (0, 1, -1, 2**31 - 1, -(2**31), 300)]
    out += [("s", v) for v in ("", "a", "x" * 63, "x" * 64, "é" * 40, "字" * 300, "\x00")]
    out += [("ns", v) for v in ("", "x" * 64, "病" * 22)]
    out += [("b", False), ("d", -0.0), ("d", math.inf), ("d", 1e300), ("nd", math.nan)]
    out += [("by", b""), ("by", bytes(range(256)))]
    stamps = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC),
        datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 30, 1, 123_999, tzinfo=SHANGHAI),
        datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    out += [("ts", v) for v in stamps] + [("nts", v) for v in stamps]
    days = [date(1970, 1, 1), date(1, 1, 1), date(9999, 12, 31), date(1969, 12, 31)]
    out += [("day", v) for v in days] + [("nday", v) for v in days]
    amounts = ["0", "0.00", "-0.01", "1", "127.99", "-128", "1234567890123456.78", "5E+3"]
    out += [("amount", Decimal(v)) for v in amounts] + [("namount", Decimal(v)) for v in amounts]
    out += [("tags", ["a"]), ("tags", ["规则", "", "x" * 70]), ("tags", ["t"] * 70)]
    return out


@pytest.mark.parametrize(("name", "value"), _variants())
def test_the_compiled_writer_writes_fastavros_bytes(
    serde_writer: tuple[AvroSerde, RegisteredWriter], name: str, value: object
) -> None:
    serde, writer = serde_writer
    record = {**BASE, name: value}
    assert writer.compiled is not None
    assert writer.header + writer.compiled.write(record) == _fastavro(writer, record)
    assert serde.encode(writer, record) == _fastavro(writer, record)


# values the compiled writer leaves to fastavro: converted its way, or refused its way
HANDED_OVER: list[tuple[str, object]] = [
    ("l", True),  # a bool for a long
    ("d", 3),  # an int for a double
    ("nd", 2),
    ("ts", 1_772_420_000_000),  # epoch ms for a timestamp
    ("ts", datetime(2026, 3, 2, 9, 30)),  # naive
    ("nts", datetime(2026, 3, 2, 9, 30)),
    ("day", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),  # a datetime for a date
    ("day", 20_000),
    ("i", 2**31),  # out of int range
    ("l", 2**63),
    ("s", 5),
    ("s", None),
    ("ns", "\ud800"),  # a lone surrogate
    ("amount", Decimal("1.234")),  # more scale than the schema's
    ("amount", Decimal("NaN")),
    ("amount", "12.30"),
    ("tags", ("a", "b")),  # a tuple for an array
    ("tags", ["a", 1]),
    ("b", 1),
]


def _outcome(serde: AvroSerde, writer: RegisteredWriter, record: dict[str, Any]) -> object:
    try:
        return serde.encode(writer, record)
    except Exception as exc:
        return type(exc), str(exc)


@pytest.mark.parametrize(("name", "value"), HANDED_OVER)
def test_what_it_does_not_write_fastavro_writes_or_refuses(
    serde_writer: tuple[AvroSerde, RegisteredWriter], name: str, value: object
) -> None:
    serde, writer = serde_writer
    record = {**BASE, name: value}
    compiled = _outcome(serde, writer, record)
    object.__setattr__(writer, "compiled", None)  # the serde without the compiled writer
    assert compiled == _outcome(serde, writer, record)
    if isinstance(compiled, bytes):
        assert compiled == _fastavro(writer, record)


def test_a_missing_field_gets_fastavros_default_and_an_extra_one_is_ignored(
    serde_writer: tuple[AvroSerde, RegisteredWriter],
) -> None:
    serde, writer = serde_writer
    missing = {k: v for k, v in BASE.items() if k != "ns"}
    assert serde.encode(writer, missing) == _fastavro(writer, missing)
    extra = {**BASE, "unknown": 1}
    assert serde.encode(writer, extra) == _fastavro(writer, extra)


def test_schemas_it_cannot_write_are_not_compiled() -> None:
    def record(kind: object) -> Any:
        return fastavro.parse_schema(
            {"type": "record", "name": "R", "fields": [{"name": "f", "type": kind}]}
        )

    assert compile_record(record("string")) is not None
    assert compile_record(record(["string", "null"])) is None  # null not first
    assert compile_record(record(["null", "string", "long"])) is None
    assert compile_record(record({"type": "enum", "name": "E", "symbols": ["a"]})) is None
    assert compile_record(record({"type": "map", "values": "string"})) is None
    assert compile_record(record({"type": "array", "items": "long"})) is None
    assert compile_record(record({"type": "long", "logicalType": "timestamp-micros"})) is None
    assert compile_record(fastavro.parse_schema("string")) is None


def test_long_bytes_is_avros_zigzag_varint() -> None:
    for value in (0, -1, 1, 64, -65, 2**20, -(2**40), 2**63 - 1, -(2**63)):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, "long", value)
        assert long_bytes(value) == out.getvalue()


SAMPLES: dict[int, list[object]] = {
    rw.STRING: ["", "his", "病人" * 40],
    rw.LONG: [0, -1, 2**40, -(2**63)],
    rw.INT: [0, 5, -(2**31)],
    rw.BOOLEAN: [True, False],
    rw.DOUBLE: [0.0, -2.5],
    rw.BYTES: [b"", b"\x00raw envelope\xff" * 9],
    rw.TIMESTAMP: [datetime(2026, 3, 2, 9, 30, 0, 1500, tzinfo=UTC)],
    rw.DATE: [date(2026, 3, 2)],
    rw.DECIMAL: [Decimal("12.30")],
    rw.STRINGS: [[], ["a", "规则"]],
}


@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(SCHEMAS)) for p in SCHEMAS.rglob("*.avsc"))
)
def test_every_project_schema_that_compiles_is_written_as_fastavro_writes_it(path: str) -> None:
    parsed = parse(load_schema(SCHEMAS, path))
    compiled = compile_record(parsed)
    if compiled is None:
        return  # fastavro writes its records
    for turn in range(4):
        record: dict[str, Any] = {}
        for n, (name, kind, nullable, _) in enumerate(compiled.fields):
            choices = SAMPLES[kind]
            record[name] = (
                None if nullable and (n + turn) % 3 == 0 else choices[turn % len(choices)]
            )
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        assert compiled.write(record) == out.getvalue()
