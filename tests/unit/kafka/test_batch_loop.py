"""The confluent-kafka batch loop's commit rule, without a broker: offsets are committed only
after every output is acknowledged, a failing batch is retried in place (on the injected
clock) and then given up without a commit, a refused commit is not fatal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from streamhub.core.clock import ManualClock
from streamhub.core.retry import RetryPolicy
from streamhub.kafka.batch_loop import BatchLoop, BatchLoopOptions, batch_offsets
from streamhub.kafka.errors import BatchFailedError, KafkaIOError


@dataclass(frozen=True)
class Out:
    topic: str
    key: bytes | None
    value: bytes


def message(topic: str, partition: int, offset: int, error: KafkaError | None = None) -> Message:
    if error is not None:
        return Message(topic=topic, partition=partition, error=error)
    return Message(
        topic=topic,
        partition=partition,
        offset=offset,
        key=b"k%d" % offset,
        value=b"v%d" % offset,
        timestamp=(1, 1_000 + offset),
    )


class FakeConsumer:
    """Hands out the given batches, then empty ones; records what happened, in order."""

    def __init__(self, events: list[Any], batches: list[list[Message]]) -> None:
        self.events = events
        self.batches = list(batches)
        self.refuse: Exception | None = None
        self.stop_when_empty: threading.Event | None = None

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.events.append(("subscribe", tuple(topics), tuple(sorted(callbacks))))

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self.events.append(("consume", num_messages, timeout))
        if self.batches:
            return self.batches.pop(0)
        if self.stop_when_empty is not None:
            self.stop_when_empty.set()
        return []

    def commit(self, **kwargs: Any) -> list[TopicPartition]:
        offsets = [(tp.topic, tp.partition, tp.offset) for tp in kwargs["offsets"]]
        self.events.append(("commit", sorted(offsets), kwargs["asynchronous"]))
        if self.refuse is not None:
            raise self.refuse
        return list(kwargs["offsets"])

    def close(self) -> None:
        self.events.append(("close",))


class FakeProducer:
    """Acknowledges on flush; ``fail_next`` deliveries are reported failed."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.pending: list[tuple[Callable[..., None], Message]] = []
        self.fail_next = 0

    def produce(self, topic: str, value: Any = None, key: Any = None, **kw: Any) -> None:
        self.events.append(("produce", topic, key))
        self.pending.append((kw["on_delivery"], Message(topic=topic, key=key, value=value)))

    def poll(self, timeout: float = -1) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        self.events.append(("flush",))
        for callback, msg in self.pending:
            error = None
            if self.fail_next:
                self.fail_next -= 1
                error = KafkaError(KafkaError._MSG_TIMED_OUT, "timed out")
            callback(error, msg)
        self.pending = []
        return 0


class GaveUpError(Exception):
    pass


def give_up(error: Exception, cause: BaseException | None) -> NoReturn:
    assert isinstance(error, BatchFailedError)
    raise GaveUpError(str(error)) from cause


def loop_with(
    batches: list[list[Message]],
    handle: Callable[[list[Message]], Sequence[Out]],
    *,
    attempts: int = 4,
) -> tuple[BatchLoop, FakeConsumer, FakeProducer, list[Any], ManualClock, list[Any]]:
    events: list[Any] = []
    done: list[Any] = []
    consumer, producer, clock = FakeConsumer(events, batches), FakeProducer(events), ManualClock()
    loop = BatchLoop(
        BatchLoopOptions("127.0.0.1:1", "g", ("raw.a", "raw.b"), max_messages=50, within_s=0.1),
        handle,
        retry=RetryPolicy(attempts=attempts, first_s=0.5, max_s=30.0),
        on_batch=lambda msgs, outs, seconds: done.append((len(msgs), len(outs), seconds)),
        give_up=give_up,
        clock=clock,
        consumer=consumer,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
    )
    return loop, consumer, producer, events, clock, done


def copy(batch: list[Message]) -> list[Out]:
    return [Out("std.x", m.key(), m.value() or b"") for m in batch]


def test_offsets_are_committed_synchronously_after_every_output_is_acknowledged() -> None:
    batch = [message("raw.a", 0, 7), message("raw.b", 2, 40), message("raw.a", 0, 8)]
    loop, _, _, events, _, done = loop_with([batch], copy)
    loop.run_batch(loop.take())

    kinds = [e[0] for e in events]
    assert kinds == ["consume", "produce", "produce", "produce", "flush", "commit"]
    assert events[0] == ("consume", 50, 0.1)  # up to max_messages, within within_s
    # one past the last message of each partition, synchronous
    assert events[-1] == ("commit", [("raw.a", 0, 9), ("raw.b", 2, 41)], False)
    assert done == [(3, 3, 0.0)]


def test_a_failing_handle_is_retried_in_place_then_committed_once() -> None:
    calls = []

    def flaky(batch: list[Message]) -> list[Out]:
        calls.append(len(batch))
        if len(calls) <= 2:
            raise ConnectionError("registry unreachable")
        return copy(batch)

    loop, _, _, events, clock, done = loop_with([[message("raw.a", 0, 1)]], flaky)
    loop.run_batch(loop.take())
    assert calls == [1, 1, 1]
    assert clock.sleeps == [0.5, 1.0]
    assert [e[0] for e in events].count("commit") == 1
    assert done == [(1, 1, 1.5)]


def test_a_failed_delivery_retries_the_batch_and_commits_only_after_all_are_delivered() -> None:
    loop, _, producer, events, clock, _ = loop_with([[message("raw.a", 0, 1)] * 1], copy)
    producer.fail_next = 1
    loop.run_batch(loop.take())
    kinds = [e[0] for e in events]
    # produce → flush (failed) → produce again → flush → commit
    assert kinds == ["consume", "produce", "flush", "produce", "flush", "commit"]
    assert clock.sleeps == [0.5]


def test_a_batch_that_keeps_failing_is_given_up_without_a_commit() -> None:
    def broken(batch: list[Message]) -> list[Out]:
        raise ConnectionError("registry unreachable")

    loop, _, _, events, _, done = loop_with([[message("raw.a", 0, 5)]], broken, attempts=3)
    with pytest.raises(GaveUpError, match=r"raw.a\[0\]@5 failed 3 times") as info:
        loop.run_batch(loop.take())
    assert "commit" not in [e[0] for e in events]
    assert done == []
    assert isinstance(info.value.__cause__, ConnectionError)
    assert "exiting without committing it" in str(info.value)


def test_a_refused_commit_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    loop, consumer, _, _, _, done = loop_with([[message("raw.a", 0, 3)]], copy)
    consumer.refuse = KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS, "rebalancing"))
    loop.run_batch(loop.take())
    assert done == [(1, 1, 0.0)]
    assert "not committed" in caplog.text and "re-read" in caplog.text


def test_error_messages_are_left_out_and_a_fatal_one_stops_the_loop() -> None:
    transient = KafkaError(KafkaError._TRANSPORT, "broker down")
    batch = [message("raw.a", 0, 1), message("raw.a", 0, 0, error=transient)]
    loop, *_ = loop_with([batch], copy)
    assert [m.offset() for m in loop.take()] == [1]

    fatal = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    loop, *_ = loop_with([[message("raw.a", 0, 0, error=fatal)]], copy)
    with pytest.raises(KafkaIOError, match="consumer of group g failed"):
        loop.take()


def test_run_processes_until_stopped_then_leaves_the_group() -> None:
    loop, consumer, _, events, _, done = loop_with(
        [[message("raw.a", 0, 0)], [message("raw.b", 1, 0)]], copy
    )
    stop = threading.Event()
    consumer.stop_when_empty = stop
    loop.run(stop)
    assert events[0] == (
        "subscribe",
        ("raw.a", "raw.b"),
        ("on_assign", "on_lost", "on_revoke"),
    )
    assert [e[0] for e in events].count("commit") == 2
    assert events[-1] == ("flush",)  # after close: nothing left unacknowledged
    assert ("close",) in events
    assert len(done) == 2


def test_batch_offsets_take_the_highest_offset_per_partition() -> None:
    batch = [message("t", 1, 4), message("t", 0, 9), message("t", 1, 5)]
    got = sorted((tp.topic, tp.partition, tp.offset) for tp in batch_offsets(batch))
    assert got == [("t", 0, 10), ("t", 1, 6)]
