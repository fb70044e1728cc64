"""The compiled row decoder gives pymysqlreplication's values, on recorded MariaDB events.

``tests/data/mysql_row_decode/events.json`` holds the binlog packets of
``tests/integration/capture/test_mysql_row_decode.write_changes`` (every covered column type,
NULLs, extremes, zero dates, GBK in latin1, undecodable bytes; inserts, updates, deletes),
recorded from the stack's MariaDB 10.11 by that module's ``record``. They are replayed through
the library's own packet parser, and each rows event decoded both ways (``row_decode_check``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymysql.protocol import MysqlPacket
from pymysqlreplication.packet import BinLogPacketWrapper
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from streamhub.capture.mysql import row_decode

from .row_decode_check import Checker, connector

RECORDED = Path(__file__).parents[3] / "data" / "mysql_row_decode" / "events.json"
CP1252_HOSTILE = b"".join(bytes([b, 0x90]) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
_EVENTS = frozenset({TableMapEvent, WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent})


class _Control:
    """What the library asks of its control connection while parsing these events."""

    charset = "utf8mb4"

    def _get_dbms(self) -> str:
        return "mariadb"


def replay() -> Iterator[Any]:
    """The recorded events, parsed by the library as its stream reader would."""
    document = json.loads(RECORDED.read_text())
    table_map: dict[int, Any] = {}
    for packet in document["packets"]:
        wrapper = BinLogPacketWrapper(
            MysqlPacket(base64.b64decode(packet), "utf8"),
            table_map,
            _Control(),
            (10, 11, 0),
            document["checksum"],
            _EVENTS,
            None,
            None,
            None,
            None,
            False,  # freeze_schema
            False,  # ignore_decode_errors
            False,  # verify_checksum
            True,  # optional_meta_data
            False,  # enable_logging
        )
        event = wrapper.event
        if isinstance(event, TableMapEvent):
            table_map[event.table_id] = event.get_table()
        yield event


def recorded_checker() -> Checker:
    document = json.loads(RECORDED.read_text())
    return Checker(connector(document["database"], [document["table"]]))


def run_checker() -> tuple[Checker, list[str]]:
    checker = recorded_checker()
    found: list[str] = []
    for event in replay():
        if isinstance(event, TableMapEvent):
            checker.table_map(event)
        else:
            found += checker.differences(event)
    return checker, found


def test_every_recorded_row_decodes_to_the_library_values_and_envelope_bytes() -> None:
    checker, found = run_checker()
    assert found == []
    assert (checker.events, checker.rows) == (8, 10)


def test_the_recording_holds_what_the_decoder_must_get_right() -> None:
    """The values the equivalence stands on: GBK in latin1, undecodable bytes reported per
    column, zero dates, NULLs, a negative fractional TIME, the largest BIGINT UNSIGNED."""
    checker = recorded_checker()
    rows = []
    for event in replay():
        if isinstance(event, TableMapEvent):
            checker.table_map(event)
            continue
        table = checker.translator._by_id[event.table_id]
        assert table.decoder is not None
        rows += table.decoder.decode(event)
    _, _, full, bad_full = rows[0]
    _, _, other, bad_other = rows[1]
    _, _, empty, _ = rows[2]
    assert full is not None and other is not None and empty is not None
    assert full["C4"] == "病人" and full["VC"] == CP1252_HOSTILE.decode("gbk")
    assert full["D2"] == Decimal("123456789012345678.123456789012")
    assert full["TM3"] == "-00:00:01.500000" and full["BIU"] == Decimal(2**64 - 1)
    assert bad_full == []
    assert [name for name, _ in bad_other] == ["C4", "VC", "TX", "MTX"]
    assert other["C4"] is None and other["DT"] is None and other["DT0"] is None
    assert [name for name, value in empty.items() if value is not None] == ["ID"]


def test_rows_of_a_table_without_decoder_go_through_the_library_and_are_counted() -> None:
    checker = recorded_checker()
    counted = (
        "streamhub_capture_binlog_library_rows_total",
        {"table": f"{checker.config.connection.database}.ALLTYPES", "reason": "test"},
    )
    before = REGISTRY.get_sample_value(*counted) or 0.0
    rows = []
    for event in replay():
        if isinstance(event, TableMapEvent):
            checker.table_map(event)
            continue
        table = checker.translator._by_id[event.table_id]
        without = dataclasses.replace(table, decoder=None, no_decoder="test")
        rows += checker.translator._decoded(without, event)
    assert len(rows) == 10
    assert REGISTRY.get_sample_value(*counted) == before + 10


def _normalised(read: Any) -> Any:
    def drifted(buf: bytes, pos: int) -> tuple[object, int]:
        value, end = read(buf, pos)
        return value.normalize(), end

    return drifted


@pytest.mark.parametrize(
    ("where", "drift"),
    [
        ("_fsp", lambda real: lambda raw, fsp: real(raw, fsp) // 10 * 10),  # a digit lost
        ("_date", lambda real: lambda buf, pos: (None, real(buf, pos)[1])),
        ("_text1", lambda real: lambda codec: real("latin-1")),  # GBK read as latin-1
        ("_newdecimal", lambda real: lambda p, s: _normalised(real(p, s))),  # "0.00" → "0"
    ],
)
def test_the_check_fails_on_injected_drift(
    monkeypatch: pytest.MonkeyPatch, where: str, drift: Any
) -> None:
    monkeypatch.setattr(row_decode, where, drift(getattr(row_decode, where)))
    assert run_checker()[1] != []


def _library_decimal(data: bytes, precision: int, scale: int) -> object:
    """The library's own DECIMAL reader on ``data`` (its packet wrapper around the bytes)."""
    wrapper = object.__new__(BinLogPacketWrapper)
    wrapper.packet = MysqlPacket(data, "utf8")
    wrapper.read_bytes = 0
    wrapper._BinLogPacketWrapper__data_buffer = b""
    event = object.__new__(WriteRowsEvent)
    event.packet = wrapper
    column = SimpleNamespace(precision=precision, decimals=scale)
    return event._RowsEvent__read_new_decimal(column)


def _packed(digits: str, scale: int, precision: int, negative: bool) -> bytes:
    """MySQL's packed DECIMAL of ``digits`` (precision digits, the last ``scale`` after the
    point): digit groups of 9 in 4 bytes, partial groups in 1-4, sign bit, inverted if < 0."""
    integral, fraction = digits[: precision - scale], digits[precision - scale :]
    sizes = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
    head = len(integral) % 9
    groups = ([integral[:head]] if head else []) + [
        integral[i : i + 9] for i in range(head, len(integral), 9)
    ]
    groups += [fraction[i : i + 9] for i in range(0, len(fraction), 9)]
    raw = b"".join(int(g).to_bytes(sizes[len(g)], "big") for g in groups)
    packed = bytearray(raw)
    packed[0] ^= 0x80
    if negative:
        packed = bytearray(b ^ 0xFF for b in packed)
    return bytes(packed)


def test_decimals_of_every_precision_and_scale_decode_as_the_library_does() -> None:
    rng = random.Random(23)
    for _ in range(1000):
        precision = rng.randint(1, 65)
        scale = rng.randint(0, min(precision, 30))
        digits = "".join(rng.choice("0123456789") for _ in range(precision))
        if rng.random() < 0.2:
            digits = "0" * precision
        data = _packed(digits, scale, precision, rng.random() < 0.5)
        ours, end = row_decode._newdecimal(precision, scale)(data, 0)
        theirs = _library_decimal(data + b"\0" * 8, precision, scale)
        assert (repr(ours), end) == (repr(theirs), len(data)), (precision, scale, digits)
