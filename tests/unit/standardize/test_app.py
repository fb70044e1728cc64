"""The standardize app's batch runner: a failing batch is retried in place on the event loop
(awaited backoff, never a blocking sleep), and counted once it is delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.core.retry import RetryPolicy
from streamhub.standardize.app import BatchRunner
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, *_: Any) -> Any:
        self.sent.append((topic, key, value))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class _App:
    def __init__(self) -> None:
        self.producer = _Producer()


class _Flaky:
    """Fails the first ``failures`` calls, then maps each message to one std record."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def process(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("registry unreachable")
        return [OutMessage("std.patient", m.key, b"record") for m in batch]


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_a_failing_batch_is_retried_with_awaited_backoff_then_counted() -> None:
    registry = CollectorRegistry()
    clock = ManualClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    app = _App()
    processor = _Flaky(failures=2)
    runner = BatchRunner(
        app,  # type: ignore[arg-type]
        processor,
        RetryPolicy(attempts=5, first_s=0.5, max_s=30.0),
        metrics=StandardizeMetrics.create(registry),
        clock=clock,
        sleep=sleep,
    )
    batch = [RawMessage("cdc.raw.his", 0, n, b"k%d" % n, b"v", 0) for n in range(3)]
    asyncio.run(runner.run(batch))

    assert processor.calls == 3
    assert waits == [0.5, 1.0]  # doubling, awaited on the loop
    assert clock.sleeps == []  # the clock was never asked to block
    assert [topic for topic, _, _ in app.producer.sent] == ["std.patient"] * 3
    assert _value(registry, "streamhub_standardize_batch_retries_total") == 2
    assert _value(registry, "streamhub_standardize_batches_total") == 1
    assert _value(registry, "streamhub_standardize_batch_seconds_sum") == 1.5
    messages = "streamhub_standardize_messages_total"
    assert _value(registry, messages, topic="cdc.raw.his", direction="in") == 3
    assert _value(registry, messages, topic="std.patient", direction="out") == 3


def test_metric_names_keep_their_dashboard_names() -> None:
    registry = CollectorRegistry()
    StandardizeMetrics.create(registry)
    names = {metric.name for metric in registry.collect()}
    assert names == {
        "streamhub_standardize_records",
        "streamhub_standardize_batches",
        "streamhub_standardize_messages",
        "streamhub_standardize_batch_seconds",
        "streamhub_standardize_batch_retries",
    }
