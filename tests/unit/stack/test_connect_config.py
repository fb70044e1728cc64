"""The Kafka Connect worker's rendered configuration and its secrets file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from streamhub.stack.connect import (
    ConnectWorker,
    WorkerOptions,
    render_worker_properties,
    secret_reference,
)
from streamhub.stack.errors import ConnectRestError, StackError


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_a_distributed_worker_keeps_its_state_in_three_topics_named_after_its_group(
    tmp_path: Path,
) -> None:
    options = WorkerOptions(bootstrap="127.0.0.1:39092", group_id="bench-connect-1a2b3c")
    props = _properties(render_worker_properties(options, tmp_path))
    assert props["group.id"] == "bench-connect-1a2b3c"
    assert props["config.storage.topic"] == "_bench-connect-1a2b3c_configs"
    assert props["offset.storage.topic"] == "_bench-connect-1a2b3c_offsets"
    assert props["status.storage.topic"] == "_bench-connect-1a2b3c_status"
    assert set(options.internal_topics) == {
        props["config.storage.topic"],
        props["offset.storage.topic"],
        props["status.storage.topic"],
    }
    for kind in ("config", "offset", "status"):
        assert props[f"{kind}.storage.replication.factor"] == "1"  # a single-broker stack


def test_the_worker_listens_on_loopback_only_and_finds_each_plugin_below_one_path(
    tmp_path: Path,
) -> None:
    options = WorkerOptions(bootstrap="127.0.0.1:39092", rest_port=38183)
    props = _properties(render_worker_properties(options, tmp_path))
    assert props["listeners"] == "http://127.0.0.1:38183"
    assert props["rest.advertised.host.name"] == "127.0.0.1"
    assert props["bootstrap.servers"] == "127.0.0.1:39092"
    assert props["plugin.path"] == str(tmp_path / "plugins")
    assert options.rest_url == "http://127.0.0.1:38183"


def test_json_converters_without_schemas_unless_asked(tmp_path: Path) -> None:
    plain = _properties(render_worker_properties(WorkerOptions(bootstrap="b:1"), tmp_path))
    assert plain["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert plain["value.converter.schemas.enable"] == "false"
    with_schemas = _properties(
        render_worker_properties(WorkerOptions(bootstrap="b:1", schemas_enable=True), tmp_path)
    )
    assert with_schemas["key.converter.schemas.enable"] == "true"
    assert with_schemas["value.converter.schemas.enable"] == "true"


def test_secrets_come_from_a_file_provider_confined_to_the_secrets_directory(
    tmp_path: Path,
) -> None:
    props = _properties(render_worker_properties(WorkerOptions(bootstrap="b:1"), tmp_path))
    assert props["config.providers"] == "file"
    assert props["config.providers.file.class"].endswith("FileConfigProvider")
    assert props["config.providers.file.param.allowed.paths"] == str(tmp_path / "secrets")
    worker = ConnectWorker(WorkerOptions(bootstrap="b:1"), tmp_path)
    path = worker.write_secrets({"debezium_password": "s3cr3t-value"})
    assert path.parent == tmp_path / "secrets"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == "debezium_password=s3cr3t-value\n"
    reference = worker.secret("debezium_password")
    assert reference == secret_reference(path, "debezium_password")
    assert reference == "${file:" + str(path) + ":debezium_password}"
    assert "s3cr3t-value" not in reference


def test_a_secret_that_would_break_the_properties_file_is_refused(tmp_path: Path) -> None:
    worker = ConnectWorker(WorkerOptions(bootstrap="b:1"), tmp_path)
    with pytest.raises(StackError, match="debezium_password"):
        worker.write_secrets({"debezium_password": "line1\nother=injected"})
    assert not worker.secrets_file.exists()


def test_an_unknown_plugin_is_refused_with_the_known_ones_named(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="debezium-postgres"):
        render_worker_properties(WorkerOptions(bootstrap="b:1", plugins=("oracle",)), tmp_path)


def test_a_refused_connector_config_is_reported_by_field_and_never_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connect's PUT answers an invalid Debezium MySQL config with a bare NPE (a key left
    without a value); the worker validates first and names each field's errors."""
    worker = ConnectWorker(WorkerOptions(bootstrap="b:1"), tmp_path)
    calls: list[tuple[str, str]] = []
    answer = {
        "error_count": 1,
        "configs": [
            {"definition": {"name": "internal.legacy.snapshot.max.threads"}, "value": None},
            {"value": {"name": "database.port", "errors": []}},
            {"value": {"name": "database.hostname", "errors": ["Unable to connect"]}},
        ],
    }

    def request(method: str, path: str, body: object = None, timeout_s: float = 30) -> object:
        calls.append((method, path))
        assert isinstance(body, dict) and body["name"] == "dbz-1"
        return answer

    monkeypatch.setattr(worker, "request", request)
    config = {"connector.class": "io.debezium.connector.mysql.MySqlConnector"}
    with pytest.raises(ConnectRestError, match=r"database\.hostname: Unable to connect") as info:
        worker.put_connector("dbz-1", config)
    assert "database.port" not in str(info.value)
    assert calls == [("PUT", "/connector-plugins/MySqlConnector/config/validate")]
