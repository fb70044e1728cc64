"""End to end: source commit -> capture -> Kafka -> standardize (Faust) -> ClickHouse.

Three figures from one run against the local stack, on this machine:

1. fixed rate: after the initial snapshot has landed, simulated institutions write at
   ``--rate`` changes/s for ``--duration`` s while capture (in this process),
   `streamhub standardize` and `streamhub land` (child processes, the lander owning its
   embedded ClickHouse) run; prints source commit -> queryable latency p50/p99, read
   afterwards from each row's insert time (``_landed_time``);
2. backlog: the same raw changes are standardized and landed again by fresh groups as fast
   as they go: the pipeline's end-to-end rate;
3. bare loop, the ratio's denominator: confluent-kafka consume -> fastavro decode ->
   clickhouse-connect insert of the same raw changes, no standardization.

    .venv/bin/python bench/end_to_end.py [--rate 300] [--duration 60]

Needs the local stack and the topic catalog applied (`streamhub topics apply`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.alongside import CaptureAlongside
from streamhub.capture.connector import load_connector
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


def wait_drained(settings: Settings, groups: dict[str, list[str]], timeout_s: float) -> float:
    """Seconds until every group has no lag (twice in a row, 1 s apart)."""
    began = time.monotonic()
    quiet = 0
    while time.monotonic() - began < timeout_s:
        quiet = quiet + 1 if all(group_lag(settings, g, t) == 0 for g, t in groups.items()) else 0
        if quiet >= 2:
            return time.monotonic() - began - 1.0
        time.sleep(0.5)
    raise SystemExit(f"not drained within {timeout_s:g} s")


class Pipeline:
    """`streamhub standardize` and `streamhub land` as child processes, as deployed."""

    def __init__(self, settings: Settings, connectors: Path, dsn: str, database: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = settings
        self.std_group, self.land_group = f"bench-std-{tag}", f"bench-land-{tag}"
        self.workers = Workers(
            settings,
            connectors,
            Path(tempfile.mkdtemp(prefix="bench-logs-")),
            extra_env={
                "STREAMHUB_STANDARDIZE_GROUP": self.std_group,
                "STREAMHUB_LANDER_GROUP": self.land_group,
                "STREAMHUB_CLICKHOUSE_DSN": dsn,
                "STREAMHUB_CLICKHOUSE_DATABASE": database,
            },
        )

    def start(self, raw_from: Offsets) -> None:
        commit_offsets(self.settings, self.std_group, raw_from)
        pin_to_end(self.settings, self.land_group, LANDED_TOPICS)
        self.workers.run_once("clickhouse", "migrate")
        self.workers.start("standardize")
        self.workers.start("land")

    def drained_after(self, timeout_s: float) -> float:
        groups = {self.std_group: RAW, self.land_group: LANDED_TOPICS}
        return wait_drained(self.settings, groups, timeout_s)

    def stop(self) -> None:
        self.workers.stop()


LATENCY_SQL = """
SELECT count(), quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, _landed_time)),
       max(dateDiff('millisecond', commit_time, _landed_time))
FROM merge('bench_live', '^std_') WHERE operation != 'r'
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--hospitals", type=int, default=2)
    parser.add_argument("--clinics", type=int, default=2)
    args = parser.parse_args()
    settings = load_settings()
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    # one embedded engine per process: each lander its own directory, read here afterwards
    live_dsn, backlog_dsn = f"chdb://{work / 'live'}", f"chdb://{work / 'backlog'}"
    options = SimulationOptions(
        start=START, seed=3, hospitals=args.hospitals, clinics=args.clinics, rate=args.rate,
        duration_s=args.duration, compression=144.0, db_prefix=f"b{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    simulation = Simulation(settings, options, work / "ledger.json")
    documents = connector_documents(
        settings, simulation.institutions, simulation.dialects, options.db_prefix
    )
    paths = write_connectors(work / "connectors", documents)
    try:
        simulation.setup()
        raw_start = topic_ends(settings, RAW)
        live = Pipeline(settings, work / "connectors", live_dsn, "bench_live")
        live.start(raw_start)
        with CaptureAlongside(settings, [load_connector(p) for p in paths]):
            # the initial snapshot is a one-off backlog: latency is measured in steady state
            snapshot_s = live.drained_after(600)
            snapshot = sum(topic_ends(settings, RAW).values()) - sum(raw_start.values())
            print(f"initial snapshot: {snapshot:,} rows standardized and landed in "
                  f"{snapshot_s:.1f} s")  # fmt: skip
            began = time.monotonic()
            report = simulation.run()
            written_s = time.monotonic() - began
        tail_s = live.drained_after(300)
        live.stop()
        raw_end = topic_ends(settings, RAW)
        changes = sum(raw_end[tp] - raw_start.get(tp, 0) for tp in raw_end)
        print(
            f"fixed rate: {report.written:,} source changes in {written_s:.1f} s "
            f"({report.written / written_s:,.0f}/s), {changes:,} raw envelopes incl. snapshot; "
            f"drained {tail_s:.1f} s after capture stopped (5 s after the writers)"
        )

        backlog = Pipeline(settings, work / "connectors", backlog_dsn, "bench_backlog")
        backlog.start(raw_start)
        took = backlog.drained_after(600)
        backlog.stop()
        pipeline_rate = changes / took
        print(f"backlog: {changes:,} raw envelopes standardized and landed in {took:.1f} s "
              f"= {pipeline_rate:,.0f}/s")  # fmt: skip

        # only now does this process open the live engine (the landers have stopped)
        client = connect(live_dsn, "bench_live")
        versions, (p50, p99), worst = client.query(LATENCY_SQL).result_rows[0]
        print(
            f"  source commit -> queryable (row inserted) over {versions:,} logged versions: "
            f"p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, max {worst:,} ms"
        )
        count, bare_s = bare_loop(settings, live_dsn, raw_start, raw_end)
        bare_rate = count / bare_s
        print(f"bare loop (consume -> fastavro decode -> insert): {count:,} in {bare_s:.1f} s "
              f"= {bare_rate:,.0f}/s")  # fmt: skip
        print(f"ratio pipeline / bare loop: {pipeline_rate / bare_rate:.2f}")
    finally:
        drop_databases(settings, read_ledger(work / "ledger.json"))


if __name__ == "__main__":
    main()
