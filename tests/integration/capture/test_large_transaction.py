"""A 500,000-row PostgreSQL transaction: captured whole by an agent process whose memory does
not grow with it, through a kill -9 in the middle of it.

pgoutput sends a transaction's rows between its Begin and Commit only once it committed,
and a restart resumes at a transaction boundary: the stored position may pass the
transaction only once every one of its rows is acknowledged by Kafka. Killed mid-way, the
next agent reads the whole transaction again (duplicates, never a gap) and, like the first,
holds only what is in flight, not the transaction.

``STREAMHUB_TEST_BIG_TRANSACTION_ROWS`` sets the size (default 500,000).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.positions import PositionStore
from streamhub.capture.postgres.pgoutput import parse_lsn
from streamhub.config import Settings
from streamhub.stack.postgres import Postgres

from .helpers import wait_until

ROWS = int(os.environ.get("STREAMHUB_TEST_BIG_TRANSACTION_ROWS", "500000"))
INSTITUTION = "123502001549897397"
# what the agent may add to its idle RSS while the whole transaction passes through it: what
# is in flight (the producer's queue, bounded in bytes) and the read batch; holding the
# transaction would take well over a gigabyte
GROWTH_LIMIT_MB = 200


@pytest.fixture
def database(settings: Settings) -> Iterator[str]:
    name = f"cap_big_{uuid.uuid4().hex[:8]}"
    server = Postgres(settings).connect()
    server.autocommit = True
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield name
    finally:
        with server.cursor() as cur:
            deadline = time.monotonic() + 15
            while True:
                cur.execute(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                    "WHERE database = %s AND active_pid IS NOT NULL",
                    (name,),
                )
                cur.execute(
                    "SELECT slot_name FROM pg_replication_slots "
                    "WHERE database = %s AND active_pid IS NULL",
                    (name,),
                )
                for (slot,) in cur.fetchall():
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                cur.execute(
                    "SELECT count(*) FROM pg_replication_slots WHERE database = %s", (name,)
                )
                row = cur.fetchone()
                if (row is not None and row[0] == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.close()


class KeyTail(threading.Thread):
    """Reads the raw topic from its current end and collects the ids of one table's rows
    from the message keys (canonical JSON), without decoding a value."""

    def __init__(self, settings: Settings, topic: str, table: str) -> None:
        super().__init__(daemon=True)
        self.marker = f'"table":"{table}"'.encode()
        self.ids: set[int] = set()
        self.messages = 0
        self.stop = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"test-big-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment = []
        for partition in partitions:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            assignment.append(TopicPartition(topic, partition, high))
        self.consumer.assign(assignment)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for message in self.consumer.consume(5000, 0.2):
                    key = message.key()
                    if message.error() is None and key and self.marker in key:
                        self.messages += 1
                        self.ids.add(json.loads(key)["key"]["id"])
        finally:
            self.consumer.close()


def _agent(settings: Settings, directory: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STREAMHUB_CAPTURE_GROUP": settings.capture_group,
        "STREAMHUB_CAPTURE_POSITIONS_TOPIC": settings.capture_positions_topic,
    }
    handle = log.open("ab")
    command = [sys.executable, "-m", "streamhub", "capture", "--standalone"]
    return subprocess.Popen(
        [*command, "--connectors-dir", str(directory)], env=env, stdout=handle, stderr=handle
    )


def _memory_mb(agent: subprocess.Popen[bytes]) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of the agent process, in MB."""
    lines = Path(f"/proc/{agent.pid}/status").read_text().splitlines()
    return {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in lines
        if line.startswith(("VmRSS", "VmHWM"))
    }


def _resume_lsn(positions: PositionStore, connector: str) -> int:
    state = positions.load(connector) or {}
    return parse_lsn(state["resume"]) if state.get("resume") else 0


def test_a_500k_row_transaction_is_captured_whole_with_bounded_memory_across_kill_9(
    capture_settings: Settings, connectors_dir: Path, tmp_path: Path, database: str
) -> None:
    settings = capture_settings
    conn = Postgres(settings).connect(database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, note text, fee numeric(10,2), "
            "at timestamp(3))"
        )
    document = {
        "name": f"pgbig-{uuid.uuid4().hex[:8]}",
        "institution_id": INSTITUTION,
        "system": "his",
        "engine": "postgresql",
        "connection": {
            "host": settings.postgres_host,
            "port": settings.postgres_port,
            "database": database,
            "user": settings.postgres_user,
            "password_secret": "postgres_password",
        },
        "tables": ["public.big"],
        "profile": "english_pg",
    }
    config = ConnectorConfig.model_validate(document)
    (connectors_dir / f"{config.name}.yaml").write_text(yaml.safe_dump(document))
    tail = KeyTail(settings, config.topic, f"{database}.public.big")
    tail.start()
    log = tmp_path / "agent.log"
    positions = PositionStore(settings)
    first = _agent(settings, connectors_dir, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_until(lambda: positions.load(config.name) is not None, 60), log.read_text()
        time.sleep(2)
        idle_mb = _memory_mb(first)["VmRSS"]
        with conn.cursor() as cur:  # one transaction, one commit
            cur.execute(
                "INSERT INTO big SELECT g, 'visit note ' || g, (g %% 100000) / 100.0, "
                "timestamp '2026-03-02 08:00' + g * interval '1 millisecond' "
                "FROM generate_series(1, %s) g",
                (ROWS,),
            )
            cur.execute("SELECT pg_current_wal_lsn()::text")
            row = cur.fetchone()
            assert row is not None
            end_lsn = parse_lsn(row[0])  # at or after the transaction's commit

        # kill -9 once a fifth of the rows are in Kafka: mid-transaction
        assert wait_until(lambda: len(tail.ids) >= ROWS // 5, 300, 0.05), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        time.sleep(3)  # let the tail read what the killed agent delivered
        seen_before_restart = len(tail.ids)
        stored = _resume_lsn(positions, config.name)
        # the checkpoint rule: a position past the transaction only once all of it is in Kafka
        assert stored < end_lsn or seen_before_restart == ROWS, (stored, end_lsn)

        second = _agent(settings, connectors_dir, log)
        assert wait_until(lambda: _resume_lsn(positions, config.name) >= end_lsn, 600, 0.5), (
            f"{len(tail.ids)} of {ROWS} rows; {log.read_text()[-2000:]}"
        )
        memory = _memory_mb(second)  # the peak covers the whole transaction, read again
        assert wait_until(lambda: len(tail.ids) == ROWS, 60, 0.2)
    finally:
        for agent in (first, second):
            if agent is not None and agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(30)
                except subprocess.TimeoutExpired:
                    agent.kill()
        tail.stop.set()
        tail.join(30)
        conn.close()
    assert tail.ids == set(range(1, ROWS + 1))
    assert tail.messages >= ROWS  # the re-read after the kill repeats what was sent
    growth = memory["VmHWM"] - idle_mb
    assert growth < GROWTH_LIMIT_MB, (
        f"agent RSS idle {idle_mb:.0f} MB, peak {memory['VmHWM']:.0f} MB while capturing a "
        f"{ROWS:,}-row transaction"
    )
    print(
        f"\n{ROWS:,}-row transaction: agent RSS idle {idle_mb:.0f} MB, peak "
        f"{memory['VmHWM']:.0f} MB (+{growth:.0f} MB); {tail.messages:,} messages for "
        f"{len(tail.ids):,} rows; {seen_before_restart:,} rows in Kafka before the kill -9"
    )
