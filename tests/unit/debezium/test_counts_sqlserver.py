"""SQL Server source counts from its CDC change tables: the rendered query and the folding of
its rows into ops.source_counts records the reconciler reads."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.debezium.counts_sqlserver import (
    CountedTable,
    CountQueryError,
    count_sql,
    record_key,
    source_counts_records,
)
from streamhub.reconcile.inputs import SourceWindow, source_from_avro
from streamhub.serde.avro_serde import AvroSerde

from ..capture.task_fakes import connector


def test_the_query_counts_the_change_table_by_utc_commit_minute() -> None:
    sql = count_sql(CountedTable.of("lab_result"), "China Standard Time")
    assert "FROM cdc.[dbo_lab_result_CT] AS ct" in sql
    assert "JOIN cdc.lsn_time_mapping AS m ON m.start_lsn = ct.__$start_lsn" in sql
    # an update is two rows (3: before, 4: after): only the after image counts
    assert "ct.__$operation IN (1, 2, 4)" in sql
    assert "WHEN w.op = 2 THEN 1" in sql and "WHEN w.op = 4 THEN 1" in sql
    assert "WHEN w.op = 1 THEN 1" in sql
    # commit time is tran_end_time in the server's zone, turned into UTC, bounded by ? ?
    assert "m.tran_end_time AT TIME ZONE 'China Standard Time' AT TIME ZONE 'UTC'" in sql
    assert sql.count("?") == 2
    assert "DATEDIFF_BIG(millisecond, '1970-01-01', w.minute_utc)" in sql
    named = count_sql(CountedTable.of("lis.result", "lis_result_v2"))
    assert "cdc.[lis_result_v2_CT]" in named


@pytest.mark.parametrize(
    ("table", "zone"),
    [
        (CountedTable("dbo", "x", "x]; DROP TABLE y; --"), "UTC"),
        (CountedTable.of("dbo.x"), "UTC'; DROP TABLE y; --"),
    ],
)
def test_names_that_are_not_plain_are_refused(table: CountedTable, zone: str) -> None:
    with pytest.raises(CountQueryError):
        count_sql(table, zone)


def test_rows_fold_into_source_counts_the_reconciler_reads() -> None:
    config = connector(name="sq-lis", system="lis", engine="sqlserver", capture_engine="debezium")
    minute = 1_772_440_200_000
    rows = [(minute, 3, 2, 1), (minute + 60_000, 0, 1, None)]
    records = source_counts_records(config, CountedTable.of("dbo.lab_result"), rows, minute + 1)
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://counts"}))
    writer = serde.register(
        "ops.source_counts-value",
        load_schema(Settings().project_dir / "avro_schemas", "ops/source_counts.avsc"),
    )
    decoded = [serde.decode(serde.encode(writer, r)).value for r in records]
    windows = [source_from_avro(v) for v in decoded]
    assert all(isinstance(w, SourceWindow) for w in windows)
    first, second = windows
    assert isinstance(first, SourceWindow) and isinstance(second, SourceWindow)
    assert (first.table.database, first.table.table) == ("his", "dbo.lab_result")
    assert (first.inserts, first.updates, first.deletes, first.changes) == (3, 2, 1, 6)
    assert (second.window_start_ms, second.changes) == (minute + 60_000, 1)
    assert json.loads(record_key(records[0])) == {
        "connector": "sq-lis",
        "table": "his.dbo.lab_result",
        "window": minute,
    }
    with pytest.raises(CountQueryError):
        source_counts_records(config, CountedTable.of("x"), [(minute + 5, 1, 0, 0)], 0)
