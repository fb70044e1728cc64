"""Fixtures of the web API tests: a migrated database with known rows, users, app clients.

The database lives in the session's chDB engine (one per process), one per test module;
the app reads it through :class:`DirectQueries`, as it reads a ClickHouse server.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.config import Settings, load_settings
from streamhub.core.clock import ManualClock
from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate
from streamhub.query import DirectQueries, QuerySource
from streamhub.web.app import create_app
from streamhub.web.auth import User, hash_password, write_users
from streamhub.web.institutions import Directory
from tests.integration.web import data

PASSWORDS = {"wang": "official-pw", "li": "operator-pw", "zhao": "developer-pw"}
ROLES = {"wang": "official", "li": "operator", "zhao": "developer"}


@pytest.fixture(scope="module")
def ch(chdb_path: Path) -> Iterator[Client]:
    """A freshly migrated database of this module, holding the rows of :mod:`.data`."""
    database = f"web_{uuid.uuid4().hex[:10]}"
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    data.load_all(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()


@pytest.fixture(scope="module")
def ops(ch: Client) -> dict[str, Any]:
    return data.ops_rows(ch, int(time.time() * 1000))


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory: pytest.TempPathFactory, project_dir: Path) -> Settings:
    home = tmp_path_factory.mktemp("web")
    # as `stack up` would: the console's drill-down keys record ids with the identity key
    (home / "secrets").mkdir(mode=0o700)
    (home / "secrets" / "pseudonym_identity_key").write_text(secrets.token_urlsafe(32))
    users = home / "users.yaml"
    write_users(
        users,
        {
            name: User(name, ROLES[name], hash_password(password, iterations=1_000))
            for name, password in PASSWORDS.items()
        },
    )
    return load_settings(
        project_dir=project_dir,
        data_dir=home,
        web_users_file=users,
        audit_log=home / "audit.jsonl",
        web_session_minutes=30,
    )


def manual_clock() -> ManualClock:
    """A manual clock starting at the wall time now (the test data is laid out around now),
    moved forward by the test."""
    return ManualClock(time.time())


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(web_settings: Settings, ch: Client) -> Iterator[AppFactory]:
    """A TestClient of a new app; ``queries`` defaults to the module's database."""
    clients: list[TestClient] = []

    def make(queries: QuerySource | None = None, **options: Any) -> TestClient:
        options.setdefault("directory", Directory(lambda: dict(data.NAMES)))
        app = create_app(web_settings, queries or KeepOpen(ch), **options)
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class KeepOpen(DirectQueries):
    """The module's client, not closed when one app shuts down (the next one reuses it)."""

    def close(self) -> None:
        pass


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def sign_in(client: TestClient, user: str) -> TestClient:
    answer = client.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return client
