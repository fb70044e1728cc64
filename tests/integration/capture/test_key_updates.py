"""A primary-key update on both engines: the old key is deleted, the new one created.

Each case reads the real log (and, for the snapshot case, real chunks between real
watermarks, dropped as the task drops them: ``ChunkWindow``) and folds what capture
would send the way ClickHouse does (one live version per key, the largest
position_seq wins, ``d`` marks it deleted). The live rows must equal the source's rows,
and the source counts must equal the distinct versions that reach Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from streamhub.capture.counts import SourceCounts
from streamhub.capture.model import Event, RowEvent, TableInfo, TransactionEnd, Watermark
from streamhub.capture.snapshotting import ChunkWindow, key_of, table_id
from streamhub.config import Settings
from tests.integration.capture import test_postgres_reader
from tests.integration.capture.test_mysql_reader import Source as MariaSource
from tests.integration.capture.test_postgres_reader import Source as PgSource

from .helpers import drain

make_source = test_postgres_reader.make_source  # its per-test PostgreSQL databases


@dataclass
class Engine:
    """One engine's test database behind the few calls these tests need."""

    name: str
    sql: Callable[[str], None]
    transaction: Callable[[list[str]], None]
    open: Callable[[], tuple[Any, Any]]  # (log reader, snapshot reader) of table t
    rows: Callable[[], set[tuple[object, ...]]]  # (id, name) of t


def _postgres(source: PgSource, identity: str) -> Engine:
    def open_readers() -> tuple[Any, Any]:
        config = source.config(["t"])
        return source.log_reader(config), source.snapshot_reader(config)

    source.sql("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
    source.sql(f"ALTER TABLE t REPLICA IDENTITY {identity}")
    return Engine(
        f"postgres-{identity.lower()}",
        lambda stmt: source.sql(stmt),
        lambda stmts: source.sql("BEGIN;" + ";".join(stmts) + ";COMMIT"),
        open_readers,
        lambda: {tuple(r) for r in source.sql("SELECT id, name FROM t")},
    )


def _mariadb(source: MariaSource) -> Engine:
    def open_readers() -> tuple[Any, Any]:
        config = source.config("t")
        return source.log_reader(config), source.snapshot_reader(config)

    def rows() -> set[tuple[object, ...]]:
        with source.conn.cursor() as cur:
            cur.execute("SELECT id, name FROM t")
            found = {tuple(r) for r in cur.fetchall()}
        source.conn.commit()
        return found

    source.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    )
    return Engine(
        "mariadb",
        lambda stmt: source.execute(stmt),
        lambda stmts: source.transaction(*[(s, None) for s in stmts]),
        open_readers,
        rows,
    )


@pytest.fixture(params=["postgres-default", "postgres-full", "mariadb"])
def engine(
    request: pytest.FixtureRequest, settings: Settings, make_source: Callable[..., PgSource]
) -> Iterator[Engine]:
    if request.param == "mariadb":
        source = MariaSource(settings)
        try:
            yield _mariadb(source)
        finally:
            source.cleanup()
    else:
        yield _postgres(make_source(), request.param.split("-")[1].upper())


def has_rows(n: int) -> Callable[[list[Event]], bool]:
    return lambda events: sum(isinstance(e, RowEvent) for e in events) >= n


def has_mark(chunk_id: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(
        isinstance(e, Watermark) and e.kind == "high" and e.chunk_id == chunk_id for e in events
    )


def row_of(event: RowEvent) -> tuple[object, ...]:
    image = event.after if event.after is not None else event.before
    assert image is not None
    return (image["id"], image.get("name"))


class Sent:
    """What capture sends (log changes, and chunk rows left at their high mark), folded
    the ClickHouse way, and counted the way the agent counts ops.source_counts."""

    def __init__(self) -> None:
        self.changes: list[RowEvent] = []
        self.counts = SourceCounts()

    def add(self, event: RowEvent) -> None:
        self.changes.append(event)
        self.counts.add(table_id(event.table), event.op, event.commit_ts_ms)

    def live(self) -> set[tuple[object, ...]]:
        latest: dict[tuple[object, ...], RowEvent] = {}
        for event in self.changes:
            image = event.after if event.after is not None else event.before
            assert image is not None
            key = key_of(event.table, image)
            if key not in latest or event.position_seq >= latest[key].position_seq:
                latest[key] = event
        return {row_of(e) for e in latest.values() if e.op != "d"}

    def assert_counts_match_versions(self) -> None:
        versions = {
            (key_of(e.table, e.after if e.after is not None else e.before or {}), e.position_seq)
            for e in self.changes
        }
        windows = self.counts.due(everything=True)
        counted = sum(w.inserts + w.updates + w.deletes + w.snapshot_reads for w in windows)
        assert counted == len(self.changes) == len(versions)


def test_a_key_update_deletes_the_old_key_and_creates_the_new(engine: Engine) -> None:
    log_reader, _ = engine.open()
    log_reader.start(None)
    engine.sql("INSERT INTO t VALUES (1, 'a')")
    engine.sql("UPDATE t SET id = 2 WHERE id = 1")
    changes = [e for e in drain(log_reader, has_rows(3)) if isinstance(e, RowEvent)]

    inserted, deleted, created = changes
    assert [(e.op, row_of(e)[0]) for e in changes] == [("c", 1), ("d", 1), ("c", 2)]
    assert deleted.before is not None and deleted.before["id"] == 1 and deleted.after is None
    assert created.before is None and created.after == {"id": 2, "name": "a"}
    # same log position and commit; two versions, both after the old key's earlier one
    assert deleted.position == created.position and deleted.txid == created.txid
    assert deleted.commit_ts_ms == created.commit_ts_ms
    assert inserted.position_seq < deleted.position_seq < created.position_seq
    sent = Sent()
    for event in changes:
        sent.add(event)
    assert sent.live() == engine.rows() == {(2, "a")}
    sent.assert_counts_match_versions()


def test_a_key_update_inside_a_multi_row_transaction(engine: Engine) -> None:
    log_reader, _ = engine.open()
    log_reader.start(None)
    engine.transaction(["INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')"])
    engine.transaction(
        [
            "UPDATE t SET id = 10 WHERE id = 1",
            "UPDATE t SET name = 'b2' WHERE id = 2",
            "INSERT INTO t VALUES (3, 'c')",
            "UPDATE t SET id = 1 WHERE id = 3",  # the freed key taken again in the same txn
        ]
    )
    events = drain(log_reader, has_rows(8))
    changes = [e for e in events if isinstance(e, RowEvent)]

    assert [(e.op, row_of(e)[0]) for e in changes] == [
        ("c", 1),
        ("c", 2),
        ("d", 1),
        ("c", 10),
        ("u", 2),
        ("c", 3),
        ("d", 3),
        ("c", 1),
    ]
    seqs = [e.position_seq for e in events if isinstance(e, RowEvent | TransactionEnd)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e.txid for e in changes[2:]}) == 1
    sent = Sent()
    for event in changes:
        sent.add(event)
    assert sent.live() == engine.rows() == {(10, "a"), (2, "b2"), (1, "c")}
    sent.assert_counts_match_versions()


def test_key_updates_during_a_snapshot_chunk(engine: Engine) -> None:
    """Rows 1-4 exist before capture; chunks of three. Chunk 1 reads 1, 2, 3. In chunk 2's
    window: 1 (already read) moves to 30 (into the chunk's range), 3 (read by chunk 1) to 0;
    the chunk reads 4 and 30; then 4 moves to 40 (its chunk copy must not resurrect)."""
    engine.transaction([f"INSERT INTO t VALUES ({i}, 'r{i}')" for i in range(1, 5)])
    log_reader, snapshots = engine.open()
    log_reader.start(None)
    (table,) = snapshots.tables()
    sent = Sent()

    def chunk(
        chunk_id: str, after: tuple[object, ...] | None, during: list[str], later: list[str]
    ) -> ChunkWindow:
        snapshots.watermark("low", chunk_id)
        for stmt in during:
            engine.sql(stmt)
        window = ChunkWindow.of(chunk_id, snapshots.chunk(table, after, 3), 3)
        for stmt in later:
            engine.sql(stmt)
        snapshots.watermark("high", chunk_id)
        for event in drain(log_reader, has_mark(chunk_id)):
            if isinstance(event, Watermark) and event.chunk_id == chunk_id:
                if event.kind == "low":
                    window.seen_low = True
                else:  # as the task does: what the log did not supersede, at the high mark
                    for row in window.remaining():
                        sent.add(_read(table, row, event.position_seq))
            elif isinstance(event, RowEvent):
                window.observe(event)
                sent.add(event)
        return window

    first = chunk("k1", None, [], [])
    assert first.full and first.last_key == (3,)
    second = chunk(
        "k2",
        first.last_key,
        ["UPDATE t SET id = 30 WHERE id = 1", "UPDATE t SET id = 0 WHERE id = 3"],
        ["UPDATE t SET id = 40 WHERE id = 4"],
    )
    assert not second.full
    assert second.superseded == 2  # 30 (created in the window) and 4 (moved after the read)
    assert sent.live() == engine.rows() == {(0, "r3"), (2, "r2"), (30, "r1"), (40, "r4")}
    sent.assert_counts_match_versions()


def _read(table: TableInfo, row: dict[str, object], seq: int) -> RowEvent:
    return RowEvent(table, "r", None, row, "", seq, None, int(time.time() * 1000), "true")
