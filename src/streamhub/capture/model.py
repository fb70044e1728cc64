"""What engine readers hand to the connector task: tables, row events, transaction ends.

Readers decode the engine's log into these engine-neutral events; everything after
(Avro schemas, envelopes, keys, positions, counts) is shared by every engine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Op = Literal["c", "u", "d", "r"]
# Avro shapes a column value can take. Values in events are Python objects:
# int, bool, float, str, bytes, decimal.Decimal (for "decimal": written as text),
# datetime.date ("date"), naive datetime ("local_timestamp_ms", source local time),
# aware datetime ("timestamp_ms").
ValueKind = Literal[
    "int",
    "long",
    "boolean",
    "double",
    "decimal",
    "string",
    "bytes",
    "date",
    "local_timestamp_ms",
    "timestamp_ms",
]


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    source_type: str  # the engine's own type name, e.g. int8, varchar(20), DECIMAL(10,2)
    kind: ValueKind
    key: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class TableInfo:
    """A source table as the log describes it now; a schema change makes a new instance."""

    database: str
    schema: str | None  # PostgreSQL schema; None on MySQL/MariaDB
    name: str
    columns: tuple[ColumnInfo, ...]

    # cached: asked for every event (frozen dataclasses still allow cached_property)
    @cached_property
    def _hash(self) -> int:
        return hash((self.database, self.schema, self.name, self.columns))

    def __hash__(self) -> int:  # an explicit hash: dataclass keeps it, lookups stay cheap
        return self._hash

    @cached_property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)

    @cached_property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @cached_property
    def full_name(self) -> str:
        """``database.schema.table`` (``database.table`` on MySQL): how counts, positions and
        dead letters name the table."""
        return f"{self.database}.{self.qualified}"

    @cached_property
    def layout(self) -> str:
        """Identity of this column layout: equal layouts share one Avro schema version."""
        text = "|".join(f"{c.name}:{c.kind}:{int(c.key)}:{int(c.nullable)}" for c in self.columns)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        return self.layout


@dataclass
class RowEvent:
    """One row change read from the log (or a snapshot read, op ``r``)."""

    table: TableInfo
    op: Op
    before: dict[str, object] | None
    after: dict[str, object] | None
    position: str  # LSN like 0/16B3748, or a GTID like 0-1-123
    position_seq: int  # grows with the log: versions rows downstream
    txid: str | None
    commit_ts_ms: int
    snapshot: str = "false"  # false, true, last, incremental
    size_bytes: int = 0


@dataclass
class UndecodableValue:
    """A value the connector's encoding cannot decode: it goes to dlq.capture, the row counts."""

    table: TableInfo
    op: Op
    column: str
    raw: bytes
    reason: str
    key: dict[str, object]
    position: str
    position_seq: int
    commit_ts_ms: int


@dataclass
class TransactionEnd:
    """The end of a source transaction: ``resume`` restarts the log just after it."""

    resume: str
    position_seq: int
    commit_ts_ms: int


@dataclass
class Watermark:
    """A snapshot watermark written by the agent into the source log (DBLog-style)."""

    kind: Literal["low", "high"]
    chunk_id: str
    position_seq: int


Event = RowEvent | UndecodableValue | TransactionEnd | Watermark


@dataclass
class SourceHead:
    """Where the source log is now, for lag: its position and, when known, bytes behind."""

    position_seq: int
    position: str
    bytes_behind: int | None = None


@dataclass
class Chunk:
    """Rows of one snapshot chunk, ordered by primary key.

    A value the connector's encoding cannot decode is None in its row and listed in
    ``undecodable`` (op ``r``), so the task can dead-letter it like a logged one.
    """

    table: TableInfo
    rows: list[dict[str, object]] = field(default_factory=list)
    last_key: tuple[object, ...] | None = None
    undecodable: list[UndecodableValue] = field(default_factory=list)
