"""Connections to a connector's PostgreSQL database, and its errors as capture errors.

Every PostgreSQL part of capture (snapshot reader, log reader, pre-flight, set-up) connects
here: an ordinary autocommit connection whose text output the converters understand, or a
logical replication connection; ``translated`` turns psycopg2 errors into capture errors that
name the connector, the source and what failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor
from psycopg2.extensions import make_dsn
from psycopg2.extras import LogicalReplicationConnection

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError, SourceUnavailableError
from streamhub.capture.postgres.types import SESSION_OPTIONS
from streamhub.secrets_mask import mask_text


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
    with _connecting(config):
        conn = psycopg2.connect(_dsn(config, password, None))
    conn.autocommit = True
    with translated(config, "reading the database encoding"):
        db_encoding = database_encoding(conn)
        if conn.encoding != db_encoding:
            conn.set_client_encoding(db_encoding)
    return conn


def connect_replication(
    config: ConnectorConfig, password: str, encoding: str
) -> LogicalReplicationConnection:
    """A logical replication connection (``replication=database``) to the connector's database."""
    with _connecting(config):
        return psycopg2.connect(
            _dsn(config, password, encoding), connection_factory=LogicalReplicationConnection
        )


def _dsn(config: ConnectorConfig, password: str, encoding: str | None) -> str:
    conn = config.connection
    return make_dsn(
        host=conn.host,
        port=conn.port,
        user=conn.user,
        password=password,
        dbname=conn.database,
        connect_timeout=10,
        application_name=f"streamhub-{config.name}"[:63],
        options=SESSION_OPTIONS,
        client_encoding=encoding,  # None: left out of the DSN
    )


@contextmanager
def _connecting(config: ConnectorConfig) -> Iterator[None]:
    try:
        yield
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
        return str(fetch_one(cur)[0])


def fetch_one(cur: Cursor) -> tuple[Any, ...]:
    """The one row a query always returns (an aggregate, a setting, a function call)."""
    row = cur.fetchone()
    if row is None:  # such queries return a row; say so if one did not
        raise CaptureError(f"PostgreSQL returned no row for {cur.query!r}")
    return row
