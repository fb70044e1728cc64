"""The reconcile Faust app: ops.source_counts, ops.landed_counts, dead letters → ops.reconciliation.

One agent folds the inputs into a :class:`Reconciler` in batches; a timer judges the
windows every few seconds and publishes each new result (Avro, key
``institution|table|window_start``).

Why the state survives a restart by *re-reading*, not by a snapshot: every input is
a fact kept in Kafka far longer than the reconciler's retention (30 days vs hours), and
the reconciler is idempotent over replays (source totals are cumulative, landed counts
and dead letters carry version ids). So on start :func:`rebuild` reads the inputs
from ``now - retention`` to the topics' current ends, then the published results of
the same span (each window's last verdict and revision), and commits those ends for
the app's group: the Faust consumer resumes exactly after what was replayed. The
state is a pure function of the topics — no snapshot that could lag its offsets, no
Faust table (whose changelog recovery has a history of hangs, STACK-NOTES), nothing
lost when the process is killed at any point. The cost is a replay of the retention's
inputs at start (seconds at the demo's rates). The app must run as ONE worker: a
window's inputs arrive on different topics and partitions, so it needs all of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import faust
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.retry import RetriesExhaustedError, RetryPolicy, retry_call
from streamhub.kafka.faust_app import EXIT_BATCH_FAILED, faust_settings
from streamhub.kafka.groups import commit_offsets
from streamhub.kafka.reading import Offsets, read_since
from streamhub.log import get_logger
from streamhub.reconcile.errors import ReconcileError
from streamhub.reconcile.feed import INPUT_TOPICS, RESULTS_TOPIC, Feed
from streamhub.reconcile.metrics import RECONCILE_METRICS, ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
from streamhub.reconcile.result import Result
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.serde.errors import RegistryUnavailableError, SerdeError
from streamhub.standardize.pseudonym_keys import IdentityTokens

log = get_logger(__name__)

#: how much earlier than the retention horizon the replay starts: a record's Kafka
#: timestamp (produce time) may precede its window's start when the source's clock
#: runs ahead of the capture host's
REPLAY_SLACK_MS = 5 * 60_000


class RebuildError(ReconcileError):
    """The app could not rebuild its state from Kafka at start; nothing was committed."""


@dataclass
class Runtime:
    """What the agent and the timer share (both run on the worker's event loop)."""

    settings: Settings
    reconciler: Reconciler
    feed: Feed
    writer: RegisteredWriter
    metrics: ReconcileMetrics
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = SYSTEM_CLOCK
    unsent: list[Result] = field(default_factory=list)

    @classmethod
    def create(
        cls, settings: Settings, reconcile: ReconcileSettings, clock: Clock = SYSTEM_CLOCK
    ) -> Runtime:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schema = load_schema(settings.project_dir / "avro_schemas", "ops/reconciliation.avsc")
        try:
            writer = serde.register(f"{RESULTS_TOPIC}-value", schema)
        except SerdeError as exc:
            raise ReconcileError(f"registering the schema of {RESULTS_TOPIC}: {exc}") from exc
        reconciler = Reconciler(reconcile, clock)
        metrics = RECONCILE_METRICS
        # the identity key versions capture's MessageTooLarge letters (they carry the row key)
        identity = IdentityTokens.from_settings(settings)
        feed = Feed(reconciler, serde, metrics, identity)
        return cls(settings, reconciler, feed, writer, metrics, clock=clock)

    # --- inputs ---------------------------------------------------------------------------

    def take(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        try:
            decoded = retry_call(
                lambda: self.feed.decode(topic, partition, offset, value),
                self.retry,
                what=f"decoding {topic}[{partition}]@{offset}",
                transient=lambda exc: isinstance(exc, RegistryUnavailableError),
                clock=self.clock,
            )
        except RetriesExhaustedError as exc:
            log.critical(
                "schema registry unreachable; exiting, the state is rebuilt from Kafka on restart",
                extra={"error": str(exc.last)},
            )
            logging.shutdown()
            os._exit(EXIT_BATCH_FAILED)
        if decoded is not None:
            self.feed.apply(topic, decoded)

    # --- judging --------------------------------------------------------------------------

    def due(self) -> list[Result]:
        """Results to publish now: those a failed publish left, then the new judgements."""
        results = self.unsent + self.reconciler.due()
        self.unsent = []
        self.metrics.observe(self.reconciler, self.clock.time())
        return results

    def message(self, result: Result) -> tuple[bytes, bytes]:
        key = f"{result.institution_id}|{result.table}|{result.window_start_ms}".encode()
        return key, self.feed.serde.encode(self.writer, result.to_avro())

    def published(self, results: list[Result]) -> None:
        self.metrics.emitted(results)
        for result in results:
            log.info(
                "window judged",
                extra={
                    "institution": result.institution_id,
                    "table": result.table,
                    "database": result.database,
                    "window_start_ms": result.window_start_ms,
                    "status": result.status.value,
                    "difference": result.difference,
                    "revision": result.revision,
                },
            )


def rebuild(runtime: Runtime, group: str, timeout_s: float = 300.0) -> Offsets:
    """Replay inputs and published results from the retention horizon; commit the inputs'
    ends for ``group`` (the Faust app's consumer group). Returns those ends."""
    settings = runtime.settings
    rec = runtime.reconciler
    since = rec.now_ms() - rec.settings.retention_ms - rec.settings.window_ms - REPLAY_SLACK_MS
    ends: Offsets = {}
    inputs = 0
    for message in read_since(
        settings, list(INPUT_TOPICS), since, timeout_s=timeout_s, ends=ends.update
    ):
        runtime.take(message.topic, message.partition, message.offset, message.value)
        inputs += 1
    remembered = 0
    for message in read_since(settings, [RESULTS_TOPIC], since, timeout_s=timeout_s):
        value = runtime.feed.decode(message.topic, message.partition, message.offset, message.value)
        if value is not None and rec.remember(Result.from_avro(value)):
            remembered += 1
    _commit_for_group(settings, group, ends, clock=runtime.clock)
    log.info(
        "reconcile state rebuilt from Kafka",
        extra={
            "since_ms": since,
            "inputs": inputs,
            "results": remembered,
            "windows": len(rec.windows),
        },
    )
    return ends


def _commit_for_group(
    settings: Settings,
    group: str,
    ends: Offsets,
    wait_s: float = 30.0,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    # a member killed a moment ago stays in the group until its session times out (10 s);
    # the broker refuses an outside commit until then
    deadline = clock.monotonic() + wait_s
    while True:
        try:
            commit_offsets(settings, group, ends)
            return
        except Exception as exc:  # KafkaException: UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS
            if clock.monotonic() > deadline:
                raise RebuildError(
                    f"cannot set the offsets of group {group} ({exc}); is another "
                    "`streamhub reconcile run` running? Only one may run at a time"
                ) from exc
            clock.sleep(2.0)


def build_app(
    runtime: Runtime,
    *,
    judge_every_s: float = 5.0,
    batch_size: int = 500,
    within_s: float = 0.5,
) -> faust.App:
    """A Faust app (id ``settings.reconcile_group``): one agent over the input topics, one
    timer that judges and publishes."""
    settings = runtime.settings
    app = faust.App(settings.reconcile_group, **faust_settings(settings, settings.reconcile_group))

    async def reconcile(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            for event in events:
                message = event.message
                runtime.take(message.topic, message.partition, message.offset, message.value)

    app.agent(app.topic(*INPUT_TOPICS), name="reconcile")(reconcile)

    async def judge() -> None:
        results = runtime.due()
        if not results:
            return
        producer = app.producer
        try:
            pending = []
            for result in results:
                key, value = runtime.message(result)
                pending.append(await producer.send(RESULTS_TOPIC, key, value, None, None, None))
            await asyncio.gather(*pending)
        except asyncio.CancelledError:
            runtime.unsent = results + runtime.unsent
            raise
        except Exception as exc:  # Kafka unavailable: keep them for the next tick
            runtime.unsent = results + runtime.unsent
            log.warning(
                "publishing reconciliation results failed; retrying next tick",
                extra={"results": len(results), "error": repr(exc)},
            )
            return
        runtime.published(results)

    app.timer(judge_every_s, name="judge")(judge)
    return app
