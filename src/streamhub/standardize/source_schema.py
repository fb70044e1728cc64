"""A connector's tables as the live source describes them, for ``streamhub profiles check``.

Reads information_schema through the capture agent's own connection helpers (the same
user, encoding handling and error translation as capture), and samples distinct values of
a column. Read-only: nothing is created on the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError


class LiveSource:
    """Columns and value samples of one connector's tables; close it when done."""

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self.config = config
        self._engine = config.engine
        self._conn: Any
        # MariaDB: column -> its character set, to decode sampled bytes as capture would
        self._charsets: dict[tuple[str, str], str | None] = {}
        if self._engine == "postgresql":
            from streamhub.capture.postgres.connection import connect

            self._conn = connect(config, password)
        else:
            from streamhub.capture.mysql.connection import connect as my_connect

            self._conn = my_connect(config, password)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def columns(self) -> dict[str, list[str] | None]:
        """Connector table (as named there) -> its columns in order; None when absent."""
        return {table: self._columns(table) for table in self.config.tables}

    def sample(self, table: str, column: str, limit: int) -> Sequence[object]:
        """Up to ``limit`` distinct non-null values of ``column``."""
        if self._engine == "postgresql":
            return self._pg_sample(table, column, limit)
        return self._my_sample(table, column, limit)

    # --- PostgreSQL -----------------------------------------------------------------------

    def _pg_columns(self, table: str) -> list[str] | None:
        from streamhub.capture.postgres.connection import translated

        schema, name = _pg_name(table)
        with translated(self.config, f"reading the columns of {table}"), self._conn.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, name),
            )
            found = [str(row[0]) for row in cur.fetchall()]
        return found or None

    def _pg_sample(self, table: str, column: str, limit: int) -> list[object]:
        from psycopg2 import sql

        from streamhub.capture.postgres.connection import translated

        schema, name = _pg_name(table)
        query = sql.SQL("SELECT DISTINCT {c} FROM {s}.{t} WHERE {c} IS NOT NULL LIMIT %s").format(
            c=sql.Identifier(column), s=sql.Identifier(schema), t=sql.Identifier(name)
        )
        with translated(self.config, f"sampling {table}.{column}"), self._conn.cursor() as cur:
            cur.execute(query, (limit,))
            return [self._text(row[0], None) for row in cur.fetchall()]

    # --- MySQL / MariaDB --------------------------------------------------------------------

    def _my_columns(self, table: str) -> list[str] | None:
        from streamhub.capture.mysql.catalog import describe

        database = self.config.connection.database
        with self._my_errors(f"reading the columns of {table}"), self._conn.cursor() as cur:
            found = describe(cur, database, table)
        for column in found:
            self._charsets[(table, column.name)] = column.charset
        return [c.name for c in found] or None

    def _my_sample(self, table: str, column: str, limit: int) -> list[object]:
        from streamhub.capture.mysql.connection import quote

        database = self.config.connection.database
        # as bytes: a latin1 column holding GB18030 text is decoded with the connector's
        # encoding, exactly as capture decodes it
        col, source = quote(column), f"{quote(database)}.{quote(table)}"  # quoted identifiers
        query = (
            f"SELECT DISTINCT CAST({col} AS BINARY) FROM {source} WHERE {col} IS NOT NULL LIMIT %s"  # noqa: S608
        )
        charset = self._charsets.get((table, column))
        with self._my_errors(f"sampling {table}.{column}"), self._conn.cursor() as cur:
            cur.execute(query, (limit,))
            return [self._text(row[0], charset) for row in cur.fetchall()]

    def _my_errors(self, what: str) -> Any:
        import contextlib

        import pymysql

        config = self.config

        @contextlib.contextmanager
        def translated() -> Any:
            try:
                yield
            except pymysql.MySQLError as exc:
                raise CaptureError(
                    f"connector {config.name}: {what} failed on {config.engine} "
                    f"{config.connection.host}:{config.connection.port}: {exc}"
                ) from exc

        return translated()

    # --- shared -------------------------------------------------------------------------------

    def _columns(self, table: str) -> list[str] | None:
        if self._engine == "postgresql":
            return self._pg_columns(table)
        return self._my_columns(table)

    def _text(self, value: object, charset: str | None) -> object:
        if isinstance(value, memoryview):
            value = value.tobytes()
        if not isinstance(value, bytes | bytearray):
            return value
        encoding = "utf-8" if charset and charset.startswith("utf8") else self.config.encoding
        return bytes(value).decode(encoding, errors="replace")


def _pg_name(table: str) -> tuple[str, str]:
    schema, dot, name = table.partition(".")
    return (schema, name) if dot else ("public", table)
