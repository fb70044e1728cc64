from __future__ import annotations

import pytest
from pydantic import ValidationError

from streamhub.health.errors import ThresholdError
from streamhub.health.thresholds import Thresholds


def test_defaults_are_what_an_operator_expects() -> None:
    limits = Thresholds()
    assert (limits.heartbeat_degraded_s, limits.heartbeat_down_s) == (30.0, 120.0)
    assert limits.horizon_s == 900.0


def test_overrides_accept_dashes_and_numbers() -> None:
    limits = Thresholds().with_overrides(["heartbeat-down-s=60", "recent_s=120"])
    assert limits.heartbeat_down_s == 60.0 and limits.recent_s == 120.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("heartbeat_down", "expected name=value with name one of"),
        ("nope=3", "expected name=value with name one of"),
        ("recent_s=soon", "threshold recent_s: 'soon' is not a number"),
        ("recent_s=-1", "threshold recent_s: -1.0 is negative"),
        ("heartbeat_degraded_s=500", "heartbeat_degraded_s=500 is above heartbeat_down_s=120"),
    ],
)
def test_bad_overrides_say_what_is_wrong(override: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        Thresholds().with_overrides([override])


def test_every_limit_is_documented_and_validated() -> None:
    schema = Thresholds.model_json_schema()
    assert all(field.get("description") for field in schema["properties"].values())
    assert schema["properties"]["heartbeat_down_s"]["default"] == 120.0
    with pytest.raises(ValidationError, match="is above heartbeat_down_s"):
        Thresholds(heartbeat_degraded_s=500)
    with pytest.raises(ValidationError, match="recent_s"):
        Thresholds(recent_s=-1)
