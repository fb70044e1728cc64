"""The lander's query endpoint, in the lander's own process (its own chDB): named queries
only (issue 14). Each attack is sent as it was sent before the fix, and both the refusal and
the absence of its side effect are checked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from streamhub.land.clickhouse import connect
from streamhub.query import (
    CATALOG,
    DirectQueries,
    LanderQueries,
    NamedQuery,
    QueryBusyError,
    QueryParameterError,
    QueryRefusedError,
    QueryUnavailableError,
    UnknownQueryError,
)
from streamhub.query.reader import READER_SETTINGS, open_reader
from streamhub.query.service import BUSY_WAIT_S, QueryService
from streamhub.query.values import json_value
from tests.integration.commands import STREAMHUB

TOKEN = "query-endpoint-test-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lander:
    port: int
    process: subprocess.Popen[bytes]
    home: Path

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
        """A raw request (headers as given, nothing added but Host), the status and body."""
        given = {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }
        head = "".join(f"{k}: {v}\r\n" for k, v in given.items() if v is not None)
        return raw_request(
            self.port, f"POST /query HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body
        )

    def send(self, request: dict[str, Any]) -> tuple[int, str]:
        return self.post(json.dumps(request).encode())


def raw_request(port: int, data: bytes, timeout_s: float = 15) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks).decode(errors="replace")
    return int(answer.split(" ", 2)[1]), answer.split("\r\n\r\n", 1)[-1]


def _land(
    tmp_path: Path,
    unique: Callable[[str], str],
    new_topic: Callable[..., str],
    env: dict[str, str],
    port: int,
) -> subprocess.Popen[bytes]:
    dsn, db = f"chdb://{tmp_path / 'ch'}", "query_db"
    migrated = subprocess.run(
        [*STREAMHUB, "clickhouse", "migrate", "--dsn", dsn, "--database", db],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    return subprocess.Popen(
        [
            *STREAMHUB,
            "land",
            "--dsn",
            dsn,
            "--database",
            db,
            "--group",
            unique("query"),
            "--topic",
            f"{new_topic('quality')}=ops_quality",
            "--query-port",
            str(port),
            "--dlq-topic",
            new_topic("dlq"),
            "--landed-counts-topic",
            new_topic("counts"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def lander(
    tmp_path: Path, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> Iterator[Lander]:
    home = tmp_path / "home"
    env = {**os.environ, "STREAMHUB_QUERY_TOKEN": TOKEN, "STREAMHUB_DATA_DIR": str(home)}
    port = _free_port()
    process = _land(tmp_path, unique, new_topic, env, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.2)
    yield Lander(port, process, home)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def test_named_queries_with_parameters_and_nothing_else(lander: Lander) -> None:
    queries = LanderQueries(f"http://127.0.0.1:{lander.port}", lambda: TOKEN)
    assert queries.run("ping") == [{"ok": 1}]
    # the lander's own tables, migrated: the endpoint reads its database
    assert queries.run("console.quality", {"since": 0}) == []
    assert (
        queries.run("dashboard.minutes", {"today": "2026-11-25", "last_week": "2026-11-18"}) == []
    )
    assert queries.run("check.encounters_of_day", {"day": "2026-11-25"}) == [
        {"visits": 0, "admissions": 0, "discharges": 0, "inpatients_on_hand": 0}
    ]

    with pytest.raises(UnknownQueryError, match="no named query"):
        queries.run("SELECT 1")
    with pytest.raises(QueryParameterError, match="has no parameter format"):
        queries.run("console.quality", {"since": 0, "format": "x"})
    with pytest.raises(QueryParameterError, match="since must be an integer"):
        queries.run("console.quality", {"since": "0 OR 1=1"})
    with pytest.raises(QueryParameterError, match="status must be one of"):
        queries.run("console.reconciliation.windows", {"since": 0, "status": "x' OR '1"})
    with pytest.raises(QueryRefusedError, match="bearer token"):
        LanderQueries(f"http://127.0.0.1:{lander.port}", lambda: "wrong").run("ping")
    assert queries.run("ping") == [{"ok": 1}]

    lander.process.send_signal(signal.SIGTERM)
    assert lander.process.wait(60) == 0
    with pytest.raises(QueryUnavailableError, match="streamhub land --query-port"):
        queries.run("ping")


class Listener:
    """A TCP port that records whether anything connected (url(), remote(), mysql() …)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def test_every_attack_of_issue_14_is_refused_without_its_side_effect(
    lander: Lander, tmp_path: Path
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("canary-secret-4711\n")
    written, outfile = tmp_path / "written.txt", tmp_path / "outfile.txt"
    listener = Listener()
    at = f"127.0.0.1:{listener.port}"
    attacks = {
        "file() read": f"SELECT * FROM file('{canary}', 'LineAsString')",
        "/proc read": "SELECT * FROM file('/proc/self/environ', 'LineAsString')",
        "INSERT INTO FUNCTION file": f"INSERT INTO FUNCTION file('{written}', 'LineAsString') "
        "SELECT 'operator:x'",
        "INTO OUTFILE": f"SELECT 'x' INTO OUTFILE '{outfile}'",
        "url()": f"SELECT * FROM url('http://{at}/x', 'LineAsString')",
        "remote()": f"SELECT * FROM remote('{at}', system.one)",
        "mysql()": f"SELECT * FROM mysql('{at}', 'db', 't', 'u', 'p')",
        "postgresql()": f"SELECT * FROM postgresql('{at}', 'db', 't', 'u', 'p')",
        "chDB Python()": "SELECT * FROM Python(os)",
        "SETTINGS override": "SELECT 1 SETTINGS max_execution_time=0, max_result_rows=0, "
        "max_memory_usage=0",
    }
    try:
        for attack, sql in attacks.items():
            for request in ({"sql": sql, "parameters": {}}, {"query": sql, "parameters": {}}):
                status, body = lander.send(request)
                assert status == 400, f"{attack}: {status} {body}"
                assert "canary-secret" not in body and "PATH=" not in body, attack
        # a named query with the settings override as an extra field, or as a parameter
        status, body = lander.send(
            {"query": "ping", "parameters": {}, "settings": {"max_execution_time": 0}}
        )
        assert status == 400 and "named queries only" in body
        status, body = lander.send({"query": "ping", "parameters": {"max_execution_time": 0}})
        assert status == 400 and "has no parameter max_execution_time" in body
        status, body = lander.send({"query": "no.such.query", "parameters": {}})
        assert status == 400 and "no named query" in body
        status, body = lander.send({"query": "console.anomaly", "parameters": {"id": 7}})
        assert status == 400 and "parameter id must be a string" in body
        time.sleep(0.5)  # let a connection attempt (had one happened) reach the listener
        assert listener.connections == 0
    finally:
        listener.close()
    assert not written.exists() and not outfile.exists()
    assert canary.read_text() == "canary-secret-4711\n"
    assert lander.process.poll() is None


def test_tokens_and_body_lengths(lander: Lander) -> None:
    ping = json.dumps({"query": "ping"}).encode()
    assert lander.post(ping)[0] == 200
    for authorization in ("Bearer wrong", "Bearer ", "", None):
        status, body = lander.post(ping, {"Authorization": authorization})  # type: ignore[dict-item]
        assert status == 401 and "bearer token" in body, authorization
    # Content-Length -1 once read the whole stream (no cap): now refused before any read
    for length, expected in (
        ("-1", 400),
        ("abc", 400),
        ("1e3", 400),
        (str(10 << 20), 413),
        (None, 411),
    ):
        status, _ = lander.post(ping, {"Content-Length": length})  # type: ignore[dict-item]
        assert status == expected, length
    status, _ = lander.post(
        ping,
        {
            "Content-Length": None,  # type: ignore[dict-item]
            "Transfer-Encoding": "chunked",
        },
    )
    assert status == 411
    # a client that sends headers and then nothing is dropped, not waited for forever
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", lander.port), timeout=30) as s:
        s.sendall(
            f"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        assert s.recv(1024) == b""  # closed by the endpoint
    assert time.monotonic() - started < 20
    assert lander.post(ping)[0] == 200


@pytest.mark.parametrize(
    ("token", "file_token"), [("", None), ("short", None), (None, ""), (None, "x" * 31)]
)
def test_start_up_refuses_an_empty_or_short_token(
    tmp_path: Path,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    token: str | None,
    file_token: str | None,
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "STREAMHUB_QUERY_TOKEN"}
    env["STREAMHUB_DATA_DIR"] = str(home)
    if token is not None:
        env["STREAMHUB_QUERY_TOKEN"] = token
    if file_token is not None:
        (home / "secrets").mkdir(parents=True)
        (home / "secrets" / "query_token").write_text(file_token)
    port = _free_port()
    process = _land(tmp_path, unique, new_topic, env, port)
    try:
        assert process.wait(60) == 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "needs at least 32" in stderr
    assert "query_token" in stderr or "STREAMHUB_QUERY_TOKEN" in stderr


def test_values_are_json_native() -> None:
    assert json_value(float("nan")) is None
    assert json_value((1, "a")) == [1, "a"]


SLOW = NamedQuery("test.slow", "SELECT sum(sleepEachRow(0.5)) AS s FROM numbers(6)")  # 3 s
LIMITS = NamedQuery(
    "test.limits",
    "SELECT name, value FROM system.settings WHERE name IN "
    "('readonly', 'max_execution_time', 'max_result_rows', 'max_memory_usage')",
)


@pytest.fixture
def service(chdb_path: Path, unique: Callable[[str], str]) -> Iterator[QueryService]:
    """The lander's endpoint in this process, on two reading clients of a test catalog."""
    database = unique("query").replace("-", "_")
    connect(f"chdb://{chdb_path}", database, create=True).close()
    catalog = CATALOG.extended([SLOW, LIMITS])
    readers = [
        DirectQueries(open_reader(f"chdb://{chdb_path}", database), catalog) for _ in range(2)
    ]
    service = QueryService(readers, TOKEN, _free_port())
    service.start()
    yield service
    service.stop()


def test_a_slow_query_does_not_hold_up_the_others(service: QueryService) -> None:
    """Before, one client answered one query at a time: a slow query froze `SELECT 1` (and
    the dashboard) for 131 s. Now each reading client is a chDB handle of its own."""
    queries = LanderQueries(f"http://127.0.0.1:{service.port}", lambda: TOKEN)
    slow = threading.Thread(target=queries.run, args=("test.slow",))
    slow.start()
    time.sleep(0.5)  # the slow query is running
    waits = []
    for _ in range(5):
        started = time.monotonic()
        assert queries.run("ping") == [{"ok": 1}]
        waits.append(time.monotonic() - started)
    assert slow.is_alive(), "the slow query ended before the pings were measured"
    assert max(waits) < 0.5, waits

    # both clients busy: another query is told to come back, quickly, not queued
    second = threading.Thread(target=queries.run, args=("test.slow",))
    second.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(QueryBusyError, match="reading slots are busy"):
        queries.run("ping")
    assert time.monotonic() - started < BUSY_WAIT_S + 0.5
    slow.join(10)
    second.join(10)
    assert queries.run("ping") == [{"ok": 1}]


def test_limits_are_fixed_on_the_reading_client(service: QueryService) -> None:
    """Limits set server-side, after which readonly=1 refuses any change of a setting
    (before, readonly=2 let a query lift them) and every table function."""
    queries = LanderQueries(f"http://127.0.0.1:{service.port}", lambda: TOKEN)
    settings = {row["name"]: row["value"] for row in queries.run("test.limits")}
    assert settings == {
        name: str(READER_SETTINGS[name])
        for name in ("readonly", "max_execution_time", "max_result_rows", "max_memory_usage")
    }
    client = service.readers[0].client
    for sql in (
        "SELECT 1 SETTINGS max_execution_time = 0",
        "SET max_result_rows = 0",
        "SET readonly = 0",
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    ):
        with pytest.raises(DatabaseError, match="readonly mode"):
            client.query(sql)


def test_only_plain_selects_can_be_registered() -> None:
    for sql in (
        "SELECT 1 INTO OUTFILE '/tmp/x'",
        "SELECT * FROM file('/etc/passwd')",
        "INSERT INTO FUNCTION file('x') SELECT 1",
        "SELECT 1; DROP TABLE t",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT * FROM remote('h', system.one)",
    ):
        with pytest.raises(ValueError, match="only plain SELECTs"):
            NamedQuery("test.bad", sql)
