"""Institution databases on the stack's MariaDB: one database per institution system."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql

from streamhub.simulate.batch import Delete, Insert, Update
from streamhub.simulate.dialect import TableSpec
from streamhub.simulate.sources.base import SourceDatabases
from streamhub.stack.mariadb import MariaDB


class MariaDBSource(SourceDatabases):
    engine = "mariadb"
    quote_char = "`"

    def connect(self, database: str) -> Any:
        return MariaDB(self.settings).connect(database)

    def recreate(self, database: str, tables: Sequence[TableSpec], options: str) -> None:
        self.drop(database)
        admin = MariaDB(self.settings).connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{database}`")
                cur.execute(f"USE `{database}`")
                for table in tables:
                    cur.execute(self.create_table_sql(table, options))
            admin.commit()
        finally:
            admin.close()

    def drop(self, database: str) -> None:
        self.quote(database)
        self.forget(database)
        admin = MariaDB(self.settings).connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        finally:
            admin.close()

    def insert(self, cur: Any, step: Insert) -> None:
        columns = ", ".join(self.quote(c) for c in step.columns)
        marks = ", ".join(["%s"] * len(step.columns))
        # PyMySQL folds executemany of one INSERT … VALUES into multi-row statements
        cur.executemany(
            f"INSERT INTO {self.quote(step.table)} ({columns}) VALUES ({marks})", step.rows
        )

    def update_rows(self, cur: Any, sql: str, rows: list[tuple[object, ...]]) -> None:
        cur.executemany(sql, rows)

    def update_many(
        self, cur: Any, step: Update, sets: str, values: tuple[object, ...], keys: list[object]
    ) -> None:
        marks = ", ".join(["%s"] * len(keys))
        cur.execute(
            f"UPDATE {self.quote(step.table)} SET {sets} "
            f"WHERE {self.quote(step.key_column)} IN ({marks})",
            (*values, *keys),
        )

    def delete(self, cur: Any, step: Delete) -> None:
        marks = ", ".join(["%s"] * len(step.keys))
        cur.execute(
            f"DELETE FROM {self.quote(step.table)} "
            f"WHERE {self.quote(step.key_column)} IN ({marks})",
            step.keys,
        )

    @staticmethod
    def errors() -> tuple[type[Exception], ...]:
        return (pymysql.MySQLError,)
