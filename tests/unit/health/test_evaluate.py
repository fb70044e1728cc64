"""The evaluation core: hop statuses and the exact reasons an operator reads."""

from __future__ import annotations

from streamhub.health.evaluate import evaluate
from streamhub.health.model import (
    ActivityWindow,
    Connector,
    InstitutionHealth,
    Observation,
    Status,
    TopicLag,
)
from streamhub.health.thresholds import Thresholds

from .builders import CONNECTOR, INST, NOW, beat, observation

LIMITS = Thresholds()


def only(obs: Observation, limits: Thresholds = LIMITS) -> InstitutionHealth:
    [health] = evaluate(obs, limits)
    return health


def statuses(health: InstitutionHealth) -> dict[str, str]:
    return {hop.hop: hop.status.label for hop in health.hops}


def test_a_fresh_heartbeat_without_backlog_is_healthy_on_every_hop() -> None:
    health = only(observation())
    assert health.overall is Status.HEALTHY
    assert set(statuses(health).values()) == {"healthy"}
    assert health.reason == "all hops healthy"
    assert health.name == "第一医院"
    assert health.connectors[0].heartbeat_age_s == 5.0


def test_heartbeat_age_degrades_after_30_s_and_is_down_after_120_s() -> None:
    degraded = only(observation(beats={CONNECTOR.name: (beat(45),)}))
    assert degraded.hop("capture").status is Status.DEGRADED
    assert degraded.reason == (
        "capture: sim-h01-his: last heartbeat 45 s ago (degraded after 30 s; "
        "is its capture agent running?)"
    )
    down = only(observation(beats={CONNECTOR.name: (beat(130),)}))
    assert down.overall is Status.DOWN
    assert down.reason == (
        "capture: sim-h01-his: last heartbeat 130 s ago (down after 120 s; "
        "is its capture agent running?)"
    )


def test_a_configured_connector_never_heard_of_is_down() -> None:
    health = only(observation(beats={}))
    assert health.hop("capture").status is Status.DOWN
    assert health.reason == (
        "capture: sim-h01-his: no heartbeat in the last 15 min "
        "(is a `streamhub capture` agent running it?)"
    )
    assert health.connectors[0].heartbeat_age_s is None


def test_an_unreachable_database_puts_the_source_down_first() -> None:
    health = only(observation(beats={}, unreachable={CONNECTOR.name: "Connection refused"}))
    assert statuses(health)["source"] == "down"
    assert health.reason == (
        "source: sim-h01-his: database 127.0.0.1:35432 unreachable (Connection refused)"
    )


def test_source_log_retained_and_commit_lag_grade_the_source() -> None:
    retained = only(observation(beats={CONNECTOR.name: (beat(2, lag_bytes=300 * 2**20),)}))
    assert retained.reason == (
        "source: sim-h01-his: 300.0 MiB of source log retained for it "
        "(slot/binlog; degraded at 256.0 MiB)"
    )
    behind = only(observation(beats={CONNECTOR.name: (beat(2, lag_ms=700_000),)}))
    assert behind.hop("source").status is Status.DOWN
    assert behind.reason == (
        "source: sim-h01-his: 12 min behind the source's commits (down at 10 min)"
    )
    assert behind.connectors[0].source_lag_s == 700.0


def test_lag_reported_by_a_stale_heartbeat_is_not_judged() -> None:
    health = only(observation(beats={CONNECTOR.name: (beat(500, lag_ms=900_000),)}))
    assert health.hop("source").status is Status.HEALTHY
    assert health.connectors[0].source_lag_s is None


def test_restarts_and_errors_in_the_recent_window_degrade_capture() -> None:
    beats = (
        beat(400, events_total=50, errors_total=4),  # before the window: not counted
        beat(200, events_total=90, errors_total=5),  # +1 error
        beat(100, events_total=3, errors_total=2),  # totals fell: a restart, 2 errors
        beat(5, events_total=20, errors_total=2),
    )
    health = only(observation(beats={CONNECTOR.name: beats}))
    capture = health.hop("capture")
    assert capture.status is Status.DEGRADED
    assert capture.reasons == (
        "sim-h01-his: restarted 1 time(s) in the last 5 min (the capture agent's log says why)",
        "sim-h01-his: 3 error(s) in the last 5 min (dlq.capture and the capture agent's log)",
    )


def test_a_failed_connector_is_down_and_a_paused_one_degraded() -> None:
    failed = only(observation(beats={CONNECTOR.name: (beat(1, state="failed"),)}))
    assert (
        failed.reason
        == "capture: sim-h01-his: connector reports failed (see the capture agent's log)"
    )
    paused = only(observation(beats={CONNECTOR.name: (beat(1, state="paused"),)}))
    assert paused.overall is Status.DEGRADED
    assert paused.reason == "capture: sim-h01-his: connector is paused"


def test_kafka_unreachable_puts_every_institution_channel_down() -> None:
    other = Connector("sim-c01-his", "91110000MA01234567", "his")
    obs = observation(connectors=(CONNECTOR, other), beats={}, lags=(), kafka_error="timed out")
    healths = evaluate(obs, LIMITS)
    assert [h.institution_id for h in healths] == sorted([INST, "91110000MA01234567"])
    for health in healths:
        assert health.hop("channel").status is Status.DOWN
        assert health.hop("channel").reasons == ("Kafka unreachable: timed out",)


def test_a_missing_raw_topic_puts_the_channel_down() -> None:
    health = only(observation(missing_topics=frozenset({"cdc.raw.his"})))
    assert (
        health.reason == "channel: topic cdc.raw.his does not exist (run `streamhub topics apply`)"
    )


def test_consumer_lag_in_messages_grades_the_channel_per_stage() -> None:
    lags = (
        TopicLag("std-g", "cdc.raw.his", 150_000, NOW - 5_000),
        TopicLag("std-g", "cdc.raw.emr", 9_000_000, NOW - 5_000),  # not this institution's
        TopicLag("land-g", "std.patient", 0),
    )
    health = only(observation(lags=lags))
    assert health.hop("channel").reasons == (
        "standardize group std-g is 150,000 messages behind on cdc.raw.his (degraded at 100,000)",
    )


def test_a_group_that_never_consumed_a_topic_with_messages_degrades_the_channel() -> None:
    lags = (
        TopicLag("std-g", "cdc.raw.his", 0),
        TopicLag("land-g", "std.patient", 42, NOW - 1_000, committed=False),
        TopicLag("land-g", "std.order", 0, committed=False),  # empty: nothing to say
    )
    health = only(observation(lags=lags))
    assert health.hop("channel").reasons == (
        "group land-g has never consumed std.patient "
        "(42 messages waiting; is `streamhub land` running?)",
    )


def test_the_oldest_unprocessed_message_grades_processing_and_center() -> None:
    lags = (
        TopicLag("std-g", "cdc.raw.his", 10, NOW - 400_000),
        TopicLag("land-g", "std.patient", 10, NOW - 90_000),
        TopicLag("land-g", "ops.heartbeat", 10, NOW - 990_000),  # not std.*: not judged
    )
    health = only(observation(lags=lags))
    assert health.hop("processing").reasons == (
        "standardizer (group std-g) is 400 s behind on cdc.raw.his: its oldest unprocessed "
        "message waits since then (down at 300 s)",
    )
    assert health.hop("center").reasons == (
        "lander (group land-g) is 90 s behind on std.patient: its oldest unprocessed "
        "message waits since then (degraded at 60 s)",
    )
    assert health.reason.startswith("processing: standardizer")


def test_an_idle_institution_is_not_late_however_old_its_last_landing() -> None:
    health = only(observation(landed_commit_ms={INST: NOW - 3_600_000}))
    assert health.hop("center").status is Status.HEALTHY
    assert health.landing_freshness_s == 3600.0


def test_source_changes_not_landed_grade_the_center_by_how_long_they_wait() -> None:
    landed = {INST: NOW - 600_000}
    waiting = (ActivityWindow(INST, NOW - 300_000), ActivityWindow(INST, NOW - 240_000))
    health = only(observation(landed_commit_ms=landed, activity=waiting))
    assert health.hop("center").reasons == (
        "source changes waiting 300 s to land in ClickHouse (newest landed commit 10 min old; "
        "degraded at 180 s)",
    )
    never = only(observation(activity=(ActivityWindow(INST, NOW - 930_000),)))
    # the minute began before the horizon: it has waited at least since the horizon began
    assert never.hop("center").reasons == (
        "source changes waiting 15 min to land in ClickHouse (nothing landed in the horizon; "
        "down at 15 min)",
    )


def test_landed_past_the_source_activity_is_caught_up() -> None:
    activity = (ActivityWindow(INST, NOW - 300_000),)
    health = only(observation(activity=activity, landed_commit_ms={INST: NOW - 200_000}))
    assert health.hop("center").status is Status.HEALTHY


def test_a_heartbeat_last_event_after_the_newest_landing_is_pending() -> None:
    beats = {CONNECTOR.name: (beat(1, last_event_ts_ms=NOW - 200_000),)}
    health = only(observation(beats=beats, landed_commit_ms={INST: NOW - 500_000}))
    assert health.hop("center").status is Status.DEGRADED
    assert "waiting 200 s" in health.hop("center").reasons[0]


def test_dead_letter_rates_go_to_the_hop_of_their_stage() -> None:
    dead = {(INST, "capture"): 3, (INST, "standardize"): 100, (INST, "land"): 6000}
    health = only(observation(dead_letters=dead))
    assert health.dead_letters_per_minute == {"capture": 0.6, "standardize": 20.0, "land": 1200.0}
    assert health.hop("capture").status is Status.HEALTHY
    assert health.hop("processing").reasons == (
        "20.0 dead letters/min in dlq.standardize (100 in the last 5 min; degraded at 10/min)",
    )
    assert health.hop("center").reasons == (
        "1200.0 dead letters/min in dlq.land (6000 in the last 5 min; down at 1000/min)",
    )


def test_the_overall_reason_is_the_first_hop_at_the_worst_status() -> None:
    obs = observation(
        beats={CONNECTOR.name: (beat(45),)},  # capture degraded
        dead_letters={(INST, "land"): 6000},  # center down
    )
    health = only(obs)
    assert health.overall is Status.DOWN
    assert health.reason.startswith("center: 1200.0 dead letters/min")


def test_worst_reasons_lead_within_a_hop() -> None:
    obs = observation(
        beats={CONNECTOR.name: (beat(2, lag_bytes=300 * 2**20, lag_ms=700_000),)},
    )
    source = only(obs).hop("source")
    assert source.status is Status.DOWN
    assert source.reasons[0].startswith("sim-h01-his: 12 min behind")
    assert source.reasons[1].startswith("sim-h01-his: 300.0 MiB")


def test_thresholds_change_the_verdict() -> None:
    lab = LIMITS.with_overrides(["heartbeat_degraded_s=2", "heartbeat_down_s=4"])
    health = only(observation(beats={CONNECTOR.name: (beat(5),)}), lab)
    assert health.reason == (
        "capture: sim-h01-his: last heartbeat 5 s ago (down after 4 s; "
        "is its capture agent running?)"
    )


def test_long_waits_read_in_hours() -> None:
    lags = (TopicLag("std-g", "cdc.raw.his", 3, NOW - 18_360_000),)
    health = only(observation(lags=lags))
    assert (
        health.hop("processing")
        .reasons[0]
        .startswith("standardizer (group std-g) is 5.1 h behind on cdc.raw.his")
    )
