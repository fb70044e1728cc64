"""The envelope encoder writes exactly the bytes fastavro writes for the envelope dict under
the registered schema, and exactly the message key of :func:`envelope.message_key`."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from streamhub.capture import envelope
from streamhub.capture.envelope_codec import EnvelopeEncoder
from streamhub.capture.model import ColumnInfo, Op, RowEvent, TableInfo, ValueKind
from streamhub.serde import wire
from streamhub.serde.avro_binary import long_bytes
from streamhub.serde.errors import CorruptMessageError

from .task_fakes import connector

NOW_MS = 1_764_000_000_123
SAMPLES: dict[ValueKind, list[object]] = {
    "int": [0, 1, -1, 63, 64, -64, -65, 2**31 - 1, -(2**31)],
    "long": [0, 300, -300, 2**40 + 7, 2**63 - 1, -(2**63), 1_764_000_000_123 << 20],
    "boolean": [True, False],
    "double": [0.0, -1.5, 1e300, float("inf"), 3],
    "decimal": [Decimal("12.30"), Decimal("-0.00"), Decimal("1E+3"), Decimal("1E-7"), "7.5"],
    "string": ["", "abc", "张三", '"quoted"\\', "x" * 300, Decimal("2.50")],
    "bytes": [b"", b"\x00\xff", bytearray(b"ab"), b"y" * 200],
    "date": [date(1970, 1, 1), date(1969, 12, 31), date(2026, 3, 2), datetime(2026, 3, 2, 9)],
    "local_timestamp_ms": [
        datetime(2026, 3, 2, 10, 0, 13, 924_000),
        datetime(1969, 12, 31, 23, 59, 59, 999_999),
        datetime(1900, 1, 1),
        datetime(1969, 12, 31, 23, 59, 59, 500),  # before the epoch, within a millisecond
        datetime(2026, 3, 2, 18, 0, 0, 999, tzinfo=timezone(timedelta(hours=8))),  # wall time
        datetime(9999, 12, 31, 23, 59, 59, 999_999),
        1_700_000_000_000,
    ],
    "timestamp_ms": [
        datetime(2026, 3, 2, 10, 0, 13, 924_500, tzinfo=UTC),
        datetime(2026, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_001, tzinfo=timezone(timedelta(hours=-5.5))),
        datetime(2026, 3, 2, 10, 0, 13, 924_999),  # naive: taken as UTC
        -5,
    ],
}


def table(kinds: list[ValueKind], schema: str | None = "public") -> TableInfo:
    columns = [ColumnInfo("id", "int8", "long", key=True, nullable=False)]
    columns += [ColumnInfo(f"c_{kind}", kind, kind) for kind in kinds]
    return TableInfo("his", schema, "sample", tuple(columns))


def fastavro_bytes(info: TableInfo, event: RowEvent, schema_id: int = 42) -> bytes:
    config = connector()
    parsed = fastavro.parse_schema(envelope.envelope_schema(config, info))
    buffer = io.BytesIO()
    buffer.write(wire.header(schema_id))
    fastavro.schemaless_writer(buffer, parsed, envelope.envelope(config, event, NOW_MS))
    return buffer.getvalue()


def encoder(info: TableInfo, schema_id: int = 42) -> EnvelopeEncoder:
    return EnvelopeEncoder(connector(), info, schema_id, "subject")


def change(info: TableInfo, op: Op, before: Any, after: Any, **extra: Any) -> RowEvent:
    fields: dict[str, Any] = {
        "position": "16/B374D848",
        "position_seq": (0x16_B374D848 << 20) | 3,
        "txid": "731",
        "commit_ts_ms": NOW_MS - 40,
        **extra,
    }
    return RowEvent(info, op, before, after, **fields)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_value_of_every_kind_encodes_as_fastavro_does(kind: ValueKind) -> None:
    info = table([kind])
    for n, value in enumerate([None, *SAMPLES[kind]]):
        event = change(info, "c", None, {"id": n, f"c_{kind}": value})
        assert encoder(info).encode(event, NOW_MS) == fastavro_bytes(info, event), value


def test_envelope_shapes_encode_as_fastavro_does() -> None:
    kinds: list[ValueKind] = ["string", "long", "decimal", "local_timestamp_ms", "boolean"]
    info = table(kinds)
    row = {"id": 5, "c_string": "李", "c_long": 9, "c_decimal": Decimal("3.10")}
    cases = [
        change(info, "c", None, row),
        change(info, "u", {"id": 5}, {**row, "c_boolean": True}),  # old key only
        change(info, "d", row, None, txid=None),
        change(info, "r", None, {"id": 6}, snapshot="last", position_seq=0),
        change(info, "u", None, row, position="0/0", commit_ts_ms=0),
    ]
    for event in cases:
        assert encoder(info).encode(event, NOW_MS) == fastavro_bytes(info, event)
    mysql = table(kinds, schema=None)  # no schema: the union's null branch
    event = change(mysql, "c", None, row, position="0-1-123", txid="0-1-123")
    assert encoder(mysql, 7).encode(event, NOW_MS) == fastavro_bytes(mysql, event, 7)


def test_the_envelope_decodes_to_what_was_captured() -> None:
    info = table(["string", "timestamp_ms"])
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    event = change(info, "c", None, {"id": 1, "c_string": "王", "c_timestamp_ms": at})
    body = encoder(info).encode(event, NOW_MS)[wire.HEADER_SIZE :]
    parsed = fastavro.parse_schema(envelope.envelope_schema(connector(), info))
    decoded = fastavro.schemaless_reader(io.BytesIO(body), parsed)
    assert decoded["after"] == {"id": 1, "c_string": "王", "c_timestamp_ms": at}
    assert decoded["source"]["position_seq"] == event.position_seq
    assert (decoded["op"], decoded["ts_ms"]) == ("c", NOW_MS)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("long", "12"),
        ("long", 2**63),
        ("int", 2**31),
        ("int", True),
        ("boolean", 1),
        ("string", 12),
        ("bytes", "ab"),
        ("double", "1.5"),
        ("local_timestamp_ms", date(2026, 3, 2)),
    ],
)
def test_a_value_that_does_not_fit_names_the_column_not_the_value(
    kind: ValueKind, value: object
) -> None:
    info = table([kind])
    event = change(info, "c", None, {"id": 1, f"c_{kind}": value})
    with pytest.raises(CorruptMessageError, match=f"column c_{kind}: a {type(value).__name__}"):
        encoder(info).encode(event, NOW_MS)
    with pytest.raises((ValueError, TypeError)):  # fastavro refuses it too
        fastavro_bytes(info, event)


def test_longs_are_zigzag_varints() -> None:
    assert long_bytes(0) == b"\x00"
    assert long_bytes(-1) == b"\x01"
    assert long_bytes(1) == b"\x02"
    assert long_bytes(64) == b"\x80\x01"
    assert long_bytes(-(2**63)) == b"\xff" * 9 + b"\x01"


@pytest.mark.parametrize(
    "key",
    [
        {"id": 7},
        {"id": -7, "code": 'a"b\\c\n张'},
        {"z_last": 1, "a_first": "x"},  # sorted by name, whatever the column order
        {"amount": Decimal("1.50"), "day": date(2026, 3, 2)},
        {"at": datetime(2026, 3, 2, 1, 2, 3), "raw": b"\x01\xab"},
        {"ratio": 0.1, "flag": True, "none": None},
    ],
)
def test_the_message_key_is_message_keys_canonical_json(key: dict[str, object]) -> None:
    columns = tuple(ColumnInfo(name, "t", "string", key=True) for name in key)
    info = TableInfo("his", "public", "患者", (*columns, ColumnInfo("other", "t", "string")))
    for event in (
        change(info, "c", None, {**key, "other": "x"}),
        change(info, "d", key, None),  # a delete's before image names the row
    ):
        assert encoder(info).key(event) == envelope.message_key(connector(), event)
