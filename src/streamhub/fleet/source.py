"""One fleet institution: the simulator's workload, its tables' rows, its connectors.

The workload (``simulate.flows``) decides changes in canonical terms; the dialect renders
them into the vendor's columns and :mod:`streamhub.fleet.tables` into what the capture
reader would read. The institution keeps each table's rows (the source's state), so an
update carries the full row image a log does (MariaDB's binlog: before and after;
PostgreSQL's default replica identity: after, and only the key for a delete).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streamhub.capture.model import TableInfo
from streamhub.fleet.emit import FleetConnector, Pending
from streamhub.fleet.tables import RowReader, table_info
from streamhub.simulate.dialect import Dialect, RowRenderer
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.records import Change


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
        # rendered as text, not as the GBK bytes a database would store: the reader decodes
        text = dialect.model_copy(update={"raw_text": False})
        self.tables: dict[str, tuple[TableInfo, RowRenderer, RowReader, FleetConnector]] = {}
        for entity, spec in dialect.tables.items():
            connector = connectors.get(spec.system)
            if connector is None:
                continue  # a system this institution does not run (a clinic's EMR, PACS)
            database = connector.config.connection.database
            self.tables[entity] = (
                table_info(dialect, entity, database),
                RowRenderer(text, entity),
                RowReader(dialect, spec),
                connector,
            )
        self.rows: dict[str, dict[object, dict[str, object]]] = {e: {} for e in self.tables}
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
        rows = self.rows[change.entity]
        key_column = renderer.key_column
        if change.op == "c":
            row = reader.read(renderer.render(change.values, insert_key=change.key))
            rows[row[key_column]] = row
            return Pending(table, "c", None, row, commit_ms)
        key = reader.read({key_column: renderer.key(change.key)})[key_column]
        old = rows.get(key)
        if change.op == "u":
            if old is None:
                return None  # a row gone meanwhile: the UPDATE matched nothing
            new = old | reader.read(renderer.render(change.values))
            rows[key] = new
            return Pending(table, "u", old if not self.postgres else None, new, commit_ms)
        if old is None:
            return None
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
        return {self.tables[e][0].full_name: len(rows) for e, rows in self.rows.items()}

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
