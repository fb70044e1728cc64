"""Targeted re-snapshot: re-read given rows by primary key, consistent with the log.

A reconciler that finds rows missing downstream asks for exactly those keys. The
task reads them between a low and a high watermark, like a snapshot chunk
(``snapshotting.ChunkWindow``): a logged change to a requested key between the two
marks wins over the copy read, so a re-read never overtakes a newer change. At
the high mark the rows still held are emitted as snapshot reads (op ``r``) at the
mark's position_seq, newer than any change logged before it.

Keys arrive as JSON (the capture message key's ``key`` object): they are checked
against the table's primary key and turned into the values the readers compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from streamhub.capture.envelope import row_key
from streamhub.capture.errors import InvalidKeyError
from streamhub.capture.model import Chunk, ColumnInfo, RowEvent, TableInfo, UndecodableValue
from streamhub.capture.snapshotting import key_of, table_id

Key = tuple[object, ...]


def resolve_table(tables: dict[str, TableInfo], name: str) -> str | None:
    """The one captured table ``name`` designates (db.schema.table, schema.table or table)."""
    matches = [n for n in tables if n == name or n.endswith("." + name)]
    return matches[0] if len(matches) == 1 else None


def comparable(column: ColumnInfo, value: object) -> object:
    """A key value as the snapshot readers produce it, from its JSON form or as is.

    Both sides of a match go through here: the requested keys (JSON: numbers and
    text) and the keys of rows read back (Python values), so ``"12.5"`` finds 12.50
    and ``"2024-03-01 08:30"`` finds the datetime.
    """
    if value is None:
        raise InvalidKeyError(f"{column.name} is null; a primary key value cannot be", column.name)
    kind = column.kind
    try:
        if kind in ("int", "long"):
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise InvalidKeyError(f"{column.name} needs an integer, got {value!r}", column.name)
            return int(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidKeyError(
                    f"{column.name} needs true or false, got {value!r}", column.name
                )
            return value
        if kind == "double":
            return float(value)  # type: ignore[arg-type]
        if kind == "decimal":
            return value if isinstance(value, Decimal) else Decimal(str(value))
        if kind == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if kind in ("local_timestamp_ms", "timestamp_ms"):
            return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if kind == "bytes":
            return value if isinstance(value, bytes) else bytes.fromhex(str(value))
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise InvalidKeyError(
            f"{column.name} ({column.source_type}) cannot be {value!r}: {exc}", column.name
        ) from exc
    if not isinstance(value, str):
        raise InvalidKeyError(
            f"{column.name} ({column.source_type}) needs text, got {value!r}", column.name
        )
    return value


def coerce_key(table: TableInfo, key: object) -> Key:
    """The requested key as reader values in ``table.key_columns`` order, or InvalidKeyError."""
    names = table.key_columns
    if not isinstance(key, dict):
        raise InvalidKeyError(f"a key must be an object like {{{names[0]!r}: ...}}, got {key!r}")
    if set(key) != set(names):
        raise InvalidKeyError(
            f"key {key!r} does not match the primary key ({', '.join(names)}) of {table_id(table)}"
        )
    by_name = {c.name: c for c in table.columns}
    return tuple(comparable(by_name[n], key[n]) for n in names)


def row_identity(table: TableInfo, values: dict[str, object]) -> Key:
    """The key of a row read or logged, comparable with ``coerce_key``'s (None stays None:
    an undecodable key value matches no request)."""
    by_name = {c.name: c for c in table.columns}
    return tuple(
        None if v is None else comparable(by_name[n], v)
        for n, v in zip(table.key_columns, key_of(table, values), strict=True)
    )


@dataclass
class Outcome:
    """What a finished window reports: rows to emit as reads, keys re-read, keys absent."""

    rows: list[dict[str, object]]
    undecodable: list[UndecodableValue]
    from_log: list[tuple[dict[str, object], int]]  # (key, position_seq) of logged changes
    not_found: list[dict[str, Any]]  # requested keys as the caller gave them


@dataclass
class KeyedReadWindow:
    """One targeted read between two watermarks (the keyed sibling of ChunkWindow)."""

    chunk_id: str
    request_id: str
    table: TableInfo
    requested: dict[Key, dict[str, Any]]  # reader key -> the key as requested
    rows: dict[Key, dict[str, object]] = field(default_factory=dict)
    undecodable: list[UndecodableValue] = field(default_factory=list)
    logged: dict[Key, tuple[str, int, dict[str, object]]] = field(default_factory=dict)
    seen_low: bool = False

    def hold(self, chunk: Chunk) -> None:
        """The rows read between the marks (only requested keys are kept)."""
        for row in chunk.rows:
            key = row_identity(self.table, row)
            if key in self.requested and key not in self.logged:
                self.rows[key] = row
        self.undecodable += chunk.undecodable

    def observe(self, event: RowEvent) -> None:
        """A change logged between the marks decides its key: the read copy is dropped."""
        if not self.seen_low or table_id(event.table) != table_id(self.table):
            return
        after = row_identity(self.table, event.after) if event.after is not None else None
        if event.before is not None:
            before = row_identity(self.table, event.before)
            if before != after and before in self.requested:  # deleted, or its key changed
                self.rows.pop(before, None)
                self.logged[before] = ("d", event.position_seq, row_key(self.table, event.before))
        if after is not None and after in self.requested:
            assert event.after is not None
            self.rows.pop(after, None)
            self.logged[after] = (event.op, event.position_seq, row_key(self.table, event.after))

    def finish(self) -> Outcome:
        held = set(self.rows)
        outcome = Outcome(
            rows=list(self.rows.values()),
            undecodable=[u for u in self.undecodable if row_identity(self.table, u.key) in held],
            from_log=[],
            not_found=[],
        )
        for key, given in self.requested.items():
            if key in held:
                continue
            change = self.logged.get(key)
            if change is None or change[0] == "d":
                outcome.not_found.append(given)
            else:
                outcome.from_log.append((change[2], change[1]))
        return outcome
