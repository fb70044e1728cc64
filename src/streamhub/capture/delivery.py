"""Which source position is safe to store: everything before it acknowledged by Kafka.

Messages are numbered as they are handed to the producer. A checkpoint taken at
a transaction boundary remembers the last number sent before it; it becomes
safe once every message up to that number has been acknowledged, whatever the
order of the acknowledgements. A failed delivery poisons the tracker: the
connector must stop and restart from its last safe checkpoint.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from streamhub.capture.errors import DeliveryFailedError


@dataclass(frozen=True)
class Checkpoint:
    last_sent: int
    state: dict[str, Any]  # what to store: resume position, snapshot progress, counters


class AckTracker:
    def __init__(self) -> None:
        self.sent = 0
        self._acked_through = 0  # every message numbered <= this is acknowledged
        self._acked_ahead: set[int] = set()
        self._checkpoints: deque[Checkpoint] = deque()
        self.failure: str | None = None

    def next_number(self) -> int:
        self.sent += 1
        return self.sent

    def acknowledged(self, number: int, error: str | None = None) -> None:
        if error is not None:
            self.failure = self.failure or error
            return
        if number == self._acked_through + 1:
            self._acked_through = number
            ahead = self._acked_ahead
            while self._acked_through + 1 in ahead:
                self._acked_through += 1
                ahead.discard(self._acked_through)
        else:
            self._acked_ahead.add(number)

    def checkpoint(self, state: dict[str, Any]) -> None:
        self._checkpoints.append(Checkpoint(self.sent, state))

    def covers(self, number: int) -> bool:
        """Every message numbered up to ``number`` is acknowledged."""
        return number <= self._acked_through

    @property
    def pending(self) -> int:
        return self.sent - self._acked_through

    def safe(self) -> dict[str, Any] | None:
        """The newest checkpoint whose messages are all acknowledged (popped), if any."""
        if self.failure is not None:
            raise DeliveryFailedError(self.failure)
        latest = None
        while self._checkpoints and self._checkpoints[0].last_sent <= self._acked_through:
            latest = self._checkpoints.popleft().state
        return latest
