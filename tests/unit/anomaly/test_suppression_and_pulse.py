"""Maintenance windows, acknowledgements, heartbeat staleness, record checks, seasonality."""

from __future__ import annotations

import pytest

from streamhub.anomaly import (
    Acknowledgement,
    InvalidRecordError,
    InvalidSuppressionError,
    Kind,
    MaintenanceWindow,
    SeasonalCalendar,
    Severity,
    TrafficDetector,
)
from streamhub.core.clock import ManualClock, now_ms

from .scenario import (
    MINUTE,
    T0,
    Fault,
    World,
    detection_delay,
    openings,
    warmed,
)

HISTORY = 3 * 1440


def at(minute: float) -> int:
    return T0 + round(minute * MINUTE)


def test_maintenance_window_suppresses_an_outage_inside_it() -> None:
    fault = Fault("outage", "h01", at(60.3), at(66))
    world = World(compression=360.0, seed=5, faults=[fault])
    world.suppressions.declare(MaintenanceWindow("upgrade-42", "h01", at(60), at(68)))
    assert openings(world.run(80)) == []


def test_outage_outlasting_its_maintenance_window_is_flagged_after_it() -> None:
    fault = Fault("outage", "h01", at(60.3), at(75))
    world = World(compression=360.0, seed=5, faults=[fault])
    world.suppressions.declare(MaintenanceWindow("upgrade-43", "h01", at(60), at(64)))
    opened = openings(world.run(80))
    assert opened and {e.kind for e in opened} == {Kind.SILENCE}
    assert min(e.detected_ts_ms for e in opened) <= at(64) + 3 * MINUTE
    assert all(e.start_ms >= at(64) for e in opened)


def test_maintenance_scoped_to_one_system_leaves_the_other_watched() -> None:
    fault = Fault("outage", "h01", at(60.3), at(66))
    world = World(compression=360.0, seed=5, faults=[fault])
    world.suppressions.declare(MaintenanceWindow("his-only", "h01", at(60), at(70), system="his"))
    opened = openings(world.run(70))
    assert opened and {e.feed.system for e in opened} == {"lis"}


def test_acknowledged_anomaly_escalates_suppressed_and_still_closes() -> None:
    # a stuck feed turns critical after 15 minutes; acknowledged before, that update is quiet
    fault = Fault(
        "stuck", "h02", at(HISTORY + 300.4), at(HISTORY + 330), table="lis.public.lab_result"
    )
    world = warmed(1.0, 11, HISTORY, [fault])
    world.run(305)
    (opened,) = openings(world.events)
    assert opened.kind == Kind.STUCK and opened.severity == Severity.WARNING
    world.suppressions.acknowledge(
        Acknowledgement(opened.anomaly_id, by="zhang.wei", at_ms=now_ms(world.clock))
    )
    world.run(40)
    later = [e for e in world.events if e.anomaly_id == opened.anomaly_id][1:]
    escalation = [e for e in later if e.kind == Kind.STUCK]
    assert escalation and escalation[0].severity == Severity.CRITICAL
    assert all(e.suppressed and e.suppression == "ack:zhang.wei" for e in escalation)
    closing = [e for e in later if e.kind == Kind.RECOVERED]
    assert len(closing) == 1 and not closing[0].suppressed
    assert closing[0].recovered_kind == Kind.STUCK


def test_expired_acknowledgement_no_longer_suppresses() -> None:
    fault = Fault(
        "stuck", "h02", at(HISTORY + 300.4), at(HISTORY + 330), table="lis.public.lab_result"
    )
    world = warmed(1.0, 11, HISTORY, [fault])
    world.run(305)
    (opened,) = openings(world.events)
    now = now_ms(world.clock)
    world.suppressions.acknowledge(
        Acknowledgement(opened.anomaly_id, by="li.na", at_ms=now, until_ms=now + 2 * MINUTE)
    )
    world.run(40)
    escalation = [
        e for e in world.events if e.anomaly_id == opened.anomaly_id and e.kind == Kind.STUCK
    ][1:]
    assert escalation and not escalation[0].suppressed


def test_stale_heartbeat_opens_one_connector_wide_silence_and_closes_on_return() -> None:
    fault = Fault("agent_down", "c02", at(HISTORY + 380), at(HISTORY + 390))
    world = warmed(1.0, 11, HISTORY, [fault])
    events = world.run(400)
    opened = openings(events)
    assert len(opened) == 1
    (stale,) = opened
    assert stale.feed.table is None and stale.metric == "heartbeat_age_ms"
    assert stale.kind == Kind.SILENCE and stale.severity == Severity.CRITICAL
    assert (delay := detection_delay(events, fault)) is not None and delay <= 3 * MINUTE
    closing = [e for e in events if e.kind == Kind.RECOVERED]
    assert [e.anomaly_id for e in closing] == [stale.anomaly_id]


def test_failed_connector_is_an_outage_at_once() -> None:
    clock = ManualClock(T0 / 1000)
    detector = TrafficDetector(clock)
    beat = {
        "connector": "h01-his",
        "institution_id": "h01",
        "system": "his",
        "state": "failed",
        "lag_ms": None,
        "lag_bytes": None,
        "emitted_ts_ms": T0,
    }
    (event,) = detector.on_heartbeat(beat)
    assert event.kind == Kind.SILENCE and event.detail == "connector reports failed"
    clock.advance(5)
    (closing,) = detector.on_heartbeat(
        beat | {"state": "streaming", "emitted_ts_ms": now_ms(clock)}
    )
    assert closing.kind == Kind.RECOVERED and closing.anomaly_id == event.anomaly_id


def test_record_without_a_needed_field_names_connector_and_field() -> None:
    detector = TrafficDetector(ManualClock(T0 / 1000))
    with pytest.raises(InvalidRecordError, match=r"'h01-his'.*'window_start_ms'"):
        detector.on_counts(
            {
                "connector": "h01-his",
                "institution_id": "h01",
                "system": "his",
                "database": "his",
                "table": "public.charge",
            }
        )


def test_counts_for_a_judged_minute_are_counted_as_late() -> None:
    world = World(compression=360.0, seed=1)
    world.run(10)
    late = {
        "connector": "h01-his",
        "institution_id": "h01",
        "system": "his",
        "database": "his",
        "table": "public.charge",
        "window_start_ms": at(2),
        "inserts": 1,
        "updates": 0,
        "deletes": 0,
    }
    assert world.detector.on_counts(late) == []
    assert world.detector.late_records == 1


def test_malformed_suppressions_are_refused() -> None:
    with pytest.raises(InvalidSuppressionError, match="ends at"):
        MaintenanceWindow("w", "h01", start_ms=10, end_ms=10)
    with pytest.raises(InvalidSuppressionError, match="expires"):
        Acknowledgement("a", by="x", at_ms=10, until_ms=5)


def test_seasonal_calendar_maps_compressed_wall_minutes_to_stable_phases() -> None:
    demo = SeasonalCalendar(compression=360.0, origin_ms=T0, business_origin_ms=T0)
    # a business day every 4 wall minutes: the same phase every 4th minute
    assert [demo.slot(at(m)) for m in range(8)] == [demo.slot(at(m + 4)) for m in range(8)]
    assert demo.period(at(4)) == demo.period(at(0)) + 1
    production = SeasonalCalendar()
    assert production.slot(T0) == 32  # 08:00 in Shanghai, 15-minute slots
    assert production.slot(T0 + 15 * MINUTE) == 33
