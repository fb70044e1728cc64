"""The standardize Faust app against the real local Kafka: batching, delivery before commit,
retry of a failing batch, and kill -9 mid-stream (at-least-once, bounded restart)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streamhub.config import Settings
from streamhub.kafka.faust_app import EXIT_BATCH_FAILED

PROJECT = Path(__file__).resolve().parents[3]


def produce(settings: Settings, topic: str, keys: range, prefix: str = "k") -> set[bytes]:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    sent = set()
    for i in keys:
        key = f"{prefix}{i:06d}".encode()
        producer.produce(topic, key + b"|" + b"v" * 200, key)
        sent.add(key)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return sent


class Output:
    """Reads an output topic from the beginning, remembering every key and how often."""

    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": "unused",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.counts: dict[bytes, int] = {}

    def poll(self, seconds: float) -> None:
        for m in self.consumer.consume(num_messages=5000, timeout=seconds):
            assert m.error() is None, m.error()
            key = m.key() or b""
            assert (m.value() or b"").startswith(key + b"|"), "value does not match key"
            self.counts[key] = self.counts.get(key, 0) + 1

    def wait_for(self, keys: set[bytes], timeout: float) -> set[bytes]:
        """Poll until every key was seen; returns those still missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not keys <= self.counts.keys():
            self.poll(0.5)
        return keys - self.counts.keys()

    def wait_count(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.counts) < n:
            self.poll(0.2)

    def close(self) -> None:
        self.consumer.close()


class Worker:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = (tmp / f"worker-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.standardize.runner", *args],
            cwd=PROJECT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*args: str) -> Worker:
        worker = Worker(tmp_path, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()


def committed_lag(settings: Settings, group: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        committed = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, tp.partition))[1]
            - max(tp.offset, 0)
            for tp in committed
        )
    finally:
        consumer.close()


def test_all_inputs_arrive_in_batches_and_stop_commits(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    workers: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    source, sink = new_topic("std-in", partitions=3), new_topic("std-out", partitions=3)
    group = unique("std-app")
    sent = produce(settings, source, range(3000))
    batches = tmp_path / "batches"
    worker = workers(
        "--source", source, "--sink", sink, "--group", group, "--batches-file", str(batches)
    )
    out = Output(settings, sink, 3)
    try:
        missing = out.wait_for(sent, timeout=30)
        assert not missing, f"{len(missing)} inputs not standardized\n{worker.output()}"
    finally:
        out.close()
    sizes = [int(line) for line in batches.read_text().split()]
    assert sum(sizes) >= 3000
    assert max(sizes) > 1, "a backlog must be taken in batches"
    assert worker.stop() == 0, worker.output()
    assert committed_lag(settings, group, source, 3) == 0, "a clean stop commits what was sent"


def test_failing_batch_is_retried_and_nothing_is_lost(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    workers: Callable[..., Worker],
) -> None:
    source, sink = new_topic("std-in", partitions=1), new_topic("std-out", partitions=1)
    group = unique("std-app")
    sent = produce(settings, source, range(2000))
    # fails on every attempt: the worker must exit without committing that batch
    failing = workers(
        "--source",
        source,
        "--sink",
        sink,
        "--group",
        group,
        "--fail-key",
        "k001000",
        "--fail-times",
        "99",
        "--attempts",
        "2",
    )
    assert failing.proc.wait(40) == EXIT_BATCH_FAILED, failing.output()
    assert "BatchFailedError" in failing.output() or "failed 2 times" in failing.output()
    assert committed_lag(settings, group, source, 1) > 1000 - 1, "failed batch was committed"
    # fails twice, then succeeds within the retries: everything arrives, the worker stays up
    retrying = workers(
        "--source",
        source,
        "--sink",
        sink,
        "--group",
        group,
        "--fail-key",
        "k001500",
        "--fail-times",
        "2",
        "--attempts",
        "5",
    )
    out = Output(settings, sink, 1)
    try:
        missing = out.wait_for(sent, timeout=30)
    finally:
        out.close()
    assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:3]}\n{retrying.output()}"
    assert "attempt 2/5" in retrying.output()
    assert retrying.stop() == 0


def test_kill_9_mid_stream_loses_nothing_and_resumes_quickly(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    workers: Callable[..., Worker],
) -> None:
    source, sink = new_topic("std-in", partitions=3), new_topic("std-out", partitions=3)
    group = unique("std-app")
    sent = produce(settings, source, range(6000))
    args = ("--source", source, "--sink", sink, "--group", group, "--batch-size", "200")
    first = workers(*args)
    out = Output(settings, sink, 3)
    try:
        out.wait_count(1500, timeout=30)
        assert len(out.counts) >= 1500, first.output()
        first.proc.kill()
        first.proc.wait()
        seen_at_kill = len(out.counts)
        sent |= produce(settings, source, range(6000, 8000))
        restarted = time.monotonic()
        second = workers(*args)
        out.wait_count(seen_at_kill + 1, timeout=30)
        resumed_after = time.monotonic() - restarted
        missing = out.wait_for(sent, timeout=30)
    finally:
        out.close()
    assert not missing, f"{len(missing)} lost after kill -9\n{second.output()}"
    # the broker frees the dead member's partitions after broker_session_timeout (10 s)
    assert resumed_after < 20, f"resumed only after {resumed_after:.1f}s"
    duplicates = sum(n - 1 for n in out.counts.values())
    print(f"kill -9: resumed after {resumed_after:.1f}s, {duplicates} duplicates")
    assert second.stop() == 0
