"""The web API: sign-in, roles, bad parameters, the audit trail and session expiry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamhub.config import Settings
from tests.integration.web.conftest import PASSWORDS, AppFactory, manual_clock, sign_in
from tests.integration.web.data import SIMING_A

GETS = [
    "/api/me",
    "/api/dashboard/summary",
    "/api/dashboard/trend?metric=visits",
    "/api/dashboard/freshness",
    "/api/console/health",
    "/api/console/reconciliation",
    f"/api/console/reconciliation/window?institution={SIMING_A}&system=his&table=t"
    "&window_start_ms=0",
    "/api/console/anomalies?open=true",
    "/api/console/quality",
    "/api/catalog/topics",
    "/api/catalog/topics/std.encounter",
]
POSTS = ["/api/console/anomalies/an-web-1/ack"]


def audit_lines(settings: Settings) -> list[dict[str, Any]]:
    path = settings.audit_log_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("path", GETS)
def test_every_api_route_wants_a_session(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401
    assert "sign in" in answer.json()["detail"]


@pytest.mark.parametrize("path", POSTS)
def test_acknowledging_wants_a_session(client: TestClient, path: str) -> None:
    answer = client.post(path, json={"note": "x"})
    assert answer.status_code == 401


def test_a_forged_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set("streamhub_session", "forged-token")
    assert client.get("/api/dashboard/summary").status_code == 401


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("zhao", "/api/dashboard/summary"),
        ("zhao", "/api/dashboard/trend?metric=visits"),
        ("zhao", "/api/dashboard/freshness"),
        ("zhao", "/api/console/anomalies"),
        ("wang", "/api/console/health"),
        ("wang", "/api/console/reconciliation"),
        ("wang", "/api/console/quality"),
        ("wang", "/api/catalog/topics"),
        ("li", "/api/catalog/topics"),
        ("li", "/api/catalog/topics/std.encounter"),
    ],
)
def test_roles_are_enforced_on_the_api(client: TestClient, user: str, path: str) -> None:
    answer = sign_in(client, user).get(path)
    assert answer.status_code == 403
    assert "无权访问" in answer.json()["detail"]


def test_an_official_cannot_acknowledge(client: TestClient) -> None:
    answer = sign_in(client, "wang").post("/api/console/anomalies/an-web-1/ack", json={})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("user", "page", "status"),
    [
        ("zhao", "/dashboard", 403),
        ("zhao", "/console", 403),
        ("wang", "/console", 403),
        ("wang", "/catalog", 403),
        ("li", "/catalog", 403),
        ("wang", "/dashboard", 200),
        ("li", "/console", 200),
        ("zhao", "/catalog", 200),
    ],
)
def test_pages_check_roles(client: TestClient, user: str, page: str, status: int) -> None:
    answer = sign_in(client, user).get(page, follow_redirects=False)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"  # not shown again after sign-out


def test_pages_send_strangers_to_sign_in(client: TestClient) -> None:
    for page in ("/dashboard", "/console", "/catalog"):
        answer = client.get(page, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={page}"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/login").status_code == 200


def test_home_is_the_roles_first_page(make_client: AppFactory) -> None:
    for user, home in (("wang", "/dashboard"), ("li", "/dashboard"), ("zhao", "/catalog")):
        answer = sign_in(make_client(), user).get("/", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, home)


def test_sign_in_me_and_sign_out(client: TestClient) -> None:
    answer = client.post("/api/login", json={"username": "li", "password": PASSWORDS["li"]})
    body = answer.json()
    assert (body["user"], body["role"]) == ("li", "operator")
    assert body["pages"] == ["dashboard", "console"]
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert client.get("/api/me").json() == {
        "user": "li", "role": "operator", "pages": ["dashboard", "console"]
    }  # fmt: skip
    assert client.post("/api/logout").status_code == 204
    assert client.get("/api/me").status_code == 401


def test_wrong_password_is_refused_and_audited(client: TestClient, web_settings: Settings) -> None:
    before = len(audit_lines(web_settings))
    answer = client.post("/api/login", json={"username": "wang", "password": "guess-1234"})
    assert answer.status_code == 401
    assert answer.json() == {"detail": "用户名或密码错误 (wrong user name or password)"}
    assert "set-cookie" not in answer.headers
    unknown = client.post("/api/login", json={"username": "nobody", "password": "guess-1234"})
    assert unknown.status_code == 401 and unknown.json() == answer.json()
    lines = audit_lines(web_settings)[before:]
    assert [(e["path"], e["status"], e["user"]) for e in lines] == [
        ("/api/login", 401, None), ("/api/login", 401, None)
    ]  # fmt: skip
    assert "wang" in lines[0]["viewed"]
    assert "guess-1234" not in web_settings.audit_log_path.read_text()


def test_every_request_leaves_one_audit_line(client: TestClient, web_settings: Settings) -> None:
    before = len(audit_lines(web_settings))
    sign_in(client, "wang")
    client.get("/api/dashboard/summary?district=思明区")
    client.get("/api/console/health")  # refused
    client.get("/dashboard")
    client.get("/static/js/i18n.js")  # an asset: not audited
    lines = audit_lines(web_settings)[before:]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("POST", "/api/login", 200),
        ("GET", "/api/dashboard/summary", 200),
        ("GET", "/api/console/health", 403),
        ("GET", "/dashboard", 200),
    ]
    assert {(e["user"], e["role"]) for e in lines} == {("wang", "official")}
    summary = lines[1]
    assert summary["query"] == "district=%E6%80%9D%E6%98%8E%E5%8C%BA"
    assert summary["viewed"] == "dashboard summary of 思明区"
    assert set(summary) == {"ts_ms", "user", "role", "method", "path", "query", "status", "viewed",
                            "client", "user_agent"}  # fmt: skip
    cookie = client.cookies.get("streamhub_session")
    assert cookie and cookie not in web_settings.audit_log_path.read_text()


def test_sessions_expire_after_idle_time(make_client: AppFactory) -> None:
    clock = manual_clock()
    client = sign_in(make_client(clock=clock), "wang")
    clock.advance(29 * 60)
    assert client.get("/api/me").status_code == 200  # activity restarts the idle time
    clock.advance(29 * 60)
    assert client.get("/api/dashboard/freshness").status_code == 200
    clock.advance(30 * 60)
    answer = client.get("/api/me")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/dashboard/trend?metric=beds", 422, "metric"),
        ("/api/dashboard/trend", 422, "metric"),
        ("/api/dashboard/trend?metric=visits&institution=12345", 400, "credit code"),
        ("/api/dashboard/trend?metric=visits&institution=12350203154989739X", 400, "credit code"),
        ("/api/dashboard/summary?district=火星区", 400, "unknown district"),
        ("/api/console/reconciliation?hours=0", 422, "hours"),
        ("/api/console/reconciliation?hours=100000", 422, "hours"),
        ("/api/console/reconciliation?hours=abc", 422, "hours"),
        ("/api/console/reconciliation?status=FINE", 422, "status"),
        ("/api/console/quality?hours=-1", 422, "hours"),
        ("/api/console/reconciliation/window?institution=x", 422, "system"),
        (f"/api/console/reconciliation/window?institution={SIMING_A}&system=his&table=t"
         "&window_start_ms=1", 404, "no reconciliation window"),
        ("/api/console/anomalies/no-such-anomaly/ack", 404, "no anomaly"),
        ("/api/catalog/topics/std.nothing", 404, "no topic"),
    ],
)  # fmt: skip
def test_bad_parameters_get_a_message(
    client: TestClient, path: str, status: int, words: str
) -> None:
    user = "zhao" if "/catalog/" in path else "li"
    sign_in(client, user)
    answer = client.post(path, json={}) if path.endswith("/ack") else client.get(path)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and words in detail


def test_catalog_lists_topics_with_their_fields(client: TestClient) -> None:
    sign_in(client, "zhao")
    topics = {t["name"]: t for t in client.get("/api/catalog/topics").json()["topics"]}
    assert {"cdc.raw.his", "std.encounter", "ops.anomaly", "dlq.land"} <= set(topics)
    encounter = topics["std.encounter"]
    assert encounter["group"] == "std" and encounter["security_level"] == 3
    assert encounter["owner"] and encounter["description"] and encounter["key"]
    detail = client.get("/api/catalog/topics/std.encounter").json()
    fields = {f["name"]: f for f in detail["fields"]}
    assert fields["institution_id"]["type"] == "string"
    assert fields["institution_id"]["doc"]
    assert "visit_time" in fields and detail["value_schema"] == "std/encounter.avsc"


def test_charting_library_is_served_or_explained(
    client: TestClient, web_settings: Settings
) -> None:
    answer = client.get("/vendor/echarts.min.js")
    path = web_settings.project_dir / "web/node_modules/echarts/dist/echarts.min.js"
    if path.is_file():
        assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    else:
        assert answer.status_code == 503 and "scripts/bootstrap" in answer.json()["detail"]
