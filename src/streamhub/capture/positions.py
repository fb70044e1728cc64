"""Connector positions, kept in a compacted Kafka topic rather than on the agent's disk.

A position is the JSON state a connector needs to resume: the source log
position, snapshot progress per table, and the per-minute counts still open.
It is written only after Kafka acknowledged every change before it, so any
agent that takes the connector over resumes without a gap.
"""

from __future__ import annotations

from typing import Any

from streamhub.capture.errors import PositionStoreError
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.kafka.compacted_log import CompactedLog


class PositionStore:
    def __init__(self, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock  # stamps saved_ms
        self._log = CompactedLog(
            settings.kafka_bootstrap,
            settings.capture_positions_topic,
            purpose="capture positions",
            error=PositionStoreError,
        )
        self._log.ensure_topic()

    def load(self, connector: str) -> dict[str, Any] | None:
        """The connector's last stored state (None: never captured, snapshot from scratch)."""
        state: dict[str, Any] | None = None
        for key, value in self._log.replay():
            if key == {"connector": connector}:
                state = value
        return state

    def save(self, connector: str, state: dict[str, Any]) -> None:
        """Store the state; returns once the broker has acknowledged it."""
        self._log.append([({"connector": connector}, {**state, "saved_ms": now_ms(self.clock)})])

    def forget(self, connector: str) -> None:
        """Drop the connector's position: the next start snapshots again."""
        self._log.append([({"connector": connector}, None)])
