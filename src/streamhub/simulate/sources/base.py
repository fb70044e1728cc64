"""What the simulator needs from an engine: create databases, apply steps, alter, read back."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from streamhub.config import Settings
from streamhub.simulate.batch import Delete, Insert, Step, Update, identical_runs
from streamhub.simulate.dialect import TableSpec
from streamhub.simulate.errors import DialectError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class SourceDatabases(ABC):
    """One engine's databases, one connection per database, one transaction per batch."""

    engine: str
    quote_char: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connections: dict[str, Any] = {}

    def quote(self, name: str) -> str:
        if not IDENTIFIER.fullmatch(name):
            raise DialectError(f"{name!r} is not a plain SQL identifier; rename it in the dialect")
        return f"{self.quote_char}{name}{self.quote_char}"

    def create_table_sql(self, table: TableSpec, options: str) -> str:
        columns = ", ".join(f"{self.quote(n)} {c.type}" for n, c in table.columns.items())
        return (
            f"CREATE TABLE {self.quote(table.name)} ({columns}, "
            f"PRIMARY KEY ({self.quote(table.primary_key)})) {options}"
        ).strip()

    @abstractmethod
    def recreate(self, database: str, tables: Sequence[TableSpec], options: str) -> None:
        """Drop the database if it exists and create it with empty tables."""

    @abstractmethod
    def drop(self, database: str) -> None:
        """Drop the database if it exists (and, on PostgreSQL, its inactive slots)."""

    @abstractmethod
    def connect(self, database: str) -> Any:
        """A new DB-API connection to ``database`` (autocommit off)."""

    def connection(self, database: str) -> Any:
        conn = self._connections.get(database)
        if conn is None:
            conn = self._connections[database] = self.connect(database)
        return conn

    def forget(self, database: str) -> None:
        """Close our connection to a database about to be dropped."""
        stale = self._connections.pop(database, None)
        if stale is not None:
            stale.close()

    def apply(self, database: str, steps: list[Step]) -> None:
        """Write the steps in one transaction."""
        conn = self.connection(database)
        try:
            with conn.cursor() as cur:
                for step in steps:
                    if isinstance(step, Insert):
                        self.insert(cur, step)
                    elif isinstance(step, Update):
                        self._update(cur, step)
                    else:
                        self.delete(cur, step)
            conn.commit()
        except Exception:
            conn.rollback()
            raise

    def _update(self, cur: Any, step: Update) -> None:
        sets = ", ".join(f"{self.quote(c)} = %s" for c in step.columns)
        where = f"WHERE {self.quote(step.key_column)} = %s"
        single = f"UPDATE {self.quote(step.table)} SET {sets} {where}"
        pending: list[tuple[object, ...]] = []
        for values, keys in identical_runs(step.rows):
            if len(keys) == 1:
                pending.append((*values, keys[0]))
                continue
            if pending:
                self.update_rows(cur, single, pending)
                pending = []
            self.update_many(cur, step, sets, values, keys)
        if pending:
            self.update_rows(cur, single, pending)

    @abstractmethod
    def insert(self, cur: Any, step: Insert) -> None: ...

    @abstractmethod
    def update_rows(self, cur: Any, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Run one single-row UPDATE per parameter tuple, in order."""

    @abstractmethod
    def update_many(
        self, cur: Any, step: Update, sets: str, values: tuple[object, ...], keys: list[object]
    ) -> None:
        """One UPDATE statement setting the same values on many rows (a bulk job)."""

    @abstractmethod
    def delete(self, cur: Any, step: Delete) -> None: ...

    def add_column(self, database: str, table: str, column: str, sql_type: str) -> None:
        conn = self.connection(database)
        with conn.cursor() as cur:
            cur.execute(
                f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.quote(column)} {sql_type} NULL"
            )
        conn.commit()

    def query(
        self, database: str, sql: str, params: Sequence[object] = ()
    ) -> list[tuple[Any, ...]]:
        conn = self.connection(database)
        with conn.cursor() as cur:
            cur.execute(sql, tuple(params))
            rows = list(cur.fetchall())
        conn.commit()
        return rows

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()
