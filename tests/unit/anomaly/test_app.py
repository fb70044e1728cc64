"""The app's publisher: delivery retried with backoff on the event loop, then the worker's exit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streamhub.anomaly import app as anomaly_app
from streamhub.anomaly.errors import PublishError, SnapshotError
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
from streamhub.core.retry import RetryPolicy

from .scenario import T0
from .test_service import JsonCodec

EVENT = AnomalyEvent(
    anomaly_id="a-1",
    feed=FeedKey("h01-his", "h01", "his", "db.public.charge"),
    metric="events_per_minute",
    kind=Kind.SILENCE,
    severity=Severity.CRITICAL,
    observed=0,
    expected=40.0,
    lower=10.0,
    upper=70.0,
    score=-6.0,
    window_start_ms=T0,
    detected_ts_ms=T0,
    start_ms=T0,
)


class FailingProducer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes, *_: Any) -> asyncio.Future[None]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker gone")
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Exited(Exception):
    pass


def publisher(
    producer: FailingProducer, waits: list[float], policy: RetryPolicy
) -> anomaly_app.Publisher:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app: Any = SimpleNamespace(producer=producer)
    service: Any = SimpleNamespace(codec=JsonCodec())
    return anomaly_app.Publisher(app, service, policy, sleep=sleep)


def test_send_is_retried_with_backoff_until_delivered() -> None:
    producer, waits = FailingProducer(failures=2), []
    asyncio.run(publisher(producer, waits, RetryPolicy(attempts=5, first_s=0.5)).send([EVENT]))
    assert waits == [0.5, 1.0]
    assert [topic for topic, _, _ in producer.sent] == ["ops.anomaly"]


def test_exhausted_retries_end_the_worker_without_acking(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[tuple[Exception, BaseException | None]] = []

    def exit_worker(error: Exception, cause: BaseException | None = None) -> None:
        exits.append((error, cause))
        raise Exited  # the real one ends the process with EXIT_BATCH_FAILED (75)

    monkeypatch.setattr(anomaly_app, "exit_worker", exit_worker)
    producer, waits = FailingProducer(failures=10), []
    with pytest.raises(Exited):
        asyncio.run(publisher(producer, waits, RetryPolicy(attempts=3, first_s=0.5)).send([EVENT]))
    assert waits == [0.5, 1.0] and producer.sent == []
    ((error, cause),) = exits
    assert isinstance(error, PublishError) and isinstance(cause, ConnectionError)
    assert (error.topic, error.undelivered) == ("ops.anomaly", 1)
    assert "a-1 of h01" in str(error) and "after 3 attempts" in str(error)


class _Log:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.written: list[Any] = []
        self.next_generation = 1

    def write_records(self, records: list[Any], generation: int) -> int:
        if self.fail:
            raise SnapshotError("broker gone")
        self.written.append((records, generation))
        self.next_generation = 1 - generation
        return 1


def test_snapshots_are_taken_every_interval_with_the_offsets_taken_and_failures_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from streamhub.anomaly import state
    from streamhub.serde.wire import MessageRef

    from .test_service import counts, service

    svc, clock, _ = service()
    clock.fixed_ms = T0
    message = counts("h01-his", "t", T0, 5)
    svc.on_message(message.topic, None, message.value, MessageRef("ops.source_counts", 2, 41))
    log = _Log()
    snapshots = anomaly_app.Snapshotter(svc, log, interval_ms=600_000)  # type: ignore[arg-type]
    assert not snapshots.due()
    clock.fixed_ms = T0 + 600_000
    assert snapshots.due()

    async def tick() -> None:
        taken = await snapshots.take()
        assert not snapshots.due()  # one write at a time
        await snapshots.write(taken)

    asyncio.run(tick())
    ((records, generation),) = log.written
    assert generation == 1
    taken = state.decode(records)
    assert taken.offsets == {("ops.source_counts", 2): 42}
    assert taken.taken_ms == T0 + 600_000 and "h01-his" in taken.connectors
    assert taken.connectors == state.dump(svc, {}).connectors
    assert not snapshots.due()
    clock.fixed_ms = T0 + 1_200_000
    snapshots.log = _Log(fail=True)  # type: ignore[assignment]
    asyncio.run(tick())  # logged, not raised: detection goes on
    assert "anomaly snapshot not written" in caplog.text
    clock.fixed_ms = T0 + 1_800_000
    assert snapshots.due()


def test_after_a_warm_start_from_history_the_first_tick_takes_a_snapshot() -> None:
    from .test_service import service

    svc, clock, _ = service()
    clock.fixed_ms = T0
    first = anomaly_app.Snapshotter(svc, _Log(), 600_000, take_first=True)  # type: ignore[arg-type]
    assert first.due()
