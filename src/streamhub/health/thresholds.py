"""Where healthy ends: one object holding every limit, with defaults for a regional link.

Operators override single values on the command line (``--threshold name=value``), so a
lab with one-second heartbeats can call a connector down after ten seconds. The model's
JSON Schema documents every limit (``Thresholds.model_json_schema()``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streamhub.health.errors import ThresholdError

#: (degraded, down) pairs: a link is degraded before it is down
ORDERED = (
    ("heartbeat_degraded_s", "heartbeat_down_s"),
    ("source_lag_bytes_degraded", "source_lag_bytes_down"),
    ("source_lag_degraded_s", "source_lag_down_s"),
    ("consumer_lag_degraded", "consumer_lag_down"),
    ("stage_lag_degraded_s", "stage_lag_down_s"),
    ("landing_degraded_s", "landing_down_s"),
    ("dead_letters_degraded_per_min", "dead_letters_down_per_min"),
)


def _limit(default: float, description: str) -> Any:
    return Field(default, ge=0, description=description)


class Thresholds(BaseModel):
    """Every limit of the link-health evaluation; each degraded limit at most its down limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_s: float = _limit(
        900.0, "History read, seconds: older heartbeats and counts say nothing about now."
    )
    recent_s: float = _limit(
        300.0, "Window over which dead letters, capture errors and restarts are counted, s."
    )
    heartbeat_degraded_s: float = _limit(
        30.0, "Capture: heartbeat age that degrades a connector (they come every 5 s)."
    )
    heartbeat_down_s: float = _limit(120.0, "Capture: heartbeat age that makes it down.")
    source_lag_bytes_degraded: float = _limit(
        256 * 2**20, "Source: log retained for the connector (slot / binlog), bytes: degraded."
    )
    source_lag_bytes_down: float = _limit(4 * 2**30, "Source: retained log, bytes: down.")
    source_lag_degraded_s: float = _limit(
        60.0, "Source: seconds behind the source's commits: degraded."
    )
    source_lag_down_s: float = _limit(600.0, "Source: seconds behind its commits: down.")
    consumer_lag_degraded: float = _limit(
        100_000, "Channel: messages a stage's group is behind its topics: degraded."
    )
    consumer_lag_down: float = _limit(2_000_000, "Channel: messages behind: down.")
    stage_lag_degraded_s: float = _limit(
        60.0,
        "Processing and center: age of the oldest message a stage has not consumed, s: degraded.",
    )
    stage_lag_down_s: float = _limit(300.0, "Processing and center: that age, s: down.")
    landing_degraded_s: float = _limit(
        180.0,
        "Center: source changes not landed for this long (an idle institution is not "
        "late): degraded.",
    )
    landing_down_s: float = _limit(900.0, "Center: not landed for this long: down.")
    dead_letters_degraded_per_min: float = _limit(
        10.0, "Dead letters per minute of one institution at one stage: degraded."
    )
    dead_letters_down_per_min: float = _limit(1000.0, "Dead letters per minute: down.")

    @model_validator(mode="after")
    def _degraded_before_down(self) -> Thresholds:
        problem = _disorder(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    def with_overrides(self, overrides: list[str]) -> Thresholds:
        """A copy with ``name=value`` overrides applied; ThresholdError on a bad one."""
        known = set(type(self).model_fields)
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
        values = {**self.model_dump(), **changes}
        problem = _disorder(values)
        if problem is not None:
            raise ThresholdError(problem)
        try:
            return Thresholds.model_validate(values)
        except ValidationError as exc:  # pragma: no cover - checked above, field by field
            raise ThresholdError(f"thresholds {changes}: {exc}") from exc


def _disorder(limits: Thresholds | dict[str, Any]) -> str | None:
    """The first degraded limit above its down limit, said as an operator reads it."""
    values = limits.model_dump() if isinstance(limits, Thresholds) else limits
    for low, high in ORDERED:
        if values[low] > values[high]:
            return f"threshold {low}={values[low]:g} is above {high}={values[high]:g}"
    return None
