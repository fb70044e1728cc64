"""The standardizer (real registry) on the simulator's rows: no source key, hospital number or
ID number leaves in clear, links inside an institution still join, and a person-key rotation
keeps cross-institution linkage and row identity."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import envelope, envelope_schema, message_key, subject
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.records import Change
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.standardize.messages import RawMessage
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import IdentityTokens, load_ring, rotate

from .test_standardizer import GOOD_ID, _connector, _event, _message, _row, _table

NOW = 1_772_420_100.0
MARK = "#ID{}#"  # every id value gets this shape: a clear id is then unmistakable in output


def _standardizer(
    settings: Settings, connectors: Path, pseudonymizer: Pseudonymizer
) -> Standardizer:
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    return Standardizer(
        serde,
        connectors,
        load_profiles(settings.profiles_path),
        pseudonymizer,
        settings.project_dir,
        clock=ManualClock(NOW),
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("gbk")
    return str(value)


def _simulated_rows(
    settings: Settings, tmp_path: Path, unique: Any
) -> tuple[list[tuple[ConnectorConfig, TableInfo, dict[str, Any]]], set[str]]:
    """Inserts of two simulated pinyin_gbk hospitals as their connectors would read them, every
    id column (keys and references) rewritten as #ID<value>#, consistently, so joins hold."""
    options = SimulationOptions(
        start=datetime(2026, 3, 2, 8, 30),
        seed=11,
        hospitals=2,
        clinics=0,
        dialects=("pinyin_gbk",),
        rate=50.0,
        duration_s=5,
        compression=360.0,
        db_prefix="tok",
        bad_fraction=0.0,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    dialect = simulation.dialects["pinyin_gbk"]
    id_fields = {
        "patient_id",
        "encounter_id",
        "visit_no",
        "diagnosis_id",
        "order_id",
        "order_no",
        "charge_id",
        "settlement_id",
        "refund_of",
        "report_id",
        "request_no",
        "result_id",
        "exam_id",
    }
    checked = {"id_number", "accession_no", "study_uid"}  # format-checked: kept valid, scanned
    out: list[tuple[ConnectorConfig, TableInfo, dict[str, Any]]] = []
    id_numbers: set[str] = set()
    for workload in simulation.workloads:
        inst = workload.institution
        config = _connector(tmp_path, unique(f"tok-{inst.key}").replace("_", "-"))
        config = config.model_copy(update={"institution_id": inst.credit_code})
        (tmp_path / f"{config.name}.yaml").write_text(
            (tmp_path / f"{config.name}.yaml")
            .read_text()
            .replace("123502001549897397", inst.credit_code),
            encoding="utf-8",
        )
        workload.seed_state(6, 2)
        changes: list[Change] = list(workload.take_seeded())
        while workload.next_time() < datetime(2026, 3, 2, 9, 0):
            changes.extend(workload.step())
        for change in changes:
            if change.op != "c":
                continue
            renderer = simulation.renderers[(inst.key, change.entity)]
            spec = dialect.tables[change.entity]
            row = {
                c: _text(v)
                for c, v in renderer.render(change.values, insert_key=change.key).items()
            }
            for column, value in row.items():
                field = spec.columns[column].field if column in spec.columns else None
                if value is not None and (field in id_fields or column == renderer.key_column):
                    row[column] = MARK.format(value)
                elif field in checked and value:
                    id_numbers.add(value)
            columns = tuple(
                ColumnInfo(c, "varchar(64)", "string", key=c == renderer.key_column) for c in row
            )
            out.append((config, TableInfo(f"tok_{inst.key}_his", None, spec.name, columns), row))
    return out, id_numbers


def test_no_clear_id_leaves_and_links_still_join(
    settings: Settings, tmp_path: Path, unique: Any
) -> None:
    rows, id_numbers = _simulated_rows(settings, tmp_path, unique)
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    batch = []
    for offset, (config, table, row) in enumerate(rows):
        writer = serde.register(subject(config, table), envelope_schema(config, table))
        event = RowEvent(
            table=table,
            op="r",
            before=None,
            after=row,
            position=f"0-1-{offset}",
            position_seq=offset + 1,
            txid=None,
            commit_ts_ms=1_772_420_000_000,
        )
        value = serde.encode(writer, envelope(config, event, 1_772_420_000_000))
        batch.append(RawMessage("cdc.raw.his", 0, offset, message_key(config, event), value, 0))
    pseudonymizer = Pseudonymizer(
        b"person-key-of-the-test-0123456", IdentityTokens.from_settings(settings)
    )
    out = _standardizer(settings, tmp_path, pseudonymizer).process(batch)
    decoded = [(m.topic, serde.decode(m.value).value) for m in out]
    std = [(topic, value) for topic, value in decoded if topic.startswith("std.")]
    assert {topic for topic, _ in std} >= {
        "std.patient",
        "std.encounter",
        "std.diagnosis",
        "std.order",
        "std.charge",
    }, {t for t, _ in decoded}
    assert len(std) > 100 and not [t for t, _ in decoded if t == "dlq.standardize"]
    assert len(id_numbers) > 10
    leaks = []
    for topic, value in decoded:  # std.* and ops.quality: no clear id, key or ID number
        text = json.dumps(value, default=str, ensure_ascii=False)
        leaks += [(topic, text[:160]) for clear in ("#ID", *id_numbers) if clear in text]
    assert leaks[:3] == []

    by_entity: dict[str, list[dict[str, Any]]] = {}
    for topic, value in std:
        by_entity.setdefault(topic.removeprefix("std."), []).append(value)
    patients = {(p["institution_id"], p["patient_id"]) for p in by_entity["patient"]}
    encounters = {(e["institution_id"], e["encounter_id"]) for e in by_entity["encounter"]}
    assert all(len(pid) == 32 for _, pid in patients)
    # references are tokens of the same kind: they still find what they reference
    assert {(e["institution_id"], e["patient_id"]) for e in by_entity["encounter"]} <= patients
    assert {(d["institution_id"], d["encounter_id"]) for d in by_entity["diagnosis"]} <= encounters
    assert {(c["institution_id"], c["patient_id"]) for c in by_entity["charge"]} <= patients
    reports = {(r["institution_id"], r["report_id"]) for r in by_entity.get("lab_report", [])}
    results = {(r["institution_id"], r["report_id"]) for r in by_entity.get("lab_result", [])}
    assert results <= reports
    quality = [value for topic, value in decoded if topic == "ops.quality"]
    assert all(q["record_key"] in {v["source_key"] for _, v in std} for q in quality)


@pytest.fixture
def keyed_settings(settings: Settings, tmp_path: Path) -> Settings:
    secrets = tmp_path / "data" / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    (secrets / "pseudonym_key").write_text("person-key-before-rotation-0123\n")
    (secrets / "pseudonym_identity_key").write_text("identity-key-of-the-test-0123\n")
    return settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "pseudonym_key": None,
            "pseudonym_identity_key": None,
        }
    )


def test_after_rotation_people_link_under_the_new_key_and_old_rows_are_replaced(
    keyed_settings: Settings, tmp_path: Path, unique: Any
) -> None:
    settings = Settings.model_validate(keyed_settings.model_dump())  # secrets read from data_dir
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    connectors = tmp_path / "connectors"
    connectors.mkdir()
    one = _connector(connectors, unique("rot-a").replace("_", "-"))
    table = _table(unique("db").replace("-", "_"))

    def standardize(
        pseudonymizer: Pseudonymizer, config: ConnectorConfig, op: str, key: str, seq: int
    ) -> dict[str, Any]:
        message = _message(serde, config, _event(table, op, _row(key, GOOD_ID), seq), seq)
        out = _standardizer(settings, connectors, pseudonymizer).process([message])
        (record,) = [serde.decode(m.value).value for m in out if m.topic == "std.patient"]
        return dict(record)

    before = standardize(Pseudonymizer.from_settings(settings), one, "c", "P1", 1)
    assert before["pseudonym_key_id"] == "k1"

    new = rotate(settings)
    assert new.key_id == "k2" and load_ring(settings).active.key_id == "k2"
    restarted = Pseudonymizer.from_settings(settings)  # the standardizer after its restart
    update = standardize(restarted, one, "u", "P1", 2)
    # the same row: same record id, source key and patient id, so ClickHouse replaces it
    for field in ("record_id", "source_key", "patient_id"):
        assert update[field] == before[field], field
    assert update["source_position_seq"] > before["source_position_seq"]
    assert update["pseudonym_key_id"] == "k2" and update["person_key"] != before["person_key"]

    # the same person in another institution links to the new key's pseudonym
    other = _connector(connectors, unique("rot-b").replace("_", "-"))
    other_path = connectors / f"{other.name}.yaml"
    other_path.write_text(
        other_path.read_text().replace("123502001549897397", "12350102640241064X")
    )
    elsewhere = standardize(
        restarted, other.model_copy(update={"institution_id": "12350102640241064X"}), "c", "P77", 3
    )
    assert elsewhere["institution_id"] != update["institution_id"]
    assert elsewhere["person_key"] == update["person_key"]
    assert elsewhere["pseudonym_key_id"] == "k2"
    assert elsewhere["patient_id"] != update["patient_id"]  # hospital numbers stay local
