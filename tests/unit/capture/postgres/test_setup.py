"""The wait for a replication slot another stream still holds runs on the injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import SourceUnavailableError
from streamhub.capture.postgres.setup import SLOT_POLL_S, SLOT_RELEASE_WAIT_S, ensure_slot
from streamhub.codes import credit_code
from streamhub.core.clock import ManualClock

CONFIG = ConnectorConfig.model_validate(
    {
        "name": "his_pg",
        "institution_id": credit_code.make("1", "2", "350203", "15498973"),
        "institution_name": "医院",
        "system": "his",
        "engine": "postgresql",
        "connection": {
            "host": "127.0.0.1",
            "port": 1,
            "database": "his",
            "user": "capture",
            "password_env": "HIS_PASSWORD",
        },
        "tables": ["patient"],
        "profile": "vendor_a",
    }
)


class SlotCursor:
    """pg_replication_slots as a cursor sees it: the slot is streamed ``busy_for`` looks."""

    def __init__(self, busy_for: int) -> None:
        self.busy_for = busy_for
        self.looks = 0

    def execute(self, query: str, params: Any = None) -> None:
        assert "pg_replication_slots" in query
        self.looks += 1

    def fetchone(self) -> tuple[Any, ...]:
        pid = 4321 if self.looks <= self.busy_for else None
        return ("pgoutput", "his", pid, "0/16B3748", "reserved")


def test_a_slot_released_within_the_wait_is_used_after_sleeping_on_the_clock() -> None:
    clock = ManualClock()
    cursor = SlotCursor(busy_for=3)
    assert ensure_slot(cursor, CONFIG, "0/16B3748", clock) == 0x16B3748  # type: ignore[arg-type]
    assert clock.sleeps == [SLOT_POLL_S] * 3


def test_a_slot_held_past_the_wait_names_the_process_holding_it() -> None:
    clock = ManualClock()
    with pytest.raises(SourceUnavailableError) as caught:
        ensure_slot(SlotCursor(busy_for=10**6), CONFIG, None, clock)  # type: ignore[arg-type]
    assert "server process 4321" in str(caught.value)
    assert "pg_terminate_backend(4321)" in str(caught.value)
    assert SLOT_RELEASE_WAIT_S <= sum(clock.sleeps) <= SLOT_RELEASE_WAIT_S + SLOT_POLL_S
    assert set(clock.sleeps) == {SLOT_POLL_S}
