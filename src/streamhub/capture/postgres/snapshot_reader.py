"""Snapshot chunks from PostgreSQL on an ordinary connection, plus the catalog and
connection helpers the log reader and pre-flight share.

Chunks select every column as ``col::text`` and convert it with the same
converter as the log reader, so a row read here equals the row read from the
log. Each chunk is one autocommit statement: no locks, no long transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import SnapshotReader
from streamhub.capture.errors import CaptureError, PreflightError, SourceUnavailableError
from streamhub.capture.model import Chunk, ColumnInfo, TableInfo, UndecodableValue
from streamhub.capture.postgres.types import SESSION_OPTIONS, BadValue, convert, kind_for_oid
from streamhub.secrets_mask import mask_text

WATERMARK_PREFIX = "streamhub.watermark"
KEY_BATCH = 500  # keys per statement of a targeted re-read

Connection = Any  # psycopg2 ships no type information


def qualified_tables(config: ConnectorConfig) -> list[tuple[str, str]]:
    """The connector's tables as (schema, name); a plain name means ``public.<name>``."""
    out = []
    for entry in config.tables:
        schema, dot, name = entry.partition(".")
        out.append((schema, name) if dot else ("public", entry))
    return out


def where(config: ConnectorConfig) -> str:
    conn = config.connection
    return f"PostgreSQL {conn.host}:{conn.port} database {conn.database} as {conn.user}"


@contextmanager
def translated(config: ConnectorConfig, what: str) -> Iterator[None]:
    """psycopg2 errors as capture errors naming the connector, the source and what failed."""
    try:
        yield
    except psycopg2.Error as exc:
        text = str(exc).strip() or type(exc).__name__
        if isinstance(exc, psycopg2.OperationalError):
            raise SourceUnavailableError(
                f"connector {config.name}: {what} failed, {where(config)} is unavailable: {text}"
            ) from exc
        raise CaptureError(
            f"connector {config.name}: {what} failed in {where(config)}: {text}"
        ) from exc


def connect(config: ConnectorConfig, password: str) -> Connection:
    """An autocommit connection whose text output the converters understand.

    The client encoding is pinned to the database's own so text reaches us as
    stored and is decoded with the connector's encoding, as in the log.
    """
    conn = _connect(config, password, None, None)
    conn.autocommit = True
    with translated(config, "reading the database encoding"):
        db_encoding = database_encoding(conn)
        if conn.encoding != db_encoding:
            conn.set_client_encoding(db_encoding)
    return conn


def connect_replication(config: ConnectorConfig, password: str, encoding: str) -> Connection:
    """A logical replication connection (``replication=database``) to the connector's database."""
    factory = psycopg2.extras.LogicalReplicationConnection
    return _connect(config, password, encoding, factory)


def _connect(
    config: ConnectorConfig, password: str, encoding: str | None, factory: Any
) -> Connection:
    conn = config.connection
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "password": password,
        "dbname": conn.database,
        "connect_timeout": 10,
        "application_name": f"streamhub-{config.name}"[:63],
        "options": SESSION_OPTIONS,
    }
    if encoding is not None:
        kwargs["client_encoding"] = encoding
    if factory is not None:
        kwargs["connection_factory"] = factory
    try:
        return psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        reason = mask_text(str(exc).strip()) or type(exc).__name__
        raise SourceUnavailableError(
            f"connector {config.name}: cannot connect to {where(config)}: {reason}"
        ) from exc


def database_encoding(conn: Connection) -> str:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_encoding_to_char(encoding) FROM pg_database "
            "WHERE datname = current_database()"
        )
        return str(cur.fetchone()[0])


@dataclass(frozen=True)
class CatalogTable:
    oid: int
    replica_identity: str  # relreplident: d, n, f, i
    primary_key: tuple[str, ...]  # in index order


def find_table(cur: Any, schema: str, name: str) -> CatalogTable | None:
    cur.execute(
        """
        SELECT c.oid, c.relreplident,
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num
                     ORDER BY k.ord)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'r'
        """,
        (schema, name),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return CatalogTable(int(row[0]), str(row[1]), tuple(row[2] or ()))


def column_details(cur: Any, oid: int) -> dict[str, tuple[int, str, bool]]:
    """Current columns of a table: name -> (type oid, format_type, not null)."""
    cur.execute(
        """
        SELECT attname::text, atttypid, format_type(atttypid, atttypmod), attnotnull
        FROM pg_attribute
        WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
        ORDER BY attnum
        """,
        (oid,),
    )
    return {str(r[0]): (int(r[1]), str(r[2]), bool(r[3])) for r in cur.fetchall()}


def format_types(cur: Any, types: list[tuple[int, int]]) -> list[str]:
    """``format_type`` of (type oid, type modifier) pairs, as the catalog spells them."""
    if not types:
        return []
    cur.execute(
        "SELECT format_type(t, m) FROM unnest(%s::oid[], %s::int4[]) WITH ORDINALITY u(t, m, i) "
        "ORDER BY i",
        ([t for t, _ in types], [m for _, m in types]),
    )
    return [str(r[0]) for r in cur.fetchall()]


class PostgresSnapshotReader(SnapshotReader):
    def __init__(self, config: ConnectorConfig, password: str) -> None:
        super().__init__(config, password)
        self._conn: Connection | None = None

    def _cursor(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = connect(
                self.config, self.password
            )  # lazily: open_readers connects nothing
        return self._conn.cursor()

    def tables(self) -> list[TableInfo]:
        with translated(self.config, "reading the catalog"), self._cursor() as cur:
            return [self._describe(cur, *table) for table in qualified_tables(self.config)]

    def _describe(self, cur: Any, schema: str, name: str) -> TableInfo:
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
            return int(cur.fetchone()[0])

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
