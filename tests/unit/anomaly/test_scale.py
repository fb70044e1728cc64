"""What must hold at a region's count: a feed's memory stops growing once its baseline is
full, a suppression lookup costs what the feed's institution declared, alerts roll up per
institution, and a warm start from a snapshot equals one from replaying the history."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc

import pytest
from prometheus_client import CollectorRegistry

from streamhub.anomaly import MaintenanceWindow, Suppressions
from streamhub.anomaly import state as snapshots
from streamhub.anomaly.baseline import DAY_MS, MINUTE_MS, Baseline, BaselineConfig
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
from streamhub.anomaly.metrics import AnomalyMetrics
from streamhub.anomaly.service import AnomalyService, ReplayClock

from .scenario import MINUTE, T0, Fault, warmed
from .test_service import gauge, service, traffic


def _learn_days(baseline: Baseline, first_day: int, days: int) -> None:
    for m in range(first_day * 1440, (first_day + days) * 1440):
        minute = T0 + m * MINUTE_MS
        baseline.learn(minute, 30 + (m * 7) % 11, baseline.expect(minute))


def test_a_feeds_memory_stops_growing_once_its_week_of_slots_is_full() -> None:
    baseline = Baseline(BaselineConfig())
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        _learn_days(baseline, 0, 7)
        gc.collect()
        week = tracemalloc.get_traced_memory()[0] - start
        _learn_days(baseline, 7, 7)
        gc.collect()
        fortnight = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert baseline.expect(T0 + 14 * DAY_MS).mode == "seasonal"
    # 96 slots × (7 medians + period + pending) doubles, a slot's values, recent minutes:
    # ~8 kB (the per-slot objects, deques and value lists held ~120 kB); the bound leaves
    # room for what else the interpreter allocates meanwhile
    assert week < 16_000, week
    assert fortnight <= week + 1_024, (week, fortnight)


class _Counting(MaintenanceWindow):
    checked = 0

    def covers(self, feed: FeedKey, at_ms: int) -> bool:
        _Counting.checked += 1
        return super().covers(feed, at_ms)


def test_a_maintenance_lookup_checks_only_the_feeds_own_institution() -> None:
    suppressions = Suppressions()
    for i in range(2_000):
        suppressions.declare(_Counting(f"w{i}", f"I{i:04d}", T0, T0 + DAY_MS))
    feed = FeedKey("x-his", "I9999", "his", "db.t")
    _Counting.checked = 0
    assert suppressions.maintenance(feed, T0 + MINUTE) is None
    assert _Counting.checked == 0
    covered = FeedKey("i7-his", "I0007", "his", "db.t")
    assert suppressions.maintenance(covered, T0 + MINUTE) is not None
    assert _Counting.checked == 1


def test_the_first_declared_covering_window_answers_and_moves_and_cancels_keep_the_index() -> None:
    suppressions = Suppressions()
    feed = FeedKey("h01-his", "h01", "his", "db.t")
    suppressions.declare(MaintenanceWindow("a", "h01", T0, T0 + DAY_MS, system="his"))
    suppressions.declare(MaintenanceWindow("b", "h01", T0, T0 + DAY_MS))
    assert suppressions.maintenance(feed, T0).window_id == "a"  # type: ignore[union-attr]
    suppressions.declare(MaintenanceWindow("a", "h02", T0, T0 + DAY_MS))  # redeclared elsewhere
    assert suppressions.maintenance(feed, T0).window_id == "b"  # type: ignore[union-attr]
    suppressions.cancel("b")
    assert suppressions.maintenance(feed, T0) is None
    other = FeedKey("h02-lis", "h02", "lis", "db.t")
    assert suppressions.maintenance(other, T0).window_id == "a"  # type: ignore[union-attr]
    suppressions.prune(T0 + DAY_MS)
    assert suppressions.maintenance(other, T0) is None and suppressions.windows == []


def test_an_institutions_anomalous_feeds_roll_up_into_one_alert() -> None:
    world = warmed(360.0, 11, 55, [])
    start = T0 + 60 * MINUTE
    world.faults = [
        Fault("outage", "h01", start, start + 4 * MINUTE),
        Fault("burst", "c01", start, start + MINUTE, rows=3000),
    ]
    registry = CollectorRegistry()
    svc = AnomalyService(
        world.detector, ReplayClock(world.clock), _NoCodec(), AnomalyMetrics.create(registry)
    )
    before = len(world.events)
    svc._observe(world.run(8)[before:])
    now = T0 + 63 * MINUTE
    svc.refresh_metrics(now)
    h01 = [e for e in svc.open.values() if e.feed.institution_id == "h01"]
    assert len(h01) >= 3  # several feeds of h01 silent: per-feed events stay for drill-down
    alerts = svc.institutions(now)
    by_institution = {a.institution_id: a for a in alerts}
    assert set(by_institution) == {"h01", "c01"}
    assert alerts[0].institution_id == "h01"  # critical first
    assert by_institution["h01"].severity == Severity.CRITICAL
    assert len(by_institution["h01"].feeds) == len(h01)
    assert all(f.endswith(Kind.SILENCE.value) for f in by_institution["h01"].feeds)
    name = "streamhub_anomaly_institution_open_feeds_count"
    assert gauge(registry, name, institution="h01", severity="CRITICAL") == len(h01)
    c01 = [e for e in svc.open.values() if e.feed.institution_id == "c01"]
    assert {e.kind for e in c01} == {Kind.SPIKE}
    severity = by_institution["c01"].severity.value
    assert gauge(registry, name, institution="c01", severity=severity) == len(c01)
    feeds = [
        s.labels
        for metric in registry.collect()
        if metric.name == "streamhub_anomaly_feed_open_state"
        for s in metric.samples
    ]
    assert sorted(f["table"] for f in feeds if f["institution"] == "h01") == sorted(
        e.feed.table or "*" for e in h01
    )
    # all recovered: the roll-up reads 0 (the alert resolves), the per-feed series go
    for event in list(svc.open.values()):
        svc._observe([_recovered(event)])
    svc.refresh_metrics(now + 20 * MINUTE)
    assert gauge(registry, name, institution="h01", severity="CRITICAL") == 0
    assert not [
        s
        for metric in registry.collect()
        if metric.name == "streamhub_anomaly_feed_open_state"
        for s in metric.samples
    ]


class _NoCodec:
    def decode(self, value: bytes, where: object = None) -> dict[str, object]:
        raise AssertionError("not used")

    def encode(self, event: object) -> tuple[bytes, bytes]:
        raise AssertionError("not used")


def _recovered(event: AnomalyEvent) -> AnomalyEvent:
    return dataclasses.replace(event, kind=Kind.RECOVERED, end_ms=event.start_ms + MINUTE)


@pytest.mark.parametrize("split_minute", [6, 11])
def test_a_warm_start_from_a_snapshot_equals_one_from_replaying_history(
    split_minute: int,
) -> None:
    history = traffic(["h01-his", "h02-his", "h03-his"], 16, {"h01-his": 9})
    whole, _, _ = service()
    expected = whole.replay(history)
    # the snapshot is taken after the records before a minute boundary: the replay of the
    # rest starts on a tick, as the one through the whole history ticks there
    cut = next(i for i, m in enumerate(history) if m.timestamp_ms >= T0 + split_minute * MINUTE)
    first, _, _ = service()
    found = first.replay(history[:cut])
    records = snapshots.encode(snapshots.dump(first, {("ops.source_counts", 0): cut}))
    second, _, _ = service()
    snapshots.restore(second, snapshots.decode(records))
    found += second.replay(history[cut:])
    assert found == expected
    assert any(e.kind == Kind.SILENCE for e in found)
    assert second.open == whole.open
    left, right = snapshots.dump(second, {}), snapshots.dump(whole, {})
    assert left.connectors == right.connectors
    assert left.open == right.open


def test_show_by_institution_gives_one_line_per_institution_worst_first() -> None:
    from streamhub.anomaly.report import AnomalyState, render_rollup

    def state(
        i: int,
        institution: str,
        table: str | None,
        kind: str,
        severity: str,
        suppressed: bool = False,
    ) -> AnomalyState:
        return AnomalyState(
            {
                "anomaly_id": f"a-{i}",
                "institution_id": institution,
                "system": "his",
                "table": table,
                "kind": kind,
                "severity": severity,
                "start_ms": T0 + i * MINUTE,
                "suppressed": suppressed,
            }
        )

    states = [
        state(1, "I2", "db.a", "SPIKE", "WARNING"),
        state(2, "I1", "db.a", "SILENCE", "CRITICAL"),
        state(3, "I1", "db.b", "SILENCE", "CRITICAL"),
        state(4, "I1", None, "STUCK", "WARNING"),
        state(5, "I3", "db.a", "DROP", "WARNING", suppressed=True),  # acknowledged: no page
        state(6, "I4", "db.a", "RECOVERED", "WARNING"),  # closed
    ]
    header, *rows = render_rollup(states).splitlines()
    assert header.split() == ["institution", "severity", "feeds", "kinds", "since", "which"]
    assert [r.split()[:3] for r in rows] == [["I1", "CRITICAL", "3"], ["I2", "WARNING", "1"]]
    assert rows[0].split()[3:5] == ["SILENCE", "STUCK"]
    assert rows[0].endswith("his *, his db.a, his db.b")


def test_a_tick_judges_no_feed_and_a_heartbeat_judges_only_its_connectors_feeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamhub.anomaly.judge import FeedJudge

    from .test_service import heartbeat

    svc, clock, _ = service()
    names = [f"h{i:02d}-his" for i in range(20)]
    svc.replay(traffic(names, 8, {}))
    judged: list[str] = []
    original = FeedJudge.judge

    def counting(self: FeedJudge, *args: object) -> object:
        judged.append(self.key.connector)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(FeedJudge, "judge", counting)
    clock.fixed_ms = T0 + 8 * MINUTE + 20_000
    svc.tick()
    assert judged == []  # the timer looks at pulses and open anomalies, not at minutes
    beat = heartbeat("h03-his", T0 + 8 * MINUTE + 20_000)
    svc.on_message(beat.topic, beat.key, beat.value)
    assert set(judged) == {"h03-his"} and len(judged) == 2  # its two tables, one minute
