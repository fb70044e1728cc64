"""End to end: source commit -> capture -> Kafka -> standardize -> ClickHouse.

Figures from one run against the local stack, on this machine, everything on its cores
(the simulator's writers, PostgreSQL, MariaDB, Kafka, capture, standardize, land):

1. fixed rate: after the initial snapshot has landed, simulated institutions write for
   ``--duration`` s while `streamhub capture --standalone`, `streamhub standardize` and
   `streamhub land` run as child processes (the lander owning its embedded ClickHouse);
   prints source commit -> queryable latency p50/p99/max, read afterwards from each row's
   insert time (``_landed_time``), and each worker's peak RSS. First at ``--rate`` on the
   day's curve around 09:30 (its peak is about 2.6x the mean); after the backlog (2.), at
   each flat offered rate of ``--rates``, and which of those kept p99 <= 2 s;
2. backlog: the day-shaped run's raw changes are standardized and landed again by fresh
   groups as fast as they go: the pipeline's end-to-end rate, from the first batch committed
   to the last row landed (the workers' start-up is printed apart, and the rate with it), and
   each worker's CPU seconds per 10,000 raw envelopes;
3. bare loop, the ratio's denominator: confluent-kafka consume -> fastavro decode ->
   clickhouse-connect insert of the same raw changes, no standardization.

    .venv/bin/python bench/end_to_end.py [--rate 300] [--duration 60] [--rates 2000,3000]

Needs the local stack and the topic catalog applied (`streamhub topics apply`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from proc_usage import cpu_seconds  # bench/, on the path when run as a script

from streamhub.capture.connector import ConnectorConfig, load_connector
from streamhub.capture.positions import PositionStore
from streamhub.config import Settings, load_settings
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.demo.workers import Workers
from streamhub.kafka.groups import (
    Offsets,
    commit_offsets,
    group_lag,
    pin_to_end,
    topic_ends,
)
from streamhub.land.clickhouse import connect
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

START = datetime(2026, 3, 2, 9, 30)
RAW = list(RAW_TOPICS)


# what the lander consumes
LANDED_TOPICS = list(DEFAULT_ROUTES)


@dataclass
class Drained:
    seconds: float  # until every group had no lag (the first of two zero readings in a row)
    started_s: float | None  # until the first group's lag first fell: its workers' start-up


def wait_drained(settings: Settings, groups: dict[str, list[str]], timeout_s: float) -> Drained:
    began = time.monotonic()
    initial: int | None = None
    moved: float | None = None
    zero: float | None = None
    while time.monotonic() - began < timeout_s:
        lags = [group_lag(settings, g, t) for g, t in groups.items()]
        now = time.monotonic() - began
        if initial is None:
            initial = lags[0]
        elif moved is None and lags[0] < initial:
            moved = now
        if not any(lags):
            if zero is not None:
                return Drained(zero, moved)
            zero = now
        else:
            zero = None
        time.sleep(0.25)
    raise SystemExit(f"not drained within {timeout_s:g} s")


class Pipeline:
    """`streamhub standardize` and `streamhub land` as child processes, as deployed, and
    with ``connectors`` given, `streamhub capture --standalone` too: the agent runs apart
    from the simulator's writers, as on a hospital's front-end machine."""

    def __init__(
        self,
        settings: Settings,
        connectors: Path,
        dsn: str,
        database: str,
        capture: list[ConnectorConfig] | None = None,
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = settings.model_copy(
            update={
                "capture_group": f"bench-capture-{tag}",
                "capture_positions_topic": f"_bench_capture_positions_{tag}",
            }
        )
        self.std_group, self.land_group = f"bench-std-{tag}", f"bench-land-{tag}"
        self.capture = capture
        self.workers = Workers(
            settings,
            connectors,
            Path(tempfile.mkdtemp(prefix="bench-logs-")),
            extra_env={
                "STREAMHUB_STANDARDIZE_GROUP": self.std_group,
                "STREAMHUB_LANDER_GROUP": self.land_group,
                "STREAMHUB_CLICKHOUSE_DSN": dsn,
                "STREAMHUB_CLICKHOUSE_DATABASE": database,
                "STREAMHUB_CAPTURE_GROUP": self.settings.capture_group,
                "STREAMHUB_CAPTURE_POSITIONS_TOPIC": self.settings.capture_positions_topic,
            },
        )

    def start(self, raw_from: Offsets) -> None:
        commit_offsets(self.settings, self.std_group, raw_from)
        pin_to_end(self.settings, self.land_group, LANDED_TOPICS)
        self.workers.run_once("clickhouse", "migrate")
        self.workers.start("standardize")
        self.workers.start("land")
        if self.capture is not None:
            self.workers.start("capture")
            positions = PositionStore(self.settings)
            deadline = time.monotonic() + 120
            while not all(positions.load(c.name) for c in self.capture):
                self.workers.check_alive()
                if time.monotonic() > deadline:
                    raise SystemExit(f"capture did not start; see {self.workers.log_dir}")
                time.sleep(0.5)

    def drained_after(self, timeout_s: float) -> Drained:
        groups = {self.std_group: RAW, self.land_group: LANDED_TOPICS}
        return wait_drained(self.settings, groups, timeout_s)

    def cpu(self) -> dict[str, float]:
        """Each worker's CPU seconds so far."""
        return {name: cpu_seconds(p.pid) for name, p in self.workers.processes.items()}

    def stop(self) -> dict[str, float]:
        """Stop the workers; each one's peak RSS in MiB."""
        peaks = self.workers.peak_rss_mb()
        self.workers.stop()
        return peaks


def cpu_per_10k(before: dict[str, float], after: dict[str, float], changes: int) -> str:
    """Each worker's CPU seconds per 10,000 changes between two readings."""
    return ", ".join(
        f"{name} {(after[name] - before.get(name, 0.0)) / changes * 10_000:.2f}"
        for name in sorted(after)
    )


@dataclass
class FixedRate:
    """One fixed-rate run: what was written, the raw envelopes it made, and its latency."""

    label: str
    written: int
    written_s: float
    raw_start: Offsets
    raw_end: Offsets
    versions: int
    p50_ms: float
    p99_ms: float
    max_ms: int
    peak_rss_mb: dict[str, float]

    @property
    def changes(self) -> int:
        return sum(self.raw_end[tp] - self.raw_start.get(tp, 0) for tp in self.raw_end)


LATENCY_SQL = """
SELECT count(), quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, _landed_time)),
       max(dateDiff('millisecond', commit_time, _landed_time))
FROM merge('{database}', '^std_') WHERE operation != 'r'
"""
# per source dialect (its engine) and hop: commit -> read by capture (the envelope's ts_ms) ->
# standardized (its batch's start) -> inserted. MariaDB's binlog gives commit times in whole
# seconds, so its commit -> anything reads 0-1 s long (about 0.5 s at the median).
HOPS_SQL = """
SELECT splitByChar('@', profile)[1] AS dialect, count(),
       quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, received_time)),
       quantiles(0.5, 0.99)(dateDiff('millisecond', received_time, standardized_time)),
       quantiles(0.5, 0.99)(dateDiff('millisecond', standardized_time, _landed_time)),
       quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, _landed_time))
FROM merge('{database}', '^std_') WHERE operation != 'r' GROUP BY dialect ORDER BY dialect
"""


def bare_loop(settings: Settings, dsn: str, start: Offsets, end: Offsets) -> tuple[int, float]:
    """consume -> decode -> insert of the raw changes between ``start`` and ``end``."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    client = connect(dsn, "bench_bare", create=True)
    client.command(
        "CREATE TABLE IF NOT EXISTS raw_changes (institution_id String, source_table String, "
        "op String, position_seq UInt64, commit_ts_ms Int64, row String) "
        "ENGINE = MergeTree ORDER BY (institution_id, source_table)"
    )
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4()}"}
    )
    wanted = {tp: high for tp, high in end.items() if high > start.get(tp, 0)}
    consumer.assign([TopicPartition(t, p, start.get((t, p), 0)) for (t, p) in wanted])
    rows: list[list[Any]] = []
    count = 0
    began = time.monotonic()
    while wanted:
        for message in consumer.consume(500, timeout=1.0):
            where = (message.topic() or "", message.partition() or 0)
            if message.error() is not None or where not in wanted:
                continue
            value = serde.decode(message.value() or b"").value
            source = value["source"]
            image = value["after"] if value["op"] != "d" else value["before"]
            rows.append([source["institution_id"], source["table"], value["op"],
                         source["position_seq"], source["commit_ts_ms"],
                         json.dumps(image, default=str, ensure_ascii=False)])  # fmt: skip
            count += 1
            if (message.offset() or 0) + 1 >= wanted[where]:
                del wanted[where]
        if len(rows) >= 5000 or (rows and not wanted):
            client.insert("raw_changes", rows, settings={"async_insert": 0})
            rows = []
    elapsed = time.monotonic() - began
    consumer.close()
    return count, elapsed


def fixed_rate(
    settings: Settings, work: Path, args: argparse.Namespace, rate: float, shaped: bool
) -> FixedRate:
    """Simulated institutions write at ``rate`` changes/s (the day's curve around 09:30 when
    ``shaped``, flat otherwise) after their initial snapshot has landed; commit -> queryable
    of every logged version, read afterwards from each row's insert time."""
    tag = f"{'day' if shaped else 'flat'}{rate:g}"
    options = SimulationOptions(
        start=START, seed=3, hospitals=args.hospitals, clinics=args.clinics, rate=rate,
        duration_s=args.duration, compression=144.0, day_shape=shaped,
        db_prefix=f"b{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    ledger = work / f"ledger-{tag}.json"
    simulation = Simulation(settings, options, ledger)
    documents = connector_documents(
        settings, simulation.institutions, simulation.dialects, options.db_prefix
    )
    paths = write_connectors(work / f"connectors-{tag}", documents)
    dsn, database = f"chdb://{work / tag}", f"bench_{tag}"
    try:
        simulation.setup()
        raw_start = topic_ends(settings, RAW)
        capture = [load_connector(p) for p in paths]
        live = Pipeline(settings, work / f"connectors-{tag}", dsn, database, capture)
        live.start(raw_start)
        # the initial snapshot is a one-off backlog: latency is measured in steady state
        snapshot_s = live.drained_after(600).seconds
        snapshot = sum(topic_ends(settings, RAW).values()) - sum(raw_start.values())
        print(f"[{tag}] initial snapshot: {snapshot:,} rows standardized and landed in "
              f"{snapshot_s:.1f} s")  # fmt: skip
        cpu_before = live.cpu()
        began = time.monotonic()
        report = simulation.run()
        written_s = time.monotonic() - began
        time.sleep(5)  # the last transactions reach Kafka
        tail_s = live.drained_after(300).seconds
        cpu = cpu_per_10k(cpu_before, live.cpu(), report.written)
        peaks = live.stop()
        raw_end = topic_ends(settings, RAW)
    finally:
        drop_databases(settings, read_ledger(ledger))
    # only now does this process open the run's engine (its lander has stopped)
    client = connect(dsn, database)
    versions, (p50, p99), worst = client.query(LATENCY_SQL.format(database=database)).result_rows[0]
    hops = client.query(HOPS_SQL.format(database=database)).result_rows
    client.close()
    run = FixedRate(tag, report.written, written_s, raw_start, raw_end, versions, p50, p99,
                    worst, peaks)  # fmt: skip
    print(
        f"[{tag}] {report.written:,} source changes in {written_s:.1f} s "
        f"({report.written / written_s:,.0f}/s), {run.changes:,} raw envelopes incl. snapshot; "
        f"drained {tail_s:.1f} s after the writers (+5 s)\n"
        f"[{tag}]   source commit -> queryable over {versions:,} logged versions: "
        f"p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, max {worst:,} ms; peak RSS "
        + ", ".join(f"{name} {mb:,.0f} MiB" for name, mb in sorted(peaks.items()))
        + f"\n[{tag}]   CPU s per 10,000 source changes while writing: {cpu}"
    )
    for dialect, n, capture_q, std_q, land_q, total_q in hops:
        print(
            f"[{tag}]   {dialect:<12} {n:>7,} versions, p50/p99 ms: capture "
            f"{capture_q[0]:,.0f}/{capture_q[1]:,.0f}, standardize {std_q[0]:,.0f}/{std_q[1]:,.0f}"
            f", land {land_q[0]:,.0f}/{land_q[1]:,.0f}, commit -> queryable "
            f"{total_q[0]:,.0f}/{total_q[1]:,.0f}"
        )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="day-shaped run's mean rate")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--rates",
        default="",
        help="flat offered rates (changes/s, comma-separated) to run after the backlog",
    )
    parser.add_argument("--hospitals", type=int, default=2)
    parser.add_argument("--clinics", type=int, default=2)
    args = parser.parse_args()
    settings = load_settings()
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    first = fixed_rate(settings, work, args, args.rate, shaped=True)
    # the day-shaped run's raw changes again, by fresh groups as fast as they go (before any
    # other run adds to the raw topics: a backlog group reads them to their end)
    backlog = Pipeline(settings, work / f"connectors-{first.label}", f"chdb://{work / 'backlog'}",
                       "bench_backlog")  # fmt: skip
    backlog.start(first.raw_start)
    drained = backlog.drained_after(600)
    started = drained.started_s or 0.0
    took = drained.seconds - started
    cpu = cpu_per_10k({}, backlog.cpu(), first.changes)
    peaks = backlog.stop()
    pipeline_rate = first.changes / took
    print(f"backlog: {first.changes:,} raw envelopes standardized and landed in {took:.1f} s "
          f"= {pipeline_rate:,.0f}/s, from the first batch committed to the last row landed "
          f"(the workers' start-up before it: {started:.1f} s; with it "
          f"{first.changes / drained.seconds:,.0f}/s); peak RSS "
          + ", ".join(f"{name} {mb:,.0f} MiB" for name, mb in sorted(peaks.items()))
          + f"; CPU s per 10,000 raw envelopes (incl. start-up): {cpu}")  # fmt: skip
    count, bare_s = bare_loop(settings, f"chdb://{work / 'bare'}", first.raw_start, first.raw_end)
    bare_rate = count / bare_s
    print(f"bare loop (consume -> fastavro decode -> insert): {count:,} in {bare_s:.1f} s "
          f"= {bare_rate:,.0f}/s")  # fmt: skip
    with_start = first.changes / drained.seconds / bare_rate
    print(f"ratio pipeline / bare loop: {pipeline_rate / bare_rate:.2f} "
          f"({with_start:.2f} counting the workers' start-up)")  # fmt: skip
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    runs = [fixed_rate(settings, work, args, rate, shaped=False) for rate in rates]
    flat = [r for r in runs if r.p99_ms <= 2000]
    if runs:
        best = max(flat, key=lambda r: r.written / r.written_s, default=None)
        print(
            "highest flat offered rate with p99 <= 2 s: "
            + (f"{best.label} ({best.written / best.written_s:,.0f}/s written)" if best else "none")
        )


if __name__ == "__main__":
    main()
