"""`streamhub connectors apply` on the stack's Kafka Connect worker, against a real source.

A Debezium PostgreSQL connector file (the stack's PostgreSQL, a database of its own) is
applied by the real command: the connector runs, snapshots the table into
``dbz.<name>.public.visit`` as JSON with its Connect schema, and heartbeats into the
shared ``dbz.heartbeat``. Connect stores the password only as a reference: neither its
REST answer nor its configs topic holds the value. Applying again updates it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.capture.connector import load_connector
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.render import HEARTBEAT_TOPIC, render, stack_secrets_file
from streamhub.stack.connect import (
    STACK_GROUP,
    ConnectRest,
    write_secrets_file,
)
from streamhub.stack.postgres import Postgres
from streamhub.stack.secrets import stack_secret

from ..commands import run_streamhub


@pytest.fixture
def connect(stack_connect: ConnectClient) -> ConnectClient:
    return stack_connect


@pytest.fixture
def source(settings: Settings) -> Iterator[str]:
    """A database of its own on the stack's PostgreSQL, with one small table."""
    database = f"dbz_apply_{uuid.uuid4().hex[:8]}"
    admin = Postgres(settings)
    with contextlib.closing(admin.connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{database}"')
    with contextlib.closing(admin.connect(database)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE public.visit (id integer PRIMARY KEY, fee numeric(10, 2))")
        cur.execute("INSERT INTO public.visit VALUES (1, 12.50), (2, 0.75)")
        conn.commit()
    yield database
    with contextlib.closing(admin.connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            deadline = time.monotonic() + 60
            while True:  # the slot stays active until the deleted connector's task stopped
                cur.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE database = %s AND NOT active",
                    (database,),
                )
                cur.execute(
                    "SELECT count(*) FROM pg_replication_slots WHERE database = %s", (database,)
                )
                row = cur.fetchone()
                if (row and row[0] == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            cur.execute(f'DROP DATABASE IF EXISTS "{database}"')


def _remove(connect: ConnectClient, name: str) -> None:
    rest = ConnectRest(connect.url)
    with contextlib.suppress(Exception):
        rest.request("PUT", f"/connectors/{name}/stop")
        deadline = time.monotonic() + 60
        while connect.state(name).state != "STOPPED" and time.monotonic() < deadline:
            time.sleep(0.3)
        rest.request("DELETE", f"/connectors/{name}/offsets")
    with contextlib.suppress(Exception):
        rest.request("DELETE", f"/connectors/{name}")


def _read(settings: Settings, topic: str, wanted: Any, timeout_s: float = 90) -> Any:
    """The first message of ``topic`` (from its start) that ``wanted`` accepts."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if topic in consumer.list_topics(topic, timeout=5).topics:
                parts = consumer.list_topics(topic, timeout=5).topics[topic].partitions
                if parts:
                    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
                    break
            time.sleep(0.5)
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            if wanted(message):
                return message
    finally:
        consumer.close()
    raise AssertionError(f"nothing wanted arrived in {topic} within {timeout_s} s")


def test_apply_runs_the_rendered_connector_and_the_password_stays_a_reference(
    settings: Settings, connect: ConnectClient, source: str, tmp_path: Path
) -> None:
    name = f"test-apply-{uuid.uuid4().hex[:6]}"
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
        "heartbeat_s": 1,
    }
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))
    password = stack_secret(settings, "postgres_password")
    env = {
        **os.environ,
        "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
        "STREAMHUB_DATA_DIR": str(settings.data_dir),
    }
    args = ("connectors", "apply", name, "--connectors-dir", str(directory))
    try:
        created = run_streamhub(*args, env=env, cwd=settings.project_dir)
        assert created.returncode == 0, created.stderr
        assert created.stdout.startswith(f"{name}: created on ")

        # the snapshot row, as JSON carrying its Connect schema (the fee's Decimal type)
        topic = f"dbz.{name}.public.visit"
        row = _read(settings, topic, lambda m: m.value() is not None)
        event = json.loads(row.value())
        assert event["payload"]["op"] == "r"
        assert event["payload"]["source"]["name"] == f"dbz.{name}"
        after = next(f for f in event["schema"]["fields"] if f["field"] == "after")
        fee = next(f for f in after["fields"] if f["field"] == "fee")
        assert fee["name"] == "org.apache.kafka.connect.data.Decimal"
        # heartbeats are routed into the shared topic, keyed by the connector's prefix
        beat = _read(
            settings,
            HEARTBEAT_TOPIC,
            lambda m: json.loads(m.key())["payload"]["serverName"] == f"dbz.{name}",
        )
        assert "ts_ms" in json.loads(beat.value())["payload"]

        stored = connect.config(name)
        config = load_connector(directory / f"{name}.yaml")
        assert stored["database.password"] == render(config, settings)["database.password"]
        assert password not in json.dumps(stored)
        configs_topic = f"_{STACK_GROUP}_configs"
        mine = _read(settings, configs_topic, lambda m: name.encode() in (m.key() or b""))
        assert password.encode() not in mine.value()
        assert name in connect.connectors() and not connect.state(name).failed

        updated = run_streamhub(*args, env=env, cwd=settings.project_dir)
        assert updated.returncode == 0, updated.stderr
        assert updated.stdout.startswith(f"{name}: updated on ")
    finally:
        _remove(connect, name)
        secrets = stack_secrets_file(settings)
        if secrets.exists():
            kept = dict(
                line.split("=", 1)
                for line in secrets.read_text(encoding="utf-8").splitlines()
                if "=" in line and not line.startswith(f"{name}.")
            )
            write_secrets_file(secrets, kept)
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        with contextlib.suppress(Exception):
            for future in admin.delete_topics([f"dbz.{name}.public.visit"]).values():
                future.result(30)
