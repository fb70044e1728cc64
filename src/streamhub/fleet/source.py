"""One fleet institution: the simulator's workload, its tables' rows, its connectors.

The workload (``simulate.flows``) decides changes in canonical terms; the dialect renders
them into the vendor's columns and :mod:`streamhub.fleet.tables` into what the capture
reader would read. The institution keeps each table's rows (the source's state), so an
update carries the full row image a log does (MariaDB's binlog: before and after;
PostgreSQL's default replica identity: after, and only the key for a delete).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from streamhub.capture.model import TableInfo
from streamhub.fleet.emit import FleetConnector, Pending
from streamhub.fleet.errors import FleetFaultError
from streamhub.fleet.tables import RowReader, table_info
from streamhub.simulate.dialect import Dialect, RowRenderer, load
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.records import Change

# entities the workload only ever inserts: their rows need not be kept (no later image)
INSERT_ONLY = frozenset({"diagnosis", "lab_result", "settlement"})


@cache
def _row_tools(dialect_name: str, entity: str) -> tuple[RowRenderer, RowReader, tuple[str, ...]]:
    """One renderer and reader per dialect table, shared by every institution running it."""
    dialect = load(dialect_name)
    # rendered as text, not as the GBK bytes a database would store: the reader decodes
    text = dialect.model_copy(update={"raw_text": False})
    spec = dialect.tables[entity]
    return RowRenderer(text, entity), RowReader(dialect, spec), tuple(spec.columns)


class FleetInstitution:
    def __init__(
        self,
        workload: InstitutionWorkload,
        dialect: Dialect,
        connectors: dict[str, FleetConnector],
        size: str,
    ) -> None:
        self.workload = workload
        self.institution = workload.institution
        self.size = size
        self.connectors = connectors  # by system
        self.postgres = dialect.engine == "postgres"
        self.tables: dict[str, tuple[TableInfo, RowRenderer, RowReader, FleetConnector]] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        for entity, spec in dialect.tables.items():
            connector = connectors.get(spec.system)
            if connector is None:
                continue  # a system this institution does not run (a clinic's EMR, PACS)
            database = connector.config.connection.database
            renderer, reader, columns = _row_tools(dialect.name, entity)
            self.tables[entity] = (
                table_info(dialect, entity, database),
                renderer,
                reader,
                connector,
            )
            self.columns[entity] = columns
        # each kept table's rows by key, as value tuples in column order (a third of a dict)
        self.rows: dict[str, dict[object, tuple[object, ...]]] = {
            e: {} for e in self.tables if e not in INSERT_ONLY
        }
        self.inserted_only: dict[str, int] = dict.fromkeys(
            (e for e in self.tables if e in INSERT_ONLY), 0
        )
        self.dropped = 0  # changes to tables of systems the institution does not run

    def apply(self, changes: list[Change], commit_ms: int | None) -> None:
        """Changes of one business action into the tables; with ``commit_ms``, committed
        (and captured) at that time, one transaction per connector; without, the initial
        state before capture started."""
        batches: dict[str, list[Pending]] = {}
        for change in changes:
            entry = self.tables.get(change.entity)
            if entry is None:
                self.dropped += 1
                continue
            table, renderer, reader, connector = entry
            pending = self._change(change, table, renderer, reader, commit_ms or 0)
            if commit_ms is not None and pending is not None:
                batches.setdefault(connector.config.system, []).append(pending)
        for system, batch in batches.items():
            self.connectors[system].commit(batch)

    def _change(
        self,
        change: Change,
        table: TableInfo,
        renderer: RowRenderer,
        reader: RowReader,
        commit_ms: int,
    ) -> Pending | None:
        entity = change.entity
        key_column = renderer.key_column
        rows = self.rows.get(entity)
        columns = self.columns[entity]
        if change.op == "c":
            row = reader.read(renderer.render(change.values, insert_key=change.key))
            if rows is None:
                self.inserted_only[entity] += 1
            else:
                rows[row[key_column]] = tuple(row.get(c) for c in columns)
            return Pending(table, "c", None, row, commit_ms)
        if rows is None:
            raise FleetFaultError(
                f"institution {self.institution.key}: {entity} rows are not kept (the workload "
                "only inserts them); a burst can update " + ", ".join(sorted(self.rows))
            )
        key = reader.read({key_column: renderer.key(change.key)})[key_column]
        kept = rows.get(key)
        if kept is None:
            return None  # a row gone meanwhile: the statement matched nothing
        old = dict(zip(columns, kept, strict=True))
        if change.op == "u":
            new = old | reader.read(renderer.render(change.values))
            rows[key] = tuple(new.get(c) for c in columns)
            return Pending(table, "u", old if not self.postgres else None, new, commit_ms)
        del rows[key]
        before = {key_column: key} if self.postgres else old
        return Pending(table, "d", before, None, commit_ms)

    def step(self, commit_ms: int) -> int:
        changes = self.workload.step()
        self.apply(changes, commit_ms)
        return len(changes)

    def burst(self, entity: str, rows: int, at: datetime, commit_ms: int) -> int:
        changes = self.workload.burst(entity, rows, at)
        self.apply(changes, commit_ms)
        return len(changes)

    def live_rows(self) -> dict[str, int]:
        """Rows per table at the end (insert-only tables: every row inserted since the run
        began, warm-up included)."""
        counts = {self.tables[e][0].full_name: len(rows) for e, rows in self.rows.items()}
        counts |= {self.tables[e][0].full_name: n for e, n in self.inserted_only.items()}
        return counts

    def describe(self) -> dict[str, Any]:
        inst = self.institution
        return {
            "key": inst.key,
            "institution_id": inst.credit_code,
            "name": inst.name,
            "kind": inst.kind,
            "size": self.size,
            "district": inst.district,
            "region_code": inst.region_code,
            "dialect": inst.dialect,
            "weight": inst.weight,
            "connectors": {s: c.config.name for s, c in self.connectors.items()},
        }
