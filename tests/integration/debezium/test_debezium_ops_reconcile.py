"""Reconciliation covers a Debezium-captured source: its source counts come from the source's
own log (`debezium/counts_log.py`, a slot of its own), not from Debezium, and every window of
what Debezium → normalizer → standardizer → lander delivered is judged MATCH.

One simulated PostgreSQL hospital (inserts, updates, deletes), streaming only (the counter
and Debezium both start from the log's end: ``snapshot.mode: never``), the stack's Kafka
Connect worker, the real workers as processes, the reconciler's verdicts read from Kafka.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.counts_log import LogCounter
from streamhub.debezium.normalize import topic_prefix
from streamhub.reconcile.result import Result, Status
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.connect import ConnectRest
from streamhub.stack.postgres import Postgres

from ..capture.helpers import wait_until, write_connector_files
from ..commands import run_streamhub
from ..pipeline.harness import Pipeline
from ..reconcile.helpers import ReconcilePipeline
from .stack_connect import stack_connect

__all__ = ["stack_connect"]  # fixture

START = datetime(2026, 3, 2, 10, 0)


@contextlib.contextmanager
def counting(settings: Settings, configs: list[ConnectorConfig]) -> Iterator[list[LogCounter]]:
    """One counts-only log reader per connector, each in a thread, until the block ends."""
    stop = threading.Event()
    counters = [LogCounter(settings, c) for c in configs]
    for counter in counters:
        counter.start()
    threads = [threading.Thread(target=_run, args=(c, stop), daemon=True) for c in counters]
    for thread in threads:
        thread.start()
    try:
        yield counters
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def _run(counter: LogCounter, stop: threading.Event) -> None:
    last = time.monotonic()
    try:
        while not stop.is_set():
            idle = not counter.step()
            if idle or time.monotonic() - last >= 1.0:
                counter.checkpoint(idle)
                last = time.monotonic()
    finally:
        counter.reader.close()


def _slots_active(settings: Settings, databases: set[str], at_least: int) -> bool:
    with contextlib.closing(Postgres(settings).connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE active AND database = ANY(%s)",
            (sorted(databases),),
        )
        row = cur.fetchone()
    return bool(row and row[0] >= at_least)


def test_a_debezium_source_reconciles_match_against_counts_from_its_log(
    capture_settings: Settings, stack_connect: ConnectClient, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"dr{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START, seed=21, hospitals=1, clinics=0, dialects=("english_pg",), rate=80.0,
        duration_s=8.0, compression=360.0, db_prefix=prefix,
    )  # fmt: skip
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    pipeline = ReconcilePipeline(
        settings, tmp_path, connectors_dir, uuid.uuid4().hex[:8],
        reconcile_args=["--grace", "10s", "--retention", "15m", "--judge-every", "2"],
    )  # fmt: skip
    rest = ConnectRest(stack_connect.url)
    configs: list[ConnectorConfig] = []
    try:
        simulation.setup()
        configs = write_connector_files(
            settings, simulation, connectors_dir, capture_engine="debezium",
            snapshot={"mode": "never"}, heartbeat_s=2,
        )  # fmt: skip
        databases = {c.connection.database for c in configs}
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        for worker in ("standardize", "land", "reconcile"):
            pipeline.start(worker)
        # Debezium's per-table topics before the normalizer subscribes (Connect would create
        # them on each table's first change, found only at a metadata refresh and rebalance)
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        new = [NewTopic(f"{topic_prefix(c)}.{t}", 1, 1) for c in configs for t in c.tables]
        for future in admin.create_topics(new).values():
            future.result(30)
        with counting(settings, configs) as counters:
            env = {**os.environ, **pipeline.env()}
            applied = run_streamhub(
                "connectors", "apply", "--all", "--connectors-dir", str(connectors_dir),
                env=env, cwd=settings.project_dir,
            )  # fmt: skip
            assert applied.returncode == 0, applied.stderr
            # the counters' slots and Debezium's: both stream from here
            assert wait_until(
                lambda: _slots_active(settings, databases, 2 * len(configs)), 120, every_s=1
            )
            Pipeline.start(pipeline, "normalize", "debezium", "normalize", "--all")
            time.sleep(3)  # the normalizer subscribed before the first change
            simulation.run()
            written = sum(c.counted for c in counters)
            results: list[Result] = []

            def matched() -> bool:
                results[:] = pipeline.results(prefix)
                counted = sum(r.source_changes for r in results)
                return (
                    counted >= written > 0
                    and sum(c.counted for c in counters) == counted
                    and all(r.status == Status.MATCH for r in results)
                )

            assert wait_until(matched, 150, every_s=3), (
                written,
                sum(c.counted for c in counters),
                [r for r in results if r.status != Status.MATCH][:5],
                pipeline.log_tail("normalize"),
            )
        assert {r.status for r in results} == {Status.MATCH}
        assert sum(r.landed for r in results) == sum(r.source_changes for r in results)
    finally:
        pipeline.stop_all()
        for config in configs:
            with contextlib.suppress(Exception):
                rest.request("DELETE", f"/connectors/{config.name}")
        time.sleep(2)
        with (
            contextlib.suppress(Exception),
            contextlib.closing(Postgres(settings).connect()) as conn,
        ):
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE NOT active AND database = ANY(%s)",
                    (sorted({c.connection.database for c in configs}),),
                )
        with contextlib.suppress(Exception):
            drop_databases(settings, read_ledger(tmp_path / "ledger.json"))
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        prefixes = tuple(topic_prefix(c) + "." for c in configs)
        with contextlib.suppress(Exception):
            topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefixes)]
            if topics:
                for future in admin.delete_topics(topics).values():
                    future.result(30)
