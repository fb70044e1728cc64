"""The embedded ClickHouse engine (chDB) through clickhouse-connect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import clickhouse_connect


def test_chdb_create_insert_select(chdb_path: Path, unique: Callable[[str], str]) -> None:
    # one embedded engine per process: every chDB test shares chdb_path, each its own database
    database = unique("smoke").replace("-", "_")
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE {database}.visits (institution_id String, visit_id UInt64, dept String) "
        "ENGINE = MergeTree ORDER BY (institution_id, visit_id)"
    )
    rows = [
        ["123502001549897397", 1, "内科"],
        ["123502001549897397", 2, "儿科"],
        ["91350200776049653A", 1, "急诊科"],
    ]
    client.insert(
        f"{database}.visits",
        rows,
        column_names=["institution_id", "visit_id", "dept"],
        settings={"async_insert": 0},
    )
    result = client.query(
        f"SELECT institution_id, count(), groupArray(dept) FROM {database}.visits "
        "GROUP BY institution_id ORDER BY institution_id"
    )
    assert result.result_rows == [
        ("123502001549897397", 2, ["内科", "儿科"]),
        ("91350200776049653A", 1, ["急诊科"]),
    ]
