"""What the Debezium end-to-end tests share: a Kafka Connect worker of the test's own group,
the rendered connector configs, kill -9 and restart, and the waits for Debezium's snapshots,
its streaming and the pipeline downstream."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka.admin import AdminClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.render import render
from streamhub.kafka.groups import committed_lags, topic_ends
from streamhub.stack import process
from streamhub.stack.connect import ConnectWorker, WorkerOptions
from streamhub.stack.errors import ConnectRestError

from ..capture.helpers import wait_until
from ..pipeline.harness import LANDED_TOPICS, RAW_TOPICS, Pipeline


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def debezium_config(
    settings: Settings, worker: ConnectWorker, config: ConnectorConfig
) -> dict[str, str]:
    """The connector file rendered as `streamhub connectors apply` would (JSON with schemas,
    topic prefix dbz.<name>, heartbeats, the password by reference to this worker's secrets
    file), with this test's topics on one replica."""
    return render(config, settings, worker.secrets_file) | {
        "topic.creation.default.replication.factor": "1"
    }


@contextlib.contextmanager
def connect_worker(settings: Settings, plugins: tuple[str, ...]) -> Iterator[ConnectWorker]:
    """A Kafka Connect worker of its own group (its configs, offsets and status topics)."""
    options = WorkerOptions(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"test-connect-{uuid.uuid4().hex[:8]}",
        rest_port=free_port(),
        heap_mb=512,
        plugins=plugins,
        schemas_enable=True,
        offset_flush_ms=1000,
    )
    # jars resolved once into the stack's data directory (re-resolved when the pom changes)
    connect = ConnectWorker(options, settings.data_dir / "test-connect")
    connect.start(timeout_s=300)
    try:
        yield connect
    finally:
        connect.stop(grace_s=20)
        delete_topics(settings, lambda t: t in options.internal_topics)


def delete_topics(settings: Settings, wanted: Callable[[str], bool]) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [t for t in admin.list_topics(timeout=10).topics if wanted(t)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


def kill_and_restart(connect: ConnectWorker, while_down: Callable[[], None] | None = None) -> None:
    """kill -9 the worker mid-stream, then start it again in the same group: it resumes from
    the source offsets it had flushed (Debezium re-sends what came after them).

    ``while_down`` runs between the two (e.g. waiting until the normalizer reported the
    connectors failed: a restart faster than one heartbeat interval would otherwise hide it).
    """
    assert connect.pid is not None
    os.kill(connect.pid, signal.SIGKILL)
    process.wait_until(
        lambda: not process.alive(connect.pid), "the killed Connect worker to go", 30, None, None
    )
    connect.pid = None
    if while_down is not None:
        while_down()
    connect.start(timeout_s=180)


def failed_beats_seen(
    pipeline: Pipeline, names: set[str], decode: Callable[[bytes], dict[str, Any]]
) -> Callable[[], None]:
    """A ``while_down`` for :func:`kill_and_restart`: waits (up to 60 s) until ops.heartbeat
    holds a failed heartbeat of every connector in ``names``."""

    def failed() -> set[str]:
        return {
            beat["connector"]
            for _, _, value in pipeline.read(["ops.heartbeat"])
            if (beat := decode(value))["connector"] in names and beat["state"] == "failed"
        }

    def wait() -> None:
        seen: set[str] = set()

        def all_failed() -> bool:
            seen.update(failed())
            return seen >= names

        assert wait_until(all_failed, 60, every_s=1.0), f"no failed heartbeat of {names - seen}"

    return wait


def wait_streaming(connect: ConnectWorker, names: list[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            states = [connect.connector_state(n) for n in names]
        except ConnectRestError:  # no status yet, just after the PUT or a restart
            time.sleep(0.5)
            continue
        failed = [
            s for s in states if s[0] == "FAILED" or any(t.startswith("FAILED") for t in s[1])
        ]
        assert not failed, f"Debezium connector failed: {failed}; see {connect.log_file}"
        if all(s[0] == "RUNNING" and s[1] == ["RUNNING"] for s in states):
            return
        time.sleep(0.5)
    raise AssertionError(f"Debezium connectors not running after {timeout_s} s")


def snapshot_done(connect: ConnectWorker, name: str) -> bool:
    """Debezium's stored offset says streaming has begun (the initial snapshot completed)."""
    try:
        offsets = connect.request("GET", f"/connectors/{name}/offsets")["offsets"]
    except Exception:
        return False
    for entry in offsets:
        offset = entry.get("offset") or {}
        if "snapshot" not in offset or str(offset.get("snapshot_completed")).lower() == "true":
            return True
    return False


def wait_snapshots(connect: ConnectWorker, names: list[str], timeout_s: float = 180) -> None:
    """Kill -9 during Debezium's initial snapshot is another story (see the decision record:
    the snapshot restarts and rows deleted meanwhile stay in Kafka); these tests kill streaming."""
    deadline = time.monotonic() + timeout_s
    while not all(snapshot_done(connect, n) for n in names):
        assert time.monotonic() < deadline, f"snapshots not done after {timeout_s} s"
        time.sleep(1)


def processed_through_now(pipeline: Pipeline, timeout_s: float) -> bool:
    """The standardizer, then the lander, committed past where their topics end now: this run's
    changes are landed, whatever other tests write to the shared raw topics meanwhile."""
    settings = pipeline.settings
    stages = (
        (pipeline.standardize_group, RAW_TOPICS),
        (pipeline.lander_group, LANDED_TOPICS),
    )
    for group, topics in stages:
        ends = topic_ends(settings, topics)

        def past(group: str = group, topics: list[str] = topics, ends: Any = ends) -> bool:
            lags = committed_lags(settings.kafka_bootstrap, group, topics)
            return all(lag.committed >= ends.get((lag.topic, lag.partition), 0) for lag in lags)

        if not wait_until(past, timeout_s, every_s=1):
            return False
    return True
