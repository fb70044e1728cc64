"""MUST-SHOW (issue 22): the 质控 API and the institution contact's confinement.

The quality report's fixed dataset (tests/integration/quality/dataset.py, November 2026)
lands for two institutions A and B beside the web tests' rows; work orders of both are
stored through the real :class:`WorkOrderStore` in the same chDB database. Operators get
every institution with source keys; a contact of A gets A only, never a source key, and is
refused every other page, API and institution, with a 403 that names nothing of B.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from streamhub.config import Settings
from streamhub.quality.orders import WorkOrderStore
from streamhub.quality.period import parse_period
from streamhub.quality.render import sections
from streamhub.quality.scores import build_report
from streamhub.web.auth import read_users, write_users
from tests.integration.web.conftest import AppFactory
from tests.integration.web.quality_data import (  # noqa: F401 - fixtures
    PASSWORDS,
    PERIOD,
    TITLES,
    A,
    B,
    app,
    contacts,
    orders,
    quality_rows,
)


def signed(make: AppFactory, user: str) -> TestClient:
    client = make()
    answer = client.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return client


def _rows(report: dict[str, Any], title: str) -> list[list[Any]]:
    return next(s["rows"] for s in report["sections"] if s["title"] == title)


def _headers(report: dict[str, Any], title: str) -> list[str]:
    return next(s["headers"] for s in report["sections"] if s["title"] == title)


def test_operator_report_equals_the_cli_and_exports(
    app: AppFactory,  # noqa: F811 - the fixture imported above
    ch: Client,
) -> None:
    li = signed(app, "li")
    answer = li.get("/api/quality/report", params={"period": PERIOD, "trend": 2})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert [s["title"] for s in report["sections"]] == TITLES
    assert report["source_keys"] is True and "源主键(运维)" in _headers(report, "问题记录")
    # the very rows `streamhub quality report` renders (quality.scores.build_report on ClickHouse)
    expected = build_report(ch, parse_period(PERIOD), trend_periods=2)
    for mine, theirs in zip(
        report["sections"], sections(expected, show_source_keys=True), strict=True
    ):
        assert mine["headers"] == theirs.headers
        # times are compared apart: the JSON path carries epoch ms, the CLI's driver datetimes
        at = mine["headers"].index("时间") if "时间" in mine["headers"] else -1
        assert _without(mine["rows"], at) == _without(theirs.rows, at)
    assert {r[0] for r in _rows(report, "总体评价")} == {A, B, "I1", "合计"}
    assert [p["period"] for p in report["trend"]] == ["2026-10", "2026-11"]

    xlsx = li.get(
        "/api/quality/report.xlsx", params={"period": PERIOD, "institution": A, "trend": 1}
    )
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == TITLES
    sheet = book["总体评价"]
    assert {row[0].value for row in sheet.iter_rows(min_row=2)} == {A, "合计"}
    assert sheet.cell(row=sheet.max_row, column=4).value == 17  # A's, as the CLI test counts
    rule = {"period": PERIOD, "rule": "business_key_unique", "trend": 1}
    page = li.get("/api/quality/report.html", params=rule)
    assert page.status_code == 200 and "问题记录" in page.text and "key-e4" in page.text
    # another rule's records and rows are left out (s2 fails fee_sum_settlement only)
    assert "business_key_unique" in page.text and "fee_sum_settlement" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]

    bad = li.get("/api/quality/report", params={"period": "2026/11"})
    assert bad.status_code == 400 and "give a day" in bad.json()["detail"]
    assert li.get("/api/quality/report", params={"rule": "nope"}).status_code == 400
    listed = li.get("/api/quality/orders").json()["orders"]
    assert {o["order_id"] for o in listed} >= {"wo-a-1", "wo-b-1", "wo-b-2"}
    assert li.get("/api/quality/orders", params={"institution": B}).json()["total"] == 2
    # only contacts act on orders
    assert li.post("/api/quality/orders/wo-a-1/acknowledge", json={}).status_code == 403
    assert li.get("/api/quality/orders/nope").status_code == 404


def _without(rows: list[list[Any]], column: int) -> list[list[Any]]:
    return [[c for i, c in enumerate(row) if i != column] for row in rows]


def _refused(answer: Any, other: str = B) -> None:
    """403, saying nothing of the other institution (its id, its orders)."""
    assert answer.status_code == 403, (answer.request.url, answer.status_code, answer.text)
    assert other not in answer.text and "wo-" not in answer.text


def test_contact_sees_only_their_institution(
    app: AppFactory,  # noqa: F811 - the fixture imported above
    orders: WorkOrderStore,  # noqa: F811
    web_settings: Settings,
) -> None:
    chen = signed(app, "chen")
    me = chen.get("/api/me").json()
    assert (me["role"], me["pages"], me["institution_id"]) == (
        "institution_contact",
        ["quality"],
        A,
    )
    report = chen.get("/api/quality/report", params={"period": PERIOD, "trend": 1}).json()
    assert {r[0] for r in _rows(report, "总体评价")} == {A, "合计"}
    assert {r[0] for r in _rows(report, "问题记录")} == {A}
    assert report["source_keys"] is False and "key-" not in json.dumps(report)
    assert "源主键(运维)" not in _headers(report, "问题记录")
    book = load_workbook(
        io.BytesIO(chen.get("/api/quality/report.xlsx", params={"trend": 1}).content)
    )
    assert book.sheetnames == TITLES
    assert all("key-" not in str(c.value) for s in book for row in s.iter_rows() for c in row)

    # other institutions, by query and by path; every other page and API
    for path in ("/api/quality/report", "/api/quality/report.xlsx", "/api/quality/report.html"):
        _refused(chen.get(path, params={"period": PERIOD, "institution": B}))
    _refused(chen.get("/api/quality/orders", params={"institution": B}))
    foreign, missing = chen.get("/api/quality/orders/wo-b-1"), chen.get("/api/quality/orders/x")
    _refused(foreign)
    assert foreign.json() == missing.json()  # no way to tell whether B's order id exists
    for action in ("acknowledge", "fix"):
        _refused(chen.post(f"/api/quality/orders/wo-b-1/{action}", json={"note": "x"}))
    assert orders.get("wo-b-1").state == "open"
    for path in (
        "/api/console/reconciliation",
        f"/api/console/reconciliation?institution={B}",
        "/api/console/anomalies",
        "/api/dashboard/summary",
        "/api/catalog/topics",
        "/dashboard",
        "/console",
        "/catalog",
    ):
        _refused(chen.get(path))
    assert chen.get("/quality").status_code == 200
    assert chen.get("/", follow_redirects=False).headers["location"] == "/quality"

    # their own orders, and the contact's two actions
    own = chen.get("/api/quality/orders").json()
    assert [o["order_id"] for o in own["orders"]] == ["wo-a-1"]
    assert chen.get("/api/quality/orders/wo-a-1").json()["order"]["institution_id"] == A
    ack = chen.post("/api/quality/orders/wo-a-1/acknowledge", json={"note": "seen"})
    assert ack.status_code == 200 and ack.json()["order"]["state"] == "acknowledged"
    fixed = chen.post("/api/quality/orders/wo-a-1/fix", json={"note": "corrected at source"})
    assert fixed.json()["order"]["state"] == "fix_reported"
    again = chen.post("/api/quality/orders/wo-a-1/acknowledge", json={"note": ""})
    assert again.status_code == 409
    assert [e.to_state for e in orders.audit("wo-a-1")][-2:] == ["acknowledged", "fix_reported"]
    assert orders.audit("wo-a-1")[-1].actor == "chen"

    lines = [json.loads(x) for x in web_settings.audit_log_path.read_text().splitlines()]
    mine = [x for x in lines if x["user"] == "chen"]
    assert any(x["viewed"] == "sign-in" for x in mine)
    assert any(x["viewed"] == "work order wo-a-1 acknowledge" and x["status"] == 200 for x in mine)
    assert any(x["status"] == 403 and "refused" in x["viewed"] for x in mine)

    # bound to another institution in the users file: the session ends at once
    users = read_users(web_settings.web_users_path)
    users["chen"] = dataclasses.replace(users["chen"], institution_id=B)
    write_users(web_settings.web_users_path, users)
    try:
        assert chen.get("/api/quality/orders").status_code == 401
    finally:
        users["chen"] = dataclasses.replace(users["chen"], institution_id=A)
        write_users(web_settings.web_users_path, users)


def test_other_roles_do_not_get_the_quality_page(app: AppFactory) -> None:  # noqa: F811
    for user in ("wang", "zhao"):  # official, developer
        client = signed(app, user)
        assert client.get("/api/quality/report").status_code == 403
        assert client.get("/api/quality/orders").status_code == 403
        assert client.get("/quality").status_code == 403


def test_beside_embedded_chdb_orders_are_read_through_the_lander(
    make_client: AppFactory,
    orders: WorkOrderStore,  # noqa: F811 - the fixture imported above
    contacts: dict[str, str],  # noqa: F811
) -> None:
    """The app's own orders source for a chdb:// DSN: named queries, changes refused."""
    sun = signed(make_client, "sun")  # no store given: settings_store, the module's queries
    listed = sun.get("/api/quality/orders", params={"state": "open"}).json()["orders"]
    assert sorted(o["order_id"] for o in listed) == ["wo-b-1", "wo-b-2"]
    assert {o["institution_id"] for o in listed} == {B}
    _refused(sun.get("/api/quality/orders/wo-a-1"), A)
    refused = sun.post("/api/quality/orders/wo-b-1/acknowledge", json={"note": "seen"})
    assert refused.status_code == 503 and "read-only" in refused.json()["detail"]
    assert orders.get("wo-b-1").state == "open"
