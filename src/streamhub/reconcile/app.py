"""The reconcile Faust app: ops.source_counts, ops.landed_counts, dead letters → ops.reconciliation.

One agent folds the inputs into a :class:`Reconciler` in batches; a timer judges the
windows every few seconds and publishes each new result (Avro, key
``institution|table|window_start``).

How the state survives a restart: a checkpoint, then a replay of the tail. Every few
minutes (``checkpoint_every_s``) the timer writes the state to the compacted topic
``_reconcile_state`` (``checkpoint.py``, ``state_topic.py``) together with the input
offsets it covers — the offsets of the inputs the agent has applied, taken in the same
step of the event loop as the state, and only when every judgement made so far was
published. Only the minutes whose windows changed since the last checkpoint are
rewritten, so a checkpoint costs what changed, not the retention. On start
:func:`rebuild` restores the last checkpoint and reads the inputs from its offsets to
the topics' current ends (a few minutes of input, not the retention's), then the
results published since it was taken, and commits those ends for the app's group:
the Faust consumer resumes exactly after what was replayed. Without a readable
checkpoint (the first start, another format, a part missing, other window length)
it replays the inputs from ``now - retention`` as before: every input is a fact kept
in Kafka far longer than the retention (30 days vs hours), so that is always possible.

Why a checkpoint and not the whole-retention replay, nor a Faust table: at 1,751
institutions the retention's inputs are tens of millions of records (measured in
bench/reconcile_scale.py: minutes of CPU to decode and fold, growing with N and the
retention), while the checkpoint holds the folded state once (each window's version
ids once, not once per flush and re-emission) and its tail is bounded by the checkpoint
interval. A Faust table's changelog recovery has a history of hangs (STACK-NOTES) and
writes every change; the checkpoint writes changed minutes only. Exactness holds:
state and offsets are taken together, the tail replay folds exactly the inputs after
them, and the reconciler is idempotent over the rest (source totals are cumulative,
landed counts and dead letters carry version ids). The app must run as ONE worker: a
window's inputs arrive on different topics and partitions, so it needs all of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NoReturn

import faust
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.clock import now_ms as clock_ms
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async, retry_call
from streamhub.core.topic_names import RECONCILIATION
from streamhub.kafka.faust_app import exit_worker, faust_settings
from streamhub.kafka.groups import commit_offsets
from streamhub.kafka.reading import (
    Message,
    Offsets,
    high_watermarks,
    partitions_of,
    read_range,
    read_since,
    starts_since,
)
from streamhub.log import get_logger
from streamhub.reconcile.checkpoint import (
    Blobs,
    Head,
    collector_paused,
    decode_blobs,
    encode_blobs,
    next_head,
)
from streamhub.reconcile.checkpoint import unwritten as unwritten_starts
from streamhub.reconcile.errors import (
    RebuildError,
    ReconcileError,
    RegistryUnreachableError,
    SnapshotFormatError,
    StateTopicError,
)
from streamhub.reconcile.feed import INPUT_TOPICS, Feed
from streamhub.reconcile.metrics import ReconcileMetrics, reconcile_metrics
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
from streamhub.reconcile.result import Result
from streamhub.reconcile.state_topic import StateTopic
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
    #: the next offset of every input partition whose messages the state has folded
    positions: Offsets = field(default_factory=dict)
    #: where checkpoints go; None: none are written (every start replays the retention)
    state_topic: StateTopic | None = None
    checkpoint_every_s: float = 300.0
    last_checkpoint_s: float = field(default=float("-inf"))
    _writing: Future[None] | None = None
    _written_starts: set[int] = field(default_factory=set)
    _writer: ThreadPoolExecutor | None = None
    #: the checkpoint the state was restored from at start (None: replayed the retention)
    restored: Head | None = None

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

    def use(self, reconciler: Reconciler) -> None:
        """Continue from ``reconciler`` (restored from a checkpoint)."""
        self.reconciler = reconciler
        self.feed.reconciler = reconciler

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
        self.positions[(topic, partition)] = offset + 1

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
        # in the same step of the event loop as the fold: a checkpoint sees both or neither
        self.positions[(topic, partition)] = offset + 1

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

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> bool:
        """Start writing a checkpoint when one is due: the state and positions are encoded
        now (on the event loop, consistent with each other), Kafka is written in a thread.
        Not while results wait to be published (the state holds them as judged) nor while
        the previous checkpoint is being written. True when one was started."""
        if self.state_topic is None or self.checkpoint_every_s <= 0:
            return False
        if not self._collect() or self.unsent:
            return False
        now_s = self.clock.monotonic()
        if now_s - self.last_checkpoint_s < self.checkpoint_every_s:
            return False
        head, blobs, changed = self.encode_checkpoint()
        self.last_checkpoint_s = now_s
        self._written_starts = changed
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="reconcile-checkpoint")
        self._writing = self._writer.submit(self.state_topic.write, head, blobs)
        return True

    def encode_checkpoint(self) -> tuple[Head, Blobs, set[int]]:
        """The next checkpoint's head and blobs, and the window starts it rewrites."""
        assert self.state_topic is not None
        previous = self.state_topic.head
        changed = self.reconciler.take_changed_starts()
        changed |= unwritten_starts(previous, self.reconciler)
        blobs = encode_blobs(self.reconciler, changed)
        generation = (0 if previous is None else previous.generation) + 1
        head = next_head(
            previous,
            self.reconciler,
            blobs,
            generation=generation,
            taken_ms=clock_ms(self.clock),
            positions=self.positions,
        )
        return head, blobs, changed

    def _collect(self) -> bool:
        """Whether no checkpoint is being written (and the outcome of the last one seen)."""
        writing = self._writing
        if writing is None:
            return True
        if not writing.done():
            return False
        self._writing = None
        error = writing.exception()
        if error is not None:
            # the previous checkpoint stays valid; rewrite these minutes next time
            self.reconciler.changed_starts |= self._written_starts
            log.warning("reconcile checkpoint not written", extra={"error": str(error)})
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._collect()

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
    """Restore the last checkpoint (when there is one that fits) and replay the inputs after
    it, else replay the inputs from the retention horizon; then the published results of
    that span. Commit the inputs' ends for ``group`` (the Faust app's consumer group) and
    return them."""
    settings = runtime.settings
    since = _horizon(runtime.reconciler)
    head = runtime.restored = _restore(runtime)
    rec = runtime.reconciler
    ends: Offsets = {}
    inputs = 0
    with collector_paused():  # the replay builds the windows that stay: see collector_paused
        for message in _inputs(settings, head, since, timeout_s, ends.update):
            runtime.take(message.topic, message.partition, message.offset, message.value)
            inputs += 1
    runtime.positions = dict(ends)
    results_since = since if head is None else max(since, head.taken_ms - REPLAY_SLACK_MS)
    remembered = 0
    for message in read_since(settings, [RECONCILIATION], results_since, timeout_s=timeout_s):
        value = runtime.feed.decode(message.topic, message.partition, message.offset, message.value)
        if value is not None and rec.remember(Result.from_avro(value)):
            remembered += 1
    _commit_for_group(settings, group, ends, clock=runtime.clock)
    log.info(
        "reconcile state rebuilt from Kafka",
        extra={
            "checkpoint": None if head is None else head.generation,
            "since_ms": since if head is None else head.taken_ms,
            "inputs": inputs,
            "results": remembered,
            "windows": len(rec.windows),
        },
    )
    return ends


def _horizon(rec: Reconciler) -> int:
    return rec.now_ms() - rec.settings.retention_ms - rec.settings.window_ms - REPLAY_SLACK_MS


def _restore(runtime: Runtime) -> Head | None:
    """The last checkpoint into ``runtime`` (its head), or None: replay the retention."""
    store = runtime.state_topic
    if store is None:
        return None
    store.ensure_topic()
    try:
        loaded = store.load()
    except (SnapshotFormatError, StateTopicError) as exc:
        log.warning(
            "reconcile checkpoint unreadable; replaying the retention", extra={"error": str(exc)}
        )
        return None
    if loaded is None:
        return None
    head, blobs = loaded
    settings = runtime.reconciler.settings
    if not head.fits(settings):
        log.warning(
            "reconcile checkpoint has other windows; replaying the retention",
            extra={"checkpoint_window_ms": head.window_ms, "window_ms": settings.window_ms},
        )
        store.head = None  # its blobs cannot be reused either: the next checkpoint is whole
        return None
    try:
        restored = decode_blobs(blobs, settings, runtime.clock)
    except SnapshotFormatError as exc:
        log.warning(
            "reconcile checkpoint unreadable; replaying the retention", extra={"error": str(exc)}
        )
        store.head = None
        return None
    runtime.use(restored)
    return head


def _inputs(
    settings: Settings,
    head: Head | None,
    since: int,
    timeout_s: float,
    ends: Callable[[Offsets], None],
) -> Iterator[Message]:
    """The inputs to replay: from the checkpoint's offsets (never before the retention
    horizon) or, without one, from the horizon; up to the topics' ends as they are now."""
    if head is None:
        yield from read_since(settings, list(INPUT_TOPICS), since, timeout_s=timeout_s, ends=ends)
        return
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"streamhub-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = partitions_of(consumer, list(INPUT_TOPICS))
        high = high_watermarks(consumer, partitions)
        ends(dict(high))
        by_time = starts_since(consumer, partitions, since)
        starts: Offsets = {}
        for where in partitions:
            horizon = by_time.get(where, high[where])  # nothing that late: nothing to read
            starts[where] = max(head.positions.get(where, horizon), horizon)
        yield from read_range(consumer, starts, high, timeout_s=timeout_s)
    finally:
        consumer.close()


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
        if results and not await publish(results):
            return
        runtime.checkpoint()  # after the publish: the state's judgements are all out

    async def publish(results: list[Result]) -> bool:
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
            return False
        runtime.published(results)
        return True

    app.timer(judge_every_s, name="judge")(judge)
    return app
