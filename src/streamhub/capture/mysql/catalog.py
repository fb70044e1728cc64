"""A table as information_schema describes it now (``describe``), and the look-ups the binlog
stream thread makes on first sight of a table (``StreamCatalog``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.model import ColumnInfo
from streamhub.capture.mysql import types
from streamhub.capture.mysql.connection import connect

_DESCRIBE = """
SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.CHARACTER_SET_NAME, c.COLLATION_NAME,
       c.IS_NULLABLE, c.CHARACTER_OCTET_LENGTH, k.ORDINAL_POSITION
FROM information_schema.COLUMNS c
LEFT JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
 AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'
WHERE c.TABLE_SCHEMA = %s AND c.TABLE_NAME = %s
ORDER BY c.ORDINAL_POSITION
"""


@dataclass(frozen=True)
class CatalogColumn:
    """One column as information_schema describes it now."""

    name: str
    data_type: str
    column_type: str
    charset: str | None
    collation: str | None
    nullable: bool
    octets: int | None
    key_position: int | None  # 1-based position in the primary key

    def plan(self, encoding: str) -> types.ValuePlan:
        text = self.data_type in types.TEXT_TYPES
        return types.ValuePlan(
            name=self.name,
            data_type=self.data_type,
            kind=types.kind_of(self.data_type, "unsigned" in self.column_type),
            codec=types.text_codec(self.charset, encoding) if text else None,
            octets=self.octets if self.data_type == "binary" else None,
        )

    def info(self) -> ColumnInfo:
        return ColumnInfo(
            name=self.name,
            source_type=self.column_type,
            kind=types.kind_of(self.data_type, "unsigned" in self.column_type),
            key=self.key_position is not None,
            nullable=self.nullable,
        )


def describe(cursor: Cursor, database: str, table: str) -> list[CatalogColumn]:
    """The table's columns in order; empty when the table does not exist."""
    cursor.execute(_DESCRIBE, (database, table))
    return [
        CatalogColumn(
            name=row[0],
            data_type=str(row[1]).lower(),
            column_type=str(row[2]).lower(),
            charset=row[3],
            collation=row[4],
            nullable=row[5] == "YES",
            octets=int(row[6]) if row[6] is not None else None,
            key_position=int(row[7]) if row[7] is not None else None,
        )
        for row in cursor.fetchall()
    ]


class StreamCatalog:
    """information_schema look-ups from the stream thread, on a connection of its own."""

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self._config, self._password = config, password
        self._conn: Connection[Cursor] | None = None

    def describe(self, table: str) -> list[CatalogColumn]:
        if self._conn is None:
            self._conn = connect(self._config, self._password)
        with self._conn.cursor() as cur:
            return describe(cur, self._config.connection.database, table)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
