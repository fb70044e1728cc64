"""A confluent-kafka batch loop with streamhub's at-least-once commit rule.

One thread runs, until stopped::

    consume(≤ max_messages, within within_s) → handle(batch) → produce every output
        → flush: every delivery acknowledged → commit the batch's offsets (synchronously)

* **Commit rule.** A batch's offsets are committed only after every output of that batch was
  acknowledged by the broker (delivery callbacks all without error, nothing left after the
  flush). A failing ``handle`` or delivery is retried in place, the whole batch, with the
  :class:`~streamhub.core.retry.RetryPolicy`; when the retries run out the loop gives up
  (by default :func:`~streamhub.kafka.faust_app.exit_worker`: the process ends at once without
  committing, and a restart re-reads the batch from the last commit, exactly as after
  ``kill -9``). A retried batch may send some outputs twice: at-least-once, never lost.
* **Rebalances.** librdkafka runs the assignment callbacks only inside ``consume()``, and the
  loop calls ``consume()`` only after the previous batch is delivered and committed; so when a
  partition is revoked nothing taken from it is left uncommitted, and what librdkafka had
  prefetched but not handed out is dropped and re-read by the new owner. A commit refused
  because the group moved on (the member was fenced, a rebalance is in progress) is logged
  and the loop goes on: the outputs are delivered, the new owner re-reads from the last
  commit (duplicates, no loss).
* **Stop.** :meth:`BatchLoop.run` returns once ``stop`` is set and the batch in hand is
  delivered and committed; the consumer then leaves its group (its partitions move at once).

It is a plain thread so that the caller's event loop stays free: the Faust worker hosts it
with :mod:`streamhub.kafka.hosted`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_call
from streamhub.kafka import probes
from streamhub.kafka.errors import BatchFailedError, DeliveryError, KafkaIOError
from streamhub.kafka.faust_app import exit_worker

log = logging.getLogger(__name__)


class Outgoing(Protocol):
    """What ``handle`` returns for each output (the standardizer's ``OutMessage`` is one)."""

    @property
    def topic(self) -> str: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes: ...


#: The batch's messages (none with an error) → the outputs to deliver before its commit.
Handler = Callable[[list[Message]], Sequence[Outgoing]]
#: Called after a batch is delivered and committed: (messages, outputs, seconds it took).
OnBatch = Callable[[list[Message], Sequence[Outgoing], float], None]
#: Called before each retry of a failed batch: (attempt that failed, wait, its failure).
OnRetry = Callable[[int, float, Exception], None]
#: Ends the worker when a batch keeps failing; must not return.
GiveUp = Callable[[Exception, BaseException | None], NoReturn]


@dataclass(frozen=True, slots=True)
class BatchLoopOptions:
    bootstrap: str
    group: str
    topics: tuple[str, ...]
    #: the largest batch handed to ``handle``
    max_messages: int = 1000
    #: a smaller batch is handed over once this long has passed since the consume began
    within_s: float = 0.1
    #: how long the outputs of one attempt may take to be acknowledged
    flush_timeout_s: float = 30.0
    #: a member killed with -9 is dropped after this, and only then are its partitions moved
    session_timeout_ms: int = 10_000
    #: more librdkafka consumer / producer properties (override the defaults below)
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    producer_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.within_s <= 0:
            raise ValueError("max_messages must be >= 1 and within_s > 0")
        if not self.topics:
            raise ValueError("a batch loop needs at least one topic")

    def consumer_properties(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group,
            "enable.auto.commit": False,
            # offsets are committed explicitly, per batch
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": max(1000, self.session_timeout_ms // 3),
            **self.consumer_config,
        }

    def producer_properties(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "acks": "all",
            # per-partition order survives the producer's own retries
            "enable.idempotence": True,
            "linger.ms": 5,
            **self.producer_config,
        }


def where(batch: Sequence[Message]) -> str:
    """``topic[partition]@offset`` of a batch's first message, for logs and errors."""
    first = batch[0]
    return f"{first.topic()}[{first.partition()}]@{first.offset()}"


def batch_offsets(batch: Sequence[Message]) -> list[TopicPartition]:
    """The offsets to commit once ``batch`` is done: one past its last message per partition."""
    last: dict[tuple[Any, Any], Any] = {}
    for m in batch:
        last[(m.topic(), m.partition())] = m.offset()
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class BatchLoop:
    """Consume, handle, deliver, commit; see the module docstring for the guarantees."""

    def __init__(
        self,
        options: BatchLoopOptions,
        handle: Handler,
        *,
        retry: RetryPolicy | None = None,
        on_batch: OnBatch | None = None,
        on_retry: OnRetry | None = None,
        give_up: GiveUp = exit_worker,
        clock: Clock = SYSTEM_CLOCK,
        consumer: Consumer | None = None,
        producer: Producer | None = None,
    ) -> None:
        self.options = options
        self.handle = handle
        self.retry = retry or RetryPolicy()
        self.on_batch = on_batch
        self.on_retry = on_retry
        self.give_up = give_up
        self.clock = clock
        self._consumer = consumer
        self._producer = producer

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(self.options.consumer_properties())
        return self._consumer

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self.options.producer_properties())
        return self._producer

    def run(self, stop: threading.Event) -> None:
        """Process batches until ``stop`` is set (checked between batches, at least every
        ``within_s``); then leave the group. Blocks: run it in its own thread."""
        consumer = self.consumer
        consumer.subscribe(
            list(self.options.topics),
            on_assign=self._assigned,
            on_revoke=self._revoked,
            on_lost=self._lost,
        )
        probes.require(f"batch-loop:{self.options.group}")
        try:
            while not stop.is_set():
                probes.beat(f"batch-loop:{self.options.group}")
                batch = self.take()
                if batch:
                    self.run_batch(batch)
        finally:
            # everything taken was committed (or the process has already exited)
            consumer.close()
            left = self.producer.flush(self.options.flush_timeout_s)
            if left:
                log.warning("%d outputs still unacknowledged at stop", left)

    def take(self) -> list[Message]:
        """Up to ``max_messages`` messages, or what arrived within ``within_s``."""
        messages = self.consumer.consume(self.options.max_messages, self.options.within_s)
        if not any(m.error() for m in messages):
            return messages
        batch = []
        for m in messages:
            error = m.error()
            if error is None:
                batch.append(m)
            elif error.fatal():
                raise KafkaIOError(f"the consumer of group {self.options.group} failed: {error}")
            else:  # informational (a topic not there yet, a broker reconnecting)
                log.warning("consumer of group %s: %s", self.options.group, error)
        return batch

    def run_batch(self, batch: list[Message]) -> None:
        """Handle and deliver ``batch`` (retried in place), then commit its offsets."""
        started = self.clock.monotonic()
        what = f"batch of {len(batch)} from {where(batch)}"

        def retrying(attempt: int, delay: float, exc: Exception) -> None:
            if self.on_retry is not None:
                self.on_retry(attempt, delay, exc)
            log.warning(
                "%s failed (attempt %d/%s), retrying in %.1fs: %r",
                what,
                attempt,
                self.retry.attempts or "-",
                delay,
                exc,
            )

        try:
            outputs = retry_call(
                lambda: self.attempt(batch),
                self.retry,
                what=what,
                on_retry=retrying,
                clock=self.clock,
            )
        except RetriesExhaustedError as exc:
            error = BatchFailedError(
                f"{what} failed {exc.attempts} times: {exc.last!r}; "
                "exiting without committing it (a restart re-reads it)"
            )
            self.give_up(error, exc.last)
        self.commit(batch)
        if self.on_batch is not None:
            self.on_batch(batch, outputs, self.clock.monotonic() - started)

    def attempt(self, batch: list[Message]) -> Sequence[Outgoing]:
        outputs = self.handle(batch)
        self.deliver(outputs)
        return outputs

    def deliver(self, outputs: Sequence[Outgoing]) -> None:
        """Produce every output and wait until each is acknowledged; raise if one is not."""
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        producer = self.producer
        for out in outputs:
            while True:
                try:
                    producer.produce(out.topic, out.value, out.key, on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.05)
        timeout = self.options.flush_timeout_s
        left = producer.flush(timeout)
        if left:
            raise DeliveryError(f"{left} outputs not acknowledged within {timeout:g}s")
        if failures:
            raise DeliveryError(
                f"{len(failures)} of {len(outputs)} outputs not delivered, first: {failures[0]}"
            )

    def commit(self, batch: Sequence[Message]) -> None:
        offsets = batch_offsets(batch)
        try:
            committed = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self._not_committed(batch, str(exc.args[0] if exc.args else exc))
            return
        refused = [tp for tp in committed or () if tp.error is not None]
        if refused:
            self._not_committed(
                batch, "; ".join(f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in refused)
            )

    def _not_committed(self, batch: Sequence[Message], reason: str) -> None:
        # the outputs are delivered: whoever owns the partitions next re-reads them from the
        # last commit, which only duplicates
        log.warning(
            "offsets of the batch of %d from %s not committed (%s); it will be re-read",
            len(batch),
            where(batch),
            reason,
        )

    def _assigned(self, _: Any, partitions: list[TopicPartition]) -> None:
        log.info("group %s: assigned %s", self.options.group, _names(partitions))

    def _revoked(self, _: Any, partitions: list[TopicPartition]) -> None:
        # consume() runs this only between batches: nothing taken is left uncommitted
        log.info("group %s: revoked %s", self.options.group, _names(partitions))

    def _lost(self, _: Any, partitions: list[TopicPartition]) -> None:
        log.warning(
            "group %s: lost %s (session expired); they are re-read from the last commit",
            self.options.group,
            _names(partitions),
        )


def _names(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
