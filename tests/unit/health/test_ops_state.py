"""The state link health keeps between checks: bounded, slid with the horizon, and giving
the evaluation exactly what the whole history would."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from streamhub.health.evaluate import evaluate
from streamhub.health.model import ActivityWindow
from streamhub.health.ops_state import OpsState
from streamhub.health.thresholds import Thresholds

from .builders import CONNECTOR, INST, NOW, observation

LIMITS = Thresholds()
SINCE = NOW - 900_000
RECENT = NOW - 300_000


def beat_record(emitted: int, events: int = 100, errors: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "connector": CONNECTOR.name,
        "institution_id": INST,
        "system": "his",
        "state": "streaming",
        "events_total": events,
        "errors_total": errors,
        "emitted_ts_ms": emitted,
        "last_event_ts_ms": emitted - 500,
        **fields,
    }


def test_heartbeats_kept_are_the_recent_ones_and_the_one_before() -> None:
    state = OpsState()
    for emitted in range(SINCE, NOW, 5_000):
        state.heartbeat(emitted, beat_record(emitted))
    beats = state.view(SINCE, RECENT).beats[CONNECTOR.name]
    assert beats[0].emitted_ts_ms == RECENT - 5_000  # the newest before the recent window
    assert [b.emitted_ts_ms for b in beats[1:]] == list(range(RECENT, NOW, 5_000))
    assert state.size() == len(beats)
    # an hour later with no beat since: the connector leaves the horizon
    assert state.view(NOW + 3_600_000, NOW + 3_300_000).beats == {}
    assert state.size() == 0


def test_the_evaluation_of_the_kept_state_equals_that_of_the_whole_history() -> None:
    """Restarts, errors and late beats anywhere in the horizon: same healths as the
    observation holding every beat (what gather built before)."""
    rng = random.Random(18)
    for _ in range(30):
        state = OpsState()
        everything = []
        events = errors = 0
        emitted = SINCE
        while emitted < NOW - rng.choice([0, 0, 60_000, 400_000]):
            emitted += rng.choice([5_000, 5_000, 5_000, 40_000])
            if rng.random() < 0.05:
                events = errors = 0  # a restart: totals from zero
            events += rng.randint(0, 50)
            errors += rng.random() < 0.1
            record = beat_record(emitted, events, errors)
            everything.append(record)
            state.heartbeat(emitted + rng.randint(0, 30), record)
        whole = OpsState()
        for record in everything:
            whole.heartbeat(0, record)
        full = whole.view(-(2**62), -(2**62)).beats
        kept = state.view(SINCE, RECENT).beats
        base = observation()
        assert evaluate(replace(base, beats=kept), LIMITS) == evaluate(
            replace(base, beats=full), LIMITS
        )


def test_the_newest_landed_commit_slides_with_the_horizon() -> None:
    state = OpsState()

    def landed(ts: int, start: int) -> None:
        record = {"institution_id": INST, "window_start_ms": start, "window_ms": 60_000}
        state.landed(ts, record | {"landed_ts_ms": ts})

    landed(SINCE + 10_000, SINCE)  # commit SINCE + 10 s (landed within its minute)
    landed(SINCE + 200_000, SINCE + 60_000)  # commit SINCE + 120 s
    landed(SINCE + 100_000, SINCE + 60_000)  # an older landing of a later minute: dominated
    landed(SINCE + 300_000, SINCE - 60_000)  # a late minute, stamped later: may take over
    assert state.view(SINCE, RECENT).landed_commit_ms == {INST: SINCE + 120_000}
    assert state.size() == 2
    # once the newest leaves the horizon, the later-stamped one is the newest
    later = SINCE + 250_000
    assert state.view(later, later + 600_000).landed_commit_ms == {INST: SINCE}
    assert state.view(NOW + 600_000, NOW + 900_000).landed_commit_ms == {}


def test_activity_is_the_minutes_not_landed_yet() -> None:
    state = OpsState()
    for start in range(SINCE, NOW - 60_000, 60_000):
        state.source_counts(start + 65_000, counts(start, inserts=1))
    state.source_counts(NOW, counts(NOW - 120_000, row_count=10, inserts=1))  # a row count
    state.landed(
        NOW - 100_000,
        {
            "institution_id": INST,
            "window_start_ms": NOW - 240_000,
            "window_ms": 60_000,
            "landed_ts_ms": NOW - 100_000,
        },
    )
    view = state.view(SINCE, RECENT)
    assert view.landed_commit_ms == {INST: NOW - 180_000}
    assert view.activity == (
        ActivityWindow(INST, NOW - 180_000),
        ActivityWindow(INST, NOW - 120_000),
    )


def counts(start: int, **fields: Any) -> dict[str, Any]:
    base = {
        "institution_id": INST,
        "window_start_ms": start,
        "window_ms": 60_000,
        "inserts": 0,
        "updates": 0,
        "deletes": 0,
        "snapshot_reads": 0,
        "row_count": None,
    }
    return base | fields


def test_dead_letters_count_only_the_recent_window() -> None:
    state = OpsState()
    state.dead_letter(RECENT - 1, {"institution_id": INST, "stage": "land"})
    state.dead_letter(RECENT + 1, {"institution_id": INST, "stage": "land"})
    state.dead_letter(RECENT + 2, {"institution_id": INST, "stage": "standardize"})
    assert state.view(SINCE, RECENT).dead_letters == {(INST, "land"): 1, (INST, "standardize"): 1}
    assert state.view(NOW, NOW).dead_letters == {}
    assert state.size() == 0
