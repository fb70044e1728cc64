"""The dashboard's numbers equal the rows inserted, per DOMAIN.md; freshness follows landing."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.query import DirectQueries, LanderQueries, QuerySource, QueryUnavailableError
from streamhub.web.dashboard import SUMMARY_TTL_S
from tests.integration.web import data
from tests.integration.web.conftest import AppFactory, KeepOpen, manual_clock, sign_in


@pytest.fixture
def official(client: TestClient) -> TestClient:
    return sign_in(client, "wang")


def by(entries: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {e[key]: e for e in entries}


def test_summary_equals_the_inserted_rows(official: TestClient) -> None:
    summary = official.get("/api/dashboard/summary").json()
    assert summary["totals"] == data.EXPECTED_TOTALS
    institutions = by(summary["by_institution"], "institution_id")
    assert institutions[data.SIMING_A]["figures"] == data.EXPECTED_A
    assert institutions[data.HULI_B]["figures"] == data.EXPECTED_B
    assert institutions[data.SIMING_A]["name"] == "思明第一医院"
    assert institutions[data.HULI_B]["district"] == "湖里区"
    # ranked by visits: A 12, C 7, B hidden (1-4)
    assert [e["institution_id"] for e in summary["by_institution"]] == [
        data.SIMING_A, data.SIMING_C, data.HULI_B
    ]  # fmt: skip
    districts = by(summary["by_district"], "district")
    siming = districts["思明区"]
    assert siming["region_code"] == "350203"
    # 思明's 19 visits are hidden too: beside the total 22 they would give 湖里's 3 away
    # (complementary suppression; its average cost hides with them)
    assert siming["figures"]["visits"] is None and siming["figures"]["discharges"] == 5
    assert siming["figures"]["avg_outpatient_cost"] is None
    assert siming["figures"]["suppressed"] == [
        "visits", "admissions", "exams", "avg_outpatient_cost"
    ]  # fmt: skip
    assert districts["湖里区"]["figures"]["visits"] is None
    assert [e["district"] for e in summary["by_district"]] == ["思明区", "湖里区"]
    assert len(summary["day"]) == 10 and summary["generated_at_ms"] > 0


def test_summary_of_one_district(official: TestClient) -> None:
    summary = official.get("/api/dashboard/summary", params={"district": "湖里区"}).json()
    assert summary["totals"] == data.EXPECTED_B
    assert [e["institution_id"] for e in summary["by_institution"]] == [data.HULI_B]


def test_an_operator_sees_the_dashboard_too(client: TestClient) -> None:
    answer = sign_in(client, "li").get("/api/dashboard/summary")
    assert answer.status_code == 200
    assert answer.json()["totals"]["visits"] == 22


def test_trend_per_minute_against_last_week(official: TestClient) -> None:
    trend = official.get("/api/dashboard/trend", params={"metric": "visits"}).json()
    assert trend["metric"] == "visits"
    today = dict(trend["today"])
    # 00:05: A 6 + B 3; 00:06: A 4 (hidden); 00:07: A 2 emergency (hidden); 00:08: C 7,
    # hidden too: C's only minute would give its hidden 7 back, then 思明's 19, then B's 3
    assert [today[m] for m in ("00:04", "00:05", "00:06", "00:07", "00:08")] == [
        0, 9, None, None, None
    ]  # fmt: skip
    # today runs to now, or to its last minute with data when that lies ahead (00:20 here)
    assert len(trend["today"]) >= 21
    last_week = dict(trend["last_week"])
    assert len(trend["last_week"]) == 1440 and last_week["00:05"] == 5
    assert trend["compare_day"] < trend["day"]
    one = official.get(
        "/api/dashboard/trend", params={"metric": "visits", "institution": data.SIMING_A}
    ).json()
    # A's 6 at 00:05 is hidden: beside the region's 9 it would give B's 3 away
    assert dict(one["today"])["00:05"] is None
    discharges = official.get("/api/dashboard/trend", params={"metric": "discharges"}).json()
    assert dict(discharges["today"])["00:20"] == 5


def test_freshness_is_fresh_then_amber_then_red(make_client: AppFactory) -> None:
    clock = manual_clock()
    client = sign_in(make_client(clock=clock), "wang")
    fresh = client.get("/api/dashboard/freshness").json()
    assert fresh["state"] == "fresh" and fresh["reason"] is None
    assert fresh["last_landed_ms"] > 0 and fresh["age_s"] < 30
    assert (fresh["amber_after_s"], fresh["red_after_s"]) == (30.0, 120.0)
    clock.advance(60)
    amber = client.get("/api/dashboard/freshness").json()
    assert amber["state"] == "amber" and amber["last_landed_ms"] == fresh["last_landed_ms"]
    assert 60 <= amber["age_s"] < 90 and "秒前" in amber["reason"]
    clock.advance(120)
    assert client.get("/api/dashboard/freshness").json()["state"] == "red"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


class Failover:
    """Reads the module's database until told the lander went away, then a dead endpoint."""

    def __init__(self, live: DirectQueries) -> None:
        self.live: QuerySource = live
        self.dead = LanderQueries(f"http://127.0.0.1:{closed_port()}", lambda: "token")
        self.down = False

    def run(self, name: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return (self.dead if self.down else self.live).run(name, parameters)

    def close(self) -> None:
        self.dead.close()


def test_unreachable_clickhouse_is_red_with_a_reason(make_client: AppFactory) -> None:
    dead = LanderQueries(f"http://127.0.0.1:{closed_port()}", lambda: "token")
    with pytest.raises(QueryUnavailableError):
        dead.run("ping")
    client = sign_in(make_client(queries=dead), "wang")
    answer = client.get("/api/dashboard/freshness")
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "red" and "无法读取 ClickHouse" in body["reason"]
    assert body["last_landed_ms"] is None and body["age_s"] is None
    summary = client.get("/api/dashboard/summary")
    assert summary.status_code == 503 and "query endpoint" in summary.json()["detail"]


def test_red_when_landing_stops_keeps_the_last_age(make_client: AppFactory, ch: Client) -> None:
    source = Failover(KeepOpen(ch))
    client = sign_in(make_client(queries=source), "wang")
    seen = client.get("/api/dashboard/freshness").json()
    source.down = True
    body = client.get("/api/dashboard/freshness").json()
    assert body["state"] == "red" and "无法读取 ClickHouse" in body["reason"]
    assert body["last_landed_ms"] == seen["last_landed_ms"]
    assert body["age_s"] >= seen["age_s"]


class CountingQueries(KeepOpen):
    """The module's real queries, noting which ran."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.ran: list[str] = []

    def run(self, name: str, parameters: Any = None) -> list[dict[str, Any]]:
        self.ran.append(name)
        return super().run(name, parameters)


def test_viewers_share_one_computation_of_the_figures(make_client: AppFactory, ch: Client) -> None:
    clock, queries = manual_clock(), CountingQueries(ch)
    official = sign_in(make_client(queries=queries, clock=clock), "wang")
    operator = sign_in(TestClient(official.app), "li")  # another viewer of the same app

    def table_runs() -> int:
        return queries.ran.count("dashboard.minutes")

    first = official.get("/api/dashboard/summary").json()
    assert operator.get("/api/dashboard/summary").json() == first
    assert queries.ran.count("dashboard.today") == 1
    assert table_runs() == 1  # the minute table is read with the summary: one suppression
    clock.advance(SUMMARY_TTL_S)
    assert operator.get("/api/dashboard/summary").status_code == 200
    assert queries.ran.count("dashboard.today") == 2  # figures stay live: recomputed after the TTL

    for viewer in (official, operator):
        assert viewer.get("/api/dashboard/trend", params={"metric": "visits"}).status_code == 200
    assert table_runs() == 2  # the trends come from the same refresh
    assert (
        official.get("/api/dashboard/trend", params={"metric": "admissions"}).json()["metric"]
        == "admissions"
    )
    one = {"metric": "visits", "institution": data.SIMING_A}
    assert official.get("/api/dashboard/trend", params=one).status_code == 200
    assert table_runs() == 2  # one table serves every metric and institution
    assert set(queries.ran) <= {
        "dashboard.today",
        "dashboard.fees",
        "dashboard.freshness",
        "dashboard.minutes",
    }
