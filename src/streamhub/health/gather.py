"""Fill an :class:`Observation` from Kafka (and, for silent connectors, a TCP probe).

ClickHouse is not read: the embedded engine belongs to the running lander, which publishes
what it landed on ops.landed_counts instead. One check reads the horizon once through a
:class:`~.refresh.HealthReader`; a process that checks again and again keeps one reader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.health.connector_files import ConnectorFiles
from streamhub.health.model import ActivityWindow, Beat, Connector, Observation, OpsTopics
from streamhub.health.ops_state import OpsState
from streamhub.health.refresh import HealthReader
from streamhub.health.thresholds import Thresholds

__all__ = ["OpsTopics", "configured_connectors", "gather"]


def configured_connectors(settings: Settings) -> list[Connector]:
    return ConnectorFiles(settings.connectors_path).connectors()


def gather(
    settings: Settings,
    limits: Thresholds,
    now_ms: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
    topics: OpsTopics | None = None,
) -> Observation:
    """Read everything health needs at ``now_ms`` (the clock's time when None); an
    unreachable Kafka is an observation, not an error. ``topics``: the ops topics to read
    (the catalog's by default)."""
    reader = HealthReader(settings, limits, topics=topics, clock=clock, one_shot=True)
    try:
        return reader.refresh(now_ms)
    finally:
        reader.close()


# --- records to inputs, all of them in the horizon and the recent window -----------------
# (what one check makes of decoded records; the reader feeds an OpsState the same way)

_ALL = -(2**62)  # a horizon and a recent window that hold every record


def _beats(
    records: list[dict[str, Any]],
) -> tuple[dict[str, tuple[Beat, ...]], list[Connector]]:
    state = _fed(records, OpsState.heartbeat)
    view = state.view(_ALL, _ALL)
    return view.beats, view.heard


def _dead_letters(records: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return _fed(records, OpsState.dead_letter).view(_ALL, _ALL).dead_letters


def _landed(records: list[dict[str, Any]]) -> dict[str, int]:
    """Newest landed commit per institution: the end of the newest landed minute, or the
    landing time when that minute was still running."""
    return _fed(records, OpsState.landed).landed_commits(_ALL)


def _activity(
    records: list[dict[str, Any]], connectors: dict[str, Connector]
) -> tuple[ActivityWindow, ...]:
    return _fed(records, OpsState.source_counts).view(_ALL, _ALL).activity


def _fed(
    records: list[dict[str, Any]], add: Callable[[OpsState, int, dict[str, Any]], None]
) -> OpsState:
    state = OpsState()
    for record in records:
        add(state, 0, record)
    return state
