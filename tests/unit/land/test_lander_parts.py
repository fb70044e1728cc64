"""Pure parts of the lander: failure classes, the batch, routes."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from prometheus_client import CollectorRegistry

from streamhub.land.batch import Batch, DeadLetter, Origin, PendingRow
from streamhub.land.clickhouse import Failure, as_land_error, classify
from streamhub.land.errors import (
    ClickHouseQueryError,
    ClickHouseUnavailableError,
    LandingFailedError,
)
from streamhub.land.metrics import LandMetrics
from streamhub.land.targets import TARGETS, parse_route


def test_classify_separates_retry_row_and_fatal() -> None:
    assert classify(DatabaseError("too many parts", code=252)) is Failure.TRANSIENT
    assert classify(OperationalError("connection refused")) is Failure.TRANSIENT
    assert classify(ClickHouseUnavailableError("down")) is Failure.TRANSIENT
    assert classify(DatabaseError("constraint", code=469)) is Failure.ROW
    assert classify(ValueError("invalid literal for int()")) is Failure.ROW
    assert classify(DatabaseError("unknown table", code=60)) is Failure.FATAL
    assert classify(LandingFailedError("stop")) is Failure.FATAL


def test_batch_tracks_next_offsets_and_age() -> None:
    batch = Batch()
    target = TARGETS["encounter"]
    assert not batch.due(now=100.0, max_rows=3, max_age_s=0.2)
    batch.add_row(target, PendingRow([], {}, Origin("t", 0, 7, None, b"x")), now=100.0)
    batch.add_dead(DeadLetter(Origin("t", 0, 8, None, b"y"), "bad", "E"), now=100.05)
    batch.add_row(target, PendingRow([], {}, Origin("t", 1, 3, None, b"z")), now=100.1)
    assert batch.offsets == {("t", 0): 9, ("t", 1): 4}
    assert not batch.due(now=100.1, max_rows=5, max_age_s=0.2)
    assert batch.due(now=100.2, max_rows=5, max_age_s=0.2)  # the oldest is 200 ms old
    assert batch.due(now=100.1, max_rows=3, max_age_s=10)  # three messages
    batch.forget_partitions({("t", 0)})
    assert batch.offsets == {("t", 1): 4}
    assert batch.dead == [] and len(batch.rows["encounter"][1]) == 1


def test_routes_from_catalog_names_or_explicit_targets() -> None:
    assert parse_route("std.lab_result") == ("std.lab_result", "lab_result")
    assert parse_route("dlq.standardize") == ("dlq.standardize", "ops_dead_letters")
    assert parse_route("my-topic=ops_quality") == ("my-topic", "ops_quality")
    with pytest.raises(ValueError, match="no target table"):
        parse_route("my-topic")


def test_dead_letter_table_never_gets_the_original_bytes() -> None:
    assert "original_value" not in TARGETS["ops_dead_letters"].columns
    assert "original_key" not in TARGETS["ops_dead_letters"].columns


def test_ops_rows_default_only_fields_added_later() -> None:
    target = TARGETS["ops_landed_counts"]
    old = {  # written before database/versions/repair_id existed
        "institution_id": "h01",
        "system": "his",
        "table": "public.visit",
        "entity": "encounter",
        "window_start_ms": 60_000,
        "window_ms": 60_000,
        "upserts": 2,
        "deletes": 0,
        "landed_ts_ms": 1,
    }
    row = target.row(old, "ops.landed_counts", 0, 7)
    assert row[target.columns.index("database")] is None
    assert row[target.columns.index("repair_id")] is None
    assert row[-3:] == ["ops.landed_counts", 0, 7]
    with pytest.raises(KeyError, match="upserts"):  # a required field is never defaulted
        target.row({k: v for k, v in old.items() if k != "upserts"}, "t", 0, 0)
    anomaly = TARGETS["ops_anomaly"]
    assert "suppressed" in anomaly.defaults and "kind" not in anomaly.defaults


def test_a_refusal_keeps_the_servers_code_and_name() -> None:
    refused = DatabaseError(
        "Code: 62. DB::Exception: Syntax error: failed at position 7\n FORMAT Native. "
        "(SYNTAX_ERROR)",
        code=62,
        name="SYNTAX_ERROR",
    )
    error = as_land_error(refused, "query")
    assert isinstance(error, ClickHouseQueryError)
    assert (error.code, error.name) == (62, "SYNTAX_ERROR")
    assert str(error) == (
        "query: Code: 62. DB::Exception: Syntax error: failed at position 7 (SYNTAX_ERROR)"
    )
    named = DatabaseError("Unknown table (UNKNOWN_TABLE)", code=60, name="UNKNOWN_TABLE")
    unknown = as_land_error(named, "q")
    assert str(unknown) == "q: Unknown table (UNKNOWN_TABLE)"  # the name is not repeated
    down = as_land_error(OperationalError("connection refused"), "query")
    assert isinstance(down, ClickHouseUnavailableError) and "retry later" in str(down)


def test_land_metrics_are_named_by_the_stage_and_built_per_registry() -> None:
    registry = CollectorRegistry()
    metrics = LandMetrics.create(registry)
    metrics.rows.labels("encounter").inc(3)
    metrics.commit_to_queryable.labels("encounter").observe(0.3)
    metrics.newest_commit.labels("h01").set(1.0)
    assert registry.get_sample_value("streamhub_land_rows_total", {"entity": "encounter"}) == 3
    assert (
        registry.get_sample_value(
            "streamhub_land_commit_to_queryable_seconds_count", {"entity": "encounter"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "streamhub_land_last_commit_timestamp_seconds", {"institution": "h01"}
        )
        == 1.0
    )
    for name in ("batches_total", "errors_total", "records_total"):
        assert f"streamhub_land_{name.removesuffix('_total')}" in {
            family.name for family in registry.collect()
        }
