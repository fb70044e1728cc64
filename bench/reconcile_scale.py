"""The reconciler at a province's count of institutions, in-process, without Kafka.

For N institutions (hospitals and clinics in the province's proportion, 338 : 1,413; a
hospital has HIS/EMR/LIS/PACS with 18/12/10/8 tables, a clinic HIS/LIS with 12/6) it feeds
the real ``Feed.apply`` -> ``Reconciler`` the decoded inputs of M minutes, as the topics
carry them: per active table-minute one ``ops.source_counts`` window, one
``ops.standardized_counts`` increment and one or two ``ops.landed_counts`` flushes with
their version ids (1 % of flushes replayed), and a dead letter per ~2,000 changes. A
hospital table is active in a minute with probability 0.5, a clinic table 0.15, about 10
changes per active table-minute (N = 1,751: ~12,000 active windows a minute, ~2,000
changes/s, the province's daytime average). Every window reconciles to MATCH, as checked
at the end. After each minute's inputs the clock advances in judging ticks of 5 s, and
each tick does the timer's work (``Runtime.due``: ``Reconciler.due`` + the gauges).

Printed per N and source tree:

- fold: CPU µs per input and CPU seconds per minute of input folded (the agent's work);
- judge: CPU ms of a judging tick, mean / max over the run, against the 60 s window;
- memory: windows retained and RSS growth at 2 x retention and at the end (bounded = flat),
  and bytes per retained window (to extrapolate to the default 6 h retention);
- start-up: the replay the tree does at start, priced in CPU: before (the whole
  retention's inputs and results: count x (Avro decode + fold) per input, decode measured
  on the project's own schemas), after (restore from the state snapshot, measured, plus
  the tail of inputs since the last snapshot, ``--snapshot-every``). Fetching from Kafka is
  not included: the snapshot's bytes against the inputs' bytes say how that part compares.

    .venv/bin/python bench/reconcile_scale.py [--sizes 10,100,1751] [--minutes 90] \\
        [--retention-min 30] [--baseline-src /tmp/rec-base/src]

``--baseline-src`` measures that tree too (``git worktree add /tmp/rec-base <commit>``), in
a child process of its own on the same seeded inputs. CPU time, not wall time: on a shared
machine the figures are indicative, the ratios are the finding.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MINUTE = 60_000
T0 = 1_765_000_800_000  # a whole minute (2025-12-06T06:00Z)
HOSPITAL_TABLES = {"his": 18, "emr": 12, "lis": 10, "pacs": 8}
CLINIC_TABLES = {"his": 12, "lis": 6}
TICK_S = 5


def feeds_of(n: int) -> list[tuple[str, str, str, str, float]]:
    """(institution, system, database, table, activity) for N institutions."""
    hospitals = max(1, round(n * 338 / 1751))
    feeds = []
    for i in range(n):
        hospital = i < hospitals
        institution = f"12330000{'H' if hospital else 'C'}{i:09d}"
        for system, count in (HOSPITAL_TABLES if hospital else CLINIC_TABLES).items():
            for t in range(count):
                activity = 0.5 if hospital else 0.15
                feeds.append((institution, system, f"{system}db", f"public.t{t:02d}", activity))
    return feeds


class Inputs:
    """The decoded inputs of one minute: the windows of the minute before, as they arrive."""

    def __init__(self, feeds: list[tuple[str, str, str, str, float]], seed: int) -> None:
        self.feeds = feeds
        self.rng = random.Random(seed)  # noqa: S311 - seeded synthetic inputs

    def minute(self, window_start: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        out: list[tuple[str, dict[str, Any]]] = []
        for institution, system, database, table, activity in self.feeds:
            if rng.random() >= activity:
                continue
            changes = rng.randint(1, 19)
            versions = [rng.getrandbits(62) for _ in range(changes)]
            deletes = 1 if changes > 15 else 0
            out.append(
                (
                    "ops.source_counts",
                    {
                        "connector": f"{institution}-{system}",
                        "institution_id": institution,
                        "system": system,
                        "database": database,
                        "table": table,
                        "window_start_ms": window_start,
                        "window_ms": MINUTE,
                        "inserts": changes - deletes - changes // 3,
                        "updates": changes // 3,
                        "deletes": deletes,
                        "snapshot_reads": 0,
                        "row_count": None,
                        "row_count_position": None,
                        "emitted_ts_ms": window_start + MINUTE + 5_000,
                    },
                )
            )
            rejected: list[int] = []
            if rng.random() < changes / 2000:
                rejected = [versions.pop()]
                out.append(
                    (
                        "dlq.standardize",
                        self._letter(
                            institution, system, database, table, window_start, rejected[0]
                        ),
                    )
                )
            std = self._counts(
                institution, system, database, table, window_start, versions, deletes
            )
            out.append(("ops.standardized_counts", std))
            cut = len(versions) // 2 if len(versions) > 4 and rng.random() < 0.3 else len(versions)
            for part in (versions[:cut], versions[cut:]):
                if part:
                    flush = self._counts(
                        institution,
                        system,
                        database,
                        table,
                        window_start,
                        part,
                        deletes if part is versions[:cut] else 0,
                    )
                    out.append(("ops.landed_counts", flush))
                    if rng.random() < 0.01:
                        out.append(("ops.landed_counts", flush))  # a replayed flush
        return out

    @staticmethod
    def _counts(
        institution: str,
        system: str,
        database: str,
        table: str,
        start: int,
        versions: list[int],
        deletes: int,
    ) -> dict[str, Any]:
        return {
            "institution_id": institution,
            "system": system,
            "table": table,
            "entity": "encounter",
            "window_start_ms": start,
            "window_ms": MINUTE,
            "upserts": len(versions) - deletes,
            "deletes": deletes,
            "landed_ts_ms": start + MINUTE + 2_000,
            "database": database,
            "versions": versions,
            "repair_id": None,
        }

    @staticmethod
    def _letter(
        institution: str, system: str, database: str, table: str, start: int, version: int
    ) -> dict[str, Any]:
        return {
            "stage": "standardize",
            "reason": "code not in the value set",
            "error_type": "StandardizeError",
            "institution_id": institution,
            "table": f"{database}.{table}",
            "original_topic": f"cdc.raw.{system}",
            "original_partition": 0,
            "original_offset": version % 1_000_000,
            "original_key": b"{}",
            "original_value": b"",
            "failed_ts_ms": start + MINUTE,
            "commit_ts_ms": start + 1_000,
            "system": system,
            "version": version,
        }


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def decode_us(schemas: Path, samples: list[tuple[str, dict[str, Any]]]) -> tuple[float, int]:
    """CPU µs to Avro-decode one input (the project's schemas, fastavro) and its bytes."""
    import io

    from fastavro import parse_schema, schemaless_reader, schemaless_writer

    files = {
        "ops.source_counts": "ops/source_counts.avsc",
        "ops.standardized_counts": "ops/landed_counts.avsc",
        "ops.landed_counts": "ops/landed_counts.avsc",
        "dlq.standardize": "ops/dead_letter.avsc",
    }
    parsed = {
        t: parse_schema(json.loads((schemas / f).read_text()))
        for t, f in files.items()
        if (schemas / f).is_file()
    }
    encoded = []
    for topic, value in samples:
        if topic not in parsed:
            continue
        buffer = io.BytesIO()
        schemaless_writer(buffer, parsed[topic], {k: v for k, v in value.items()})
        encoded.append((parsed[topic], buffer.getvalue()))
    started = time.process_time()
    for schema, data in encoded:
        schemaless_reader(io.BytesIO(data), schema, None)
    spent = time.process_time() - started
    size = sum(len(d) for _, d in encoded)
    return spent / max(1, len(encoded)) * 1e6, size // max(1, len(encoded))


def measure(
    src: Path, n: int, minutes: int, retention_min: int, seed: int, snapshot_every_min: int
) -> None:
    sys.path.insert(0, str(src))
    from prometheus_client import CollectorRegistry

    from streamhub.core.clock import ManualClock
    from streamhub.reconcile.feed import Feed
    from streamhub.reconcile.metrics import ReconcileMetrics
    from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
    from streamhub.reconcile.result import Result, Status

    clock = ManualClock(T0 / 1000)
    settings = ReconcileSettings(grace_ms=120_000, retention_ms=retention_min * MINUTE)
    reconciler = Reconciler(settings, clock)
    metrics = ReconcileMetrics.create(CollectorRegistry())
    feed = Feed(reconciler, None, metrics, None)  # type: ignore[arg-type]
    inputs = Inputs(feeds_of(n), seed)
    rss0 = rss_bytes()
    fold_cpu = 0.0
    folded = 0
    ticks: list[float] = []
    statuses: dict[str, int] = {}
    rss_at: dict[str, int] = {}
    per_minute: list[int] = []
    sample: list[tuple[str, dict[str, Any]]] = []
    for m in range(1, minutes + 1):
        now = T0 + m * MINUTE
        clock.set(now / 1000)
        batch = inputs.minute(now - MINUTE)
        if len(sample) < 2000:
            sample += batch[: 2000 - len(sample)]
        per_minute.append(len(batch))
        started = time.process_time()
        for topic, value in batch:
            feed.apply(topic, value)
        fold_cpu += time.process_time() - started
        folded += len(batch)
        for _ in range(60 // TICK_S):
            clock.advance(TICK_S)
            started = time.process_time()
            results = reconciler.due()
            metrics.observe(reconciler, clock.time())
            ticks.append(time.process_time() - started)
            for result in results:
                statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
        if m == 2 * retention_min:
            rss_at["2x retention"] = rss_bytes() - rss0
    rss_at["end"] = rss_bytes() - rss0
    windows = len(reconciler.windows)
    state = reconciler.preview()
    not_match = sum(1 for r in state if r.status not in (Status.MATCH, Status.PENDING))
    per_input_us = fold_cpu / max(1, folded) * 1e6
    dec_us, input_bytes = decode_us(src.parent / "avro_schemas", sample)
    inputs_per_min = sum(per_minute[-10:]) / min(10, len(per_minute))
    replay_minutes = retention_min + 1 + 5  # retention + a window + REPLAY_SLACK
    replay_inputs = inputs_per_min * replay_minutes
    results_replayed = windows  # at least one published result per retained window
    full_replay_cpu = (
        replay_inputs * (per_input_us + dec_us) / 1e6 + results_replayed * dec_us * 2 / 1e6
    )
    out: dict[str, Any] = {
        "src": str(src),
        "n": n,
        "feeds": len(inputs.feeds),
        "minutes": minutes,
        "retention_min": retention_min,
        "inputs_per_min": inputs_per_min,
        "fold_us_per_input": per_input_us,
        "fold_s_per_minute": fold_cpu / minutes,
        "tick_ms_mean": sum(ticks) / len(ticks) * 1e3,
        "tick_ms_max": max(ticks) * 1e3,
        "windows": windows,
        "rss": rss_at,
        "bytes_per_window": rss_at["end"] / max(1, windows),
        "not_match": not_match,
        "statuses": statuses,
        "decode_us": dec_us,
        "input_bytes": input_bytes,
        "replay_inputs": replay_inputs,
        "full_replay_cpu_s": full_replay_cpu,
        "full_replay_bytes": replay_inputs * input_bytes,
    }
    try:
        from streamhub.reconcile import checkpoint  # the snapshot, when the tree has it
    except ImportError:
        checkpoint = None  # type: ignore[assignment]
    if checkpoint is not None:
        started = time.process_time()
        blobs = checkpoint.encode_blobs(reconciler, changed=None)
        encode_cpu = time.process_time() - started
        size = sum(len(b) for blob in blobs.values() for b in blob)
        started = time.process_time()
        restored = checkpoint.decode_blobs(blobs, settings, clock)
        restore_cpu = time.process_time() - started
        assert len(restored.windows) == windows
        tail_inputs = inputs_per_min * snapshot_every_min
        tail_results = inputs_per_min / 3 * snapshot_every_min
        out |= {
            "snapshot_bytes": size,
            "snapshot_encode_cpu_s": encode_cpu,
            "snapshot_restore_cpu_s": restore_cpu,
            "tail_cpu_s": tail_inputs * (per_input_us + dec_us) / 1e6
            + tail_results * dec_us * 2 / 1e6,
            "snapshot_every_min": snapshot_every_min,
        }
        # an incremental snapshot rewrites only the minutes that changed since the last one
        started = time.process_time()
        changed = {
            k.start_ms
            for k in reconciler.windows
            if k.start_ms >= T0 + (minutes - snapshot_every_min - 4) * MINUTE
        }
        part = checkpoint.encode_blobs(reconciler, changed=changed)
        out["snapshot_increment_cpu_s"] = time.process_time() - started
        out["snapshot_increment_bytes"] = sum(len(b) for blob in part.values() for b in blob)
    del Result
    print(json.dumps(out))


def run_child(src: Path, args: argparse.Namespace, n: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(src), "--n", str(n)]
    command += ["--minutes", str(args.minutes), "--retention-min", str(args.retention_min)]
    command += ["--seed", str(args.seed), "--snapshot-every", str(args.snapshot_every)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {src} at N={n} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def report(name: str, r: dict[str, Any]) -> None:
    print(
        f"  {name:<7} fold {r['fold_us_per_input']:6.1f} µs/input = {r['fold_s_per_minute']:6.2f} "
        f"CPU s per minute of input ({r['inputs_per_min']:,.0f} inputs/min)"
    )
    print(
        f"          judging tick {r['tick_ms_mean']:8.1f} ms mean, {r['tick_ms_max']:8.1f} ms max "
        f"(window 60,000 ms; a tick every {TICK_S} s)"
    )
    rss = r["rss"]
    print(
        f"          {r['windows']:,} windows retained; RSS growth "
        + ", ".join(f"{k} {mb(v)}" for k, v in rss.items())
        + f"; {r['bytes_per_window']:,.0f} B/window -> 6 h retention ~ "
        f"{mb(r['bytes_per_window'] * r['windows'] * 366 / (r['retention_min'] + 1))}"
    )
    print(
        f"          start-up replay: {r['replay_inputs']:,.0f} inputs "
        f"({mb(r['full_replay_bytes'])}) "
        f"~ {r['full_replay_cpu_s']:,.1f} CPU s (decode {r['decode_us']:.1f} + fold per input); "
        f"at 6 h retention ~ {r['full_replay_cpu_s'] * 366 / (r['retention_min'] + 6):,.0f} CPU s"
    )
    if "snapshot_bytes" in r:
        print(
            f"          snapshot {mb(r['snapshot_bytes'])}: restore "
            f"{r['snapshot_restore_cpu_s']:.1f} CPU s "
            f"+ tail of {r['snapshot_every_min']} min {r['tail_cpu_s']:.1f} CPU s; writing it "
            f"whole {r['snapshot_encode_cpu_s']:.1f} CPU s, an increment "
            f"{r['snapshot_increment_cpu_s']:.2f} CPU s ({mb(r['snapshot_increment_bytes'])})"
        )
    verdicts = ", ".join(f"{k}={v:,}" for k, v in sorted(r["statuses"].items()))
    print(
        f"          verdicts published: {verdicts}; windows not MATCH at the end: {r['not_match']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1751", help="institution counts")
    parser.add_argument("--minutes", type=int, default=90, help="minutes of input")
    parser.add_argument("--retention-min", type=int, default=30, help="reconciler retention")
    parser.add_argument("--snapshot-every", type=int, default=5, help="minutes between snapshots")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="source tree measured")
    parser.add_argument("--baseline-src", type=Path, help="a second tree, measured before it")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        measure(
            args.child, args.n, args.minutes, args.retention_min, args.seed, args.snapshot_every
        )
        return
    for n in (int(s) for s in args.sizes.split(",")):
        print(
            f"\n== N = {n:,} institutions, {args.minutes} min of input, "
            f"retention {args.retention_min} min"
        )
        if args.baseline_src is not None:
            report("before", run_child(args.baseline_src.resolve(), args, n))
        report("after" if args.baseline_src else "now", run_child(args.src.resolve(), args, n))
    print(f"\ncommand: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
