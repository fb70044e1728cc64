"""The PostgreSQL capture engine against the local stack's PostgreSQL.

Every test gets its own database (``cap_<uuid8>``); its slots and the database
are dropped afterwards, also when the test fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import PositionLostError, PreflightError, SourceUnavailableError
from streamhub.capture.model import Event, RowEvent, TransactionEnd, UndecodableValue, Watermark
from streamhub.capture.postgres.log_reader import PostgresLogReader
from streamhub.capture.postgres.pgoutput import parse_lsn
from streamhub.capture.postgres.preflight import check
from streamhub.capture.postgres.snapshot_reader import PostgresSnapshotReader
from streamhub.config import Settings
from streamhub.stack.postgres import Postgres

from .helpers import drain

INSTITUTION = "123502001549897397"


@dataclass
class Source:
    """One test database, with readers that are closed when the test ends."""

    settings: Settings
    database: str
    conn: Any
    closers: list[Callable[[], None]] = field(default_factory=list)

    def sql(
        self, statement: str, params: tuple[object, ...] | None = None
    ) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def config(self, tables: list[str], **extra: Any) -> ConnectorConfig:
        return ConnectorConfig.model_validate(
            {
                "name": f"pgtest-{uuid.uuid4().hex[:8]}",
                "institution_id": INSTITUTION,
                "system": "his",
                "engine": "postgresql",
                "connection": {
                    "host": self.settings.postgres_host,
                    "port": self.settings.postgres_port,
                    "database": self.database,
                    "user": self.settings.postgres_user,
                    "password_secret": "postgres_password",
                },
                "tables": tables,
                "profile": "english_pg",
                **extra,
            }
        )

    def log_reader(self, config: ConnectorConfig) -> PostgresLogReader:
        reader = PostgresLogReader(config, config.password(self.settings))
        self.closers.append(reader.close)
        return reader

    def snapshot_reader(self, config: ConnectorConfig) -> PostgresSnapshotReader:
        reader = PostgresSnapshotReader(config, config.password(self.settings))
        self.closers.append(reader.close)
        return reader


@pytest.fixture
def make_source(settings: Settings) -> Iterator[Callable[..., Source]]:
    server = Postgres(settings).connect()
    server.autocommit = True
    made: list[Source] = []

    def make(encoding: str = "UTF8") -> Source:
        name = f"cap_{uuid.uuid4().hex[:8]}"
        with server.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE {name} ENCODING '{encoding}' TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        conn = Postgres(settings).connect(name)
        conn.autocommit = True
        made.append(Source(settings, name, conn))
        return made[-1]

    yield make
    for source in made:
        for close in source.closers:
            close()
        source.conn.close()
        with server.cursor() as cur:
            _drop_slots(cur, source.database)
            cur.execute(f"DROP DATABASE IF EXISTS {source.database} WITH (FORCE)")
    server.close()


def _drop_slots(cur: Any, database: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        cur.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            "WHERE database = %s AND active_pid IS NOT NULL",
            (database,),
        )
        cur.execute(
            "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s",
            (database,),
        )
        slots = cur.fetchall()
        for slot, active in slots:
            if active is None:
                cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        if not slots or time.monotonic() > deadline:
            return
        time.sleep(0.2)


@pytest.fixture
def source(make_source: Callable[..., Source]) -> Source:
    return make_source()


def ends(n: int) -> Callable[[list[Event]], bool]:
    return lambda events: sum(isinstance(e, TransactionEnd) for e in events) >= n


def rows(events: list[Event]) -> list[RowEvent]:
    return [e for e in events if isinstance(e, RowEvent)]


PATIENT = """
CREATE TABLE patient (
    id bigint PRIMARY KEY,
    name varchar(40) NOT NULL,
    birth date,
    weight numeric(6,2),
    active boolean,
    admitted timestamp,
    updated timestamptz,
    photo bytea,
    score double precision,
    grade smallint,
    visits integer,
    note text,
    tag uuid
)
"""


def test_changes_come_out_in_commit_order_with_values_and_transaction_ends(source: Source):
    source.sql(PATIENT)
    reader = source.log_reader(source.config(["patient"]))
    reader.start(None)
    source.sql(
        "BEGIN;"
        "INSERT INTO patient VALUES (1, '张三', '1980-02-29', 72.50, true, "
        "'2024-05-06 07:08:09.123456', '2024-05-06 07:08:09.5+08', '\\x00ff10', 36.6, 3, "
        "12345, 'note', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');"
        "INSERT INTO patient (id, name) VALUES (2, 'Li Si');"
        "COMMIT"
    )
    source.sql("UPDATE patient SET name = 'Zhang San' WHERE id = 1")
    source.sql("UPDATE patient SET id = 3 WHERE id = 2")
    source.sql("DELETE FROM patient WHERE id = 1")
    events = drain(reader, ends(4))

    changes = rows(events)
    assert [(r.op, (r.after or r.before or {})["id"]) for r in changes] == [
        ("c", 1),
        ("c", 2),
        ("u", 1),
        ("d", 2),  # a key change leaves as a delete of the old key and a create of the new
        ("c", 3),
        ("d", 1),
    ]
    first, second, renamed, rekeyed, created, deleted = changes
    assert first.after == {
        "id": 1,
        "name": "张三",
        "birth": date(1980, 2, 29),
        "weight": Decimal("72.50"),
        "active": True,
        "admitted": datetime(2024, 5, 6, 7, 8, 9, 123456),
        "updated": datetime(2024, 5, 5, 23, 8, 9, 500000, tzinfo=UTC),
        "photo": b"\x00\xff\x10",
        "score": 36.6,
        "grade": 3,
        "visits": 12345,
        "note": "note",
        "tag": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    }
    assert second.after is not None
    assert {k: v for k, v in second.after.items() if v is not None} == {"id": 2, "name": "Li Si"}
    assert renamed.before is None  # default replica identity, key unchanged
    assert renamed.after is not None and renamed.after["name"] == "Zhang San"
    assert rekeyed.before == {"id": 2} and rekeyed.after is None  # the old key: it changed
    assert created.before is None and created.after is not None and created.after["id"] == 3
    assert created.position_seq == rekeyed.position_seq + 1
    assert deleted.before == {"id": 1} and deleted.after is None

    table = first.table
    assert (table.database, table.schema, table.name) == (source.database, "public", "patient")
    assert table.key_columns == ("id",)
    kinds = {c.name: c.kind for c in table.columns}
    assert kinds["id"] == "long" and kinds["grade"] == "int" and kinds["tag"] == "string"
    assert not next(c for c in table.columns if c.name == "name").nullable

    seqs = [e.position_seq for e in events if isinstance(e, RowEvent | TransactionEnd)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kinds_in_order = ["R" if isinstance(e, RowEvent) else "E" for e in events]
    assert kinds_in_order == ["R", "R", "E", "R", "E", "R", "R", "E", "R", "E"]
    assert first.txid == second.txid != renamed.txid
    now_ms = time.time() * 1000
    assert all(abs(r.commit_ts_ms - now_ms) < 60_000 for r in changes)
    end_one = next(e for e in events if isinstance(e, TransactionEnd))
    assert parse_lsn(end_one.resume) > parse_lsn(second.position)
    assert end_one.commit_ts_ms == first.commit_ts_ms


def test_full_replica_identity_gives_old_rows_and_fills_unchanged_toast(source: Source):
    big = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i)"
    source.sql("CREATE TABLE doc (id int PRIMARY KEY, title text, body text)")
    source.sql("CREATE TABLE full_doc (id int PRIMARY KEY, title text, body text)")
    source.sql("ALTER TABLE full_doc REPLICA IDENTITY FULL")
    reader = source.log_reader(source.config(["doc", "public.full_doc"]))
    reader.start(None)
    source.sql(
        f"INSERT INTO doc VALUES (1, 'a', {big}); INSERT INTO full_doc VALUES (1, 'a', {big})"
    )
    source.sql("UPDATE doc SET title = 'b'; UPDATE full_doc SET title = 'b'")  # one transaction
    events = drain(reader, ends(2))
    doc_update, full_update = [r for r in rows(events) if r.op == "u"]

    body = source.sql(f"SELECT {big}")[0][0]
    assert doc_update.before is None
    assert doc_update.after == {"id": 1, "title": "b"}  # unchanged TOAST: not in the log
    assert full_update.before == {"id": 1, "title": "a", "body": body}
    assert full_update.after == {"id": 1, "title": "b", "body": body}  # filled from the old row
    assert full_update.table.key_columns == ("id",)  # not every column, as FULL flags them


def test_restart_redelivers_only_what_follows_the_confirmed_position(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    config = source.config(["t"])
    reader = source.log_reader(config)
    reader.start(None)
    for i in (1, 2, 3):
        source.sql("INSERT INTO t VALUES (%s, 'x')", (i,))
    events = drain(reader, ends(3))
    second_end = [e for e in events if isinstance(e, TransactionEnd)][1]
    behind = reader.head().bytes_behind
    reader.confirm(second_end.resume)
    assert behind is not None and reader.head().bytes_behind is not None
    assert reader.head().bytes_behind < behind  # type: ignore[operator]
    deadline = time.monotonic() + 10
    while (
        source.sql(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (config.slot_name,),
        )[0][0]
        != second_end.resume
    ):
        assert time.monotonic() < deadline, "the slot never reached the confirmed position"
        time.sleep(0.1)
    reader.close()

    source.sql("INSERT INTO t VALUES (4, 'y')")
    again = source.log_reader(config)
    assert parse_lsn(again.start(second_end.resume)) >= parse_lsn(second_end.resume)
    redelivered = drain(again, ends(2))
    assert [r.after["id"] for r in rows(redelivered) if r.after] == [3, 4]
    again.close()

    # the stored position is lost, the slot's is not: nothing before it comes back
    third = source.log_reader(config)
    third.start(None)
    assert [r.after["id"] for r in rows(drain(third, ends(2))) if r.after] == [3, 4]


def test_a_column_added_mid_stream_yields_a_new_table_info(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    reader = source.log_reader(source.config(["t"]))
    reader.start(None)
    source.sql("INSERT INTO t VALUES (1, 'a')")
    source.sql("ALTER TABLE t ADD COLUMN ward varchar(10) NOT NULL DEFAULT 'none'")
    source.sql("INSERT INTO t VALUES (2, 'b', 'A')")
    source.sql("UPDATE t SET ward = 'B' WHERE id = 1")
    before, added, updated = rows(drain(reader, ends(3)))

    assert [c.name for c in before.table.columns] == ["id", "v"]
    assert [c.name for c in added.table.columns] == ["id", "v", "ward"]
    ward = added.table.columns[2]
    assert (ward.kind, ward.source_type, ward.nullable) == (
        "string",
        "character varying(10)",
        False,
    )
    assert added.table.fingerprint() != before.table.fingerprint()
    assert added.after == {"id": 2, "v": "b", "ward": "A"}
    assert updated.after == {"id": 1, "v": "a", "ward": "B"}
    assert updated.table == added.table


def test_watermarks_round_trip_through_the_log(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY)")
    config = source.config(["t"])
    reader = source.log_reader(config)
    reader.start(None)
    ours = source.snapshot_reader(config)
    theirs = source.snapshot_reader(source.config(["t"]))
    ours.watermark("low", "chunk-1")
    theirs.watermark("low", "other")
    source.sql("INSERT INTO t VALUES (1)")
    source.sql("SELECT pg_logical_emit_message(true, 'streamhub.watermark', 'not json')")
    ours.watermark("high", "chunk-1")
    events = drain(reader, ends(5))

    marks = [e for e in events if isinstance(e, Watermark)]
    assert [(m.kind, m.chunk_id) for m in marks] == [("low", "chunk-1"), ("high", "chunk-1")]
    (row,) = rows(events)
    assert marks[0].position_seq < row.position_seq < marks[1].position_seq


CHART = """
CREATE TABLE chart (
    ward text,
    bed int,
    patient bigint NOT NULL,
    fee numeric(10,2),
    seen timestamptz,
    born date,
    weight real,
    flags bytea,
    PRIMARY KEY (bed, ward)
)
"""


def test_snapshot_chunks_page_through_a_table_and_equal_the_log(source: Source):
    source.sql(CHART)
    config = source.config(["public.chart"])
    reader = source.log_reader(config)
    reader.start(None)
    source.sql(
        "INSERT INTO chart SELECT 'w' || (i % 3), i / 3, 1000 + i, i * 1.25, "
        "timestamptz '2024-01-01 08:00+08' + i * interval '1 hour', date '2000-01-01' + i, "
        "60.1 + i, CASE WHEN i % 2 = 0 THEN '\\xdead'::bytea END "
        "FROM generate_series(0, 24) i"
    )
    logged = {(r.after["bed"], r.after["ward"]): r for r in rows(drain(reader, ends(1))) if r.after}
    snapshot = source.snapshot_reader(config)
    (table,) = snapshot.tables()
    assert table == next(iter(logged.values())).table  # same layout from catalog and log
    assert table.key_columns == ("ward", "bed")

    pages, after = [], None
    while True:
        chunk = snapshot.chunk(table, after, 10)
        if not chunk.rows:
            assert chunk.last_key == after
            break
        pages.append(chunk.rows)
        after = chunk.last_key
    assert [len(p) for p in pages] == [10, 10, 5]
    read = [row for page in pages for row in page]
    assert [(r["bed"], r["ward"]) for r in read] == sorted(logged)
    for row in read:
        assert row == logged[(row["bed"], row["ward"])].after
    assert snapshot.count(table) == 25

    # a position that went through JSON (text values) pages the same way
    first = snapshot.chunk(table, None, 10)
    assert first.last_key is not None
    as_text = tuple(str(v) for v in first.last_key)
    assert snapshot.chunk(table, as_text, 10).rows == pages[1]


def test_snapshot_pages_in_key_order_not_in_text_order(source: Source):
    # keys 1..25 sort as text 1, 10, 11 … 2, 20 …: paging must follow the numbers
    source.sql("CREATE TABLE counter (id bigint PRIMARY KEY, v text)")
    source.sql("INSERT INTO counter SELECT i, 'v' || i FROM generate_series(1, 25) i")
    snapshot = source.snapshot_reader(source.config(["public.counter"]))
    (table,) = snapshot.tables()
    keys, after = [], None
    while chunk := snapshot.chunk(table, after, 10).rows:
        keys += [row["id"] for row in chunk]
        after = (chunk[-1]["id"],)
    assert keys == list(range(1, 26))


def test_undecodable_text_is_reported_before_its_row_and_read_as_null(make_source):
    source = make_source("SQL_ASCII")  # stores whatever bytes it is given, like legacy HIS
    source.sql("CREATE TABLE t (id int PRIMARY KEY, name text)")
    config = source.config(["t"], encoding="gbk")
    reader = source.log_reader(config)
    reader.start(None)
    source.sql("INSERT INTO t VALUES (1, E'\\xc4\\xe3\\xba\\xc3'), (2, E'\\xc4\\xe3\\xff')")
    events = drain(reader, ends(1))

    assert [type(e).__name__ for e in events] == [
        "RowEvent",
        "UndecodableValue",
        "RowEvent",
        "TransactionEnd",
    ]
    good, bad, row = events[0], events[1], events[2]
    assert isinstance(good, RowEvent) and good.after == {"id": 1, "name": "你好"}
    assert isinstance(bad, UndecodableValue) and isinstance(row, RowEvent)
    assert (bad.column, bad.raw, bad.key, bad.op) == ("name", b"\xc4\xe3\xff", {"id": 2}, "c")
    assert "gbk" in bad.reason and "byte 2" in bad.reason
    assert bad.position_seq == row.position_seq
    assert row.after == {"id": 2, "name": None}

    snapshot = source.snapshot_reader(config)
    (table,) = snapshot.tables()
    assert snapshot.chunk(table, None, 10).rows == [good.after, row.after]


def test_preflight_passes_on_the_stack(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY)")
    results = check(source.config(["t"]), source.config(["t"]).password(source.settings))
    failed = [r for r in results if not r.ok]
    assert failed == [], failed
    assert {"wal_level", "replication connection", "table public.t"} <= {r.name for r in results}


def test_preflight_fails_with_a_fix_for_a_table_without_primary_key(source: Source):
    source.sql("CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (id int, v text)")
    config = source.config(["keyed", "loose"])
    results = check(config, config.password(source.settings))
    (failed,) = [r for r in results if not r.ok]
    assert failed.name == "table public.loose" and failed.severity == "error"
    assert failed.fix is not None and "ADD PRIMARY KEY" in failed.fix
    assert "REPLICA IDENTITY FULL" in failed.fix

    with pytest.raises(PreflightError, match="loose"):
        source.log_reader(config).start(None)
    # nothing was published: the source's UPDATE/DELETE on the table keep working
    source.sql("INSERT INTO loose VALUES (1, 'a'); UPDATE loose SET v = 'b'")


def test_preflight_reports_an_unreachable_server_as_one_failed_check(source: Source):
    config = source.config(["t"])
    moved = config.model_copy(
        update={"connection": config.connection.model_copy(update={"port": 1})}
    )
    (result,) = check(moved, "not-the-password")
    assert result.name == "connection" and not result.ok and result.fix
    assert "not-the-password" not in result.detail


def test_a_stored_position_without_its_slot_is_lost(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY)")
    with pytest.raises(PositionLostError, match="does not exist"):
        source.log_reader(source.config(["t"])).start("0/1000")


def test_read_keeps_the_stream_alive_through_70_seconds_of_silence(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY)")
    config = source.config(["t"])
    reader = source.log_reader(config)
    reader.start(None)
    slot_pid = "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s"
    pid = source.sql(slot_pid, (config.slot_name,))[0][0]
    quiet_until = time.monotonic() + 70  # wal_sender_timeout is 60 s on the stack
    while time.monotonic() < quiet_until:
        assert reader.read(100, min(5.0, max(0.0, quiet_until - time.monotonic()))) == []
    source.sql("INSERT INTO t VALUES (1)")
    (row,) = rows(drain(reader, ends(1), timeout_s=5))
    assert row.after == {"id": 1}
    assert source.sql(slot_pid, (config.slot_name,))[0][0] == pid  # the same stream


def test_a_dropped_stream_is_reported_as_source_unavailable(source: Source):
    source.sql("CREATE TABLE t (id int PRIMARY KEY)")
    config = source.config(["t"])
    reader = source.log_reader(config)
    reader.start(None)
    source.sql(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s",
        (config.slot_name,),
    )
    with pytest.raises(SourceUnavailableError, match="restart from the stored position"):
        drain(reader, ends(1), timeout_s=10)
