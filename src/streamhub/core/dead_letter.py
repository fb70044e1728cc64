"""The dead-letter record every stage writes to ``dlq.<stage>`` (``ops/dead_letter.avsc``).

A dead letter keeps the original bytes and says why; its placement (system, commit time,
record id, version) lets reconciliation count the change as rejected in its own window
instead of missing. Stages differ only in where they learn the placement from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a rejected change sits in its source, as far as it could be decoded."""

    system: str | None = None
    database: str | None = None
    commit_ts_ms: int | None = None
    record_id: str | None = None
    version: int | None = None
    position_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Original:
    """The message that could not be processed, when it came from Kafka."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    value: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    stage: str
    reason: str
    error_type: str
    failed_ts_ms: int
    institution_id: str | None = None
    table: str | None = None
    original: Original = field(default_factory=Original)
    placement: Placement = field(default_factory=Placement)

    def to_avro(self) -> dict[str, Any]:
        """The record in ``ops/dead_letter.avsc``'s shape."""
        o, p = self.original, self.placement
        return {
            "stage": self.stage,
            "reason": self.reason,
            "error_type": self.error_type,
            "institution_id": self.institution_id,
            "table": self.table,
            "original_topic": o.topic,
            "original_partition": o.partition,
            "original_offset": o.offset,
            "original_key": o.key,
            "original_value": o.value,
            "failed_ts_ms": self.failed_ts_ms,
            "system": p.system,
            "database": p.database,
            "commit_ts_ms": p.commit_ts_ms,
            "record_id": p.record_id,
            "version": p.version,
            "position_seq": p.position_seq,
        }
