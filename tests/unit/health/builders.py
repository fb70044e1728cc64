"""Observations built by hand: one institution, one connector, everything fine by default."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from streamhub.health.model import Beat, Connector, Observation, TopicLag

NOW = 1_800_000_000_000  # a fixed reading time; no wall clock in these tests
INST = "12340000MB1234567X"
CONNECTOR = Connector("sim-h01-his", INST, "his", "第一医院", "127.0.0.1", 35432)


def beat(age_s: float, **fields: Any) -> Beat:
    values: dict[str, Any] = {"state": "streaming", "events_total": 100, "errors_total": 0}
    return Beat(emitted_ts_ms=NOW - int(age_s * 1000), **(values | fields))


def observation(**changes: Any) -> Observation:
    base = Observation(
        now_ms=NOW,
        since_ms=NOW - 900_000,
        standardize_group="std-g",
        lander_group="land-g",
        connectors=(CONNECTOR,),
        beats={CONNECTOR.name: (beat(10), beat(5))},
        lags=(
            TopicLag("std-g", "cdc.raw.his", 0),
            TopicLag("land-g", "std.patient", 0),
        ),
    )
    return replace(base, **changes)
