"""Connector files for the simulated institutions, as an operator would write them.

These are configuration, not ground truth: they say where each institution's
databases are and how to read them, nothing about what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from streamhub.config import Settings
from streamhub.simulate.dialect import Dialect
from streamhub.simulate.institutions import Institution
from streamhub.simulate.records import SYSTEMS


def engine_document(
    settings: Settings, engine: str, database: str, tables: list[str], server_id: int
) -> dict[str, Any]:
    """A connector file's engine part: its connection to ``database`` on the local stack's
    server for ``engine`` (``postgres`` or MariaDB), its tables and MariaDB's server id."""
    if engine == "postgres":
        return {
            "engine": "postgresql",
            "connection": {
                "host": settings.postgres_host,
                "port": settings.postgres_port,
                "database": database,
                "user": settings.postgres_user,
                "password_secret": "postgres_password",
            },
            "tables": [f"public.{t}" for t in tables],
        }
    return {
        "engine": "mariadb",
        "connection": {
            "host": settings.mariadb_host,
            "port": settings.mariadb_port,
            "database": database,
            "user": settings.mariadb_user,
            "password_secret": "mariadb_password",
        },
        "tables": tables,
        "mysql": {"server_id": server_id},
    }


def connector_documents(
    settings: Settings, institutions: list[Institution], dialects: dict[str, Dialect], prefix: str
) -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for inst in institutions:
        dialect = dialects[inst.dialect]
        for system in inst.systems:
            database = inst.database(prefix, system)
            tables = [dialect.tables[e].name for e in dialect.entities_in(system)]
            name = f"{prefix}-{inst.key}-{system}".replace("_", "-")
            document: dict[str, Any] = {
                "name": name,
                "institution_id": inst.credit_code,
                "institution_name": inst.name,
                "system": system,
                "profile": dialect.name,
                "encoding": dialect.text_encoding,
            }
            server_id = 1000 + inst.index * 10 + SYSTEMS.index(system)
            document |= engine_document(settings, inst.engine, database, tables, server_id)
            documents[f"{name}.yaml"] = document
    return documents


def write_connectors(directory: Path, documents: dict[str, dict[str, Any]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        stale.unlink()
    written = []
    for filename, document in sorted(documents.items()):
        path = directory / filename
        path.write_text(
            "# written by `streamhub simulate` for its simulated institution\n"
            + yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        written.append(path)
    return written
