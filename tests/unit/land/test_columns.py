"""The lander's column-oriented rows and its per-flush metric observation."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from streamhub.land.batch import Batch, Origin, PendingRow, TableRows
from streamhub.land.metrics import COMMIT_TO_QUERYABLE_BUCKETS, observe_all
from streamhub.land.targets import TARGETS


def test_columns_are_the_rows_of_target_row_turned_column_wise() -> None:
    target = TARGETS["ops_landed_counts"]
    old = {  # written before database/versions/repair_id existed: their defaults land
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
    new = {**old, "database": "his", "repair_id": "r1", "upserts": 5}
    origins = [
        Origin("ops.landed_counts", 0, 7, None, b""),
        Origin("ops.landed_counts", 1, 3, None, b""),
    ]
    rows = TableRows(target, [old, new], origins)
    expected = [
        target.row(old, "ops.landed_counts", 0, 7),
        target.row(new, "ops.landed_counts", 1, 3),
    ]
    assert rows.columns() == [list(column) for column in zip(*expected, strict=True)]
    assert rows[1:].columns() == [[value] for value in expected[1]]
    assert rows.select([1]).records == [new]
    assert [r.origin for r in rows] == origins


def test_a_record_missing_a_required_field_is_refused_before_it_is_buffered() -> None:
    target = TARGETS["ops_landed_counts"]
    with pytest.raises(KeyError, match="upserts"):
        target.check({"institution_id": "h01"} | dict.fromkeys(set(target.fields) - {"upserts"}))
    target.check(dict.fromkeys(target.required))  # fields added later may be absent


def test_table_rows_take_a_list_of_rows_as_they_are() -> None:
    target = TARGETS["encounter"]
    row = PendingRow((), {"a": 1}, Origin("t", 0, 1, None, None))
    table = TableRows.of(target, [row])
    assert table.records == [{"a": 1}] and TableRows.of(target, table) is table
    batch = Batch()
    batch.add(target, {"b": 2}, Origin("t", 0, 2, None, None), now=1.0)
    assert batch.rows["encounter"][1].records == [{"b": 2}] and batch.offsets == {("t", 0): 3}


def test_observe_all_equals_one_observe_per_amount() -> None:
    amounts = [0.0, 0.1, 0.1000001, 0.3, 1.0, 2.5, 30.0, 7_200.0, 0.05, 1.0]
    registries = CollectorRegistry(), CollectorRegistry()
    one, many = (
        Histogram("lat", "d", ["entity"], registry=r, buckets=COMMIT_TO_QUERYABLE_BUCKETS)
        for r in registries
    )
    for amount in amounts:
        one.labels("e").observe(amount)
    observe_all(many.labels("e"), amounts)
    observe_all(many.labels("e"), [])
    samples = [
        sorted(
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for m in r.collect()
            for s in m.samples
            if not s.name.endswith("_created")
        )
        for r in registries
    ]
    assert samples[0] == samples[1]
    assert registries[1].get_sample_value("lat_count", {"entity": "e"}) == len(amounts)
