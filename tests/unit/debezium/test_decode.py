"""Debezium's column encodings decode to the values the agent's envelopes carry.

Samples are written from Debezium's documentation of its type mappings (PostgreSQL, MySQL,
Oracle, SQL Server connectors: literal type, semantic name, and how the value is written by
Connect's JsonConverter with schemas), each with the value it stands for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from streamhub.debezium.decode import ColumnDecoder, column_decoder, decode_row, time_of_day
from streamhub.debezium.normalize_errors import UndecodableValueError

# 2026-03-02T08:30:00.123456 in the units Debezium writes
DAYS = 20514
MS = 1_772_440_200_123
US = 1_772_440_200_123_456
NS = 1_772_440_200_123_456_789
WALL = datetime(2026, 3, 2, 8, 30, 0, 123_456)
WALL_MS = datetime(2026, 3, 2, 8, 30, 0, 123_000)


def schema(
    field: str, literal: str, semantic: str | None = None, optional: bool = True, **params: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": literal, "optional": optional, "field": field}
    if semantic is not None:
        out["name"] = semantic
        out["version"] = 1
    if params:
        out["parameters"] = params
    return out


def decimal(field: str, scale: int, precision: int | None = None) -> dict[str, Any]:
    params = {"scale": str(scale)}
    if precision is not None:
        params["connect.decimal.precision"] = str(precision)
    return schema(field, "bytes", "org.apache.kafka.connect.data.Decimal", **params)


def decoded(field: dict[str, Any], value: object) -> tuple[str, object]:
    column = column_decoder(field)
    return column.kind, column.value(value)


# (what the docs name, Connect schema, JSON value, value kind, decoded value)
POSTGRES = [
    ("boolean", schema("b", "boolean"), True, "boolean", True),
    ("smallint", schema("s", "int16"), -3, "int", -3),
    ("integer", schema("i", "int32"), 2**31 - 1, "int", 2**31 - 1),
    ("bigint", schema("l", "int64"), 2**62, "long", 2**62),
    ("real", schema("r", "float32"), Decimal("1.5"), "double", 1.5),
    ("double precision", schema("d", "float64"), Decimal("-2.25"), "double", -2.25),
    ("numeric(10,2) precise", decimal("fee", 2, 10), "BM4=", "decimal", Decimal("12.30")),
    ("numeric(10,2) zero", decimal("fee", 2, 10), "AA==", "decimal", Decimal("0.00")),
    (
        "numeric without modifier: VariableScaleDecimal",
        schema("n", "struct", "io.debezium.data.VariableScaleDecimal"),
        {"scale": 3, "value": "MDk="},
        "decimal",
        Decimal("12.345"),
    ),
    (
        "numeric, decimal.handling.mode=double",
        schema("n", "float64"),
        Decimal("12.3"),
        "double",
        12.3,
    ),
    ("numeric, decimal.handling.mode=string", schema("n", "string"), "12.30", "string", "12.30"),
    ("money", decimal("m", 2), "HoQc", "decimal", Decimal("19999.00")),
    ("date", schema("d", "int32", "io.debezium.time.Date"), DAYS, "date", date(2026, 3, 2)),
    (
        "time(3)",
        schema("t", "int32", "io.debezium.time.Time"),
        30_600_123,
        "string",
        "08:30:00.123000",
    ),
    (
        "time(6)",
        schema("t", "int64", "io.debezium.time.MicroTime"),
        30_600_000_000,
        "string",
        "08:30:00",
    ),
    (
        "timestamp(3)",
        schema("ts", "int64", "io.debezium.time.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    (
        "timestamp(6)",
        schema("ts", "int64", "io.debezium.time.MicroTimestamp"),
        US,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "timestamptz",
        schema("tz", "string", "io.debezium.time.ZonedTimestamp"),
        "2026-03-02T00:30:00.123456Z",
        "timestamp_ms",
        datetime(2026, 3, 2, 0, 30, 0, 123_456, tzinfo=UTC),
    ),
    (
        "timetz",
        schema("tt", "string", "io.debezium.time.ZonedTime"),
        "08:30:00Z",
        "string",
        "08:30:00Z",
    ),
    (
        "interval",
        schema("iv", "int64", "io.debezium.time.MicroDuration"),
        90_000_000_000,
        "string",
        "1 day, 1:00:00",
    ),
    ("bytea", schema("raw", "bytes"), "AP8Q", "bytes", b"\x00\xff\x10"),
    ("jsonb", schema("j", "string", "io.debezium.data.Json"), '{"a": 1}', "string", '{"a": 1}'),
    (
        "uuid",
        schema("u", "string", "io.debezium.data.Uuid"),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "string",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ),
    ("xml", schema("x", "string", "io.debezium.data.Xml"), "<a/>", "string", "<a/>"),
    (
        "bit(3)",
        schema("bits", "bytes", "io.debezium.data.Bits", length="3"),
        "BQ==",
        "bytes",
        b"\x05",
    ),
    ("text[]", schema("arr", "array"), ["a", "b"], "string", '["a","b"]'),
    # time.precision.mode=connect: Kafka Connect's own logical types, millisecond precision
    (
        "connect date",
        schema("d", "int32", "org.apache.kafka.connect.data.Date"),
        DAYS,
        "date",
        date(2026, 3, 2),
    ),
    (
        "connect time",
        schema("t", "int32", "org.apache.kafka.connect.data.Time"),
        30_600_000,
        "string",
        "08:30:00",
    ),
    (
        "connect timestamp",
        schema("ts", "int64", "org.apache.kafka.connect.data.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    # time.precision.mode=isostring
    (
        "isostring date",
        schema("d", "string", "io.debezium.time.IsoDate"),
        "2026-03-02Z",
        "date",
        date(2026, 3, 2),
    ),
    (
        "isostring time",
        schema("t", "string", "io.debezium.time.IsoTime"),
        "08:30:00.123456Z",
        "string",
        "08:30:00.123456",
    ),
    (
        "isostring timestamp",
        schema("ts", "string", "io.debezium.time.IsoTimestamp"),
        "2026-03-02T08:30:00.123456Z",
        "local_timestamp_ms",
        WALL,
    ),
]

MYSQL = [
    ("tinyint(1)", schema("flag", "int16"), 1, "int", 1),
    ("bit(1)", schema("b", "boolean"), False, "boolean", False),
    ("decimal(10,2) negative", decimal("fee", 2, 10), "+x4=", "decimal", Decimal("-12.50")),
    ("decimal as JSON number", decimal("fee", 2, 10), Decimal("12.3"), "decimal", Decimal("12.30")),
    ("date", schema("d", "int32", "io.debezium.time.Date"), DAYS, "date", date(2026, 3, 2)),
    (
        "date before 1970",
        schema("d", "int32", "io.debezium.time.Date"),
        -1,
        "date",
        date(1969, 12, 31),
    ),
    (
        "time (adaptive_time_microseconds)",
        schema("t", "int64", "io.debezium.time.MicroTime"),
        -3_600_000_000,
        "string",
        "-01:00:00",
    ),
    (
        "time past 24 h",
        schema("t", "int64", "io.debezium.time.MicroTime"),
        100 * 3_600_000_000 + 500_000,
        "string",
        "100:00:00.500000",
    ),
    (
        "datetime(0)",
        schema("dt", "int64", "io.debezium.time.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    (
        "datetime(6)",
        schema("dt", "int64", "io.debezium.time.MicroTimestamp"),
        US,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "timestamp (UTC text)",
        schema("ts", "string", "io.debezium.time.ZonedTimestamp"),
        "2026-03-02T00:30:00Z",
        "timestamp_ms",
        datetime(2026, 3, 2, 0, 30, tzinfo=UTC),
    ),
    ("year", schema("y", "int32", "io.debezium.time.Year"), 2026, "int", 2026),
    ("enum", schema("e", "string", "io.debezium.data.Enum", allowed="M,F"), "F", "string", "F"),
    (
        "set",
        schema("s", "string", "io.debezium.data.EnumSet", allowed="a,b"),
        "a,b",
        "string",
        "a,b",
    ),
    ("json", schema("j", "string", "io.debezium.data.Json"), "[1]", "string", "[1]"),
    ("blob", schema("blob", "bytes"), "AP8Q", "bytes", b"\x00\xff\x10"),
    ("varchar (GBK text arrives decoded)", schema("name", "string"), "张三", "string", "张三"),
    (
        "geometry",
        schema("g", "struct", "io.debezium.data.geometry.Geometry"),
        {"wkb": "AP8Q", "srid": None},
        "bytes",
        b"\x00\xff\x10",
    ),
]

ORACLE = [
    ("NUMBER(10,2)", decimal("FEE", 2, 10), "BM4=", "decimal", Decimal("12.30")),
    ("NUMBER(10,2) negative", decimal("FEE", 2, 10), "+x4=", "decimal", Decimal("-12.50")),
    ("NUMBER(5) -> int32", schema("QTY", "int32"), 12345, "int", 12345),
    ("NUMBER(18) -> int64", schema("ID", "int64"), 123456789012345678, "long", 123456789012345678),
    (
        "NUMBER(38) -> Decimal scale 0",
        decimal("BIG", 0, 38),
        "Qu0SOwvYIDoU",
        "decimal",
        Decimal("1234567890123456789012"),
    ),
    (
        "NUMBER without precision: VariableScaleDecimal",
        schema("AMOUNT", "struct", "io.debezium.data.VariableScaleDecimal"),
        {"scale": 4, "value": "B1vNFQ=="},
        "decimal",
        Decimal("12345.6789"),
    ),
    (
        "NUMBER, negative scale in the value",
        schema("AMOUNT", "struct", "io.debezium.data.VariableScaleDecimal"),
        {"scale": -2, "value": "MDk="},
        "decimal",
        Decimal("1234500"),
    ),
    (
        "FLOAT: VariableScaleDecimal",
        schema("RATE", "struct", "io.debezium.data.VariableScaleDecimal"),
        {"scale": 1, "value": "MDk="},
        "decimal",
        Decimal("1234.5"),
    ),
    ("BINARY_DOUBLE", schema("BD", "float64"), Decimal("0.5"), "double", 0.5),
    (
        "BINARY_FLOAT NaN",
        schema("BF", "float32"),
        "NaN",
        "double",
        None,
    ),  # NaN != NaN: checked below
    (
        "DATE -> Timestamp",
        schema("ADMIT_DATE", "int64", "io.debezium.time.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    (
        "TIMESTAMP(6)",
        schema("TS6", "int64", "io.debezium.time.MicroTimestamp"),
        US,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "TIMESTAMP(9)",
        schema("TS9", "int64", "io.debezium.time.NanoTimestamp"),
        NS,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "TIMESTAMP WITH TIME ZONE",
        schema("TSTZ", "string", "io.debezium.time.ZonedTimestamp"),
        "2026-03-02T08:30:00.123456789+08:00",
        "timestamp_ms",
        datetime(2026, 3, 2, 0, 30, 0, 123_456, tzinfo=UTC),
    ),
    ("VARCHAR2", schema("NAME", "string"), "李四", "string", "李四"),
    ("RAW", schema("R", "bytes"), "AP8Q", "bytes", b"\x00\xff\x10"),
    (
        "INTERVAL DAY TO SECOND",
        schema("IV", "int64", "io.debezium.time.MicroDuration"),
        1_500_000,
        "string",
        "0:00:01.500000",
    ),
]

SQLSERVER = [
    ("BIT", schema("ACTIVE", "boolean"), True, "boolean", True),
    ("TINYINT", schema("T", "int16"), 255, "int", 255),
    ("MONEY", decimal("FEE", 4, 19), "B1vNFQ==", "decimal", Decimal("12345.6789")),
    ("DATE", schema("D", "int32", "io.debezium.time.Date"), DAYS, "date", date(2026, 3, 2)),
    (
        "TIME(3)",
        schema("T3", "int32", "io.debezium.time.Time"),
        30_600_123,
        "string",
        "08:30:00.123000",
    ),
    (
        "TIME(7)",
        schema("T7", "int64", "io.debezium.time.NanoTime"),
        30_600_123_456_700,
        "string",
        "08:30:00.123456",
    ),
    (
        "DATETIME",
        schema("DT", "int64", "io.debezium.time.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    (
        "SMALLDATETIME",
        schema("SDT", "int64", "io.debezium.time.Timestamp"),
        1_772_440_200_000,
        "local_timestamp_ms",
        datetime(2026, 3, 2, 8, 30),
    ),
    (
        "DATETIME2(3)",
        schema("D3", "int64", "io.debezium.time.Timestamp"),
        MS,
        "local_timestamp_ms",
        WALL_MS,
    ),
    (
        "DATETIME2(6)",
        schema("D6", "int64", "io.debezium.time.MicroTimestamp"),
        US,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "DATETIME2(7)",
        schema("D7", "int64", "io.debezium.time.NanoTimestamp"),
        1_772_440_200_123_456_700,
        "local_timestamp_ms",
        WALL,
    ),
    (
        "DATETIMEOFFSET(7)",
        schema("DTO", "string", "io.debezium.time.ZonedTimestamp"),
        "2026-03-02T00:30:00.1234567Z",
        "timestamp_ms",
        datetime(2026, 3, 2, 0, 30, 0, 123_456, tzinfo=UTC),
    ),
    (
        "UNIQUEIDENTIFIER",
        schema("G", "string"),
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        "string",
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
    ),
    ("NVARCHAR", schema("N", "string"), "王五", "string", "王五"),
    ("VARBINARY", schema("VB", "bytes"), "AP8Q", "bytes", b"\x00\xff\x10"),
    ("XML", schema("X", "string", "io.debezium.data.Xml"), "<a/>", "string", "<a/>"),
]


def _cases(rows: list[tuple[str, dict[str, Any], object, str, object]]) -> Any:
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize(("field", "raw", "kind", "value"), _cases(POSTGRES))
def test_postgres_types(field: dict[str, Any], raw: object, kind: str, value: object) -> None:
    assert decoded(field, raw) == (kind, value)


@pytest.mark.parametrize(("field", "raw", "kind", "value"), _cases(MYSQL))
def test_mysql_types(field: dict[str, Any], raw: object, kind: str, value: object) -> None:
    assert decoded(field, raw) == (kind, value)


@pytest.mark.parametrize(("field", "raw", "kind", "value"), _cases(ORACLE))
def test_oracle_types(field: dict[str, Any], raw: object, kind: str, value: object) -> None:
    got_kind, got = decoded(field, raw)
    assert got_kind == kind
    if value is None:  # NaN
        assert isinstance(got, float) and got != got
    else:
        assert got == value


@pytest.mark.parametrize(("field", "raw", "kind", "value"), _cases(SQLSERVER))
def test_sqlserver_types(field: dict[str, Any], raw: object, kind: str, value: object) -> None:
    assert decoded(field, raw) == (kind, value)


def test_decimals_keep_their_scale_as_written() -> None:
    # the envelope writes decimals as their digits: 12.30 stays 12.30, not 12.3
    _, value = decoded(decimal("fee", 2), "BM4=")
    assert format(value, "f") == "12.30"
    _, value = decoded(decimal("fee", 4), "AA==")
    assert format(value, "f") == "0.0000"


def test_naive_and_zoned_timestamps_stay_apart() -> None:
    _, local = decoded(schema("a", "int64", "io.debezium.time.MicroTimestamp"), US)
    _, zoned = decoded(
        schema("b", "string", "io.debezium.time.ZonedTimestamp"), "2026-03-02T08:30:00Z"
    )
    assert isinstance(local, datetime) and local.tzinfo is None
    assert isinstance(zoned, datetime) and zoned.tzinfo is UTC


@pytest.mark.parametrize(
    ("field", "raw", "why"),
    [
        (decimal("fee", 2), "not base64!", "base64"),
        (decimal("fee", 2), True, "decimal"),
        (schema("ts", "int64", "io.debezium.time.MicroTimestamp"), "yesterday", "integer"),
        (
            schema("tz", "string", "io.debezium.time.ZonedTimestamp"),
            "2026-03-02T08:30:00",
            "offset",
        ),
        (schema("d", "int32", "io.debezium.time.Date"), 1.5, "integer"),
        (
            schema("n", "struct", "io.debezium.data.VariableScaleDecimal"),
            {"value": "AA=="},
            "scale",
        ),
        (schema("i", "int32"), True, "integer"),
        (schema("b", "boolean"), 1, "boolean"),
        (schema("s", "string"), "__debezium_unavailable_value", "placeholder"),
        (schema("raw", "bytes"), "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==", "placeholder"),
    ],
)
def test_a_value_that_does_not_match_its_schema_is_refused_by_column_and_type(
    field: dict[str, Any], raw: object, why: str
) -> None:
    with pytest.raises(UndecodableValueError) as caught:
        column_decoder(field).value(raw)
    message = str(caught.value)
    assert field["field"] in message and why in message
    if isinstance(raw, str) and "unavailable" not in raw:
        assert raw not in message  # the value itself is never quoted (rows are personal data)


def test_unknown_connect_type_is_refused() -> None:
    with pytest.raises(UndecodableValueError, match="unknown Connect type"):
        column_decoder(schema("x", "int128"))


def test_a_row_decodes_column_by_column_with_nulls_kept() -> None:
    columns: tuple[ColumnDecoder, ...] = (
        column_decoder(schema("id", "int64", optional=False)),
        column_decoder(decimal("fee", 2)),
        column_decoder(schema("admitted", "int64", "io.debezium.time.MicroTimestamp")),
    )
    assert decode_row(columns, {"id": 7, "fee": None, "admitted": US}) == {
        "id": 7,
        "fee": None,
        "admitted": WALL,
    }
    assert decode_row(columns, None) is None
    # a column missing from the image is null (Debezium leaves out nothing, but be safe)
    assert decode_row(columns, {"id": 7}) == {"id": 7, "fee": None, "admitted": None}


def test_time_of_day_matches_the_agents_mysql_form() -> None:
    assert time_of_day(0) == "00:00:00"
    assert time_of_day(30_600_000_001) == "08:30:00.000001"
    assert time_of_day(-1) == "-00:00:00.000001"
