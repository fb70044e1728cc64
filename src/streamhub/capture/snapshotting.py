"""Snapshot planning and the DBLog-style watermark window.

A chunk is read between a low and a high watermark written into the source
log. While the log reader is between the two, any change to a row of the chunk
wins over the chunk's copy (the copy is dropped); at the high watermark what is
left of the chunk is emitted as snapshot reads. Nothing is locked, the table
keeps being written, and no change is lost or reordered for a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamhub.capture.model import Chunk, RowEvent, TableInfo, UndecodableValue


def table_id(table: TableInfo) -> str:
    return table.full_name


def key_of(table: TableInfo, values: dict[str, object]) -> tuple[object, ...]:
    return tuple(values.get(name) for name in table.key_columns)


@dataclass
class ChunkWindow:
    chunk_id: str
    table: TableInfo
    rows: dict[tuple[object, ...], dict[str, object]]
    last_key: tuple[object, ...] | None
    full: bool  # the chunk hit its row limit: more rows may follow
    undecodable: list[UndecodableValue] = field(default_factory=list)
    seen_low: bool = False
    superseded: int = 0

    @classmethod
    def of(cls, chunk_id: str, chunk: Chunk, limit: int) -> ChunkWindow:
        rows = {key_of(chunk.table, row): row for row in chunk.rows}
        full = len(chunk.rows) >= limit
        return cls(chunk_id, chunk.table, rows, chunk.last_key, full, list(chunk.undecodable))

    def observe(self, event: RowEvent) -> None:
        """A logged change between the watermarks replaces the chunk's copy of its row."""
        if not self.seen_low or table_id(event.table) != table_id(self.table):
            return
        for image in (event.before, event.after):
            if image is not None and self.rows.pop(key_of(self.table, image), None) is not None:
                self.superseded += 1

    def remaining(self) -> list[dict[str, object]]:
        return list(self.rows.values())

    def remaining_undecodable(self) -> list[UndecodableValue]:
        """Undecodable values of rows still emitted from the chunk (not superseded by the log)."""
        return [u for u in self.undecodable if key_of(self.table, u.key) in self.rows]


@dataclass
class SnapshotPlan:
    """Which tables still need reading and from which key; stored with the position."""

    progress: dict[str, dict[str, Any]] = field(default_factory=dict)

    def request(self, table: str) -> None:
        self.progress[table] = {"after": None, "done": False, "rows": 0}

    def next_table(self, tables: dict[str, TableInfo]) -> TableInfo | None:
        for name in sorted(self.progress):
            if not self.progress[name]["done"] and name in tables:
                return tables[name]
        return None

    def after(self, table: str) -> tuple[object, ...] | None:
        after = self.progress[table]["after"]
        return tuple(after) if after is not None else None

    def finished_chunk(self, window: ChunkWindow, emitted: int) -> None:
        entry = self.progress[table_id(window.table)]
        if window.last_key is not None:  # stored as JSON: non-JSON keys travel as text
            entry["after"] = [
                v if v is None or isinstance(v, int | float | str) else str(v)
                for v in window.last_key
            ]
        entry["done"] = not window.full
        entry["rows"] += emitted

    @property
    def active(self) -> bool:
        return any(not p["done"] for p in self.progress.values())

    def state(self) -> dict[str, dict[str, Any]]:
        return {name: dict(p) for name, p in self.progress.items()}
