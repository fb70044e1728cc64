"""The standardize worker: cdc.raw.* → BatchProcessor → std.* / ops.quality / dlq.standardize.

The app is only a transport: take a batch, hand it to the processor, send every output, commit.
At-least-once, never exactly_once (see STACK-NOTES): a crash anywhere re-delivers what was not
committed, and the lander is idempotent. Two transports (docs/decisions/standardize.md,
"Transport"):

* ``hosted``, the default: a confluent-kafka batch loop (:mod:`streamhub.kafka.batch_loop`)
  in a thread of the Faust worker (:mod:`streamhub.kafka.hosted`): consume up to
  ``batch_size`` messages within ``within_s`` → ``process`` → produce → flush → commit the
  batch's offsets synchronously once every output is acknowledged. A failing batch is retried
  in place; when the retries run out the process exits without committing (``exit_worker``).
  Faust's own Kafka clients are not started in this worker.
* ``agent``: a Faust agent, kept for comparison (bench/faust_transport.py) and as a fallback.
  Why nothing is lost there (checked in faust-streaming 0.15.3's source):

  - ``Stream.take_events`` (faust/streams.py) acks a batch's events only in the ``finally``
    after the ``async for`` body returns to it, i.e. after :class:`BatchRunner` has awaited
    the delivery of every output of the batch;
  - only acked offsets are committed, and ``Consumer._commit_offsets``
    (faust/transport/consumer.py) awaits ``app.producer.flush()`` before ``self._commit``,
    so nothing sent is still in the producer's buffer when offsets move;
  - the body therefore never lets an exception escape while holding a batch: leaving the
    ``async for`` closes the generator, whose ``finally`` would ack (and a later commit would
    skip) the failed batch. A failing batch is retried in place with backoff; when the
    retries are exhausted the process exits at once (``os._exit``), without acking or
    committing, and restarts from the last commit exactly as after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import faust
from confluent_kafka import Message

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.kafka.batch_loop import BatchLoop, BatchLoopOptions
from streamhub.kafka.faust_app import exit_worker, faust_settings, without_kafka
from streamhub.kafka.hosted import host
from streamhub.standardize.errors import BatchFailedError
from streamhub.standardize.messages import BatchProcessor, OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics, standardize_metrics

log = logging.getLogger(__name__)


def to_raw(event: Any) -> RawMessage:
    message = event.message
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=round((message.timestamp or 0.0) * 1000),
    )


def from_confluent(message: Message) -> RawMessage:
    return RawMessage(
        topic=message.topic(),  # type: ignore[arg-type]
        partition=message.partition(),  # type: ignore[arg-type]
        offset=message.offset(),  # type: ignore[arg-type]
        key=message.key(),
        value=message.value(),
        timestamp_ms=message.timestamp()[1],
    )


def count_batch(
    metrics: StandardizeMetrics,
    in_topics: Sequence[str],
    outputs: Sequence[OutMessage],
    seconds: float,
) -> None:
    """A delivered batch in the metrics (both transports)."""
    metrics.batches.inc()
    metrics.batch_seconds.observe(seconds)
    for topic, n in Tally(in_topics).items():
        metrics.messages.labels(topic, "in").inc(n)
    for topic, n in Tally(m.topic for m in outputs).items():
        metrics.messages.labels(topic, "out").inc(n)


Sleep = Callable[[float], Awaitable[None]]


class BatchRunner:
    """Process one batch and deliver its outputs, retrying the whole batch on failure."""

    def __init__(
        self,
        app: faust.App,
        processor: BatchProcessor,
        retry: RetryPolicy,
        *,
        metrics: StandardizeMetrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.app = app
        self.processor = processor
        self.retry = retry
        self.metrics = metrics or standardize_metrics()
        self.clock = clock
        self.sleep = sleep
        # one thread: process() runs off the event loop (Faust's timers, commits and the
        # producer keep running) but never concurrently with itself
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="standardize")

    async def run(self, batch: Sequence[RawMessage]) -> None:
        started = self.clock.monotonic()
        first = batch[0]
        where = f"{first.topic}[{first.partition}]@{first.offset}"

        def retrying(attempt: int, delay: float, exc: Exception) -> None:
            self.metrics.batch_retries.inc()
            log.warning(
                "standardize batch of %d (first %s) failed (attempt %d/%s), retrying in %.1fs: %r",
                len(batch),
                where,
                attempt,
                self.retry.attempts or "-",
                delay,
                exc,
            )

        try:
            # every failure is retried, whatever it is: losing the batch is worse; the wait
            # is awaited, so Faust's timers, heartbeats and commits go on meanwhile
            outputs = await retry_async(
                lambda: self._attempt(batch),
                self.retry,
                what=f"standardize batch of {len(batch)} from {where}",
                on_retry=retrying,
                clock=self.clock,
                sleep=self.sleep,
            )
        except RetriesExhaustedError as exc:
            error = BatchFailedError(
                f"batch of {len(batch)} from {where} failed {exc.attempts} times: "
                f"{exc.last!r}; exiting without committing it"
            )
            exit_worker(error, exc.last)
        self._count(batch, outputs, self.clock.monotonic() - started)

    async def _attempt(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(self.executor, self.processor.process, batch)
        producer = self.app.producer
        pending = [
            await producer.send(out.topic, out.key, out.value, None, None, None) for out in outputs
        ]
        # delivery of every output before returning: take_events acks after we return
        await asyncio.gather(*pending)
        return outputs

    def _count(
        self, batch: Sequence[RawMessage], outputs: list[OutMessage], seconds: float
    ) -> None:
        count_batch(self.metrics, [m.topic for m in batch], outputs, seconds)


Transport = Literal["hosted", "agent"]
TRANSPORTS: tuple[Transport, ...] = ("hosted", "agent")

#: Batch defaults: a backlog is taken 1,000 at a time, while at a low rate a message waits at
#: most 50 ms for company (the hop's added latency, docs/decisions/standardize.md).
BATCH_SIZE = 1000
WITHIN_S = 0.05


def hosted_loop(
    settings: Settings,
    processor: BatchProcessor,
    *,
    source_topics: Sequence[str] = RAW_TOPICS,
    batch_size: int = BATCH_SIZE,
    within_s: float = WITHIN_S,
    retry: RetryPolicy | None = None,
    metrics: StandardizeMetrics | None = None,
) -> BatchLoop:
    """The confluent-kafka batch loop that feeds ``processor`` (group
    ``settings.standardize_group``) and sends its outputs before committing."""
    counted = metrics or standardize_metrics()

    def handle(messages: list[Message]) -> list[OutMessage]:
        return processor.process([from_confluent(m) for m in messages])

    def done(messages: list[Message], outputs: Sequence[Any], seconds: float) -> None:
        count_batch(counted, [m.topic() or "" for m in messages], outputs, seconds)

    def retrying(_attempt: int, _delay: float, _exc: Exception) -> None:
        counted.batch_retries.inc()

    options = BatchLoopOptions(
        bootstrap=settings.kafka_bootstrap,
        group=settings.standardize_group,
        topics=tuple(source_topics),
        max_messages=batch_size,
        within_s=within_s,
    )
    return BatchLoop(options, handle, retry=retry, on_batch=done, on_retry=retrying)


def build_app(
    settings: Settings,
    processor: BatchProcessor,
    *,
    source_topics: Sequence[str] = RAW_TOPICS,
    batch_size: int = BATCH_SIZE,
    within_s: float = WITHIN_S,
    retry: RetryPolicy | None = None,
    metrics: StandardizeMetrics | None = None,
    transport: Transport = "hosted",
) -> faust.App:
    """A Faust app (id ``settings.standardize_group``) that hands batches of up to
    ``batch_size`` messages of ``source_topics``, or what arrived within ``within_s``, to
    ``processor`` and sends its outputs before the batch's offsets can be committed: through
    the hosted confluent-kafka loop, or through a Faust agent (``transport="agent"``)."""
    if batch_size < 1 or within_s <= 0:
        raise ValueError("batch_size must be >= 1 and within_s > 0")
    app = faust.App(
        settings.standardize_group, **faust_settings(settings, settings.standardize_group)
    )
    if transport == "hosted":
        # the loop is the only Kafka client: Faust's own consumer would join the same group
        # with another protocol
        without_kafka(app)
        loop = hosted_loop(
            settings,
            processor,
            source_topics=source_topics,
            batch_size=batch_size,
            within_s=within_s,
            retry=retry,
            metrics=metrics,
        )
        host(app, loop, name="standardize")
        return app
    return _with_agent(app, processor, source_topics, batch_size, within_s, retry, metrics)


def _with_agent(
    app: faust.App,
    processor: BatchProcessor,
    source_topics: Sequence[str],
    batch_size: int,
    within_s: float,
    retry: RetryPolicy | None,
    metrics: StandardizeMetrics | None,
) -> faust.App:
    runner = BatchRunner(app, processor, retry or RetryPolicy(), metrics=metrics)

    async def standardize(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            await runner.run([to_raw(e) for e in events])

    app.agent(app.topic(*source_topics), name="standardize")(standardize)
    return app
