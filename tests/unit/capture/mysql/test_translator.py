"""The binlog translator's held-back TransactionEnds run on the injected clock."""

from __future__ import annotations

from pymysqlreplication.event import HeartbeatLogEvent, MariadbGtidEvent, XidEvent

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.model import TransactionEnd
from streamhub.capture.mysql.translator import BinlogTranslator
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
