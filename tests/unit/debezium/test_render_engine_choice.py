"""A connector file picks its capture engine: streamhub's agent (default) or Debezium."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamhub.capture.connector import load_connector, load_connectors
from streamhub.capture.errors import ConnectorConfigError
from streamhub.capture.source import engine_for

BASE = {
    "name": "xm-his",
    "institution_id": "12350200154989800X",
    "system": "his",
    "engine": "postgresql",
    "connection": {"port": 5432, "database": "his", "user": "u", "password_env": "P"},
    "tables": ["public.patient"],
    "profile": "english_pg",
}


def _write(directory: Path, document: dict[str, object], name: str = "c.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def test_a_file_without_capture_engine_is_captured_by_streamhubs_agent(tmp_path: Path) -> None:
    config = load_connector(_write(tmp_path, BASE))
    assert config.capture_engine == "streamhub"
    assert not config.by_debezium
    engine_for(config)  # the agent's engine registry still takes it


def test_the_agent_refuses_a_debezium_connector_instead_of_capturing_it_twice(
    tmp_path: Path,
) -> None:
    config = load_connector(_write(tmp_path, BASE | {"capture_engine": "debezium"}))
    assert config.by_debezium
    with pytest.raises(ConnectorConfigError, match="connectors apply xm-his"):
        engine_for(config)


@pytest.mark.parametrize("engine", ["oracle", "sqlserver"])
def test_oracle_and_sql_server_need_debezium(tmp_path: Path, engine: str) -> None:
    with pytest.raises(ConnectorConfigError, match="set capture_engine: debezium"):
        load_connector(_write(tmp_path, BASE | {"engine": engine}))
    debezium = load_connector(
        _write(tmp_path, BASE | {"engine": engine, "capture_engine": "debezium"})
    )
    assert debezium.engine == engine


def test_a_debezium_block_without_the_debezium_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="needs capture_engine: debezium"):
        load_connector(_write(tmp_path, BASE | {"debezium": {"pdb": "ORCLPDB1"}}))


def test_an_unknown_capture_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="capture_engine"):
        load_connector(_write(tmp_path, BASE | {"capture_engine": "maxwell"}))


def test_worked_examples_are_not_connectors_of_the_directory_they_sit_in(
    tmp_path: Path,
) -> None:
    _write(tmp_path, BASE, "xm-his.yaml")
    example = BASE | {"name": "example", "capture_engine": "debezium"}
    _write(tmp_path, example, "examples/example.yaml")
    assert [c.name for c in load_connectors(tmp_path)] == ["xm-his"]
    assert [c.name for c in load_connectors(tmp_path / "examples")] == ["example"]
