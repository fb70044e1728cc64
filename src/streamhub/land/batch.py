"""The lander's buffer: rows per target, dead letters, and the offsets they cover.

Every consumed message ends in exactly one place — a row of some table or a dead letter —
and moves its partition's next offset; the offsets are committed only after all of it is
stored, so a crash at any point re-delivers the batch rather than losing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamhub.core.dead_letter import DeadLetterRecord, Original, Placement
from streamhub.land.targets import Target


@dataclass(frozen=True, slots=True)
class Origin:
    """The Kafka message a row or dead letter came from (bytes kept for the dead letter)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class PendingRow:
    values: list[Any]
    record: dict[str, Any]
    origin: Origin


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that will not land; its record is stamped when the flush sends it."""

    origin: Origin
    reason: str
    error_type: str
    institution_id: str | None = None
    table: str | None = None
    placement: Placement = field(default_factory=Placement)  # system, commit time, version

    def record(self, failed_ts_ms: int) -> DeadLetterRecord:
        o = self.origin
        return DeadLetterRecord(
            stage="land",
            reason=self.reason,
            error_type=self.error_type,
            failed_ts_ms=failed_ts_ms,
            institution_id=self.institution_id,
            table=self.table,
            original=Original(o.topic, o.partition, o.offset, o.key, o.value),
            placement=self.placement,
        )


@dataclass
class Batch:
    rows: dict[str, tuple[Target, list[PendingRow]]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    messages: int = 0
    started: float | None = None  # monotonic time of the first message

    def _seen(self, origin: Origin, now: float) -> None:
        self.offsets[(origin.topic, origin.partition)] = origin.offset + 1
        self.messages += 1
        if self.started is None:
            self.started = now

    def add_row(self, target: Target, row: PendingRow, now: float) -> None:
        self.rows.setdefault(target.name, (target, []))[1].append(row)
        self._seen(row.origin, now)

    def add_dead(self, dead: DeadLetter, now: float) -> None:
        self.dead.append(dead)
        self._seen(dead.origin, now)

    def due(self, now: float, max_rows: int, max_age_s: float) -> bool:
        if self.started is None:
            return False
        return self.messages >= max_rows or now - self.started >= max_age_s

    def forget_partitions(self, revoked: set[tuple[str, int]]) -> None:
        """Drop what came from partitions this lander no longer owns: their new owner
        re-reads it from the last commit (landing twice is harmless)."""
        for name, (target, rows) in list(self.rows.items()):
            kept = [r for r in rows if (r.origin.topic, r.origin.partition) not in revoked]
            self.rows[name] = (target, kept)
        self.dead = [d for d in self.dead if (d.origin.topic, d.origin.partition) not in revoked]
        for tp in revoked:
            self.offsets.pop(tp, None)
