"""What the Faust app hands the standardizer and what it sends on: plain bytes.

The app stays a transport (consume, batch, send, commit); the standardizer is a
pure-ish batch function from raw messages to output messages, testable without
Faust. Outputs of one batch are all sent before the batch's offsets are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class OutMessage:
    topic: str
    key: bytes | None
    value: bytes


class BatchProcessor(Protocol):
    def process(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        """Every input yields at least one output (a std record, a quality event or a dead
        letter), so nothing is dropped silently; raising means the batch is retried."""
        ...
