"""Simulated institutions -> capture -> Kafka -> standardize -> ClickHouse, on both dialects.

After the run drains, ClickHouse's final state must equal the standardized form of the
sources' final state row for row; the planted bad records must be accounted for; and
no personal identifier may appear in clear on std.* or in any ClickHouse column.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.standardize.model import ENTITY_MODELS
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import IdentityTokens

from ..capture.helpers import captured
from ..capture.helpers import write_connector_files as write_connectors
from .expectations import differences, expected_records
from .harness import RAW_TOPICS, Pipeline, capture_caught_up

START = datetime(2026, 3, 2, 8, 30)
THIRD_VENDOR = Path(__file__).resolve().parents[2] / "data" / "third_vendor"
# planted kind -> the quality rule that must flag it (undecodable text is capture's to report)
PLANTED_RULE = {
    "bad_id_checksum": "id_checksum",
    "missing_required": "required",
    "unknown_code": "icd_in_catalogue",
    "discharge_before_admission": "discharge_after_admission",
}


def landed_state(pipeline: Pipeline, prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(entity, record_id) -> the live row of every std table, for this run's databases."""
    # one engine start for all tables: each row as its own JSON document
    union = " UNION ALL ".join(
        f"SELECT '{entity}' AS entity, formatRowNoNewline('JSONEachRow', *) AS row "
        f"FROM std_{entity} FINAL WHERE startsWith(source_database, '{prefix}_') AND NOT deleted"
        for entity in ENTITY_MODELS
    )
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for result in pipeline.query(union):
        row = json.loads(result["row"])
        state[(result["entity"], row["record_id"])] = row
    return state


def run_pipeline(
    settings: Settings,
    tmp_path: Path,
    simulation: Simulation,
    pipeline: Pipeline,
    during_run: Any = None,
) -> list[ConnectorConfig]:
    """Set up sources, run capture + workers while the simulator writes, wait until drained."""
    simulation.setup()
    connectors = write_connectors(settings, simulation, pipeline.connectors_dir, row_count_s=60)
    pipeline.pin_groups_to_end()
    migrated = pipeline.streamhub("clickhouse", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    pipeline.start("standardize")
    pipeline.start("land")
    try:
        with captured(settings, connectors):
            runner = threading.Thread(target=simulation.run, daemon=True)
            runner.start()
            if during_run is not None:
                during_run(pipeline)
            runner.join()
            assert capture_caught_up(pipeline, connectors, 120) == []
        assert pipeline.wait_drained(240), (
            f"pipeline lag {pipeline.lag()} after 240 s\n"
            f"standardize:\n{pipeline.log_tail('standardize')}\nland:\n{pipeline.log_tail('land')}"
        )
    finally:
        pipeline.stop_all()
    return connectors


def assert_final_state_exact(
    settings: Settings, pipeline: Pipeline, connectors: list[ConnectorConfig], prefix: str
) -> dict[tuple[str, str], dict[str, Any]]:
    expected = expected_records(
        settings,
        connectors,
        load_profiles(Path(pipeline.env()["STREAMHUB_PROFILES_DIR"])),
        Pseudonymizer.from_settings(settings),
    )
    landed = landed_state(pipeline, prefix)
    assert expected, "the sources are empty"
    assert differences(expected, landed)[:10] == []
    return landed


def test_both_dialects_land_exactly_flag_bad_records_and_leak_no_identifier(
    capture_settings: Settings, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        # a seed whose 90 simulated minutes plant every bad kind: a discharge before admission
        # needs a bad draw at one of few discharges (seed 6 plants two; 5 now plants none)
        seed=6,
        hospitals=2,  # h01 english_pg on PostgreSQL, h02 pinyin_gbk on MariaDB (GBK)
        clinics=1,
        rate=250.0,
        duration_s=15.0,
        compression=360.0,
        bad_fraction=0.03,
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    pipeline = Pipeline(settings, tmp_path, _dir(tmp_path / "connectors"), uuid.uuid4().hex[:8])
    try:
        connectors = run_pipeline(settings, tmp_path, simulation, pipeline)
        landed = assert_final_state_exact(settings, pipeline, connectors, prefix)
        assert {entity for entity, _ in landed} == set(ENTITY_MODELS)
        ledger = read_ledger(tmp_path / "ledger.json")
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        names = {c.name for c in connectors}
        changes = [
            envelope
            for _, _, value in pipeline.read(RAW_TOPICS)
            if (envelope := serde.decode(value).value)["source"]["connector"] in names
        ]
    finally:
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))

    ops = {c["op"] for c in changes}
    assert {"r", "c", "u", "d"} <= ops, ops
    _assert_planted_accounted_for(settings, pipeline, simulation, ledger, landed, prefix)
    _assert_no_identifier_in_clear(settings, pipeline, simulation, changes, prefix)


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key_value(record_key: str) -> str:
    values = list(json.loads(record_key).values())
    return str(values[0]) if len(values) == 1 else record_key


def _clear_keys(settings: Settings, pipeline: Pipeline) -> dict[str, str]:
    """source_key token -> the clear key JSON, from the raw topics (std.* and ops.quality
    carry only the token; the test holds the stack's identity key to map it back)."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    identity = IdentityTokens.from_settings(settings)
    clear: dict[str, str] = {}
    for _, key, value in pipeline.read(RAW_TOPICS):
        source = serde.decode(value).value["source"]
        table = f"{source['schema']}.{source['table']}" if source["schema"] else source["table"]
        key_json = json.dumps(
            json.loads(key)["key"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        token = identity.source_key(source["institution_id"], source["database"], table, key_json)
        clear[token] = key_json
    return clear


def _assert_planted_accounted_for(
    settings: Settings,
    pipeline: Pipeline,
    simulation: Simulation,
    ledger: dict[str, Any],
    landed: dict[tuple[str, str], dict[str, Any]],
    prefix: str,
) -> None:
    institutions = {i.key: i for i in simulation.institutions}
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    quality = [serde.decode(v).value for _, _, v in pipeline.read(["ops.quality"])]
    clear_key = _clear_keys(settings, pipeline)
    assert not {q["record_key"] for q in quality} & set(clear_key.values())  # tokens only
    flagged = {
        (
            q["institution_id"],
            q["table"].split(".")[-1],
            _key_value(clear_key[q["record_key"]]),
            q["rule"],
        )
        for q in quality
        if q["record_key"] in clear_key
    }
    letters = [serde.decode(v).value for _, _, v in pipeline.read(["dlq.capture"])]
    undecodable = {
        (d["table"].split(".")[0], _key_value(d["original_key"].decode()))
        for d in letters
        if d["table"] and d["table"].startswith(f"{prefix}_")
    }
    live = {
        (row["institution_id"], row["source_table"].split(".")[-1],
         _key_value(clear_key[row["source_key"]])):
        row for row in landed.values()
    }  # fmt: skip
    planted = ledger["bad_records"]
    assert {p["kind"] for p in planted} >= set(PLANTED_RULE), "not every kind was planted"
    missing = []
    for bad in planted:
        inst = institutions[bad["institution"]]
        table = simulation.dialects[inst.dialect].tables[bad["entity"]].name
        where = (inst.credit_code, table, str(bad["key"]))
        if bad["kind"] == "undecodable_text":
            if (inst.database(prefix, "his"), str(bad["key"])) not in undecodable:
                missing.append(f"{bad} not in dlq.capture")
            continue
        rule = PLANTED_RULE[bad["kind"]]
        if (*where, rule) not in flagged:
            missing.append(f"{bad} has no ops.quality {rule} event")
        row = live.get(where)
        if row is not None and rule not in row["quality_issues"]:
            # landed as if valid: only right if a later correction fixed the source row
            missing.append(f"{bad} landed without {rule}: {row['quality_issues']}")
    assert missing == []


def _assert_no_identifier_in_clear(
    settings: Settings,
    pipeline: Pipeline,
    simulation: Simulation,
    changes: list[dict[str, Any]],
    prefix: str,
) -> None:
    identifying = {"name", "id_number", "phone"}
    columns: set[str] = set()
    for dialect in simulation.dialects.values():
        patient = dialect.tables["patient"]
        columns |= {c for c, spec in patient.columns.items() if spec.field in identifying}
    clear = {
        str(c["after"][column])
        for c in changes
        if c["after"] is not None
        for column in columns
        if c["after"].get(column)
    }
    assert len(clear) > 50, "too few identifiers to make the scan meaningful"

    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    std_topics = [f"std.{entity}" for entity in ENTITY_MODELS]
    texts = []
    for _, _, value in pipeline.read(std_topics):
        record = serde.decode(value).value
        if record["source_database"].startswith(f"{prefix}_"):
            texts.append(json.dumps(record, default=str, ensure_ascii=False))
    assert len(texts) > 100
    tables = pipeline.query(
        f"SELECT name FROM system.tables WHERE database = '{pipeline.database}' "
        "AND engine NOT LIKE '%View%'"
    )
    union = " UNION ALL ".join(
        f"SELECT formatRowNoNewline('JSONEachRow', *) AS row "
        f"FROM {pipeline.database}.`{table['name']}`"
        for table in tables
    )
    texts.extend(row["row"] for row in pipeline.query(union))
    leaks = [(value, text[:200]) for text in texts for value in clear if value in text]
    assert leaks[:5] == []


def test_kill_9_of_the_standardizer_and_the_lander_mid_run_leaves_the_state_exact(
    capture_settings: Settings, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"k9{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=8,
        hospitals=1,
        clinics=1,  # c01 on MariaDB
        rate=300.0,
        duration_s=20.0,
        compression=360.0,
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    pipeline = Pipeline(settings, tmp_path, _dir(tmp_path / "connectors"), uuid.uuid4().hex[:8])

    def kill_and_restart(pipe: Pipeline) -> None:
        time.sleep(6)
        pipe.kill("standardize")
        pipe.start("standardize")
        time.sleep(6)
        pipe.kill("land")
        pipe.start("land")

    try:
        connectors = run_pipeline(settings, tmp_path, simulation, pipeline, kill_and_restart)
        assert_final_state_exact(settings, pipeline, connectors, prefix)
    finally:
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))


def test_a_third_vendor_flows_end_to_end_with_a_profile_file_only(
    capture_settings: Settings, tmp_path: Path
) -> None:
    """A vendor the code has never seen: its dialect (for the simulator) and its profile are
    files under tests/data; the profile joins the shipped ones in a profiles directory."""
    settings = capture_settings
    profiles = _dir(tmp_path / "profiles")
    for shipped in settings.profiles_path.glob("*.yaml"):
        shutil.copy(shipped, profiles / shipped.name)
    shutil.copy(THIRD_VENDOR / "profile.yaml", profiles / "third_vendor.yaml")
    settings = settings.model_copy(update={"profiles_dir": profiles})
    prefix = f"tv{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=9,
        hospitals=1,
        clinics=0,
        dialects=(str(THIRD_VENDOR / "dialect.yaml"),),
        rate=200.0,
        duration_s=10.0,
        compression=360.0,
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    pipeline = Pipeline(settings, tmp_path, _dir(tmp_path / "connectors"), uuid.uuid4().hex[:8])
    try:
        connectors = run_pipeline(settings, tmp_path, simulation, pipeline)
        landed = assert_final_state_exact(settings, pipeline, connectors, prefix)
    finally:
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))
    assert {entity for entity, _ in landed} == set(ENTITY_MODELS)
