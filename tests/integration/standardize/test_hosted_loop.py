"""The standardize worker's hosted confluent-kafka loop against the real local Kafka: the
commit line is exactly the delivery line after a batch fails for good, a restart re-reads
from there, and two workers in one group share, hand over and take over partitions
(join, clean stop, kill -9) without losing an input. The agent transport still runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from streamhub.config import Settings
from streamhub.kafka.faust_app import EXIT_BATCH_FAILED

from .test_faust_app import Output, Worker, committed_lag, produce


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def make(*args: str) -> Worker:
        worker = Worker(tmp_path, *args)
        started.append(worker)
        return worker

    yield make
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()


def committed(settings: Settings, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return max(tp.offset, 0)
    finally:
        consumer.close()


def batches_in(path: Path) -> int:
    return sum(int(n) for n in path.read_text().split()) if path.exists() else 0


def test_a_batch_failing_for_good_leaves_the_commit_at_the_last_delivered_input(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    start: Callable[..., Worker],
) -> None:
    source, sink = new_topic("std-in", partitions=1), new_topic("std-out", partitions=1)
    group = unique("std-hosted")
    sent = produce(settings, source, range(3000))
    base = ("--source", source, "--sink", sink, "--group", group, "--batch-size", "250")
    failing = start(*base, "--fail-key", "k001600", "--fail-times", "99", "--attempts", "3")
    assert failing.proc.wait(60) == EXIT_BATCH_FAILED, failing.output()
    assert "failed 3 times" in failing.output()

    line = committed(settings, group, source)
    out = Output(settings, sink, 1)
    try:
        out.poll(2.0)
        out.poll(0.5)
        # everything before the commit line was delivered, nothing of the failed batch (or
        # after it) was: the line is exactly where delivery stopped
        assert 0 < line <= 1600
        assert set(out.counts) == {b"k%06d" % i for i in range(line)}
        restarted = start(*base)
        missing = out.wait_for(sent, timeout=40)
    finally:
        out.close()
    assert not missing, f"{len(missing)} never re-read\n{restarted.output()}"
    assert restarted.stop() == 0, restarted.output()
    assert committed_lag(settings, group, source, 1) == 0


def test_two_workers_share_hand_over_and_take_over_partitions_without_loss(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    start: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    source, sink = new_topic("std-in", partitions=6), new_topic("std-out", partitions=6)
    group = unique("std-hosted")
    files = {name: tmp_path / f"batches-{name}" for name in ("a", "b", "c")}

    def worker(name: str) -> Worker:
        return start(
            "--source", source, "--sink", sink, "--group", group,
            "--batch-size", "100", "--batches-file", str(files[name]),
        )  # fmt: skip

    sent = produce(settings, source, range(0, 4000))
    a = worker("a")
    out = Output(settings, sink, 6)
    try:
        out.wait_count(500, timeout=30)
        # b joins: a rebalance while a is busy
        b = worker("b")
        n = 4000

        def feed_until_busy(name: str, joined: Worker) -> None:
            """Keep inputs coming until the worker that joined has handled a batch."""
            nonlocal n, sent
            deadline = time.monotonic() + 40
            while batches_in(files[name]) == 0:
                assert time.monotonic() < deadline, f"{name} got no partitions\n{joined.output()}"
                sent |= produce(settings, source, range(n, n + 200))
                n += 200
                out.poll(0.3)

        feed_until_busy("b", b)
        # a leaves cleanly: its partitions move to b (another rebalance)
        assert a.stop() == 0, a.output()
        sent |= produce(settings, source, range(n, n + 2000))
        n += 2000
        missing = out.wait_for(sent, timeout=40)
        assert not missing, f"{len(missing)} lost across join/leave\n{b.output()}"

        # c joins, then b is killed with -9: c takes b's partitions once the session expires
        c = worker("c")
        feed_until_busy("c", c)
        sent |= produce(settings, source, range(n, n + 1000))
        n += 1000
        b.proc.kill()
        b.proc.wait()
        sent |= produce(settings, source, range(n, n + 2000))
        missing = out.wait_for(sent, timeout=60)
    finally:
        out.close()
    assert not missing, f"{len(missing)} lost after kill -9 of b\n{c.output()}"
    assert c.stop() == 0, c.output()
    assert committed_lag(settings, group, source, 6) == 0
    duplicates = sum(k - 1 for k in out.counts.values())
    print(f"two workers: {len(sent)} inputs, {duplicates} duplicates")


def test_the_agent_transport_still_carries_every_input_and_commits_on_stop(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    start: Callable[..., Worker],
) -> None:
    source, sink = new_topic("std-in", partitions=3), new_topic("std-out", partitions=3)
    group = unique("std-agent")
    sent = produce(settings, source, range(2000))
    worker = start("--source", source, "--sink", sink, "--group", group, "--transport", "agent")
    out = Output(settings, sink, 3)
    try:
        missing = out.wait_for(sent, timeout=40)
    finally:
        out.close()
    assert not missing, f"{len(missing)} inputs not standardized\n{worker.output()}"
    assert worker.stop() == 0, worker.output()
    assert committed_lag(settings, group, source, 3) == 0
