"""Debezium change events become the agent's change envelopes, with the same meaning.

Each event goes through the normalizer with a registry (confluent-kafka's mock client) and
comes out as the agent's Avro envelope: decoded again, it passes the standardizer's own
envelope check and carries the institution, table, key, op, commit time and a version that
grows with the source log; its message key is the agent's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.capture.envelope import message_key
from streamhub.capture.model import RowEvent
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.debezium.events import EventReader, split_message
from streamhub.debezium.normalize import Normalizer, topic_pattern
from streamhub.debezium.normalize_errors import PositionError
from streamhub.debezium.positions import (
    mysql_position,
    oracle_position,
    postgres_position,
    sqlserver_position,
)
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.envelope_check import check_envelope

from ..capture.task_fakes import connector
from .samples import (
    MYSQL_SOURCE,
    ORACLE_SOURCE,
    PATIENT_KEY,
    PATIENT_ROW,
    POSTGRES_SOURCE,
    ROW,
    SQLSERVER_SOURCE,
    key_message,
    value_message,
)


@dataclass
class FakeMessage:
    _key: bytes | None
    _value: bytes | None
    _topic: str = "dbz.xm-his.public.patient"
    _offset: int = 5

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


KEY = key_message(PATIENT_KEY, {"id": 7})


def normalizer() -> tuple[Normalizer, AvroSerde]:
    registry: SchemaRegistryClient = MockSchemaRegistryClient({"url": "mock://dbz"})
    serde = AvroSerde(registry)
    settings = Settings()
    letters = serde.register(
        "dlq.capture-value",
        load_schema(settings.project_dir / "avro_schemas", "ops/dead_letter.avsc"),
    )
    return Normalizer(connector(), serde, letters, ManualClock(1_800_000_000.0)), serde


def run(messages: list[FakeMessage]) -> list[tuple[str, bytes | None, dict[str, Any]]]:
    norm, serde = normalizer()
    out = norm.handle(messages)  # type: ignore[arg-type]  # duck-typed confluent Message
    return [(o.topic, o.key, serde.decode(o.value).value) for o in out]


def pg(
    op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, **source: Any
) -> bytes:
    return value_message(
        PATIENT_ROW, op=op, before=before, after=after, source={**POSTGRES_SOURCE, **source}
    )


def test_an_insert_becomes_the_agents_envelope_on_cdc_raw() -> None:
    [(topic, key, value)] = run([FakeMessage(KEY, pg("c", None, ROW))])
    assert topic == "cdc.raw.his"
    check_envelope(value, "test")  # the standardizer's own check of the shape
    assert value["op"] == "c"
    assert value["before"] is None
    assert value["after"] == {
        "id": 7,
        "name": "张三",
        "fee": "12.30",  # the agent writes decimals as their digits
        "admitted": datetime(2026, 3, 2, 8, 30, 0, 123_000),
        "born": datetime(2026, 3, 2).date(),
    }
    source = value["source"]
    assert source["institution_id"] == connector().institution_id
    assert (source["system"], source["connector"]) == ("his", "xm-his")
    assert (source["database"], source["schema"], source["table"]) == ("his", "public", "patient")
    assert source["commit_ts_ms"] == 1_772_440_200_000
    assert source["position"] == "0/16E9058"
    assert source["position_seq"] == 24_023_128 << 20
    assert source["txid"] == "555"
    assert source["snapshot"] == "false"
    assert value["ts_ms"] == 1_800_000_000_000
    # the message key is the agent's: institution + table + primary key
    info = EventReader().read(KEY, pg("c", None, ROW)).event
    assert info is not None
    assert key == message_key(connector(), info)
    assert json.loads(key or b"") == {
        "institution_id": connector().institution_id,
        "key": {"id": 7},
        "table": "his.public.patient",
    }


def test_update_delete_and_snapshot_read_keep_their_meaning() -> None:
    changed = {**ROW, "fee": "AA=="}
    delete_before = {"id": 7, "name": None, "fee": None, "admitted": None, "born": None}
    outs = run(
        [
            FakeMessage(KEY, pg("r", None, ROW, snapshot="first", lsn=100)),
            FakeMessage(KEY, pg("r", None, ROW, snapshot="last", lsn=100)),
            FakeMessage(KEY, pg("u", ROW, changed, lsn=200)),
            FakeMessage(KEY, pg("d", delete_before, None, lsn=300)),
            FakeMessage(KEY, None),  # the tombstone after the delete
        ]
    )
    assert [v["op"] for _, _, v in outs] == ["r", "r", "u", "d"]
    assert [v["source"]["snapshot"] for _, _, v in outs] == ["true", "last", "false", "false"]
    assert outs[2][2]["after"]["fee"] == "0.00"
    assert outs[3][2]["after"] is None and outs[3][2]["before"]["id"] == 7
    keys = {k for _, k, _ in outs}
    assert len(keys) == 1  # every change of the row on one key, so one partition
    seqs = [v["source"]["position_seq"] for _, _, v in outs]
    assert seqs[2] > seqs[1] and seqs[3] > seqs[2]
    for _, _, value in outs:
        check_envelope(value, "test")


def test_unsupported_and_broken_events_go_to_the_capture_dead_letter_topic() -> None:
    truncate = pg("t", None, None)
    bad_value = pg("c", None, {**ROW, "fee": "not base64!"})
    no_position = pg("c", None, ROW, lsn=None)
    outs = run(
        [
            FakeMessage(KEY, truncate, _offset=1),
            FakeMessage(KEY, bad_value, _offset=2),
            FakeMessage(KEY, no_position, _offset=3),
            FakeMessage(KEY, b"{not json", _offset=4),
            FakeMessage(KEY, pg("c", None, ROW), _offset=5),  # and the next event goes on
        ]
    )
    topics = [t for t, _, _ in outs]
    assert topics == ["dlq.capture"] * 4 + ["cdc.raw.his"]
    letters = [v for _, _, v in outs[:4]]
    assert [letter["original_offset"] for letter in letters] == [1, 2, 3, 4]
    assert letters[0]["error_type"] == "DebeziumUnsupportedEvent" and "'t'" in letters[0]["reason"]
    assert letters[1]["error_type"] == "DebeziumUndecodableValue"
    assert "column fee" in letters[1]["reason"] and "not base64!" not in letters[1]["reason"]
    assert letters[2]["error_type"] == "DebeziumPositionError"
    assert "source.lsn" in letters[2]["reason"]
    assert letters[1]["original_value"] == bad_value  # the original bytes are kept
    assert all(letter["institution_id"] == connector().institution_id for letter in letters)
    assert all(letter["stage"] == "capture" for letter in letters)


def test_a_table_without_key_is_refused() -> None:
    [(topic, _, letter)] = run([FakeMessage(None, pg("c", None, ROW))])
    assert topic == "dlq.capture" and "no key" in letter["reason"]


def test_a_new_column_registers_a_new_layout_and_both_decode() -> None:
    wider = [*PATIENT_ROW, {"type": "string", "optional": True, "field": "phone"}]
    second = value_message(
        wider, op="c", before=None, after={**ROW, "id": 8, "phone": "138"}, source=POSTGRES_SOURCE
    )
    outs = run(
        [
            FakeMessage(KEY, pg("c", None, ROW)),
            FakeMessage(key_message(PATIENT_KEY, {"id": 8}), second),
        ]
    )
    assert [v["after"].get("phone") for _, _, v in outs] == [None, "138"]


# --- positions: a version that grows with the log, per connector ---------------------------


def test_postgres_version_follows_the_lsn() -> None:
    a = postgres_position({"lsn": 0x16B3748}, {})
    b = postgres_position({"lsn": 0x16B3749}, {})
    assert a.text == "0/16B3748" and a.seq < b.seq


def test_mysql_version_follows_file_position_and_row() -> None:
    def seq(file: str, pos: int, row: int) -> int:
        return mysql_position({"file": file, "pos": pos, "row": row}, {}).seq

    assert seq("mysql-bin.000003", 154, 0) < seq("mysql-bin.000003", 154, 1)
    assert seq("mysql-bin.000003", 154, 1) < seq("mysql-bin.000003", 900, 0)
    assert seq("mysql-bin.000003", 2**32 - 1, 4095) < seq("mysql-bin.000004", 4, 0)
    gtid = mysql_position({**MYSQL_SOURCE, "gtid": "0-1-42"}, {})
    assert gtid.text == "0-1-42" and gtid.txid == "0-1-42"
    plain = mysql_position(MYSQL_SOURCE, {})
    assert plain.text == "mysql-bin.000003:154:0" and plain.txid is None
    with pytest.raises(PositionError):
        mysql_position({"file": "nofile", "pos": 1, "row": 0}, {})


def test_oracle_version_follows_the_scn_then_the_order_in_the_transaction() -> None:
    first = oracle_position(ORACLE_SOURCE, {"transaction": {"total_order": 1}})
    second = oracle_position(ORACLE_SOURCE, {"transaction": {"total_order": 2}})
    later = oracle_position({**ORACLE_SOURCE, "scn": "2122186"}, {})
    assert first.seq < second.seq < later.seq
    assert first.text == "2122185" and first.txid == "02000a0037030000"
    with pytest.raises(PositionError, match="2\\*\\*48"):
        oracle_position({**ORACLE_SOURCE, "scn": str(2**48)}, {})


def test_sqlserver_version_follows_the_change_lsn() -> None:
    a = sqlserver_position(SQLSERVER_SOURCE, {})
    b = sqlserver_position({**SQLSERVER_SOURCE, "change_lsn": "00000027:00000758:0004"}, {})
    c = sqlserver_position({**SQLSERVER_SOURCE, "change_lsn": "00000027:00000759:0000"}, {})
    d = sqlserver_position({**SQLSERVER_SOURCE, "change_lsn": "00000028:00000001:0000"}, {})
    assert a.seq < b.seq < c.seq < d.seq
    assert a.text == "00000027:00000758:0003" and a.txid == "00000027:00000758:0005"
    snapshot = sqlserver_position({**SQLSERVER_SOURCE, "change_lsn": None}, {})
    assert snapshot.text == "00000027:00000758:0005"


@pytest.mark.parametrize(
    ("source", "table", "schema"),
    [
        (MYSQL_SOURCE, "patient", None),
        (ORACLE_SOURCE, "PATIENT", "EMR"),
        (SQLSERVER_SOURCE, "patient", "dbo"),
    ],
)
def test_each_connectors_events_name_their_table(
    source: dict[str, Any], table: str, schema: str | None
) -> None:
    event = (
        EventReader()
        .read(KEY, value_message(PATIENT_ROW, op="c", before=None, after=ROW, source=source))
        .event
    )
    assert isinstance(event, RowEvent)
    assert (event.table.database, event.table.schema, event.table.name) == (
        source["db"],
        schema,
        table,
    )
    assert event.table.key_columns == ("id",)
    assert event.after is not None and event.after["fee"] == Decimal("12.30")


def test_the_subscription_matches_only_the_connectors_change_topics() -> None:
    import re

    pattern = re.compile(topic_pattern("dbz.xm-his"))
    assert pattern.match("dbz.xm-his.public.patient")
    assert not pattern.match("dbz.xm-his2.public.patient")
    assert not pattern.match("__debezium-heartbeat.dbz.xm-his")


def test_connects_layout_and_any_other_json_layout_read_the_same() -> None:
    compact = pg("u", ROW, {**ROW, "fee": "AA=="})
    assert split_message(compact) is not None  # Connect's layout: schema parsed once per table
    spaced = json.dumps(json.loads(compact)).encode()  # any other layout: parsed whole
    assert split_message(spaced) is None
    reader = EventReader()
    fast, slow = reader.read(KEY, compact).event, reader.read(KEY, spaced).event
    assert fast is not None and slow is not None
    assert (fast.op, fast.before, fast.after, fast.position_seq) == (
        slow.op,
        slow.before,
        slow.after,
        slow.position_seq,
    )
    assert fast.table == slow.table


def test_a_payload_key_inside_the_schema_does_not_mislead_the_split() -> None:
    tricky = [{**PATIENT_ROW[0], "parameters": {"a": "1", "payload": "x"}}, *PATIENT_ROW[1:]]
    value = value_message(tricky, op="c", before=None, after=ROW, source=POSTGRES_SOURCE)
    event = EventReader().read(KEY, value).event
    assert event is not None and event.after is not None and event.after["id"] == 7
