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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import faust
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async, retry_call
from streamhub.core.topic_names import RECONCILIATION
from streamhub.kafka.faust_app import exit_worker, faust_settings
from streamhub.kafka.groups import commit_offsets
from streamhub.kafka.reading import Offsets, read_since
from streamhub.log import get_logger
from streamhub.reconcile.errors import RebuildError, ReconcileError, RegistryUnreachableError
from streamhub.reconcile.feed import INPUT_TOPICS, Feed
from streamhub.reconcile.metrics import ReconcileMetrics, reconcile_metrics
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


def _registry_down(exc: Exception) -> bool:
    return isinstance(exc, RegistryUnavailableError)


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
    #: how the agent waits between decode attempts: awaited, never blocking the event loop
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: what happens when the registry stays unreachable: the worker exits without acking
    #: its batch and the state is rebuilt from Kafka on restart (tests make it raise)
    give_up: Callable[[Exception, BaseException | None], NoReturn] = exit_worker
    unsent: list[Result] = field(default_factory=list)

    @classmethod
    def create(
        cls, settings: Settings, reconcile: ReconcileSettings, clock: Clock = SYSTEM_CLOCK
    ) -> Runtime:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schema = load_schema(settings.project_dir / "avro_schemas", "ops/reconciliation.avsc")
        try:
            writer = serde.register(f"{RECONCILIATION}-value", schema)
        except SerdeError as exc:
            raise ReconcileError(f"registering the schema of {RECONCILIATION}: {exc}") from exc
        reconciler = Reconciler(reconcile, clock)
        metrics = reconcile_metrics()
        # the identity key versions capture's MessageTooLarge letters (they carry the row key)
        identity = IdentityTokens.from_settings(settings)
        feed = Feed(reconciler, serde, metrics, identity)
        return cls(settings, reconciler, feed, writer, metrics, clock=clock)

    # --- inputs ---------------------------------------------------------------------------

    def take(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        """Fold one input in, waiting out a registry outage by blocking: for the start-up
        replay (:func:`rebuild`), which runs before the worker's event loop."""
        try:
            decoded = retry_call(
                lambda: self.feed.decode(topic, partition, offset, value),
                self.retry,
                what=f"decoding {topic}[{partition}]@{offset}",
                transient=_registry_down,
                clock=self.clock,
            )
        except RetriesExhaustedError as exc:
            self._registry_gone(topic, partition, offset, exc)
        if decoded is not None:
            self.feed.apply(topic, decoded)

    async def take_async(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> None:
        """Fold one input in from the agent: a registry outage is waited out with
        :attr:`pause` (``asyncio.sleep``), so the judging timer and the consumer's
        heartbeats keep running meanwhile."""

        async def decode() -> dict[str, Any] | None:
            return self.feed.decode(topic, partition, offset, value)

        try:
            decoded = await retry_async(
                decode,
                self.retry,
                what=f"decoding {topic}[{partition}]@{offset}",
                transient=_registry_down,
                clock=self.clock,
                sleep=self.pause,
            )
        except RetriesExhaustedError as exc:
            self._registry_gone(topic, partition, offset, exc)
        if decoded is not None:
            self.feed.apply(topic, decoded)

    def _registry_gone(
        self, topic: str, partition: int, offset: int, exc: RetriesExhaustedError
    ) -> NoReturn:
        self.give_up(RegistryUnreachableError(topic, partition, offset, exc.attempts), exc.last)

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
    for message in read_since(settings, [RECONCILIATION], since, timeout_s=timeout_s):
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


#: a member killed a moment ago stays in the group until its session times out (10 s), and
#: the broker refuses an outside commit until then: try every 2 s for up to 30 s
GROUP_COMMIT_RETRY = RetryPolicy(attempts=None, first_s=2.0, max_s=2.0, within_s=30.0)

CommitOffsets = Callable[[Settings, str, Offsets], None]


def _commit_for_group(
    settings: Settings,
    group: str,
    ends: Offsets,
    *,
    clock: Clock = SYSTEM_CLOCK,
    policy: RetryPolicy = GROUP_COMMIT_RETRY,
    commit: CommitOffsets = commit_offsets,
) -> None:
    """Commit the replayed ends for ``group``. Waiting blocks on purpose: :func:`rebuild`
    runs before the worker's event loop starts, so there is no loop to hold up."""
    try:
        retry_call(
            lambda: commit(settings, group, ends),
            policy,
            what=f"committing the replayed offsets of group {group}",
            clock=clock,
        )
    except RetriesExhaustedError as exc:  # KafkaException: UNKNOWN_MEMBER_ID, REBALANCE_…
        raise RebuildError(
            f"cannot set the offsets of group {group} ({exc.last}); is another "
            "`streamhub reconcile run` running? Only one may run at a time",
            group=group,
        ) from exc.last


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
                await runtime.take_async(
                    message.topic, message.partition, message.offset, message.value
                )

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
                pending.append(await producer.send(RECONCILIATION, key, value, None, None, None))
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
