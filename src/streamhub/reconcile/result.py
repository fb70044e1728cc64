"""Results: one per judgement of a window, shaped like ``ops.reconciliation``.

Statuses: MATCH, MISSING (source > landed + rejected), EXCESS (the reverse; the
issue's "extra"), PENDING (inside the grace period; only :meth:`preview` shows it)
and LATE, proposed as a new symbol appended to the enum: a window that matches
now but was judged MISSING or EXCESS before. A window is re-judged whenever its
evidence changes, so consumers keep the highest ``revision`` per window
(ClickHouse: ReplacingMergeTree versioned by ``revision``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    MATCH = "MATCH"
    PENDING = "PENDING"
    MISSING = "MISSING"
    EXCESS = "EXCESS"
    LATE = "LATE"  # proposed: appended to the enum's symbols (BACKWARD-compatible)


# Fields added to reconciliation.avsc after its first version (optional, with defaults).
PROPOSED_FIELDS = ("database", "duplicates", "revision", "repaired")


@dataclass(frozen=True, slots=True)
class Result:
    institution_id: str
    system: str
    database: str
    table: str  # qualified (schema.table / table), as in std records and ops.quality
    window_start_ms: int
    window_end_ms: int
    source_changes: int
    standardized: int
    dead_lettered: int
    landed: int  # distinct record versions where the lander sent ids, else summed increments
    status: Status
    difference: int  # landed + dead_lettered - source_changes
    detail: str | None
    checked_ts_ms: int
    duplicates: int = 0  # landed events beyond the distinct versions (replayed flushes)
    revision: int = 0  # 0 for the first judgement of the window, +1 per re-judgement
    repaired: int = 0  # changes credited by targeted re-snapshots (counted in landed)

    def to_avro(self) -> dict[str, Any]:
        """The ``ops.reconciliation`` value (with :data:`PROPOSED_FIELDS`)."""
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Result:
        """From a decoded value; fields a newer writer added are ignored, missing ones
        take their defaults (``database`` empty when an old writer did not send it)."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["database"] = known.get("database") or ""
        return cls(**{**known, "status": Status(data["status"])})

    def same_verdict(self, other: Result) -> bool:
        """Equal apart from when it was checked and its revision: no need to emit again."""
        mine, theirs = self.to_avro(), other.to_avro()
        for name in ("checked_ts_ms", "revision"):
            mine.pop(name)
            theirs.pop(name)
        return mine == theirs
