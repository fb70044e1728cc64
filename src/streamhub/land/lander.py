"""The ClickHouse lander: std.* and ops topics → ClickHouse, batched, at-least-once, idempotent.

Guarantees: a consumed message is committed only after its row is stored in ClickHouse (or
its dead letter acknowledged by Kafka) and the flush's ops.landed_counts are acknowledged.
Two independent buffers (:class:`~streamhub.land.batch.Lane`) hold the std.* topics (flushed
after ``flush_ms``) and the ops topics (after ``ops_flush_ms``, slower: each insert has a
fixed cost), so a latency-critical flush inserts only std.* tables; a topic belongs to one
buffer, and each flush commits only its own buffer's offsets.
A crash at any point re-delivers the uncommitted batch; landing it again changes nothing
(ReplacingMergeTree keeps one row per record version; ops tables dedupe on their key).
Transient failures (ClickHouse or Kafka unavailable) are retried with backoff for
``retry_for_s``, then the lander stops without committing. A message that does not decode,
or a row ClickHouse refuses, goes to the dead-letter topic; the rest of the batch lands.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.window_counts import WindowCounts
from streamhub.kafka import probes
from streamhub.land.batch import Batch, DeadLetter, Lane, Origin
from streamhub.land.config import LanderConfig
from streamhub.land.dead_letters import dead_letter_for
from streamhub.land.drill import drill_from_env
from streamhub.land.errors import LanderConfigError, LandError, LandingFailedError
from streamhub.land.insert import BisectingInserter, landed_records
from streamhub.land.links import Opener, open_links
from streamhub.land.metrics import LandMetrics, land_metrics, observe_all
from streamhub.land.progress import Progress
from streamhub.land.retrying import Retrier, land_policy
from streamhub.land.targets import TARGETS, Target
from streamhub.log import get_logger
from streamhub.serde.errors import RegistryUnavailableError, SerdeError
from streamhub.serde.wire import MessageRef

log = get_logger(__name__)


@dataclass
class LanderStats:
    messages: int = 0
    rows: int = 0
    rows_by_target: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    batches: int = 0
    retries: int = 0
    started: float = 0.0  # the clock's monotonic time when the lander was made


class Lander:
    """Run with :meth:`run` (blocking; in a thread for tests), end with :meth:`stop`."""

    def __init__(
        self,
        config: LanderConfig,
        progress_out: TextIO | None = sys.stderr,
        clock: Clock = SYSTEM_CLOCK,
        opener: Opener = open_links,
        metrics: LandMetrics | None = None,
    ) -> None:
        unknown = sorted(t for t, target in config.routes.items() if target not in TARGETS)
        if unknown:
            raise LanderConfigError(f"topics {', '.join(unknown)} route to no known target table")
        self.config = config
        self.stats = LanderStats(started=clock.monotonic())
        self._newest_commit_ms: dict[str, int] = {}
        self._clock = clock
        self._opener = opener
        self._stop = threading.Event()
        self._progress = Progress(self.stats, progress_out, config.progress_every_s, clock)
        self._metrics = metrics or land_metrics()
        self._targets = {topic: TARGETS[name] for topic, name in config.routes.items()}
        self._std = Lane("std", config.flush_ms / 1000)
        self._ops = Lane("ops", config.ops_flush_ms / 1000)
        self._lanes = (self._std, self._ops)
        self._lane_of = {
            topic: self._ops if target.entity is None else self._std
            for topic, target in self._targets.items()
        }
        self._assigned_at: float | None = None
        self._last_message_at: float | None = None
        self._drill = drill_from_env()  # the fault-injection drill, or nothing (the default)
        self._retry = Retrier(land_policy(config.retry_for_s), clock, self._on_retry)

    def stop(self) -> None:
        """Ask the loop to flush, commit and return; safe from any thread or signal handler."""
        self._stop.set()

    # -- rebalances -----------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = self._assigned_at or self._clock.monotonic()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._flush_all(consumer)
        except LandError as exc:  # the new owner re-reads the uncommitted messages
            log.warning(
                "flush on revoke failed; dropping the uncommitted batch", extra={"error": str(exc)}
            )
            revoked = {(tp.topic, tp.partition) for tp in partitions}
            for lane in self._lanes:
                lane.batch.forget_partitions(revoked)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> LanderStats:
        """Land until :meth:`stop` (or idle past ``until_idle_s``); flush and commit on the way
        out. Raises LandingFailedError (and commits nothing more) on a failure retries cannot
        fix."""
        cfg = self.config
        links = self._opener(cfg, self._clock, self._on_assign, self._on_revoke)
        self._links, consumer = links, links.consumer
        self._inserter = self._drill(
            BisectingInserter(
                links.client, cfg.database, self._retry, self._dead_letter, links.insert_writer
            )
        )
        failed = False
        try:
            while not self._stop.is_set() and not self._idle():
                probes.beat("land")
                messages = consumer.consume(num_messages=cfg.consume_batch, timeout=self._wait())
                now = self._clock.monotonic()
                for message in messages:
                    self._take(message, now)
                now = self._clock.monotonic()
                for lane in self._lanes:
                    if lane.due(now, cfg.flush_rows):
                        self._flush(consumer, lane)
                self._progress.maybe_report(consumer)
            self._flush_all(consumer)
        except Exception:
            failed = True
            self._metrics.errors.labels("fatal").inc()
            raise
        finally:
            consumer.close()  # auto-commit is off: closing commits nothing
            links.outbox.close()
            links.client.close()
            self._progress.summary(failed)
        return self.stats

    def _wait(self) -> float:
        """How long the next poll may wait: until the first buffered batch is due (a poll
        waits its whole timeout unless ``consume_batch`` messages come, and a batch flushes
        only after the poll returns), at most ``flush_ms`` (and 500 ms), at least 10 ms."""
        now = self._clock.monotonic()
        wait = min(0.5, self.config.flush_ms / 1000)
        for lane in self._lanes:
            due_in = lane.due_in(now)
            if due_in is not None and due_in < wait:
                wait = due_in
        return max(0.01, wait)

    def _idle(self) -> bool:
        limit = self.config.until_idle_s
        if limit is None:
            return False
        since = self._last_message_at or self._assigned_at
        if since is None:  # never assigned: give the group join its time, then give up
            return self._clock.monotonic() - self.stats.started > limit + 30
        return self._clock.monotonic() - since > limit

    def _take(self, message: Message, now: float) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise LandingFailedError(f"Kafka consumer failed: {error}")
            log.warning("consumer error", extra={"error": str(error)})
            return
        self._last_message_at = now
        self.stats.messages += 1
        topic = message.topic() or ""
        origin = Origin(
            topic, message.partition() or 0, message.offset() or 0, message.key(), message.value()
        )
        target = self._targets[topic]
        batch = self._lane_of[topic].batch
        try:
            record = self._decode(origin)
            target.check(record)
            batch.add(target, record, origin, now)
        except (SerdeError, KeyError, TypeError, ValueError) as exc:
            batch.add_dead(self._dead_letter(origin, exc, None), now)

    def _decode(self, origin: Origin) -> dict[str, Any]:
        data = origin.value
        if data is None:
            raise ValueError("empty value (a tombstone); std and ops topics carry records only")
        ref = MessageRef(origin.topic, origin.partition, origin.offset)
        serde = self._links.serde
        try:
            value = serde.decode(data, ref).value
        except RegistryUnavailableError:  # a new schema id while the registry is away: wait
            value = self._retry(
                lambda: serde.decode(data, ref).value,
                f"decoding {ref}",
                lambda exc: isinstance(exc, RegistryUnavailableError),
            )
        if not isinstance(value, dict):
            raise TypeError(f"{ref}: decoded a {type(value).__name__}, not a record")
        return value

    # -- flush: insert, produce, commit ------------------------------------------------------
    def _flush_all(self, consumer: Consumer) -> None:
        """Flush both buffers (stop, idle exit, revoke): std.* first, then ops."""
        for lane in self._lanes:
            self._flush(consumer, lane)

    def _flush(self, consumer: Consumer, lane: Lane) -> None:
        """Insert ``lane``'s rows, send its dead letters and landed counts, then commit its
        offsets only (the other buffer's partitions are not in them)."""
        batch = lane.batch
        if not batch.offsets:
            return
        dead = list(batch.dead)
        counts = WindowCounts()
        landed: list[tuple[Target, list[dict[str, Any]]]] = []
        for target, rows in batch.rows.values():
            if not rows:
                continue
            landing = self._inserter.insert(target, rows)
            if not (landing.landed or landing.refused):
                continue  # every row dropped by the drill (land/drill.py)
            dead.extend(landing.refused)
            records = landed_records(landing)
            landed.append((target, records))
            if target.entity is not None:
                for record in records:
                    counts.add(target.entity, record)
        landed_ms = now_ms(self._clock)
        if dead:
            self._links.outbox.send_all(
                self._links.dlq_writer,
                self.config.dlq_topic,
                [(d.origin.key, d.record(landed_ms).to_avro()) for d in dead],
                self.config.retry_for_s,
            )
        if counts:
            self._links.outbox.send_all(
                self._links.counts_writer,
                self.config.landed_counts_topic,
                list(counts.events(landed_ms)),
                self.config.retry_for_s,
            )
        self._commit(consumer, batch.offsets)
        self._account(landed, dead, landed_ms)
        lane.batch = Batch()

    def _on_retry(self, what: str, exc: Exception) -> None:
        self.stats.retries += 1
        self._metrics.errors.labels("transient").inc()
        log.warning("transient failure, retrying", extra={"what": what, "error": str(exc)})

    def _commit(self, consumer: Consumer, offsets: dict[tuple[str, int], int]) -> None:
        partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]

        def commit() -> None:
            try:
                consumer.commit(offsets=partitions, asynchronous=False)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() in (
                    KafkaError.REBALANCE_IN_PROGRESS,
                    KafkaError.ILLEGAL_GENERATION,
                    KafkaError.UNKNOWN_MEMBER_ID,
                ):
                    # The partitions moved on: their new owner re-lands from the last commit.
                    log.warning("commit refused after a rebalance", extra={"error": str(error)})
                    return
                raise

        self._retry(commit, "committing offsets", _retriable_kafka)

    def _account(
        self,
        landed: list[tuple[Target, list[dict[str, Any]]]],
        dead: list[DeadLetter],
        landed_ms: int,
    ) -> None:
        stats, metrics = self.stats, self._metrics
        for target, rows in landed:
            stats.rows += len(rows)
            stats.rows_by_target[target.name] = stats.rows_by_target.get(target.name, 0)
            stats.rows_by_target[target.name] += len(rows)
            metrics.rows.labels(target.name).inc(len(rows))
            if target.entity is not None:
                self._account_records(target.entity, rows, landed_ms)
        stats.dead_letters += len(dead)
        stats.batches += 1
        metrics.batches.inc()
        if dead:
            metrics.errors.labels("dead_letter").inc(len(dead))

    def _account_records(
        self, entity: str, records: Sequence[dict[str, Any]], landed_ms: int
    ) -> None:
        metrics = self._metrics
        commits = [int(r["commit_time"].timestamp() * 1000) for r in records]
        # one latency per row, observed per flush: the same histogram as one observe per row
        observe_all(
            metrics.commit_to_queryable.labels(entity),
            [max(0.0, (landed_ms - commit_ms) / 1000) for commit_ms in commits],
        )
        institutions = [r["institution_id"] for r in records]
        per_institution = Counter(institutions)
        newest: dict[str, int] = dict.fromkeys(per_institution, 0)
        for institution, commit_ms in zip(institutions, commits, strict=True):
            if commit_ms > newest[institution]:
                newest[institution] = commit_ms
        for institution, count in per_institution.items():
            metrics.records.labels(institution).inc(count)
            known = max(self._newest_commit_ms.get(institution, 0), newest[institution])
            self._newest_commit_ms[institution] = known
            metrics.newest_commit.labels(institution).set(known / 1000)

    def _dead_letter(
        self, origin: Origin, exc: BaseException, record: dict[str, Any] | None
    ) -> DeadLetter:
        return dead_letter_for(self.config.routes.get(origin.topic, "?"), origin, exc, record)


def _retriable_kafka(exc: Exception) -> bool:
    """A commit failure Kafka says is worth retrying."""
    return isinstance(exc, KafkaException) and bool(exc.args[0].retriable())
