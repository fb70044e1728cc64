"""Debezium connector files rendered to Kafka Connect configs: goldens per dialect, secrets
only as config-provider references, and what the render refuses."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from streamhub.capture.connector import ConnectorConfig, load_connector
from streamhub.config import Settings
from streamhub.debezium.errors import RenderError
from streamhub.debezium.render import (
    HEARTBEAT_TOPIC,
    TRANSACTION_TOPIC,
    change_topic_pattern,
    password_key,
    render,
    schema_history_topic,
    topic_prefix,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "connectors" / "examples"
GOLDEN = Path(__file__).parent / "render_golden"
SECRETS = Path("/srv/connect/secrets/connect-secrets.properties")
PASSWORD = "Xq7-never-rendered-9f"  # a test value: it must never appear rendered


def _settings() -> Settings:
    return Settings(kafka_bootstrap="kafka-1.platform.invalid:9092")


def _pg_and_mysql() -> dict[str, ConnectorConfig]:
    common = {
        "institution_id": "12350200154989800X",
        "capture_engine": "debezium",
        "profile": "english_pg",
    }
    postgres = ConnectorConfig.model_validate(
        common
        | {
            "name": "pg-emr",
            "system": "emr",
            "engine": "postgresql",
            "connection": {
                "port": 5432,
                "database": "emr",
                "user": "dbz",
                "password_secret": "postgres_password",
            },
            "tables": ["public.diagnosis", "public.record"],
            "snapshot": {"mode": "never"},
        }
    )
    mysql = ConnectorConfig.model_validate(
        common
        | {
            "name": "my-his",
            "system": "his",
            "engine": "mysql",
            "connection": {"port": 3306, "database": "his", "user": "dbz", "password_env": "X"},
            "tables": ["patient", "his.charge"],
            "mysql": {"server_id": 5401},
        }
    )
    mariadb = ConnectorConfig.model_validate(
        common
        | {
            "name": "mdb-lis",
            "system": "lis",
            "engine": "mariadb",
            "profile": "pinyin_gbk",
            "connection": {
                "port": 3306,
                "database": "lis",
                "user": "dbz",
                "password_secret": "mariadb_password",
            },
            "tables": ["JYBG", "lis.JYJG"],
            "mysql": {"server_id": 5402},
        }
    )
    return {"pg-emr": postgres, "my-his": mysql, "mdb-lis": mariadb}


def _connectors() -> dict[str, ConnectorConfig]:
    examples = {p.stem: load_connector(p) for p in sorted(EXAMPLES.glob("*.yaml"))}
    return examples | _pg_and_mysql()


ALL = ["oracle-his", "sqlserver-lis", "pg-emr", "my-his", "mdb-lis"]


@pytest.mark.parametrize("name", ALL)
def test_each_dialect_renders_to_its_golden_config(name: str) -> None:
    rendered = render(_connectors()[name], _settings(), SECRETS)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("STREAMHUB_REGOLD"):
        golden.write_text(json.dumps(rendered, indent=2, sort_keys=True) + "\n")
    assert rendered == json.loads(golden.read_text())


def test_the_worked_examples_are_debezium_connectors_for_oracle_and_sql_server() -> None:
    examples = {p.stem: load_connector(p) for p in sorted(EXAMPLES.glob("*.yaml"))}
    assert {c.engine for c in examples.values()} == {"oracle", "sqlserver"}
    assert all(c.by_debezium for c in examples.values())
    oracle = render(examples["oracle-his"], _settings(), SECRETS)
    assert oracle["connector.class"] == "io.debezium.connector.oracle.OracleConnector"
    assert oracle["database.connection.adapter"] == "logminer"
    assert oracle["database.pdb.name"] == "ORCLPDB1"
    sqlserver = render(examples["sqlserver-lis"], _settings(), SECRETS)
    assert sqlserver["connector.class"] == "io.debezium.connector.sqlserver.SqlServerConnector"
    assert sqlserver["database.names"] == "LIS"


@pytest.mark.parametrize("name", ALL)
def test_no_password_is_rendered_only_a_reference_to_the_workers_secrets_file(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORACLE_HIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("X", PASSWORD)
    config = _connectors()[name]
    rendered = render(config, Settings(data_dir=tmp_path), SECRETS)
    text = json.dumps(rendered)
    assert PASSWORD not in text
    assert rendered["database.password"] == f"${{file:{SECRETS}:{name}.password}}"
    assert password_key(config) == f"{name}.password"
    passwords = [k for k in rendered if "password" in k]
    assert passwords == ["database.password"]


def test_by_default_the_reference_names_the_stack_workers_secrets_file(tmp_path: Path) -> None:
    rendered = render(_connectors()["oracle-his"], Settings(data_dir=tmp_path))
    expected = tmp_path.resolve() / "connect" / "secrets" / "connect-secrets.properties"
    assert rendered["database.password"] == f"${{file:{expected}:oracle-his.password}}"


def test_change_topics_heartbeats_and_history_are_told_apart_by_name() -> None:
    config = _connectors()["oracle-his"]
    rendered = render(config, _settings(), SECRETS)
    assert topic_prefix(config) == rendered["topic.prefix"] == "dbz.oracle-his"
    changes = re.compile(change_topic_pattern(config))
    assert changes.match("dbz.oracle-his.HIS.PATIENT")
    assert not changes.match("dbz.oracle-his-2.HIS.PATIENT")  # another connector
    assert not changes.match(HEARTBEAT_TOPIC)
    assert not changes.match(schema_history_topic(config))
    # Debezium's own heartbeat topic is routed into the shared dbz.heartbeat, nothing else
    router = re.compile(rendered["transforms.heartbeat.regex"])
    debezium_heartbeat = f"{rendered['topic.heartbeat.prefix']}.{rendered['topic.prefix']}"
    assert router.fullmatch(debezium_heartbeat)
    assert not router.fullmatch("dbz.oracle-his.HIS.PATIENT")
    assert rendered["transforms.heartbeat.replacement"] == HEARTBEAT_TOPIC


def test_the_include_list_matches_each_table_exactly() -> None:
    rendered = render(_connectors()["oracle-his"], _settings(), SECRETS)
    patterns = [re.compile(p) for p in rendered["table.include.list"].split(",")]
    assert any(p.fullmatch("HIS.PATIENT") for p in patterns)
    assert not any(p.fullmatch("HISXPATIENT") for p in patterns)  # '.' is not any character
    mysql = render(_connectors()["my-his"], _settings(), SECRETS)
    assert mysql["table.include.list"] == r"his\.patient,his\.charge"


def test_json_with_schemas_for_keys_and_values() -> None:
    for config in _connectors().values():
        rendered = render(config, _settings(), SECRETS)
        for side in ("key", "value"):
            assert rendered[f"{side}.converter"] == "org.apache.kafka.connect.json.JsonConverter"
            assert rendered[f"{side}.converter.schemas.enable"] == "true"


def _with(config: ConnectorConfig, **changes: object) -> ConnectorConfig:
    return ConnectorConfig.model_validate(config.model_dump() | changes)


def test_a_streamhub_captured_connector_has_no_connect_config() -> None:
    config = _with(_connectors()["pg-emr"], capture_engine="streamhub")
    with pytest.raises(RenderError, match="capture_engine: streamhub"):
        render(config, _settings(), SECRETS)


def test_mariadb_renders_for_debezium_3_5s_mariadb_connector_like_mysql() -> None:
    config = _with(_connectors()["my-his"], engine="mariadb")
    rendered = render(config, _settings(), SECRETS)
    assert rendered["connector.class"] == "io.debezium.connector.mariadb.MariaDbConnector"
    mysql = render(_connectors()["my-his"], _settings(), SECRETS)
    assert rendered | {"connector.class": mysql["connector.class"]} == mysql
    assert rendered["database.server.id"] == "5401"
    assert rendered["table.include.list"] == r"his\.patient,his\.charge"


@pytest.mark.parametrize("engine", ["mysql", "mariadb"])
def test_text_bytes_in_latin1_columns_are_refused_for_debezium(engine: str) -> None:
    config = _with(_connectors()["my-his"], engine=engine, encoding="gbk")
    with pytest.raises(RenderError, match=r"windows-1252.*capture_engine: streamhub"):
        render(config, _settings(), SECRETS)


def test_oracle_carries_transaction_metadata_routed_out_of_the_change_topics() -> None:
    config = _connectors()["oracle-his"]
    rendered = render(config, _settings(), SECRETS)
    # transaction.total_order is the low bits of the version: two changes of one row at
    # one SCN stay ordered (positions.oracle_position)
    assert rendered["provide.transaction.metadata"] == "true"
    assert rendered["transforms"] == "heartbeat,transaction"
    router = re.compile(rendered["transforms.transaction.regex"])
    changes = re.compile(change_topic_pattern(config))
    assert router.fullmatch("dbz.oracle-his.transaction")
    assert changes.match("dbz.oracle-his.transaction")  # why it must be routed away
    assert not router.fullmatch("dbz.oracle-his.HIS.PATIENT")
    assert not router.fullmatch("dbz.oracle-hisXtransaction")
    assert rendered["transforms.transaction.replacement"] == TRANSACTION_TOPIC
    assert not changes.match(TRANSACTION_TOPIC)
    # the other dialects keep Debezium's default (no transaction events)
    for name in ("sqlserver-lis", "pg-emr", "my-his", "mdb-lis"):
        other = render(_connectors()[name], _settings(), SECRETS)
        assert "provide.transaction.metadata" not in other
        assert other["transforms"] == "heartbeat"


def test_transaction_metadata_turned_on_by_properties_is_routed_too() -> None:
    base = _connectors()["pg-emr"]
    debezium = {"properties": {"provide.transaction.metadata": "true"}}
    rendered = render(_with(base, debezium=debezium), _settings(), SECRETS)
    assert rendered["transforms"] == "heartbeat,transaction"
    assert re.fullmatch(rendered["transforms.transaction.regex"], "dbz.pg-emr.transaction")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("topic.prefix", "elsewhere", "may not set topic.prefix"),
        ("value.converter", "io.apicurio.X", "may not set value.converter"),
        ("transforms", "", "may not set transforms"),
        ("database.password", "${file:/x:y}", "may not set database.password"),
        ("database.ssl.truststore.password", "changeit", "looks like a password"),
    ],
)
def test_further_properties_cannot_override_what_streamhub_owns_or_carry_a_password(
    key: str, value: str, match: str
) -> None:
    base = _connectors()["oracle-his"]
    assert base.debezium is not None
    debezium = base.debezium.model_dump() | {"properties": {key: value}}
    with pytest.raises(RenderError, match=match) as info:
        render(_with(base, debezium=debezium), _settings(), SECRETS)
    assert "changeit" not in str(info.value)


def test_a_password_property_given_as_a_provider_reference_is_kept() -> None:
    base = _connectors()["oracle-his"]
    assert base.debezium is not None
    reference = "${file:/srv/connect/secrets/connect-secrets.properties:truststore}"
    properties = {"database.ssl.truststore.password": reference}
    debezium = base.debezium.model_dump() | {"properties": properties}
    rendered = render(_with(base, debezium=debezium), _settings(), SECRETS)
    assert rendered["database.ssl.truststore.password"] == reference


@pytest.mark.parametrize(("name", "table"), [("oracle-his", "PATIENT"), ("pg-emr", "a.b.c")])
def test_a_table_named_without_its_schema_where_one_is_needed_is_refused(
    name: str, table: str
) -> None:
    with pytest.raises(RenderError, match=table.replace(".", r"\.")):
        render(_with(_connectors()[name], tables=[table]), _settings(), SECRETS)


def test_a_bare_sql_server_table_is_in_dbo() -> None:
    config = _with(_connectors()["sqlserver-lis"], tables=["lab_result"])
    assert render(config, _settings(), SECRETS)["table.include.list"] == r"dbo\.lab_result"
