"""Pure parts of the lander: failure classes, landed counts, the batch, routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from streamhub.land.batch import Batch, DeadLetter, Origin, PendingRow
from streamhub.land.clickhouse import Failure, classify
from streamhub.land.errors import ClickHouseUnavailableError, LandError
from streamhub.land.landed_counts import LandedCounts
from streamhub.land.targets import TARGETS, parse_route
from streamhub.reconcile.versions import version_id


def test_classify_separates_retry_row_and_fatal() -> None:
    assert classify(DatabaseError("too many parts", code=252)) is Failure.TRANSIENT
    assert classify(OperationalError("connection refused")) is Failure.TRANSIENT
    assert classify(ClickHouseUnavailableError("down")) is Failure.TRANSIENT
    assert classify(DatabaseError("constraint", code=469)) is Failure.ROW
    assert classify(ValueError("invalid literal for int()")) is Failure.ROW
    assert classify(DatabaseError("unknown table", code=60)) is Failure.FATAL
    assert classify(LandError("stop")) is Failure.FATAL


def _record(
    op: str, minute: int, second: int = 5, table: str = "public.visit", seq: int = 1
) -> dict[str, object]:
    return {
        "institution_id": "123502001549897397", "source_system": "his", "source_table": table,
        "source_database": "his", "record_id": f"r-{table}", "source_position_seq": seq,
        "operation": op, "commit_time": datetime(2026, 11, 25, 8, minute, second, tzinfo=UTC),
    }


def test_landed_counts_per_table_and_commit_minute() -> None:
    counts = LandedCounts()
    for seq, (op, minute) in enumerate((("c", 1), ("u", 1), ("r", 1), ("d", 1), ("c", 2))):
        counts.add("encounter", _record(op, minute, seq=seq))
    counts.add("encounter", _record("c", 1, table="public.admission"))
    events = counts.events(landed_ts_ms=123)
    start = int(datetime(2026, 11, 25, 8, 1, tzinfo=UTC).timestamp() * 1000)
    values = [(v["table"], v["window_start_ms"], v["upserts"], v["deletes"]) for _, v in events]
    assert values == [
        ("public.admission", start, 1, 0),
        ("public.visit", start, 3, 1),
        ("public.visit", start + 60_000, 1, 0),
    ]
    key, value = events[1]
    assert key == f"123502001549897397|public.visit|{start}".encode()
    assert value["window_ms"] == 60_000 and value["landed_ts_ms"] == 123
    assert value["database"] == "his" and value["repair_id"] is None
    # every counted record's version, so the reconciler counts a replayed flush once
    assert value["versions"] == [version_id("r-public.visit", seq) for seq in range(4)]


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
        "institution_id": "h01", "system": "his", "table": "public.visit", "entity": "encounter",
        "window_start_ms": 60_000, "window_ms": 60_000, "upserts": 2, "deletes": 0,
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
