"""Engines are found by name in one registry; the contracts load no engine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from streamhub.capture import source
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import DuplicateEngineError, UnknownEngineError
from streamhub.capture.mysql.log_reader import MySQLLogReader
from streamhub.capture.mysql.snapshot_reader import MySQLSnapshotReader
from streamhub.capture.postgres.log_reader import PostgresLogReader
from streamhub.capture.postgres.snapshot_reader import PostgresSnapshotReader
from streamhub.codes import credit_code

INSTITUTION = credit_code.make("1", "2", "350203", "15498973")


def config(engine: str) -> ConnectorConfig:
    document: dict[str, object] = {
        "name": f"his_{engine}",
        "institution_id": INSTITUTION,
        "institution_name": "医院",
        "system": "his",
        "engine": engine,
        "connection": {
            "host": "127.0.0.1",
            "port": 1,  # nothing listens: opening readers must not connect
            "database": "his",
            "user": "capture",
            "password_env": "HIS_PASSWORD",
        },
        "tables": ["patient"],
        "profile": "vendor_a",
    }
    if engine != "postgresql":
        document["mysql"] = {"server_id": 4242}
    return ConnectorConfig.model_validate(document)


@pytest.mark.parametrize(
    ("engine", "log_type", "snapshot_type"),
    [
        ("postgresql", PostgresLogReader, PostgresSnapshotReader),
        ("mariadb", MySQLLogReader, MySQLSnapshotReader),
        ("mysql", MySQLLogReader, MySQLSnapshotReader),
    ],
)
def test_each_connector_engine_name_opens_its_engine_readers_without_connecting(
    engine: str, log_type: type, snapshot_type: type
) -> None:
    log_reader, snapshot_reader = source.open_readers(config(engine), "secret")
    try:
        assert type(log_reader) is log_type
        assert type(snapshot_reader) is snapshot_type
    finally:
        log_reader.close()
        snapshot_reader.close()


def test_every_engine_a_connector_may_name_is_registered() -> None:
    assert set(source.ENGINES) == {"postgresql", "mariadb", "mysql"}


def test_an_unregistered_engine_name_is_an_error_naming_the_connector_and_the_choices() -> None:
    unknown = config("postgresql").model_copy(update={"engine": "oracle"})
    with pytest.raises(UnknownEngineError) as caught:
        source.open_readers(unknown, "secret")
    assert caught.value.engine == "oracle"
    assert "his_postgresql" in str(caught.value)
    assert "mariadb, mysql, postgresql" in str(caught.value)


def test_a_name_is_registered_once() -> None:
    with pytest.raises(DuplicateEngineError):
        source.register_engine("postgresql", source.ENGINES["mariadb"])
    assert type(source.ENGINES["postgresql"]).__name__ == "PostgresEngine"


def test_the_reader_contracts_load_no_engine_and_engines_do_not_load_the_registry() -> None:
    probe = (
        "import sys\n"
        "import streamhub.capture.contracts\n"
        "print(sorted(m for m in sys.modules if m.startswith(('streamhub.capture.postgres',"
        " 'streamhub.capture.mysql', 'streamhub.capture.source'))))\n"
        "import streamhub.capture.postgres.engine, streamhub.capture.mysql.engine\n"
        "print('streamhub.capture.source' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "False"


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_an_engine_s_readers_and_checks_share_connection_and_catalog_modules_not_each_other(
    engine: str,
) -> None:
    package = f"streamhub.capture.{engine}"
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module('{package}.' + sys.argv[1])\n"
        f"mods = [m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('{package}.')]\n"
        "print(json.dumps(mods))\n"
    )

    def loaded_by(module: str) -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", probe, module], capture_output=True, text=True, check=True
        ).stdout
        return set(json.loads(out))

    assert not loaded_by("log_reader") & {"snapshot_reader", "preflight"}
    assert not loaded_by("snapshot_reader") & {"log_reader", "preflight"}
    assert not loaded_by("preflight") & {"log_reader", "snapshot_reader"}
    assert {"connection", "catalog"} <= loaded_by("snapshot_reader")
