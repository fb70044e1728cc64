"""Which Faust transport for the standardizer: aiokafka (`kafka://`) or `confluent://`.

Produces N messages (~600 bytes, 3 partitions, key ``k<n>``, value starting with the key)
to a fresh topic, then, each in its own process and consumer group, copies them to a fresh
output topic, one output per input:

* ``bare``      confluent-kafka loop: consume(num_messages=500) → produce → flush → commit
                (the at-least-once form: offsets committed only after delivery);
* ``kafka``     Faust app, aiokafka driver, ``take_events(batch, within)`` + topic.send;
* ``confluent`` the same app on the confluent-kafka driver.

Prints msgs/s (first message received → last output delivered) and the ratio to the bare
loop, then checks what each run left behind: every output present, key/value pairs intact,
the group's committed offsets at the end of the input. A run that stalls is stopped after
``--timeout`` seconds and reported with how far it got.

    .venv/bin/python bench/faust_transport.py [--messages 200000] [--batch 1000]
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


# --- children: one per transport, each writes {"first":…, "done":…, "count":…} -----------


def _report(path: Path, **fields: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(fields))
    tmp.replace(path)


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
    first = 0.0
    done = 0
    while done < count:
        messages = consumer.consume(num_messages=500, timeout=1.0)
        if not messages:
            continue
        first = first or time.time()
        for m in messages:
            if m.error():
                raise RuntimeError(str(m.error()))
            producer.produce(sink, m.value(), m.key())
        if producer.flush(30):
            raise RuntimeError("outputs not delivered")
        consumer.commit(asynchronous=False)
        done += len(messages)
    _report(report, first=first, done=time.time(), count=done)
    consumer.close()


def run_faust(
    driver: str, source: str, sink: str, group: str, count: int, batch: int, report: Path
) -> None:
    import faust

    app = faust.App(
        group,
        broker=f"{driver}://{BOOTSTRAP}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
    )
    state: dict[str, float] = {"first": 0.0, "count": 0, "last_report": 0.0}

    @app.agent(app.topic(source))
    async def copy(stream: Any) -> None:
        async for events in stream.take_events(batch, within=0.2):
            state["first"] = state["first"] or time.time()
            # producer.send, as streamhub.standardize.app does: topic.send's channel layer
            # (serializers, sensors, attachments) halves the rate for raw bytes
            pending = [
                await app.producer.send(sink, e.message.key, e.message.value, None, None, None)
                for e in events
            ]
            await asyncio.gather(*pending)
            state["count"] += len(events)
            now = time.time()
            if state["count"] >= count or now - state["last_report"] > 1:
                state["last_report"] = now
                _report(report, first=state["first"], done=now, count=state["count"])
            if state["count"] >= count:
                # a clean stop: the worker's shutdown commits the last offsets
                os.kill(os.getpid(), signal.SIGTERM)

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


def run_one(mode: str, args: argparse.Namespace, source: str, admin: AdminClient) -> dict[str, Any]:
    sink = f"bench-faust-out-{mode}-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(sink, num_partitions=3, replication_factor=1)])[sink].result(30)
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
                    str(args.messages),
                    "--batch",
                    str(args.batch),
                    "--report",
                    str(report),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
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
    result.update(
        out_messages=seen,
        out_keys=keys,
        kv_mismatch=bad,
        committed_lag=_committed_lag(source, group),
    )
    if result.get("first") and result.get("count"):
        result["rate"] = result["count"] / max(result["done"] - result["first"], 1e-6)
    admin.delete_topics([sink])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--modes", default="bare,kafka,confluent")
    parser.add_argument("--child")
    parser.add_argument("--source")
    parser.add_argument("--sink")
    parser.add_argument("--group")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()

    if args.child == "bare":
        run_bare(args.source, args.sink, args.group, args.messages, args.report)
        return
    if args.child:
        run_faust(
            args.child, args.source, args.sink, args.group, args.messages, args.batch, args.report
        )
        return

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    source = f"bench-faust-in-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(source, num_partitions=3, replication_factor=1)])[source].result(
        30
    )
    try:
        t0 = time.time()
        produce_input(source, args.messages, args.size)
        print(
            f"input      {args.messages:,} × {args.size} B to 3 partitions in "
            f"{time.time() - t0:.1f}s",
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
        print(
            f"{r['mode']:<10} {r.get('count', 0):>8,} in  "
            f"{(rate or 0):>9,.0f} msg/s  ({ratio}; start {startup}; rc {r['rc']})  "
            f"out {r['out_messages']:,} msgs / {r['out_keys']:,} keys, "
            f"{r['kv_mismatch']:,} key/value mismatches, uncommitted {r['committed_lag']:,}",
            flush=True,
        )
        if r["rc"] != 0:
            print("           log: " + " | ".join(r["log_tail"]), flush=True)


if __name__ == "__main__":
    main()
