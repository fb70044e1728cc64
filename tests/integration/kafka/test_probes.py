"""A worker that loses Kafka says it is not ready (and stays live), on a real broker.

The shared stack's broker must never stop, so the test starts a private one-node Kafka
(its own data dir and ports, the shared stack's jars), runs a real standardize worker
against it with ``STREAMHUB_PROBE_PORT``, kills the broker with SIGKILL and watches
``/readyz`` turn 503 naming Kafka while ``/livez`` stays 200, then brings the broker back
and sees it ready again.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamhub.config import Settings
from streamhub.stack.kafka import Kafka
from tests.integration.commands import STREAMHUB

READY_WITHIN_S = 120  # a JVM and a Faust worker starting on a busy 2-core machine
UNREADY_WITHIN_S = 30  # checks every 5 s, 3 s timeout, a result older than 15 s is stale


def _free_port_pair() -> int:
    """A port P with P and P + 1 free (the node's broker and controller ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as other:
            try:
                other.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two adjacent free ports on 127.0.0.1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, dict[str, Any]] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    except OSError:
        return None  # not listening (yet)
    finally:
        connection.close()


def _wait_for(
    what: str, probe: Callable[[], tuple[int, dict[str, Any]] | None], wanted: int, within: float
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    last = None
    while time.monotonic() - started < within:
        last = probe()
        if last is not None and last[0] == wanted:
            return last[1], time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"{what}: no {wanted} within {within:.0f}s; last answer {last}")


@pytest.fixture
def private_kafka(settings: Settings, tmp_path: Path) -> Iterator[Kafka]:
    data_dir = tmp_path / "data"
    (data_dir / "kafka").mkdir(parents=True)
    # the shared stack's resolved broker jars (with their pom stamp): no Maven run
    shutil.copytree(settings.data_dir / "kafka" / "lib", data_dir / "kafka" / "lib")
    shutil.copytree(settings.secrets_dir, data_dir / "secrets")  # the worker's pseudonym keys
    private = settings.model_copy(
        update={
            "data_dir": data_dir,
            "kafka_bootstrap": f"127.0.0.1:{_free_port_pair()}",
            "kafka_heap_mb": 256,
        }
    )
    kafka = Kafka(private, brokers=1)
    kafka.up()
    try:
        yield kafka
    finally:
        kafka.stop_node(1, kill=True)


def test_a_worker_that_lost_kafka_is_not_ready_but_live(
    private_kafka: Kafka, unique: Callable[[str], str]
) -> None:
    private = private_kafka.settings
    probe_port = _free_port()
    env = {
        **os.environ,
        "STREAMHUB_DATA_DIR": str(private.data_dir),
        "STREAMHUB_KAFKA_BOOTSTRAP": private.kafka_bootstrap,
        "STREAMHUB_STANDARDIZE_GROUP": unique("probe-std"),
        "STREAMHUB_PROBE_PORT": str(probe_port),
    }
    log = private.data_dir / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [*STREAMHUB, "standardize", "--topic", unique("cdc.raw.probe")],
            env=env,
            cwd=private.project_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ready, took = _wait_for("ready", lambda: _get(probe_port, "/readyz"), 200, READY_WITHIN_S)
        print(f"worker ready after {took:.1f}s: {ready}")
        # both loops turn: Faust's event loop and the hosted confluent batch loop
        assert {"loop:event-loop", "kafka"} <= set(ready["checks"])
        assert any(name.startswith("loop:batch-loop:") for name in ready["checks"])

        private_kafka.stop_node(1, kill=True)  # the only broker: Kafka is gone
        unready, took = _wait_for(
            "not ready", lambda: _get(probe_port, "/readyz"), 503, UNREADY_WITHIN_S
        )
        print(f"not ready {took:.1f}s after the broker was killed: {unready['checks']['kafka']}")
        assert unready["checks"]["kafka"]["ok"] is False
        assert "did not answer" in unready["checks"]["kafka"]["detail"]
        assert all(c["ok"] for n, c in unready["checks"].items() if n.startswith("loop:"))
        live = _get(probe_port, "/livez")
        assert live is not None and live[0] == 200  # lost Kafka is no reason to restart

        private_kafka.start_node(1)
        _, took = _wait_for("ready again", lambda: _get(probe_port, "/readyz"), 200, 90)
        print(f"ready again {took:.1f}s after the broker came back")
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
