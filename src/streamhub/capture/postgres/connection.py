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
import psycopg2.extras

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError, SourceUnavailableError
from streamhub.capture.postgres.types import SESSION_OPTIONS
from streamhub.secrets_mask import mask_text

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
