"""The stack's Kafka Connect worker: its state topics come from the catalog, as Connect
requires them, and its secrets file is written whole, owner-only, merged."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from streamhub.catalog.model import TopicSpec
from streamhub.cli.stack_cmd import _named
from streamhub.config import Settings
from streamhub.stack.connect import (
    KafkaConnect,
    render_worker_properties,
    update_secrets_file,
    write_secrets_file,
)
from streamhub.stack.errors import StackError
from streamhub.stack.service import Service
from streamhub.stack.services import SERVICE_TYPES

ROOT = Path(__file__).resolve().parents[3]


def test_the_catalog_declares_the_workers_state_topics_as_connect_requires() -> None:
    service = KafkaConnect(Settings(project_dir=ROOT))
    configs, offsets, status = service.state_topics()
    assert [configs.name, offsets.name, status.name] == [
        "_streamhub-connect_configs",
        "_streamhub-connect_offsets",
        "_streamhub-connect_status",
    ]
    assert {s.cleanup_policy for s in (configs, offsets, status)} == {"compact"}
    assert configs.partitions == 1  # Connect refuses a configs topic of more
    assert {s.value_format for s in (configs, offsets, status)} == {"json"}


def test_a_catalog_without_them_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics" / "x.yaml").write_text("topics: []\n")
    with pytest.raises(StackError, match="_streamhub-connect_configs"):
        KafkaConnect(Settings(project_dir=tmp_path)).state_topics()


def test_the_stack_worker_listens_where_settings_say_with_json_schemas(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, connect_url="http://127.0.0.1:38999")
    worker = KafkaConnect(settings).worker
    assert worker.home == tmp_path.resolve() / "connect"
    props = render_worker_properties(worker.options, worker.home)
    assert "listeners=http://127.0.0.1:38999" in props.splitlines()
    assert "value.converter.schemas.enable=true" in props.splitlines()
    assert "plugin.discovery=service_load" in props.splitlines()


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ({"value_format": "json", "value_schema": "ops/heartbeat.avsc"}, "json topic has none"),
        ({"value_format": "avro"}, "avro topic names its value_schema"),
    ],
)
def test_a_topic_has_an_avro_schema_exactly_when_its_values_are_avro(
    document: dict[str, str], match: str
) -> None:
    base = {
        "name": "x.y",
        "partitions": 1,
        "replication": 1,
        "cleanup_policy": "delete",
        "retention_ms": -1,
        "key": "a key",
        "security_level": 1,
        "security_category": "cat",
        "owner": "me",
        "description": "ten characters at least",
    }
    with pytest.raises(ValidationError, match=match):
        TopicSpec.model_validate(base | document)


def test_secrets_are_merged_replaced_whole_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "connect-secrets.properties"
    write_secrets_file(path, {"oracle-his.password": "a1"})
    update_secrets_file(path, {"sqlserver-lis.password": "b2"})
    update_secrets_file(path, {"oracle-his.password": "a3"})
    assert path.read_text() == "oracle-his.password=a3\nsqlserver-lis.password=b2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(StackError, match="cannot be written"):
        update_secrets_file(path, {"x.password": " leading space is lost by Properties"})


def test_the_worker_starts_and_stops_only_when_named_or_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    def names(chosen: list[Service]) -> list[str]:
        return [s.name for s in chosen]

    assert names(_named(settings, (), connect=False)) == [*SERVICE_TYPES]
    assert names(_named(settings, (), connect=True)) == [*SERVICE_TYPES, "connect"]
    assert names(_named(settings, ("connect",), connect=False)) == ["connect"]
    assert names(_named(settings, ("kafka", "connect"), connect=False)) == ["kafka", "connect"]
    assert names(_named(settings, ("kafka",), connect=False)) == ["kafka"]
