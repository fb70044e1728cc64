"""The MySQL/MariaDB capture engine against the stack's real MariaDB (GBK bytes in latin1)."""

from __future__ import annotations

import contextlib
import datetime
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import PositionLostError, PreflightError, SourceUnavailableError
from streamhub.capture.model import Event, RowEvent, TransactionEnd, UndecodableValue, Watermark
from streamhub.capture.mysql.log_reader import MySQLLogReader
from streamhub.capture.mysql.preflight import check
from streamhub.capture.mysql.snapshot_reader import MySQLSnapshotReader
from streamhub.config import Settings
from streamhub.stack.mariadb import MariaDB

from .helpers import drain

PATIENTS = """CREATE TABLE GY_BRXX (
  BRID VARCHAR(20) NOT NULL PRIMARY KEY, XM VARCHAR(40), ZYCS INT, GHF DECIMAL(10,2),
  GHSJ DATETIME(3), BZ VARCHAR(40) CHARACTER SET utf8mb4, CSRQ DATE, ZP VARBINARY(8)
) ENGINE=InnoDB DEFAULT CHARSET=latin1"""
COLUMNS = ["BRID", "XM", "ZYCS", "GHF", "GHSJ", "BZ", "CSRQ", "ZP"]
INSERT_PATIENT = "INSERT INTO GY_BRXX VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
# GBK pairs led by 0x81/0x8D/0x8F/0x90/0x9D: bytes cp1252 (PyMySQL's latin1) cannot decode
CP1252_HOSTILE = "".join(bytes([b, 0x90]).decode("gbk") for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))


def patient(brid: str, name: str, n: int = 1) -> tuple[object, ...]:
    return (
        brid,
        name.encode("gbk"),
        n,
        Decimal(n) + Decimal("0.50"),
        datetime.datetime(2024, 3, 1, 8, 30, n % 60, 125000),
        f"备注{n}",
        datetime.date(1980, 1, 1 + n % 28),
        bytes([0, 255, n % 256]),
    )


class Source:
    """One test's own database; readers opened here are closed at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = f"cap_{uuid.uuid4().hex[:8]}"
        self.conn = MariaDB(settings).connect()
        self.readers: list[MySQLLogReader | MySQLSnapshotReader] = []
        self.connectors: list[str] = []
        self.execute(f"CREATE DATABASE {self.db}")
        self.conn.select_db(self.db)

    def execute(self, sql: str, args: object = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
        self.conn.commit()

    def transaction(self, *statements: tuple[str, object]) -> None:
        with self.conn.cursor() as cur:
            for sql, args in statements:
                cur.execute(sql, args)
        self.conn.commit()

    def config(self, *tables: str, **overrides: Any) -> ConnectorConfig:
        name = f"test-{self.db[4:]}-{len(self.connectors)}"
        self.connectors.append(name)
        document: dict[str, Any] = {
            "name": name,
            "institution_id": "123502001549897397",
            "system": "his",
            "engine": "mariadb",
            "connection": {
                "host": self.settings.mariadb_host,
                "port": self.settings.mariadb_port,
                "database": self.db,
                "user": self.settings.mariadb_user,
                "password_secret": "mariadb_password",
            },
            "tables": list(tables),
            "profile": "pinyin_gbk",
            "encoding": "gbk",
            "mysql": {"server_id": random.randint(1000, 60000)},
            "heartbeat_s": 300,  # no TransactionEnds for other tests' transactions
            **overrides,
        }
        return ConnectorConfig.model_validate(document)

    def log_reader(self, config: ConnectorConfig, password: str | None = None) -> MySQLLogReader:
        reader = MySQLLogReader(config, password or config.password(self.settings))
        self.readers.append(reader)
        return reader

    def snapshot_reader(self, config: ConnectorConfig) -> MySQLSnapshotReader:
        reader = MySQLSnapshotReader(config, config.password(self.settings))
        self.readers.append(reader)
        return reader

    def cleanup(self) -> None:
        for reader in self.readers:
            with contextlib.suppress(Exception):
                reader.close()
        with self.conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.db}")
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                "'streamhub' AND TABLE_NAME = 'watermarks'"
            )
            if cur.fetchone()[0] and self.connectors:  # only this test's own watermark rows
                cur.execute(
                    "DELETE FROM streamhub.watermarks WHERE connector IN %s", (self.connectors,)
                )
        self.conn.commit()
        self.conn.close()


@pytest.fixture
def source(settings: Settings) -> Iterator[Source]:
    created = Source(settings)
    try:
        yield created
    finally:
        created.cleanup()


def rows_of(events: list[Event]) -> list[RowEvent]:
    return [e for e in events if isinstance(e, RowEvent)]


def ends_of(events: list[Event]) -> list[TransactionEnd]:
    return [e for e in events if isinstance(e, TransactionEnd)]


def committed(n: int) -> Callable[[list[Event]], bool]:
    return lambda events: len(ends_of(events)) >= n


def test_changes_arrive_in_log_order_with_gtids_and_transaction_ends(source: Source) -> None:
    source.execute(PATIENTS)
    source.execute("CREATE TABLE KS_DM (KSDM INT PRIMARY KEY, KSMC VARCHAR(20))")
    reader = source.log_reader(source.config("GY_BRXX"))
    start = reader.start(None)
    assert re.fullmatch(r"\d+-\d+-\d+(,\d+-\d+-\d+)*", start)

    source.transaction(
        (INSERT_PATIENT, patient("P1", "张三", 1)),
        ("INSERT INTO KS_DM VALUES (1, 'x')", None),  # not a connector table: no RowEvent
        (INSERT_PATIENT, patient("P2", CP1252_HOSTILE, 2)),
    )
    source.execute(
        "UPDATE GY_BRXX SET XM = %s, GHF = 20 WHERE BRID = 'P1'", ("李四".encode("gbk"),)
    )
    source.execute("DELETE FROM GY_BRXX WHERE BRID = 'P2'")
    events = drain(reader, committed(3))

    rows, ends = rows_of(events), ends_of(events)
    assert [(r.op, (r.after or r.before or {})["BRID"]) for r in rows] == [
        ("c", "P1"),
        ("c", "P2"),
        ("u", "P1"),
        ("d", "P2"),
    ]
    assert rows[0].after == {
        "BRID": "P1",
        "XM": "张三",
        "ZYCS": 1,
        "GHF": Decimal("1.50"),
        "GHSJ": datetime.datetime(2024, 3, 1, 8, 30, 1, 125000),
        "BZ": "备注1",
        "CSRQ": datetime.date(1980, 1, 2),
        "ZP": b"\x00\xff\x01",
    }
    assert rows[1].after is not None and rows[1].after["XM"] == CP1252_HOSTILE
    assert rows[2].before == rows[0].after
    assert rows[2].after == {**rows[0].after, "XM": "李四", "GHF": Decimal("20.00")}
    assert rows[3].before == rows[1].after and rows[3].after is None

    # one GTID per transaction; a TransactionEnd right after each transaction's last row
    assert rows[0].txid == rows[1].txid != rows[2].txid != rows[3].txid
    kinds = [type(e).__name__ for e in events if isinstance(e, RowEvent | TransactionEnd)]
    assert kinds == ["RowEvent", "RowEvent", "TransactionEnd"] + ["RowEvent", "TransactionEnd"] * 2
    for end, row in zip(ends, (rows[1], rows[2], rows[3]), strict=True):
        assert row.position == row.txid
        assert row.txid in end.resume.split(",")
        seq = int(row.txid.rsplit("-", 1)[1])
        assert end.position_seq == (seq << 20) | 0xFFFFF
        assert abs(end.commit_ts_ms - time.time() * 1000) < 60_000
    seq = int(rows[0].txid.rsplit("-", 1)[1])
    assert (rows[0].position_seq, rows[1].position_seq) == (seq << 20, (seq << 20) | 1)
    sequence = [e.position_seq for e in events if isinstance(e, RowEvent | TransactionEnd)]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)

    head = reader.head()
    assert head.position_seq >= ends[-1].position_seq
    assert head.bytes_behind is not None and head.bytes_behind >= 0


def test_undecodable_value_comes_before_its_row_with_none_in_the_row(source: Source) -> None:
    source.execute(PATIENTS)
    reader = source.log_reader(source.config("GY_BRXX"))
    reader.start(None)
    bad = "王五".encode("gbk") + b"\xff\xff"
    source.execute(INSERT_PATIENT, ("P3", bad, 3, 1, None, "好", None, None))
    events = drain(reader, committed(1))

    problem, row, end = events
    assert isinstance(problem, UndecodableValue) and isinstance(row, RowEvent)
    assert isinstance(end, TransactionEnd)
    assert (problem.column, problem.raw, problem.op) == ("XM", bad, "c")
    assert "gbk" in problem.reason and "offset 4" in problem.reason
    assert problem.key == {"BRID": "P3"}
    assert (problem.position, problem.position_seq) == (row.position, row.position_seq)
    assert row.after is not None
    assert row.after["XM"] is None and row.after["BZ"] == "好"


def test_restart_from_a_stored_position_redelivers_only_what_follows(source: Source) -> None:
    source.execute(PATIENTS)
    config = source.config("GY_BRXX")
    first = source.log_reader(config)
    first.start(None)
    source.execute(INSERT_PATIENT, patient("A", "甲", 1))
    source.execute(INSERT_PATIENT, patient("B", "乙", 2))
    stored = ends_of(drain(first, committed(2)))[0].resume  # Kafka has A, not B
    first.close()
    source.execute(INSERT_PATIENT, patient("C", "丙", 3))  # written while stopped

    second = source.log_reader(config)
    assert second.start(stored) == stored
    events = drain(second, committed(2))
    assert [(r.after or {})["BRID"] for r in rows_of(events)] == ["B", "C"]
    expected = dict(zip(COLUMNS, patient("C", "丙", 3), strict=True))
    assert rows_of(events)[1].after == {**expected, "XM": "丙"}


def test_quiet_transactions_still_advance_the_position(source: Source) -> None:
    source.execute(PATIENTS)
    source.execute("CREATE TABLE KS_DM (KSDM INT PRIMARY KEY)")
    reader = source.log_reader(source.config("GY_BRXX", heartbeat_s=0.5))
    reader.start(None)
    source.execute("INSERT INTO KS_DM VALUES (1)")  # no captured rows in it
    with source.conn.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        (after,) = cur.fetchone()
    events = drain(reader, lambda evs: any(after in e.resume for e in ends_of(evs)))
    assert rows_of(events) == []


def test_add_column_mid_stream_yields_a_new_table_info(source: Source) -> None:
    source.execute(PATIENTS)
    reader = source.log_reader(source.config("GY_BRXX"))
    reader.start(None)
    source.execute(INSERT_PATIENT, patient("P1", "张三", 1))
    source.execute("ALTER TABLE GY_BRXX ADD COLUMN WXID VARCHAR(32)")
    source.execute(f"{INSERT_PATIENT[:-1]}, %s)", (*patient("P2", "李四", 2), b"wx000000000002"))
    source.execute("UPDATE GY_BRXX SET WXID = 'wx1' WHERE BRID = 'P1'")
    rows = rows_of(drain(reader, lambda evs: len(rows_of(evs)) >= 3))

    old, new, update = rows
    assert "WXID" not in [c.name for c in old.table.columns]
    assert [c.name for c in new.table.columns][-1] == "WXID"
    assert new.table is update.table and new.table != old.table
    assert new.table.fingerprint() != old.table.fingerprint()
    assert new.after is not None and new.after["WXID"] == "wx000000000002"
    assert update.before is not None and update.before["WXID"] is None
    assert update.after is not None and update.after["WXID"] == "wx1"


def test_watermarks_round_trip_through_the_log(source: Source) -> None:
    source.execute(PATIENTS)
    config = source.config("GY_BRXX")
    reader = source.log_reader(config)
    reader.start(None)
    snapshot = source.snapshot_reader(config)
    stranger = source.snapshot_reader(source.config("GY_BRXX"))

    snapshot.watermark("low", "GY_BRXX-0001")
    stranger.watermark("low", "GY_BRXX-0001")  # another connector's: not ours
    source.execute(INSERT_PATIENT, patient("P1", "张三", 1))
    snapshot.watermark("high", "GY_BRXX-0001")
    events = drain(
        reader, lambda evs: any(isinstance(e, Watermark) and e.kind == "high" for e in evs)
    )

    marks = [e for e in events if isinstance(e, Watermark | RowEvent)]
    assert [(type(e).__name__, getattr(e, "kind", None)) for e in marks] == [
        ("Watermark", "low"),
        ("RowEvent", None),
        ("Watermark", "high"),
    ]
    assert all(e.chunk_id == "GY_BRXX-0001" for e in marks if isinstance(e, Watermark))
    assert [e.position_seq for e in marks] == sorted(e.position_seq for e in marks)


MIXED = """CREATE TABLE JY_JGMX (
  BGDID VARCHAR(20) NOT NULL, HH INT NOT NULL, XMMC VARCHAR(60), JGZ DECIMAL(12,4),
  F FLOAT, D DOUBLE, TS TIMESTAMP NULL, BIG BIGINT UNSIGNED, IU INT UNSIGNED, SJ TIME,
  ND YEAR, FLAGS BIT(5), YCBZ ENUM('H','L','N'), TAGS SET('a','b','c'), LX CHAR(4),
  BN BINARY(4), YXBX TEXT, TP BLOB, BZ VARCHAR(20) CHARACTER SET utf8mb4,
  PRIMARY KEY (BGDID, HH)
) ENGINE=InnoDB DEFAULT CHARSET=latin1"""


def mixed_row(i: int) -> tuple[object, ...]:
    report = f"报告{i // 5}".encode("gbk")  # composite key led by GBK text
    name = b"\xd1\xaa\xff\xff" if i == 7 else f"血红蛋白{i}".encode("gbk")
    return (
        report,
        i % 5,
        name,
        Decimal(i) / 3,
        i * 1.1,
        i / 3,
        datetime.datetime(2024, 5, 1, 12, 0, i),
        2**64 - 1 - i,
        2**32 - 1 - i,
        datetime.timedelta(hours=i, minutes=1, seconds=2),
        2000 + i,
        i % 32,
        "HLN"[i % 3],
        "a,c" if i % 2 else "b",
        "ab " if i % 2 else None,
        b"x" if i % 2 else b"\x01\x02\x03\x04",
        ("所见" * i).encode("gbk"),
        bytes(range(i)),
        f"备注{i}",
    )


def test_snapshot_chunks_page_by_key_and_equal_the_log(source: Source) -> None:
    source.execute(MIXED)
    config = source.config("JY_JGMX")
    reader = source.log_reader(config)
    reader.start(None)
    with source.conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO JY_JGMX VALUES ({', '.join(['%s'] * 19)})",
            [mixed_row(i) for i in range(23)],
        )
    source.conn.commit()
    logged = rows_of(drain(reader, committed(1)))
    by_key = {((r.after or {})["BGDID"], (r.after or {})["HH"]): r.after or {} for r in logged}

    snapshot = source.snapshot_reader(config)
    (info,) = snapshot.tables()
    assert info == logged[0].table  # same columns, kinds, keys, source types both ways
    assert info.key_columns == ("BGDID", "HH")
    chunks, after = [], None
    while True:
        chunk = snapshot.chunk(info, after, 10)
        chunks.append(chunk)
        if len(chunk.rows) < 10:
            break
        after = chunk.last_key
    assert [len(c.rows) for c in chunks] == [10, 10, 3]
    seen = [(row["BGDID"], row["HH"]) for chunk in chunks for row in chunk.rows]
    assert len(seen) == len(set(seen)) == 23 == snapshot.count(info)
    for chunk in chunks:
        for row in chunk.rows:
            assert row == by_key[(row["BGDID"], row["HH"])]
    bad = next(r for c in chunks for r in c.rows if r["HH"] == 2 and r["BGDID"] == "报告1")
    assert bad["XMMC"] is None  # i == 7: undecodable both ways
    assert by_key[("报告0", 1)]["F"] == 1.1 and by_key[("报告0", 1)]["TAGS"] == "a,c"
    assert by_key[("报告0", 1)]["BN"] == b"x\x00\x00\x00"


def test_snapshot_chunks_carry_their_undecodable_values(source: Source) -> None:
    source.execute(PATIENTS)
    source.execute(INSERT_PATIENT, ("P1", b"\xd5\xc5\xff", 1, 1, None, None, None, None))
    snapshot = source.snapshot_reader(source.config("GY_BRXX"))
    (info,) = snapshot.tables()
    chunk = snapshot.chunk(info, None, 100)
    assert chunk.rows[0]["XM"] is None and chunk.last_key == ("P1",)
    (problem,) = chunk.undecodable
    assert (problem.column, problem.raw, problem.op, problem.key) == (
        "XM",
        b"\xd5\xc5\xff",
        "r",
        {"BRID": "P1"},
    )


def test_preflight_passes_on_the_stack_and_names_a_table_without_primary_key(
    source: Source,
) -> None:
    source.execute(PATIENTS)
    assert all(
        r.ok
        for r in check(source.config("GY_BRXX"), source.config("GY_BRXX").password(source.settings))
    )

    source.execute("CREATE TABLE MZ_GHXX (GHID VARCHAR(20), BRID VARCHAR(20))")
    config = source.config("GY_BRXX", "MZ_GHXX")
    results = {r.name: r for r in check(config, config.password(source.settings))}
    failed = [name for name, r in results.items() if not r.ok]
    assert failed == [f"table {source.db}.MZ_GHXX"]
    assert results[failed[0]].fix is not None and "ADD PRIMARY KEY" in results[failed[0]].fix
    assert {
        "log_bin",
        "binlog_format",
        "binlog_row_image",
        "binlog_row_metadata",
        "gtid",
        "privileges",
        "binlog retention",
        "server_id",
    } <= set(results)
    with pytest.raises(PreflightError, match="MZ_GHXX has no primary key"):
        source.snapshot_reader(config).tables()


def test_preflight_reports_a_refused_connection_as_one_check(source: Source) -> None:
    config = source.config("GY_BRXX")
    wrong = "not-the-password-" + secrets.token_hex(4)
    (result,) = check(config, wrong)
    assert (result.name, result.ok) == ("connection", False)
    assert result.fix and wrong not in result.detail


def test_a_position_the_server_does_not_have_is_position_lost(source: Source) -> None:
    source.execute(PATIENTS)
    reader = source.log_reader(source.config("GY_BRXX"))
    with pytest.raises(PositionLostError, match="reset the connector's position") as caught:
        reader.start("0-1-999999999999")
    assert caught.value.__cause__ is not None
    with pytest.raises(PositionLostError):
        reader.read(10, 0.1)


def test_a_failure_in_the_stream_thread_surfaces_from_read(source: Source) -> None:
    source.execute(PATIENTS)
    user, password = source.db, secrets.token_hex(12)  # a user of this test only
    host = source.settings.mariadb_host
    source.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
    try:
        source.execute(f"GRANT ALL PRIVILEGES ON *.* TO {user}@'{host}'")
        config = source.config("GY_BRXX")
        config = config.model_copy(
            update={"connection": config.connection.model_copy(update={"user": user})}
        )
        reader = source.log_reader(config, password)
        reader.start(None)
        source.execute(INSERT_PATIENT, patient("P1", "张三", 1))
        assert rows_of(drain(reader, committed(1)))

        source.execute("DROP USER %s@%s", (user, host))  # the library's reconnect now fails
        with source.conn.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
            for (thread_id,) in cur.fetchall():
                cur.execute(f"KILL CONNECTION {int(thread_id)}")
        with pytest.raises(SourceUnavailableError, match="Access denied") as caught:
            drain(reader, lambda evs: False, timeout_s=30)
        assert caught.value.__cause__ is not None
        assert password not in str(caught.value)
    finally:
        source.execute("DROP USER IF EXISTS %s@%s", (user, host))


def test_preflight_names_missing_grants_with_the_statements_to_fix_them(source: Source) -> None:
    source.execute(PATIENTS)
    user, password = source.db, secrets.token_hex(12)
    host = source.settings.mariadb_host
    source.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
    try:
        source.execute(f"GRANT SELECT ON {source.db}.* TO {user}@'{host}'")
        config = source.config("GY_BRXX")
        config = config.model_copy(
            update={"connection": config.connection.model_copy(update={"user": user})}
        )
        results = {r.name: r for r in check(config, password)}
        grants = results["privileges"]
        assert not grants.ok and grants.fix is not None
        assert "REPLICATION SLAVE ON *.*" in grants.detail
        assert "BINLOG MONITOR ON *.*" in grants.detail
        assert "INSERT ON streamhub.*" in grants.detail
        assert "SELECT ON" not in grants.detail  # granted on the database
        assert f"GRANT REPLICATION SLAVE ON *.* TO '{user}'@'<host>'" in grants.fix
        assert "PASSWORD" not in grants.detail + grants.fix
    finally:
        source.execute("DROP USER IF EXISTS %s@%s", (user, host))
