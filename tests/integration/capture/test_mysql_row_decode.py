"""The compiled row decoder against pymysqlreplication on the stack's live MariaDB binlog.

Every covered column type, NULLs, extremes, zero dates, GBK bytes in latin1 (the pinyin_gbk
dialect), bytes GBK cannot decode, updates and deletes: each rows event is decoded by both and
must give the same values, undecodable reports and envelope bytes (``row_decode_check``).
``record`` writes the same events' packets for the unit test's replay
(``tests/data/mysql_row_decode/events.json``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from streamhub.config import Settings
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.secrets import stack_secret
from tests.unit.capture.mysql.row_decode_check import Checker, connector

RECORDED = Path(__file__).parents[2] / "data" / "mysql_row_decode" / "events.json"
TABLE = """CREATE TABLE ALLTYPES (
  ID INT NOT NULL PRIMARY KEY,
  TI TINYINT, TIU TINYINT UNSIGNED, SI SMALLINT, SIU SMALLINT UNSIGNED,
  MI MEDIUMINT, MIU MEDIUMINT UNSIGNED, II INT, IIU INT UNSIGNED, BI BIGINT, BIU BIGINT UNSIGNED,
  FL FLOAT, DB DOUBLE, D1 DECIMAL(10,2), D2 DECIMAL(30,12), D3 DECIMAL(5,0), D4 DECIMAL(38,37),
  DT DATE, DT0 DATETIME, DT1 DATETIME(1), DT3 DATETIME(3), DT6 DATETIME(6),
  TS TIMESTAMP NULL, TS2 TIMESTAMP(2) NULL, TS6 TIMESTAMP(6) NULL,
  TM TIME, TM3 TIME(3), TM5 TIME(5), YR YEAR,
  C4 CHAR(4), VC VARCHAR(40), VCL VARCHAR(300), TTX TINYTEXT, TX TEXT, MTX MEDIUMTEXT,
  LTX LONGTEXT, U8 VARCHAR(20) CHARACTER SET utf8mb4, GB VARCHAR(20) CHARACTER SET gbk,
  BN BINARY(6), VB VARBINARY(10), TBL TINYBLOB, BL BLOB,
  EN ENUM('a','b','中'), ST SET('x','y','z'), B1 BIT(1), B17 BIT(17), JS JSON
) DEFAULT CHARSET=latin1"""
# GBK: a valid pair, pairs cp1252 cannot decode, and bytes GBK cannot decode
GBK = "病人".encode("gbk")
CP1252_HOSTILE = b"".join(bytes([b, 0x90]) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
NOT_GBK = b"\xff\x81\x20"
FULL: dict[str, Any] = {
    "TI": -128, "TIU": 255, "SI": -32768, "SIU": 65535, "MI": -8388608, "MIU": 16777215,
    "II": -2147483648, "IIU": 4294967295, "BI": -9223372036854775808,
    "BIU": 18446744073709551615, "FL": 3.14159, "DB": -2.718281828459045,
    "D1": "-12345678.90", "D2": "123456789012345678.123456789012", "D3": "-99999",
    "D4": "0.1234567890123456789012345678901234567",
    "DT": "2024-02-29", "DT0": "1999-12-31 23:59:59", "DT1": "2024-03-01 08:30:00.5",
    "DT3": "2024-03-01 08:30:00.125", "DT6": "9999-12-31 23:59:59.999999",
    "TS": "2038-01-19 03:14:07", "TS2": "2024-03-01 08:30:00.07",
    "TS6": "1970-01-01 00:00:01.000001",
    "TM": "-838:59:59", "TM3": "-00:00:01.5", "TM5": "23:59:59.12345", "YR": 2155,
    "C4": GBK, "VC": CP1252_HOSTILE, "VCL": GBK * 100, "TTX": b"", "TX": GBK * 20,
    "MTX": b"plain", "LTX": GBK, "U8": "备注😀", "GB": "中文",
    "BN": b"\x00\xff\x01", "VB": b"\x00\x01\xfe", "TBL": b"\x00", "BL": bytes(range(256)),
    "EN": "中", "ST": "z,x", "B1": 1, "B17": 0x1ABCD, "JS": '{"a": [1, 2.5, "x"]}',
}  # fmt: skip
OTHER: dict[str, Any] = {
    "TI": 0, "TIU": 0, "SI": 1, "SIU": 0, "MI": 0, "MIU": 1, "II": 7, "IIU": 0, "BI": 0,
    "BIU": 0, "FL": -0.0, "DB": 1e300, "D1": "0.00", "D2": "-0.000000000001", "D3": "0",
    "D4": "-0.0000000000000000000000000000000000001", "DT": "0000-00-00",
    "DT0": "0000-00-00 00:00:00", "DT1": "1000-01-01 00:00:00.1", "DT3": "2024-03-01 00:00:00",
    "DT6": "2024-03-01 00:00:00.000001", "TS": "1970-01-01 00:00:01", "TS2": None,
    "TS6": "2024-03-01 08:30:00.5", "TM": "00:00:00", "TM3": "838:59:59.999",
    "TM5": "-12:34:56.00001", "YR": 0, "C4": NOT_GBK, "VC": NOT_GBK, "VCL": None, "TTX": None,
    "TX": NOT_GBK, "MTX": GBK + NOT_GBK, "LTX": b"", "U8": "", "GB": None, "BN": b"",
    "VB": b"", "TBL": None, "BL": b"", "EN": "", "ST": "", "B1": 0, "B17": 0, "JS": "[]",
}  # fmt: skip


def _insert(cur: Any, row_id: int, values: dict[str, Any]) -> None:
    names = ["ID", *values]
    marks = ", ".join(["%s"] * len(names))
    cur.execute(
        f"INSERT INTO ALLTYPES ({', '.join(names)}) VALUES ({marks})",
        [row_id, *values.values()],
    )


def write_changes(conn: Any) -> None:
    """Inserts, updates (before and after images) and deletes of every kind of value."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")  # zero dates and YEAR 0 as the legacy data has
        cur.execute(TABLE)
        _insert(cur, 1, FULL)
        _insert(cur, 2, OTHER)
        _insert(cur, 3, {})  # every column NULL but the key
        _insert(cur, 4, {name: FULL[name] for name in list(FULL)[::2]})  # NULL every other
        conn.commit()
        cur.execute("UPDATE ALLTYPES SET VC = %s, D1 = D1 + 1, TM3 = NULL WHERE ID = 1", (GBK,))
        cur.execute("UPDATE ALLTYPES SET ID = 5, TX = %s WHERE ID = 2", (GBK,))  # a key change
        cur.execute("UPDATE ALLTYPES SET EN = 'a', ST = 'x,y,z', B17 = 1 WHERE ID IN (3, 4)")
        conn.commit()
        cur.execute("DELETE FROM ALLTYPES WHERE ID IN (1, 5)")
        conn.commit()


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[tuple[Any, str]]:
    name = f"rowdec_{uuid.uuid4().hex[:8]}"
    conn = MariaDB(settings).connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        conn.select_db(name)
        yield conn, name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


def _position(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.gtid_binlog_pos")
        return str(cur.fetchone()[0])


def stream(settings: Settings, schema: str, start: str) -> BinLogStreamReader:
    return BinLogStreamReader(
        connection_settings={
            "host": settings.mariadb_host,
            "port": settings.mariadb_port,
            "user": settings.mariadb_user,
            "password": stack_secret(settings, "mariadb_password"),
        },
        server_id=random.randint(100_000, 200_000),
        blocking=False,
        is_mariadb=True,
        auto_position=start,
        only_schemas=[schema],
        only_events=[TableMapEvent, WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        enable_logging=False,
    )


def test_the_decoder_gives_the_library_values_for_every_column_type(settings: Settings) -> None:
    with database(settings) as (conn, name):
        start = _position(conn)
        write_changes(conn)
        checker = Checker(connector(name, ["ALLTYPES"]))
        reader = stream(settings, name, start)
        found: list[str] = []
        try:
            for event in reader:
                if isinstance(event, TableMapEvent):
                    checker.table_map(event)
                else:
                    found += checker.differences(event)
        finally:
            reader.close()
    assert found == []
    assert (checker.events, checker.rows) == (8, 10)  # 4 inserts, 4 updated, 2 deleted


def test_a_table_with_a_type_the_decoder_does_not_cover_has_no_decoder(
    settings: Settings,
) -> None:
    """GEOMETRY goes through the library (the translator counts those rows)."""
    with database(settings) as (conn, name):
        start = _position(conn)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE SHAPES (ID INT PRIMARY KEY, P POINT)")
            cur.execute("INSERT INTO SHAPES VALUES (1, POINT(1, 2))")
        conn.commit()
        checker = Checker(connector(name, ["SHAPES"]))
        reader = stream(settings, name, start)
        try:
            for event in reader:
                if isinstance(event, TableMapEvent):
                    checker.table_map(event)
        finally:
            reader.close()
    table = next(iter(checker.translator._by_id.values()))
    assert table.decoder is None and "geometry" in table.no_decoder


def record(settings: Settings, path: Path = RECORDED) -> None:
    """Write the packets of ``write_changes``'s events for the unit test's replay."""
    with database(settings) as (conn, name):
        start = _position(conn)
        write_changes(conn)
        reader = stream(settings, name, start)
        packets = []
        try:
            for event in reader:
                data = event.packet.packet._data
                packets.append(base64.b64encode(data).decode())
        finally:
            reader.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"database": name, "table": "ALLTYPES", "checksum": True, "packets": packets}
    path.write_text(json.dumps(document, indent=1) + "\n")
