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
        self, client: Client, database: str, retry: Retrier, dead_letter: DeadLetterFor
    ) -> None:
        self._client = client
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
                columns = rows.columns()  # a value the client cannot convert is a row refusal
                self._client.insert(
                    target.table,
                    columns,
                    column_names=list(target.columns),
                    column_oriented=True,
                )
            except Exception as exc:
                if classify(exc) is Failure.ROW:
                    return exc
                raise
            return None

        return self._retry(insert, f"inserting into {self._database}.{target.table}")
