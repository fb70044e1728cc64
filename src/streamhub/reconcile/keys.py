"""How the stages' different table names map onto one window key.

The capture agent names a table ``database.schema.table`` (PostgreSQL) or
``database.table`` (MariaDB/MySQL): that is the capture key's ``table``, the
dead letters' ``table`` at the capture and standardize stages, and what
``ops.source_counts`` splits into ``database`` + ``table`` at the first dot.
The std records and ``ops.landed_counts`` carry the *qualified* name only
(``schema.table`` or ``table``). So the key is (institution, database, qualified
table): the same triple the standardizer hashes into ``record_id``, unique within
an institution even when two of its databases hold a table of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamhub.reconcile.errors import WindowShapeError


@dataclass(frozen=True, slots=True, order=True)
class TableKey:
    institution_id: str
    database: str
    table: str  # qualified: schema.table on PostgreSQL, table on MariaDB/MySQL

    @classmethod
    def from_full(cls, institution_id: str, full_name: str) -> TableKey:
        """From the capture agent's ``database.schema.table`` / ``database.table``."""
        database, dot, table = full_name.partition(".")
        if not dot or not database or not table:
            raise WindowShapeError(
                f"institution {institution_id}: table name {full_name!r} is not "
                "database.[schema.]table as the capture agent writes it"
            )
        return cls(institution_id, database, table)

    @property
    def full_name(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(frozen=True, slots=True, order=True)
class WindowKey:
    table: TableKey
    start_ms: int


def window_start(ts_ms: int, window_ms: int) -> int:
    return ts_ms - ts_ms % window_ms
