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
import time
from collections import Counter as Tally
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from prometheus_client import Counter, Histogram

from streamhub.config import Settings
from streamhub.core.retry import RetriesExhaustedError, RetryPolicy, retry_async
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.errors import StreamhubError
from streamhub.kafka.faust_app import exit_worker, faust_settings
from streamhub.standardize.messages import BatchProcessor, OutMessage, RawMessage

log = logging.getLogger(__name__)

BATCHES = Counter("streamhub_standardize_batches_total", "Batches standardized and sent.")
MESSAGES = Counter(
    "streamhub_standardize_messages_total",
    "Messages consumed (direction=in, by source topic) and sent (direction=out, by topic).",
    ["topic", "direction"],
)
BATCH_SECONDS = Histogram(
    "streamhub_standardize_batch_seconds",
    "Time from taking a batch to the delivery of all its outputs.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RETRIES = Counter(
    "streamhub_standardize_batch_retries_total", "Batches retried after process() or send failed."
)


class BatchFailedError(StreamhubError):
    """A batch failed on every attempt; the worker exits so that it resumes from the last
    commit. Look at the cause in the log (often Kafka or the schema registry unreachable)."""


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


class BatchRunner:
    """Process one batch and deliver its outputs, retrying the whole batch on failure."""

    def __init__(self, app: faust.App, processor: BatchProcessor, retry: RetryPolicy) -> None:
        self.app = app
        self.processor = processor
        self.retry = retry
        # one thread: process() runs off the event loop (Faust's timers, commits and the
        # producer keep running) but never concurrently with itself
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="standardize")

    async def run(self, batch: Sequence[RawMessage]) -> None:
        started = time.perf_counter()
        first = batch[0]
        where = f"{first.topic}[{first.partition}]@{first.offset}"

        def retrying(attempt: int, delay: float, exc: Exception) -> None:
            RETRIES.inc()
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
            # every failure is retried, whatever it is: losing the batch is worse
            outputs = await retry_async(
                lambda: self._attempt(batch),
                self.retry,
                what=f"standardize batch of {len(batch)} from {where}",
                on_retry=retrying,
            )
        except RetriesExhaustedError as exc:
            error = BatchFailedError(
                f"batch of {len(batch)} from {where} failed {exc.attempts} times: "
                f"{exc.last!r}; exiting without committing it"
            )
            exit_worker(error, exc.last)
        self._count(batch, outputs, time.perf_counter() - started)

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

    @staticmethod
    def _count(batch: Sequence[RawMessage], outputs: list[OutMessage], seconds: float) -> None:
        BATCHES.inc()
        BATCH_SECONDS.observe(seconds)
        for topic, n in Tally(m.topic for m in batch).items():
            MESSAGES.labels(topic, "in").inc(n)
        for topic, n in Tally(m.topic for m in outputs).items():
            MESSAGES.labels(topic, "out").inc(n)


def build_app(
    settings: Settings,
    processor: BatchProcessor,
    *,
    source_topics: Sequence[str] = RAW_TOPICS,
    batch_size: int = 500,
    within_s: float = 0.2,
    retry: RetryPolicy | None = None,
) -> faust.App:
    """A Faust app (id ``settings.standardize_group``) with one agent over ``source_topics``
    that hands batches of up to ``batch_size`` messages, or what arrived within ``within_s``,
    to ``processor`` and sends its outputs before the batch's offsets can be committed."""
    if batch_size < 1 or within_s <= 0:
        raise ValueError("batch_size must be >= 1 and within_s > 0")
    app = faust.App(
        settings.standardize_group, **faust_settings(settings, settings.standardize_group)
    )
    runner = BatchRunner(app, processor, retry or RetryPolicy())

    async def standardize(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            await runner.run([to_raw(e) for e in events])

    app.agent(app.topic(*source_topics), name="standardize")(standardize)
    return app
