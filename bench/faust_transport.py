"""Which transport for the standardizer's raw → std hop: Faust (untuned, tuned) or a
confluent-kafka batch loop hosted in the Faust worker.

Produces N messages (~600 bytes, 3 partitions, key ``k<n>``, value starting with the key)
to a fresh topic, then, each in its own process and consumer group, copies them to a fresh
output topic, one output per input:

* ``bare``      confluent-kafka loop: consume(num_messages=500) → produce → flush → commit
                (the at-least-once form: offsets committed only after delivery);
* ``kafka``     Faust app, aiokafka driver, ``take_events(batch, within)`` + producer.send;
* ``tuned``     the same Faust app tuned: uvloop, a no-op Monitor, a larger stream buffer,
                ``broker_max_poll_records``, producer linger 5 ms (``BENCH_TUNED`` = JSON of
                Faust settings overrides them);
* ``hosted``    streamhub's own standardize app (``streamhub.standardize.app.build_app``,
                the hosted confluent-kafka batch loop) with a copying processor;
* ``handoff``   ``hosted`` with ``process`` on an executor thread that the loop waits for;
* ``agent``     streamhub's standardize app on its Faust-agent transport;
* ``confluent`` the Faust app on the confluent-kafka driver (does not start: see
                docs/decisions/standardize.md).

Prints msgs/s (first message received → last output delivered) and the ratio to the bare
loop, the CPU time per message of the child process (all its threads: on a shared machine
the steadier figure), and for the Faust-hosted modes the event loop's worst and p99 lag
(a 20 ms timer: is the worker's loop still free while the batches run?). Then checks what
each run left behind: every output present, key/value pairs intact, the group's committed
offsets at the end of the input. A run that stalls is stopped after ``--timeout`` seconds
and reported with how far it got.

    .venv/bin/python bench/faust_transport.py [--messages 200000] [--batch 1000] \
        [--modes bare,kafka,tuned,hosted] [--within-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = "127.0.0.1:39092"


def _payload(i: int, size: int) -> tuple[bytes, bytes]:
    key = b"k%09d" % i
    return key, key + b"|" + b"x" * (size - len(key) - 1)


def produce_input(topic: str, count: int, size: int) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 20, "acks": "all"})
    for i in range(count):
        key, value = _payload(i, size)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("input not fully delivered")


#: CPU work per message standing in for the standardizer's (--work-us; 0: a pure copy)
WORK_US = float(os.environ.get("BENCH_WORK_US", "0"))


def _work(messages: int) -> None:
    """Spin the CPU for ``messages`` × WORK_US µs of this thread's CPU time (not wall time:
    a shared machine would take it away), holding the GIL as Python code does."""
    if WORK_US:
        until = time.thread_time() + messages * WORK_US / 1e6
        while time.thread_time() < until:
            pass


# --- children: one per transport, each writes {"first":…, "done":…, "count":…} -----------


def _report(path: Path, **fields: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(fields))
    tmp.replace(path)


class _Progress:
    """The child's figures: first/last time, count, CPU seconds at both, the loop's lag."""

    def __init__(self, count: int, report: Path) -> None:
        self.target, self.report = count, report
        self.first = self.cpu_first = 0.0
        self.count = 0
        self.lags: list[float] = []
        self.last_report = 0.0

    def started(self) -> None:
        if not self.first:
            self.first, self.cpu_first = time.time(), time.process_time()

    def reached(self, count: int) -> bool:
        """Record ``count`` delivered; write the report (each second and at the end)."""
        self.count = count
        now = time.time()
        finished = count >= self.target
        if finished or now - self.last_report > 1:
            self.last_report = now
            lags = sorted(self.lags) or [0.0]
            _report(
                self.report,
                first=self.first,
                done=now,
                count=count,
                cpu_s=time.process_time() - self.cpu_first,
                lag_max_ms=lags[-1] * 1000,
                lag_p99_ms=lags[int(len(lags) * 0.99)] * 1000,
            )
        return finished

    async def watch_loop(self, delivered: Any = None) -> None:
        """Every 20 ms: how late the loop woke us (its lag); with ``delivered`` (a callable
        giving the delivered count), stop the worker once everything is delivered."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.02)
            if self.first:  # while the batches run
                self.lags.append(max(0.0, loop.time() - before - 0.02))
            if delivered is not None:
                n = int(delivered())
                if n:
                    self.started()
                if n and self.reached(n):
                    os.kill(os.getpid(), signal.SIGTERM)
                    return


def run_bare(source: str, sink: str, group: str, count: int, report: Path) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5, "acks": "all"})
    consumer.subscribe([source])
    progress = _Progress(count, report)
    done = 0
    while done < count:
        messages = consumer.consume(num_messages=500, timeout=1.0)
        if not messages:
            continue
        progress.started()
        _work(len(messages))
        for m in messages:
            if m.error():
                raise RuntimeError(str(m.error()))
            producer.produce(sink, m.value(), m.key())
        if producer.flush(30):
            raise RuntimeError("outputs not delivered")
        consumer.commit(asynchronous=False)
        done += len(messages)
    progress.reached(done)
    consumer.close()


#: what ``tuned`` changes (BENCH_TUNED, a JSON object of Faust settings, overrides it)
TUNED = {
    "stream_buffer_maxsize": 32_768,
    "broker_max_poll_records": 2_000,
    "producer_linger": 0.005,
    "producer_max_batch_size": 262_144,
}


def _noop_monitor() -> type:
    from faust.sensors import Monitor

    class NoopMonitor(Monitor):  # type: ignore[misc]
        """Faust's Monitor builds a dict and updates counters per event: skip it all."""

        def on_message_in(self, *args: Any) -> None:
            return None

        def on_stream_event_in(self, *args: Any) -> None:
            return None

        def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
            return None

        def on_message_out(self, *args: Any) -> None:
            return None

        def on_send_initiated(self, *args: Any, **kwargs: Any) -> None:
            return None

        def on_send_completed(self, *args: Any) -> None:
            return None

        def on_commit_initiated(self, *args: Any) -> None:
            return None

        def on_commit_completed(self, *args: Any) -> None:
            return None

        def on_tp_commit(self, *args: Any) -> None:
            return None

    return NoopMonitor


def run_faust(
    kind: str,
    source: str,
    sink: str,
    group: str,
    count: int,
    batch: int,
    within_s: float,
    report: Path,
) -> None:
    import faust

    driver = "confluent" if kind == "confluent" else "kafka"
    tuning: dict[str, Any] = {}
    if kind == "tuned":
        try:
            import mode.loop

            mode.loop.use("uvloop")
        except ImportError:  # not a streamhub dependency: `pip install uvloop` for this mode
            print("tuned: uvloop is not installed, running on asyncio's loop", file=sys.stderr)
        tuning = {**TUNED, "Monitor": _noop_monitor()}
        tuning.update(json.loads(os.environ.get("BENCH_TUNED", "{}")))
    app = faust.App(
        group,
        broker=f"{driver}://{BOOTSTRAP}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        # Faust's app directory goes under datadir, by default the working directory
        datadir=tempfile.mkdtemp(prefix="bench-faust-"),
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        **tuning,
    )
    progress = _Progress(count, report)

    @app.agent(app.topic(source))
    async def copy(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within_s):
            progress.started()
            _work(len(events))
            # producer.send, as streamhub.standardize.app does: topic.send's channel layer
            # (serializers, sensors, attachments) halves the rate for raw bytes
            pending = [
                await app.producer.send(sink, e.message.key, e.message.value, None, None, None)
                for e in events
            ]
            await asyncio.gather(*pending)
            if progress.reached(progress.count + len(events)):
                # a clean stop: the worker's shutdown commits the last offsets
                os.kill(os.getpid(), signal.SIGTERM)

    @app.task
    async def watch() -> None:
        await progress.watch_loop()

    level = os.environ.get("BENCH_LOGLEVEL", "WARNING")
    faust.Worker(app, loglevel=level, redirect_stdouts=False).execute_from_commandline()


class _Copy:
    """The standardizer's place in streamhub's app: one output per input, same key/value."""

    def __init__(self, sink: str) -> None:
        self.sink = sink

    def process(self, batch: Any) -> list[Any]:
        from streamhub.standardize.messages import OutMessage

        _work(len(batch))
        return [OutMessage(self.sink, m.key, m.value or b"") for m in batch]


class _HandedOff:
    """``process`` on a one-thread executor, the loop's thread waiting for it: what running
    the standardizer off the consumer thread would cost (``handoff`` mode)."""

    def __init__(self, inner: _Copy) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.inner = inner
        self.executor = ThreadPoolExecutor(max_workers=1)

    def process(self, batch: Any) -> list[Any]:
        return self.executor.submit(self.inner.process, batch).result()


def run_streamhub(
    transport: str,
    source: str,
    sink: str,
    group: str,
    count: int,
    batch: int,
    within_s: float,
    report: Path,
) -> None:
    """streamhub's standardize app as `streamhub standardize` builds it, with a copying
    processor; progress is read from its own metrics (outputs counted once delivered)."""
    import faust
    from prometheus_client import CollectorRegistry

    from streamhub.config import load_settings
    from streamhub.standardize.app import build_app
    from streamhub.standardize.metrics import StandardizeMetrics

    settings = load_settings(kafka_bootstrap=BOOTSTRAP, standardize_group=group)
    registry = CollectorRegistry()
    processor: Any = _HandedOff(_Copy(sink)) if transport == "handoff" else _Copy(sink)
    app = build_app(
        settings,
        processor,
        source_topics=[source],
        batch_size=batch,
        within_s=within_s,
        metrics=StandardizeMetrics.create(registry),
        transport="agent" if transport == "agent" else "hosted",
    )
    progress = _Progress(count, report)
    labels = {"topic": sink, "direction": "out"}

    @app.task
    async def watch() -> None:
        await progress.watch_loop(
            lambda: registry.get_sample_value("streamhub_standardize_messages_total", labels) or 0
        )

    level = os.environ.get("BENCH_LOGLEVEL", "WARNING")
    faust.Worker(app, loglevel=level, redirect_stdouts=False).execute_from_commandline()


# --- the parent --------------------------------------------------------------------------


def _count_and_check(topic: str, expected: int) -> tuple[int, int, int]:
    """(messages, distinct keys, key/value mismatches) on the output topic."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"bench-verify-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in meta.partitions}
    total_end = sum(ends.values())
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    seen = 0
    keys: set[bytes] = set()
    bad = 0
    while seen < total_end:
        messages = consumer.consume(num_messages=5000, timeout=5.0)
        if not messages:
            break
        for m in messages:
            seen += 1
            key, value = m.key() or b"", m.value() or b""
            keys.add(key)
            if not value.startswith(key + b"|"):
                bad += 1
    consumer.close()
    return seen, len(keys), bad


def _committed_lag(source: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    meta = consumer.list_topics(source, timeout=10).topics[source]
    tps = [TopicPartition(source, p) for p in meta.partitions]
    committed = consumer.committed(tps, timeout=10)
    lag = 0
    for tp in committed:
        high = consumer.get_watermark_offsets(TopicPartition(source, tp.partition))[1]
        lag += high - max(tp.offset, 0)
    consumer.close()
    return lag


#: --rate: both topics time-stamp on append, so out - in is the hop's added latency
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


def _timestamps(topic: str) -> dict[bytes, int]:
    """key → broker append time (ms) of every message on ``topic`` (the last per key)."""
    consumer = Consumer(
        {"bootstrap.servers": BOOTSTRAP, "group.id": f"bench-ts-{uuid.uuid4().hex[:8]}"}
    )
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = sum(consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in meta.partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    times: dict[bytes, int] = {}
    seen = 0
    while seen < ends:
        messages = consumer.consume(num_messages=5000, timeout=5.0)
        if not messages:
            break
        for m in messages:
            seen += 1
            times[m.key() or b""] = m.timestamp()[1]
    consumer.close()
    return times


def _feed_at_rate(source: str, sink: str, count: int, rate: float, size: int) -> None:
    """One warm-up message, awaited on ``sink`` (the child has its partitions), then
    ``count`` messages paced at ``rate`` per second."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 0, "acks": "all"})
    producer.produce(source, b"warmup|", b"warmup")
    producer.flush(10)
    watcher = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"bench-w-{uuid.uuid4()}"})
    watcher.assign([TopicPartition(sink, p, 0) for p in range(3)])
    deadline = time.monotonic() + 120
    while not watcher.consume(num_messages=1, timeout=0.5):
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up message never came out")
    watcher.close()
    began = time.monotonic()
    for i in range(count):
        # paced in steps of 5 ms: a burst every step, as a source's commits would come
        due = began + i / rate
        if due - time.monotonic() > 0.005:
            time.sleep(due - time.monotonic())
        key, value = _payload(i, size)
        producer.produce(source, value, key)
        producer.poll(0)
    producer.flush(30)


def _latency(source: str, sink: str) -> dict[str, float]:
    """p50/p99/max of (output append time - input append time), warm-up excluded."""
    inputs, outputs = _timestamps(source), _timestamps(sink)
    lat = sorted(t - inputs[k] for k, t in outputs.items() if k in inputs and k != b"warmup")
    if not lat:
        return {}
    return {
        "lat_p50": lat[len(lat) // 2],
        "lat_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "lat_max": lat[-1],
    }


def run_one(mode: str, args: argparse.Namespace, source: str, admin: AdminClient) -> dict[str, Any]:
    sink = f"bench-faust-out-{mode}-{uuid.uuid4().hex[:8]}"
    paced = bool(args.rate)
    config = APPEND_TIME if paced else {}
    new = [NewTopic(sink, num_partitions=3, replication_factor=1, config=config)]
    if paced:  # each mode its own input, fed while it runs
        source = f"bench-faust-in-{mode}-{uuid.uuid4().hex[:8]}"
        new.append(NewTopic(source, num_partitions=3, replication_factor=1, config=config))
    for future in admin.create_topics(new).values():
        future.result(30)
    group = f"bench-faust-{mode}-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        log = Path(tmp) / "child.log"
        started = time.time()
        with log.open("w") as log_file:
            child = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--source",
                    source,
                    "--sink",
                    sink,
                    "--group",
                    group,
                    "--messages",
                    str(args.messages + (1 if paced else 0)),
                    "--batch",
                    str(args.batch),
                    "--within-ms",
                    str(args.within_ms),
                    "--report",
                    str(report),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            if paced:
                _feed_at_rate(source, sink, args.messages, args.rate, args.size)
            try:
                rc: int | None = child.wait(args.timeout)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                rc = None
        result: dict[str, Any] = {"mode": mode, "rc": rc}
        result.update(json.loads(report.read_text()) if report.exists() else {"count": 0})
        result["startup_s"] = result["first"] - started if result.get("first") else None
        tail = log.read_text().strip().splitlines()[-4:]
        result["log_tail"] = tail
    seen, keys, bad = _count_and_check(sink, args.messages)
    if paced:
        result.update(_latency(source, sink))
    result.update(
        out_messages=seen,
        out_keys=keys,
        kv_mismatch=bad,
        committed_lag=_committed_lag(source, group),
    )
    if result.get("first") and result.get("count"):
        result["rate"] = result["count"] / max(result["done"] - result["first"], 1e-6)
        result["cpu_us"] = result["cpu_s"] / result["count"] * 1e6
    admin.delete_topics([sink, source] if paced else [sink])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--within-ms", type=float, default=200)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="feed each mode live at this many msg/s and print the hop's added latency",
    )
    parser.add_argument(
        "--work-us", type=float, default=0.0, help="CPU work per message (the standardizer's)"
    )
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--modes", default="bare,kafka,tuned,hosted")
    parser.add_argument("--child")
    parser.add_argument("--source")
    parser.add_argument("--sink")
    parser.add_argument("--group")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()

    if args.child == "bare":
        run_bare(args.source, args.sink, args.group, args.messages, args.report)
        return
    within_s = args.within_ms / 1000
    if args.child in ("hosted", "handoff", "agent"):
        run_streamhub(
            args.child,
            args.source,
            args.sink,
            args.group,
            args.messages,
            args.batch,
            within_s,
            args.report,
        )
        return
    if args.child:
        run_faust(
            args.child,
            args.source,
            args.sink,
            args.group,
            args.messages,
            args.batch,
            within_s,
            args.report,
        )
        return

    os.environ["BENCH_WORK_US"] = str(args.work_us)  # the children read it
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    source = f"bench-faust-in-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(source, num_partitions=3, replication_factor=1)])[source].result(
        30
    )
    try:
        t0 = time.time()
        if not args.rate:
            produce_input(source, args.messages, args.size)
        print(" ".join(["$", Path(sys.executable).name, *sys.argv]), flush=True)
        fed = f"fed live at {args.rate:,g}/s" if args.rate else f"in {time.time() - t0:.1f}s"
        print(
            f"input      {args.messages:,} × {args.size} B to 3 partitions {fed}; "
            f"batch {args.batch}, within {args.within_ms:g} ms, "
            f"work {args.work_us:g} µs/msg; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        results = [run_one(mode, args, source, admin) for mode in args.modes.split(",")]
    finally:
        admin.delete_topics([source])
    base = next((r.get("rate") for r in results if r["mode"] == "bare"), None)
    for r in results:
        rate = r.get("rate")
        ratio = f"{rate / base:.2f} of bare" if rate and base else "-"
        startup = f"{r['startup_s']:.1f}s" if r.get("startup_s") else "-"
        cpu = f"{r['cpu_us']:.0f} µs CPU/msg" if r.get("cpu_us") else "- CPU"
        lag = (
            f"loop lag p99 {r['lag_p99_ms']:.0f} / max {r['lag_max_ms']:.0f} ms"
            if r["mode"] != "bare" and "lag_max_ms" in r
            else ""
        )
        latency = (
            f"latency p50 {r['lat_p50']:,} / p99 {r['lat_p99']:,} / max {r['lat_max']:,} ms  "
            if "lat_p99" in r
            else ""
        )
        print(
            f"{r['mode']:<10} {r.get('count', 0):>8,} in  {latency}"
            f"{(rate or 0):>9,.0f} msg/s  ({ratio}; {cpu}; start {startup}; rc {r['rc']})  "
            f"{lag}  "
            f"out {r['out_messages']:,} msgs / {r['out_keys']:,} keys, "
            f"{r['kv_mismatch']:,} key/value mismatches, uncommitted {r['committed_lag']:,}",
            flush=True,
        )
        if r["rc"] != 0:
            print("           log: " + " | ".join(r["log_tail"]), flush=True)


if __name__ == "__main__":
    main()
