"""Targeted re-snapshot by primary key on the stack's PostgreSQL and MariaDB.

A running agent is asked for three existing keys and one absent key: exactly
three snapshot reads (op r) with the rows' current values reach the raw topic at
the position_seqs the answer names, the absent key is reported as not found, and
ops.source_counts counts the three as snapshot reads in their minute.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from prometheus_client import REGISTRY

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import SnapshotRejectedError
from streamhub.capture.positions import PositionStore
from streamhub.capture.signals import (
    SnapshotDone,
    send_snapshot_request,
    signal_topic,
    wait_for_snapshot_done,
)
from streamhub.cli.main import cli
from streamhub.config import Settings
from streamhub.kafka.groups import topic_ends
from streamhub.serde.avro_serde import AvroSerde
from streamhub.stack.postgres import Postgres

from .helpers import plain, source_rows, wait_until
from .test_mysql_reader import INSERT_PATIENT, PATIENTS, patient
from .test_mysql_reader import Source as MariaSource
from .test_postgres_reader import Source as PgSource
from .test_postgres_reader import _drop_slots

Offsets = dict[tuple[str, int], int]


@pytest.fixture
def resnapshot_settings(capture_settings: Settings) -> Iterator[Settings]:
    """Capture settings whose positions and signal topics are deleted afterwards."""
    yield capture_settings
    admin = AdminClient({"bootstrap.servers": capture_settings.kafka_bootstrap})
    topics = [capture_settings.capture_positions_topic, signal_topic(capture_settings)]
    for future in admin.delete_topics(topics).values():
        with contextlib.suppress(Exception):  # a topic the test never created
            future.result(30)


@pytest.fixture
def pg(settings: Settings) -> Iterator[PgSource]:
    """A database of its own; its slots and the database are dropped afterwards."""
    server = Postgres(settings).connect()
    server.autocommit = True
    name = f"cap_{uuid.uuid4().hex[:8]}"
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    conn = Postgres(settings).connect(name)
    conn.autocommit = True
    try:
        yield PgSource(settings, name, conn)
    finally:
        conn.close()
        with server.cursor() as cur:
            _drop_slots(cur, name)
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.close()


@pytest.fixture
def maria(settings: Settings) -> Iterator[MariaSource]:
    created = MariaSource(settings)
    try:
        yield created
    finally:
        created.cleanup()


@contextmanager
def running(settings: Settings, config: ConnectorConfig) -> Iterator[None]:
    """One agent running ``config``, stopped (open counts emitted) when the block ends."""
    stop = threading.Event()
    agent = CaptureAgent(settings, [config], coordinated=False)
    worker = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    worker.start()
    try:
        positions = PositionStore(settings)
        # the signal listener is open before the first position is stored
        assert wait_until(lambda: positions.load(config.name) is not None, 30, 0.2)
        yield
    finally:
        stop.set()
        worker.join(60)


def read_from(settings: Settings, start: Offsets) -> list[tuple[str, dict[str, Any]]]:
    """Decoded (topic, record) of every message after ``start`` up to the current ends."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    ends = topic_ends(settings, sorted({t for t, _ in start}))
    wanted = {tp: end for tp, end in ends.items() if end > start.get(tp, 0)}
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "t-resnap"})
    out = []
    try:
        consumer.assign([TopicPartition(t, p, start.get((t, p), 0)) for t, p in wanted])
        deadline = time.monotonic() + 30
        while wanted and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            where = (message.topic(), message.partition())
            if where in wanted and (message.offset() or 0) < wanted[where]:
                out.append((where[0], serde.decode(message.value() or b"").value))
                if (message.offset() or 0) + 1 >= wanted[where]:
                    del wanted[where]
    finally:
        consumer.close()
    return out


def check_resnapshot(
    settings: Settings,
    config: ConnectorConfig,
    table: str,
    keys: list[dict[str, Any]],
    absent: dict[str, Any],
    current: Callable[[], dict[str, dict[str, Any]]],
    change: Callable[[], None],
) -> SnapshotDone:
    """The scenario both engines share; ``current`` maps a JSON key to the row's plain values."""
    start = topic_ends(settings, [config.topic, "ops.source_counts"])
    with running(settings, config):
        change()  # streamed as an update: the re-read must carry the value after it
        began = time.monotonic()
        request_id = send_snapshot_request(settings, config.name, table, [*keys, absent])
        done = wait_for_snapshot_done(settings, request_id, 30)
        answered_s = time.monotonic() - began
        for bad, says in (
            ({"no_such_column": 1}, "does not match the primary key"),
            (None, "names no single table captured"),
        ):
            target = "no_such_table" if bad is None else table
            refused = send_snapshot_request(settings, config.name, target, [bad or keys[0]])
            with pytest.raises(SnapshotRejectedError, match=says) as caught:
                wait_for_snapshot_done(settings, refused, 30)
            assert caught.value.connector == config.name
    labels = {"connector": config.name, "institution": config.institution_id, "system": "his"}
    for outcome, times in (("answered", 1), ("refused", 2)):
        counted = REGISTRY.get_sample_value(
            "streamhub_capture_resnapshot_requests_total", labels | {"outcome": outcome}
        )
        assert counted == times
    print(f"{config.engine}: answered in {answered_s:.2f}s")
    expected = current()
    assert done.connector == config.name and done.rows == 3
    assert sorted(json.dumps(r.key, sort_keys=True) for r in done.read) == sorted(
        json.dumps(k, sort_keys=True) for k in keys
    )
    assert done.not_found == [absent]

    records = read_from(settings, start)
    reads = [
        r
        for topic, r in records
        if topic == config.topic and r["source"]["connector"] == config.name and r["op"] == "r"
    ]
    assert len(reads) == 3
    seq_of = {json.dumps(r.key, sort_keys=True): r.position_seq for r in done.read}
    for envelope in reads:
        after = {k: plain(v) for k, v in envelope["after"].items()}
        key = next(k for k in expected if expected[k] == after)  # the current row, exactly
        assert envelope["source"]["position_seq"] == seq_of[key]
        assert envelope["source"]["snapshot"] == "true"

    # counted as snapshot reads in the minute of their commit time (latest emission wins)
    latest: dict[tuple[str, int], tuple[int, int]] = {}
    for topic, r in records:
        if topic == "ops.source_counts" and r["connector"] == config.name:
            window = (r["table"], r["window_start_ms"])
            if r["row_count"] is None and r["emitted_ts_ms"] >= latest.get(window, (0, 0))[0]:
                latest[window] = (r["emitted_ts_ms"], r["snapshot_reads"])
    counted = {w: n for w, (_, n) in latest.items() if n}
    minutes = {e["source"]["commit_ts_ms"] // 60_000 * 60_000 for e in reads}
    assert sum(counted.values()) == 3
    assert {start for _, start in counted} == minutes
    return done


def test_postgres_rows_are_re_read_by_composite_key(
    resnapshot_settings: Settings, pg: PgSource
) -> None:
    source = pg
    source.sql(
        "CREATE TABLE visit (site varchar(8), id bigint, fee numeric(8,2), seen timestamp, "
        "note text, PRIMARY KEY (site, id))"
    )
    source.sql(
        "INSERT INTO visit SELECT 'h' || (i % 2), i, i * 1.5, "
        "timestamp '2026-03-02 09:00' + i * interval '1 minute', 'v' || i "
        "FROM generate_series(1, 6) i"
    )
    config = source.config(["public.visit"], snapshot={"mode": "never"})
    keys = [{"site": "h1", "id": 1}, {"site": "h0", "id": 2}, {"site": "h1", "id": 3}]

    def current() -> dict[str, dict[str, Any]]:
        rows = source.sql("SELECT site, id, fee, seen, note FROM visit")
        return {
            json.dumps({"id": r[1], "site": r[0]}, sort_keys=True): {
                "site": r[0],
                "id": r[1],
                "fee": plain(r[2]),
                "seen": plain(r[3]),
                "note": r[4],
            }
            for r in rows
        }

    done = check_resnapshot(
        resnapshot_settings,
        config,
        "visit",
        keys,
        {"site": "h0", "id": 99},
        current,
        lambda: source.sql("UPDATE visit SET note = 'changed' WHERE id = 2"),
    )
    assert done.table == f"{source.database}.public.visit"


def test_mariadb_rows_are_re_read_by_text_key_with_gbk_values(
    resnapshot_settings: Settings, maria: MariaSource
) -> None:
    maria.execute(PATIENTS)
    names = ["张三", "李四", "王五", "赵六"]
    for n, name in enumerate(names, start=1):
        maria.execute(INSERT_PATIENT, patient(f"B{n:03d}", name, n))
    config = maria.config("GY_BRXX", snapshot={"mode": "never"})
    keys = [{"BRID": "B001"}, {"BRID": "B002"}, {"BRID": "B004"}]
    runner = CliRunner()

    def current() -> dict[str, dict[str, Any]]:
        # as the connector decodes them now (GBK bytes in latin1 columns)
        return {
            json.dumps({"BRID": key[0]}): row
            for (_, key), row in source_rows(resnapshot_settings, config).items()
        }

    check_resnapshot(
        resnapshot_settings,
        config,
        "GY_BRXX",
        keys,
        {"BRID": "B404"},
        current,
        lambda: maria.execute(
            "UPDATE GY_BRXX SET XM = %s WHERE BRID = 'B002'", ("钱七".encode("gbk"),)
        ),
    )
    # the command line: the same kind of request, answered and printed (a connector of its
    # own: a fresh start is what `running` can tell apart from the stored position above)
    config = maria.config("GY_BRXX", snapshot={"mode": "never"})
    with running(resnapshot_settings, config):
        result = runner.invoke(
            cli,
            [
                *("capture", "resnapshot", config.name, "GY_BRXX"),
                *("--key", '{"BRID": "B003"}', "--key", '{"BRID": "B999"}'),
                *("--wait", "--timeout", "30"),
            ],
            obj={"settings": resnapshot_settings},
        )
        # a whole-table request (today's backfill) is answered once the table is read
        whole = send_snapshot_request(resnapshot_settings, config.name, "GY_BRXX")
        table_done = wait_for_snapshot_done(resnapshot_settings, whole, 30)
    assert result.exit_code == 0, result.output
    assert 're-read      {"BRID": "B003"}  position_seq' in result.output
    assert 'not in source {"BRID": "B999"}' in result.output
    assert table_done.rows == 4 and table_done.read == [] and table_done.not_found == []
