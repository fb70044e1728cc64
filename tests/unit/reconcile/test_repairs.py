"""Repair credits: versions a targeted re-snapshot restored, credited to their old window."""

from __future__ import annotations

from streamhub.reconcile.result import Status
from streamhub.reconcile.snapshot import restore_state, snapshot_state
from tests.unit.reconcile.helpers import (
    GRACE,
    MINUTE,
    T0,
    clock_at,
    landed,
    reconciler,
    source,
)

PAST_GRACE = T0 + MINUTE + GRACE


def test_a_repair_credit_turns_missing_into_match_not_late() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=5))
    rec.apply_landed(landed(upserts=3, versions=[1, 2, 3], database="hisdb"))
    [first] = rec.due(PAST_GRACE)
    assert (first.status, first.difference, first.repaired) == (Status.MISSING, -2, 0)

    rec.apply_landed(landed(upserts=2, versions=[4, 5], database="hisdb", repair_id="repair-1"))
    [second] = rec.due(PAST_GRACE + 5_000)
    assert second.status is Status.MATCH
    assert (second.landed, second.repaired, second.difference) == (5, 2, 0)
    assert second.revision == 1
    assert second.detail is not None and "repair-1" in second.detail
    assert second.to_avro()["repaired"] == 2


def test_a_credit_replayed_or_overlapping_a_late_landing_counts_once() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=5))
    rec.apply_landed(landed(upserts=3, versions=[1, 2, 3], database="hisdb"))
    rec.apply_landed(landed(upserts=2, versions=[4, 5], database="hisdb", repair_id="r1"))
    rec.apply_landed(landed(upserts=2, versions=[4, 5], database="hisdb", repair_id="r1"))
    # version 4 also landed late by itself: landed, not repaired
    rec.apply_landed(landed(upserts=1, versions=[4], database="hisdb"))
    [result] = rec.due(PAST_GRACE)
    assert (result.status, result.landed, result.repaired) == (Status.MATCH, 5, 1)


def test_a_partial_repair_leaves_the_window_missing_by_the_rest() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=5))
    rec.apply_landed(landed(upserts=3, versions=[1, 2, 3], database="hisdb"))
    rec.apply_landed(landed(upserts=1, versions=[4], database="hisdb", repair_id="r1"))
    [result] = rec.due(PAST_GRACE)
    assert (result.status, result.difference, result.repaired) == (Status.MISSING, -1, 1)


def test_credits_survive_a_snapshot_and_a_result_restored_after_restart() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=1, versions=[1], database="hisdb"))
    rec.apply_landed(landed(upserts=1, versions=[2], database="hisdb", repair_id="r9"))
    [published] = rec.due(PAST_GRACE)
    restored = restore_state(snapshot_state(rec), rec.settings, clock)
    assert restored.windows == rec.windows

    # a restart that rebuilds from the topics: same inputs, the published result remembered
    again = reconciler(clock)
    again.apply_source(source(inserts=2))
    again.apply_landed(landed(upserts=1, versions=[1], database="hisdb"))
    again.apply_landed(landed(upserts=1, versions=[2], database="hisdb", repair_id="r9"))
    assert again.remember(published)
    assert again.due(PAST_GRACE + 10_000) == []  # same verdict: not published again


def test_a_remembered_missing_verdict_makes_a_later_match_late_with_the_next_revision() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=1, versions=[1], database="hisdb"))
    [missing] = rec.due(PAST_GRACE)
    again = reconciler(clock)
    again.apply_source(source(inserts=2))
    again.apply_landed(landed(upserts=2, versions=[1, 2], database="hisdb"))
    assert again.remember(missing)
    [late] = again.due(PAST_GRACE + 10_000)
    assert (late.status, late.revision) == (Status.LATE, 1)
