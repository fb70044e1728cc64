"""The detector's settings: validated, documented models (their JSON Schema joins the chart's)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from streamhub.anomaly import BaselineConfig, DetectorConfig, SeasonalCalendar
from streamhub.anomaly.judge import JudgeConfig


def test_defaults_are_kept() -> None:
    config = DetectorConfig()
    assert (config.agent_grace_ms, config.settle_ms, config.stale_after_ms) == (
        5_000,
        10_000,
        60_000,
    )
    assert config.baseline.min_history == 5 and config.baseline.level_clamp == (0.5, 2.0)
    assert config.baseline.seasonal == SeasonalCalendar()
    assert config.judge.silence_evidence == 12.0 and config.judge.drop_k == 2


def test_every_field_is_documented_in_the_schema() -> None:
    schema = DetectorConfig.model_json_schema()
    models = [schema, *schema["$defs"].values()]
    assert {m["title"] for m in models} == {
        "DetectorConfig",
        "BaselineConfig",
        "JudgeConfig",
        "SeasonalCalendar",
    }
    undocumented = [
        (m["title"], name)
        for m in models
        for name, field in m["properties"].items()
        if not field.get("description")
    ]
    assert undocumented == []
    assert schema["$defs"]["JudgeConfig"]["properties"]["drop_ratio"]["exclusiveMaximum"] == 1


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: BaselineConfig(min_history=0), "min_history"),
        (lambda: BaselineConfig(level_clamp=(2.0, 0.5)), "level_clamp"),
        (lambda: JudgeConfig(drop_k=4, drop_n=3), "drop_k=4 exceeds drop_n=3"),
        (lambda: SeasonalCalendar(compression=0), "compression"),
        (lambda: DetectorConfig(stale_after_ms=0), "stale_after_ms"),
        (lambda: DetectorConfig(settle=5), "settle"),
    ],
)
def test_out_of_range_or_unknown_settings_are_refused(
    build: Callable[[], object], words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        build()


def test_configs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DetectorConfig().settle_ms = 1  # type: ignore[misc]
