"""The app's logic without Kafka: scope, replay, suppression changes, metrics, records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamhub.anomaly import (
    Acknowledgement,
    BaselineConfig,
    DetectorConfig,
    Kind,
    MaintenanceWindow,
    TrafficDetector,
)
from streamhub.anomaly.events import AnomalyEvent
from streamhub.anomaly.metrics import AnomalyMetrics
from streamhub.anomaly.report import AnomalyState, render
from streamhub.anomaly.service import AnomalyService, ReplayClock, Scope, signature
from streamhub.anomaly.suppression_log import parse_change
from streamhub.core.clock import ManualClock, now_ms
from streamhub.kafka.reading import Message
from streamhub.serde.wire import MessageRef

from .scenario import MINUTE, T0

TABLES = ("public.registration", "public.charge")


class JsonCodec:
    """Stands in for the Avro codec: the service only needs decode and encode."""

    def decode(self, value: bytes, where: MessageRef | None = None) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(value)
        return record

    def encode(self, event: AnomalyEvent) -> tuple[bytes, bytes]:
        return b"", json.dumps(event.to_record()).encode()


def counts(connector: str, table: str, minute: int, n: int) -> Message:
    record = {
        "connector": connector,
        "institution_id": connector[:3],
        "system": "his",
        "database": "db",
        "table": table,
        "window_start_ms": minute,
        "window_ms": MINUTE,
        "inserts": n,
        "updates": 0,
        "deletes": 0,
        "snapshot_reads": 0,
        "row_count": None,
        "row_count_position": None,
        "emitted_ts_ms": minute + MINUTE + 5_000,
    }
    key = json.dumps({"connector": connector, "table": table, "window": minute}).encode()
    return Message(
        "ops.source_counts", 0, 0, minute + MINUTE + 5_000, key, json.dumps(record).encode()
    )


def heartbeat(connector: str, at: int, last_event: int | None = None) -> Message:
    record = {
        "connector": connector,
        "institution_id": connector[:3],
        "system": "his",
        "engine": "postgres",
        "state": "streaming",
        "position": None,
        "lag_bytes": 0,
        "lag_ms": 0,
        "last_event_ts_ms": last_event,
        "events_total": 0,
        "errors_total": 0,
        "emitted_ts_ms": at,
    }
    key = json.dumps({"connector": connector}).encode()
    return Message("ops.heartbeat", 0, 0, at, key, json.dumps(record).encode())


def traffic(connectors: list[str], minutes: int, silent_from: dict[str, int]) -> list[Message]:
    """Steady traffic (about 40 events a minute per table); a connector goes silent from
    minute ``silent_from[name]`` while its heartbeats carry on."""
    out: list[Message] = []
    for m in range(minutes):
        minute = T0 + m * MINUTE
        for name in connectors:
            if m < silent_from.get(name, minutes):
                out += [
                    counts(name, t, minute, 40 + (m * 7 + i * 3) % 9) for i, t in enumerate(TABLES)
                ]
            out += [heartbeat(name, minute + s * 1000) for s in range(10, 61, 10)]
    return out


WATCH_ALL = Scope()


def service(scope: Scope = WATCH_ALL) -> tuple[AnomalyService, ReplayClock, CollectorRegistry]:
    clock = ReplayClock()
    registry = CollectorRegistry()
    config = DetectorConfig(baseline=BaselineConfig(min_history=3))
    detector = TrafficDetector(clock, config)
    svc = AnomalyService(detector, clock, JsonCodec(), AnomalyMetrics.create(registry), scope)
    return svc, clock, registry


def gauge(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_replay_flags_the_silent_connector_only_and_skips_unwatched_ones() -> None:
    svc, clock, registry = service(Scope(("h01-*", "h02-*")))
    history = traffic(["h01-his", "h02-his", "x99-his"], 14, {"h01-his": 9, "x99-his": 5})
    events = svc.replay(history)
    assert clock.fixed_ms is None  # back on the wall clock after the replay
    opened = [e for e in events if e.kind != Kind.RECOVERED]
    assert opened and {e.feed.connector for e in opened} == {"h01-his"}
    assert {e.kind for e in opened} == {Kind.SILENCE}
    assert {e.start_ms for e in opened} == {T0 + 9 * MINUTE}
    assert set(svc.open) == {e.anomaly_id for e in opened}
    assert svc.detector.feed_count == 4  # x99 was never decoded
    assert (
        gauge(registry, "streamhub_anomaly_inputs_total", topic="ops.heartbeat", outcome="skipped")
        == 14 * 6
    )


def test_acknowledgement_and_maintenance_republish_open_anomalies_suppressed() -> None:
    svc, clock, registry = service()
    events = svc.replay(traffic(["h01-his", "h02-his"], 12, {"h01-his": 9}))
    (anomaly_id, *_) = {e.anomaly_id for e in events if e.feed.table == "db.public.charge"}
    now = T0 + 12 * MINUTE
    clock.fixed_ms = now
    svc.refresh_metrics(now)
    assert (
        gauge(
            registry,
            "streamhub_anomaly_open_count",
            institution="h01",
            kind="SILENCE",
            severity="CRITICAL",
        )
        == 2
    )
    assert gauge(registry, "streamhub_anomaly_feeds_count") == 4

    ack = Acknowledgement(anomaly_id, by="zhang.wei", at_ms=now, until_ms=now + MINUTE)
    (changed,) = svc.tick([ack])
    assert changed.anomaly_id == anomaly_id and changed.suppressed
    assert changed.suppression == "ack:zhang.wei" and changed.detected_ts_ms == now
    assert gauge(registry, "streamhub_anomaly_suppressed_count", institution="h01") == 1
    assert (
        gauge(
            registry,
            "streamhub_anomaly_open_count",
            institution="h01",
            kind="SILENCE",
            severity="CRITICAL",
        )
        == 1
    )
    assert svc.tick() == []  # nothing changed since

    clock.fixed_ms = now + MINUTE  # the acknowledgement expired
    (expired,) = [e for e in svc.tick() if e.anomaly_id == anomaly_id]
    assert not expired.suppressed and expired.suppression is None

    window = MaintenanceWindow("mw-1", "h01", now, now + 10 * MINUTE, reason="upgrade")
    changed_ids = {e.anomaly_id for e in svc.tick([window]) if e.suppressed}
    assert changed_ids == set(svc.open)
    assert gauge(registry, "streamhub_anomaly_suppressed_count", institution="h01") == 2
    assert (
        gauge(
            registry,
            "streamhub_anomaly_open_count",
            institution="h01",
            kind="SILENCE",
            severity="CRITICAL",
        )
        == 0
    )


def test_records_the_detector_cannot_use_are_counted_invalid_not_raised() -> None:
    svc, _, registry = service()
    key = json.dumps({"connector": "h01-his"}).encode()
    assert svc.on_message("ops.heartbeat", key, json.dumps({"connector": "h01-his"}).encode()) == []
    assert (
        gauge(registry, "streamhub_anomaly_inputs_total", topic="ops.heartbeat", outcome="invalid")
        == 1
    )


def test_row_count_readings_do_not_count_as_a_silent_minute() -> None:
    svc, _, _ = service()
    history = traffic(["h01-his"], 10, {})  # minute 9's window arrives at 10:05
    reading = counts("h01-his", TABLES[0], T0 + 9 * MINUTE, 0)
    record = json.loads(reading.value or b"{}") | {"row_count": 812, "row_count_position": "p"}
    late_reading = Message(
        reading.topic, 0, 0, T0 + 10 * MINUTE + 6_000, reading.key, json.dumps(record).encode()
    )
    pulses = [heartbeat("h01-his", T0 + 10 * MINUTE + s * 1000) for s in (20, 30)]
    events = svc.replay([*history, late_reading, *pulses])
    # minute 9 was judged (its window, not the zeros of the reading): nothing is stuck
    assert svc.detector._connectors["h01-his"].next_minute == T0 + 10 * MINUTE
    assert events == []


def test_leading_empty_minutes_are_not_learned() -> None:
    svc, _, _ = service()
    quiet = [
        heartbeat("h01-his", T0 + m * MINUTE + s * 1000)
        for m in range(4)
        for s in range(10, 61, 10)
    ]
    zeros = [counts("h01-his", t, T0 + m * MINUTE, 0) for m in range(4) for t in TABLES]
    later = [
        Message(
            m.topic,
            0,
            0,
            m.timestamp_ms + 4 * MINUTE,
            m.key,
            json.dumps(_shifted(json.loads(m.value or b"{}"), 4 * MINUTE)).encode(),
        )
        for m in traffic(["h01-his"], 6, {"h01-his": 4})
    ]
    svc.replay([*quiet, *zeros, *later])
    # minutes 4-7 had traffic and 8-9 none; had the empty minutes 0-3 been learned, the
    # quietest recent minute would be 0 and silence could never be proven
    assert {e.kind for e in svc.open.values()} == {Kind.SILENCE}


def _shifted(record: dict[str, Any], by: int) -> dict[str, Any]:
    for name in ("window_start_ms", "emitted_ts_ms"):
        if name in record:
            record[name] += by
    return record


def test_suppression_records_round_trip_and_tombstones_cancel() -> None:
    window = MaintenanceWindow("mw-7", "h01", T0, T0 + MINUTE, system="his", reason="x")
    value = json.dumps(window.__dict__).encode()
    assert parse_change(json.dumps({"maintenance": "mw-7"}).encode(), value) == window
    assert parse_change(json.dumps({"maintenance": "mw-7"}).encode(), None) == "mw-7"
    ack = Acknowledgement("a-1", by="li.na", at_ms=T0)
    assert (
        parse_change(json.dumps({"ack": "a-1"}).encode(), json.dumps(ack.__dict__).encode()) == ack
    )
    assert parse_change(None, b"{}") is None


def test_signature_tells_an_escalation_and_a_closing_from_a_repeat() -> None:
    base = {"anomaly_id": "a", "kind": "STUCK", "severity": "WARNING", "end_ms": None}
    assert signature(base) == signature(dict(base))
    assert signature(base) != signature(base | {"severity": "CRITICAL"})
    assert signature(base) != signature(base | {"kind": "RECOVERED", "end_ms": 5})


def test_show_renders_the_latest_state_of_each_anomaly() -> None:
    record = {
        "anomaly_id": "a-1",
        "institution_id": "123",
        "system": "his",
        "table": None,
        "kind": "RECOVERED",
        "recovered_kind": "SILENCE",
        "severity": "CRITICAL",
        "start_ms": T0,
        "end_ms": T0 + MINUTE,
        "suppressed": True,
        "suppression": "ack:x",
        "observed": 0.0,
        "expected": 41.25,
    }
    text = render([AnomalyState(record)])
    header, row = text.splitlines()
    assert header.split()[:5] == ["anomaly_id", "institution", "system", "table", "kind"]
    assert row.split()[:6] == ["a-1", "123", "his", "*", "SILENCE", "recovered"]
    assert "ack:x" in row and "41.2" in row


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("10m", 600_000),
        ("2h", 7_200_000),
        ("3d", 259_200_000),
        ("0", 0),
        ("1.5m", 90_000),
    ],
)
def test_durations(text: str, ms: int) -> None:
    from streamhub.cli.anomaly_cmd import parse_duration_ms

    assert parse_duration_ms(text) == ms


def test_moments() -> None:
    import click

    from streamhub.cli.anomaly_cmd import parse_moment_ms

    assert parse_moment_ms("now", 1000) == 1000
    assert parse_moment_ms("now+2h", 0) == 7_200_000
    assert parse_moment_ms("now-90s", 100_000) == 10_000
    assert parse_moment_ms("2026-03-02T08:30:00+08:00") == 1_772_411_400_000
    with pytest.raises(click.BadParameter):
        parse_moment_ms("yesterday")


def test_keys_and_scopes() -> None:
    from streamhub.anomaly.codec import anomaly_key, connector_of_key

    assert anomaly_key({"institution_id": "123", "system": "his", "table": None}) == b"123|his|*"
    assert anomaly_key({"institution_id": "123", "system": "lis", "table": "db.t"}) == (
        b"123|lis|db.t"
    )
    assert connector_of_key(b'{"connector": "sim-h01-his", "table": "t"}') == "sim-h01-his"
    assert connector_of_key(b"not json") is None and connector_of_key(None) is None
    scope = Scope(("sim-h0*",))
    assert scope.watches("sim-h01-his") and not scope.watches("sim-c01-his")
    assert not scope.watches(None) and WATCH_ALL.watches(None)


def test_an_outage_starts_after_the_partial_minute_the_idle_agent_counted() -> None:
    # h01 stops writing 20 s into minute 9; like the capture agent, it goes idle and emits
    # minute 9's counts (what those 20 s held) once the minute has passed
    svc, _, _ = service()
    history = traffic(["h01-his"], 9, {})
    last = T0 + 9 * MINUTE + 20_000
    partial = [counts("h01-his", t, T0 + 9 * MINUTE, 13) for t in TABLES]
    idle = [heartbeat("h01-his", T0 + 9 * MINUTE + s * 1000, last) for s in range(30, 240, 10)]
    tail = sorted([*partial, *idle], key=lambda m: m.timestamp_ms)
    events = svc.replay([*history, *tail])
    opened = [e for e in events if e.kind == Kind.SILENCE]
    assert opened and {e.start_ms for e in opened} == {T0 + 10 * MINUTE}


def test_replay_clock_pins_record_time_then_follows_its_base_clock() -> None:
    base = ManualClock(T0 / 1000)
    clock = ReplayClock(base)
    clock.fixed_ms = T0 + 12_345
    assert now_ms(clock) == T0 + 12_345
    clock.fixed_ms = None
    base.advance(2.5)
    assert now_ms(clock) == T0 + 2_500 and clock.monotonic() == 2.5
