"""Scale-out by partitions: two `streamhub standardize` workers share a raw topic in one group,
two `streamhub land` processes share std.patient in another; one of each is killed with
SIGKILL mid-run and restarted, and the final ClickHouse state is still exact.

The standardize workers run the `streamhub standardize` command with the raw topic list
replaced by one topic of this test (the command reads the shared cdc.raw.* topics, which other
tests write at the same time: this test's workers would dead-letter their envelopes as coming
from unknown connectors, and the group would never drain).

With embedded chDB one process owns an engine path, so each lander lands into its own chDB
path (a restarted lander reopens its own). Partitions move between the landers at every
rebalance, so a record's versions may be split over the two paths: exactness is asserted over
their union, deduplicated per record id keeping the highest source_position_seq (what
ReplacingMergeTree does within one table), deletes applied — every source key's last change
present once, at its last version.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import envelope, envelope_schema, message_key, subject
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.config import Settings
from streamhub.demo.workers import Workers
from streamhub.kafka.groups import group_lag, pin_to_end, topic_ends
from streamhub.serde.avro_serde import AvroSerde

INSTITUTION = "123502001549897397"
COLUMNS = ("BRID", "XM", "XB", "CSRQ", "ZJLX", "SFZH", "LXDH", "JTDZ", "XZQH", "CJSJ", "XGSJ")
STD = "std.patient"
KEYS = 300
RAW_PARTITIONS = 4


def _connector(directory: Path, name: str, database: str) -> ConnectorConfig:
    document: dict[str, Any] = {
        "name": name,
        "institution_id": INSTITUTION,
        "system": "his",
        "engine": "mariadb",
        "profile": "pinyin_gbk",
        "encoding": "gbk",
        "connection": {"port": 33306, "database": database, "user": "x", "password_env": "NO"},
        "tables": ["GY_BRXX"],
        "mysql": {"server_id": 4243},
    }
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return ConnectorConfig.model_validate(document)


def _row(key: int, version: int) -> dict[str, object]:
    return {
        "BRID": f"P{key:05d}", "XM": f"病人{version}", "XB": "2", "CSRQ": "19491231",
        "ZJLX": "01", "SFZH": "11010519491231002X", "LXDH": "13500000001",
        "JTDZ": "厦门市思明区湖滨南路1号", "XZQH": "350203", "CJSJ": "20260302090000",
        "XGSJ": "20260302091500",
    }  # fmt: skip


class Source:
    """Writes change envelopes of one table to cdc.raw.his and keeps the ledger of each
    key's last change (position seq, deleted or not)."""

    def __init__(
        self, settings: Settings, config: ConnectorConfig, database: str, topic: str
    ) -> None:
        self.topic = topic
        columns = tuple(ColumnInfo(c, "varchar(40)", "string", key=c == "BRID") for c in COLUMNS)
        self.table = TableInfo(database, None, "GY_BRXX", columns)
        self.config = config
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        self.writer = self.serde.register(
            subject(config, self.table), envelope_schema(config, self.table)
        )
        self.producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
        self.seq = 0
        self.last: dict[str, tuple[int, bool]] = {}  # BRID -> (position seq, deleted)

    def change(self, op: str, key: int) -> None:
        self.seq += 1
        row = _row(key, self.seq)
        event = RowEvent(
            table=self.table,
            op=op,  # type: ignore[arg-type]
            before=row if op == "d" else None,
            after=None if op == "d" else row,
            position=f"0-1-{self.seq}",
            position_seq=self.seq << 20,
            txid=None,
            commit_ts_ms=int(time.time() * 1000),
        )
        value = self.serde.encode(self.writer, envelope(self.config, event, event.commit_ts_ms))
        self.producer.produce(self.topic, key=message_key(self.config, event), value=value)
        self.last[str(row["BRID"])] = (event.position_seq, op == "d")

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


class Procs:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, env: dict[str, str], *args: str) -> None:
        """``streamhub <args>``."""
        log = (self.workdir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "streamhub", "--log-level", "info", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill9(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n{tail}")

    def tails(self, lines: int = 8) -> str:
        return "\n".join(
            f"== {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in sorted(self.workdir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    running = Procs(tmp_path)
    yield running
    running.stop_all()


def _wait(condition: Callable[[], bool], procs: Procs, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs.check_alive()
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not {what} within {timeout_s:g} s\n{procs.tails()}")


def _landed(settings: Settings, env: dict[str, str], database: str, source_db: str) -> list[Any]:
    sql = (
        "SELECT record_id, source_key, source_position_seq, deleted FROM std_patient "
        f"WHERE source_database = '{source_db}'"
    )
    done = subprocess.run(
        [sys.executable, "-m", "streamhub", "clickhouse", "query", "--format", "json",
         "--database", database, sql],
        env=env, cwd=settings.project_dir, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _members(admin: AdminClient, group: str) -> dict[str, bool]:
    """Member id -> whether it holds partitions, as the group coordinator sees ``group``."""
    try:
        described = admin.describe_consumer_groups([group])[group].result(10)
    except Exception:  # the group does not exist yet
        return {}
    return {m.member_id: bool(m.assignment.topic_partitions) for m in described.members}


def _sharing(admin: AdminClient, group: str, before: set[str]) -> bool:
    """Whether ``group`` has two members holding partitions, and not the two of ``before``
    (a member killed with -9 stays listed until its session times out: once it is gone and
    its restarted process joined, the survivor shares with a new member)."""
    members = _members(admin, group)
    return len(members) == 2 and all(members.values()) and members.keys() != before


def _rows_landed(log: Path) -> int:
    """The rows a lander reported landed in its last progress line (``--progress-every``)."""
    found = re.findall(r"land: ([\d,]+) rows landed", log.read_text(errors="replace"))
    return int(found[-1].replace(",", "")) if found else 0


def _landed_up_to(settings: Settings, group: str, ends: dict[tuple[str, int], int]) -> bool:
    """Whether ``group`` committed at least ``ends`` on every partition."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        committed = consumer.committed([TopicPartition(t, p) for t, p in ends], timeout=10)
    finally:
        consumer.close()
    return all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in committed)


def test_two_workers_and_two_landers_survive_a_kill_9_each_with_exact_state(
    settings: Settings,
    tmp_path: Path,
    unique: Callable[[str], str],
    new_topic: Callable[..., str],
    admin: AdminClient,
    procs: Procs,
) -> None:
    tag = unique("scale").replace("-", "_")
    connectors = tmp_path / "connectors"
    connectors.mkdir()
    database = f"h_{tag}"[:60]
    config = _connector(connectors, tag.replace("_", "-"), database)
    std_group, land_group = f"{tag}-std", f"{tag}-land"
    raw = new_topic("scale-raw", partitions=RAW_PARTITIONS)
    deadline = time.monotonic() + 30
    while True:  # a topic just created may have no leader for a moment
        try:
            pin_to_end(settings, std_group, [raw])
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    pin_to_end(settings, land_group, [STD])
    paths = {name: tmp_path / f"chdb-{name}" for name in ("land1", "land2")}

    def env(lander: str | None = None) -> dict[str, str]:
        extra = {"STREAMHUB_STANDARDIZE_GROUP": std_group, "STREAMHUB_LANDER_GROUP": land_group}
        if lander is not None:
            extra |= {
                "STREAMHUB_CLICKHOUSE_DSN": f"chdb://{paths[lander]}",
                "STREAMHUB_CLICKHOUSE_DATABASE": "scale",
            }
        return Workers(settings, connectors, tmp_path, extra_env=extra).env()

    for name in paths:
        Workers(settings, connectors, tmp_path, extra_env=env(name)).run_once(
            "clickhouse", "migrate", "--database", "scale"
        )
    land_args = ("land", "--topic", STD, "--database", "scale", "--progress-every", "1")
    for name in ("std1", "std2"):
        procs.start(name, env(), "standardize", "--topic", raw)
    for name in paths:
        procs.start(name, env(name), *land_args)

    before: dict[str, set[str]] = {std_group: set(), land_group: set()}

    def all_sharing() -> bool:
        return all(_sharing(admin, group, members) for group, members in before.items())

    _wait(all_sharing, procs, 60, "sharing the partitions")
    source = Source(settings, config, database, raw)
    for key in range(KEYS):
        source.change("c", key)
    for key in range(0, KEYS, 2):
        source.change("u", key)
    source.flush()
    _wait(lambda: group_lag(settings, std_group, [raw]) < KEYS, procs, 60, "standardizing")
    logs = [tmp_path / f"{name}.log" for name in paths]
    # both landers land their share (of this test's records and of whatever else other tests
    # write to std.patient meanwhile) before one of them dies
    _wait(lambda: all(_rows_landed(log) for log in logs), procs, 30, "landing on both")
    before = {group: set(_members(admin, group)) for group in before}
    # the second phase is written in bursts; one worker and one lander die after the first,
    # with batches in flight, and come back two bursts later
    later = [("u", key) for key in range(1, KEYS, 2)] + [("d", key) for key in range(0, KEYS, 5)]
    later += [("u", key) for key in range(0, KEYS, 3) if key % 5]
    later += [("c", key) for key in range(0, KEYS, 15)]  # deleted, then inserted again
    bursts = [later[i::4] for i in range(4)]
    for number, burst in enumerate(bursts):
        for op, key in burst:
            source.change(op, key)
        source.flush()
        if number == 0:
            time.sleep(0.3)
            procs.kill9("std2")
            procs.kill9("land2")
        if number == 2:
            procs.start("std2", env(), "standardize", "--topic", raw)
            procs.start("land2", env("land2"), *land_args)
            _wait(all_sharing, procs, 60, "sharing the partitions again")
        time.sleep(0.5)

    # every envelope standardized and committed, then every std record of it landed: std.patient
    # is shared with other tests' workers, so the landers' mark is its end once ours are in
    _wait(lambda: group_lag(settings, std_group, [raw]) == 0, procs, 60, "standardized")
    ends = topic_ends(settings, [STD])
    _wait(lambda: _landed_up_to(settings, land_group, ends), procs, 30, "landed")
    procs.stop_all()

    rows = [row for name in paths for row in _landed(settings, env(name), "scale", database)]
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        seq = int(row["source_position_seq"])
        if row["record_id"] not in latest or seq > int(
            latest[row["record_id"]]["source_position_seq"]
        ):
            latest[row["record_id"]] = row
    expected = {seq for seq, deleted in source.last.values() if not deleted}
    live = [r for r in latest.values() if not r["deleted"]]
    assert len(latest) == KEYS  # every source key's record, once
    assert len(live) == len(expected)
    assert sorted(int(r["source_position_seq"]) for r in live) == sorted(expected)
    deleted = {seq for seq, gone in source.last.values() if gone}
    assert {int(r["source_position_seq"]) for r in latest.values() if r["deleted"]} == deleted
