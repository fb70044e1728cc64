"""The anomaly worker at a province's count: CPU per minute, tick cost, memory, warm start.

A synthetic fleet of N institutions in the province's mix (338 hospitals with HIS, EMR, LIS
and PACS per 1,751 institutions, the rest clinics with HIS and LIS; 15 tables per hospital
system, 12 per clinic system: 54,192 feeds and 4,178 connectors at N = 1,751) drives the
real ``AnomalyService`` in-process, as the anomaly app would: every 5 s a heartbeat per
connector (streaming, idle) and a service tick; each table's ops.source_counts for a minute
5 s after it ends (none for a minute without changes). Counts are Poisson around a per-table
rate (log-normal spread, hospitals busier) on a day curve. Records reach ``on_message`` as
dicts through a pass-through codec: Avro decoding is measured apart (``decode µs``).

Per source tree, in a child process of its own (``--src``, and ``--baseline-src`` for the
tree before the change, e.g. ``git worktree add --detach /tmp/h18-anomaly-base <commit>``):

- N = 10, 100, 1,751 over ``--minutes`` simulated minutes after ``--warm`` minutes: detector
  CPU per simulated minute of input (on_message + ticks), the mean and worst 5-s step (the
  step that judges a minute for every feed) and the mean service tick, each against the
  60-s window;
- a region-wide incident: one service tick with every feed of 1,751 institutions holding
  an open anomaly and a maintenance window declared per institution;
- a simulated day (1,440 minutes) at N = ``--day-n`` with compression 7 (a business week in
  that day: every seasonal slot of every day of ``periods_kept`` filled, the baseline's
  steady state): retained bytes per feed (tracemalloc) and peak RSS, extrapolated to the
  province's 54,192 feeds;
- warm start at N = 1,751: the old way replays ``--history`` (3 days) of inputs; its record
  count is the measured records per minute × the horizon, its time = records × (Kafka read
  + Avro decode + replay) µs per record, each measured: Kafka reading against the real
  broker on a unique topic (``--kafka-records`` Avro source-count records written then read
  back with ``kafka.reading.read_since``), decoding with the registry's codec, replay
  in-process at N = 100. The new way (when the tree has ``anomaly.state``) restores the
  snapshot and replays only what came after it: its size and the app's pack / the start's
  restore CPU are measured on the steady-state detector (per feed, then × 54,192 feeds),
  the snapshot written to and read back from a unique compacted topic (read time scaled by
  feeds), plus the replay of one snapshot interval at the measured µs per record.

    .venv/bin/python bench/anomaly_scale.py [--minutes 10] [--warm 20] [--day-n 100] \\
        [--baseline-src /tmp/h18-anomaly-base/src]

CPU time, not wall time: on a shared machine the ratios are the finding. Needs the local
stack (Kafka and the registry) for the Kafka and decode figures; ``--no-kafka`` skips them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOSPITAL_SHARE = 338 / 1751
TABLES = {"hospital": 15, "clinic": 12}
SYSTEMS = {"hospital": ("his", "emr", "lis", "pacs"), "clinic": ("his", "lis")}
STEP_MS = 5_000
MINUTE = 60_000
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, 08:00 in Shanghai
PROVINCE_FEEDS = 338 * 4 * 15 + 1413 * 2 * 12
PROVINCE_CONNECTORS = 338 * 4 + 1413 * 2
HISTORY_DAYS = 3
REPLAY_HEARTBEATS_PER_MIN = 4  # the old warm start kept one heartbeat per connector per 15 s


# --- the parent -------------------------------------------------------------------------------


def run_child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(src)]
    command += ["--minutes", str(args.minutes), "--warm", str(args.warm)]
    command += ["--day-n", str(args.day_n), "--sizes", args.sizes]
    command += ["--kafka-records", str(args.kafka_records)]
    command += ["--no-kafka"] if args.no_kafka else []
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {src} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, r: dict[str, Any], base: dict[str, Any] | None) -> None:
    print(f"\n== {name}: {r['src']}")
    print(
        "   N      feeds  conns  CPU s/sim-min  % of window  worst step s  tick ms"
        "  counts/min" + ("  before CPU s/min" if base else "")
    )
    for size, s in r["sizes"].items():
        line = (
            f"   {size:<6}{s['feeds']:>6,}{s['connectors']:>7,}{s['cpu_per_minute_s']:>15.3f}"
            f"{100 * s['cpu_per_minute_s'] / 60:>12.2f}%{s['worst_step_s']:>14.3f}"
            f"{1000 * s['tick_mean_s']:>9.2f}{s['counts_per_minute']:>12,.0f}"
        )
        if base and size in base["sizes"]:
            line += f"{base['sizes'][size]['cpu_per_minute_s']:>19.3f}"
        print(line)
    d = r["day"]
    print(
        f"   a simulated day at N={d['n']} ({d['feeds']:,} feeds, compression 7 = a business "
        f"week): {d['bytes_per_feed']:,.0f} B retained per feed, peak RSS {d['peak_rss_mb']:.0f} MB"
        f" -> {d['bytes_per_feed'] * PROVINCE_FEEDS / 2**20:,.0f} MB for {PROVINCE_FEEDS:,} feeds"
        + (
            f" (before: {base['day']['bytes_per_feed']:,.0f} B/feed -> "
            f"{base['day']['bytes_per_feed'] * PROVINCE_FEEDS / 2**20:,.0f} MB)"
            if base
            else ""
        )
    )
    print(f"   replay: {r['replay_us']:.1f} µs per record through the service (N={d['n']})")
    o = r.get("open_tick")
    if o:
        print(
            f"   tick with {o['open']:,} open anomalies and a maintenance window per institution:"
            f" {o['tick_s']:.3f} s CPU (the tick is every 5 s)"
            + (
                f"; before {base['open_tick']['tick_s']:.3f} s"
                if base and "open_tick" in base
                else ""
            )
        )
    w = r.get("warm")
    if w:
        print(
            f"   old warm start at N=1,751: {w['records']:,.0f} records in {HISTORY_DAYS} days "
            f"× ({w['kafka_us']:.1f} Kafka read + {w['decode_us']:.1f} decode + "
            f"{r['replay_us']:.1f} replay) µs = {w['seconds'] / 60:,.0f} min CPU, holding "
            f"{w['records'] * w['message_bytes'] / 2**30:,.0f} GB of messages"
        )
    snap = r.get("snapshot")
    if snap:
        print(
            f"   snapshot: {snap['bytes_per_feed']:,.0f} B/feed, "
            f"pack {snap['dump_us_per_feed']:.0f} µs/feed, "
            f"restore {snap['restore_us_per_feed']:.0f} µs/feed -> at "
            f"{PROVINCE_FEEDS:,} feeds {snap['bytes_per_feed'] * PROVINCE_FEEDS / 2**20:,.0f} MB,"
            f" pack {snap['dump_us_per_feed'] * PROVINCE_FEEDS / 1e6:.1f} s, restore "
            f"{snap['restore_us_per_feed'] * PROVINCE_FEEDS / 1e6:.1f} s CPU"
        )
        if "kafka_read_s" in snap:
            print(
                f"   snapshot via Kafka at N={d['n']}: {snap['records']} records, "
                f"{snap['kafka_bytes'] / 2**20:.1f} MB, written in {snap['kafka_write_s']:.2f} s, "
                f"read back in {snap['kafka_read_s']:.2f} s wall, restored == taken: "
                f"{snap['round_trip_equal']}"
            )
        if w:
            interval = snap["interval_minutes"]
            tail = w["records_per_minute"] * interval
            tail_s = tail * (w["kafka_us"] + w["decode_us"] + r["replay_us"]) / 1e6
            restore_s = snap["restore_us_per_feed"] * PROVINCE_FEEDS / 1e6
            read_s = (
                snap["kafka_read_s"] * PROVINCE_FEEDS / d["feeds"] if "kafka_read_s" in snap else 0
            )
            print(
                f"   new warm start at N=1,751: snapshot read ~{read_s:.0f} s + restore "
                f"~{restore_s:.0f} s CPU + at most {interval} min of inputs ({tail:,.0f} "
                f"records) {tail_s:.0f} s CPU = ~{read_s + restore_s + tail_s:.0f} s "
                f"(old: {w['seconds'] / 60:,.0f} min)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="measured simulated minutes")
    parser.add_argument("--warm", type=int, default=20, help="simulated minutes before")
    parser.add_argument("--sizes", default="10,100,1751", help="institution counts")
    parser.add_argument("--day-n", type=int, default=100, help="institutions of the day run")
    parser.add_argument("--kafka-records", type=int, default=100_000)
    parser.add_argument("--no-kafka", action="store_true", help="skip Kafka and registry")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="source tree measured")
    parser.add_argument("--baseline-src", type=Path, help="a second tree, measured before it")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args)))
        return
    base = None
    if args.baseline_src is not None:
        base = run_child(args.baseline_src.resolve(), args)
        report("before", base, None)
    after = run_child(args.src.resolve(), args)
    report("after" if base else "measured", after, base)
    print(f"\ncommand: {' '.join(sys.argv)}")


# --- the child: one source tree ---------------------------------------------------------------


class Fleet:
    """N institutions' feeds and connectors, and a minute's Poisson counts for them."""

    def __init__(self, n: int, seed: int = 18) -> None:
        import numpy as np

        hospitals = max(1, round(n * HOSPITAL_SHARE))
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.connectors: list[dict[str, Any]] = []
        self.counts: list[dict[str, Any]] = []  # one template record per feed
        rates: list[float] = []
        for i in range(n):
            kind = "hospital" if i < hospitals else "clinic"
            inst = f"{'H' if kind == 'hospital' else 'C'}{i:05d}"
            for system in SYSTEMS[kind]:
                connector = f"{inst}-{system}"
                self.connectors.append(_heartbeat(connector, inst, system))
                for t in range(TABLES[kind]):
                    self.counts.append(_counts(connector, inst, system, f"t{t:02d}"))
                    median_rate = 4.0 if kind == "hospital" else 0.8
                    rates.append(float(rng.lognormal(np.log(median_rate), 1.2)))
        self.rates = np.array(rates)

    def minute(self, minute_ms: int, load: float) -> list[dict[str, Any]]:
        counts = self.rng.poisson(self.rates * load)
        out = []
        for index in counts.nonzero()[0]:
            record = self.counts[index]
            record["window_start_ms"] = minute_ms
            record["inserts"] = int(counts[index])
            out.append(record)
        return out


def _heartbeat(connector: str, inst: str, system: str) -> dict[str, Any]:
    return {
        "connector": connector,
        "institution_id": inst,
        "system": system,
        "engine": "postgres",
        "state": "streaming",
        "position": None,
        "lag_bytes": 0,
        "lag_ms": 0,
        "last_event_ts_ms": None,
        "events_total": 0,
        "errors_total": 0,
        "emitted_ts_ms": 0,
    }


def _counts(connector: str, inst: str, system: str, table: str) -> dict[str, Any]:
    return {
        "connector": connector,
        "institution_id": inst,
        "system": system,
        "database": system,
        "table": table,
        "window_start_ms": 0,
        "window_ms": MINUTE,
        "inserts": 0,
        "updates": 0,
        "deletes": 0,
        "snapshot_reads": 0,
        "emitted_ts_ms": 0,
        "row_count_position": None,
    }


def day_load(minute_ms: int, compression: float) -> float:
    """A day curve: quiet nights, a morning peak, an afternoon shoulder."""
    import math

    hour = ((minute_ms - T0) * compression / 3_600_000 + 8) % 24
    return (
        0.15
        + 2.2 * math.exp(-(((hour - 9.5) / 1.8) ** 2))
        + 1.2 * math.exp(-(((hour - 15) / 2) ** 2))
    )


class PassCodec:
    """The service's codec for dict records: ``current`` is what the next decode returns."""

    def __init__(self) -> None:
        self.current: dict[str, Any] = {}

    def decode(self, value: bytes, where: Any = None) -> dict[str, Any]:
        return self.current

    def encode(self, event: Any) -> tuple[bytes, bytes]:
        return b"", b""


class Run:
    """One service over one fleet, stepped in 5-s steps of detector time."""

    def __init__(self, n: int, compression: float = 1.0) -> None:
        from prometheus_client import CollectorRegistry

        from streamhub.anomaly.baseline import BaselineConfig, SeasonalCalendar
        from streamhub.anomaly.detector import DetectorConfig, TrafficDetector
        from streamhub.anomaly.metrics import AnomalyMetrics
        from streamhub.anomaly.service import AnomalyService, ReplayClock
        from streamhub.core.clock import ManualClock

        self.fleet = Fleet(n)
        self.compression = compression
        self.clock = ManualClock(T0 / 1000)
        replay_clock = ReplayClock(self.clock)
        seasonal = SeasonalCalendar(compression=compression, origin_ms=T0, business_origin_ms=T0)
        config = DetectorConfig(baseline=BaselineConfig(seasonal=seasonal))
        self.codec = PassCodec()
        self.service = AnomalyService(
            TrafficDetector(replay_clock, config),
            replay_clock,
            self.codec,  # type: ignore[arg-type]
            AnomalyMetrics.create(CollectorRegistry()),
        )
        self.now = T0
        self.events = 0
        self.counts_records = 0
        self.step_cpu: list[float] = []
        self.tick_cpu: list[float] = []
        self.log: list[tuple[int, str, dict[str, Any]]] | None = None  # (ts, topic, record)

    def minutes(self, count: int) -> None:
        import time

        service, codec = self.service, self.codec
        for _ in range(count * MINUTE // STEP_MS):
            self.now += STEP_MS
            self.clock.set(self.now / 1000)
            due: list[dict[str, Any]] = []
            if self.now % MINUTE == STEP_MS:  # a minute's counts, 5 s after it ends
                minute = self.now - STEP_MS - MINUTE
                due = self.fleet.minute(minute, day_load(minute, self.compression))
                for record in due:
                    record["emitted_ts_ms"] = self.now
                self.counts_records += len(due)
            for hb in self.fleet.connectors:
                hb["emitted_ts_ms"] = self.now
            if self.log is not None:
                self._log(due)
            started = time.process_time()
            for record in due:
                codec.current = record
                self.events += len(service.on_message("ops.source_counts", None, b"x"))
            for hb in self.fleet.connectors:
                codec.current = hb
                self.events += len(service.on_message("ops.heartbeat", None, b"x"))
            ticked = time.process_time()
            self.events += len(service.tick())
            done = time.process_time()
            self.step_cpu.append(done - started)
            self.tick_cpu.append(done - ticked)

    def _log(self, due: list[dict[str, Any]]) -> None:
        assert self.log is not None
        self.log += [(self.now, "ops.source_counts", dict(r)) for r in due]
        if self.now % 15_000 == 0:  # what the old replay filter keeps of heartbeats
            self.log += [(self.now, "ops.heartbeat", dict(h)) for h in self.fleet.connectors]


def measure(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    src = src.resolve()
    sys.path.insert(0, str(src))
    import streamhub.anomaly

    assert Path(streamhub.anomaly.__file__).is_relative_to(src), streamhub.anomaly.__file__
    result: dict[str, Any] = {"src": str(src), "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        run = Run(n)
        run.minutes(args.warm)
        run.step_cpu, run.tick_cpu, run.counts_records = [], [], 0
        run.minutes(args.minutes)
        result["sizes"][str(n)] = {
            "feeds": len(run.fleet.counts),
            "connectors": len(run.fleet.connectors),
            "cpu_per_minute_s": sum(run.step_cpu) / args.minutes,
            "worst_step_s": max(run.step_cpu),
            "tick_mean_s": sum(run.tick_cpu) / len(run.tick_cpu),
            "counts_per_minute": run.counts_records / args.minutes,
        }
        del run
    result["open_tick"] = measure_open_tick()
    result["day"], day_run = measure_day(args.day_n)
    result["replay_us"] = measure_replay(args.day_n)
    if not args.no_kafka:
        result["warm"] = measure_old_warm_start(args, result)
    if _has_snapshots():
        result["snapshot"] = measure_snapshot(day_run, args)
    return result


def measure_open_tick() -> dict[str, Any]:
    """A region-wide incident: every feed of 1,751 institutions (31 each) holds an open
    anomaly and every institution a maintenance window; CPU of one service tick (which
    re-checks each open anomaly's suppression and refreshes the gauges)."""
    import time

    from prometheus_client import CollectorRegistry

    from streamhub.anomaly.detector import TrafficDetector
    from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
    from streamhub.anomaly.metrics import AnomalyMetrics
    from streamhub.anomaly.service import AnomalyService, ReplayClock
    from streamhub.anomaly.suppression import MaintenanceWindow
    from streamhub.core.clock import ManualClock

    clock = ReplayClock(ManualClock(T0 / 1000))
    metrics = AnomalyMetrics.create(CollectorRegistry())
    service = AnomalyService(TrafficDetector(clock), clock, PassCodec(), metrics)  # type: ignore[arg-type]
    for i in range(1751):
        window = MaintenanceWindow(f"w{i}", f"I{i:04d}", T0 - 10, T0 + DAY_MS, system="pacs")
        service.detector.suppressions.declare(window)
    for i in range(1751):
        for t in range(31):
            key = FeedKey(f"I{i:04d}-his", f"I{i:04d}", "his", f"t{t}")
            event = AnomalyEvent(
                f"a{i}-{t}",
                key,
                "events_per_minute",
                Kind.SILENCE,
                Severity.CRITICAL,
                0,
                10.0,
                1.0,
                20.0,
                -3.0,
                T0,
                T0,
                T0,
            )
            service.open[event.anomaly_id] = event
    service.tick()  # the gauges' label sets made once
    started = time.process_time()
    service.tick()
    return {"open": len(service.open), "tick_s": time.process_time() - started}


def measure_day(n: int) -> tuple[dict[str, Any], Run]:
    import gc
    import resource
    import tracemalloc

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    run = Run(n, compression=7.0)
    fleet_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    run.minutes(1440 - 30)
    tracemalloc.start()  # the last half hour traced only: tracing the day would take hours
    run.minutes(30)
    gc.collect()
    tracemalloc.stop()
    import sys as _sys

    retained = _deep_size(run.service, _sys)
    feeds = len(run.fleet.counts)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "feeds": feeds,
        "bytes_per_feed": retained / feeds,
        "fleet_bytes": fleet_bytes,
        "peak_rss_mb": peak_rss,
    }, run


def _deep_size(root: Any, sys_module: Any) -> int:
    """Bytes reachable from ``root`` (each object once); modules, types and functions skipped."""
    import types

    seen: set[int] = set()
    stack = [root]
    total = 0
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys_module.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))
    return total


def measure_replay(n: int) -> float:
    """µs per record of ``AnomalyService.replay`` (values through the pass-through codec)."""
    import time

    from streamhub.kafka.reading import Message

    source = Run(n)
    source.log = []
    source.minutes(40)
    run = Run(n)
    records = {}
    messages = []
    for offset, (ts, topic, record) in enumerate(source.log):
        value = str(offset).encode()
        records[value] = record
        messages.append(Message(topic, 0, offset, ts, None, value))

    class Lookup(PassCodec):
        def decode(self, value: bytes, where: Any = None) -> dict[str, Any]:
            return records[value]

    run.service.codec = Lookup()
    run.service.clock.fixed_ms = None
    started = time.process_time()
    run.service.replay(messages)
    return (time.process_time() - started) / len(messages) * 1e6


def measure_old_warm_start(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    """The old warm start at N = 1,751: records in the horizon × measured µs per record."""
    import time
    import uuid

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from streamhub.anomaly.codec import OpsCodec
    from streamhub.catalog.load import load_schema
    from streamhub.config import load_settings
    from streamhub.kafka.reading import read_since

    settings = load_settings(project_dir=ROOT)
    codec = OpsCodec(settings)
    schema = load_schema(ROOT / "avro_schemas", "ops/source_counts.avsc")
    writer = codec.serde.register(f"bench-anomaly-scale-{uuid.uuid4().hex[:6]}-value", schema)
    sample = _counts("H00001-his", "H00001", "his", "t01")
    sample["inserts"] = 7
    value = codec.serde.encode(writer, sample)
    started = time.process_time()
    for _ in range(20_000):
        codec.decode(value)
    decode_us = (time.process_time() - started) / 20_000 * 1e6

    topic = f"bench.anomaly-scale.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 50})
    key = b'{"connector":"H00001-his","table":"his.t01"}'
    for i in range(args.kafka_records):
        producer.produce(topic, key=key, value=value, partition=i % 3)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)
    started = time.process_time()
    wall = time.perf_counter()
    messages = list(read_since(settings, [topic], 0, timeout_s=120))
    kafka_us = (time.process_time() - started) / len(messages) * 1e6
    kafka_wall_us = (time.perf_counter() - wall) / len(messages) * 1e6
    message_bytes = sys.getsizeof(messages[0]) + len(value) + 33 + len(key) + 33
    admin.delete_topics([topic])
    sizes = result["sizes"]
    big = sizes.get("1751") or sizes[max(sizes, key=int)]
    per_minute = big["counts_per_minute"] + big["connectors"] * REPLAY_HEARTBEATS_PER_MIN
    records = per_minute * 1440 * HISTORY_DAYS
    seconds = records * (kafka_us + decode_us + result["replay_us"]) / 1e6
    return {
        "records_per_minute": per_minute,
        "records": records,
        "kafka_us": kafka_us,
        "kafka_wall_us": kafka_wall_us,
        "decode_us": decode_us,
        "seconds": seconds,
        "message_bytes": message_bytes,
    }


def _has_snapshots() -> bool:
    import importlib.util

    return importlib.util.find_spec("streamhub.anomaly.state") is not None


def measure_snapshot(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """Pack the steady-state service as the app does, restore it into a new one, and
    through Kafka."""
    import time

    from streamhub.anomaly import state

    feeds = len(run.fleet.counts)
    started = time.process_time()
    records = list(state.records_of(run.service, {}, 0, 0))
    pack_s = time.process_time() - started
    size = sum(len(k) + len(v) for k, v in records)
    started = time.process_time()
    fresh = Run(args.day_n, compression=7.0)
    state.restore(fresh.service, state.decode(records))
    restore_s = time.process_time() - started
    out: dict[str, Any] = {
        "bytes_per_feed": size / feeds,
        "dump_us_per_feed": pack_s / feeds * 1e6,
        "restore_us_per_feed": restore_s / feeds * 1e6,
        "interval_minutes": state.DEFAULT_INTERVAL_MS // MINUTE,
    }
    if not args.no_kafka:
        import uuid

        from streamhub.anomaly.snapshot_log import SnapshotLog
        from streamhub.config import load_settings

        settings = load_settings(project_dir=ROOT)
        log = SnapshotLog(settings.kafka_bootstrap, f"_bench_anomaly_state_{uuid.uuid4().hex[:8]}")
        wall = time.perf_counter()
        log.write_records(records, log.next_generation)
        out["kafka_write_s"] = time.perf_counter() - wall
        wall = time.perf_counter()
        back = log.read_latest()
        out["kafka_read_s"] = time.perf_counter() - wall
        again = Run(args.day_n, compression=7.0)
        assert back is not None
        state.restore(again.service, back)
        out["records"] = len(records)
        out["kafka_bytes"] = size
        out["round_trip_equal"] = (
            state.dump(again.service, {}).connectors == state.dump(run.service, {}).connectors
        )
        log.delete_topic()
    return out


if __name__ == "__main__":
    main()
