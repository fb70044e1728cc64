"""Capture's errors derive from CaptureError (never ValueError) and carry what a caller needs."""

from __future__ import annotations

import pytest

from streamhub.capture.delivery import AckTracker
from streamhub.capture.errors import (
    CaptureError,
    DeliveryFailedError,
    InvalidKeyError,
    PositionStoreError,
)
from streamhub.capture.model import ColumnInfo, TableInfo
from streamhub.capture.resnapshot import coerce_key
from streamhub.errors import StreamhubError

T = TableInfo("db", "public", "t", (ColumnInfo("id", "int8", "long", key=True),))


@pytest.mark.parametrize("error", [InvalidKeyError, DeliveryFailedError, PositionStoreError])
def test_capture_errors_are_capture_errors_not_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, CaptureError) and issubclass(error, StreamhubError)
    assert not issubclass(error, ValueError)


def test_an_invalid_key_names_the_column_that_does_not_fit() -> None:
    with pytest.raises(InvalidKeyError) as caught:
        coerce_key(T, {"id": "five"})
    assert caught.value.column == "id"
    with pytest.raises(InvalidKeyError) as caught:
        coerce_key(T, {"ID": 5})
    assert caught.value.column is None  # the key's shape, not one column, is wrong


def test_a_failed_delivery_carries_kafkas_error_and_what_happens_next() -> None:
    tracker = AckTracker()
    tracker.acknowledged(tracker.next_number(), "Broker: Message size too large")
    with pytest.raises(DeliveryFailedError) as caught:
        tracker.safe()
    assert caught.value.kafka_error == "Broker: Message size too large"
    assert "restarts from its last stored position" in str(caught.value)
