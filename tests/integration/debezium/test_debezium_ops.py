"""A Debezium connector paused or failed in Kafka Connect shows in `streamhub health` as down,
with Connect's own words, within a minute.

A PostgreSQL connector file is applied to the stack's worker by the real command; the
normalizer's heartbeat writer (``debezium/ops.py``) asks Connect's REST status and writes
``ops.heartbeat`` to the stack's Kafka; `streamhub health` reads it back. Paused through
``PUT /connectors/{name}/pause`` the link is down with Connect's state; with Connect
unreachable the heartbeat is failed and the link down with why, the password nowhere in it.
(Connect's own FAILED task and its trace: tests/unit/debezium/test_ops_error.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from streamhub.capture.connector import load_connector
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.normalize import heartbeats
from streamhub.debezium.ops import Carried
from streamhub.simulate.institutions import _credit_code
from streamhub.stack.connect import ConnectRest
from streamhub.stack.secrets import stack_secret

from ..commands import run_streamhub
from .test_connect_apply import _remove, connect, source

__all__ = ["connect", "source"]  # fixtures


def _health(settings: Settings, directory: Path, institution: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
        "STREAMHUB_DATA_DIR": str(settings.data_dir),
        "STREAMHUB_CONNECTORS_DIR": str(directory),
    }
    done = run_streamhub(
        "health", "--institution", institution, "--format", "json",
        env=env, cwd=settings.project_dir,
    )  # fmt: skip
    assert done.returncode in (0, 3, 4), done.stderr
    document = json.loads(done.stdout)
    [health] = document["institutions"]
    assert isinstance(health, dict)
    return health


def _until(what: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "Kafka Connect did not get there in time"
        time.sleep(0.5)


def test_a_paused_then_failed_connector_is_down_with_connects_words(
    settings: Settings, connect: ConnectClient, source: str, tmp_path: Path
) -> None:
    name = f"test-ops-{uuid.uuid4().hex[:6]}"
    # an institution of its own (a valid credit code): health shows only this connector
    institution = _credit_code(random.Random(uuid.uuid4().int), "350203", set())
    document = {
        "name": name,
        "institution_id": institution,
        "system": "his",
        "engine": "postgresql",
        "capture_engine": "debezium",
        "connection": {
            "host": settings.postgres_host,
            "port": settings.postgres_port,
            "database": source,
            "user": settings.postgres_user,
            "password_secret": "postgres_password",
        },
        "tables": ["public.visit"],
        "profile": "english_pg",
        "heartbeat_s": 1,
    }
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))
    env = {
        **os.environ,
        "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
        "STREAMHUB_DATA_DIR": str(settings.data_dir),
    }
    config = load_connector(directory / f"{name}.yaml")
    beats = heartbeats(settings, [(config, Carried())], settings.connect_url)
    rest = ConnectRest(connect.url)
    try:
        applied = run_streamhub(
            "connectors", "apply", name, "--connectors-dir", str(directory),
            env=env, cwd=settings.project_dir,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        _until(lambda: beats.beat()[0]["state"] == "streaming")
        beats.producer.flush(10)
        running = _health(settings, directory, institution)
        assert running["hops"]["capture"]["status"] == "healthy", running

        paused_at = time.monotonic()
        rest.request("PUT", f"/connectors/{name}/pause")
        _until(lambda: beats.beat()[0]["state"] == "paused")
        beats.producer.flush(10)
        paused = _health(settings, directory, institution)
        assert time.monotonic() - paused_at < 60
        assert paused["overall"] == "down", paused
        assert f"{name}: connector is paused (connector PAUSED, tasks: PAUSED)" in paused["reason"]

        # failed: Connect unreachable (its REST API on a closed port). A task whose database
        # went away is not used here: Debezium's PostgreSQL task retries a lost connection
        # (RetriableException, "Going to restart connector after 10 sec.") and shows RUNNING
        # (that case, seen through Debezium's own heartbeats: test_debezium_ops_unreachable.py)
        failed_at = time.monotonic()
        unreachable = heartbeats(settings, [(config, Carried())], "http://127.0.0.1:9")
        record = unreachable.beat()[0]
        unreachable.producer.flush(10)
        assert record["state"] == "failed" and record["error"]
        failed = _health(settings, directory, institution)
        assert time.monotonic() - failed_at < 60
        assert failed["overall"] == "down", failed
        assert f"{name}: connector reports failed ({record['error']})" in failed["reason"]
        assert stack_secret(settings, "postgres_password") not in json.dumps(failed)
    finally:
        beats.producer.flush(10)
        _remove(connect, name)


def test_counts_of_a_debezium_source_come_from_its_own_log_once_across_a_restart(
    settings: Settings, source: str, tmp_path: Path
) -> None:
    """The counts-only log reader (a slot of its own, no envelope) writes the minute's
    inserts, updates and deletes to ops.source_counts; restarted from its stored position it
    counts only what came after."""
    from streamhub.capture.positions import PositionStore
    from streamhub.debezium.counts_log import LogCounter
    from streamhub.stack.postgres import Postgres

    name = f"test-counts-{uuid.uuid4().hex[:6]}"
    document = {
        "name": name,
        "institution_id": "12350200154989800X",
        "system": "his",
        "engine": "postgresql",
        "capture_engine": "debezium",
        "connection": {
            "host": settings.postgres_host,
            "port": settings.postgres_port,
            "database": source,
            "user": settings.postgres_user,
            "password_secret": "postgres_password",
        },
        "tables": ["public.visit"],
        "profile": "english_pg",
    }
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(document))
    config = load_connector(tmp_path / f"{name}.yaml")

    def write(*statements: str) -> None:
        with contextlib.closing(Postgres(settings).connect(source)) as conn:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            conn.commit()

    def count(counter: LogCounter, until: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while counter.counted < until and time.monotonic() < deadline:
            counter.step()
        counter.step()  # and read to the head
        return counter.checkpoint(idle=True, everything=True)

    positions = PositionStore(settings)
    counter = LogCounter(settings, config, positions=positions)
    try:
        counter.start()
        write(
            "INSERT INTO public.visit VALUES (3, 1.00), (4, 2.00), (5, 3.00)",
            "UPDATE public.visit SET fee = 9.99 WHERE id = 1",
            "DELETE FROM public.visit WHERE id = 2",
        )
        records = count(counter, 5)
        assert {(r["database"], r["table"]) for r in records} == {(source, "public.visit")}
        totals = [sum(r[op] for r in records) for op in ("inserts", "updates", "deletes")]
        assert totals == [3, 1, 1] and all(r["snapshot_reads"] == 0 for r in records)
        assert all(r["window_start_ms"] % 60_000 == 0 for r in records)
    finally:
        counter.reader.close()

    # restarted: resumes after what it stored, the minute's totals grow by the new change only
    again = LogCounter(settings, config, positions=positions)
    try:
        again.start()
        write("INSERT INTO public.visit VALUES (6, 4.00)")
        later = count(again, 1)
        assert again.counted == 1
        [newest] = later  # only the minute the new change fell in is emitted again
        before = {r["window_start_ms"]: r["inserts"] for r in records}
        # a minute of its own, or the first run's minute with its 3 inserts kept (not recounted)
        assert newest["inserts"] == before.get(newest["window_start_ms"], 0) + 1
    finally:
        again.reader.close()
        positions.forget(f"{name}:counts")
