"""Pure parts of the lander: failure classes, the batch, routes."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from streamhub.land.batch import Batch, DeadLetter, Origin, PendingRow
from streamhub.land.clickhouse import Failure, classify
from streamhub.land.errors import ClickHouseUnavailableError, LandError
from streamhub.land.targets import TARGETS, parse_route


def test_classify_separates_retry_row_and_fatal() -> None:
    assert classify(DatabaseError("too many parts", code=252)) is Failure.TRANSIENT
    assert classify(OperationalError("connection refused")) is Failure.TRANSIENT
    assert classify(ClickHouseUnavailableError("down")) is Failure.TRANSIENT
    assert classify(DatabaseError("constraint", code=469)) is Failure.ROW
    assert classify(ValueError("invalid literal for int()")) is Failure.ROW
    assert classify(DatabaseError("unknown table", code=60)) is Failure.FATAL
    assert classify(LandError("stop")) is Failure.FATAL


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
