"""Migrations: everything created, idempotent, columns in agreement with the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect, table_columns
from streamhub.land.errors import MigrationError
from streamhub.land.migrations import Migration, load_migrations, migrate
from streamhub.land.tables import LANDING_COLUMNS, model_columns, table_name
from streamhub.land.targets import NOT_LANDED, OPS_FIELDS
from streamhub.standardize.model import ENTITY_MODELS

VIEWS = {
    "v_encounter_current",
    "v_encounter_events",
    "v_encounters_by_minute",
    "v_encounters_by_day",
    "v_inpatients_on_hand",
    "v_charge_current",
    "v_fees_by_day",
    "v_outpatient_cost_by_day",
    "v_lab_exam_by_day",
    "v_dashboard_today",
    "v_reconciliation_current",
    "v_reconciliation_daily",
    "v_anomaly_current",
}
OPS_AVSC = {
    "ops_quality": "quality.avsc",
    "ops_source_counts": "source_counts.avsc",
    "ops_heartbeat": "heartbeat.avsc",
    "ops_landed_counts": "landed_counts.avsc",
    "ops_dead_letters": "dead_letter.avsc",
    "ops_reconciliation": "reconciliation.avsc",
    "ops_anomaly": "anomaly.avsc",
}


def _objects(client: Client, database: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String}",
        parameters={"db": database},
    ).result_rows
    return {str(n): str(e) for n, e in rows}


def test_migrate_creates_everything_and_is_idempotent(dsn: str, database: str) -> None:
    client = connect(dsn, database, create=True)
    try:
        first = migrate(client)
        assert [m.version for m in first.applied] == [m.version for m in load_migrations()]
        objects = _objects(client, database)
        for entity in ENTITY_MODELS:
            assert objects[table_name(entity)] == "ReplacingMergeTree"
        for table in OPS_FIELDS:
            assert objects[table] == "ReplacingMergeTree"
        assert {n for n, e in objects.items() if e == "View"} == VIEWS
        for view in VIEWS:  # every view runs on empty tables
            client.query(f"SELECT * FROM {view}")

        second = migrate(client)
        assert second.applied == []
        assert len(second.already) == len(first.applied)
        recorded = client.query("SELECT count() FROM schema_migrations").result_rows[0][0]
        assert recorded == len(first.applied)
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()


def test_entity_columns_agree_with_models(ch: Client, database: str) -> None:
    for entity, model in ENTITY_MODELS.items():
        have = table_columns(ch, database, table_name(entity))
        expected = {
            **model_columns(model),
            **LANDING_COLUMNS,
            "_landed_time": have.get("_landed_time", "missing"),
        }
        missing = sorted(set(model.model_fields) - set(have))
        assert not missing, f"std_{entity} lacks model field(s) {missing}: add a migration"
        assert have == expected, f"std_{entity} column types differ from the model"


def test_ops_columns_agree_with_avro_schemas(ch: Client, database: str, project_dir: Path) -> None:
    for table, avsc in OPS_AVSC.items():
        schema = json.loads((project_dir / "avro_schemas" / "ops" / avsc).read_text())
        fields = [f["name"] for f in schema["fields"] if f["name"] not in NOT_LANDED.get(table, ())]
        have = list(table_columns(ch, database, table))
        assert have[: len(fields)] == fields == list(OPS_FIELDS[table])
    dead_letter_columns = table_columns(ch, database, "ops_dead_letters")
    assert "original_key" not in dead_letter_columns
    assert "original_value" not in dead_letter_columns


def test_edited_applied_migration_is_refused(ch: Client) -> None:
    first = load_migrations()[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        migrate(ch, [edited])


def test_failed_migration_is_not_recorded(ch: Client) -> None:
    broken = Migration(99, "broken", "CREATE TABLE t99 (x UInt8) ENGINE = Memory;\nSELEC 1;\n")
    with pytest.raises(MigrationError, match="0099_broken, statement 2"):
        migrate(ch, [broken])
    versions = ch.query("SELECT version FROM schema_migrations WHERE version = 99").result_rows
    assert versions == []
