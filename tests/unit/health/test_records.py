"""Turning decoded ops records into health inputs (the pure part of gathering)."""

from __future__ import annotations

from typing import Any

from streamhub.health.gather import _activity, _beats, _dead_letters, _landed
from streamhub.health.model import ActivityWindow, Connector

INST = "12340000MB1234567X"


def heartbeat(connector: str, emitted: int, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "connector": connector,
        "institution_id": INST,
        "system": "his",
        "state": "streaming",
        "events_total": 1,
        "errors_total": 0,
        "emitted_ts_ms": emitted,
    }
    return base | fields


def test_heartbeats_are_ordered_per_connector_and_name_their_institution() -> None:
    beats, heard = _beats(
        [heartbeat("a", 2000), heartbeat("a", 1000, lag_ms=7), heartbeat("b", 1500), {}]
    )
    assert [b.emitted_ts_ms for b in beats["a"]] == [1000, 2000]
    assert beats["a"][0].lag_ms == 7
    assert heard == [Connector("a", INST, "his"), Connector("b", INST, "his")]


def test_the_newest_landed_commit_is_capped_by_when_it_landed() -> None:
    records = [
        {
            "institution_id": INST,
            "window_start_ms": 60_000,
            "window_ms": 60_000,
            "landed_ts_ms": 200_000,
        },
        # the running minute: commits in it are at most as new as the landing
        {
            "institution_id": INST,
            "window_start_ms": 180_000,
            "window_ms": 60_000,
            "landed_ts_ms": 190_000,
        },
    ]
    assert _landed(records) == {INST: 190_000}


def test_activity_is_minutes_with_changes_and_not_row_count_readings() -> None:
    def counts(start: int, **fields: object) -> dict[str, object]:
        base: dict[str, object] = {
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

    records = [
        counts(0, inserts=3),
        counts(60_000, snapshot_reads=5),
        counts(120_000),  # an idle minute
        counts(180_000, row_count=1000),  # a row count at a position
    ]
    assert _activity(records, {}) == (
        ActivityWindow(INST, 0),
        ActivityWindow(INST, 60_000),
    )


def test_dead_letters_are_counted_per_institution_and_stage() -> None:
    records: list[dict[str, Any]] = [
        {"institution_id": INST, "stage": "standardize"},
        {"institution_id": INST, "stage": "standardize"},
        {"institution_id": None, "stage": "land"},  # undecodable input: nobody's
        {"institution_id": INST, "stage": "land"},
    ]
    assert _dead_letters(records) == {(INST, "standardize"): 2, (INST, "land"): 1}
