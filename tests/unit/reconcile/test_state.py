"""Retention, snapshot/restore, and state reconciliation against live row counts."""

from __future__ import annotations

import json

import pytest

from streamhub.reconcile.errors import SnapshotFormatError
from streamhub.reconcile.inputs import RowCount, source_from_avro
from streamhub.reconcile.reconciler import Outcome
from streamhub.reconcile.result import Status
from streamhub.reconcile.snapshot import restore_state, snapshot_state
from streamhub.reconcile.state_check import LiveRowCount, compare_row_count
from tests.unit.reconcile.helpers import (
    GRACE,
    INST,
    MINUTE,
    T0,
    clock_at,
    dead_letter,
    landed,
    reconciler,
    source,
)

HOUR = 3_600_000
PAST_GRACE = T0 + MINUTE + GRACE


def test_windows_past_retention_are_dropped() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock, retention_ms=HOUR)
    rec.apply_source(source(inserts=1))
    rec.apply_landed(landed(upserts=1))
    assert len(rec.due(PAST_GRACE)) == 1
    clock.advance((MINUTE + HOUR) / 1000)
    assert rec.due() == [] and rec.windows == {}
    assert rec.results() == []


def test_input_for_a_forgotten_window_is_stale() -> None:
    clock = clock_at(T0 + MINUTE + HOUR)
    rec = reconciler(clock, retention_ms=HOUR)
    rec.apply_source(source(T0 + HOUR, inserts=1))  # teaches the table's database
    assert rec.apply_source(source(inserts=1)) is Outcome.STALE
    assert rec.apply_landed(landed(upserts=1)) is Outcome.STALE
    assert rec.stale_inputs == 2
    assert [k.start_ms for k in rec.windows] == [T0 + HOUR]


def test_parked_input_expires_too() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock, retention_ms=HOUR)
    rec.apply_landed(landed(upserts=1))
    clock.advance((MINUTE + HOUR) / 1000)
    rec.due()
    assert rec.parked == []


def test_snapshot_restores_to_the_same_behaviour() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=3))
    rec.apply_landed(landed(upserts=2, versions=[1, 2]))
    rec.apply_rejection(dead_letter(commit_ts_ms=None, offset=5))
    rec.apply_landed(landed(T0 + MINUTE, upserts=1, table="public.unknown"))  # parked
    rec.apply_source(
        source_from_avro(
            {
                "connector": "c",
                "institution_id": INST,
                "system": "his",
                "database": "hisdb",
                "table": "public.patient",
                "window_start_ms": T0,
                "inserts": 0,
                "updates": 0,
                "deletes": 0,
                "row_count": 10,
                "row_count_position": "0/16B@n1",
                "emitted_ts_ms": T0,
            }
        )
    )
    [first] = rec.due(PAST_GRACE)
    assert first.status is Status.MISSING

    data = json.loads(json.dumps(snapshot_state(rec)))  # JSON-ready all the way down
    copy = restore_state(data, rec.settings, clock)
    assert snapshot_state(copy) == data
    assert copy.results() == rec.results()
    for r in (rec, copy):
        r.apply_landed(landed(upserts=1, versions=[2, 3]))
    [a], [b] = rec.due(PAST_GRACE + 1), copy.due(PAST_GRACE + 1)
    assert a == b and a.status is Status.LATE and a.revision == 1


def test_restore_refuses_another_format() -> None:
    with pytest.raises(SnapshotFormatError, match="format"):
        restore_state({"format": 99})
    with pytest.raises(SnapshotFormatError, match="damaged"):
        restore_state({"format": 1, "windows": [[1]]})


def _row_count(rows: int, emitted: int = T0) -> RowCount:
    item = source_from_avro(
        {
            "connector": "c",
            "institution_id": INST,
            "system": "his",
            "database": "hisdb",
            "table": "public.patient",
            "window_start_ms": T0,
            "inserts": 0,
            "updates": 0,
            "deletes": 0,
            "row_count": rows,
            "row_count_position": "0/16B@n1",
            "emitted_ts_ms": emitted,
        }
    )
    assert isinstance(item, RowCount)
    return item


def test_row_counts_are_kept_apart_from_windows_latest_wins() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(_row_count(10, emitted=T0 + 2))
    rec.apply_source(_row_count(9, emitted=T0 + 1))
    assert rec.windows == {}
    [count] = rec.row_counts.values()
    assert count.rows == 10


@pytest.mark.parametrize(
    ("live", "status", "difference"),
    [
        (LiveRowCount(10, caught_up=True), Status.MATCH, 0),
        (LiveRowCount(8, caught_up=True), Status.MISSING, -2),
        (LiveRowCount(11, caught_up=True), Status.EXCESS, 1),
        (LiveRowCount(12, caught_up=True, net_after=2), Status.MATCH, 0),
        (LiveRowCount(3, caught_up=False), Status.PENDING, -7),
    ],
)
def test_state_reconciliation(live: LiveRowCount, status: Status, difference: int) -> None:
    result = compare_row_count(_row_count(10), live, now_ms=T0 + 5)
    assert (result.status, result.difference) == (status, difference)
    assert (result.database, result.table, result.position) == (
        "hisdb",
        "public.patient",
        "0/16B@n1",
    )


def test_state_reconciliation_tolerance() -> None:
    result = compare_row_count(_row_count(10), LiveRowCount(11, True), T0, tolerance=1)
    assert result.status is Status.MATCH and result.detail is not None
    assert result.to_dict()["status"] == "MATCH"
