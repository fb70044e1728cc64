"""Scripted runs: clean traffic raises nothing; injected faults are found in time."""

from __future__ import annotations

import pytest

from streamhub.anomaly import Kind

from .scenario import MINUTE, T0, Fault, World, detection_delay, openings, score, warmed

DAY = 1440
HISTORY = 3 * DAY  # production (1x): three days to learn the daily profile


def at(minute: float) -> int:
    return T0 + round(minute * MINUTE)


def production_faults() -> list[Fault]:
    d = HISTORY  # day four, 08:00 in Shanghai
    return [
        Fault("outage", "h01", at(d + 70.5), at(d + 90.5)),
        Fault("burst", "c01", at(d + 150.25), at(d + 150.25), table="his.public.registration"),
        Fault("drop", "h02", at(d + 200), at(d + 230), table="his.public.charge"),
        Fault("stuck", "h02", at(d + 300.4), at(d + 330), table="lis.public.lab_result"),
        Fault("agent_down", "c02", at(d + 380), at(d + 390)),
        Fault("outage", "c02", at(d + 450.7), at(d + 465)),
    ]


def demo_faults() -> list[Fault]:
    # 360x: a business day every 4 wall minutes; minute 4k holds 08:00-14:00, 4k+1 14:00-20:00,
    # 4k+2 and 4k+3 the night. A clinic expects a handful of events a night-minute, so its
    # outage is provable only once business hours come (e^-expected): faults start by day.
    return [
        Fault("outage", "h01", at(60.3), at(63.3)),
        Fault("burst", "c01", at(70.5), at(70.5), table="his.public.registration"),
        Fault("drop", "h02", at(80), at(86), table="his.public.charge"),
        Fault("stuck", "h02", at(95.2), at(101), table="lis.public.lab_result"),
        Fault("outage", "c02", at(112.1), at(115.1)),
    ]


@pytest.mark.parametrize(("compression", "warm", "more"), [(1.0, HISTORY, 600), (360.0, 55, 300)])
@pytest.mark.parametrize("seed", [11, 12])
def test_clean_run_raises_nothing(compression: float, warm: int, more: int, seed: int) -> None:
    # cold start, three days (or 90 compressed days) of learning, then ten more hours
    world = warmed(compression, seed, warm, [])
    assert openings(world.run(more)) == []


@pytest.mark.parametrize(
    ("compression", "faults", "warm", "more"),
    [(1.0, production_faults(), HISTORY, 540), (360.0, demo_faults(), 55, 70)],
)
def test_scripted_faults_precision_recall(
    compression: float, faults: list[Fault], warm: int, more: int
) -> None:
    world = warmed(compression, 11, warm, faults)
    events = world.run(more)
    result = score(events, faults)
    print(f"\n{compression:g}x: {result}")  # the numbers the report quotes (pytest -s)
    assert result.recall >= 0.9
    assert result.precision >= 0.9
    for fault in faults:
        if fault.kind in ("outage", "agent_down"):
            delay = detection_delay(events, fault)
            assert delay is not None and delay <= 3 * MINUTE, fault


@pytest.mark.parametrize("compression", [1.0, 360.0])
def test_outage_of_one_institution_flags_only_it_and_recovers(compression: float) -> None:
    start = at(HISTORY + 70.5) if compression == 1.0 else at(60.3)
    fault = Fault("outage", "h01", start, start + 10 * MINUTE)
    warm = HISTORY if compression == 1.0 else 55
    world = warmed(compression, 11, warm, [fault])
    events = world.run((start - T0) // MINUTE + 20 - warm)
    opened = openings(events)
    assert opened and {e.feed.institution_id for e in opened} == {"h01"}
    assert {e.kind for e in opened} == {Kind.SILENCE}
    delay = detection_delay(events, fault)
    assert delay is not None and delay <= 3 * MINUTE
    closed = {e.anomaly_id for e in events if e.kind == Kind.RECOVERED}
    assert closed == {e.anomaly_id for e in opened}  # recovery closes every one
    ends = [e.end_ms for e in events if e.kind == Kind.RECOVERED]
    assert all(
        end is not None and fault.end_ms - MINUTE <= end <= fault.end_ms + 2 * MINUTE
        for end in ends
    )
    assert world.detector.open_anomalies() == []


def test_outage_at_cold_start_of_the_demo_is_flagged_within_three_minutes() -> None:
    # 360x, 6 wall minutes in: no seasonal profile yet, only the robust recent level
    fault = Fault("outage", "h01", at(6.4), at(12))
    world = World(compression=360.0, seed=3, faults=[fault])
    events = world.run(16)
    delay = detection_delay(events, fault)
    assert delay is not None and delay <= 3 * MINUTE
    assert {e.feed.institution_id for e in openings(events)} == {"h01"}


def test_cold_start_raises_nothing_even_on_a_burst() -> None:
    fault = Fault("burst", "h01", at(2.5), at(2.5), table="his.public.charge")
    world = World(compression=360.0, seed=4, faults=[fault])
    assert openings(world.run(4)) == []
