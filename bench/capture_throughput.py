"""Capture throughput and commit→Kafka latency, per engine, against the local stack.

For each engine (PostgreSQL with the english_pg vendor, MariaDB with pinyin_gbk):

1. backlog: the simulator writes N changes while the agent is stopped; the agent is
   started and the time until every change is readable from Kafka gives events/s from
   agent start (the process start, imports, connections, slots and registry look-ups
   included: the start-up, until the first change is readable, is printed with its CPU
   seconds) and, without the start-up, from the first change read to the last;
2. latency: the agent runs while the simulator writes at a fixed rate (each of --rate's
   rates in turn); each insert's commit (wall clock, recorded by the simulator right after
   COMMIT) is matched with the moment a consumer of cdc.raw.* received its envelope:
   p50/p99/max.

Both runs also report the agent process's memory (peak RSS, VmHWM, and RSS at the end, from
/proc) and its CPU seconds (user + system, all its threads) per 10,000 events: for the
backlog over the middle of the drain (from 10 % to 90 % of the changes received, so start-up
and the tail are left out), for the latency run over the paced writing. Wall-clock rates
depend on what else runs on the machine; CPU per event much less.

    .venv/bin/python bench/capture_throughput.py [--engines postgres,mariadb]
        [--backlog 60000] [--rate 1000,2000] [--duration 20] [--runs backlog,latency]

Needs the local stack and the topic catalog applied (`streamhub topics apply`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.capture.positions import PositionStore
from streamhub.config import Settings, load_settings
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.records import Change
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.postgres import Postgres

START = datetime(2026, 3, 2, 10, 0)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TimedSimulation(Simulation):
    """Records the wall time at which each insert was committed."""

    committed: dict[tuple[str, str, str], float]

    def _write(self, changes: list[Change]) -> None:
        super()._write(changes)
        now = time.time()
        for change in changes:
            if change.op == "c":
                database = self.database_of[(change.institution, change.entity)]
                table = self.renderers[(change.institution, change.entity)].table.name
                self.committed[(database, table, str(change.key))] = now


class Receiver(threading.Thread):
    """Consumes cdc.raw.* from the end and notes when each change became readable.

    It reads message keys only (canonical JSON: institution, ``database.schema.table``, row
    key), never the Avro values: decoding every envelope would take CPU from the agent it
    measures. Snapshot reads are not told apart: the runs start after the snapshot ended.
    """

    def __init__(self, settings: Settings, databases: set[str]) -> None:
        super().__init__(daemon=True)
        self.databases = databases
        self.received: dict[tuple[str, str, str], float] = {}
        self.count = 0
        # monotonic times of the first and the last change counted
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.stop = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
            }
        )
        assignment = []
        for topic in ("cdc.raw.his", "cdc.raw.emr", "cdc.raw.lis", "cdc.raw.pacs"):
            metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition))
                assignment.append(TopicPartition(topic, partition, high))
        self.consumer.assign(assignment)

    def run(self) -> None:
        while not self.stop.is_set():
            # poll, not consume(n, timeout): consume waits out its timeout for a full batch,
            # which would add up to the timeout to every latency measured
            message = self.consumer.poll(0.1)
            if message is None or message.error() is not None:
                continue
            now = time.time()
            document = json.loads(message.key() or b"{}")
            database, *_, table = document.get("table", "").split(".")
            if database not in self.databases:
                continue
            self.count += 1
            self.last_at = time.monotonic()
            self.first_at = self.first_at or self.last_at
            key = next(iter(document["key"].values()))
            # the first change of a row is its insert (the latency run matches inserts)
            self.received.setdefault((database, table, str(key)), now)
        self.consumer.close()


def prepare(settings: Settings, dialect: str, rate: float, duration: float, paced: bool,
            directory: Path) -> tuple[TimedSimulation, list[ConnectorConfig]]:  # fmt: skip
    options = SimulationOptions(
        start=START,
        seed=99,
        hospitals=1,
        clinics=0,
        dialects=(dialect,),
        rate=rate,
        duration_s=duration,
        compression=720.0,  # a day-start warm-up of 12.5 s worth: steady mix from the first second
        day_shape=False,
        db_prefix=f"bc{uuid.uuid4().hex[:6]}",
        paced=paced,
    )
    simulation = TimedSimulation(settings, options, directory / "ledger.json")
    simulation.committed = {}
    simulation.setup()
    documents = connector_documents(
        settings, simulation.institutions, simulation.dialects, options.db_prefix
    )
    write_connectors(directory / "connectors", documents)
    connectors = load_connectors(directory / "connectors")
    return simulation, connectors


class Agent:
    """`streamhub capture --standalone` in its own process, as it runs beside a database."""

    def __init__(
        self,
        settings: Settings,
        directory: Path,
        connectors: list[ConnectorConfig],
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``command`` runs the CLI instead of ``python -m streamhub`` (capture_stages.py)."""
        env = {
            **os.environ,
            **(env or {}),
            "STREAMHUB_CAPTURE_GROUP": settings.capture_group,
            "STREAMHUB_CAPTURE_POSITIONS_TOPIC": settings.capture_positions_topic,
        }
        command = [*(command or [sys.executable, "-m", "streamhub"]), "capture", "--standalone"]
        self.process = subprocess.Popen(
            [*command, "--connectors-dir", str(directory / "connectors")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(directory / "agent.log").open("ab"),
        )
        positions = PositionStore(settings)
        deadline = time.monotonic() + 120
        while not all(positions.load(c.name) for c in connectors):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise SystemExit(f"the capture agent did not start; see {directory}/agent.log")
            time.sleep(0.5)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the agent process so far (all its threads)."""
        return process_cpu_s(self.process.pid)

    def memory_mb(self) -> tuple[float, float]:
        """(peak RSS, current RSS) of the agent process in MB: VmHWM and VmRSS."""
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        sizes = {line.split(":")[0]: int(line.split()[1]) for line in status if "kB" in line}
        return sizes["VmHWM"] / 1024, sizes["VmRSS"] / 1024

    def wait_snapshotted(self, settings: Settings, connectors: list[ConnectorConfig]) -> None:
        """Until every connector stored a position with its initial snapshot finished."""
        positions = PositionStore(settings)

        def done(name: str) -> bool:
            state = positions.load(name) or {}
            return bool(state) and all(p["done"] for p in (state.get("snapshot") or {}).values())

        deadline = time.monotonic() + 300
        while not all(done(c.name) for c in connectors) and time.monotonic() < deadline:
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def walsender_cpu_s(settings: Settings, databases: set[str]) -> float:
    """CPU seconds of the PostgreSQL walsenders serving these databases' slots so far: the
    server's side of capture (decoding WAL into pgoutput), beside the agent's. A walsender
    starts with its agent's connection, and decodes ahead of it as far as the socket's
    buffers let it: read once, at the end of a run."""
    with contextlib.closing(Postgres(settings).connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT active_pid FROM pg_replication_slots "
            "WHERE database = ANY(%s) AND active_pid IS NOT NULL",
            (sorted(databases),),
        )
        return sum(process_cpu_s(pid) for (pid,) in cur.fetchall())


def isolated(settings: Settings) -> Settings:
    tag = uuid.uuid4().hex[:6]
    return settings.model_copy(
        update={
            "capture_group": f"bench-capture-{tag}",
            "capture_positions_topic": f"_bench_capture_positions_{tag}",
        }
    )


def drop_positions(settings: Settings) -> None:
    """Delete the run's own positions topic (``isolated``), so runs leave nothing behind."""
    # log_level 3: errors only (not the info line about the deletion's event it drops on exit)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    for future in admin.delete_topics([settings.capture_positions_topic]).values():
        with contextlib.suppress(Exception):  # already gone: nothing to clean
            future.result(15)


def backlog(dialect: str, changes: int) -> dict[str, Any]:
    settings = isolated(load_settings())
    directory = Path(tempfile.mkdtemp())
    simulation, connectors = prepare(settings, dialect, changes / 10, 10.0, False, directory)
    agent = Agent(settings, directory, connectors)  # snapshot of the initial state...
    agent.wait_snapshotted(settings, connectors)
    agent.stop()  # ...then stop: the backlog piles up in the log
    report = simulation.run()
    receiver = Receiver(settings, {c.connection.database for c in connectors})
    receiver.start()
    began = time.monotonic()
    agent = Agent(settings, directory, connectors)
    databases = {c.connection.database for c in connectors}
    postgres = connectors[0].engine == "postgresql"

    # (events received, agent CPU s) at 10 % and 90 % of the changes
    marks: list[tuple[int, float]] = []
    startup_cpu = math.nan  # the agent's CPU seconds when the first change was readable
    while receiver.count < report.written and time.monotonic() - began < 600:
        if math.isnan(startup_cpu) and receiver.first_at is not None:
            startup_cpu = agent.cpu_s()
        if len(marks) < 2 and receiver.count >= report.written * (0.1 + 0.8 * len(marks)):
            marks.append((receiver.count, agent.cpu_s()))
        time.sleep(0.02)
    elapsed = time.monotonic() - began
    cpu_total = agent.cpu_s()
    server_total = walsender_cpu_s(settings, databases) if postgres else math.nan
    peak_mb, rss_mb = agent.memory_mb()
    agent.stop()
    receiver.stop.set()
    drop_databases(settings, read_ledger(directory / "ledger.json"))
    drop_positions(settings)
    if len(marks) < 2:
        marks.append((receiver.count, cpu_total))
    (n0, cpu0), (n1, cpu1) = marks[0], marks[-1]
    return {
        "server_per_10k": server_total / max(receiver.count, 1) * 10_000,
        "changes": report.written,
        "drained": receiver.count,
        "seconds": elapsed,
        # first -> last change read: the drain without the agent's start-up
        "streaming_s": (receiver.last_at or 0.0) - (receiver.first_at or 0.0),
        "startup_s": (receiver.first_at or began) - began,
        "startup_cpu": startup_cpu,
        "cpu_per_10k": (cpu1 - cpu0) / max(n1 - n0, 1) * 10_000,
        "cpu_total": cpu_total,
        "peak_mb": peak_mb,
        "rss_mb": rss_mb,
    }


def latency(dialect: str, rate: float, duration: float) -> dict[str, Any]:
    settings = isolated(load_settings())
    directory = Path(tempfile.mkdtemp())
    simulation, connectors = prepare(settings, dialect, rate, duration, True, directory)
    agent = Agent(settings, directory, connectors)
    agent.wait_snapshotted(settings, connectors)  # this measures streaming
    time.sleep(2)
    receiver = Receiver(settings, {c.connection.database for c in connectors})
    receiver.start()
    count0, cpu0 = receiver.count, agent.cpu_s()
    simulation.committed = {}  # inserts of the run only: a seeded row's first message is later
    report = simulation.run()
    count1, cpu1 = receiver.count, agent.cpu_s()
    time.sleep(5)
    peak_mb, rss_mb = agent.memory_mb()
    agent.stop()
    receiver.stop.set()
    drop_databases(settings, read_ledger(directory / "ledger.json"))
    drop_positions(settings)
    lags = sorted(
        (receiver.received[k] - t) * 1000
        for k, t in simulation.committed.items()
        if k in receiver.received
    )
    return {
        "rate": report.rate,
        "matched": len(lags),
        "inserts": len(simulation.committed),
        "p50": statistics.median(lags),
        "p99": lags[int(len(lags) * 0.99) - 1],
        "max": lags[-1],
        "cpu_per_10k": (cpu1 - cpu0) / max(count1 - count0, 1) * 10_000,
        "peak_mb": peak_mb,
        "rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", default="1000", help="latency runs, changes/s (comma-separated: one run each)"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="latency run, seconds")
    parser.add_argument("--backlog", type=int, default=40000, help="backlog run, changes")
    parser.add_argument(
        "--engines", default="postgres,mariadb", help="comma-separated: postgres, mariadb"
    )
    parser.add_argument("--runs", default="backlog,latency", help="comma-separated runs")
    args = parser.parse_args()
    engines = args.engines.split(",")
    runs = args.runs.split(",")
    print(f"capture_throughput {' '.join(sys.argv[1:])}")
    for engine, dialect in (("postgres", "english_pg"), ("mariadb", "pinyin_gbk")):
        if engine not in engines:
            continue
        if "backlog" in runs:
            b = backlog(dialect, args.backlog)
            print(
                f"{engine:<8} backlog  {b['drained']:>7,} of {b['changes']:,} changes in "
                f"{b['seconds']:.1f}s  = {b['drained'] / b['seconds']:>7,.0f} events/s from agent "
                f"start (start-up to the first event {b['startup_s']:.1f}s, "
                f"{b['startup_cpu']:.2f} CPU-s; first -> last event "
                f"{b['drained'] / max(b['streaming_s'], 1e-9):,.0f}/s); agent "
                f"{b['cpu_per_10k']:.2f} CPU-s per 10,000 events (mid-drain; "
                f"{b['cpu_total']:.1f} CPU-s in all, start-up included), "
                f"peak RSS {b['peak_mb']:.0f} MB (at the end {b['rss_mb']:.0f} MB)"
                + (
                    f"; PostgreSQL walsenders {b['server_per_10k']:.2f} CPU-s per 10,000 "
                    "(whole drain)"
                    if not math.isnan(b["server_per_10k"])
                    else ""
                )
            )
        for rate in (float(r) for r in args.rate.split(",") if "latency" in runs):
            lat = latency(dialect, rate, args.duration)
            print(
                f"{engine:<8} latency  at {lat['rate']:,.0f} changes/s: commit→readable in "
                f"Kafka p50 {lat['p50']:.0f} ms  p99 {lat['p99']:.0f} ms  max {lat['max']:.0f} "
                f"ms ({lat['matched']:,} of {lat['inserts']:,} inserts matched); agent "
                f"{lat['cpu_per_10k']:.2f} CPU-s per 10,000 events, "
                f"peak RSS {lat['peak_mb']:.0f} MB (at the end {lat['rss_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
