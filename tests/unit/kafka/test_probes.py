import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streamhub.core.clock import ManualClock
from streamhub.kafka.errors import KafkaIOError
from streamhub.kafka.probes import (
    PORT_ENV,
    ProbeError,
    Probes,
    ProbeServer,
    clickhouse_check,
    env_port,
)


def _probes(clock: ManualClock) -> Probes:
    return Probes(clock=clock, stuck_after_s=300, startup_s=1800, stale_after_s=30, check_every_s=5)


def test_a_loop_that_stops_turning_is_stale_then_stuck() -> None:
    clock = ManualClock()
    probes = _probes(clock)
    probes.require("land")
    assert probes.liveness().ok  # starting: not stuck yet
    assert not probes.readiness().ok  # but not ready before its first turn
    probes.beat("land")
    assert probes.liveness().ok and probes.readiness().ok
    clock.advance(31)
    ready = probes.readiness()
    assert not ready.ok and "last turn 31.0s ago" in ready.checks["loop:land"]["detail"]
    assert probes.liveness().ok  # slow is not stuck
    clock.advance(270)
    assert not probes.liveness().ok
    probes.beat("land")
    assert probes.liveness().ok and probes.readiness().ok


def test_a_loop_that_never_turns_is_stuck_after_the_startup_grace() -> None:
    clock = ManualClock()
    probes = _probes(clock)
    probes.require("anomaly")
    clock.advance(1700)  # a warm start replaying its history: not stuck, not ready
    assert probes.liveness().ok and not probes.readiness().ok
    clock.advance(101)
    live = probes.liveness()
    assert not live.ok and "no turn yet" in live.checks["loop:anomaly"]["detail"]


def test_a_failing_dependency_makes_it_unready_but_live() -> None:
    clock = ManualClock()
    probes = _probes(clock)
    probes.require("land")
    probes.beat("land")
    reachable = {"kafka": True}

    def kafka() -> str:
        if not reachable["kafka"]:
            raise KafkaIOError("Kafka (k:9092) did not answer")
        return "3 brokers"

    probes.add_check("kafka", kafka)
    assert not probes.readiness().ok  # not checked yet
    probes.run_checks()
    assert probes.readiness().ok
    reachable["kafka"] = False
    probes.run_checks()
    ready = probes.readiness()
    assert not ready.ok
    assert ready.checks["kafka"] == {"ok": False, "detail": "Kafka (k:9092) did not answer"}
    assert probes.liveness().ok  # a restart would not bring Kafka back


def test_a_stalled_checker_is_not_trusted() -> None:
    clock = ManualClock()
    probes = _probes(clock)
    probes.add_check("kafka", lambda: "1 brokers")
    probes.run_checks()
    assert probes.readiness().ok
    clock.advance(16)  # more than 3 check intervals without a check
    assert "checker stalled" in probes.readiness().checks["kafka"]["detail"]


class _Ping(BaseHTTPRequestHandler):
    answer = b"Ok.\n"

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ping" else 404)
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def ping_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_clickhouse_check_pings_without_credentials(ping_server: int) -> None:
    check = clickhouse_check(f"http://user:s3cret-pass@127.0.0.1:{ping_server}/?database=x")
    assert check is not None and check() == "ping ok"
    assert clickhouse_check("chdb:///var/lib/ch") is None  # embedded: nothing to reach


def test_clickhouse_check_failure_names_the_server_masked() -> None:
    check = clickhouse_check("http://user:s3cret-pass@127.0.0.1:9/")
    assert check is not None
    with pytest.raises(KafkaIOError) as failed:
        check()
    assert "s3cret-pass" not in str(failed.value) and "/ping" in str(failed.value)


def _get(port: int, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_the_server_answers_200_or_503_with_why() -> None:
    clock = ManualClock()
    probes = _probes(clock)
    probes.require("land")
    server = ProbeServer(probes, "127.0.0.1", 0)
    server._threads[0].start()  # the HTTP thread only: checks are driven by the test
    try:
        status, body = _get(server.port, "/readyz")
        assert status == 503 and body["checks"]["loop:land"]["ok"] is False
        probes.beat("land")
        assert _get(server.port, "/readyz") == (
            200,
            {
                "ok": True,
                "checks": body["checks"]
                | {"loop:land": {"ok": True, "detail": "last turn 0.0s ago"}},
            },
        )
        assert _get(server.port, "/livez")[0] == 200
    finally:
        server.stop()


def test_env_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PORT_ENV, raising=False)
    assert env_port() is None
    monkeypatch.setenv(PORT_ENV, "8086")
    assert env_port() == 8086
    monkeypatch.setenv(PORT_ENV, "eighty")
    with pytest.raises(ProbeError, match=PORT_ENV):
        env_port()
