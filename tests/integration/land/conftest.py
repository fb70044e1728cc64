"""Fixtures of the sink tests: a migrated database per test in the session's chDB engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate


@pytest.fixture
def dsn(chdb_path: Path) -> str:
    return f"chdb://{chdb_path}"


@pytest.fixture
def database(unique: Callable[[str], str]) -> str:
    return unique("sink").replace("-", "_")


@pytest.fixture
def ch(dsn: str, database: str) -> Iterator[Client]:
    """A client on a freshly migrated, test-private database."""
    client = connect(dsn, database, create=True)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()
