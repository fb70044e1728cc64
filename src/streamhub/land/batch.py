"""The lander's buffer: rows per target, dead letters, and the offsets they cover.

Every consumed message ends in exactly one place — a row of some table or a dead letter —
and moves its partition's next offset; the offsets are committed only after all of it is
stored, so a crash at any point re-delivers the batch rather than losing it.

A target's rows are held as two parallel lists, the decoded records and their messages
(:class:`TableRows`); the insert takes the table column by column, each column built in one
pass over the records (:meth:`TableRows.columns`), so no row is ever copied into a list or
tuple of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
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
    """One row seen on its own (the drill, tests): ``values`` as its caller built them, if
    any — the insert never reads them, it builds each column from the records."""

    values: Sequence[Any]
    record: dict[str, Any]
    origin: Origin


_TOPIC, _PARTITION, _OFFSET = attrgetter("topic"), attrgetter("partition"), attrgetter("offset")


class TableRows(Sequence[PendingRow]):
    """One target's rows: decoded records and their messages, in consumption order."""

    __slots__ = ("origins", "records", "target")

    def __init__(
        self,
        target: Target,
        records: list[dict[str, Any]] | None = None,
        origins: list[Origin] | None = None,
    ) -> None:
        self.target = target
        self.records: list[dict[str, Any]] = records if records is not None else []
        self.origins: list[Origin] = origins if origins is not None else []

    @classmethod
    def of(cls, target: Target, rows: Iterable[PendingRow]) -> TableRows:
        if isinstance(rows, TableRows):
            return rows
        rows = list(rows)
        return cls(target, [r.record for r in rows], [r.origin for r in rows])

    def append(self, record: dict[str, Any], origin: Origin) -> None:
        self.records.append(record)
        self.origins.append(origin)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[PendingRow]:
        for record, origin in zip(self.records, self.origins, strict=True):
            yield PendingRow((), record, origin)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return TableRows(self.target, self.records[index], self.origins[index])
        return PendingRow((), self.records[index], self.origins[index])

    def select(self, keep: Iterable[int]) -> TableRows:
        """The rows at the indices ``keep``, in their order."""
        indices = list(keep)
        return TableRows(
            self.target, [self.records[i] for i in indices], [self.origins[i] for i in indices]
        )

    def columns(self) -> list[list[Any]]:
        """The rows column by column in ``target.columns`` order: one pass over the records per
        column (a field added to the schema later takes its default where it is absent)."""
        records, origins, defaults = self.records, self.origins, self.target.defaults
        out: list[list[Any]] = []
        for name in self.target.fields:
            if name in defaults:
                default = defaults[name]
                out.append([r.get(name, default) for r in records])
            else:
                out.append(list(map(itemgetter(name), records)))
        out.append(list(map(_TOPIC, origins)))
        out.append(list(map(_PARTITION, origins)))
        out.append(list(map(_OFFSET, origins)))
        return out


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
    rows: dict[str, tuple[Target, TableRows]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    messages: int = 0
    started: float | None = None  # monotonic time of the first message

    def _seen(self, origin: Origin, now: float) -> None:
        self.offsets[(origin.topic, origin.partition)] = origin.offset + 1
        self.messages += 1
        if self.started is None:
            self.started = now

    def add(self, target: Target, record: dict[str, Any], origin: Origin, now: float) -> None:
        """A decoded record that has every column's field (:meth:`Target.check`)."""
        held = self.rows.get(target.name)
        if held is None:
            held = self.rows[target.name] = (target, TableRows(target))
        held[1].append(record, origin)
        self._seen(origin, now)

    def add_row(self, target: Target, row: PendingRow, now: float) -> None:
        self.add(target, row.record, row.origin, now)

    def add_dead(self, dead: DeadLetter, now: float) -> None:
        self.dead.append(dead)
        self._seen(dead.origin, now)

    def due(self, now: float, max_rows: int, max_age_s: float) -> bool:
        if self.started is None:
            return False
        return self.messages >= max_rows or now - self.started >= max_age_s

    def due_in(self, now: float, max_age_s: float) -> float | None:
        """Seconds until the oldest message is ``max_age_s`` old; None when empty."""
        if self.started is None:
            return None
        return max(0.0, self.started + max_age_s - now)

    def forget_partitions(self, revoked: set[tuple[str, int]]) -> None:
        """Drop what came from partitions this lander no longer owns: their new owner
        re-reads it from the last commit (landing twice is harmless)."""
        for name, (target, rows) in list(self.rows.items()):
            kept = (i for i, o in enumerate(rows.origins) if (o.topic, o.partition) not in revoked)
            self.rows[name] = (target, rows.select(kept))
        self.dead = [d for d in self.dead if (d.origin.topic, d.origin.partition) not in revoked]
        for tp in revoked:
            self.offsets.pop(tp, None)


@dataclass
class Lane:
    """One of the lander's independent buffers and the age at which it is due.

    Every topic belongs to exactly one lane — ``std`` for topics routed to an entity's table,
    ``ops`` for the others — so the lanes' offsets are disjoint and a lane's flush commits
    only its own: the commit rule (after the insert, the dead letters and the landed counts
    are acknowledged) holds per lane.
    """

    name: str
    max_age_s: float
    batch: Batch = field(default_factory=Batch)

    def due(self, now: float, max_rows: int) -> bool:
        return self.batch.due(now, max_rows, self.max_age_s)

    def due_in(self, now: float) -> float | None:
        return self.batch.due_in(now, self.max_age_s)
