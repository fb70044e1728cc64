"""A judging pass at a province's count: it looks at the windows whose grace ended or whose
evidence changed, never at every retained window, and what it keeps stays bounded."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import streamhub.reconcile.reconciler as reconciler_module
from streamhub.core.clock import ManualClock
from streamhub.reconcile.checkpoint import decode_blobs, encode_blobs
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler
from streamhub.reconcile.result import Status
from streamhub.reconcile.windows import NO_REJECTIONS, NO_REPAIRS, RejectTally, RepairTally
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


class ScanCountingDict(dict[Any, Any]):
    """The windows dict, counting passes over all of it (a lookup by key is not one)."""

    scans = 0

    def __iter__(self) -> Iterator[Any]:
        ScanCountingDict.scans += 1
        return super().__iter__()

    def items(self) -> Any:
        ScanCountingDict.scans += 1
        return super().items()

    def values(self) -> Any:
        ScanCountingDict.scans += 1
        return super().values()

    def keys(self) -> Any:
        ScanCountingDict.scans += 1
        return super().keys()


def fill(rec: Reconciler, tables: int, start: int, *, missing: bool = False) -> None:
    for t in range(tables):
        table = f"public.t{t:04d}"
        rec.apply_source(source(start, inserts=2, table=table))
        landed_versions = [t * 10 + 1] if missing else [t * 10 + 1, t * 10 + 2]
        rec.apply_landed(
            landed(start, upserts=len(landed_versions), table=table, versions=landed_versions)
        )


def test_a_pass_judges_only_the_changed_window_without_scanning_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    fill(rec, 500, T0)
    fill(rec, 500, T0 + MINUTE)
    now = T0 + 2 * MINUTE + GRACE
    assert len(rec.due(now)) == 1000
    judged: list[str] = []
    real_judge = reconciler_module.judge

    def counting_judge(key: Any, *args: Any, **kwargs: Any) -> Any:
        judged.append(key.table.table)
        return real_judge(key, *args, **kwargs)

    monkeypatch.setattr(reconciler_module, "judge", counting_judge)
    rec.windows = ScanCountingDict(rec.windows)
    ScanCountingDict.scans = 0
    metrics = ReconcileMetrics.create(CollectorRegistry())

    rec.apply_landed(landed(T0, upserts=1, table="public.t0007", versions=[99]))
    [result] = rec.due(now + 5_000)
    metrics.observe(rec, (now + 5_000) / 1000)
    assert judged == ["public.t0007"]
    assert result.status is Status.EXCESS and result.revision == 1
    assert rec.due(now + 10_000) == []  # nothing changed: nothing looked at
    metrics.observe(rec, (now + 10_000) / 1000)
    assert judged == ["public.t0007"]
    assert ScanCountingDict.scans == 0  # neither the pass nor the gauges went over every window


def test_windows_are_judged_when_their_grace_ends_in_key_order() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    fill(rec, 3, T0 + MINUTE)
    fill(rec, 3, T0)
    assert rec.due(T0 + MINUTE + GRACE - 1) == []
    first = rec.due(T0 + MINUTE + GRACE)
    assert [(r.window_start_ms, r.table) for r in first] == [
        (T0, f"public.t{t:04d}") for t in range(3)
    ]
    second = rec.due(T0 + 2 * MINUTE + GRACE)
    assert [r.window_start_ms for r in second] == [T0 + MINUTE] * 3


def test_what_the_reconciler_keeps_stays_constant_over_hours() -> None:
    """Eight hours of minutes with a 30-minute retention: windows, indexes and counts stay at
    the retention's size (each fed, judged and expired as the clock runs)."""
    clock = clock_at(T0)
    rec = reconciler(clock, retention_ms=30 * MINUTE)
    sizes: list[tuple[int, ...]] = []
    for minute in range(8 * 60):
        start = T0 + minute * MINUTE
        clock.set((start + MINUTE) / 1000)
        fill(rec, 10, start, missing=minute % 7 == 0)
        if minute % 11 == 0:
            rec.apply_rejection(dead_letter(commit_ts_ms=None, offset=minute))
        for tick in range(1, 13):
            rec.due(start + MINUTE + tick * 5_000)
        rec.take_changed_starts()
        if minute in (120, 300, 479):
            sizes.append(
                (
                    len(rec.windows),
                    len(rec._by_start),
                    len(rec._starts),
                    len(rec._awaiting),
                    len(rec._dirty),
                    len(rec._missing),
                    sum(rec.verdict_counts().values()),
                    sum(len(v) for v in rec.unplaced.values()),
                )
            )
    assert sizes[0] == sizes[1] == sizes[2], sizes
    assert sizes[0][0] == 10 * 29 and sizes[0][6] == sizes[0][0]  # 29 minutes retained


def test_the_counts_behind_the_gauges_equal_a_recount() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock, retention_ms=10 * MINUTE)
    rng = random.Random(7)
    for minute in range(40):
        start = T0 + minute * MINUTE
        clock.set((start + MINUTE) / 1000)
        for t in range(6):
            table = f"public.t{t}"
            rec.apply_source(source(start, inserts=3, table=table))
            got = rng.randint(0, 4)
            rec.apply_landed(
                landed(
                    start,
                    upserts=got,
                    table=table,
                    versions=[minute * 100 + t * 10 + v for v in range(got)],
                )
            )
        if minute > 3 and rng.random() < 0.5:  # late evidence for an older window
            late = T0 + (minute - 3) * MINUTE
            rec.apply_landed(landed(late, upserts=1, table="public.t1", versions=[late + 1]))
        rec.due(start + MINUTE + GRACE // 2)
        rec.due(start + MINUTE + 5_000)
        verdicts: Counter[tuple[str, Status]] = Counter()
        missing: Counter[str] = Counter()
        for key, state in rec.windows.items():
            status = Status.PENDING if state.judged is None else state.judged.status
            verdicts[(key.table.institution_id, status)] += 1
            missing[key.table.institution_id] += 0
            if state.judged is not None and state.judged.status is Status.MISSING:
                missing[key.table.institution_id] -= state.judged.difference
        assert rec.verdict_counts() == dict(verdicts)
        assert rec.missing_changes() == dict(missing)


def test_a_window_of_an_expired_minute_can_come_back_within_the_retention() -> None:
    clock: ManualClock = clock_at(T0 + 5 * MINUTE)
    rec = reconciler(clock, retention_ms=10 * MINUTE)
    fill(rec, 1, T0 + 8 * MINUTE)
    rec.due(T0 + 20 * MINUTE)  # an explicit later pass: the buckets up to T0 + 9 min go
    assert rec.windows == {}
    fill(rec, 1, T0 + 4 * MINUTE)  # within the clock's retention: a new bucket
    assert len(rec.windows) == 1
    assert [r.status for r in rec.due(T0 + 5 * MINUTE + GRACE)] == [Status.MATCH]
    rec.due(T0 + 20 * MINUTE)
    assert rec.windows == {} and rec.verdict_counts() == {}


def test_windows_without_letters_or_repairs_share_one_empty_tally_never_written() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    fill(rec, 3, T0)
    rec.apply_rejection(dead_letter(commit_ts_ms=T0 + 1_000, version=5, table="hisdb.public.t0001"))
    rec.apply_landed(landed(T0, upserts=1, table="public.t0002", versions=[7], repair_id="r1"))
    states = {key.table.table: state for key, state in rec.windows.items()}
    assert states["public.t0000"].rejected is NO_REJECTIONS
    assert states["public.t0000"].repairs is NO_REPAIRS
    assert states["public.t0001"].rejected.versions == {5}
    assert states["public.t0002"].repairs.versions == {7}
    assert RejectTally() == NO_REJECTIONS and RepairTally() == NO_REPAIRS
    restored = decode_blobs(encode_blobs(rec, None), rec.settings, clock)
    assert sum(s.rejected is NO_REJECTIONS for s in restored.windows.values()) == 2
