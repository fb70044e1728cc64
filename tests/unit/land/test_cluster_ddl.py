"""The migrations' cluster form (streamhub.land.cluster_ddl): golden files pin it.

Regenerate after a deliberate change with ``STREAMHUB_UPDATE_GOLDEN=1 pytest <this file>``
and read the diff: every line of it is DDL a province's cluster will run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streamhub.config import load_settings
from streamhub.errors import ConfigError
from streamhub.land.cluster_ddl import (
    ClusterTarget,
    migrations_table_ddl,
    render_cluster,
    replicated_engine,
    sharding_key,
)
from streamhub.land.errors import ClusterDdlError
from streamhub.land.migrations import Migration, load_migrations, migrate

GOLDEN = Path(__file__).parents[2] / "data" / "cluster_ddl"
TARGET = ClusterTarget("province", "streamhub")
MIGRATIONS = load_migrations()
RENDERED = render_cluster(MIGRATIONS, TARGET)


def _golden_text(statements: list[str]) -> str:
    return "".join(f"{s};\n\n" for s in statements)


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda m: f"{m.version:04d}")
def test_golden_cluster_ddl(migration: Migration) -> None:
    path = GOLDEN / f"{migration.version:04d}_{migration.name}.sql"
    text = _golden_text(RENDERED[migration.version])
    if os.environ.get("STREAMHUB_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


def test_every_migration_has_a_golden_file_and_no_other() -> None:
    expected = {f"{m.version:04d}_{m.name}.sql" for m in MIGRATIONS}
    assert {p.name for p in GOLDEN.glob("*.sql")} == expected


def test_golden_schema_migrations_table() -> None:
    assert migrations_table_ddl(TARGET, "schema_migrations") == (
        "CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER province (version UInt32, "
        "name String, applied_at DateTime64(3, 'UTC'), checksum String) ENGINE = "
        "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations', "
        "'{replica}') ORDER BY version"
    )


def _all_rendered() -> list[str]:
    return [s for m in MIGRATIONS for s in RENDERED[m.version]]


def test_every_statement_shape_of_the_migrations_is_handled() -> None:
    # render_cluster raised on none; each source statement yields a cluster form or is a part
    # of 0007's copy-aside rebuild, which a cluster does not run
    dropped = 0
    for migration in MIGRATIONS:
        for statement in migration.statements():
            first = statement.splitlines()[0]
            copy_aside = re.match(
                r"(CREATE TABLE IF NOT EXISTS \w+_\d{4} AS |INSERT INTO \w+ SELECT \* FROM |"
                r"DROP TABLE IF EXISTS \w+_\d{4}$)",
                first,
            )
            dropped += bool(copy_aside)
    assert dropped == 4 * 4  # four tables, four copy statements each
    # 0007's checks and 0009's backfills run once, on the node migrated through
    ddl = [s for s in _all_rendered() if not s.startswith(("SELECT throwIf", "INSERT INTO"))]
    assert all(" ON CLUSTER province" in s.splitlines()[0] for s in ddl)


def test_local_tables_are_replicated_and_the_usual_names_are_distributed() -> None:
    creates = [s for s in _all_rendered() if s.startswith("CREATE TABLE")]
    local = {re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s)[1]: s for s in creates}  # type: ignore[index]
    tables = {n for n in local if not n.endswith("_local")}
    assert {f"{t}_local" for t in tables} == set(local) - tables
    # std_*, ops_*, the work orders' two (0008) and the dashboard's state tables (0009)
    assert len(tables) == 8 + 7 + 2 + 2
    for name in tables:
        engine = re.search(r"ENGINE = (\w+)\(", local[name])[1]  # type: ignore[index]
        assert engine == "Distributed"
        assert f"'province', 'streamhub', '{name}_local'" in local[name]
        replicated = re.search(r"ENGINE = (\w+)\('([^']+)', '([^']+)'", local[f"{name}_local"])
        assert replicated is not None
        assert replicated[1] == "ReplicatedReplacingMergeTree"
        assert replicated[2] == "/clickhouse/tables/{shard}/{database}/" + name
        assert replicated[3] == "{replica}"


def test_std_tables_shard_by_record_and_keep_their_version_arguments() -> None:
    ddl = _golden_text(RENDERED[1])
    assert ddl.count("cityHash64(institution_id, record_id))") == 8
    assert ddl.count("'{replica}', source_position_seq, deleted)") == 8


def test_rebuilt_tables_are_created_partitioned_and_0007_only_checks_and_indexes() -> None:
    first = _golden_text(RENDERED[1])
    for table in ("std_encounter", "std_charge", "std_lab_report", "std_exam"):
        create = re.search(
            rf"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER province\n.*?ORDER BY",
            first,
            re.DOTALL,
        )
        assert create is not None
        assert "PARTITION BY toYYYYMMDD(commit_time)\nORDER BY" in create[0]
    for table in ("std_patient", "std_order"):
        create = re.search(rf"{table}_local ON CLUSTER province\n.*?ORDER BY", first, re.DOTALL)
        assert create is not None and "PARTITION BY" not in create[0]
    seventh = RENDERED[7]
    assert not any(s.startswith(("INSERT", "DROP", "CREATE")) for s in seventh)
    checks = [s for s in seventh if s.startswith("SELECT throwIf")]
    assert len(checks) == 4
    assert all("partition_key != 'toYYYYMMDD(commit_time)'" in s for s in checks)
    assert all(
        re.match(r"ALTER TABLE std_\w+_local ON CLUSTER province ADD INDEX", s)
        for s in seventh
        if s not in checks
    )


def test_column_changes_go_to_both_tables_and_mutations_to_local_only() -> None:
    fifth = RENDERED[5]
    assert fifth[:2] == [
        "ALTER TABLE std_patient_local ON CLUSTER province ADD COLUMN IF NOT EXISTS "
        "`pseudonym_key_id` Nullable(String) AFTER person_key",
        "ALTER TABLE std_patient ON CLUSTER province ADD COLUMN IF NOT EXISTS "
        "`pseudonym_key_id` Nullable(String) AFTER person_key",
    ]
    mutation = RENDERED[6][-1]
    assert mutation.startswith("ALTER TABLE std_patient_local ON CLUSTER province\n    UPDATE ")
    assert mutation.endswith("SETTINGS mutations_sync = 1")


def test_views_read_the_distributed_tables() -> None:
    views = [s for s in _all_rendered() if s.startswith("CREATE OR REPLACE VIEW")]
    assert len(views) == 13
    assert not any("_local" in v for v in views)
    assert "FROM std_encounter FINAL" in _golden_text(RENDERED[3])


def test_sharding_key_and_replicated_engine() -> None:
    assert sharding_key("(a, b)") == "cityHash64(a, b)"
    assert sharding_key("a") == "cityHash64(a)"
    assert sharding_key("(a, ifNull(b, ''))") == "cityHash64(a, ifNull(b, ''))"
    assert sharding_key("(a) + (b)") == "cityHash64((a) + (b))"
    assert replicated_engine("ReplacingMergeTree", None, "t") == (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/t', '{replica}')"
    )
    assert replicated_engine("MergeTree", "", "t").startswith("ReplicatedMergeTree('/")
    with pytest.raises(ClusterDdlError, match="already replicated"):
        replicated_engine("ReplicatedMergeTree", None, "t")


def _one(sql: str, version: int = 99) -> Migration:
    return Migration(version, "probe", sql)


SHAPES_REFUSED = [
    "CREATE TABLE IF NOT EXISTS t\n(\n    `a` Int64\n)\nENGINE = Memory\nORDER BY a;",
    "CREATE TABLE IF NOT EXISTS t\n(\n    `a` Int64\n)\nENGINE = ReplacingMergeTree\n"
    "ORDER BY a\nTTL toDate(a) + 1;",
    "CREATE TABLE IF NOT EXISTS t\n(\n    `a` Int64,\n"
    "    INDEX a_minmax a TYPE minmax GRANULARITY 1\n)\nENGINE = ReplacingMergeTree\nORDER BY a;",
    "TRUNCATE TABLE std_patient;",
    "INSERT INTO std_patient SELECT * FROM std_patient_copy;",
    "DROP TABLE IF EXISTS std_patient;",
    "ALTER TABLE std_patient MODIFY COLUMN `x` String;",
    "ALTER TABLE nowhere ADD COLUMN IF NOT EXISTS `x` String;",
    "CREATE MATERIALIZED VIEW mv TO t AS SELECT 1;",
    "RENAME TABLE std_patient TO std_person;",
]


@pytest.mark.parametrize("sql", SHAPES_REFUSED)
def test_an_unknown_shape_is_refused_naming_the_statement(sql: str) -> None:
    migrations = [*MIGRATIONS, _one(sql)]
    with pytest.raises(ClusterDdlError) as caught:
        render_cluster(migrations, TARGET)
    message = str(caught.value)
    assert "migration 0099_probe, statement 1" in message
    assert sql.splitlines()[0].rstrip(";")[:40] in message
    assert "streamhub.land.cluster_ddl" in message


def test_a_table_created_twice_is_refused() -> None:
    sql = MIGRATIONS[0].statements()[0] + ";"
    with pytest.raises(ClusterDdlError, match="std_patient is created twice"):
        render_cluster([*MIGRATIONS, _one(sql)], TARGET)


def test_names_must_be_identifiers() -> None:
    with pytest.raises(ClusterDdlError, match="cluster name"):
        ClusterTarget("pro vince; DROP", "streamhub")
    with pytest.raises(ClusterDdlError, match="database name"):
        ClusterTarget("province", "x`y")


def test_settings_name_the_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).clickhouse_cluster is None  # single node: default
    monkeypatch.setenv("STREAMHUB_CLICKHOUSE_CLUSTER", "province")
    assert load_settings(data_dir=tmp_path).clickhouse_cluster == "province"
    monkeypatch.setenv("STREAMHUB_CLICKHOUSE_CLUSTER", "a b")
    with pytest.raises(ConfigError, match="clickhouse_cluster"):
        load_settings(data_dir=tmp_path)


@dataclass
class _Rows:
    result_rows: list[Any]


class _RecordingClient:
    """Records what migrate() sends; no ClickHouse behind it (the hook's unit test)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.inserted: list[list[Any]] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str) -> _Rows:
        return _Rows([])

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        self.inserted.extend(rows)


def test_migrate_with_a_cluster_applies_the_cluster_form() -> None:
    client = _RecordingClient()
    result = migrate(client, cluster=TARGET)  # type: ignore[arg-type]
    assert [m.version for m in result.applied] == [m.version for m in MIGRATIONS]
    assert client.commands[0] == migrations_table_ddl(TARGET, "schema_migrations")
    assert client.commands[1:] == _all_rendered()
    # recorded under the files' own checksums: the same files, applied in another form
    assert [row[3] for row in client.inserted] == [m.checksum for m in MIGRATIONS]


def test_migrate_without_a_cluster_applies_the_files_unchanged() -> None:
    client = _RecordingClient()
    migrate(client)  # type: ignore[arg-type]
    assert "ON CLUSTER" not in "".join(client.commands)
    assert client.commands[1:] == [s for m in MIGRATIONS for s in m.statements()]
