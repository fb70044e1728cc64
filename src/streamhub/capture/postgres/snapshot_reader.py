"""Snapshot chunks from PostgreSQL on an ordinary connection (``connection``), tables
described from the catalog (``catalog``).

Chunks select every column as ``col::text`` and convert it with the same
converter as the log reader, so a row read here equals the row read from the
log. Each chunk is one autocommit statement: no locks, no long transaction.
"""

from __future__ import annotations

import json
from typing import Literal

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import SnapshotReader
from streamhub.capture.errors import CaptureError, PreflightError
from streamhub.capture.model import Chunk, ColumnInfo, TableInfo, UndecodableValue
from streamhub.capture.postgres.catalog import column_details, find_table
from streamhub.capture.postgres.connection import (
    connect,
    fetch_one,
    qualified_tables,
    translated,
    where,
)
from streamhub.capture.postgres.types import BadValue, convert, kind_for_oid
from streamhub.capture.postgres.watermarks import WATERMARK_PREFIX

KEY_BATCH = 500  # keys per statement of a targeted re-read


class PostgresSnapshotReader(SnapshotReader):
    def __init__(self, config: ConnectorConfig, password: str) -> None:
        super().__init__(config, password)
        self._conn: Connection | None = None

    def _cursor(self) -> Cursor:
        if self._conn is None or self._conn.closed:
            self._conn = connect(
                self.config, self.password
            )  # lazily: open_readers connects nothing
        return self._conn.cursor()

    def tables(self) -> list[TableInfo]:
        with translated(self.config, "reading the catalog"), self._cursor() as cur:
            return [self._describe(cur, *table) for table in qualified_tables(self.config)]

    def _describe(self, cur: Cursor, schema: str, name: str) -> TableInfo:
        found = find_table(cur, schema, name)
        if found is None:
            raise PreflightError(
                f"connector {self.config.name}: table {schema}.{name} does not exist in "
                f"{where(self.config)}; fix the connector's tables or create the table"
            )
        if not found.primary_key:
            raise PreflightError(
                f"connector {self.config.name}: table {schema}.{name} has no primary key; "
                "snapshots page by it and change events are keyed by it. Add one "
                f"(ALTER TABLE {schema}.{name} ADD PRIMARY KEY (...)) or drop the table "
                "from the connector"
            )
        columns = tuple(
            ColumnInfo(
                name=col,
                source_type=source_type,
                kind=kind_for_oid(type_oid),
                key=col in found.primary_key,
                nullable=not not_null,
            )
            for col, (type_oid, source_type, not_null) in column_details(cur, found.oid).items()
        )
        return TableInfo(self.config.connection.database, schema, name, columns)

    def chunk(self, table: TableInfo, after: tuple[object, ...] | None, rows: int) -> Chunk:
        """Rows with primary key > ``after``; ``after`` and ``last_key`` follow
        ``table.key_columns`` order. Key values may also be given as their text form
        (e.g. after a JSON round trip): each is cast to the column's type."""
        schema = table.schema or "public"
        keys = table.key_columns
        what = f"the snapshot of {table.qualified}"
        with translated(self.config, what), self._cursor() as cur:
            found = find_table(cur, schema, table.name)
            if found is None or set(found.primary_key) != set(keys):
                raise CaptureError(
                    f"connector {self.config.name}: {schema}.{table.name} no longer has the "
                    f"primary key ({', '.join(keys)}) the snapshot pages by; re-snapshot the table"
                )
            order = found.primary_key  # index order, so the primary key index serves the scan
            by_name = {c.name: c for c in table.columns}
            query = sql.SQL("SELECT {cols} FROM {table}").format(
                cols=sql.SQL(", ").join(
                    sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in table.columns
                ),
                table=sql.Identifier(schema, table.name),
            )
            params: list[object] = []
            if after is not None:
                if len(after) != len(keys):
                    raise CaptureError(
                        f"connector {self.config.name}: snapshot position {after!r} for "
                        f"{table.qualified} does not match its key ({', '.join(keys)})"
                    )
                value_of = dict(zip(keys, after, strict=True))
                query += sql.SQL(" WHERE ({}) > ({})").format(
                    sql.SQL(", ").join(sql.Identifier(k) for k in order),
                    sql.SQL(", ").join(
                        sql.SQL("%s::" + by_name[k].source_type)  # type name from the catalog
                        for k in order
                    ),
                )
                params += [value_of[k] for k in order]
            # qualified: a bare name would sort by the ::text output column, not the key
            query += sql.SQL(" ORDER BY {} LIMIT %s").format(
                sql.SQL(", ").join(sql.Identifier(schema, table.name, k) for k in order)
            )
            params.append(rows)
            # text arrives as bytes, undecoded: the connector's encoding decides
            psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cur)
            cur.execute(query, params)
            fetched = cur.fetchall()
        chunk = Chunk(table)
        for raw in fetched:
            chunk.rows.append(self._row(table, raw, chunk))
        chunk.last_key = tuple(chunk.rows[-1][k] for k in keys) if chunk.rows else after
        return chunk

    def rows_by_key(self, table: TableInfo, keys: list[tuple[object, ...]]) -> Chunk:
        """Rows whose primary key is one of ``keys``, read in batches of KEY_BATCH keys."""
        schema = table.schema or "public"
        by_name = {c.name: c for c in table.columns}
        names = table.key_columns
        columns = sql.SQL(", ").join(
            sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in table.columns
        )
        # each value cast to its column's catalog type, as in chunk(): text or numbers given
        one_key = sql.SQL("({})").format(
            sql.SQL(", ").join(sql.SQL("%s::" + by_name[k].source_type) for k in names)
        )
        chunk = Chunk(table)
        what = f"re-reading rows of {table.qualified} by key"
        with translated(self.config, what), self._cursor() as cur:
            psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cur)
            for start in range(0, len(keys), KEY_BATCH):
                batch = keys[start : start + KEY_BATCH]
                query = sql.SQL("SELECT {cols} FROM {table} WHERE ({key}) IN ({wanted})").format(
                    cols=columns,
                    table=sql.Identifier(schema, table.name),
                    key=sql.SQL(", ").join(sql.Identifier(k) for k in names),
                    wanted=sql.SQL(", ").join([one_key] * len(batch)),
                )
                cur.execute(query, [value for key in batch for value in key])
                for raw in cur.fetchall():
                    chunk.rows.append(self._row(table, raw, chunk))
        return chunk

    def _row(
        self, table: TableInfo, raw: tuple[bytes | None, ...], chunk: Chunk
    ) -> dict[str, object]:
        row: dict[str, object] = {}
        bad: list[tuple[str, bytes, str]] = []
        for column, value in zip(table.columns, raw, strict=True):
            converted = None if value is None else convert(value, column.kind, self.config.encoding)
            if isinstance(converted, BadValue):
                # the row is read with a null here; the task dead-letters the raw bytes
                bad.append((column.name, value or b"", converted.reason))
                if column.key:
                    raise CaptureError(
                        f"connector {self.config.name}: a primary key value of "
                        f"{table.qualified}.{column.name} is not convertible "
                        f"({converted.reason}); the snapshot cannot page past it"
                    )
                converted = None
            row[column.name] = converted
        key = {name: row[name] for name in table.key_columns}
        for name, raw_value, reason in bad:
            chunk.undecodable.append(
                UndecodableValue(table, "r", name, raw_value, reason, key, "", 0, 0)
            )
        return row

    def watermark(self, kind: Literal["low", "high"], chunk_id: str) -> None:
        content = json.dumps({"connector": self.config.name, "kind": kind, "chunk": chunk_id})
        what = f"writing the {kind} watermark"
        with translated(self.config, what), self._cursor() as cur:  # autocommit: own transaction
            cur.execute("SELECT pg_logical_emit_message(true, %s, %s)", (WATERMARK_PREFIX, content))

    def count(self, table: TableInfo) -> int:
        with translated(self.config, f"counting {table.qualified}"), self._cursor() as cur:
            cur.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(table.schema or "public", table.name)
                )
            )
            return int(fetch_one(cur)[0])

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
