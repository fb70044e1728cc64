"""Connector positions, kept in a compacted Kafka topic rather than on the agent's disk.

A position is the JSON state a connector needs to resume: the source log
position, snapshot progress per table, and the per-minute counts still open.
It is written only after Kafka acknowledged every change before it, so any
agent that takes the connector over resumes without a gap.

A running connector stores its positions without waiting (:meth:`PositionStore.send`): the
write is acknowledged while the connector reads on, and only then does the callback run
(from :meth:`PositionStore.poll`, on the connector's own thread), which is where the source
is told it may release its log. Start and shutdown use the waiting :meth:`PositionStore.save`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamhub.capture.errors import PositionStoreError
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.kafka.compacted_log import CompactedLog

Saved = Callable[[dict[str, Any]], None]


def record_bytes(data: dict[str, Any] | None) -> bytes | None:
    """A key or value as the compacted log writes it (sorted, compact JSON): a connector's
    key must be byte-identical on every write for compaction to keep only the last."""
    if data is None:
        return None
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class PositionStore:
    def __init__(self, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock  # stamps saved_ms
        self.topic = settings.capture_positions_topic
        self._log = CompactedLog(
            settings.kafka_bootstrap,
            self.topic,
            purpose="capture positions",
            error=PositionStoreError,
        )
        self._log.ensure_topic()
        # the writes: idempotent, every replica acknowledges, in the order they were sent
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "client.id": "streamhub-capture-positions",
            }
        )
        self._failure: str | None = None
        self._in_flight = 0
        self.timeout_s = 30.0

    def load(self, connector: str) -> dict[str, Any] | None:
        """The connector's last stored state (None: never captured, snapshot from scratch)."""
        state: dict[str, Any] | None = None
        for key, value in self._log.replay():
            if key == {"connector": connector}:
                state = value
        return state

    def send(self, connector: str, state: dict[str, Any], saved: Saved) -> None:
        """Store the state without waiting; ``saved(state)`` runs from a later :meth:`poll`
        or :meth:`flush` once the broker acknowledged it (writes are acknowledged in order).
        A refused write makes the next ``poll``/``flush`` raise."""
        value = {**state, "saved_ms": now_ms(self.clock)}
        self._in_flight += 1
        self._producer.produce(
            self.topic,
            key=record_bytes({"connector": connector}),
            value=record_bytes(value),
            on_delivery=partial(self._delivered, state, saved),
        )

    def _delivered(
        self, state: dict[str, Any], saved: Saved, err: KafkaError | None, _msg: Message
    ) -> None:
        self._in_flight -= 1
        if err is not None:
            self._failure = self._failure or str(err)
            return
        if self._failure is None:
            saved(state)

    def poll(self) -> None:
        """Run the callbacks of acknowledged writes; raises if a write was refused."""
        if self._in_flight:
            self._producer.poll(0)
        self._raise_failure()

    def flush(self, timeout_s: float) -> int:
        """Wait for the writes sent so far (their callbacks run); how many are still pending."""
        left = int(self._producer.flush(timeout_s))
        self._raise_failure()
        return left

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise PositionStoreError(
                f"capture positions topic {self.topic}: a position write was not acknowledged "
                f"({self._failure}); the connector restarts from its last stored position"
            )

    def save(self, connector: str, state: dict[str, Any]) -> None:
        """Store the state; returns once the broker has acknowledged it."""
        stored: list[dict[str, Any]] = []
        self.send(connector, state, stored.append)
        left = self.flush(self.timeout_s)
        if left or not stored:
            raise PositionStoreError(
                f"capture positions topic {self.topic}: write not acknowledged within "
                f"{self.timeout_s:.0f}s ({left} pending); the position was not stored"
            )

    def forget(self, connector: str) -> None:
        """Drop the connector's position: the next start snapshots again."""
        self._log.append([({"connector": connector}, None)])
