"""Connector files for the fleet's institutions, so the centre sees them as configured.

The standardizer, link health and the web console read connector files; pointing
``STREAMHUB_CONNECTORS_DIR`` at the directory written here makes the fleet's connectors
configured ones. The connections name databases that do not exist (``fleet_<key>_<system>``
on the local stack's servers): nothing reads them, and a health probe reaches the server.
Snapshot mode is ``never``: the fleet's connectors stream from the start of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.simulate.connectors import engine_document
from streamhub.simulate.dialect import Dialect
from streamhub.simulate.institutions import Institution
from streamhub.simulate.records import SYSTEMS

SERVER_ID_BASE = 500_000  # the simulator's MariaDB server ids start at 1,000


def connector_name(inst: Institution, system: str) -> str:
    return f"fleet-{inst.key}-{system}"


def connector_config(
    settings: Settings, inst: Institution, dialect: Dialect, system: str
) -> ConnectorConfig:
    database = f"fleet_{inst.key}_{system}"
    tables = [dialect.tables[e].name for e in dialect.entities_in(system)]
    document: dict[str, Any] = {
        "name": connector_name(inst, system),
        "institution_id": inst.credit_code,
        "institution_name": inst.name,
        "system": system,
        "profile": dialect.name,
        "encoding": dialect.text_encoding,
        "snapshot": {"mode": "never"},
    }
    document |= engine_document(settings, dialect.engine, database, tables, server_id(inst, system))
    return ConnectorConfig.model_validate(document)


def server_id(inst: Institution, system: str) -> int:
    return SERVER_ID_BASE + inst.index * 10 + SYSTEMS.index(system)


def write_connector_files(directory: Path, configs: list[ConnectorConfig]) -> int:
    """One YAML per connector; stale ``fleet-*.yaml`` files of an earlier run are removed
    (other files in the directory are left alone)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("fleet-*.yaml"):
        stale.unlink()
    for config in configs:
        document = config.model_dump(mode="json", exclude_defaults=True)
        document["snapshot"] = {"mode": config.snapshot.mode}
        (directory / f"{config.name}.yaml").write_text(
            "# written by `streamhub simulate fleet` for a simulated institution\n"
            + yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return len(configs)
