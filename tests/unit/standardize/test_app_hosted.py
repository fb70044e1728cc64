"""The standardize app on its hosted confluent-kafka loop, without a broker: what the
processor is handed, what the metrics count, and how the Faust worker is put together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Message
from prometheus_client import CollectorRegistry

from streamhub.config import load_settings
from streamhub.core.retry import RetryPolicy
from streamhub.kafka.hosted import HostedBatchLoop
from streamhub.standardize.app import BATCH_SIZE, TRANSPORTS, WITHIN_S, build_app, hosted_loop
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics

from ..kafka.test_batch_loop import FakeConsumer, FakeProducer


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.seen: list[RawMessage] = []
        self.failures = failures

    def process(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("registry unreachable")
        self.seen.extend(batch)
        return [OutMessage("std.patient", m.key, b"r") for m in batch] + [
            OutMessage("ops.quality", None, b"q")
        ]


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_the_processor_gets_raw_messages_and_the_metrics_count_the_delivered_batch(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, standardize_group="g-hosted")
    registry = CollectorRegistry()
    processor = Recorder(failures=1)
    loop = hosted_loop(
        settings,
        processor,
        source_topics=["cdc.raw.his", "cdc.raw.lis"],
        retry=RetryPolicy(attempts=3, first_s=0.001, max_s=0.001),
        metrics=StandardizeMetrics.create(registry),
    )
    assert loop.options.group == "g-hosted"
    assert loop.options.topics == ("cdc.raw.his", "cdc.raw.lis")
    events: list[Any] = []
    his = {"topic": "cdc.raw.his", "partition": 2, "offset": 10}
    lis = {"topic": "cdc.raw.lis", "partition": 0, "offset": 3}
    batch = [
        Message(**his, key=b"a", value=b"x", timestamp=(1, 5)),
        Message(**lis, key=b"b", value=b"y", timestamp=(1, 6)),
    ]
    loop._consumer = FakeConsumer(events, [batch])  # type: ignore[assignment]
    loop._producer = FakeProducer(events)  # type: ignore[assignment]
    loop.run_batch(loop.take())

    assert processor.seen == [
        RawMessage("cdc.raw.his", 2, 10, b"a", b"x", 5),
        RawMessage("cdc.raw.lis", 0, 3, b"b", b"y", 6),
    ]
    assert events[-1] == ("commit", [("cdc.raw.his", 2, 11), ("cdc.raw.lis", 0, 4)], False)
    messages = "streamhub_standardize_messages_total"
    assert _value(registry, messages, topic="cdc.raw.his", direction="in") == 1
    assert _value(registry, messages, topic="cdc.raw.lis", direction="in") == 1
    assert _value(registry, messages, topic="std.patient", direction="out") == 2
    assert _value(registry, messages, topic="ops.quality", direction="out") == 1
    assert _value(registry, "streamhub_standardize_batches_total") == 1
    assert _value(registry, "streamhub_standardize_batch_retries_total") == 1


def test_the_hosted_app_leaves_kafka_to_its_loop_and_the_agent_app_keeps_its_agent(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, standardize_group="g-app")
    hosted = build_app(settings, Recorder(), source_topics=["t"])
    # Faust's own consumer would join the same group with another protocol
    assert not hosted.boot_strategy._should_enable_kafka_consumer()
    assert not hosted.boot_strategy._should_enable_kafka_producer()
    assert list(hosted.agents) == []
    assert any(isinstance(s, HostedBatchLoop) for s in hosted._children)

    agent = build_app(settings, Recorder(), source_topics=["t"], transport="agent")
    assert agent.boot_strategy._should_enable_kafka_consumer()
    assert list(agent.agents) == ["standardize"]


class _Loop:
    """A stand-in for BatchLoop.run: runs until stopped, like the real one."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.stopped = False
        self.options = type("O", (), {"group": "g", "topics": ("t",), "max_messages": 1})()
        self.options.within_s = 0.1

    def run(self, stop: threading.Event) -> None:
        self.running.set()
        stop.wait(10)
        self.stopped = True


def test_the_hosted_service_starts_its_thread_and_stop_waits_for_the_batch_in_hand() -> None:
    loop = _Loop()

    async def lifecycle() -> None:
        service = HostedBatchLoop(loop, name="t-loop")  # type: ignore[arg-type]
        await service.start()
        await asyncio.get_running_loop().run_in_executor(None, loop.running.wait, 5)
        assert loop.running.is_set()
        await service.stop()

    asyncio.run(lifecycle())
    assert loop.stopped  # stop() returned only after run() did


def test_the_command_defaults_are_the_app_defaults() -> None:
    from streamhub.cli.standardize_cmd import standardize_cmd

    defaults = {p.name: p.default for p in standardize_cmd.params}
    assert defaults["batch_size"] == BATCH_SIZE
    assert defaults["within_ms"] == round(WITHIN_S * 1000)
    assert defaults["transport"] == TRANSPORTS[0] == "hosted"
