"""The batch standardizer on real capture envelopes (real registry, no Kafka needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import envelope, envelope_schema, message_key, subject
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.codes import citizen_id
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.pipeline import RELOAD_EVERY_S, Standardizer
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer

INSTITUTION = "123502001549897397"
COLUMNS = ("BRID", "XM", "XB", "CSRQ", "ZJLX", "SFZH", "LXDH", "JTDZ", "XZQH", "CJSJ", "XGSJ")
GOOD_ID = "11010519491231002X"  # female, born 1949-12-31
KEY = Pseudonymizer(b"test-key-of-at-least-16-bytes")
CLOCK = ManualClock(1_772_420_100.0)


def _connector(directory: Path, name: str) -> ConnectorConfig:
    document: dict[str, Any] = {
        "name": name,
        "institution_id": INSTITUTION,
        "system": "his",
        "engine": "mariadb",
        "profile": "pinyin_gbk",
        "encoding": "gbk",
        "connection": {
            "port": 33306,
            "database": "h_his",
            "user": "x",
            "password_env": "UNUSED_PASSWORD",
        },
        "tables": ["GY_BRXX"],
        "mysql": {"server_id": 4242},
    }
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return ConnectorConfig.model_validate(document)


def _table(database: str) -> TableInfo:
    columns = tuple(
        ColumnInfo(name, "varchar(40)", "string", key=name == "BRID") for name in COLUMNS
    )
    return TableInfo(database, None, "GY_BRXX", columns)


def _row(key: str, id_number: str) -> dict[str, object]:
    return {
        "BRID": key, "XM": "王小红", "XB": "2", "CSRQ": "19491231", "ZJLX": "01",
        "SFZH": id_number, "LXDH": "13500000001", "JTDZ": "厦门市思明区湖滨南路1号",
        "XZQH": "350203", "CJSJ": "20260302090000", "XGSJ": "20260302091500",
    }  # fmt: skip


def _message(serde: AvroSerde, config: ConnectorConfig, event: RowEvent, offset: int) -> RawMessage:
    writer = serde.register(subject(config, event.table), envelope_schema(config, event.table))
    value = serde.encode(writer, envelope(config, event, 1_772_420_000_000))
    return RawMessage("cdc.raw.his", 0, offset, message_key(config, event), value, 0)


def _event(table: TableInfo, op: str, row: dict[str, object], seq: int) -> RowEvent:
    return RowEvent(
        table=table,
        op=op,  # type: ignore[arg-type]
        before=row if op == "d" else None,
        after=None if op == "d" else row,
        position=f"0-1-{seq}",
        position_seq=seq << 20,
        txid=None,
        commit_ts_ms=1_772_420_000_000 + seq,
    )


@pytest.fixture
def standardizer(settings: Settings, tmp_path: Path, unique: Any) -> tuple[Standardizer, Path]:
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    standardizer = Standardizer(
        serde,
        tmp_path,
        load_profiles(settings.profiles_path),
        KEY,
        settings.project_dir,
        clock=CLOCK,
    )
    return standardizer, tmp_path


def _decode(serde: AvroSerde, out: list[OutMessage]) -> list[tuple[str, dict[str, Any]]]:
    return [(m.topic, serde.decode(m.value).value) for m in out]


def test_envelopes_become_std_records_quality_events_and_dead_letters(
    settings: Settings, standardizer: tuple[Standardizer, Path], unique: Any
) -> None:
    processor, directory = standardizer
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    name = unique("std").replace("_", "-")
    config = _connector(directory, name)
    table = _table(unique("db").replace("-", "_"))
    bad_id = GOOD_ID[:-1] + "1"
    assert not citizen_id.is_valid(bad_id)
    batch = [
        _message(serde, config, _event(table, "c", _row("P1", GOOD_ID), 1), 10),
        _message(serde, config, _event(table, "c", _row("P2", bad_id), 2), 11),
        _message(serde, config, _event(table, "d", _row("P1", GOOD_ID), 3), 12),
        RawMessage("cdc.raw.his", 0, 13, b"{}", b"\x00\x00\x00\x00\x07garbage", 0),
    ]
    # a connector nobody onboarded: its envelope is a dead letter naming what to add
    stranger = _connector(directory, unique("gone").replace("_", "-"))
    batch.append(_message(serde, stranger, _event(table, "c", _row("P3", GOOD_ID), 4), 14))
    (directory / f"{stranger.name}.yaml").unlink()
    CLOCK.advance(RELOAD_EVERY_S)  # the connector files are read again at most this often

    out = _decode(serde, processor.process(batch))
    topics = [topic for topic, _ in out]
    assert topics.count("std.patient") == 3
    assert topics.count("dlq.standardize") == 2

    patients = [value for topic, value in out if topic == "std.patient"]
    first, second, deleted = patients
    key_json = json.dumps({"BRID": "P1"}, separators=(",", ":"))
    assert first["record_id"] == KEY.identity.record_id(
        INSTITUTION, table.database, "GY_BRXX", key_json
    )
    # the source key leaves as a token of the identity key (it was the clear JSON)
    assert first["source_key"] == KEY.identity.source_key(
        INSTITUTION, table.database, "GY_BRXX", key_json
    )
    assert first["patient_id"] == KEY.token("patient", INSTITUTION, "P1")
    assert first["sex_code"] == "2" and first["age_band"] == "70-79"
    # the county is generalized to its prefecture; no name, phone, ID or birth-year remnant
    # leaves (docs/decisions/privacy.md)
    assert first["region_code"] == "350200" and first["id_type"] == "01"
    assert not {"name_masked", "phone_masked", "id_number_masked", "birth_year"} & set(first)
    assert first["person_key"] and first["quality_issues"] == []
    assert first["business_time"] == datetime(2026, 3, 2, 1, 15, tzinfo=UTC)  # 09:15 Shanghai
    assert first["profile"].startswith("pinyin_gbk@")
    assert second["quality_issues"] == ["id_checksum"]
    assert deleted["deleted"] and deleted["record_id"] == first["record_id"]
    assert deleted["source_position_seq"] > first["source_position_seq"]

    # the key is the person's, not the institution's: any institution derives the same one
    assert first["person_key"] == KEY.person_key("01", GOOD_ID) != second["person_key"]
    clear = ("王小红", GOOD_ID, bad_id, "13500000001", "湖滨南路", '"P1"', '"P2"', "BRID")
    for topic, value in out:
        if topic != "dlq.standardize":  # dead letters keep the original bytes (level 4)
            text = json.dumps(value, default=str, ensure_ascii=False)
            assert not any(c in text for c in clear), text

    quality = [value for topic, value in out if topic == "ops.quality"]
    assert [(q["rule"], q["record_key"], q["dimension"]) for q in quality] == [
        ("id_checksum", second["source_key"], "accuracy")
    ]
    assert bad_id not in (quality[0]["observed"] or "")

    letters = [value for topic, value in out if topic == "dlq.standardize"]
    reasons = sorted(letter["error_type"] for letter in letters)
    assert reasons == ["UnknownConnectorError", "UnreadableEnvelopeError"]
    unknown = next(x for x in letters if x["error_type"] == "UnknownConnectorError")
    assert stranger.name in unknown["reason"] and unknown["original_offset"] == 14
    assert unknown["original_value"] == batch[-1].value
