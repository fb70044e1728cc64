"""The binlog translator's held-back TransactionEnds run on the injected clock."""

from __future__ import annotations

import pytest
from pymysqlreplication.event import HeartbeatLogEvent, MariadbGtidEvent, XidEvent
from pymysqlreplication.row_event import WriteRowsEvent

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo, TransactionEnd
from streamhub.capture.mysql import translator as translator_module
from streamhub.capture.mysql import types
from streamhub.capture.mysql.translator import BinlogTranslator, _Table
from streamhub.codes import credit_code
from streamhub.core.clock import ManualClock

BINLOG_TS = 1_767_225_600  # the binlog's whole seconds


def config(heartbeat_s: float) -> ConnectorConfig:
    return ConnectorConfig.model_validate(
        {
            "name": "his_mariadb",
            "institution_id": credit_code.make("1", "2", "350203", "15498973"),
            "institution_name": "医院",
            "system": "his",
            "engine": "mariadb",
            "connection": {
                "host": "127.0.0.1",
                "port": 1,
                "database": "his",
                "user": "capture",
                "password_env": "HIS_PASSWORD",
            },
            "mysql": {"server_id": 4242},
            "tables": ["GY_BRXX"],
            "profile": "vendor_a",
            "heartbeat_s": heartbeat_s,
        }
    )


def gtid(seq: int) -> MariadbGtidEvent:
    event = object.__new__(MariadbGtidEvent)  # the fields a binlog packet would fill in
    event.gtid, event.gtid_seq_no, event.flags, event.timestamp = f"0-1-{seq}", seq, 0, BINLOG_TS
    return event


def xid() -> XidEvent:
    event = object.__new__(XidEvent)
    event.timestamp = BINLOG_TS
    return event


def quiet_transaction(translator: BinlogTranslator, seq: int) -> list[object]:
    """A transaction that touched no captured table: a GTID, then its commit."""
    return [*translator.translate(gtid(seq)), *translator.translate(xid())]


def test_a_quiet_commit_is_held_back_until_heartbeat_s_passes_on_the_clock() -> None:
    clock = ManualClock()
    translator = BinlogTranslator(config(heartbeat_s=5), "0-1-4", lambda _: [], clock)
    assert quiet_transaction(translator, 5) == []  # an end "went out" at start: hold this one
    clock.advance(4.9)
    assert translator.translate(object.__new__(HeartbeatLogEvent)) == []
    clock.advance(0.1)
    [end] = translator.translate(object.__new__(HeartbeatLogEvent))
    assert end == TransactionEnd("0-1-5", (5 << 20) | 0xFFFFF, BINLOG_TS * 1000)


def test_quiet_commits_within_heartbeat_s_send_only_the_latest_end() -> None:
    clock = ManualClock()
    translator = BinlogTranslator(config(heartbeat_s=2), "0-1-4", lambda _: [], clock)
    clock.advance(2)
    [first] = quiet_transaction(translator, 5)  # quiet for heartbeat_s: sent at once
    assert first.resume == "0-1-5"
    clock.advance(1)
    assert quiet_transaction(translator, 6) == []
    assert quiet_transaction(translator, 7) == []
    assert translator.idle() == []
    clock.advance(1)
    [latest] = translator.idle()
    assert latest.resume == "0-1-7"
    assert translator.idle() == []  # sent once


def test_a_transaction_skipped_for_a_shared_stream_still_closes_an_open_ddl() -> None:
    clock = ManualClock()
    translator = BinlogTranslator(config(heartbeat_s=1), "0-1-4", lambda _: [], clock)
    clock.advance(1)  # quiet for heartbeat_s: the end goes out at once
    ddl = gtid(5)
    ddl.flags = 0x01  # standalone: no COMMIT follows
    assert translator.translate(ddl) == []
    [end] = translator.skip()  # the next transaction is one this connector already has
    assert end.resume == "0-1-5"
    assert translator.skip() == []


def rows_event(first: int, count: int) -> WriteRowsEvent:
    event = object.__new__(WriteRowsEvent)
    event.table_id, event.event_size, event.timestamp, event.table = 1, 4000, BINLOG_TS, "T"
    event._RowsEvent__rows = [{"values": {"ID": i}} for i in range(first, first + count)]
    return event


def big_transaction(translator: BinlogTranslator, events: int) -> list[object]:
    plan = types.ValuePlan("ID", "int", "int")
    table = _Table(
        TableInfo("his", None, "T", (ColumnInfo("ID", "int", "int", key=True),)),
        [("ID", types.converter(plan, carried=False))],
    )
    translator._by_id[1] = table  # what the TableMapEvent would have set
    out = [*translator.translate(gtid(9))]
    for n in range(events):
        out += translator.translate(rows_event(n * 40, 40))
    return out + translator.translate(xid())


def test_a_large_transaction_has_resume_points_inside_that_resume_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translator_module, "MID_TRANSACTION_ROWS", 100)
    first = BinlogTranslator(config(heartbeat_s=5), "0-1-8", lambda _: [], ManualClock())
    events = big_transaction(first, 10)  # 400 rows: points after 120, 240, 360
    points = [e for e in events if isinstance(e, TransactionEnd) and "+" in e.resume]
    assert [p.resume for p in points] == ["0-1-8+0-1-9#120", "0-1-8+0-1-9#240", "0-1-8+0-1-9#360"]
    assert isinstance(events[-1], TransactionEnd) and events[-1].resume == "0-1-9"

    again = BinlogTranslator(config(heartbeat_s=5), points[1].resume, lambda _: [], ManualClock())
    resumed = big_transaction(again, 10)  # a restart from the second point
    ids = [e.after["ID"] for e in resumed if isinstance(e, RowEvent) and e.after]
    assert ids == list(range(240, 400))  # exactly what followed the stored point
    assert [e.resume for e in resumed if isinstance(e, TransactionEnd)] == [
        "0-1-8+0-1-9#360",
        "0-1-9",
    ]


def test_a_malformed_resume_point_is_refused() -> None:
    with pytest.raises(ValueError, match="gtid#index"):
        BinlogTranslator(config(heartbeat_s=5), "0-1-8+0-1-9", lambda _: [], ManualClock())
