"""Where healthy ends: one object holding every limit, with defaults for a regional link.

Operators override single values on the command line (``--threshold name=value``), so a
lab with one-second heartbeats can call a connector down after ten seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from streamhub.health.errors import ThresholdError


@dataclass(frozen=True)
class Thresholds:
    # how much history is read: older heartbeats/counts say nothing about now
    horizon_s: float = 900.0
    # dead letters, capture errors and restarts are counted over this recent window
    recent_s: float = 300.0
    # capture: heartbeats come every 5 s by default; six missed is trouble, 24 is an outage
    heartbeat_degraded_s: float = 30.0
    heartbeat_down_s: float = 120.0
    # source: log retained for the connector (slot / binlog) and time behind its commits
    source_lag_bytes_degraded: float = 256 * 2**20
    source_lag_bytes_down: float = 4 * 2**30
    source_lag_degraded_s: float = 60.0
    source_lag_down_s: float = 600.0
    # channel: messages a stage's group is behind its topics
    consumer_lag_degraded: float = 100_000
    consumer_lag_down: float = 2_000_000
    # processing and center: age of the oldest message a stage has not consumed yet
    stage_lag_degraded_s: float = 60.0
    stage_lag_down_s: float = 300.0
    # center: source changes not landed for this long (an idle institution is not late)
    landing_degraded_s: float = 180.0
    landing_down_s: float = 900.0
    # dead letters per minute of one institution at one stage
    dead_letters_degraded_per_min: float = 10.0
    dead_letters_down_per_min: float = 1000.0

    def with_overrides(self, overrides: list[str]) -> Thresholds:
        """A copy with ``name=value`` overrides applied; ThresholdError on a bad one."""
        known = {f.name for f in fields(self)}
        changes: dict[str, float] = {}
        for item in overrides:
            name, sep, text = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                raise ThresholdError(
                    f"threshold {item!r}: expected name=value with name one of "
                    f"{', '.join(sorted(known))}"
                )
            try:
                value = float(text)
            except ValueError as exc:
                raise ThresholdError(f"threshold {name}: {text!r} is not a number") from exc
            if value < 0:
                raise ThresholdError(f"threshold {name}: {value} is negative")
            changes[name] = value
        updated = replace(self, **changes)
        for low, high in (
            ("heartbeat_degraded_s", "heartbeat_down_s"),
            ("source_lag_bytes_degraded", "source_lag_bytes_down"),
            ("source_lag_degraded_s", "source_lag_down_s"),
            ("consumer_lag_degraded", "consumer_lag_down"),
            ("stage_lag_degraded_s", "stage_lag_down_s"),
            ("landing_degraded_s", "landing_down_s"),
            ("dead_letters_degraded_per_min", "dead_letters_down_per_min"),
        ):
            if getattr(updated, low) > getattr(updated, high):
                raise ThresholdError(
                    f"threshold {low}={getattr(updated, low):g} is above "
                    f"{high}={getattr(updated, high):g}"
                )
        return updated
