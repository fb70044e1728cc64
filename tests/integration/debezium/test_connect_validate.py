"""The Oracle and SQL Server worked examples against the real Kafka Connect worker.

The stack's worker (``stack up --connect``, started here through the same code when it is
not running, and stopped again afterwards) has Debezium 3.6.1's real plugins and JDBC
drivers. Each example, pointed at a closed port on 127.0.0.1 (its own host is a
placeholder), is rendered and validated by its plugin: the only error must be that the
database cannot be reached. ``streamhub connectors apply`` reports Connect's refusals by
field, exits non-zero and creates nothing.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from streamhub.capture.connector import ConnectorConfig, load_connector
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.render import password_key, render, stack_secrets_file
from streamhub.stack.connect import update_secrets_file, write_secrets_file

from ..commands import run_streamhub

EXAMPLES = Path(__file__).resolve().parents[3] / "connectors" / "examples"
PASSWORD = "Vt9-validate-only-4k"  # never the database's: none is reachable


@pytest.fixture
def connect(stack_connect: ConnectClient) -> ConnectClient:
    return stack_connect


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the socket is


def _unreachable(example: str, name: str) -> dict[str, object]:
    """The example's document, renamed, pointing at a closed port on loopback."""
    document = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    document["name"] = name
    document["connection"] |= {"host": "127.0.0.1", "port": _closed_port()}
    return dict(document)


@pytest.fixture
def secrets(settings: Settings) -> Iterator[dict[str, str]]:
    """Test passwords put in the worker's secrets file, taken out again afterwards."""
    path = stack_secrets_file(settings)
    added: dict[str, str] = {}
    yield added
    if path.exists():
        kept = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key not in added:
                kept[key] = value
        write_secrets_file(path, kept)


@pytest.mark.parametrize("example", ["oracle-his", "sqlserver-lis"])
def test_the_example_passes_the_plugins_validation_but_for_the_unreachable_database(
    example: str,
    settings: Settings,
    connect: ConnectClient,
    secrets: dict[str, str],
    tmp_path: Path,
) -> None:
    name = f"test-{example}-{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_unreachable(example, name), allow_unicode=True))
    config = load_connector(path)
    secrets[password_key(config)] = PASSWORD
    update_secrets_file(stack_secrets_file(settings), secrets)
    rendered = render(config, settings)
    assert PASSWORD not in json.dumps(rendered)

    errors = connect.validate({"name": name, **rendered})

    assert list(errors) == ["database.hostname"], errors
    (message,) = errors["database.hostname"]
    assert message.startswith("Unable to connect"), message
    assert name not in connect.connectors()


def test_apply_reports_connects_refusal_by_field_exits_non_zero_and_creates_nothing(
    settings: Settings, connect: ConnectClient, secrets: dict[str, str], tmp_path: Path
) -> None:
    name = f"test-refused-{uuid.uuid4().hex[:6]}"
    document = _unreachable("sqlserver-lis", name)
    connection = dict(document["connection"])  # type: ignore[call-overload]
    connection.pop("password_file")
    document["connection"] = connection | {"password_env": "TEST_SQLSERVER_PASSWORD"}
    document["debezium"] = {"snapshot_mode": "sometimes"}  # no such Debezium snapshot mode
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    secrets[f"{name}.password"] = PASSWORD  # what apply writes, removed afterwards

    result = run_streamhub(
        "connectors", "apply", name, "--connectors-dir", str(directory),
        env={**os.environ, "TEST_SQLSERVER_PASSWORD": PASSWORD,
             "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
             "STREAMHUB_DATA_DIR": str(settings.data_dir)},
        cwd=settings.project_dir,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert f"{name}: refused by Kafka Connect" in result.stderr
    assert "  snapshot.mode: " in result.stderr
    # (Debezium tries the database only once the fields are valid)
    assert PASSWORD not in result.stdout + result.stderr
    assert name not in connect.connectors()
    # the password reached the worker's owner-only secrets file, not the config
    written = stack_secrets_file(settings).read_text(encoding="utf-8")
    assert f"{name}.password={PASSWORD}" in written
    assert stack_secrets_file(settings).stat().st_mode & 0o077 == 0


def test_a_streamhub_captured_file_is_not_applied(
    settings: Settings, connect: ConnectClient, tmp_path: Path
) -> None:
    document = _unreachable("sqlserver-lis", f"test-agent-{uuid.uuid4().hex[:6]}")
    document |= {"engine": "postgresql", "capture_engine": "streamhub", "tables": ["public.a"]}
    document.pop("debezium")
    ConnectorConfig.model_validate(document)  # a valid file of streamhub's agent
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / "agent.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))

    result = run_streamhub(
        "connectors", "apply", str(document["name"]), "--connectors-dir", str(directory),
        env={**os.environ, "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
             "STREAMHUB_DATA_DIR": str(settings.data_dir)},
        cwd=settings.project_dir,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert "capture_engine: streamhub" in result.stderr
    assert str(document["name"]) not in connect.connectors()
