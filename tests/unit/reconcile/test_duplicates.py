"""At-least-once inputs: re-emitted source windows, replayed landings, replayed dead letters."""

from __future__ import annotations

from streamhub.core.identity import version_id
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


def test_source_re_emission_replaces_cumulative_totals() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2, emitted=T0 + 70_000))
    rec.apply_source(source(inserts=3, updates=1, emitted=T0 + 80_000))
    rec.apply_source(source(inserts=2, emitted=T0 + 70_000))  # redelivered older emission
    [result] = rec.preview(PAST_GRACE)
    assert result.source_changes == 4


def test_source_re_emission_from_zero_is_added() -> None:
    """The agent forgot the window (only recent ones are kept) and counted a late change anew."""
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=5, emitted=T0 + 70_000))
    rec.apply_source(source(updates=1, emitted=T0 + 40 * MINUTE))
    rec.apply_landed(landed(upserts=6))
    [result] = rec.due(PAST_GRACE)
    assert result.source_changes == 6 and result.status is Status.MATCH
    assert result.detail is not None and "re-emitted from zero 1 time" in result.detail


def test_versioned_replay_is_a_duplicate_not_an_extra() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=2, versions=[11, 12]))
    rec.apply_landed(landed(upserts=2, versions=[11, 12]))  # the same flush, landed again
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH
    assert (result.landed, result.duplicates) == (2, 2)
    assert result.detail == "2 replayed landing(s) not counted"


def test_partly_overlapping_replay() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=3))
    rec.apply_landed(landed(upserts=2, versions=[1, 2]))
    rec.apply_landed(landed(upserts=2, versions=[2, 3]))  # a replay re-batched differently
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH and result.duplicates == 1


def test_unversioned_replay_is_reported_as_unverifiable_extra() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=2))
    rec.apply_landed(landed(upserts=2))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.EXCESS and result.landed == 4
    assert result.detail is not None and "without version ids" in result.detail


def test_replayed_dead_letter_counts_once_by_origin() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1))
    rec.apply_rejection(dead_letter(offset=9))
    rec.apply_rejection(dead_letter(offset=9))
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH and result.dead_lettered == 1


def test_dead_letter_replayed_into_clickhouse_counts_as_landed_once() -> None:
    """An operator fixes the profile and replays dlq.standardize: the version lands after all."""
    rid = "a" * 32
    version = version_id(rid, 42)
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1))
    rec.apply_rejection(dead_letter(version=version))
    assert rec.due(PAST_GRACE)[0].status is Status.MATCH
    rec.apply_landed(landed(upserts=1, versions=[version]))
    rec.apply_rejection(dead_letter(version=version, offset=99))  # and the DLQ replay, too
    [preview] = rec.preview(PAST_GRACE + 1)
    assert (preview.landed, preview.dead_lettered, preview.status) == (1, 0, Status.MATCH)
    assert rec.due(PAST_GRACE + 1)[0].dead_lettered == 0


def test_dead_letter_without_commit_time_is_named_in_missing_windows() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=2))
    rec.apply_landed(landed(upserts=1))
    [first] = rec.due(PAST_GRACE)
    assert first.status is Status.MISSING
    rec.apply_rejection(dead_letter(commit_ts_ms=None))
    rec.apply_rejection(dead_letter(commit_ts_ms=None))  # the same letter again
    [second] = rec.due(PAST_GRACE + 1)
    assert second.status is Status.MISSING
    assert second.detail is not None
    assert "1 dead letter(s) of this table carry no commit time" in second.detail


def test_capture_dead_letters_are_not_rejections() -> None:
    from streamhub.reconcile.inputs import rejection_from_avro

    value = {
        "stage": "capture",
        "reason": "gbk",
        "error_type": "UndecodableValue",
        "institution_id": "x",
        "table": "hisdb.public.patient",
        "failed_ts_ms": T0,
    }
    assert rejection_from_avro(value) is None
