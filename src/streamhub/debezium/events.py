"""One Debezium change event (Connect's JsonConverter, schemas enabled) → the agent's model.

A Debezium value message is ``{"schema": …, "payload": {"before", "after", "source", "op",
"ts_ms", "transaction"}}``; its key is ``{"schema": …, "payload": {<key columns>}}``. This
module turns it into what the agent's readers hand to the emitter: a
:class:`~streamhub.capture.model.TableInfo` (columns, value kinds and key from the schemas) and
a :class:`~streamhub.capture.model.RowEvent` (op, decoded row images, position, commit time,
snapshot flag), so the agent's own envelope code writes the ``cdc.raw.*`` message.

* ``op``: ``c``/``u``/``d``/``r`` mean what they mean in the agent's envelopes (insert, update,
  delete, snapshot read); ``t`` (truncate) and ``m`` (logical message) have no envelope and
  are refused (dead-lettered, so they are seen).
* A tombstone (null value after a delete) is skipped: the delete before it carries the key.
* ``snapshot``: Debezium's ``true``/``first``/``first_in_data_collection``/… → ``true``,
  ``last`` → ``last``, ``incremental`` → ``incremental``, ``false`` → ``false``.
* Commit time: ``source.ts_ms`` (for a snapshot read, when the row was read).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from streamhub.capture.model import ColumnInfo, Op, RowEvent, TableInfo
from streamhub.debezium.decode import ColumnDecoder, column_decoder, decode_row
from streamhub.debezium.normalize_errors import (
    EventError,
    UndecodableValueError,
    UnsupportedEventError,
)
from streamhub.debezium.positions import position_of

OPS: Final[frozenset[str]] = frozenset({"c", "u", "d", "r"})
SNAPSHOT: Final[dict[str, str]] = {
    "false": "false",
    "last": "last",
    "incremental": "incremental",
}
MAX_TABLES: Final = 4096  # layouts kept before the cache starts afresh
# Connect's JsonConverter writes compact JSON, schema first: {"schema":{…},"payload":{…}}
_HEAD: Final = b'{"schema":'
_PAYLOAD: Final = b',"payload":'


def parse_json(raw: bytes, what: str) -> Any:
    """JSON with exact numbers (a decimal written as a number keeps its digits)."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"the {what} is not JSON ({type(exc).__name__})") from None


def split_message(raw: bytes) -> tuple[bytes, bytes] | None:
    """(schema text, payload text) of a message as Connect's JsonConverter writes it, so the
    schema (most of the bytes, the same for every event of a table) is parsed once per table
    and only the payload per event; None for any other layout (then parsed whole). Outside
    strings ``,"payload":`` can only be the top-level key, and inside one its quotes would be
    escaped; a wrong split would not parse, and the caller parses the message whole."""
    if not raw.startswith(_HEAD) or not raw.endswith(b"}"):
        return None
    at = raw.find(_PAYLOAD)
    if at < 0:
        return None
    return raw[len(_HEAD) : at], raw[at + len(_PAYLOAD) : -1]


def _struct_fields(schema: object, name: str) -> list[Mapping[str, Any]]:
    if not isinstance(schema, Mapping) or schema.get("type") != "struct":
        raise EventError(
            f"the {name} schema is not a struct: is the converter Connect's JsonConverter "
            "with schemas.enable=true?"
        )
    fields = schema.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, Mapping) for f in fields):
        raise EventError(f"the {name} schema has no list of fields")
    return fields


def _row_schema(value_schema: object) -> Mapping[str, Any]:
    """The ``after`` (else ``before``) struct of an envelope schema: the table's columns."""
    by_name = {str(f.get("field")): f for f in _struct_fields(value_schema, "value")}
    row = by_name.get("after") or by_name.get("before")
    if row is None:
        raise EventError("the value schema has no before/after row struct: not a change event")
    return row


@dataclass(frozen=True, slots=True)
class Layout:
    """A table's columns as one schema describes them: decoders and the agent's TableInfo."""

    table: TableInfo
    decoders: tuple[ColumnDecoder, ...]


@dataclass
class Decoded:
    """A change event as the agent's model, or ``None`` for a tombstone."""

    event: RowEvent | None
    table_name: str | None = None  # database.[schema.]table, for dead letters


@dataclass
class EventReader:
    """Reads Debezium change events; caches one :class:`Layout` per table schema."""

    _layouts: dict[tuple[str, str], Layout] = field(default_factory=dict)
    # (database.schema.table, value schema text, key schema text) -> layout
    _by_text: dict[tuple[str, bytes, bytes], Layout] = field(default_factory=dict)

    def layout(
        self, database: str, schema: str | None, table: str, row: Mapping[str, Any], keys: set[str]
    ) -> Layout:
        # the schema's text identifies the layout: equal schemas share one TableInfo (and
        # so one encoder and registered schema downstream)
        text = json.dumps(row, sort_keys=True, default=str)
        ident = (f"{database}\x1f{schema}\x1f{table}", text + "|" + ",".join(sorted(keys)))
        found = self._layouts.get(ident)
        if found is not None:
            return found
        decoders = tuple(column_decoder(f) for f in _struct_fields(row, "row"))
        columns = tuple(
            ColumnInfo(
                name=d.name,
                source_type=d.source_type,
                kind=d.kind,
                key=d.name in keys,
                nullable=d.nullable,
            )
            for d in decoders
        )
        layout = Layout(TableInfo(database, schema, table, columns), decoders)
        if len(self._layouts) >= MAX_TABLES:
            self._layouts.clear()
        self._layouts[ident] = layout
        return layout

    def read(self, key: bytes | None, value: bytes | None) -> Decoded:
        """The event of one Debezium message; :class:`EventError` (a dead letter) if it
        cannot be carried."""
        if value is None:
            return Decoded(None)  # a tombstone: the delete before it carried the key
        split = split_message(value)
        try:
            payload = None if split is None else json.loads(split[1], parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            split = None
        if split is None:
            message = parse_json(value, "value")
            if not isinstance(message, Mapping) or "payload" not in message:
                raise EventError(
                    "the value has no schema/payload envelope: is the converter Connect's "
                    "JsonConverter with schemas.enable=true?"
                )
            payload = message["payload"]
        if payload is None:
            return Decoded(None)
        if not isinstance(payload, Mapping):
            raise EventError("the payload is not a change event struct")
        source = payload.get("source")
        if not isinstance(source, Mapping):
            raise EventError("the payload has no source block: not a change event")
        database, schema, table = _names(source)
        name = ".".join(p for p in (database, schema, table) if p)
        op = payload.get("op")
        if op not in OPS:
            raise UnsupportedEventError(
                f"{name}: op {op!r} has no change envelope (c, u, d, r are carried; a truncate "
                "or logical message is not: reconcile the table or re-snapshot it)"
            )
        try:
            if split is None:
                keys = self._key_columns(key)
                layout = self.layout(
                    database, schema, table, _row_schema(message.get("schema")), keys
                )
            else:
                layout = self._layout_of_text(database, schema, table, split[0], key)
            if not layout.table.key_columns:
                raise UnsupportedEventError(
                    "the table has no key (the message key names no column): give it a "
                    "primary key or message.key.columns in the Debezium connector"
                )
            before = decode_row(layout.decoders, payload.get("before"))
            after = decode_row(layout.decoders, payload.get("after"))
            image = before if op == "d" else after
            if image is None:
                raise UnsupportedEventError(f"op {op} event without its row image")
            position = position_of(source, payload)
            commit_ts_ms = source.get("ts_ms")
            if isinstance(commit_ts_ms, bool) or not isinstance(commit_ts_ms, int):
                raise EventError("source.ts_ms is missing or not a number")
        except EventError as exc:
            if str(exc).startswith(f"{name}: "):
                raise
            raise type(exc)(f"{name}: {exc}") from None
        op_: Op = op
        event = RowEvent(
            table=layout.table,
            op=op_,
            before=before,
            after=after,
            position=position.text,
            position_seq=position.seq,
            txid=position.txid,
            commit_ts_ms=commit_ts_ms,
            snapshot=_snapshot(source.get("snapshot"), op),
            size_bytes=len(value),
        )
        return Decoded(event, name)

    def _layout_of_text(
        self, database: str, schema: str | None, table: str, text: bytes, key: bytes | None
    ) -> Layout:
        """The layout of a value schema given as text (parsed once per table and layout)."""
        key_split = split_message(key) if key is not None else None
        key_text = key_split[0] if key_split is not None else (key or b"")
        ident = (f"{database}\x1f{schema}\x1f{table}", text, key_text)
        found = self._by_text.get(ident)
        if found is not None:
            return found
        keys = self._key_columns(key)
        layout = self.layout(database, schema, table, _row_schema(parse_json(text, "schema")), keys)
        if len(self._by_text) >= MAX_TABLES:
            self._by_text.clear()
        self._by_text[ident] = layout
        return layout

    @staticmethod
    def _key_columns(key: bytes | None) -> set[str]:
        if key is None:
            return set()
        message = parse_json(key, "key")
        if not isinstance(message, Mapping) or "schema" not in message:
            raise EventError(
                "the key has no schema/payload envelope: is the key converter Connect's "
                "JsonConverter with schemas.enable=true?"
            )
        return {str(f.get("field")) for f in _struct_fields(message["schema"], "key")}


def _names(source: Mapping[str, Any]) -> tuple[str, str | None, str]:
    database, schema, table = source.get("db"), source.get("schema"), source.get("table")
    if not isinstance(database, str) or not isinstance(table, str):
        raise EventError("source.db or source.table is missing")
    if schema is not None and not isinstance(schema, str):
        raise EventError("source.schema is not text")
    return database, schema, table


def _snapshot(flag: object, op: str) -> str:
    if op != "r" and flag in (None, "false", False):
        return "false"
    text = str(flag).lower() if flag is not None else "true"
    return SNAPSHOT.get(text, "true")


__all__ = ["Decoded", "EventReader", "Layout", "UndecodableValueError", "parse_json"]
