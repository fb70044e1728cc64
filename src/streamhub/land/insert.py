"""Inserting a target's rows: one column-oriented statement, and when ClickHouse refuses some
rows, bisecting the batch until each refused row is alone and becomes a dead letter; the
rest lands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from streamhub.land.batch import DeadLetter, Origin, PendingRow, TableRows
from streamhub.land.clickhouse import Failure, classify
from streamhub.land.retrying import Retrier
from streamhub.land.targets import Target

#: Builds the dead letter of a refused row: (its message, the refusal, its decoded record).
DeadLetterFor = Callable[[Origin, Exception, dict[str, Any] | None], DeadLetter]

#: Sends one target's columns (in ``target.columns`` order) as one INSERT statement.
ColumnWriter = Callable[[Target, list[list[Any]]], None]


def plain_writer(client: Client) -> ColumnWriter:
    """One ``client.insert`` per call (the client reads the column types each time)."""

    def write(target: Target, columns: list[list[Any]]) -> None:
        client.insert(
            target.table, columns, column_names=list(target.columns), column_oriented=True
        )

    return write


class ContextWriter:
    """Inserts through one insert context per table, made at its first insert: the column
    types are read once, not by a DESCRIBE TABLE before every insert (a third of a small
    insert's cost in chDB). Used by one thread, one insert at a time."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._contexts: dict[str, Any] = {}

    def __call__(self, target: Target, columns: list[list[Any]]) -> None:
        context = self._contexts.get(target.table)
        if context is None:
            context = self._client.create_insert_context(
                target.table, list(target.columns), column_oriented=True
            )
            self._contexts[target.table] = context
        context.data = columns
        self._client.insert(context=context)


@dataclass
class Landing:
    """What one target's insert did: the rows stored, the rows refused as dead letters."""

    landed: Sequence[PendingRow] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)


def landed_records(landing: Landing) -> list[dict[str, Any]]:
    """The records of the rows a landing stored."""
    landed = landing.landed
    if isinstance(landed, TableRows):
        return landed.records
    return [row.record for row in landed]


class Inserter(Protocol):
    def insert(self, target: Target, rows: Sequence[PendingRow]) -> Landing: ...


class BisectingInserter:
    def __init__(
        self,
        client: Client,
        database: str,
        retry: Retrier,
        dead_letter: DeadLetterFor,
        writer: ColumnWriter | None = None,
    ) -> None:
        self._write = writer or plain_writer(client)
        self._database = database
        self._retry = retry
        self._dead_letter = dead_letter

    def insert(self, target: Target, rows: Sequence[PendingRow]) -> Landing:
        table = TableRows.of(target, rows)
        refused: list[int] = []
        letters: list[DeadLetter] = []
        self._bisect(table, 0, len(table), refused, letters)
        if not refused:
            return Landing(table, [])
        gone = set(refused)
        return Landing(table.select(i for i in range(len(table)) if i not in gone), letters)

    def _bisect(
        self,
        table: TableRows,
        start: int,
        stop: int,
        refused: list[int],
        letters: list[DeadLetter],
    ) -> None:
        """Insert rows [start, stop); each row ClickHouse refuses alone joins ``refused``."""
        part = table if (start, stop) == (0, len(table)) else table[start:stop]
        refusal = self._insert_once(part)
        if refusal is None:
            return
        if stop - start == 1:
            refused.append(start)
            letters.append(self._dead_letter(table.origins[start], refusal, table.records[start]))
            return
        middle = (start + stop) // 2
        self._bisect(table, start, middle, refused, letters)
        self._bisect(table, middle, stop, refused, letters)

    def _insert_once(self, rows: TableRows) -> Exception | None:
        """Insert in one statement (retrying transient failures); the refusal when
        ClickHouse blames the values of some row."""
        target = rows.target

        def insert() -> Exception | None:
            try:
                # a missing field or a value the client cannot convert is a row refusal too
                self._write(target, rows.columns())
            except Exception as exc:
                if classify(exc) is Failure.ROW:
                    return exc
                raise
            return None

        return self._retry(insert, f"inserting into {self._database}.{target.table}")
