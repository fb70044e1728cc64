"""The embedded ClickHouse engine (chDB) through clickhouse-connect."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect


def test_chdb_create_insert_select(tmp_path_factory: object) -> None:
    # one embedded engine per process: this is the only test that opens one
    path: Path = tmp_path_factory.mktemp("chdb")  # type: ignore[attr-defined]
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    client.command("CREATE DATABASE IF NOT EXISTS smoke")
    client.command(
        "CREATE TABLE smoke.visits (institution_id String, visit_id UInt64, dept String) "
        "ENGINE = MergeTree ORDER BY (institution_id, visit_id)"
    )
    rows = [
        ["123502001549897397", 1, "内科"],
        ["123502001549897397", 2, "儿科"],
        ["91350200776049653A", 1, "急诊科"],
    ]
    client.insert(
        "smoke.visits",
        rows,
        column_names=["institution_id", "visit_id", "dept"],
        settings={"async_insert": 0},
    )
    result = client.query(
        "SELECT institution_id, count(), groupArray(dept) FROM smoke.visits "
        "GROUP BY institution_id ORDER BY institution_id"
    )
    assert result.result_rows == [
        ("123502001549897397", 2, ["内科", "儿科"]),
        ("91350200776049653A", 1, ["急诊科"]),
    ]
