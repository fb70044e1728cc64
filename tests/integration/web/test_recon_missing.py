"""The console's missing records of a window: roles and errors against the real Kafka.

What the route answers for a window with missing changes is the drill's JSON, tested with a
real Drill in tests/unit/web/test_recon_diff.py; producing raw envelopes that go missing
takes the whole pipeline (tests/integration/reconcile), too slow to repeat here.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from streamhub.web.recon_diff import READ_TIMEOUT_S
from tests.integration.web import data
from tests.integration.web.conftest import sign_in

ROUTE = "/api/console/reconciliation/missing"


OLD_WINDOW_MS = 1_767_225_600_000  # 2026-01-01T08:00 Shanghai: before the topics' messages


def params(**overrides: Any) -> dict[str, Any]:
    return {
        "institution": data.SIMING_A,
        "system": "his",
        "table": "public.no_such_table",
        "window_start_ms": OLD_WINDOW_MS,
        **overrides,
    }


def test_operators_only(client: TestClient) -> None:
    assert client.get(ROUTE, params=params()).status_code == 401
    answer = sign_in(client, "wang").get(ROUTE, params=params())
    assert answer.status_code == 403, answer.text


def test_a_malformed_institution_is_a_bad_request(client: TestClient) -> None:
    answer = sign_in(client, "li").get(ROUTE, params=params(institution="not-a-code"))
    assert answer.status_code == 400
    assert "unified social credit code" in answer.json()["detail"]


def test_an_unknown_table_or_window_is_not_found_after_reading_kafka(client: TestClient) -> None:
    started = time.monotonic()
    answer = sign_in(client, "li").get(ROUTE, params=params())
    assert answer.status_code == 404, answer.text
    detail = answer.json()["detail"]
    assert f"institution {data.SIMING_A}: no change of public.no_such_table" in detail
    assert "cdc.raw." in detail  # it looked at the raw topics
    assert time.monotonic() - started < 3 * READ_TIMEOUT_S  # bounded, not the CLI's 120 s
