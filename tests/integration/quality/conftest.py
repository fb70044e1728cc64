"""A migrated, test-private chDB database per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate


@pytest.fixture
def ch(chdb_path: Path, unique: Callable[[str], str]) -> Iterator[Client]:
    database = unique("quality").replace("-", "_")
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()
