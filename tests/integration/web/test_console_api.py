"""The operations console: reconciliation, anomalies, quality from ClickHouse; health and
acknowledgements through the real Kafka of the local stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from streamhub.config import Settings
from tests.integration.web import data
from tests.integration.web.conftest import AppFactory, sign_in

HOPS = ["source", "capture", "channel", "processing", "center"]


@pytest.fixture
def operator(client: TestClient, ops: dict[str, Any]) -> TestClient:
    return sign_in(client, "li")


def test_reconciliation_windows_daily_and_filters(operator: TestClient) -> None:
    body = operator.get("/api/console/reconciliation").json()
    assert len(body["windows"]) == 5  # the 72 h old window is outside the default 24 h
    assert {w["name"] for w in body["windows"]} == {"思明第一医院"}
    assert sum(d["windows"] for d in body["daily"]) >= 5
    missing = operator.get("/api/console/reconciliation", params={"status": "MISSING"}).json()
    assert [w["status"] for w in missing["windows"]] == ["MISSING"]
    older = operator.get("/api/console/reconciliation", params={"hours": 96}).json()
    assert len(older["windows"]) == 6
    other = operator.get("/api/console/reconciliation", params={"institution": data.HULI_B})
    assert other.json() == {"windows": [], "daily": []}


def test_reconciliation_drill_down(operator: TestClient, ops: dict[str, Any]) -> None:
    start = ops["window_start_ms"] + 2 * 60_000
    answer = operator.get(
        "/api/console/reconciliation/window",
        params={"institution": data.SIMING_A, "system": "his", "table": "public.registrations",
                "window_start_ms": start},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window"]["status"] == "MISSING" and body["window"]["difference"] == -1
    assert len(body["neighbours"]) == ops["neighbours"]


def test_anomalies_open_and_all(operator: TestClient) -> None:
    every = operator.get("/api/console/anomalies").json()["anomalies"]
    assert {a["anomaly_id"] for a in every} == {"an-web-1", "an-web-2"}
    opened = operator.get("/api/console/anomalies", params={"open": "true"}).json()["anomalies"]
    assert [(a["anomaly_id"], a["kind"], a["name"]) for a in opened] == [
        ("an-web-1", "DROP", "思明第一医院")
    ]  # fmt: skip


def test_quality_and_dead_letters(operator: TestClient) -> None:
    body = operator.get("/api/console/quality").json()
    assert body["dead_letters"] == [
        {"institution_id": data.HULI_B, "name": "湖里医院", "stage": "standardize",
         "error_type": "InvalidValue", "count": 3}
    ]  # fmt: skip
    assert body["quality"] == [
        {"institution_id": data.SIMING_A, "name": "思明第一医院", "rule": "visit_time_future",
         "dimension": "timeliness", "severity": "warning", "count": 4}
    ]  # fmt: skip


def test_link_health_matrix(operator: TestClient) -> None:
    answer = operator.get("/api/console/health")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["hops"] == HOPS and body["error"] is None
    for institution in body["institutions"]:
        assert set(institution["hops"]) == set(HOPS)
        statuses = {h["status"] for h in institution["hops"].values()}
        assert statuses <= {"ok", "degraded", "down", "unknown"}
        assert institution["overall"]["status"] in statuses
    again = operator.get("/api/console/health").json()
    assert again["generated_at_ms"] == body["generated_at_ms"]  # cached for a few seconds


@pytest.fixture
def suppressions_topic(settings: Settings) -> Iterator[str]:
    topic = f"test-suppressions-{uuid.uuid4().hex[:10]}"
    yield topic
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.delete_topics([topic]).values():
        future.result(30)


def read_all(bootstrap: str, topic: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        records = []
        while (message := consumer.poll(5)) is not None:
            assert message.error() is None, message.error()
            records.append((json.loads(message.key()), json.loads(message.value())))
        return records
    finally:
        consumer.close()


def test_acknowledge_publishes_like_the_cli(
    make_client: AppFactory, ops: dict[str, Any], settings: Settings, suppressions_topic: str
) -> None:
    client = sign_in(make_client(suppressions_topic=suppressions_topic), "li")
    answer = client.post("/api/console/anomalies/an-web-1/ack", json={"note": "维护中"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"anomaly_id": "an-web-1", "acknowledged_by": "li"}
    [(key, value)] = read_all(settings.kafka_bootstrap, suppressions_topic)
    assert key == {"ack": "an-web-1"}
    assert (value["by"], value["note"], value["until_ms"]) == ("li", "维护中", None)
