"""Snapshot chunks of the connector's tables over an ordinary PyMySQL connection, without locks.

Each chunk is one short READ COMMITTED transaction, ordered by the primary key and resumed after
the previous chunk's last key; the DBLog-style watermarks around each chunk (written here, read
back from the binlog by the log reader) make chunks consistent with the log. Text columns are
selected as ``CAST(col AS BINARY)`` and decoded exactly like the log side (see ``types``).

Connections are made in ``connection``; a table's columns are read from information_schema
in ``catalog``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import SnapshotReader
from streamhub.capture.errors import (
    CaptureError,
    PreflightError,
    SourceUnavailableError,
    UndecodableTextError,
)
from streamhub.capture.model import Chunk, TableInfo, UndecodableValue
from streamhub.capture.mysql import types
from streamhub.capture.mysql.catalog import CatalogColumn, describe
from streamhub.capture.mysql.connection import connect, fetch_one, quote
from streamhub.capture.mysql.watermarks import (
    ID_SUFFIX,
    WATERMARK_DDL,
    WATERMARK_SCHEMA,
    WATERMARK_TABLE,
)

KEY_BATCH = 500  # keys per statement of a targeted re-read
_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # charset and collation names from information_schema


@dataclass
class _Layout:
    columns: list[CatalogColumn]
    info: TableInfo
    key_order: list[CatalogColumn]  # primary-key order, which the index and chunks follow


class MySQLSnapshotReader(SnapshotReader):
    """Chunks by primary key; undecodable values travel in ``Chunk.undecodable``.

    Their rows carry None for the value (op ``r``, position fields empty); the task
    sends the raw bytes to dlq.capture.
    """

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        super().__init__(config, password)
        self._conn: Connection[Cursor] | None = None
        self._layouts: dict[str, _Layout] = {}
        self._watermarks_ready = False

    @property
    def _database(self) -> str:
        return self.config.connection.database

    def _cursor(self) -> Cursor:
        if self._conn is None:
            self._conn = connect(self.config, self.password)
            with self._conn.cursor() as cur:
                # TIMESTAMP as UTC, like the binlog; each chunk reads committed rows only
                cur.execute("SET SESSION time_zone = '+00:00'")
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return self._conn.cursor()

    def _fail(self, what: str, exc: pymysql.MySQLError) -> SourceUnavailableError:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
        return SourceUnavailableError(f"connector {self.config.name}: {what} failed: {exc}")

    def _layout(self, table: str) -> _Layout:
        try:
            with self._cursor() as cur:
                columns = describe(cur, self._database, table)
        except pymysql.MySQLError as exc:
            raise self._fail(f"describing {self._database}.{table}", exc) from exc
        where = f"connector {self.config.name}: table {self._database}.{table}"
        if not columns:
            raise PreflightError(f"{where} does not exist; fix the connector's tables list")
        key_order = sorted(
            (c for c in columns if c.key_position is not None),
            key=lambda c: c.key_position or 0,
        )
        if not key_order:
            raise PreflightError(
                f"{where} has no primary key; snapshots page by primary key. "
                f"Add one (ALTER TABLE {table} ADD PRIMARY KEY (...)) or remove the table"
            )
        info = TableInfo(self._database, None, table, tuple(c.info() for c in columns))
        layout = _Layout(columns, info, key_order)
        self._layouts[table] = layout
        return layout

    def tables(self) -> list[TableInfo]:
        return [self._layout(name).info for name in self.config.tables]

    def _current(self, table: TableInfo) -> tuple[_Layout, list[types.ValuePlan]]:
        """The catalog layout (re-read when ``table`` has columns it lacks) and value plans."""
        layout = self._layouts.get(table.name)
        known = {c.name for c in layout.columns} if layout else set()
        if layout is None or any(c.name not in known for c in table.columns):
            layout = self._layout(table.name)
        by_name = {c.name: c for c in layout.columns}
        return layout, [by_name[c.name].plan(self.config.encoding) for c in table.columns]

    def _fetch(
        self, table: TableInfo, sql: str, params: list[object]
    ) -> tuple[tuple[Any, ...], ...]:
        try:
            with self._cursor() as cur:
                cur.execute("START TRANSACTION READ ONLY")
                cur.execute(sql, params)
                fetched = cur.fetchall()
                cur.execute("COMMIT")
        except pymysql.MySQLError as exc:
            raise self._fail(f"reading rows of {self._database}.{table.name}", exc) from exc
        return fetched

    def chunk(self, table: TableInfo, after: tuple[object, ...] | None, rows: int) -> Chunk:
        layout, plans = self._current(table)
        sql, params = self._chunk_query(layout, plans, after, rows)
        fetched = self._fetch(table, sql, params)
        result = Chunk(table=table)
        key_names = table.key_columns
        for values in fetched:
            row, raw_keys = self._convert(table, plans, values, result.undecodable)
            result.rows.append(row)
            result.last_key = tuple(raw_keys.get(k, row[k]) for k in key_names)
        return result

    def rows_by_key(self, table: TableInfo, keys: list[tuple[object, ...]]) -> Chunk:
        """Rows whose primary key is one of ``keys``, read in batches of KEY_BATCH keys.

        A composite key is matched as ORed equalities, which MariaDB reads as index ranges.
        """
        layout, plans = self._current(table)
        select = ", ".join(
            f"CAST({quote(p.name)} AS BINARY) AS {quote(p.name)}" if p.codec else quote(p.name)
            for p in plans
        )
        source = f"{quote(self._database)}.{quote(layout.info.name)}"
        by_name = {c.name: c for c in layout.columns}
        columns = [by_name[name] for name in table.key_columns]
        one_key = " AND ".join(f"{quote(c.name)} = {self._key_param(c)}" for c in columns)
        result = Chunk(table=table)
        for start in range(0, len(keys), KEY_BATCH):
            params: list[object] = []
            for key in keys[start : start + KEY_BATCH]:
                try:
                    params += [self._key_value(c, v) for c, v in zip(columns, key, strict=True)]
                except UnicodeEncodeError:
                    continue  # text the column's charset cannot hold: no such row
            wanted = len(params) // len(columns)
            if not wanted:
                continue
            where = " OR ".join([f"({one_key})"] * wanted)
            sql = f"SELECT {select} FROM {source} WHERE {where}"  # noqa: S608 (quoted identifiers)
            for values in self._fetch(table, sql, params):
                row, _ = self._convert(table, plans, values, result.undecodable)
                result.rows.append(row)
        return result

    def _chunk_query(
        self,
        layout: _Layout,
        plans: list[types.ValuePlan],
        after: tuple[object, ...] | None,
        rows: int,
    ) -> tuple[str, list[object]]:
        select = ", ".join(
            f"CAST({quote(p.name)} AS BINARY) AS {quote(p.name)}" if p.codec else quote(p.name)
            for p in plans
        )
        keys = [c.name for c in layout.key_order]
        source = f"{quote(self._database)}.{quote(layout.info.name)}"
        where, params = "", []
        if after is not None:
            given = dict(zip(layout.info.key_columns, after, strict=True))
            exprs = [self._key_param(c) for c in layout.key_order]
            params = [self._key_value(c, given[c.name]) for c in layout.key_order]
            if len(keys) == 1:
                where = f"WHERE {quote(keys[0])} > {exprs[0]}"
            else:
                # MariaDB scans the whole index for a bare row comparison: the leading
                # column's bound makes it a range read
                where = (
                    f"WHERE {quote(keys[0])} >= {exprs[0]} AND "
                    f"({', '.join(quote(k) for k in keys)}) > ({', '.join(exprs)})"
                )
                params = [params[0], *params]
        # qualified: a bare name would sort by the CAST(… AS BINARY) alias, not the column
        order = ", ".join(f"{source}.{quote(k)}" for k in keys)
        sql = f"SELECT {select} FROM {source} {where} ORDER BY {order} LIMIT %s"  # noqa: S608 (quoted identifiers)
        return sql, [*params, rows]

    def _key_param(self, column: CatalogColumn) -> str:
        """A placeholder comparing like the column: its charset and collation, not binary."""
        if column.data_type not in types.TEXT_TYPES:
            return "%s"
        charset, collation = column.charset or "", column.collation or ""
        if not (_NAME.match(charset) and _NAME.match(collation)):
            raise CaptureError(f"unexpected charset {charset!r}/{collation!r} on {column.name}")
        return f"CONVERT(%s USING {charset}) COLLATE {collation}"

    def _key_value(self, column: CatalogColumn, value: object) -> object:
        if isinstance(value, str) and column.data_type in types.TEXT_TYPES:
            # back to the stored bytes: decoding was lossless or the key kept its raw bytes
            return value.encode(types.text_codec(column.charset, self.config.encoding))
        return value

    def _convert(
        self,
        table: TableInfo,
        plans: list[types.ValuePlan],
        values: tuple[object, ...],
        undecodable: list[UndecodableValue],
    ) -> tuple[dict[str, object], dict[str, object]]:
        row: dict[str, object] = {}
        raw_keys: dict[str, object] = {}  # undecodable key values page on their raw bytes
        failed: list[UndecodableTextError] = []
        names: list[str] = []
        for plan, value in zip(plans, values, strict=True):
            try:
                row[plan.name] = plan.convert(value)
            except UndecodableTextError as exc:
                row[plan.name] = None
                failed.append(exc)
                names.append(plan.name)
                raw_keys[plan.name] = exc.raw
        key = {k: row[k] for k in table.key_columns}
        for name, error in zip(names, failed, strict=True):
            undecodable.append(
                UndecodableValue(table, "r", name, error.raw, error.reason, key, "", 0, 0)
            )
        return row, raw_keys

    def watermark(self, kind: Literal["low", "high"], chunk_id: str) -> None:
        row_id = f"{chunk_id}/{secrets.token_hex(4)}"
        if len(row_id) > 64:
            raise CaptureError(
                f"connector {self.config.name}: chunk id {chunk_id!r} is longer than "
                f"{64 - ID_SUFFIX} characters (streamhub.watermarks.id is VARCHAR(64))"
            )
        try:
            with self._cursor() as cur:
                if not self._watermarks_ready:
                    self._create_watermarks(cur)
                cur.execute(
                    "INSERT INTO streamhub.watermarks (id, connector, kind, created_at) "
                    "VALUES (%s, %s, %s, NOW(3))",
                    (row_id, self.config.name, kind),
                )
        except pymysql.MySQLError as exc:
            raise self._fail(f"writing a {kind} watermark into streamhub.watermarks", exc) from exc

    def _create_watermarks(self, cur: Cursor) -> None:
        """Create the table only when missing, so an existing one needs no CREATE grant."""
        if not describe(cur, WATERMARK_SCHEMA, WATERMARK_TABLE):
            cur.execute("CREATE DATABASE IF NOT EXISTS streamhub CHARACTER SET utf8mb4")
            cur.execute(WATERMARK_DDL)
        self._watermarks_ready = True

    def count(self, table: TableInfo) -> int:
        source = f"{quote(self._database)}.{quote(table.name)}"
        try:
            with self._cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {source}")  # noqa: S608 (quoted identifiers)
                (total,) = fetch_one(cur)
        except pymysql.MySQLError as exc:
            raise self._fail(f"counting {self._database}.{table.name}", exc) from exc
        return int(total)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(pymysql.MySQLError):
                self._conn.close()
            self._conn = None
