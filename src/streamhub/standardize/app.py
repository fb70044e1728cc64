"""The standardize Faust app: cdc.raw.* → BatchProcessor → std.* / ops.quality / dlq.standardize.

The app is only a transport: take a batch, hand it to the processor, send every output,
and let Faust commit. At-least-once, never exactly_once (see STACK-NOTES): a crash anywhere
re-delivers the batches since the last commit, and the lander is idempotent.

Why nothing is lost (checked in faust-streaming 0.15.3's source):

* ``Stream.take_events`` (faust/streams.py) acks a batch's events only in the ``finally``
  after the ``async for`` body returns to it, i.e. after this module has awaited the delivery
  of every output of the batch;
* only acked offsets are committed, and ``Consumer._commit_offsets``
  (faust/transport/consumer.py) awaits ``app.producer.flush()`` before ``self._commit(...)``,
  so nothing sent is still in the producer's buffer when offsets move;
* the body therefore never lets an exception escape while holding a batch: leaving the
  ``async for`` closes the generator, whose ``finally`` would ack (and a later commit would
  skip) the failed batch. A failing batch is retried in place with backoff; when the retries
  are exhausted the process exits at once (``os._exit``), without acking or committing, and
  restarts from the last commit exactly as after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.kafka.faust_app import exit_worker, faust_settings
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
        metrics = self.metrics
        metrics.batches.inc()
        metrics.batch_seconds.observe(seconds)
        for topic, n in Tally(m.topic for m in batch).items():
            metrics.messages.labels(topic, "in").inc(n)
        for topic, n in Tally(m.topic for m in outputs).items():
            metrics.messages.labels(topic, "out").inc(n)


def build_app(
    settings: Settings,
    processor: BatchProcessor,
    *,
    source_topics: Sequence[str] = RAW_TOPICS,
    batch_size: int = 500,
    within_s: float = 0.2,
    retry: RetryPolicy | None = None,
    metrics: StandardizeMetrics | None = None,
) -> faust.App:
    """A Faust app (id ``settings.standardize_group``) with one agent over ``source_topics``
    that hands batches of up to ``batch_size`` messages, or what arrived within ``within_s``,
    to ``processor`` and sends its outputs before the batch's offsets can be committed."""
    if batch_size < 1 or within_s <= 0:
        raise ValueError("batch_size must be >= 1 and within_s > 0")
    app = faust.App(
        settings.standardize_group, **faust_settings(settings, settings.standardize_group)
    )
    runner = BatchRunner(app, processor, retry or RetryPolicy(), metrics=metrics)

    async def standardize(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            await runner.run([to_raw(e) for e in events])

    app.agent(app.topic(*source_topics), name="standardize")(standardize)
    return app
