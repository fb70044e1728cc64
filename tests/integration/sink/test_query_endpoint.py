"""The lander's read-only query endpoint, in the lander's own process (its own chDB)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamhub.query import LanderQueries, QueryRefusedError, QueryUnavailableError
from streamhub.query.values import json_value

STREAMHUB = [sys.executable, "-m", "streamhub"]
TOKEN = "query-endpoint-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lander(tmp_path: Path, new_topic: Callable[..., str], unique: Callable[[str], str]
           ) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    dsn, db = f"chdb://{tmp_path / 'ch'}", "query_db"
    env = {**os.environ, "STREAMHUB_QUERY_TOKEN": TOKEN}
    migrated = subprocess.run([*STREAMHUB, "clickhouse", "migrate", "--dsn", dsn, "--database",
                               db], env=env, capture_output=True, text=True, check=False)
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    process = subprocess.Popen(
        [*STREAMHUB, "land", "--dsn", dsn, "--database", db, "--group", unique("query"),
         "--topic", f"{new_topic('quality')}=ops_quality", "--query-port", str(port),
         "--dlq-topic", new_topic("dlq"), "--landed-counts-topic", new_topic("counts")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.2)
    yield port, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def test_reads_with_parameters_refuses_writes_and_wrong_tokens(
    lander: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, process = lander
    queries = LanderQueries(f"http://127.0.0.1:{port}", lambda: TOKEN)
    rows = queries.rows(
        "SELECT {n:UInt32} + 1 AS n, toDecimal64(12.5, 2) AS amount, "
        "toDateTime64('2026-11-25 01:02:03.456', 3, 'UTC') AS at, toDate('2026-11-25') AS day, "
        "name FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        {"n": 41, "t": "std_encounter"},
    )
    assert rows == [{"n": 42, "amount": 12.5, "at": 1795568523456, "day": "2026-11-25",
                     "name": "std_encounter"}]
    # the lander's own tables, migrated: the endpoint reads its database
    assert queries.rows("SELECT count() AS n FROM std_encounter") == [{"n": 0}]

    with pytest.raises(QueryRefusedError, match="readonly"):
        queries.rows("INSERT INTO ops_quality (institution_id) VALUES ('x')")
    with pytest.raises(QueryRefusedError, match="readonly"):
        queries.rows("DROP TABLE std_encounter")
    with pytest.raises(QueryRefusedError, match=r"UNKNOWN_TABLE|does not exist"):
        queries.rows("SELECT * FROM no_such_table")
    with pytest.raises(QueryRefusedError, match="bearer token"):
        LanderQueries(f"http://127.0.0.1:{port}", lambda: "wrong").rows("SELECT 1")
    assert queries.rows("SELECT count() AS n FROM std_encounter") == [{"n": 0}]

    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    with pytest.raises(QueryUnavailableError, match="streamhub land --query-port"):
        queries.rows("SELECT 1")


def test_values_are_json_native() -> None:
    assert json_value(float("nan")) is None
    assert json_value((1, "a")) == [1, "a"]
