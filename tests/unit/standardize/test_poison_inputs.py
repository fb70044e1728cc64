"""Poison inputs on the standardizer's mapping path: dead letters, not crash loops."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.core.dead_letter import Placement
from streamhub.core.topic_names import DLQ_STANDARDIZE as DLQ_TOPIC
from streamhub.serde.errors import RegistryUnavailableError
from streamhub.standardize.envelope_check import check_envelope
from streamhub.standardize.errors import EnvelopeShapeError, UnexpectedRecordError
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics
from streamhub.standardize.pipeline import Standardizer

GOOD: dict[str, Any] = {
    "before": None,
    "after": {"id": "1", "name": "张三"},
    "op": "c",
    "ts_ms": 1_700_000_000_000,
    "source": {
        "institution_id": "91350200MA2XXXXXX1",
        "system": "his",
        "connector": "xm-his",
        "engine": "postgresql",
        "database": "his",
        "schema": "public",
        "table": "patient",
        "position": "0/16B3748",
        "position_seq": 42,
        "txid": None,
        "commit_ts_ms": 1_700_000_000_000,
        "snapshot": "false",
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = envelope
    for p in parents:
        target = target[p]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return envelope


_DROP = object()


def test_a_change_envelope_passes() -> None:
    assert check_envelope(copy.deepcopy(GOOD), "t[0]@1") == GOOD


def test_typed_row_images_pass() -> None:
    """Per-table schemas decode to ints, times, dates, bytes, floats and booleans, not text."""
    typed = _with(
        "after",
        {
            "id": 7,
            "reg_time": dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC),
            "birth": dt.date(1980, 1, 1),
            "raw": b"\xb0\xa1",
            "fee": "12.50",
            "weight": 61.5,
            "active": True,
            "note": None,
        },
    )
    assert check_envelope(copy.deepcopy(typed), "t[0]@1") == typed


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("source", "91350200MA2XXXXXX1|his", "source is str"),
        ("op", _DROP, "no op"),
        ("source", _DROP, "no source"),
        ("after", ["1", "张三"], "after is list"),
        ("source.position_seq", "42", "source.position_seq is str"),
        ("source.commit_ts_ms", True, "source.commit_ts_ms is bool"),
        ("source.table", None, "source.table is null"),
        ("source.connector", _DROP, "no source.connector"),
        ("ts_ms", 1.5, "ts_ms is float"),
        ("op", 3, "op is int"),
        ("op", "x", "op is not one of"),
        ("after", None, "op c envelope has no row image"),
        ("after", {"id": [1]}, "after holds a list value"),
        ("before", {"id": {"x": 1}}, "before holds a dict value"),
    ],
)
def test_a_wrong_shape_is_named_without_its_values(path: str, value: Any, named: str) -> None:
    with pytest.raises(EnvelopeShapeError) as caught:
        check_envelope(_with(path, value), "cdc.raw.his[0]@7")
    message = str(caught.value)
    assert named in message
    assert message.startswith("cdc.raw.his[0]@7")
    assert "张三" not in message and "91350200MA2XXXXXX1" not in message


def test_a_message_that_is_no_record_is_refused() -> None:
    with pytest.raises(EnvelopeShapeError, match="the message is str"):
        check_envelope("hello", "t[0]@1")


# --- the per-record catch in Standardizer.process -------------------------------------------


class _Serde:
    """Encodes dead letters as JSON so the test can read them; decodes nothing."""

    def encode(self, writer: object, record: dict[str, Any]) -> bytes:
        return json.dumps({k: v for k, v in record.items() if not isinstance(v, bytes)}).encode()

    def decode(self, value: bytes, where: object) -> Any:
        raise RegistryUnavailableError("not used")


class _Failing(Standardizer):
    """A standardizer whose mapping step fails as a bug would, on chosen keys."""

    def __init__(self, failures: dict[bytes, Exception]) -> None:  # no registry needed
        self._serde = _Serde()  # type: ignore[assignment]
        self._dead = object()  # type: ignore[assignment]
        self._outcomes = Counter()
        self._clock = ManualClock(1_700_000_000.0)
        self._metrics = StandardizeMetrics.create(CollectorRegistry())
        self._failures = failures

    def _standardize(self, message: RawMessage) -> list[OutMessage]:
        if message.key in self._failures:
            raise self._failures[message.key]
        return [OutMessage("std.patient", message.key, b"ok")]

    def _placement(self, message: RawMessage) -> Placement:
        return Placement()


def _raw(offset: int, key: bytes) -> RawMessage:
    return RawMessage("cdc.raw.his", 0, offset, key, b"\x00\x00\x00\x00\x01raw", 1)


def test_an_unexpected_error_on_one_record_dead_letters_it_and_the_batch_goes_on() -> None:
    key = json.dumps({"institution_id": "X", "table": "public.patient", "key": {"id": 2}}).encode()
    bug = TypeError("unsupported operand: '110101199001011234' + 1")
    standardizer = _Failing({key: bug})
    out = standardizer.process([_raw(1, b"a"), _raw(2, key), _raw(3, b"c")])
    assert [m.topic for m in out] == ["std.patient", DLQ_TOPIC, "std.patient"]
    letter = json.loads(out[1].value)
    assert letter["error_type"] == UnexpectedRecordError.__name__
    assert "TypeError" in letter["reason"] and "cdc.raw.his[0]@2" in letter["reason"]
    assert "_standardize" in letter["reason"]  # where it failed, for the bug report
    assert "110101199001011234" not in letter["reason"]  # the exception's text may quote values
    assert letter["original_offset"] == 2


@pytest.mark.parametrize(
    "infrastructure",
    [RegistryUnavailableError("registry down"), ConnectionRefusedError("kafka down")],
)
def test_infrastructure_errors_still_fail_the_batch(infrastructure: Exception) -> None:
    standardizer = _Failing({b"b": infrastructure})
    with pytest.raises(type(infrastructure)):
        standardizer.process([_raw(1, b"a"), _raw(2, b"b")])
