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
import os
import time
from collections import Counter as Tally
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import Counter, Histogram

from streamhub.config import Settings
from streamhub.errors import StreamhubError
from streamhub.standardize.messages import BatchProcessor, OutMessage, RawMessage

log = logging.getLogger(__name__)

RAW_TOPICS: tuple[str, ...] = ("cdc.raw.his", "cdc.raw.emr", "cdc.raw.lis", "cdc.raw.pacs")

#: Exit status when a batch keeps failing: a supervisor (systemd, Kubernetes) restarts the
#: worker, which resumes from the last committed offsets.
EXIT_BATCH_FAILED = 75  # EX_TEMPFAIL

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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for a failing batch: delay doubles from ``first_s`` up to ``max_s``."""

    attempts: int = 8
    first_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** (attempt - 1)))


def faust_settings(settings: Settings, app_id: str) -> dict[str, Any]:
    """Faust options for a quick, loss-free restart; the driver chosen in
    docs/decisions/standardize.md (aiokafka: the confluent driver gets no assignment and
    swaps key and value on send)."""
    # Faust writes its app directory under datadir, by default in the working directory
    datadir = settings.data_dir / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return {
        "datadir": str(datadir),
        "broker": ";".join(f"kafka://{s}" for s in settings.kafka_bootstrap.split(",")),
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": "memory://",
        "web_enabled": False,
        # no tables, so no leader election topic to create
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        # outputs are sent right away; the interval only bounds what a crash re-processes
        "broker_commit_interval": 1.0,
        # a member killed with -9 is dropped by the broker after the session timeout, and only
        # then are its partitions handed to the restarted worker: keep it short
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
        "producer_acks": -1,
        # finish the batch in hand before a rebalance or a stop (acked, then committed)
        "stream_wait_empty": True,
    }


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
        for attempt in range(1, self.retry.attempts + 1):
            try:
                outputs = await self._attempt(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried whatever it is: losing the batch is worse
                if attempt == self.retry.attempts:
                    self._give_up(batch, exc)
                delay = self.retry.delay(attempt)
                RETRIES.inc()
                log.warning(
                    "standardize batch of %d (first %s[%d]@%d) failed (attempt %d/%d), "
                    "retrying in %.1fs: %r",
                    len(batch),
                    batch[0].topic,
                    batch[0].partition,
                    batch[0].offset,
                    attempt,
                    self.retry.attempts,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
            else:
                self._count(batch, outputs, time.perf_counter() - started)
                return

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

    def _give_up(self, batch: Sequence[RawMessage], exc: Exception) -> None:
        first = batch[0]
        error = BatchFailedError(
            f"batch of {len(batch)} from {first.topic}[{first.partition}]@{first.offset} "
            f"failed {self.retry.attempts} times: {exc!r}; exiting without committing it"
        )
        log.critical("%s", error, exc_info=exc)
        logging.shutdown()
        # not `raise`: unwinding through take_events would ack the batch (module docstring)
        os._exit(EXIT_BATCH_FAILED)

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
    app = faust.App(settings.standardize_group,
                    **faust_settings(settings, settings.standardize_group))
    runner = BatchRunner(app, processor, retry or RetryPolicy())

    async def standardize(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            await runner.run([to_raw(e) for e in events])

    app.agent(app.topic(*source_topics), name="standardize")(standardize)
    return app
