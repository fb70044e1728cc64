"""The cluster form of the migrations against a real engine (chDB, one node: no cluster,
no Keeper). What one node can check is checked: every rendered statement parses; the local
tables, their column changes, indexes and mutation run (ON CLUSTER and the replication
arguments taken off) and end with the very columns and keys of the single-node schema; the
check that stands in for 0007's rebuild passes on partitioned tables and refuses others."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.cluster_ddl import ClusterTarget, migrations_table_ddl, render_cluster
from streamhub.land.errors import MigrationError
from streamhub.land.migrations import Migration, _apply, load_migrations, migrate
from tests.integration.commands import run_streamhub

_REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?")


def _one_node(statement: str) -> str | None:
    """The statement as one node runs it on its own local tables (None: needs the cluster)."""
    if "ENGINE = Distributed(" in statement or statement.startswith(
        ("CREATE OR REPLACE VIEW", "CREATE MATERIALIZED VIEW", "INSERT INTO")
    ):
        return None  # reads or writes the Distributed tables
    altered = re.match(r"ALTER TABLE (\w+)", statement)
    if altered and not altered[1].endswith("_local"):
        return None  # the same change on the Distributed table
    return _REPLICATED.sub(r"\1(", statement.replace(" ON CLUSTER province", ""))


def _tables(client: Client, database: str) -> dict[str, tuple[object, ...]]:
    rows = client.query(
        "SELECT name, engine_full, partition_key, sorting_key FROM system.tables "
        "WHERE database = {db:String} AND engine LIKE '%MergeTree'",
        parameters={"db": database},
    ).result_rows
    out: dict[str, tuple[object, ...]] = {}
    for name, engine_full, partition_key, sorting_key in rows:
        columns = client.query(
            "SELECT name, type, default_expression FROM system.columns "
            "WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            parameters={"db": database, "t": name},
        ).result_rows
        indexes = client.query(
            "SELECT name, expr, type FROM system.data_skipping_indices "
            "WHERE database = {db:String} AND table = {t:String} ORDER BY name",
            parameters={"db": database, "t": name},
        ).result_rows
        engine = str(engine_full).split(" PARTITION BY")[0].split(" ORDER BY")[0]
        key = str(name).removesuffix("_local")
        out[key] = (engine, partition_key, sorting_key, columns, indexes)
    return out


def test_cluster_form_parses_and_its_local_half_equals_the_single_node_schema(
    dsn: str, database: str
) -> None:
    migrations = load_migrations()
    target = ClusterTarget("province", database)
    rendered = [s for m in migrations for s in render_cluster(migrations, target)[m.version]]
    single = connect(dsn, database, create=True)
    local_db = f"{database}_local"
    local = connect(dsn, local_db, create=True)
    try:
        for statement in [migrations_table_ddl(target, "schema_migrations"), *rendered]:
            local.query(f"EXPLAIN AST {statement}")  # ClickHouse's own parser accepts it
        migrate(single)
        for statement in rendered:
            runnable = _one_node(statement)
            if runnable is not None:
                local.command(runnable)
        want = _tables(single, database)
        have = _tables(local, local_db)
        want.pop("schema_migrations")
        assert have == want
        assert have["std_encounter"][1] == "toYYYYMMDD(commit_time)"
        indexes = have["std_encounter"][4]
        assert isinstance(indexes, list) and len(indexes) == 4  # 0007's minmax indexes
    finally:
        for client, name in ((single, database), (local, local_db)):
            client.command(f"DROP DATABASE IF EXISTS `{name}`")
            client.close()


def test_the_rebuild_check_refuses_an_unpartitioned_local_table(dsn: str, database: str) -> None:
    migrations = load_migrations()
    check = render_cluster(migrations, ClusterTarget("province", database))[7][0]
    assert check.startswith("SELECT throwIf")
    client = connect(dsn, database, create=True)
    try:
        client.command(
            "CREATE TABLE std_encounter_local (commit_time DateTime, a String) "
            "ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(commit_time) ORDER BY a"
        )
        client.command(check)  # partitioned: passes
        client.command("DROP TABLE std_encounter_local SYNC")
        client.command(
            "CREATE TABLE std_encounter_local (commit_time DateTime, a String) "
            "ENGINE = ReplacingMergeTree ORDER BY a"
        )
        probe = Migration(7, "dashboard_partitions", "-- probe\nSELECT 1;")
        with pytest.raises(
            MigrationError,
            match=r"statement 1 of its cluster form: .*not partitioned by toYYYYMMDD",
        ):
            # through migrate's own error path: the statement it would run on a cluster
            _apply(client, probe, [check], cluster_form=True)
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()


def test_migrate_command_with_a_cluster_goes_on_cluster(tmp_path: Path) -> None:
    # chDB knows no cluster: the command must try ON CLUSTER (not the single-node path) and
    # fail cleanly, naming the cluster
    env = {
        **os.environ,
        "STREAMHUB_CLICKHOUSE_CLUSTER": "province",
        "STREAMHUB_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'ch'}",
        "STREAMHUB_DATA_DIR": str(tmp_path),
    }
    done = run_streamhub("clickhouse", "migrate", "--database", "cl_probe", env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "preparing database cl_probe ON CLUSTER province" in done.stderr
    assert "CLUSTER_DOESNT_EXIST" in done.stderr
    assert "Traceback" not in done.stderr
