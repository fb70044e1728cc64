"""kill -9 after a checkpoint: the restarted app restores it, replays only the inputs after
it, and publishes exactly what one uninterrupted app would have (no window judged before
the checkpoint is published again unless its evidence changed).

Inputs are produced straight onto ops.source_counts / ops.landed_counts (Avro, the real
registry) for a unique institution; the app is the real `streamhub reconcile run`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.topic_names import LANDED_COUNTS, RECONCILIATION, SOURCE_COUNTS
from streamhub.kafka.reading import read_since
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.state_topic import StateTopic
from streamhub.serde.avro_serde import AvroSerde

MINUTE = 60_000
TABLES = ("public.visit", "public.charge")


class Inputs:
    def __init__(self, settings: Settings, institution: str) -> None:
        self.institution = institution
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schemas = settings.project_dir / "avro_schemas"
        self.writers = {
            topic: self.serde.register(f"{topic}-value", load_schema(schemas, path))
            for topic, path in (
                (SOURCE_COUNTS, "ops/source_counts.avsc"),
                (LANDED_COUNTS, "ops/landed_counts.avsc"),
            )
        }
        self.producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})

    def window(self, start: int, table: str, changes: int, landed: list[int]) -> None:
        common = {"institution_id": self.institution, "system": "his", "table": table}
        self.send(
            SOURCE_COUNTS,
            {
                **common,
                "connector": f"{self.institution}-his",
                "database": "hisdb",
                "window_start_ms": start,
                "window_ms": MINUTE,
                "inserts": changes,
                "updates": 0,
                "deletes": 0,
                "snapshot_reads": 0,
                "row_count": None,
                "row_count_position": None,
                "emitted_ts_ms": start + MINUTE + 1_000,
            },
        )
        self.flush(start, table, landed)

    def flush(self, start: int, table: str, versions: list[int]) -> None:
        self.send(
            LANDED_COUNTS,
            {
                "institution_id": self.institution,
                "system": "his",
                "table": table,
                "entity": "encounter",
                "window_start_ms": start,
                "window_ms": MINUTE,
                "upserts": len(versions),
                "deletes": 0,
                "landed_ts_ms": start + MINUTE + 2_000,
                "database": "hisdb",
                "versions": versions,
                "repair_id": None,
            },
        )

    def send(self, topic: str, value: dict[str, Any]) -> None:
        key = f"{self.institution}|{value['table']}|{value['window_start_ms']}".encode()
        self.producer.produce(topic, key=key, value=self.serde.encode(self.writers[topic], value))
        assert self.producer.flush(10) == 0


@pytest.fixture
def reconcile_app(
    settings: Settings, catalog_topics: None, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    group = f"test-reconcile-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
        "STREAMHUB_DATA_DIR": str(settings.data_dir),
        "STREAMHUB_RECONCILE_GROUP": group,
    }
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"reconcile-{len(started)}.log").open("wb")
        command = ["reconcile", "run", "--grace", "1s", "--judge-every", "1"]
        # a short retention: the shared topics hold other runs' hours of input, which a first
        # start (no checkpoint yet) would replay whole
        command += ["--checkpoint-every", "1s", "--retention", "30m"]
        process = subprocess.Popen(
            [sys.executable, "-m", "streamhub", *command],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    start.group = group  # type: ignore[attr-defined]
    start.logs = tmp_path  # type: ignore[attr-defined]
    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def published(settings: Settings, institution: str, since_ms: int) -> list[Result]:
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    out = []
    for message in read_since(settings, [RECONCILIATION], since_ms):
        if message.value is None:
            continue
        result = Result.from_avro(serde.decode(message.value).value)
        if result.institution_id == institution:
            out.append(result)
    return out


def wait_for(
    what: str, check: Callable[[], Any], app: subprocess.Popen[bytes], timeout_s: float = 90.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert app.poll() is None, f"the reconcile app exited ({app.returncode}) before {what}"
        value = check()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_after_a_checkpoint_resumes_from_it(
    settings: Settings, reconcile_app: Callable[[], subprocess.Popen[bytes]]
) -> None:
    institution = f"TEST{uuid.uuid4().hex[:14].upper()}"
    began = int(time.time() * 1000)
    minute = began - began % MINUTE
    w1, w2, w3 = minute - 5 * MINUTE, minute - 4 * MINUTE, minute - 3 * MINUTE
    inputs = Inputs(settings, institution)
    for n, table in enumerate(TABLES):
        inputs.window(w1, table, 2, [n * 10 + 1, n * 10 + 2])
        inputs.window(w2, table, 1, [n * 10 + 3])

    first = reconcile_app()
    wait_for(
        "4 MATCH verdicts",
        lambda: (
            len(
                [
                    r
                    for r in published(settings, institution, began - 10 * MINUTE)
                    if r.status is Status.MATCH
                ]
            )
            == 4
        ),
        first,
    )
    store = StateTopic(settings, reconcile_app.group)  # type: ignore[attr-defined]
    judged_at = int(time.time() * 1000)
    wait_for(
        "a checkpoint after the verdicts",
        lambda: (got := store.load()) and got[0].taken_ms > judged_at,
        first,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)

    # while it is down: a replayed flush of w1 (a duplicate) and a new window short of a row
    inputs.flush(w1, TABLES[0], [1, 2])
    inputs.window(w3, TABLES[0], 2, [31])

    second = reconcile_app()
    wait_for(
        "the tail's verdicts",
        lambda: (
            (r := published(settings, institution, began - 10 * MINUTE))
            and any(x.window_start_ms == w3 for x in r)
            and any(x.revision == 1 for x in r)
        ),
        second,
    )
    time.sleep(3)  # a few more judging passes: nothing else may be published
    results = published(settings, institution, began - 10 * MINUTE)
    log = (reconcile_app.logs / "reconcile-1.log").read_text()  # type: ignore[attr-defined]
    assert "from checkpoint" in log, log[-2000:]
    assert second.poll() is None
    by_window = sorted(
        (r.window_start_ms, r.table, r.revision, r.status.value, r.duplicates) for r in results
    )
    visit, charge = TABLES
    assert by_window == sorted(
        [
            (w1, visit, 0, "MATCH", 0),
            (w1, visit, 1, "MATCH", 2),  # the replayed flush, folded from the tail
            (w1, charge, 0, "MATCH", 0),
            (w2, visit, 0, "MATCH", 0),
            (w2, charge, 0, "MATCH", 0),
            (w3, visit, 0, "MISSING", 0),
        ]
    )
