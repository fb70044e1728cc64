"""MySQL/MariaDB types: kinds, the text-codec rule, and one value per stored value."""

from __future__ import annotations

import datetime
import decimal
import struct

import pytest
from pymysqlreplication.constants import FIELD_TYPE

from streamhub.capture.errors import CaptureError, UndecodableTextError
from streamhub.capture.mysql import types
from streamhub.capture.mysql.gtid import GtidPosition, head_seq, parse_mariadb_gtids


@pytest.mark.parametrize(
    ("data_type", "unsigned", "kind"),
    [
        ("tinyint", False, "int"),
        ("smallint", True, "int"),
        ("mediumint", False, "int"),
        ("int", False, "int"),
        ("int", True, "long"),
        ("bigint", False, "long"),
        ("bigint", True, "decimal"),
        ("decimal", False, "decimal"),
        ("float", False, "double"),
        ("double", False, "double"),
        ("date", False, "date"),
        ("datetime", False, "local_timestamp_ms"),
        ("timestamp", False, "local_timestamp_ms"),
        ("char", False, "string"),
        ("varchar", False, "string"),
        ("longtext", False, "string"),
        ("binary", False, "bytes"),
        ("varbinary", False, "bytes"),
        ("mediumblob", False, "bytes"),
        ("time", False, "string"),
        ("enum", False, "string"),
        ("json", False, "string"),
        ("bit", False, "long"),
        ("point", False, "bytes"),
    ],
)
def test_kind_of(data_type: str, unsigned: bool, kind: str) -> None:
    assert types.kind_of(data_type, unsigned) == kind


@pytest.mark.parametrize(
    ("field_type", "charset", "data_type"),
    [
        (FIELD_TYPE.VARCHAR, "latin1", "varchar"),
        (FIELD_TYPE.VARCHAR, "binary", "varbinary"),
        (FIELD_TYPE.STRING, "utf8mb4", "char"),
        (FIELD_TYPE.STRING, "binary", "binary"),
        (FIELD_TYPE.BLOB, "latin1", "text"),
        (FIELD_TYPE.BLOB, "binary", "blob"),
        (FIELD_TYPE.LONG, None, "int"),
        (FIELD_TYPE.LONGLONG, None, "bigint"),
        (FIELD_TYPE.NEWDECIMAL, None, "decimal"),
        (FIELD_TYPE.DATETIME2, None, "datetime"),
        (FIELD_TYPE.TIMESTAMP2, None, "timestamp"),
    ],
)
def test_binlog_types_map_to_the_same_data_types_as_information_schema(
    field_type: int, charset: str | None, data_type: str
) -> None:
    assert types.binlog_data_type(field_type, charset) == data_type


def test_text_codec_rule() -> None:
    # utf8mb4 is UTF-8 whatever the connector declares
    assert types.text_codec("utf8mb4", "gbk") == "utf-8"
    assert types.text_codec("utf8mb3", "gbk") == "utf-8"
    # latin1 is byte-transparent: the connector's encoding decides; unknown charsets too
    assert types.text_codec("latin1", "gbk") == "gbk"
    assert types.text_codec(None, "gb18030") == "gb18030"
    # a charset the server enforces decodes with its own codec
    assert types.text_codec("gb18030", "gbk") == "gb18030"
    assert types.text_codec("ujis", "gbk") == "euc_jp"
    assert types.text_codec("swe7", "gbk") == "gbk"  # no Python codec: fall back


def test_gbk_bytes_that_cp1252_cannot_hold_decode() -> None:
    # lead bytes 0x81/0x8D/0x8F/0x90/0x9D have no cp1252 mapping (PyMySQL's latin1)
    raw = bytes([0x81, 0x90, 0x8D, 0x90, 0x8F, 0x90, 0x90, 0x90, 0x9D, 0x90])
    plan = types.ValuePlan("XM", "varchar", "string", codec="gbk")
    assert plan.convert(raw) == raw.decode("gbk")
    assert plan.convert("张三".encode("gbk")) == "张三"


def test_undecodable_text_names_codec_and_offset() -> None:
    plan = types.ValuePlan("XM", "varchar", "string", codec="gbk")
    raw = "李四".encode("gbk") + b"\xff\xff"
    with pytest.raises(UndecodableTextError) as caught:
        plan.convert(raw)
    assert caught.value.raw == raw
    assert caught.value.reason == "not valid gbk: byte 0xff at offset 4"
    assert (caught.value.codec, caught.value.offset) == ("gbk", 4)
    assert isinstance(caught.value, CaptureError) and not isinstance(caught.value, ValueError)


def test_float_rounds_to_single_precision_digits_both_ways() -> None:
    widened = struct.unpack("<f", struct.pack("<f", 1.1))[0]  # what the binlog holds
    assert widened != 1.1
    assert types.normalise("double", "float", widened) == types.normalise("double", "float", 1.1)
    big = struct.unpack("<f", struct.pack("<f", 123456.789))[0]
    assert types.normalise("double", "float", big) == 123457.0  # MariaDB prints 123457
    assert types.normalise("double", "double", 0.30000000000000004) == 0.30000000000000004


def test_values_from_log_and_select_normalise_alike() -> None:
    n = types.normalise
    assert n("string", "set", {"y", "x"}) == n("string", "set", "x,y") == "x,y"
    assert n("long", "bit", "00101") == n("long", "bit", b"\x05") == 5
    assert n("decimal", "bigint", 18446744073709551615) == decimal.Decimal("18446744073709551615")
    assert n("date", "date", "0000-00-00") is None
    assert n("local_timestamp_ms", "datetime", "0000-00-00 00:00:00") is None
    stamp = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert n("local_timestamp_ms", "datetime", stamp) == stamp
    assert n("string", "time", datetime.timedelta(hours=-1, minutes=-2, seconds=-3)) == "-01:02:03"
    assert n("string", "time", datetime.timedelta(hours=838, microseconds=5)) == (
        "838:00:00.000005"
    )


def test_binary_padding_is_restored() -> None:
    plan = types.ValuePlan("BN", "binary", "bytes", octets=4)
    assert plan.convert(b"ab") == plan.convert(b"ab\x00\x00") == b"ab\x00\x00"
    assert types.ValuePlan("VB", "varbinary", "bytes").convert(b"ab") == b"ab"
    assert plan.convert(None) is None


def test_gtid_positions() -> None:
    assert parse_mariadb_gtids("0-1-5, 1-2-9") == {0: "0-1-5", 1: "1-2-9"}
    assert parse_mariadb_gtids("") == {}
    with pytest.raises(ValueError, match="not a MariaDB GTID"):
        parse_mariadb_gtids("0-1-x")
    assert head_seq("0-1-5,1-2-9", mariadb=True) == 9
    uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
    assert head_seq(f"{uuid}:1-100:200-300,\n{uuid[:-1]}1:7", mariadb=False) == 300


def test_resume_covers_every_gtid_domain_seen() -> None:
    position = GtidPosition("0-1-5,3-7-2", mariadb=True)
    position.commit("0-1-6")
    position.commit("2-9-40")
    assert position.resume == "0-1-6,2-9-40,3-7-2"
    mysql = GtidPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", mariadb=False)
    mysql.commit("3e11fa47-71ca-11e1-9e33-c80aa9429562:6")
    assert mysql.resume == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6"
