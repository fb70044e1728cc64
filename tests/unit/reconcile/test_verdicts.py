"""Every verdict a window can get, and when it is (re-)judged."""

from __future__ import annotations

from streamhub.reconcile.result import Status
from tests.unit.reconcile.helpers import (
    GRACE,
    MINUTE,
    T0,
    clock_at,
    dead_letter,
    landed,
    reconciler,
    source,
)

PAST_GRACE = T0 + MINUTE + GRACE


def test_pending_before_grace_is_not_judged() -> None:
    clock = clock_at(T0 + MINUTE)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=3))
    assert rec.due(PAST_GRACE - 1) == []
    [preview] = rec.preview(PAST_GRACE - 1)
    assert preview.status is Status.PENDING
    assert preview.source_changes == 3


def test_matched() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=3, updates=2))
    rec.apply_landed(landed(upserts=5))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH
    assert (result.source_changes, result.landed, result.difference) == (5, 5, 0)
    assert (result.window_start_ms, result.window_end_ms) == (T0, T0 + MINUTE)
    assert (result.database, result.table, result.system) == ("hisdb", "public.patient", "his")
    assert result.revision == 0 and result.detail is None
    assert rec.due(PAST_GRACE + 10_000) == []  # nothing changed: nothing to publish


def test_missing_then_late() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=4))
    rec.apply_landed(landed(upserts=3))
    [first] = rec.due(PAST_GRACE)
    assert first.status is Status.MISSING and first.difference == -1
    rec.apply_landed(landed(upserts=1))
    [second] = rec.due(PAST_GRACE + 10_000)
    assert second.status is Status.LATE
    assert second.revision == 1 and second.landed == 4


def test_extra_when_more_landed_than_the_source_holds() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=3, versions=[1, 2, 3]))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.EXCESS and result.difference == 1
    assert result.duplicates == 0


def test_extra_becomes_late_when_the_source_re_emits_its_window() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=3))
    assert rec.due(PAST_GRACE)[0].status is Status.EXCESS
    # a late change in the source: the agent re-emits the window with its full total
    rec.apply_source(source(inserts=3, emitted=T0 + 10 * MINUTE))
    [result] = rec.due(PAST_GRACE + 10_000)
    assert result.status is Status.LATE and result.source_changes == 3


def test_matched_window_that_diverges_is_rejudged() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1))
    rec.apply_landed(landed(upserts=1, versions=[1]))
    assert rec.due(PAST_GRACE)[0].status is Status.MATCH
    rec.apply_landed(landed(upserts=1, versions=[2]))
    [result] = rec.due(PAST_GRACE + 1)
    assert result.status is Status.EXCESS and result.revision == 1


def test_window_without_source_counts_says_so() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_landed(landed(upserts=2, database="hisdb"))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.EXCESS
    assert result.detail is not None and "no ops.source_counts" in result.detail


def test_deletes_and_snapshot_reads_are_source_changes() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1, updates=1, deletes=2, snapshot_reads=10))
    rec.apply_landed(landed(upserts=12, deletes=2))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH and result.source_changes == 14


def test_delete_split_mismatch_is_in_the_detail() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1, deletes=2))
    rec.apply_landed(landed(upserts=2, deletes=1))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH
    assert result.detail == "deletes: source 2, landed 1"


def test_rejected_records_count_as_accounted_for() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=3))
    rec.apply_landed(landed(upserts=2))
    rec.apply_rejection(dead_letter(offset=1))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH
    assert (result.landed, result.dead_lettered) == (2, 1)


def test_standardized_counts_point_at_the_gap() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=3))
    rec.apply_standardized(landed(upserts=3))
    rec.apply_landed(landed(upserts=1))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MISSING and result.standardized == 3
    assert result.detail is not None and "2 standardized but not landed" in result.detail


def test_windows_are_separate_per_minute_and_table() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1))
    rec.apply_source(source(T0 + MINUTE, inserts=1))
    rec.apply_source(source(inserts=1, table="public.visit"))
    rec.apply_landed(landed(upserts=1))
    rec.apply_landed(landed(upserts=1, table="public.visit"))
    results = rec.due(PAST_GRACE + MINUTE)
    by_key = {(r.table, r.window_start_ms): r.status for r in results}
    assert by_key == {
        ("public.patient", T0): Status.MATCH,
        ("public.patient", T0 + MINUTE): Status.MISSING,
        ("public.visit", T0): Status.MATCH,
    }
