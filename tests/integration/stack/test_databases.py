"""The institutions' databases are ready for log-based capture."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from streamhub.config import Settings
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.postgres import Postgres


def test_postgres_is_ready_for_logical_replication(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    slot = unique("slot").replace("-", "_")
    with contextlib.closing(Postgres(settings).connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW wal_level")
            assert cur.fetchone() == ("logical",)
            cur.execute("SELECT rolreplication FROM pg_roles WHERE rolname = current_user")
            assert cur.fetchone() == (True,)
            cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
            cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone() == ("127.0.0.1",)


def test_mariadb_writes_a_row_based_binlog_with_gtids(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    database = unique("cdc").replace("-", "_")
    with contextlib.closing(MariaDB(settings).connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
            "@@binlog_row_metadata, @@gtid_strict_mode, @@bind_address"
        )
        assert cur.fetchone() == (1, "ROW", "FULL", "FULL", 1, "127.0.0.1")
        cur.execute("SELECT @@gtid_binlog_pos")
        (before,) = cur.fetchone()
        cur.execute(f"CREATE DATABASE {database}")
        try:
            cur.execute(f"CREATE TABLE {database}.t (id INT PRIMARY KEY, xm VARCHAR(20))")
            cur.execute(f"INSERT INTO {database}.t VALUES (1, '张三')")
            conn.commit()
            cur.execute("SELECT @@gtid_binlog_pos")
            (after,) = cur.fetchone()
            assert after != before
        finally:
            cur.execute(f"DROP DATABASE {database}")
        cur.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cur.fetchall())
        assert "ALL PRIVILEGES" in grants  # includes REPLICATION SLAVE and BINLOG MONITOR
