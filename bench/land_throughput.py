"""The lander alone: std.* topics -> ClickHouse (embedded chDB), against a bare loop.

Produces ``--records`` std records of the simulator's entity mix (built from the canonical
models' fields and encoded with the std writers, as the standardizer frames them) to fresh
topics, then in this one process, back to back on the same chDB path (two databases):

1. the lander (``streamhub.land.lander.Lander``, as `streamhub land` runs it) drains them;
2. a bare loop: confluent-kafka consume -> fastavro decode (the same serde) -> one
   clickhouse-connect insert per table per 5,000 messages; no dead letters, counts, commits.

Prints wall rates, the ratio, and CPU seconds per 10,000 records (process CPU time: the
machine is shared, wall-clock rates are not reliable there), then with ``--flush-costs``
what one flush costs in chDB at small batches (the latency side: a flush every
``flush_ms`` inserts one part per table), and with ``--profile`` the lander's top functions.

With ``--latency``, a second part offers std records at ``--rate`` per second for
``--seconds`` (their commit time is when they are produced) to a lander running with each
``--flush-ms`` value in turn, and prints produced -> queryable p50/p99 (read from each row's
``_landed_time``) and the lander's CPU per second of that run: the lander's share of
commit -> queryable, and what a lower flush_ms costs.

    .venv/bin/python bench/land_throughput.py [--records 50000] [--flush-costs] [--profile]
    .venv/bin/python bench/land_throughput.py --records 0 --latency [--rate 2000] \
        [--flush-ms 100,200,300,500]

Needs the local stack (`streamhub stack up`).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import statistics
import tempfile
import threading
import time
import typing
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import load_settings
from streamhub.land.clickhouse import connect
from streamhub.land.config import LanderConfig
from streamhub.land.lander import Lander
from streamhub.land.migrations import migrate
from streamhub.land.targets import TARGETS
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.avro_schema import optional_type, std_schema
from streamhub.standardize.model import ENTITY_MODELS, StdRecord, field_meta

# Records per entity in the simulator's mix (lab results, orders and charges dominate, as the
# 12-partition std topics say); the weights are relative.
MIX = {
    "lab_result": 30,
    "order": 20,
    "charge": 20,
    "encounter": 12,
    "diagnosis": 6,
    "patient": 4,
    "lab_report": 4,
    "exam": 4,
}
PARTITIONS = 3
BARE_FLUSH = 5_000
# low-cardinality code values, as a profile's crosswalks produce them
CODES = ["A01", "B02", "C03", "D04", "E05", "F06", "G07", "H08"]


def _value(rng: random.Random, model: type[StdRecord], name: str, annotation: Any) -> Any:
    inner, nullable = optional_type(annotation)
    if nullable and rng.random() < 0.15:
        return None
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        return rng.choice(typing.get_args(inner))
    if origin is list:
        return rng.sample(["missing_business_time", "code_unmapped", "late"], rng.randint(0, 1))
    if inner is str:
        if name.endswith(("_code", "_type", "status", "unit", "kind", "route", "ward", "panel")):
            return rng.choice(CODES)
        return f"{name[:6]}-{rng.randrange(10**9):09d}" * rng.randint(1, 2)
    if inner is bool:
        return rng.random() < 0.1
    if inner is int:
        return rng.randrange(1, 10_000)
    if inner is float:
        return round(rng.uniform(0, 500), 2)
    if inner is Decimal:
        scale = field_meta(model, name)["scale"]
        return Decimal(rng.randrange(1, 10**7)).scaleb(-scale)
    if inner is datetime:
        return datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400))
    if inner is date:
        return date(1950, 1, 1) + timedelta(days=rng.randrange(25_000))
    raise TypeError(f"{model.entity}.{name}: no generator for {annotation!r}")


def std_records(
    entity: str, count: int, seed: int, commit: datetime | None = None
) -> list[dict[str, Any]]:
    """``count`` Avro-ready std records of ``entity``: every model field filled plausibly,
    a third of the records updated once more (two versions of one record id)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    model = ENTITY_MODELS[entity]
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        value = {
            name: _value(rng, model, name, info.annotation)
            for name, info in model.model_fields.items()
        }
        key = i if i % 3 else i - 1  # every third record is a later version of the one before
        value |= {
            "record_id": f"{entity[:4]}{seed:04d}{key:012d}",
            "institution_id": f"12350200{rng.randrange(4):010d}",
            "source_system": "his",
            "source_database": "his",
            "source_table": f"public.{entity}",
            "source_key": f'{{"id":"{key}"}}',
            "operation": "u" if i % 3 == 0 else "c",
            "deleted": False,
            "source_position": f"0/{i:X}",
            "source_position_seq": 1_000 + i,
            "commit_time": commit or now - timedelta(milliseconds=rng.randrange(5_000)),
            "received_time": now,
            "standardized_time": now,
            "profile": "bench@1",
        }
        out.append(value)
    return out


def produce(bootstrap: str, registry_url: str, prefix: str, total: int) -> dict[str, str]:
    """Create the topics, produce ``total`` framed records in the mix; topic -> entity."""
    routes = {f"{prefix}.std.{entity}": entity for entity in MIX}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    created = [NewTopic(t, PARTITIONS, 1) for t in routes]
    created += [NewTopic(f"{prefix}.{what}", 1, 1) for what in ("dlq", "counts")]
    for future in admin.create_topics(created, operation_timeout=30).values():
        future.result()
    serde = AvroSerde(SchemaRegistryClient({"url": registry_url}))
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    weight = sum(MIX.values())
    for seed, (topic, entity) in enumerate(routes.items()):
        writer = serde.register(f"{topic}-value", std_schema(ENTITY_MODELS[entity]))
        for value in std_records(entity, total * MIX[entity] // weight, seed):
            data = serde.encode(writer, value)
            while True:
                try:
                    producer.produce(topic, key=value["record_id"].encode(), value=data)
                    break
                except BufferError:
                    producer.poll(0.5)
    assert producer.flush(60) == 0, "records not acknowledged"
    return routes


def cpu_s() -> float:
    """CPU seconds of this process so far, every thread (librdkafka's and chDB's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Figures(typing.NamedTuple):
    records: int
    wall_s: float
    cpu_s: float

    def line(self, what: str) -> str:
        return (
            f"{what}: {self.records:,} records in {self.wall_s:.2f} s wall = "
            f"{self.records / self.wall_s:,.0f}/s; CPU {self.cpu_s:.2f} s = "
            f"{self.cpu_s * 10_000 / self.records:.3f} CPU s per 10k records "
            f"({self.records / self.cpu_s:,.0f} records per CPU s)"
        )


def lander_config(
    settings: Any, dsn: str, database: str, prefix: str, routes: dict[str, str], **more: Any
) -> LanderConfig:
    return LanderConfig.from_settings(
        settings,
        database,
        dsn=dsn,
        group=f"bench-land-{uuid.uuid4().hex[:8]}",
        routes=routes,
        dlq_topic=f"{prefix}.dlq",
        landed_counts_topic=f"{prefix}.counts",
        **more,
    )


def run_lander(
    settings: Any, dsn: str, prefix: str, routes: dict[str, str], total: int, profile: bool
) -> Figures:
    config = lander_config(settings, dsn, "bench_land", prefix, routes)
    lander = Lander(config, progress_out=None)
    profiler = cProfile.Profile() if profile else None
    result: list[BaseException] = []

    def run() -> None:
        if profiler:
            profiler.enable()
        try:
            lander.run()
        except BaseException as exc:  # reported by the main thread
            result.append(exc)
        finally:
            if profiler:
                profiler.disable()

    thread = threading.Thread(target=run, name="lander")
    began, cpu0 = None, 0.0
    thread.start()
    while lander.stats.rows + lander.stats.dead_letters < total and thread.is_alive():
        if began is None and lander.stats.messages:
            began, cpu0 = time.monotonic(), cpu_s()  # from the first message: no group join
        time.sleep(0.005)
    wall, cpu = time.monotonic() - (began or time.monotonic()), cpu_s() - cpu0
    lander.stop()
    thread.join()
    if result:
        raise result[0]
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return Figures(lander.stats.rows, wall, cpu)


def run_bare(settings: Any, dsn: str, routes: dict[str, str], total: int) -> Figures:
    client = connect(dsn, "bench_bare")
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(t, p, 0) for t in routes for p in range(PARTITIONS)])
    rows: dict[str, list[list[Any]]] = {}
    count, pending = 0, 0
    began, cpu0 = None, 0.0
    while count < total:
        for message in consumer.consume(1_000, timeout=1.0):
            if began is None:
                began, cpu0 = time.monotonic(), cpu_s()
            target = TARGETS[routes[message.topic() or ""]]
            value = serde.decode(message.value() or b"").value
            rows.setdefault(target.name, []).append(
                [*(value[f] for f in target.fields), message.topic(), message.partition(),
                 message.offset()]
            )  # fmt: skip
            count += 1
            pending += 1
        if pending >= BARE_FLUSH or (pending and count >= total):
            for name, table_rows in rows.items():
                target = TARGETS[name]
                client.insert(target.table, table_rows, column_names=list(target.columns))
            rows, pending = {}, 0
    wall, cpu = time.monotonic() - (began or time.monotonic()), cpu_s() - cpu0
    consumer.close()
    return Figures(count, wall, cpu)


def flush_costs(dsn: str, routes: dict[str, str]) -> None:
    """What one insert of n rows costs in chDB (wall and CPU, median of 20), per table: a
    flush inserts one part into each table that has rows."""
    client = connect(dsn, "bench_land")
    target = TARGETS["lab_result"]
    sample = std_records("lab_result", 1_000, 99)
    rows = [[*(v[f] for f in target.fields), "t", 0, i] for i, v in enumerate(sample)]
    columns = [list(c) for c in zip(*rows, strict=True)]
    for n in (1, 10, 100, 1_000):
        walls, cpus = [], []
        for _ in range(20):
            w0, c0 = time.monotonic(), cpu_s()
            client.insert(
                target.table,
                [c[:n] for c in columns],
                column_names=list(target.columns),
                column_oriented=True,
            )
            walls.append(time.monotonic() - w0)
            cpus.append(cpu_s() - c0)
        parts = client.query(
            "SELECT count() FROM system.parts WHERE database = 'bench_land' AND active "
            "AND table = {t:String}",
            parameters={"t": target.table},
        ).result_rows[0][0]
        wall_ms, cpu_ms = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
        print(
            f"  insert of {n:>5,} rows into {target.table}: median {wall_ms:.1f} ms wall, "
            f"{cpu_ms:.1f} ms CPU ({parts} active parts after)"
        )


LATENCY_SQL = """
SELECT count(), quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, _landed_time))
FROM merge({db:String}, '^std_')
"""


def latency_run(
    settings: Any, dsn: str, prefix: str, routes: dict[str, str], rate: float, seconds: float,
    flush_ms: int,
) -> None:  # fmt: skip
    """Offer ``rate`` records/s for ``seconds`` to a running lander; print latency and CPU."""
    database = f"bench_lat_{flush_ms}"
    migrate(connect(dsn, database, create=True))
    # auto_offset_reset latest: the group starts at the end, only what is produced next lands
    config = lander_config(
        settings, dsn, database, prefix, routes, flush_ms=flush_ms, auto_offset_reset="latest"
    )
    lander = Lander(config, progress_out=None)
    thread = threading.Thread(target=lander.run, name="lander")
    thread.start()
    while lander._assigned_at is None:  # the group joined: what is produced now is landed
        time.sleep(0.05)
    time.sleep(1.0)
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    writers = {
        t: serde.register(f"{t}-value", std_schema(ENTITY_MODELS[e])) for t, e in routes.items()
    }
    weight = sum(MIX.values())
    mix = [t for t, e in routes.items() for _ in range(MIX[e])]
    began, sent = time.monotonic(), 0
    cpu0, main0 = cpu_s(), time.thread_time()  # the process but this producing thread
    tick = 0.01
    while (elapsed := time.monotonic() - began) < seconds:
        due = int(elapsed * rate)
        now = datetime.now(UTC)
        for i in range(sent, due):
            topic = mix[i % weight]
            (value,) = std_records(routes[topic], 1, i, commit=now)
            value["record_id"] = f"lat{flush_ms}-{i:012d}"
            producer.produce(topic, key=value["record_id"].encode(),
                             value=serde.encode(writers[topic], value))  # fmt: skip
        sent = max(sent, due)
        producer.poll(0)
        time.sleep(tick)
    producer.flush(30)
    while lander.stats.rows < sent and thread.is_alive():
        time.sleep(0.05)
    cpu = (cpu_s() - cpu0) - (time.thread_time() - main0)
    wall = time.monotonic() - began
    lander.stop()
    thread.join()
    client = connect(dsn, database)
    count, (p50, p99) = client.query(LATENCY_SQL, parameters={"db": database}).result_rows[0]
    print(
        f"  flush_ms {flush_ms:>4}: {count:,} rows at {sent / seconds:,.0f}/s, produced -> "
        f"queryable p50 {p50:,.0f} ms, p99 {p99:,.0f} ms; lander CPU {cpu / wall:.2f} s per s "
        f"(with chDB's and librdkafka's threads; {lander.stats.batches} flushes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--flush-costs", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the lander's thread")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--flush-ms", default="100,200,300,500")
    args = parser.parse_args()
    settings = load_settings()
    prefix = f"bench-land-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="bench-land-"))
    dsn = f"chdb://{work / 'chdb'}"
    for database in ("bench_land", "bench_bare"):
        client = connect(dsn, database, create=True)
        migrate(client)
    began = time.monotonic()
    routes = produce(settings.kafka_bootstrap, settings.registry_url, prefix, args.records)
    weight = sum(MIX.values())
    total = sum(args.records * MIX[e] // weight for e in MIX)
    took = time.monotonic() - began
    print(f"produced {total:,} std records to {len(routes)} topics in {took:.1f} s")
    if total:
        lander = run_lander(settings, dsn, prefix, routes, total, args.profile)
        bare = run_bare(settings, dsn, routes, total)
        print(lander.line("lander"))
        print(bare.line("bare loop (consume -> decode -> insert)"))
        print(
            f"ratio lander / bare loop: wall {bare.wall_s / lander.wall_s:.2f}, "
            f"CPU {bare.cpu_s / lander.cpu_s:.2f}"
        )
    if args.flush_costs:
        print("flush costs (embedded chDB, one ReplacingMergeTree table):")
        flush_costs(dsn, routes)
    if args.latency:
        print(f"latency at {args.rate:,.0f} records/s offered for {args.seconds:g} s:")
        for flush_ms in (int(v) for v in args.flush_ms.split(",")):
            latency_run(settings, dsn, prefix, routes, args.rate, args.seconds, flush_ms)


if __name__ == "__main__":
    main()
