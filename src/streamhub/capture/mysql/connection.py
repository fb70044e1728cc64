"""PyMySQL connections to a connector's MariaDB/MySQL server, shared by every MySQL part of
capture (snapshot reader, log reader, pre-flight), and identifier quoting."""

from __future__ import annotations

from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError, SourceUnavailableError
from streamhub.secrets_mask import mask_text


def connect(config: ConnectorConfig, password: str) -> Connection[Cursor]:
    """A PyMySQL connection to the connector's server (no default database, autocommit)."""
    conn = config.connection
    try:
        return pymysql.connect(
            host=conn.host,
            port=conn.port,
            user=conn.user,
            password=password,
            charset="utf8mb4",
            connect_timeout=10,
            autocommit=True,
        )
    except pymysql.MySQLError as exc:
        raise SourceUnavailableError(
            f"connector {config.name}: cannot connect to {config.engine} at "
            f"{conn.host}:{conn.port} as {conn.user}: {mask_text(str(exc))}"
        ) from exc


def fetch_one(cur: Cursor) -> tuple[Any, ...]:
    """The one row a query always returns (a variable, an aggregate)."""
    row = cur.fetchone()
    if row is None:  # such queries return a row; say so if one did not
        raise CaptureError("MariaDB/MySQL returned no row where one was expected")
    return row


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
