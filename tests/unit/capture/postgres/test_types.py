"""PostgreSQL type mapping and text conversion."""

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from streamhub.capture.postgres.types import BadValue, convert, kind_for_name, kind_for_oid


@pytest.mark.parametrize(
    ("oid", "kind"),
    [
        (16, "boolean"),
        (17, "bytes"),
        (20, "long"),
        (21, "int"),
        (23, "int"),
        (700, "double"),
        (701, "double"),
        (1700, "decimal"),
        (1082, "date"),
        (1114, "local_timestamp_ms"),
        (1184, "timestamp_ms"),
        (25, "string"),
        (1043, "string"),
        (1042, "string"),
        (114, "string"),
        (2950, "string"),
        (1083, "string"),
        (1186, "string"),
        (99999, "string"),
    ],
)
def test_kind_for_oid(oid: int, kind: str):
    assert kind_for_oid(oid) == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("integer", "int"),
        ("INT4", "int"),
        ("smallint", "int"),
        ("bigint", "long"),
        ("numeric(10,2)", "decimal"),
        ("timestamp(3) without time zone", "local_timestamp_ms"),
        ("timestamp with time zone", "timestamp_ms"),
        ("double precision", "double"),
        ("boolean", "boolean"),
        ("character varying(20)", "string"),
        ("character(4)", "string"),
        ("jsonb", "string"),
        ("integer[]", "string"),
    ],
)
def test_kind_for_name(name: str, kind: str):
    assert kind_for_name(name) == kind


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        (b"-32768", "int", -32768),
        (b"9223372036854775807", "long", 9223372036854775807),
        (b"t", "boolean", True),
        (b"f", "boolean", False),
        (b"36.6", "double", 36.6),
        (b"-Infinity", "double", -math.inf),
        (b"12345.670", "decimal", Decimal("12345.670")),
        (b"2024-02-29", "date", date(2024, 2, 29)),
        (
            b"2024-05-06 07:08:09.123456",
            "local_timestamp_ms",
            datetime(2024, 5, 6, 7, 8, 9, 123456),
        ),
        (b"2024-05-06 07:08:09", "local_timestamp_ms", datetime(2024, 5, 6, 7, 8, 9)),
        (b"2024-05-06 07:08:09.5+00", "timestamp_ms", datetime(2024, 5, 6, 7, 8, 9, 500000, UTC)),
        (b"2024-05-06 07:08:09+05:30", "timestamp_ms", datetime(2024, 5, 6, 1, 38, 9, tzinfo=UTC)),
        (b"\\x00ff10", "bytes", b"\x00\xff\x10"),
        (b"\\x", "bytes", b""),
        ("病历".encode(), "string", "病历"),
        (b"10:30:00", "string", "10:30:00"),
    ],
)
def test_text_converts_to_the_kinds_python_value(raw: bytes, kind, value: object):
    converted = convert(raw, kind, "utf-8")
    assert converted == value and type(converted) is type(value)


def test_timestamptz_comes_back_in_utc():
    value = convert(b"2024-05-06 07:08:09+08", "timestamp_ms", "utf-8")
    assert isinstance(value, datetime) and value.tzinfo is UTC and value.hour == 23


def test_nan_is_a_float():
    value = convert(b"NaN", "double", "utf-8")
    assert isinstance(value, float) and math.isnan(value)


def test_text_decodes_with_the_connectors_encoding():
    assert convert("你好".encode("gbk"), "string", "gbk") == "你好"


def test_undecodable_text_names_the_encoding_and_byte_offset():
    bad = convert(b"\xc4\xe3\xff", "string", "gbk")
    assert isinstance(bad, BadValue)
    assert "gbk" in bad.reason and "byte 2 (0xff)" in bad.reason


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"infinity", "date"),
        (b"0044-03-15 BC", "date"),
        (b"10000-01-01", "date"),
        (b"-infinity", "local_timestamp_ms"),
        (b"2024-05-06 07:08:09+00", "local_timestamp_ms"),
        (b"2024-05-06 07:08:09", "timestamp_ms"),
        (b"\\001abc", "bytes"),
        (b"yes", "boolean"),
        (b"12\xff", "int"),
    ],
)
def test_values_python_cannot_hold_come_back_as_bad_values(raw: bytes, kind):
    assert isinstance(convert(raw, kind, "utf-8"), BadValue)


def test_booleans_read_the_same_from_the_log_and_from_a_text_cast() -> None:
    from streamhub.capture.postgres.types import convert

    assert convert(b"t", "boolean", "utf-8") is True
    assert convert(b"true", "boolean", "utf-8") is True  # bool::text in a snapshot chunk
    assert convert(b"false", "boolean", "utf-8") is False


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"1985-13-02", "date"),  # a birth date that does not parse
        (b"11010519491231002X", "int"),  # an ID number in a numeric column
        (b"13500000001x", "long"),
        (b"2024-05-06 07:61:09", "local_timestamp_ms"),
        (b"350203x19491231", "decimal"),
    ],
)
def test_a_bad_value_reason_quotes_no_part_of_the_value(raw: bytes, kind) -> None:
    bad = convert(raw, kind, "utf-8")
    assert isinstance(bad, BadValue)
    text = raw.decode()
    pieces = {text[i : i + 4] for i in range(len(text) - 3)}
    assert not [p for p in pieces if p in bad.reason], bad.reason
    assert str(len(text)) in bad.reason  # the operator still learns its size and the kind


FAST_CASES = [
    *((b"-32768", "int"), (b"9223372036854775807", "long"), (b" 12", "int"), (b"1_0", "int")),
    *((b"t", "boolean"), (b"false", "boolean"), (b"yes", "boolean"), (b"T", "boolean")),
    *((b"36.6", "double"), (b"-Infinity", "double"), (b"1e400", "double"), (b"\xd9\xa1", "int")),
    *((b"12345.670", "decimal"), (b"NaN", "decimal"), (b"350203x19491231", "decimal")),
    *((b"2024-02-29", "date"), (b"infinity", "date"), (b"1985-13-02", "date")),
    (b"2024-05-06 07:08:09.123456", "local_timestamp_ms"),
    (b"2024-05-06 07:08:09+00", "local_timestamp_ms"),
    (b"2024-05-06 07:08:09.5+00", "timestamp_ms"),
    (b"2024-05-06 07:08:09", "timestamp_ms"),
    *((b"\\x00ff10", "bytes"), (b"\\001abc", "bytes"), (b"12\xff", "int")),
    *(("病历".encode(), "string"), (b"\xc4\xe3\xff", "string"), (b"\xff", "decimal")),
]


@pytest.mark.parametrize(("raw", "kind"), FAST_CASES)
@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "gbk"])
def test_the_fast_parser_reads_what_convert_reads_and_refuses_what_it_refuses(
    raw: bytes, kind, encoding: str
) -> None:
    from streamhub.capture.postgres.types import parser_for

    expected = convert(raw, kind, encoding)
    parse = parser_for(kind, encoding)
    if isinstance(expected, BadValue):
        with pytest.raises(Exception):  # noqa: B017 - any: the reader asks convert()
            parse(raw)
    else:
        value = parse(raw)
        assert type(value) is type(expected)
        assert value == expected or (value != value and expected != expected)  # NaN
