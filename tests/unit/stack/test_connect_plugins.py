"""Which pom resolves which Kafka Connect plugin: every plugin is a profile of its pom, and
Debezium's MariaDB connector (3.5.0, another release than the others) has a pom of its own."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest

from streamhub.stack import connect
from streamhub.stack.connect import (
    PLUGIN_POMS,
    PLUGINS,
    POM,
    WORKER_PROFILE,
    ConnectWorker,
    WorkerOptions,
)

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _profiles(pom: str) -> dict[str, ET.Element]:
    text = resources.files("streamhub.stack").joinpath(pom).read_text()
    root = ET.fromstring(text)  # noqa: S314 - the package's own pom
    return {p.findtext("m:id", namespaces=NS) or "": p for p in root.iterfind(".//m:profile", NS)}


def test_every_plugin_is_a_profile_of_the_pom_that_resolves_it() -> None:
    for plugin in PLUGINS:
        assert plugin in _profiles(PLUGIN_POMS.get(plugin, POM)), plugin
    assert WORKER_PROFILE in _profiles(POM)


def test_mariadb_is_debezium_3_5_0_from_its_own_pom_and_the_others_3_6_1() -> None:
    assert PLUGINS["debezium-mariadb"] == "io.debezium.connector.mariadb.MariaDbConnector"
    mariadb = _profiles(PLUGIN_POMS["debezium-mariadb"])["debezium-mariadb"]
    artifact = mariadb.find(".//m:dependency", NS)
    assert artifact is not None
    assert artifact.findtext("m:artifactId", namespaces=NS) == "debezium-connector-mariadb"
    assert artifact.findtext("m:version", namespaces=NS) == "${debezium.mariadb.version}"
    text = resources.files("streamhub.stack").joinpath(PLUGIN_POMS["debezium-mariadb"]).read_text()
    assert "<debezium.mariadb.version>3.5.0.Final</debezium.mariadb.version>" in text
    assert "debezium-mariadb" not in _profiles(POM)


def test_the_jars_are_resolved_per_pom_each_into_its_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str | None, Path]]] = []

    def resolve(pom: str, home: Path, targets: Mapping[str | None, Path], what: str) -> bool:
        calls.append((pom, dict(targets)))
        return pom == PLUGIN_POMS["debezium-mariadb"]

    monkeypatch.setattr(connect, "resolve_jars", resolve)
    options = WorkerOptions(bootstrap="127.0.0.1:39092")  # every plugin
    assert ConnectWorker(options, tmp_path).ensure_jars() is True
    by_pom = dict(calls)
    assert set(by_pom) == {POM, "kafka-connect-mariadb.pom.xml"}
    assert by_pom["kafka-connect-mariadb.pom.xml"] == {
        "debezium-mariadb": tmp_path / "plugins" / "debezium-mariadb"
    }
    assert by_pom[POM][WORKER_PROFILE] == tmp_path / "lib"
    assert set(by_pom[POM]) == {WORKER_PROFILE} | (set(PLUGINS) - {"debezium-mariadb"})

    calls.clear()  # a worker without MariaDB does not touch its pom
    ConnectWorker(
        WorkerOptions("127.0.0.1:39092", plugins=("debezium-postgres",)), tmp_path
    ).ensure_jars()
    assert [pom for pom, _ in calls] == [POM]
