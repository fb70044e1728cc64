"""Migration 0009's cluster form: the state tables' materialized views and backfills."""

from __future__ import annotations

from streamhub.land.cluster_ddl import ClusterTarget, render_cluster
from streamhub.land.migrations import load_migrations

TARGET = ClusterTarget("province", "streamhub")


def _ninth() -> list[str]:
    return render_cluster(load_migrations(), TARGET)[9]


def test_state_tables_shard_with_their_records_and_keep_the_version_arguments() -> None:
    creates = [s for s in _ninth() if s.startswith("CREATE TABLE")]
    text = "\n".join(creates)
    # versions of a record share its shard: FINAL on each shard sees them all
    assert "'inpatient_state_local', cityHash64(institution_id, record_id))" in text
    assert "'encounter_kind_local', cityHash64(institution_id, encounter_id, record_id))" in text
    assert "'{replica}', source_position_seq, gone)" in text
    assert "'{replica}', source_position_seq, deleted)" in text


def test_views_fire_on_the_distributed_std_table_and_write_the_distributed_state() -> None:
    views = [s for s in _ninth() if s.startswith("CREATE MATERIALIZED VIEW")]
    assert [v.splitlines()[0] for v in views] == [
        "CREATE MATERIALIZED VIEW IF NOT EXISTS inpatient_state_mv ON CLUSTER province "
        "TO inpatient_state AS",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS encounter_kind_mv ON CLUSTER province "
        "TO encounter_kind AS",
    ]
    assert not any("_local" in v for v in views)


def test_backfills_run_once_through_the_distributed_tables() -> None:
    inserts = [s for s in _ninth() if s.startswith("INSERT INTO")]
    assert [s.splitlines()[0] for s in inserts] == [
        "INSERT INTO inpatient_state",
        "INSERT INTO encounter_kind",
    ]
    assert not any("ON CLUSTER" in s or "_local" in s for s in inserts)
