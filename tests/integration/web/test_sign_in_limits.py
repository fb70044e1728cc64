"""Sign-in limits before the hash, absolute session lifetime, security headers, and an audit
trail that names the client and refuses to serve when it cannot record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.config import Settings
from streamhub.web.app import create_app
from streamhub.web.auth import UserStore
from streamhub.web.institutions import Directory
from streamhub.web.throttle import SignInThrottle
from tests.integration.web import data
from tests.integration.web.conftest import KeepOpen, manual_clock, sign_in


def _client(settings: Settings, ch: Client, **options: Any) -> TestClient:
    directory = Directory(lambda: dict(data.NAMES))
    return TestClient(create_app(settings, KeepOpen(ch), directory=directory, **options))


def _login(client: TestClient, name: str, password: str) -> int:
    return client.post("/api/login", json={"username": name, "password": password}).status_code


def _settings(web_settings: Settings, tmp_path: Path) -> Settings:
    return web_settings.model_copy(update={"audit_log": tmp_path / "audit.jsonl"})


def test_rotating_names_is_refused_before_any_hash(
    web_settings: Settings, ch: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = UserStore.authenticate

    def counting(self: UserStore, name: str, password: str) -> object:
        hashed.append(name)
        return real(self, name, password)

    monkeypatch.setattr(UserStore, "authenticate", counting)
    throttle = SignInThrottle(client_max=8, client_window_s=300)
    with _client(_settings(web_settings, tmp_path), ch, throttle=throttle) as client:
        assert [_login(client, f"nobody-{n}", "pw") for n in range(8)] == [401] * 8
        refused = client.post("/api/login", json={"username": "wang", "password": "official-pw"})
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 300
        assert "set-cookie" not in refused.headers
    assert len(hashed) == 8  # the ninth attempt never reached the hash


def test_one_password_against_every_user_meets_the_global_limit(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    throttle = SignInThrottle(global_max=5, global_window_s=60, client_max=100)
    with _client(_settings(web_settings, tmp_path), ch, throttle=throttle) as client:
        statuses = [_login(client, name, "Passw0rd!") for name in ("wang", "li", "zhao") * 2]
        assert statuses == [401] * 5 + [429]


def test_a_polling_tab_is_signed_out_at_the_absolute_lifetime(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    clock = manual_clock()
    settings = _settings(web_settings, tmp_path)
    with sign_in(_client(settings, ch, clock=clock, session_max_s=3600), "wang") as client:
        for _ in range(5):  # polls every 10 minutes keep it from going idle …
            clock.advance(10 * 60)
            assert client.get("/api/me").status_code == 200
        clock.advance(10 * 60)  # … but not past an hour after sign-in
        assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("path", ["/login", "/api/me", "/static/css/app.css", "/dashboard"])
def test_every_answer_carries_the_security_headers(
    web_settings: Settings, ch: Client, tmp_path: Path, path: str
) -> None:
    with _client(_settings(web_settings, tmp_path), ch) as client:
        headers = client.get(path, follow_redirects=False).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_audit_lines_name_the_client_and_its_user_agent(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    settings = _settings(web_settings, tmp_path)
    with _client(settings, ch) as client:
        client.headers["user-agent"] = "Tester/1.0\r\nX-Injected: yes"
        _login(client, "wang", "wrong-password")
    (line,) = [json.loads(x) for x in settings.audit_log_path.read_text().splitlines()]
    assert line["status"] == 401 and line["client"] == "testclient"
    assert line["user_agent"].startswith("Tester/1.0") and "\n" not in line["user_agent"]


def test_nothing_is_served_when_the_audit_line_cannot_be_written(
    web_settings: Settings, ch: Client, tmp_path: Path
) -> None:
    settings = _settings(web_settings, tmp_path)
    with sign_in(_client(settings, ch), "wang") as client:
        audit = settings.audit_log_path
        audit.unlink()
        audit.mkdir()  # unwritable: a directory where the file should be
        answer = client.get("/api/dashboard/summary")
        assert answer.status_code == 503
        assert "totals" not in answer.text and "audit trail unavailable" in answer.text
        assert answer.headers["x-frame-options"] == "DENY"
        page = client.get("/dashboard")
        assert page.status_code == 503 and "<html" not in page.text.lower()
