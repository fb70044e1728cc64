"""``streamhub debezium counts`` for a SQL Server file: the command runs the change-table
query through a DB-API connection and folds its rows into ops.source_counts records.

No SQL Server runs here: the connection is a fake at the DB-API boundary (the cursor records
the SQL and parameters it was given and answers rows as SQL Server would); everything above
it (the command, the counter, the rendered SQL, the records) is the real code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from streamhub.cli.main import cli
from streamhub.debezium import counts_sqlserver
from streamhub.debezium.counts_sqlserver import CountedTable, connection_string, count_sql
from streamhub.reconcile.inputs import SourceWindow, source_from_avro

from ..capture.task_fakes import connector

TABLES = ["dbo.lab_report", "lab_result"]


class FakeCursor:
    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.executed: list[tuple[str, Sequence[Any]]] = []
        self.closed = False
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any]) -> FakeCursor:
        self.executed.append((sql, params))
        instance = next(name for name in self.answers if f"cdc.[{name}_CT]" in sql)
        self._rows = self.answers[instance]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        self.closed = True


class FakeConnection:
    def __init__(self, cursor: FakeCursor) -> None:
        self._cursor = cursor
        self.closed = False

    def cursor(self) -> FakeCursor:
        return self._cursor

    def close(self) -> None:
        self.closed = True


def _files(directory: Path, *documents: dict[str, Any]) -> None:
    for document in documents:
        (directory / f"{document['name']}.yaml").write_text(yaml.safe_dump(document))


def _sqlserver(name: str = "sq-lis") -> dict[str, Any]:
    return {
        "name": name,
        "institution_id": "12350203426611300D",
        "system": "lis",
        "engine": "sqlserver",
        "capture_engine": "debezium",
        "connection": {"host": "lis-db", "port": 1433, "database": "LIS", "user": "dbz",
                       "password_env": "TEST_SQ_PW"},
        "tables": TABLES,
        "profile": "english_pg",
    }  # fmt: skip


def test_counts_runs_the_change_table_query_through_the_db_api_and_prints_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _files(tmp_path, _sqlserver())
    minute = 1_772_440_200_000
    cursor = FakeCursor(
        {"dbo_lab_report": [(minute, 3, 2, 1)], "dbo_lab_result": [(minute + 60_000, 0, 1, None)]}
    )
    connection = FakeConnection(cursor)
    opened: list[tuple[str, str]] = []

    def connect(config: Any, password: str) -> FakeConnection:
        opened.append((config.name, password))
        return connection

    monkeypatch.setattr(counts_sqlserver, "odbc_connect", connect)
    result = CliRunner().invoke(
        cli,
        ["debezium", "counts", "--connector", "sq-lis", "--once", "--print",
         "--server-time-zone", "UTC", "--lookback-minutes", "5"],
        env={"STREAMHUB_CONNECTORS_DIR": str(tmp_path), "TEST_SQ_PW": "pw-Not-printed-9"},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert opened == [("sq-lis", "pw-Not-printed-9")]
    assert "pw-Not-printed-9" not in result.output
    # the rendered query of each table, bounded by the last 5 complete minutes (UTC)
    assert [sql for sql, _ in cursor.executed] == [
        count_sql(CountedTable.of(t), "UTC") for t in TABLES
    ]
    for _, (start, end) in cursor.executed:
        assert isinstance(start, datetime) and isinstance(end, datetime)
        assert end - start == timedelta(minutes=5) and end.second == end.microsecond == 0
        assert end.tzinfo is None  # datetime2 holds no zone: the query compares UTC
    assert cursor.closed and connection.closed
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    windows = [source_from_avro(line) for line in lines]
    assert all(isinstance(w, SourceWindow) for w in windows)
    assert [(w.table.database, w.table.table, w.changes) for w in windows] == [  # type: ignore[union-attr]
        ("LIS", "dbo.lab_report", 6),
        ("LIS", "dbo.lab_result", 1),
    ]


def test_oracle_files_are_skipped_with_why_and_log_files_cannot_be_counted_once(
    tmp_path: Path,
) -> None:
    oracle = _sqlserver("or-his") | {"engine": "oracle", "system": "his", "tables": ["HIS.PAT"]}
    _files(tmp_path, oracle)
    env = {"STREAMHUB_CONNECTORS_DIR": str(tmp_path), "TEST_SQ_PW": "x"}
    skipped = CliRunner().invoke(cli, ["debezium", "counts", "--all", "--once"], env=env)
    assert skipped.exit_code == 1
    assert "or-his: Oracle sources are not counted yet" in skipped.output

    postgres = _sqlserver("pg-his") | {"engine": "postgresql", "tables": ["public.visit"]}
    _files(tmp_path, postgres)
    refused = CliRunner().invoke(
        cli, ["debezium", "counts", "--connector", "pg-his", "--print"], env=env
    )
    assert refused.exit_code == 2 and "count from their logs until stopped" in refused.output


def test_the_odbc_connection_string_braces_values_and_keeps_tls_on() -> None:
    config = connector(
        name="sq-lis",
        engine="sqlserver",
        capture_engine="debezium",
        connection={"host": "db", "port": 1433, "database": "L;IS", "user": "u}x",
                    "password_env": "PW"},
    )  # fmt: skip
    text = connection_string(config, "p;w}d")
    assert "SERVER=db,1433" in text and "DATABASE={L;IS}" in text and "UID={u}}x}" in text
    assert "PWD={p;w}}d}" in text
    assert "Encrypt=yes" in text and "TrustServerCertificate=no" in text
