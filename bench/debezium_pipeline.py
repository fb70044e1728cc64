"""Debezium's path beside streamhub's agent, end to end, on the same PostgreSQL workload.

One run, two phases, one after the other (side by side they would share the cores):

1. agent: `streamhub capture --standalone` → cdc.raw.* → `streamhub standardize` →
   `streamhub land` (embedded ClickHouse of its own);
2. Debezium: the stack's Kafka Connect worker (Debezium 3.6.1's PostgreSQL connector, applied
   by `streamhub connectors apply`) → dbz.<connector>.* → `streamhub debezium normalize` →
   cdc.raw.* → `streamhub standardize` → `streamhub land` (a ClickHouse of its own).

Each phase sets up fresh databases of simulated PostgreSQL institutions with the same seed
and options, so the same rows are inserted, updated and deleted; both sides start streaming
from the log's end (no snapshot: `snapshot.mode: never`, Debezium's `no_data`), then the
simulator writes at ``--rate`` changes/s for ``--duration`` s. Printed per path:

- events/s: source changes written / (writing time + the drain after it, until every
  group of the path has no lag), and the changes landed;
- source commit → queryable latency p50/p99/max over every logged version (`commit_time` →
  `_landed_time` in ClickHouse, the rows of this run's institutions only);
- CPU seconds per 10,000 source changes of each process (the Connect JVM included) and
  peak RSS.

    .venv/bin/python bench/debezium_pipeline.py [--rate 200] [--duration 40] [--hospitals 1]
        [--clinics 1]

Needs the local stack and the topic catalog applied; starts the stack's Kafka Connect worker
if it is not up (and stops it again at the end). Everything it creates (databases, slots,
connectors and their Debezium topics, consumer groups' offsets stay) is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from end_to_end import LATENCY_SQL, RAW, START, Pipeline, cpu_per_10k, wait_drained
from proc_usage import cpu_seconds  # bench/, on the path when run as a script

from streamhub.capture.connector import ConnectorConfig, load_connector
from streamhub.config import Settings, load_settings
from streamhub.debezium.normalize import group_id, topic_prefix
from streamhub.debezium.ops import fetch_status, heartbeat_state
from streamhub.kafka.groups import topic_ends
from streamhub.land.clickhouse import connect
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.connect import ConnectRest, KafkaConnect
from streamhub.stack.postgres import Postgres

LANDED = list(DEFAULT_ROUTES)
# the workers' metrics and query ports, away from a demo or another bench on the defaults
PORT_OFFSET = 20_000 + os.getpid() % 500 * 10


@dataclass
class PathResult:
    label: str
    written: int
    written_s: float
    drained_s: float
    versions: int
    p50_ms: float
    p99_ms: float
    max_ms: int
    cpu: str
    peaks: dict[str, float]

    def line(self) -> str:
        rate = self.written / (self.written_s + self.drained_s)
        return (
            f"[{self.label}] {self.written:,} source changes written in {self.written_s:.1f} s, "
            f"all landed {self.drained_s:.1f} s after the writers: {rate:,.0f} events/s end to "
            f"end; {self.versions:,} std rows read for the latency\n"
            f"[{self.label}]   source commit -> queryable: p50 {self.p50_ms:,.0f} ms, "
            f"p99 {self.p99_ms:,.0f} ms, max {self.max_ms:,} ms\n"
            f"[{self.label}]   CPU s per 10,000 source changes: {self.cpu}\n"
            f"[{self.label}]   peak RSS: "
            + ", ".join(f"{n} {mb:,.0f} MiB" for n, mb in sorted(self.peaks.items()))
        )


def _options(args: argparse.Namespace) -> SimulationOptions:
    return SimulationOptions(
        start=START, seed=5, hospitals=args.hospitals, clinics=args.clinics,
        dialects=("english_pg",), rate=args.rate, duration_s=args.duration,
        compression=144.0, day_shape=False, db_prefix=f"b{uuid.uuid4().hex[:6]}",
    )  # fmt: skip


def _documents(
    settings: Settings, simulation: Simulation, prefix: str, engine: str
) -> dict[str, dict[str, Any]]:
    documents = connector_documents(settings, simulation.institutions, simulation.dialects, prefix)
    for document in documents.values():
        document["snapshot"] = {"mode": "never"}  # both sides from the log's end
        document.pop("row_count_s", None)
        if engine == "debezium":
            document["capture_engine"] = "debezium"
            document["heartbeat_s"] = 5
    return documents


def _latency(dsn: str, database: str, institutions: set[str]) -> tuple[int, float, float, int]:
    client = connect(dsn, database)
    ids = ", ".join(f"'{i}'" for i in sorted(institutions))  # credit codes: [0-9A-Z]{18}
    sql = LATENCY_SQL.format(database=database).replace(
        "WHERE operation != 'r'", f"WHERE operation != 'r' AND institution_id IN ({ids})"
    )
    count, (p50, p99), worst = client.query(sql).result_rows[0]
    client.close()
    return int(count), float(p50), float(p99), int(worst)


def agent_path(settings: Settings, work: Path, args: argparse.Namespace) -> PathResult:
    options = _options(args)
    simulation = Simulation(settings, options, work / "ledger-agent.json")
    directory = work / "connectors-agent"
    dsn, database = f"chdb://{work / 'agent'}", "bench_agent"
    pipeline: Pipeline | None = None
    try:
        simulation.setup()
        paths = write_connectors(
            directory, _documents(settings, simulation, options.db_prefix, "streamhub")
        )
        configs = [load_connector(p) for p in paths]
        pipeline = Pipeline(settings, directory, dsn, database, configs)
        pipeline.workers.port_offset = PORT_OFFSET
        pipeline.start(topic_ends(settings, RAW))
        cpu_before = pipeline.cpu()
        began = time.monotonic()
        report = simulation.run()
        written_s = time.monotonic() - began
        drained = pipeline.drained_after(300).seconds
        cpu = cpu_per_10k(cpu_before, pipeline.cpu(), report.written)
        peaks = pipeline.stop()
    finally:
        if pipeline is not None:
            pipeline.workers.stop()  # the agent holds its slots: stopped before the drop
        drop_databases(settings, read_ledger(work / "ledger-agent.json"))
    institutions = {c.institution_id for c in configs}
    versions, p50, p99, worst = _latency(dsn, database, institutions)
    return PathResult("agent", report.written, written_s, drained, versions, p50, p99, worst,
                      cpu, peaks)  # fmt: skip


def _wait_streaming(settings: Settings, configs: list[ConnectorConfig], timeout_s: float) -> None:
    """Each connector RUNNING in Connect and its slot active: it streams from here."""
    deadline = time.monotonic() + timeout_s
    databases = {c.connection.database for c in configs}
    while time.monotonic() < deadline:
        states = {heartbeat_state(fetch_status(settings.connect_url, c.name))[0] for c in configs}
        with contextlib.closing(Postgres(settings).connect()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(DISTINCT database) FROM pg_replication_slots "
                "WHERE active AND database = ANY(%s)",
                (list(databases),),
            )
            row = cur.fetchone()
        if states == {"streaming"} and row and row[0] == len(databases):
            return
        time.sleep(1)
    raise SystemExit(f"Debezium connectors not streaming within {timeout_s:g} s")


def debezium_path(
    settings: Settings, work: Path, args: argparse.Namespace, worker_pid: int | None
) -> PathResult:
    options = _options(args)
    simulation = Simulation(settings, options, work / "ledger-dbz.json")
    directory = work / "connectors-dbz"
    dsn, database = f"chdb://{work / 'dbz'}", "bench_dbz"
    rest = ConnectRest(settings.connect_url)
    configs: list[ConnectorConfig] = []
    pipeline: Pipeline | None = None
    try:
        simulation.setup()
        paths = write_connectors(
            directory, _documents(settings, simulation, options.db_prefix, "debezium")
        )
        configs = [load_connector(p) for p in paths]
        pipeline = Pipeline(settings, directory, dsn, database, None)
        pipeline.workers.port_offset = PORT_OFFSET
        _create_dbz_topics(settings, configs)
        pipeline.workers.run_once("connectors", "apply", "--all")
        _wait_streaming(settings, configs, 180)
        pipeline.start(topic_ends(settings, RAW))
        log = (pipeline.workers.log_dir / "normalize.log").open("ab")
        pipeline.workers.processes["normalize"] = subprocess.Popen(
            [sys.executable, "-m", "streamhub", "--log-level", "info", "debezium", "normalize",
             "--all"],
            env=pipeline.workers.env(), cwd=settings.project_dir, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        time.sleep(5)  # the normalizer subscribed (its groups start at the topics' beginning)
        cpu_before = pipeline.cpu() | ({"connect": cpu_seconds(worker_pid)} if worker_pid else {})
        began = time.monotonic()
        report = simulation.run()
        written_s = time.monotonic() - began
        time.sleep(2)  # Debezium's poll interval: its last batch reaches its topics
        groups = {pipeline.std_group: RAW, pipeline.land_group: LANDED}
        dbz_topics = _dbz_topics(settings, configs)
        groups |= {group_id(c): [t for t in dbz_topics if t.startswith(topic_prefix(c) + ".")]
                   for c in configs}  # fmt: skip
        drained = wait_drained(pipeline.settings, groups, 300).seconds + 2
        after = pipeline.cpu() | ({"connect": cpu_seconds(worker_pid)} if worker_pid else {})
        cpu = cpu_per_10k(cpu_before, after, report.written)
        peaks = pipeline.stop()
    finally:
        if pipeline is not None:
            pipeline.workers.stop()
        for config in configs:
            with contextlib.suppress(Exception):
                rest.request("DELETE", f"/connectors/{config.name}")
        time.sleep(3)
        _drop_slots(settings, configs)
        drop_databases(settings, read_ledger(work / "ledger-dbz.json"))
        _delete_dbz_topics(settings, configs)
    institutions = {c.institution_id for c in configs}
    versions, p50, p99, worst = _latency(dsn, database, institutions)
    return PathResult("debezium", report.written, written_s, drained, versions, p50, p99,
                      worst, cpu, peaks)  # fmt: skip


def _create_dbz_topics(settings: Settings, configs: list[ConnectorConfig]) -> None:
    """Debezium's per-table topics, before the normalizer subscribes: created lazily by
    Connect on a table's first change, each would be found by the normalizer's pattern
    subscription only at its next metadata refresh (5 s) and a rebalance, seconds of latency
    that belong to the first minutes of a new connector, not to the path."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [NewTopic(f"{topic_prefix(c)}.{t}", 1, 1) for c in configs for t in c.tables]
    for future in admin.create_topics(topics).values():
        future.result(30)


def _dbz_topics(settings: Settings, configs: list[ConnectorConfig]) -> list[str]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    prefixes = tuple(topic_prefix(c) + "." for c in configs)
    return sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(prefixes))


def _delete_dbz_topics(settings: Settings, configs: list[ConnectorConfig]) -> None:
    topics = _dbz_topics(settings, configs)
    if topics:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        for future in admin.delete_topics(topics).values():
            with contextlib.suppress(Exception):
                future.result(30)


def _drop_slots(settings: Settings, configs: list[ConnectorConfig]) -> None:
    databases = [c.connection.database for c in configs]
    with contextlib.closing(Postgres(settings).connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE NOT active AND database = ANY(%s)",
                (databases,),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="offered changes/s (flat)")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of writing")
    parser.add_argument("--hospitals", type=int, default=1)
    parser.add_argument("--clinics", type=int, default=1)
    args = parser.parse_args()
    print("command: .venv/bin/python bench/debezium_pipeline.py " + shlex.join(sys.argv[1:]))
    settings = load_settings()
    work = Path(tempfile.mkdtemp(prefix="bench-dbz-pipeline-"))
    service = KafkaConnect(settings)
    started = service.up() == "started"
    try:
        worker_pid = service.running_pid()
        agent = agent_path(settings, work, args)
        print(agent.line(), flush=True)
        debezium = debezium_path(settings, work, args, worker_pid)
        print(debezium.line())
        print(
            f"debezium / agent: commit -> queryable p50 x{debezium.p50_ms / agent.p50_ms:.2f}, "
            f"p99 x{debezium.p99_ms / agent.p99_ms:.2f}"
        )
    finally:
        if started:
            service.down()


if __name__ == "__main__":
    main()
