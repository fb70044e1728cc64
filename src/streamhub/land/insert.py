"""Inserting a target's rows: one statement, and when ClickHouse refuses some rows, bisecting
the batch until each refused row is alone and becomes a dead letter; the rest lands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from streamhub.land.batch import DeadLetter, Origin, PendingRow
from streamhub.land.clickhouse import Failure, classify
from streamhub.land.retrying import Retrier
from streamhub.land.targets import Target

#: Builds the dead letter of a refused row: (its message, the refusal, its decoded record).
DeadLetterFor = Callable[[Origin, Exception, dict[str, Any] | None], DeadLetter]


@dataclass
class Landing:
    """What one target's insert did: the rows stored, the rows refused as dead letters."""

    landed: list[PendingRow] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)


class Inserter(Protocol):
    def insert(self, target: Target, rows: list[PendingRow]) -> Landing: ...


class BisectingInserter:
    def __init__(
        self, client: Client, database: str, retry: Retrier, dead_letter: DeadLetterFor
    ) -> None:
        self._client = client
        self._database = database
        self._retry = retry
        self._dead_letter = dead_letter

    def insert(self, target: Target, rows: list[PendingRow]) -> Landing:
        refused = self._bisect(target, rows)
        gone = {d.origin for d in refused}
        return Landing([r for r in rows if r.origin not in gone], refused)

    def _bisect(self, target: Target, rows: list[PendingRow]) -> list[DeadLetter]:
        refusal = self._insert_once(target, rows)
        if refusal is None:
            return []
        if len(rows) == 1:
            return [self._dead_letter(rows[0].origin, refusal, rows[0].record)]
        middle = len(rows) // 2
        return self._bisect(target, rows[:middle]) + self._bisect(target, rows[middle:])

    def _insert_once(self, target: Target, rows: list[PendingRow]) -> Exception | None:
        """Insert in one statement (retrying transient failures); the refusal when
        ClickHouse blames the values of some row."""
        columns = [list(col) for col in zip(*(r.values for r in rows), strict=True)]

        def insert() -> Exception | None:
            try:
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
