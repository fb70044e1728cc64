"""Turn a run of canonical changes into ordered SQL steps per source database.

Rows of one table with the same columns are written together (one multi-row
insert, one batched update), but a row's own changes keep their order: an
update joins an earlier group only if that row has nothing in a later one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streamhub.simulate.dialect import RowRenderer
from streamhub.simulate.records import Change


@dataclass
class Insert:
    table: str
    columns: tuple[str, ...]
    rows: list[tuple[object, ...]] = field(default_factory=list)


@dataclass
class Update:
    table: str
    key_column: str
    columns: tuple[str, ...]
    rows: list[tuple[tuple[object, ...], object]] = field(default_factory=list)  # (values, key)


@dataclass
class Delete:
    table: str
    key_column: str
    keys: list[object] = field(default_factory=list)


Step = Insert | Update | Delete


@dataclass
class DatabasePlan:
    inserts: dict[tuple[str, tuple[str, ...]], Insert] = field(default_factory=dict)
    updates: list[Update] = field(default_factory=list)
    deletes: dict[str, Delete] = field(default_factory=dict)
    _open: dict[tuple[str, tuple[str, ...]], int] = field(default_factory=dict)
    _last_group: dict[tuple[str, object], int] = field(default_factory=dict)

    def add(self, change: Change, renderer: RowRenderer) -> None:
        table = renderer.table.name
        if change.op == "c":
            row = renderer.render(change.values, insert_key=change.key)
            columns = tuple(row)
            group = self.inserts.get((table, columns))
            if group is None:
                group = self.inserts[(table, columns)] = Insert(table, columns)
            group.rows.append(tuple(row.values()))
            return
        key = renderer.key(change.key)
        if change.op == "d":
            if table not in self.deletes:
                self.deletes[table] = Delete(table, renderer.key_column)
            self.deletes[table].keys.append(key)
            return
        row = renderer.render(change.values)
        signature = (table, tuple(row))
        index = self._open.get(signature)
        if index is None or self._last_group.get((table, key), -1) > index:
            index = len(self.updates)
            self.updates.append(Update(table, renderer.key_column, signature[1]))
            self._open[signature] = index
        self.updates[index].rows.append((tuple(row.values()), key))
        self._last_group[(table, key)] = index

    def steps(self) -> list[Step]:
        # inserts first (a row updated in the same batch exists by then), deletes last
        return [*self.inserts.values(), *self.updates, *self.deletes.values()]


def plan(changes: Iterable[Change], renderers: dict[tuple[str, str], RowRenderer]) -> list[Step]:
    """One database's changes, in order, as SQL steps (renderers by institution and entity)."""
    database = DatabasePlan()
    for change in changes:
        database.add(change, renderers[(change.institution, change.entity)])
    return database.steps()


def identical_runs(
    rows: list[tuple[tuple[object, ...], object]],
) -> list[tuple[tuple[object, ...], list[object]]]:
    """Consecutive updates setting the same values, as (values, keys): one statement each."""
    runs: list[tuple[tuple[object, ...], list[object]]] = []
    for values, key in rows:
        if runs and runs[-1][0] == values:
            runs[-1][1].append(key)
        else:
            runs.append((values, [key]))
    return runs
