"""A Debezium PostgreSQL connector whose source refuses it is down in `streamhub health`
within a minute, with why, and streams again when the source lets it back in.

Debezium's PostgreSQL task treats a lost connection as retriable and Connect keeps calling
it RUNNING; its own heartbeats on ``dbz.heartbeat`` stop (``debezium/heartbeat_watch.py``).
The shared PostgreSQL server is not stopped (other tests use it): the connector logs in as a
role of its own, which is made NOLOGIN and whose replication backend is terminated; then
LOGIN again.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamhub.capture.connector import load_connector
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.normalize import heartbeats
from streamhub.debezium.ops import Carried, Heartbeats
from streamhub.simulate.institutions import _credit_code
from streamhub.stack.postgres import Postgres

from ..commands import run_streamhub
from .test_connect_apply import _remove, connect, source
from .test_debezium_ops import _health

__all__ = ["connect", "source"]  # fixtures

PASSWORD_ENV = "STREAMHUB_TEST_DBZ_ROLE_PASSWORD"


def _admin(settings: Settings, database: str, *statements: str) -> None:
    with contextlib.closing(Postgres(settings).connect(database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


@pytest.fixture
def role(settings: Settings, source: str) -> Iterator[tuple[str, str]]:
    """A login role of the connector's own (REPLICATION, owner of the captured table, so
    Debezium may create its filtered publication): (name, password)."""
    name, password = f"dbz_role_{uuid.uuid4().hex[:8]}", secrets.token_hex(12)
    _admin(settings, "postgres", f"CREATE ROLE {name} LOGIN REPLICATION PASSWORD '{password}'")
    _admin(
        settings,
        source,
        f'GRANT CONNECT, CREATE ON DATABASE "{source}" TO {name}',
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"ALTER TABLE public.visit OWNER TO {name}",
    )
    yield name, password
    with contextlib.suppress(Exception):
        _admin(settings, "postgres", f"ALTER ROLE {name} LOGIN")
    with contextlib.suppress(Exception):  # its publication and table go back to the admin
        _admin(
            settings, source, f"REASSIGN OWNED BY {name} TO CURRENT_USER", f"DROP OWNED BY {name}"
        )
    with contextlib.suppress(Exception):
        _admin(settings, "postgres", f'REVOKE ALL ON DATABASE "{source}" FROM {name}')
        _admin(settings, "postgres", f"DROP ROLE {name}")


def _beat_until(beats: Heartbeats, state: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        record = beats.beat()[0]
        if record["state"] == state:
            beats.producer.flush(10)
            return record
        assert time.monotonic() < deadline, f"not {state} in {timeout_s} s: {record}"
        time.sleep(1)


def test_a_running_connector_whose_source_refuses_it_is_down_then_streams_again(
    settings: Settings, connect: ConnectClient, source: str, role: tuple[str, str], tmp_path: Path
) -> None:
    user, password = role
    name = f"test-silent-{uuid.uuid4().hex[:6]}"
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
            "user": user,
            "password_env": PASSWORD_ENV,
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
        PASSWORD_ENV: password,
    }
    config = load_connector(directory / f"{name}.yaml")
    beats = heartbeats(settings, [(config, Carried())], settings.connect_url)
    assert beats.watch is not None
    try:
        applied = run_streamhub(
            "connectors", "apply", name, "--connectors-dir", str(directory),
            env=env, cwd=settings.project_dir,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        deadline = time.monotonic() + 90
        while beats.watch.heartbeat_age_s(name) is None:  # Debezium's own heartbeats arrive
            starting = beats.beat()[0]  # Connect may not have assigned the task yet
            assert starting["state"] != "failed", starting
            assert time.monotonic() < deadline, "no Debezium heartbeat on dbz.heartbeat"
            time.sleep(1)
        _beat_until(beats, "streaming", 10)
        assert _health(settings, directory, institution)["hops"]["capture"]["status"] == "healthy"

        # the source refuses the connector: its role cannot log in, its walsender is ended
        refused_at = time.monotonic()
        _admin(
            settings,
            "postgres",
            f"ALTER ROLE {user} NOLOGIN",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{user}'",
        )
        record = _beat_until(beats, "failed", 60)
        assert connect.state(name).state == "RUNNING"  # Connect alone would not tell
        assert record["error"].startswith("no Debezium heartbeat for ")
        assert record["error"].endswith(
            "while Connect reports RUNNING: the source database may be unreachable"
        )
        down = _health(settings, directory, institution)
        took = time.monotonic() - refused_at
        assert took < 60, f"down after {took:.0f} s"
        print(f"down in streamhub health {took:.0f} s after the source refused the connector")
        assert down["overall"] == "down", down
        assert f"{name}: connector reports failed ({record['error']})" in down["reason"]
        assert password not in json.dumps(down)

        # let it back in: Debezium's next retry connects, heartbeats resume
        _admin(settings, "postgres", f"ALTER ROLE {user} LOGIN")
        _beat_until(beats, "streaming", 60)
        again = _health(settings, directory, institution)
        # up again; the outage stays counted as an error for link health's 5 minutes
        assert again["overall"] != "down", again
        assert again["hops"]["capture"]["status"] in ("healthy", "degraded"), again
        assert "connector reports failed" not in again["reason"]
    finally:
        beats.producer.flush(10)
        beats.watch.close()
        _remove(connect, name)
