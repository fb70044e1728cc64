"""Applying a Debezium config: validated by its plugin first, refusals by field, never put."""

from __future__ import annotations

from typing import Any

import pytest

from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.errors import (
    ConnectRequestError,
    ConnectUnreachableError,
    ConnectValidationError,
)
from streamhub.stack.errors import ConnectRestError

CONFIG = {"connector.class": "io.debezium.connector.oracle.OracleConnector", "a": "1"}


class Worker:
    """Stands in for the REST transport: records calls, answers from a table."""

    def __init__(self, validation: dict[str, Any], existing: list[str]) -> None:
        self.validation = validation
        self.existing = existing
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        self.calls.append((method, path, body))
        if path.endswith("/config/validate"):
            return self.validation
        if path == "/connectors":
            return self.existing
        return {}


def _client(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> ConnectClient:
    client = ConnectClient("http://127.0.0.1:1")
    monkeypatch.setattr(client.rest, "request", worker.request)
    return client


def test_a_refused_config_raises_its_errors_by_field_and_is_never_put(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = Worker(
        {
            "error_count": 2,
            "configs": [
                {"value": {"name": "database.port", "errors": []}},
                {"value": {"name": "snapshot.mode", "errors": ["Value must be one of ..."]}},
                {"value": {"name": "database.hostname", "errors": ["Unable to connect"]}},
                {"definition": {"name": "internal.x"}, "value": None},
            ],
        },
        [],
    )
    with pytest.raises(ConnectValidationError) as info:
        _client(worker, monkeypatch).apply("oracle-his", CONFIG)
    assert info.value.errors == {
        "snapshot.mode": ["Value must be one of ..."],
        "database.hostname": ["Unable to connect"],
    }
    assert "oracle-his" in str(info.value) and "snapshot.mode" in str(info.value)
    method, path, body = worker.calls[0]
    assert (method, path) == ("PUT", "/connector-plugins/OracleConnector/config/validate")
    assert body == {"name": "oracle-his", **CONFIG}
    assert [c for c in worker.calls if c[1].startswith("/connectors/")] == []


@pytest.mark.parametrize(("existing", "outcome"), [([], "created"), (["oracle-his"], "updated")])
def test_a_valid_config_is_put_whole_and_says_whether_it_was_new(
    existing: list[str], outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = Worker({"error_count": 0, "configs": []}, existing)
    assert _client(worker, monkeypatch).apply("oracle-his", CONFIG) == outcome
    assert worker.calls[-1] == ("PUT", "/connectors/oracle-his/config", CONFIG)


def test_connects_refusal_and_silence_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ConnectClient("http://127.0.0.1:1")

    def refused(*_: object, **__: object) -> object:
        raise ConnectRestError("Kafka Connect GET /connectors/x/status answered 404: nope", 404)

    monkeypatch.setattr(client.rest, "request", refused)
    with pytest.raises(ConnectRequestError) as info:
        client.state("x")
    assert info.value.status == 404

    def silent(*_: object, **__: object) -> object:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(client.rest, "request", silent)
    with pytest.raises(ConnectUnreachableError, match="stack up --connect"):
        client.connectors()


def test_a_failed_task_carries_the_first_line_of_its_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = ConnectClient("http://127.0.0.1:1")
    status = {
        "connector": {"state": "RUNNING"},
        "tasks": [{"id": 0, "state": "FAILED", "trace": "io.debezium.DebeziumException: x\n\tat"}],
    }
    monkeypatch.setattr(client.rest, "request", lambda *a, **k: status)
    state = client.state("oracle-his")
    assert state.failed
    assert state.tasks == (("FAILED", "io.debezium.DebeziumException: x"),)
