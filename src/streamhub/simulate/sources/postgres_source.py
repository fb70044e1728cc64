"""Institution databases on the stack's PostgreSQL: one database per institution system."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2.extras import execute_batch, execute_values

from streamhub.simulate.batch import Delete, Insert, Update
from streamhub.simulate.dialect import TableSpec
from streamhub.simulate.errors import SourceWriteError
from streamhub.simulate.sources.base import SourceDatabases
from streamhub.stack.postgres import Postgres


class PostgresSource(SourceDatabases):
    engine = "postgres"
    quote_char = '"'

    def connect(self, database: str) -> Any:
        return Postgres(self.settings).connect(database)

    def recreate(self, database: str, tables: Sequence[TableSpec], options: str) -> None:
        self.drop(database)
        with contextlib.closing(Postgres(self.settings).connect()) as admin:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE \"{database}\" ENCODING 'UTF8' TEMPLATE template0")
        conn = self.connection(database)
        with conn.cursor() as cur:
            for table in tables:
                cur.execute(self.create_table_sql(table, options))
        conn.commit()

    def drop(self, database: str) -> None:
        self.quote(database)
        self.forget(database)
        with contextlib.closing(Postgres(self.settings).connect()) as admin:
            admin.autocommit = True
            with admin.cursor() as cur:
                # a capture slot pins the database; an inactive one is ours to drop
                cur.execute(
                    "SELECT slot_name, active FROM pg_replication_slots WHERE database = %s",
                    (database,),
                )
                for slot, active in cur.fetchall():
                    if active:
                        raise SourceWriteError(
                            f"database {database} has an active replication slot {slot}; "
                            "stop the capture agent before re-creating the simulated institution",
                            database=database,
                            engine=self.engine,
                        )
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def insert(self, cur: Any, step: Insert) -> None:
        columns = ", ".join(self.quote(c) for c in step.columns)
        execute_values(
            cur,
            f"INSERT INTO {self.quote(step.table)} ({columns}) VALUES %s",
            step.rows,
            page_size=1000,
        )

    def update_rows(self, cur: Any, sql: str, rows: list[tuple[object, ...]]) -> None:
        execute_batch(cur, sql, rows, page_size=200)  # many statements per round trip

    def update_many(
        self, cur: Any, step: Update, sets: str, values: tuple[object, ...], keys: list[object]
    ) -> None:
        cur.execute(
            f"UPDATE {self.quote(step.table)} SET {sets} "
            f"WHERE {self.quote(step.key_column)} = ANY(%s)",
            (*values, keys),
        )

    def delete(self, cur: Any, step: Delete) -> None:
        cur.execute(
            f"DELETE FROM {self.quote(step.table)} WHERE {self.quote(step.key_column)} = ANY(%s)",
            (step.keys,),
        )

    @staticmethod
    def errors() -> tuple[type[Exception], ...]:
        return (psycopg2.Error,)
