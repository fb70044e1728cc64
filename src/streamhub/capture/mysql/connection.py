"""PyMySQL connections to a connector's MariaDB/MySQL server, shared by every MySQL part of
capture (snapshot reader, log reader, pre-flight), and identifier quoting."""

from __future__ import annotations

from typing import Any

import pymysql

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import SourceUnavailableError
from streamhub.secrets_mask import mask_text


def connect(config: ConnectorConfig, password: str, **options: Any) -> Any:
    """A PyMySQL connection to the connector's server (no default database, autocommit)."""
    conn = config.connection
    settings: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "password": password,
        "charset": "utf8mb4",
        "connect_timeout": 10,
        "autocommit": True,
        **options,
    }
    try:
        return pymysql.connect(**settings)
    except pymysql.MySQLError as exc:
        raise SourceUnavailableError(
            f"connector {config.name}: cannot connect to {config.engine} at "
            f"{conn.host}:{conn.port} as {conn.user}: {mask_text(str(exc))}"
        ) from exc


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
