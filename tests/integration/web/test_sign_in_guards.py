"""Sign-in guards: repeated failures lock a user name; removing a user ends their session."""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.web.app import create_app
from streamhub.web.auth import User, hash_password, read_users, write_users
from streamhub.web.institutions import Directory
from tests.integration.web import data
from tests.integration.web.conftest import KeepOpen, manual_clock


def _app(settings: Settings, ch: Client, clock: ManualClock) -> TestClient:
    directory = Directory(lambda: dict(data.NAMES))
    return TestClient(create_app(settings, KeepOpen(ch), clock=clock, directory=directory))


def _own_users(web_settings: Settings, tmp_path: Path) -> Settings:
    users = tmp_path / "users.yaml"
    write_users(users, {
        "wang": User("wang", "official", hash_password("official-pw", iterations=1_000)),
        "li": User("li", "operator", hash_password("operator-pw", iterations=1_000)),
    })  # fmt: skip
    return web_settings.model_copy(
        update={"web_users_file": users, "audit_log": tmp_path / "audit.jsonl"}
    )


def _login(client: TestClient, name: str, password: str) -> int:
    return client.post("/api/login", json={"username": name, "password": password}).status_code


def test_five_failures_lock_the_name_for_five_minutes(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    settings, clock = _own_users(web_settings, tmp_path), manual_clock()
    with _app(settings, ch, clock) as client:
        assert [_login(client, "wang", f"guess-{n}") for n in range(5)] == [401] * 5
        locked = client.post("/api/login", json={"username": "wang", "password": "official-pw"})
        assert locked.status_code == 429, "the right password must not pass while locked"
        assert "too many failed sign-ins as wang" in locked.json()["detail"]
        assert "set-cookie" not in locked.headers
        assert _login(client, "li", "operator-pw") == 200  # other names are not affected
        clock.advance(5 * 60)
        assert _login(client, "wang", "official-pw") == 200
        # a success forgets earlier failures: four more do not lock
        assert [_login(client, "wang", "guess") for _ in range(4)] == [401] * 4
        assert _login(client, "wang", "official-pw") == 200
    audit = (tmp_path / "audit.jsonl").read_text()
    assert audit.count('"status": 429') == 1 and "guess-" not in audit


def test_a_removed_or_changed_user_loses_the_session(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    settings = _own_users(web_settings, tmp_path)
    with _app(settings, ch, manual_clock()) as client:
        assert _login(client, "wang", "official-pw") == 200
        assert client.get("/api/dashboard/summary").status_code == 200
        users = read_users(settings.web_users_path)
        users["wang"] = User("wang", "developer", users["wang"].password_hash)
        write_users(settings.web_users_path, users)
        assert client.get("/api/dashboard/summary").status_code == 401
        assert _login(client, "wang", "official-pw") == 200  # signs in again, as developer
        assert client.get("/api/dashboard/summary").status_code == 403
        del users["wang"]
        write_users(settings.web_users_path, users)
        assert client.get("/api/catalog/topics").status_code == 401
