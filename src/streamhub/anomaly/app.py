"""The anomaly Faust app: ops.source_counts + ops.heartbeat → TrafficDetector → ops.anomaly.

A transport like the standardize app (same driver and settings, see its module
docstring): one agent takes batches of input records, hands them to the
:class:`~streamhub.anomaly.service.AnomalyService` and awaits the delivery of every
event they caused before the batch is acked, so an offset is committed only after its
anomalies are on Kafka. A timer ticks the detector on the wall clock (a dead agent sends
nothing, so staleness needs a clock) and applies new suppressions. Sending is retried
with backoff; when the retries are exhausted the process exits 75 without acking, and
restarts warm (the replay re-finds what was not published).

Every ``snapshot_interval_s`` the tick also snapshots the detector (:mod:`.state`) to the
state topic, so the next start replays only what came after it. A lock makes the agent's
batch (take records, deliver their events) and the tick (tick, deliver, snapshot) whole:
a snapshot never holds an anomaly whose event is still undelivered, and its offsets are
exactly the inputs its state has taken. The write itself runs in a thread, off the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streamhub.anomaly.codec import INPUT_TOPICS
from streamhub.anomaly.errors import AnomalyError, PublishError
from streamhub.anomaly.events import AnomalyEvent
from streamhub.anomaly.service import AnomalyService
from streamhub.anomaly.snapshot_log import SnapshotLog
from streamhub.anomaly.state import Record, records_of
from streamhub.anomaly.suppression_log import SuppressionFollower
from streamhub.config import Settings
from streamhub.core.clock import now_ms
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async
from streamhub.core.topic_names import ANOMALY
from streamhub.kafka.faust_app import exit_worker, faust_settings
from streamhub.serde.errors import RegistryUnavailableError
from streamhub.serde.wire import MessageRef

log = logging.getLogger(__name__)


class Publisher:
    """Send anomaly events with the app's producer, awaiting delivery, retrying."""

    def __init__(
        self,
        app: faust.App,
        service: AnomalyService,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.service = service
        self.retry = retry
        self.sleep = sleep  # tests replace the backoff's wait

    async def send(self, events: list[AnomalyEvent]) -> None:
        if not events:
            return
        encoded = [self.service.codec.encode(e) for e in events]

        async def deliver() -> None:
            producer = self.app.producer
            pending = [
                await producer.send(ANOMALY, key, value, None, None, None) for key, value in encoded
            ]
            await asyncio.gather(*pending)

        def retrying(attempt: int, delay: float, exc: Exception) -> None:
            log.warning(
                "anomaly events not delivered, retrying",
                extra={
                    "events": len(events),
                    "attempt": attempt,
                    "delay_s": delay,
                    "error": repr(exc),
                },
            )

        try:
            # whatever the failure, an unpublished anomaly is worse
            await retry_async(
                deliver,
                self.retry,
                what=f"sending to {ANOMALY}",
                on_retry=retrying,
                sleep=self.sleep,
            )
        except RetriesExhaustedError as exc:
            self._give_up(events, exc.last, exc.attempts)

    def _give_up(self, events: list[AnomalyEvent], exc: Exception, attempts: int) -> None:
        error = PublishError(
            f"{len(events)} anomaly events (first {events[0].anomaly_id} of "
            f"{events[0].feed.institution_id}) undelivered to {ANOMALY} after "
            f"{attempts} attempts: {exc!r}; exiting to restart warm",
            topic=ANOMALY,
            undelivered=len(events),
        )
        exit_worker(error, exc)  # exit 75, not raise: take_events would ack the batch


class Snapshotter:
    """Takes a snapshot every ``interval_ms`` of the service's clock; one write at a time.

    ``take_first``: the first tick takes one at once (after a warm start that replayed
    history, so that a crash loop does not replay it again and again).
    """

    def __init__(
        self,
        service: AnomalyService,
        log: SnapshotLog,
        interval_ms: int,
        *,
        take_first: bool = False,
        yield_every: int = 100,
    ) -> None:
        self.service = service
        self.log = log
        self.interval_ms = interval_ms
        self.yield_every = yield_every  # connectors packed between two yields to the loop
        self.last_ms = -interval_ms if take_first else now_ms(service.clock)
        self.writing = False

    def due(self) -> bool:
        return not self.writing and now_ms(self.service.clock) - self.last_ms >= self.interval_ms

    async def take(self) -> tuple[list[Record], int]:
        """Pack the state, connector by connector, yielding to the loop between chunks (so
        Faust's own tasks run); the caller holds the lock: the detector stays still."""
        taken = now_ms(self.service.clock)
        self.writing, self.last_ms = True, taken
        generation = self.log.next_generation
        records: list[Record] = []
        packed = records_of(self.service, self.service.positions, taken, generation)
        for i, record in enumerate(packed, 1):
            records.append(record)
            if i % self.yield_every == 0:
                await asyncio.sleep(0)
        return records, generation

    async def write(self, taken: tuple[list[Record], int]) -> None:
        """Write in a thread, off the event loop."""
        records, generation = taken
        try:
            size = await asyncio.to_thread(self.log.write_records, records, generation)
            log.info(
                "anomaly snapshot written",
                extra={"connectors": len(records) - 1, "bytes": size},
            )
        except AnomalyError as exc:
            # the previous snapshot stays usable; a restart replays a little more
            log.warning("anomaly snapshot not written", extra={"error": str(exc)})
        finally:
            self.writing = False


def build_app(
    settings: Settings,
    service: AnomalyService,
    follower: SuppressionFollower,
    *,
    tick_s: float = 5.0,
    batch_size: int = 1000,
    within_s: float = 0.5,
    retry: RetryPolicy | None = None,
    snapshots: Snapshotter | None = None,
) -> faust.App:
    """A Faust app (id ``settings.anomaly_group``): one agent over the inputs, one timer."""
    app = faust.App(settings.anomaly_group, **faust_settings(settings, settings.anomaly_group))
    publisher = Publisher(app, service, retry or RetryPolicy())
    whole = asyncio.Lock()  # a batch or a tick with its deliveries (see the docstring)

    async def detect(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            async with whole:
                out: list[AnomalyEvent] = []
                try:
                    for event in events:
                        message = event.message
                        where = MessageRef(message.topic, message.partition, message.offset)
                        out += service.on_message(message.topic, message.key, message.value, where)
                except RegistryUnavailableError as exc:
                    # the detector has taken part of the batch: restart warm, not retry
                    exit_worker(AnomalyError(f"schema registry unreachable, exiting: {exc}"), exc)
                await publisher.send(out)

    async def tick() -> None:
        async with whole:
            await publisher.send(service.tick(follower.poll()))
            if snapshots is None or not snapshots.due():
                return
            taken = await snapshots.take()
        await snapshots.write(taken)

    app.agent(app.topic(*INPUT_TOPICS), name="detect")(detect)
    app.timer(interval=tick_s, name="anomaly-tick")(tick)
    return app
