"""The console's lists filtered, worst first and paged in ClickHouse (the module's known rows)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamhub.health.model import Beat, Connector, Observation
from streamhub.web.console import use_health_source
from tests.integration.web import data
from tests.integration.web.conftest import AppFactory, sign_in

SIMING, HULI = "350203", "350206"


@pytest.fixture
def operator(client: TestClient, ops: dict[str, Any]) -> TestClient:
    return sign_in(client, "li")


def starts(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [(w["status"], w["window_start_ms"]) for w in body["windows"]]


def test_reconciliation_list_worst_first_counts_and_pages(
    operator: TestClient, ops: dict[str, Any]
) -> None:
    first = ops["window_start_ms"]
    newest_first = [first + i * 60_000 for i in (4, 3, 1, 0)]  # the MATCH ones
    body = operator.get("/api/console/reconciliation/list").json()
    assert starts(body) == [("MISSING", first + 120_000)] + [("MATCH", t) for t in newest_first]
    assert body["counts"] == {"MATCH": 4, "MISSING": 1, "EXCESS": 0, "LATE": 0, "PENDING": 0}
    assert (body["total"], body["matched"], body["pages"]) == (5, 5, 1)
    assert {w["name"] for w in body["windows"]} == {"思明第一医院"}

    second = operator.get("/api/console/reconciliation/list", params={"page_size": 2, "page": 2})
    assert starts(second.json()) == [("MATCH", t) for t in newest_first[1:3]]
    assert (second.json()["page"], second.json()["pages"]) == (2, 3)
    matched = operator.get(
        "/api/console/reconciliation/list", params={"status": "MATCH", "sort": "newest"}
    ).json()
    assert starts(matched) == [("MATCH", t) for t in newest_first]
    assert matched["matched"] == 4 and matched["counts"]["MISSING"] == 1  # chips: all verdicts
    older = operator.get("/api/console/reconciliation/list", params={"hours": 96}).json()
    assert older["total"] == 6


@pytest.mark.parametrize(
    ("params", "windows"),
    [
        ({"district": SIMING}, 5),
        ({"district": HULI}, 0),
        ({"district": "unknown"}, 0),
        ({"q": "第一"}, 5),  # a name: resolved to ids from the connector files
        ({"q": data.SIMING_A[-8:].lower()}, 5),  # part of the id, any case
        ({"q": "湖里"}, 0),
        ({"institution": data.HULI_B}, 0),
        ({"q": "' OR 1=1 --"}, 0),  # a value, bound: never SQL
    ],
)
def test_who_filters_every_list(operator: TestClient, params: dict[str, str], windows: int) -> None:
    recon = operator.get("/api/console/reconciliation/list", params=params)
    assert recon.status_code == 200, recon.text
    assert recon.json()["total"] == windows
    days = operator.get("/api/console/reconciliation/days", params=params).json()
    assert {d["institution_id"] for d in days["daily"]} == ({data.SIMING_A} if windows else set())
    anomalies = operator.get("/api/console/anomalies", params=params).json()
    assert anomalies["total"] == (2 if windows else 0)


def test_anomalies_states_counts_and_open_only(operator: TestClient) -> None:
    body = operator.get("/api/console/anomalies").json()
    assert body["counts"] == {"open": 1, "suppressed": 0, "recovered": 1}
    assert [a["anomaly_id"] for a in body["anomalies"]] == ["an-web-1", "an-web-2"]  # open first
    recovered = operator.get("/api/console/anomalies", params={"state": "recovered"}).json()
    assert [a["anomaly_id"] for a in recovered["anomalies"]] == ["an-web-2"]
    opened = operator.get("/api/console/anomalies", params={"open": "true"}).json()
    assert [a["anomaly_id"] for a in opened["anomalies"]] == ["an-web-1"]
    assert opened["matched"] == 1


def test_days_page_carries_its_total(operator: TestClient) -> None:
    body = operator.get("/api/console/reconciliation/days", params={"hours": 96}).json()
    assert body["matched"] == len(body["daily"]) >= 1
    assert all("total_rows" not in d for d in body["daily"])
    beyond = operator.get("/api/console/reconciliation/days", params={"hours": 96, "page": 9})
    assert beyond.json()["daily"] == [] and beyond.json()["matched"] == body["matched"]


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 201},
        {"page": 0},
        {"district": "思明区"},
        {"sort": "window_start_ms; DROP TABLE ops_reconciliation"},
        {"q": "x" * 65},
    ],
)
def test_bad_list_parameters_are_refused(operator: TestClient, params: dict[str, Any]) -> None:
    for path in ("reconciliation/list", "reconciliation/days", "anomalies", "health"):
        answer = operator.get(f"/api/console/{path}", params=params)
        assert answer.status_code == 422, (path, answer.text)


def test_health_filtered_through_the_app(make_client: AppFactory) -> None:
    client = sign_in(make_client(), "li")
    now = 1_800_000_000_000
    connectors = tuple(
        Connector(f"{i}-his", i, "his") for i in (data.SIMING_A, data.SIMING_C, data.HULI_B)
    )
    beats = {
        f"{i}-his": (Beat(now - 5_000, "running", 1, 0),) for i in (data.SIMING_A, data.HULI_B)
    }
    observation = Observation(now, now - 900_000, "std", "land", connectors, beats)
    use_health_source(client.app.state.web, lambda: observation)  # type: ignore[attr-defined]
    body = client.get("/api/console/health").json()
    assert body["institutions"][0]["institution_id"] == data.SIMING_C  # down first
    assert body["counts"] == {"down": 1, "degraded": 0, "unknown": 0, "ok": 2}
    districts = {d["code"]: d["institutions"] for d in body["districts"]}
    assert (districts[SIMING], districts[HULI]) == (2, 1)
    ok_siming = client.get("/api/console/health", params={"district": SIMING, "status": "ok"})
    assert [i["institution_id"] for i in ok_siming.json()["institutions"]] == [data.SIMING_A]
    assert ok_siming.json()["institutions"][0]["district"] == "思明区"
