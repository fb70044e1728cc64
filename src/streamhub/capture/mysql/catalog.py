"""information_schema look-ups the binlog stream thread makes on first sight of a table."""

from __future__ import annotations

import contextlib
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.mysql.snapshot_reader import CatalogColumn, connect, describe


class StreamCatalog:
    """information_schema look-ups from the stream thread, on a connection of its own."""

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self._config, self._password = config, password
        self._conn: Any = None

    def describe(self, table: str) -> list[CatalogColumn]:
        if self._conn is None:
            self._conn = connect(self._config, self._password)
        with self._conn.cursor() as cur:
            return describe(cur, self._config.connection.database, table)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
