"""Link health at a province's count: `gather` + `evaluate` for N institutions, timed.

For each N the bench writes, on this run's own topics of the real local Kafka, what N
institutions' capture agents and the lander write over one health horizon (15 min by
default): one heartbeat per connector every 5 s, source counts per active table-minute,
landed counts (one to three flushes per table-minute, each with its records' versions),
a few dead letters; plus one connector file per connector in a temp dir. The mix is the
province's: 338 of 1,751 institutions are hospitals (HIS, EMR, LIS, PACS), the rest
clinics (HIS, LIS), 10-20 tables per system. One institution in a hundred stops
heartbeating five minutes before the end (down), one in two hundred is a minute behind its
source (degraded): link health must name exactly those.

Each measurement runs in a child process (clean peak RSS), once per source tree given:
`--baseline-src DIR` adds a run of another checkout's `src` (e.g. a `git worktree` of the
commit before the change) on the same data, back to back. The child reads `gather` once
(as `streamhub health` does) and, when the tree has it, three refreshes of the exporter's
incremental reader (`health.refresh.HealthReader`, as `streamhub health --serve` does).

    git worktree add /tmp/health-base 8992abb    # the code before issue 18's health work
    .venv/bin/python bench/health_scale.py --n 10 100 1751 --baseline-src /tmp/health-base/src

The child then times the console's link-health request on the same topics, through the
web app (`--console`, on by default when the tree has `web.console.use_health_reader`): the
old way (`gather` on every cache miss, through the console's health-source hook), then the
console's kept reader cold (its first request reads the horizon) and warm (a refresh with
nothing new, and one after a further minute of every connector's records is written).

Prints per N and tree: wall and CPU seconds of gather and of evaluate, the child's peak RSS,
the records read, the states found and whether the trees agree. Needs the local stack.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.codes import credit_code
from streamhub.codes.catalogue import regions
from streamhub.config import Settings, load_settings
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.kafka.groups import pin_to_end
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.serde.avro_serde import AvroSerde

HOSPITAL_SHARE = 338 / 1751
SYSTEMS = {"hospital": ("his", "emr", "lis", "pacs"), "clinic": ("his", "lis")}
TOPICS = {  # name in the catalog -> (partitions, schema)
    "ops.heartbeat": (3, "ops/heartbeat.avsc"),
    "ops.source_counts": (6, "ops/source_counts.avsc"),
    "ops.landed_counts": (6, "ops/landed_counts.avsc"),
    "dlq.capture": (3, "ops/dead_letter.avsc"),
    "dlq.standardize": (3, "ops/dead_letter.avsc"),
    "dlq.land": (3, "ops/dead_letter.avsc"),
}
CLOSED_PORT = 9  # discard: nothing listens here, so a probe of a silent connector is refused
MINUTE = 60_000


@dataclass(frozen=True)
class Link:
    name: str
    institution_id: str
    institution_name: str
    system: str
    tables: tuple[str, ...]
    fault: str  # "", "silent" (stops heartbeating) or "lagging"


def fleet(n: int, seed: int) -> list[Link]:
    rng = random.Random(seed)  # noqa: S311 - a load shape, not a secret
    hospitals = max(1, round(n * HOSPITAL_SHARE))
    places = regions()
    links = []
    for i in range(n):
        kind = "hospital" if i < hospitals else "clinic"
        region = places[i % len(places)]
        code = credit_code.make("1", "2", region.code, f"{i:08d}")
        name = f"{region.district}{'医院' if kind == 'hospital' else '卫生院'}{i:04d}"
        fault = "silent" if i % 100 == 7 else "lagging" if i % 200 == 13 else ""
        for system in SYSTEMS[kind]:
            tables = tuple(f"public.t{k:02d}" for k in range(rng.randint(10, 20)))
            links.append(Link(f"f{i:04d}-{system}", code, name, system, tables, fault))
    return links


def write_connector_files(directory: Path, links: list[Link]) -> None:
    for link in links:
        document = {
            "name": link.name,
            "institution_id": link.institution_id,
            "institution_name": link.institution_name,
            "system": link.system,
            "profile": "english_pg",
            "engine": "postgresql",
            "connection": {
                "host": "127.0.0.1",
                "port": CLOSED_PORT,
                "database": link.system,
                "user": "cdc",
                "password_env": "BENCH_UNUSED_PASSWORD",
            },
            "tables": list(link.tables),
        }
        (directory / f"{link.name}.yaml").write_text(
            yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )


def create_topics(settings: Settings, prefix: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    names = {base: f"{prefix}{base}" for base in TOPICS}
    futures = admin.create_topics(
        [NewTopic(names[b], num_partitions=TOPICS[b][0], replication_factor=1) for b in TOPICS]
    )
    for future in futures.values():
        future.result(30)
    return names


def delete_topics(settings: Settings, names: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.delete_topics(list(names.values())).values():
        try:
            future.result(30)
        except Exception as exc:
            print(f"  (could not delete a topic: {exc})", file=sys.stderr)


class Writer:
    """Produces the ops records with explicit timestamps (the horizon's history)."""

    def __init__(self, settings: Settings, names: dict[str, str]) -> None:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schemas = settings.project_dir / "avro_schemas"
        self.serde = serde
        self.writers = {
            base: serde.register(f"{names[base]}-value", load_schema(schemas, TOPICS[base][1]))
            for base in TOPICS
        }
        self.names = names
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "linger.ms": 50,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                "batch.num.messages": 10_000,
            }
        )
        self.counts: dict[str, int] = dict.fromkeys(TOPICS, 0)

    def write(self, base: str, key: str, value: dict[str, Any], ts: int) -> None:
        data = self.serde.encode(self.writers[base], value)
        while True:
            try:
                self.producer.produce(self.names[base], data, key.encode(), timestamp=ts)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.counts[base] += 1
        if self.counts[base] % 20_000 == 0:
            self.producer.poll(0)

    def flush(self) -> None:
        self.producer.flush(120)


def produce_history(
    writer: Writer, links: list[Link], end_ms: int, minutes: int, beat_s: float, seed: int
) -> None:
    """The records of ``minutes`` before ``end_ms``, in time order (as agents write them)."""
    rng = random.Random(seed)  # noqa: S311 - a load shape, not a secret
    start = end_ms - minutes * MINUTE
    start -= start % MINUTE
    beat_ms = int(beat_s * 1000)
    totals = {link.name: 0 for link in links}
    for minute_start in range(start, end_ms, MINUTE):
        # heartbeats of this minute, connector by connector, each at its own phase
        for offset in range(0, MINUTE, beat_ms):
            for index, link in enumerate(links):
                ts = minute_start + offset + (index * 37) % beat_ms
                if ts > end_ms or (link.fault == "silent" and ts > end_ms - 5 * MINUTE):
                    continue
                totals[link.name] += rng.randint(0, 40)
                lag_ms = 90_000 if link.fault == "lagging" else rng.randint(50, 900)
                writer.write(
                    "ops.heartbeat",
                    json.dumps({"connector": link.name}),
                    {
                        "connector": link.name,
                        "institution_id": link.institution_id,
                        "system": link.system,
                        "engine": "postgresql",
                        "state": "streaming",
                        "position": f"0/{ts:X}",
                        "lag_bytes": rng.randint(0, 4096),
                        "lag_ms": lag_ms,
                        "last_event_ts_ms": ts - lag_ms,
                        "events_total": totals[link.name],
                        "errors_total": 0,
                        "emitted_ts_ms": ts,
                    },
                    ts,
                )
        if minute_start + MINUTE > end_ms:
            break  # the running minute's counts are not out yet
        emitted = minute_start + MINUTE + 5_000
        for link in links:
            for table in link.tables:
                if rng.random() > 0.6:  # an idle table-minute emits nothing
                    continue
                changes = rng.randint(1, 12)
                inserts = rng.randint(0, changes)
                writer.write(
                    "ops.source_counts",
                    json.dumps(
                        {"connector": link.name, "table": table, "window": minute_start},
                        sort_keys=True,
                    ),
                    {
                        "connector": link.name,
                        "institution_id": link.institution_id,
                        "system": link.system,
                        "database": link.system,
                        "table": table,
                        "window_start_ms": minute_start,
                        "window_ms": MINUTE,
                        "inserts": inserts,
                        "updates": changes - inserts,
                        "deletes": 0,
                        "snapshot_reads": 0,
                        "row_count": None,
                        "row_count_position": None,
                        "emitted_ts_ms": emitted,
                    },
                    min(emitted, end_ms),
                )
                flushes = rng.randint(1, 3)
                for flush in range(flushes):
                    part = changes // flushes + (1 if flush < changes % flushes else 0)
                    if not part:
                        continue
                    landed = minute_start + (flush + 1) * MINUTE // flushes + 1_500
                    writer.write(
                        "ops.landed_counts",
                        f"{link.institution_id}|{table}|{minute_start}",
                        {
                            "institution_id": link.institution_id,
                            "system": link.system,
                            "table": table,
                            "entity": "encounter",
                            "window_start_ms": minute_start,
                            "window_ms": MINUTE,
                            "upserts": part,
                            "deletes": 0,
                            "landed_ts_ms": landed,
                            "database": link.system,
                            "versions": [rng.getrandbits(62) for _ in range(part)],
                            "repair_id": None,
                        },
                        min(landed, end_ms),
                    )
        # a dead letter now and then, at one institution in fifty
        for link in links[:: max(1, len(links) // 50)]:
            writer.write(
                "dlq.standardize",
                link.institution_id,
                {
                    "stage": "standardize",
                    "reason": "bench: no mapping for a column",
                    "error_type": "MappingError",
                    "institution_id": link.institution_id,
                    "table": link.tables[0],
                    "failed_ts_ms": minute_start + 30_000,
                },
                minute_start + 30_000,
            )
    writer.flush()


# --- the measuring child ----------------------------------------------------------------------


def measure(args: argparse.Namespace) -> None:
    """In a child process: gather + evaluate once (and refreshes), figures as JSON."""
    import resource

    from streamhub.health import gather as gathering
    from streamhub.health.evaluate import evaluate
    from streamhub.health.thresholds import Thresholds

    names: dict[str, str] = json.loads(args.topics)
    settings = load_settings(
        connectors_dir=Path(args.connectors),
        standardize_group=args.std_group,
        lander_group=args.land_group,
    )
    limits = Thresholds()
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kwargs: dict[str, Any] = {}
    if hasattr(gathering, "OpsTopics"):
        kwargs["topics"] = gathering.OpsTopics(
            heartbeat=names["ops.heartbeat"],
            source_counts=names["ops.source_counts"],
            landed_counts=names["ops.landed_counts"],
            dead_letters=tuple(names[f"dlq.{s}"] for s in ("capture", "standardize", "land")),
        )
    else:  # the code before: the topics are the module's constants
        gathering.HEARTBEAT = names["ops.heartbeat"]  # type: ignore[attr-defined]
        gathering.SOURCE_COUNTS = names["ops.source_counts"]  # type: ignore[attr-defined]
        gathering.LANDED_COUNTS = names["ops.landed_counts"]  # type: ignore[attr-defined]
        gathering.DEAD_LETTER_TOPICS = tuple(  # type: ignore[attr-defined]
            names[f"dlq.{s}"] for s in ("capture", "standardize", "land")
        )
    # other work writes the shared raw and std topics: pin this run's groups at their ends
    pin_to_end(settings, args.std_group, list(RAW_TOPICS))
    pin_to_end(settings, args.land_group, list(DEFAULT_ROUTES))
    figures: dict[str, Any] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    observation = gathering.gather(settings, limits, now_ms=args.now_ms, **kwargs)
    figures["gather_wall_s"] = time.perf_counter() - wall
    figures["gather_cpu_s"] = time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    healths = evaluate(observation, limits)
    figures["evaluate_wall_s"] = time.perf_counter() - wall
    figures["evaluate_cpu_s"] = time.process_time() - cpu
    figures["institutions"] = len(healths)
    figures["states"] = {
        label: sum(1 for h in healths if h.overall.label == label)
        for label in ("healthy", "degraded", "down")
    }
    figures["not_healthy"] = sorted(h.institution_id for h in healths if h.overall)
    # the results to compare between trees (lags of the shared raw/std topics left out)
    figures["digest"] = hash_of(
        [
            (h.institution_id, h.overall.label, [(p.hop, p.status.label) for p in h.hops])
            for h in healths
        ]
    )
    figures["beats_read"] = sum(len(b) for b in observation.beats.values())
    figures["activity_windows"] = len(observation.activity)
    refresh_module = _optional("streamhub.health.refresh")
    if refresh_module is not None:
        reader = refresh_module.HealthReader(settings, limits, topics=kwargs["topics"])
        try:
            for i in range(args.refreshes):
                wall, cpu = time.perf_counter(), time.process_time()
                refreshed = reader.refresh(now_ms=args.now_ms + i * 10_000)
                again = evaluate(refreshed, limits)
                figures.setdefault("refresh_cpu_s", []).append(time.process_time() - cpu)
                figures.setdefault("refresh_wall_s", []).append(time.perf_counter() - wall)
                if i == 0:
                    figures["refresh_digest"] = hash_of(
                        [
                            (
                                h.institution_id,
                                h.overall.label,
                                [(p.hop, p.status.label) for p in h.hops],
                            )
                            for h in again
                        ]
                    )
        finally:
            reader.close()
    console = _optional("streamhub.web.console")
    if args.console and console is not None and hasattr(console, "use_health_reader"):
        figures["console"] = measure_console(args, settings, limits, kwargs["topics"], names)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["start_rss_mb"] = rss_start / 1024
    print(json.dumps(figures))


def measure_console(
    args: argparse.Namespace, settings: Settings, limits: Any, topics: Any, names: dict[str, str]
) -> dict[str, float]:
    """The console's health request on this run's topics, process CPU and wall ms: the old
    way (gather per cache miss) and the kept reader, cold, warm with nothing new, and warm
    after one more minute of records (what 12 of the console's 5-s refreshes read)."""
    from fastapi.testclient import TestClient

    from streamhub.core.clock import ManualClock
    from streamhub.health.gather import gather
    from streamhub.health.refresh import HealthReader
    from streamhub.query import LanderQueries
    from streamhub.web import console
    from streamhub.web.app import create_app
    from streamhub.web.auth import User, hash_password, write_users

    out: dict[str, float] = {}

    def timed(label: str, work: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        out[f"{label}_cpu_ms"] = (time.process_time() - cpu) * 1000
        out[f"{label}_wall_ms"] = (time.perf_counter() - wall) * 1000
        return result

    with tempfile.TemporaryDirectory(prefix="bench-health-web-") as tmp:
        home = Path(tmp)
        users = home / "users.yaml"
        password = "bench-operator-pw"  # noqa: S105 - a throw-away user of a temp dir
        write_users(users, {"op": User("op", "operator", hash_password(password, 1_000))})
        web_settings = load_settings(
            connectors_dir=settings.connectors_path,
            standardize_group=settings.standardize_group,
            lander_group=settings.lander_group,
            data_dir=home,
            web_users_file=users,
            audit_log=home / "audit.jsonl",
        )
        clock = ManualClock(args.now_ms / 1000)  # the history's end; moved by hand
        unused = LanderQueries("http://127.0.0.1:9", lambda: "unused")  # health reads none
        app = create_app(web_settings, unused, clock=clock)
        ctx = app.state.web
        with TestClient(app) as web:
            web.post("/api/login", json={"username": "op", "password": password})
            timed("directory", ctx.directory.known_ids)  # names from the connector files

            def request() -> None:
                web.get("/api/console/health").raise_for_status()

            def old_source() -> Any:
                return gather(web_settings, limits, ctx.now_ms(), topics=topics)

            console.use_health_source(ctx, old_source)
            timed("old_first", request)  # builds the document: gather + evaluate
            timed("old_miss", lambda: console.health_document(ctx))  # every 5-s miss
            console.use_health_reader(ctx, HealthReader(web_settings, limits, topics=topics))
            timed("cold", request)  # the kept reader's first refresh reads the horizon
            timed("cached", request)  # a page of the cached document
            timed("warm_idle", lambda: console.health_document(ctx))
            writer = Writer(web_settings, names)
            end = args.now_ms + MINUTE
            links = fleet(args.fleet_n, args.seed)
            produce_history(writer, links, end, 1, args.heartbeat_s, args.seed + 1)
            out["minute_records"] = sum(writer.counts.values())
            clock.advance(MINUTE / 1000)
            document = timed("warm_minute", lambda: console.health_document(ctx))
            out["institutions"] = len(document["institutions"])
    return out


def _optional(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def hash_of(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def run_child(src: Path | None, extra: list[str]) -> dict[str, Any]:
    """The child's figures, or ``{"failed": its last error line}``."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    result = subprocess.run(
        [sys.executable, __file__, "measure", *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        # a failure is a figure too (the code before gives up on a loaded machine)
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"failed": last[:300]}
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def one_n(args: argparse.Namespace, settings: Settings, n: int) -> None:
    tag = uuid.uuid4().hex[:8]
    links = fleet(n, args.seed)
    institutions = len({link.institution_id for link in links})
    names = create_topics(settings, f"bench-health-{tag}-")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
            if args.keep:  # a profile's data: topics and files stay, the child's args printed
                tmp = tempfile.mkdtemp(prefix="bench-health-kept-")
            write_connector_files(Path(tmp), links)
            end_ms = int(time.time() * 1000)
            started = time.perf_counter()
            writer = Writer(settings, names)
            produce_history(writer, links, end_ms, args.minutes, args.heartbeat_s, args.seed)
            produced = time.perf_counter() - started
            total = sum(writer.counts.values())
            print(
                f"N={n:>5}  {institutions} institutions, {len(links)} connectors; produced "
                f"{total:,} records in {produced:.0f} s "
                f"({', '.join(f'{k} {v:,}' for k, v in writer.counts.items() if v)})",
                flush=True,
            )
            std_group, land_group = f"bench-health-std-{tag}", f"bench-health-land-{tag}"
            pin_to_end(settings, std_group, list(RAW_TOPICS))
            pin_to_end(settings, land_group, list(DEFAULT_ROUTES))
            extra = [
                "--topics",
                json.dumps(names),
                "--connectors",
                tmp,
                "--std-group",
                std_group,
                "--land-group",
                land_group,
                "--now-ms",
                str(end_ms),
                "--refreshes",
                str(args.refreshes),
                "--fleet-n",
                str(n),
                "--seed",
                str(args.seed),
                "--heartbeat-s",
                str(args.heartbeat_s),
                *([] if args.console else ["--no-console"]),
            ]
            trees: list[tuple[str, Path | None]] = []
            if args.baseline_src:
                trees.append(("baseline", Path(args.baseline_src)))
            trees.append(("this tree", None))
            digests = set()
            for label, src in trees:
                f = run_child(src, extra)
                if "failed" in f:
                    print(f"  {label:<10} FAILED: {f['failed']}", flush=True)
                    continue
                digests.add(f["digest"])
                states = ", ".join(f"{k} {v}" for k, v in f["states"].items())
                print(
                    f"  {label:<10} gather {f['gather_wall_s']:6.2f} s wall "
                    f"{f['gather_cpu_s']:6.2f} s CPU | evaluate {f['evaluate_wall_s']:6.2f} s wall "
                    f"{f['evaluate_cpu_s']:6.2f} s CPU | peak RSS {f['peak_rss_mb']:6.0f} MB | "
                    f"{f['beats_read']:,} beats, {f['activity_windows']:,} activity windows | "
                    f"{states}",
                    flush=True,
                )
                if "refresh_cpu_s" in f:
                    digests.add(f["refresh_digest"])
                    cpus = " ".join(f"{c:.2f}" for c in f["refresh_cpu_s"])
                    walls = " ".join(f"{w:.2f}" for w in f["refresh_wall_s"])
                    print(
                        f"  {'':<10} serve refreshes (gather+evaluate): CPU s {cpus}; "
                        f"wall s {walls}",
                        flush=True,
                    )
                expected = sorted({link.institution_id for link in links if link.fault})
                named = "exactly the faulted" if f["not_healthy"] == expected else "NOT the faulted"
                print(f"  {'':<10} not healthy: {len(f['not_healthy'])} ({named} institutions)")
                if "console" in f:
                    c = f["console"]
                    print(
                        f"  {'':<10} console health, process CPU ms (wall ms): old way "
                        f"(gather per miss) first request {c['old_first_cpu_ms']:.0f} "
                        f"({c['old_first_wall_ms']:.0f}), each miss {c['old_miss_cpu_ms']:.0f} "
                        f"({c['old_miss_wall_ms']:.0f}) | kept reader cold {c['cold_cpu_ms']:.0f}"
                        f" ({c['cold_wall_ms']:.0f}), warm with nothing new "
                        f"{c['warm_idle_cpu_ms']:.0f} ({c['warm_idle_wall_ms']:.0f}), warm "
                        f"after a minute ({c['minute_records']:,} records) "
                        f"{c['warm_minute_cpu_ms']:.0f} ({c['warm_minute_wall_ms']:.0f}) | a "
                        f"cached page {c['cached_cpu_ms']:.0f} | directory of names "
                        f"{c['directory_cpu_ms']:.0f} | {c['institutions']:.0f} institutions",
                        flush=True,
                    )
            print(f"  results {'agree' if len(digests) == 1 else 'DIFFER'} between runs")
            if args.keep:
                print(f"  kept: {__file__} measure {' '.join(repr(a) for a in extra)}")
    finally:
        if not args.keep:
            delete_topics(settings, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("measure")
    child.add_argument("--topics", required=True)
    child.add_argument("--connectors", required=True)
    child.add_argument("--std-group", required=True)
    child.add_argument("--land-group", required=True)
    child.add_argument("--now-ms", type=int, required=True)
    child.add_argument("--refreshes", type=int, default=3)
    child.add_argument("--fleet-n", type=int, default=0)
    child.add_argument("--seed", type=int, default=18)
    child.add_argument("--heartbeat-s", type=float, default=5.0)
    child.add_argument("--no-console", dest="console", action="store_false")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1751])
    parser.add_argument("--minutes", type=int, default=15, help="history written (the horizon)")
    parser.add_argument("--heartbeat-s", type=float, default=5.0)
    parser.add_argument("--refreshes", type=int, default=3)
    parser.add_argument("--baseline-src", help="another checkout's src/ to measure as well")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument(
        "--no-console",
        dest="console",
        action="store_false",
        help="skip timing the console's health request (on by default)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the topics and files (to profile the child)"
    )
    args = parser.parse_args()
    if args.command == "measure":
        measure(args)
        return
    settings = load_settings()
    for n in args.n:
        one_n(args, settings, n)


if __name__ == "__main__":
    main()
