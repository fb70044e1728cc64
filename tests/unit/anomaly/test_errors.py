"""The stage's errors: one root, never ValueError, fields a caller can act on."""

from __future__ import annotations

import inspect

import pytest

from streamhub.anomaly import errors
from streamhub.anomaly.detector import TrafficDetector
from streamhub.core.clock import ManualClock
from streamhub.errors import StreamhubError


def test_every_error_derives_from_the_stage_root_and_not_from_value_error() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert errors.AnomalyError in classes and len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.AnomalyError) and issubclass(cls, StreamhubError)
        assert not issubclass(cls, ValueError), cls


def test_errors_carry_what_they_are_about() -> None:
    detector = TrafficDetector(ManualClock())
    with pytest.raises(errors.InvalidRecordError) as raised:
        detector.on_heartbeat({"connector": "h01-his", "institution_id": "h01", "system": "his"})
    assert (raised.value.connector, raised.value.field) == ("h01-his", "state")
    unknown = errors.UnknownAnomalyError("a-1", "7d")
    assert unknown.anomaly_id == "a-1" and "streamhub anomaly show --open" in str(unknown)
    busy = errors.GroupOffsetsError("streamhub-anomaly", RuntimeError("rebalancing"))
    assert busy.group == "streamhub-anomaly" and "Only one may run per group" in str(busy)
