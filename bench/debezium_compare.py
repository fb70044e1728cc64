"""Debezium beside streamhub's capture agent on the same workload, in one run.

For each engine (PostgreSQL: Debezium's PostgreSQL connector, pgoutput, a slot and
publication of its own; MariaDB: Debezium's MariaDB connector, one for the server's four
databases, a server id of its own), one simulated hospital's four databases, as in
bench/capture_throughput.py (the agent: four connectors sharing one binlog stream):

1. backlog: both sides take their starting position, both are stopped, the simulator
   writes N changes; then the agent alone drains them, then Debezium alone (one after the
   other: side by side they would share the cores). events/s from start (agent process
   started / Debezium connectors resumed) until every change is readable in Kafka, CPU
   seconds of the process per 10,000 events, and peak RSS during the drain;
2. latency, per rate: fresh databases, one side streaming while the simulator writes at a
   fixed rate; commit → readable in Kafka p50/p99, two ways: against the simulator's
   wall clock right after COMMIT ("sim"), and against the commit time the message itself
   carries ("src": Debezium's source.ts_ms, the agent's envelope commit_ts_ms; MariaDB's
   binlog stamps whole seconds, so its "src" figure is coarse).

Converters: Debezium runs on Kafka Connect 4.0.2 (distributed worker, 768 MB heap) with
Connect's JsonConverter, schemas disabled: a DECIMAL column (a fee) then arrives as base64
of the unscaled integer, its scale lost; the agent writes Avro through the project's
registry, a DECIMAL as its exact digits in a string field. Debezium's own defaults
otherwise (poll interval, batch and queue sizes); its snapshot mode is no_data (the agent
snapshots the small initial state; neither snapshot is measured).

MariaDB: Debezium's MariaDB connector (``io.debezium.connector.mariadb.MariaDbConnector``)
of debezium-connector-mariadb 3.5.0.Final, on the same worker (3.6.1's MySQL connector
refuses MariaDB 10.11, and the MariaDB connector's 3.6.1 does not resolve from the Maven
Central served here; see stack/kafka-connect-mariadb.pom.xml). The workload is the
pinyin_gbk dialect's (GBK bytes in latin1 columns): Debezium decodes those as windows-1252
(some bytes become U+FFFD), the agent with the connector's gbk; neither changes the volume.
Should Connect refuse a connector, the bench prints why and measures the agent alone.

    .venv/bin/python bench/debezium_compare.py [--backlog 60000] [--rates 1000,2000]
        [--duration 20] [--engines postgres,mariadb]

Needs the local stack and the topic catalog applied (`streamhub topics apply`); resolves
Kafka Connect and Debezium 3.6.1.Final jars from Maven Central on first use (into
<data_dir>/bench-connect). Everything it creates (databases, slots, publications, users,
topics, connectors and their offsets, the agent's consumer group) is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture_throughput as ct  # the workload and the agent, shared
from proc_usage import PeakRss, cpu_seconds

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings, load_settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.dialect import available, load
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.verify import drop_databases
from streamhub.stack.connect import ConnectWorker, WorkerOptions
from streamhub.stack.errors import ConnectRestError
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.postgres import Postgres
from streamhub.stack.secrets import stack_secret

DIALECTS = {"postgres": "english_pg", "mariadb": "pinyin_gbk"}
MARIADB_CONNECTOR = "io.debezium.connector.mariadb.MariaDbConnector"  # Debezium 3.5.0.Final
# the name of a secret in the stack's secrets dir (generated on first use), not its value
SECRET = "debezium_password"  # noqa: S105
RAW_TOPICS = ("cdc.raw.his", "cdc.raw.emr", "cdc.raw.lis", "cdc.raw.pacs")
KEY = tuple[str, str, str]  # database, table, primary key value
KEY_COLUMNS = {table.primary_key for name in available() for table in load(name).tables.values()}


# --- receiving: when did each change become readable in Kafka ---------------------------


@dataclass
class Seen:
    count: int = 0
    received: dict[KEY, float] = field(default_factory=dict)  # inserts: first time readable
    source_lag_ms: list[float] = field(default_factory=list)  # readable − carried commit time
    first: float | None = None
    last: float | None = None


Decode = Callable[[bytes], tuple[str, KEY, int] | None]  # op, key of an insert, commit ms


class Receiver(threading.Thread):
    """Reads one side's topics and notes when each change became readable.

    Without ``decode`` (the backlog runs) it only counts, reading no value but the first
    few (until one shows a fee): decoding every message would take CPU from the side it
    measures, on the same two cores. ``belongs`` picks this run's messages by their key.
    """

    def __init__(
        self,
        consumer: Consumer,
        belongs: Callable[[Any], bool],
        decode: Decode | None,
        fee: Callable[[bytes], object],
    ) -> None:
        super().__init__(daemon=True)
        self.consumer = consumer
        self.belongs = belongs
        self.decode = decode
        self.fee_of = fee
        self.seen = Seen()
        self.fee: object = None  # one DECIMAL value as this side delivers it
        self.stop = threading.Event()

    def run(self) -> None:
        seen = self.seen
        while not self.stop.is_set():
            for message in self.consumer.consume(500, 0.1):
                value = message.value()
                if message.error() is not None or value is None or not self.belongs(message):
                    continue  # (Debezium's tombstones after deletes are not changes)
                now = time.time()
                if self.fee is None:
                    self.fee = self.fee_of(value)
                if self.decode is not None:
                    decoded = self.decode(value)
                    if decoded is None:
                        continue
                    op, key, commit_ms = decoded
                    seen.source_lag_ms.append(now * 1000 - commit_ms)
                    if op == "c":
                        seen.received.setdefault(key, now)
                seen.count += 1
                seen.first = seen.first or now
                seen.last = now
        self.consumer.close()


def _primary_key(row: dict[str, Any]) -> str:
    return str(next(v for k, v in row.items() if k in KEY_COLUMNS))


def agent_receiver(
    settings: Settings, connectors: list[ConnectorConfig], decoding: bool
) -> Receiver:
    databases = {c.connection.database for c in connectors}
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    consumer = _consumer(settings)
    assignment = []
    for topic in RAW_TOPICS:  # shared topics: from their end, this run's databases only
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition))
            assignment.append(TopicPartition(topic, partition, high))
    consumer.assign(assignment)

    def belongs(message: Any) -> bool:  # the key: canonical JSON naming database.[schema.]table
        document = json.loads(message.key() or b"{}")
        return str(document.get("table", "")).split(".")[0] in databases

    def decode(value: bytes) -> tuple[str, KEY, int] | None:
        record = serde.decode(value).value
        source, op = record["source"], record["op"]
        if op == "r":
            return None
        key = ("", "", "")
        if op == "c":
            key = (source["database"], source["table"], _primary_key(record["after"]))
        return op, key, int(source["commit_ts_ms"])

    def fee(value: bytes) -> object:
        return (serde.decode(value).value.get("after") or {}).get("fee")

    return Receiver(consumer, belongs, decode if decoding else None, fee)


def debezium_receiver(settings: Settings, topics: list[str], decoding: bool) -> Receiver:
    """From the start of Debezium's topics, created beforehand: assigned, not subscribed by
    pattern (a subscription rebalances, and rewinds, each time Connect creates a topic)."""
    consumer = _consumer(settings)
    consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])

    def decode(value: bytes) -> tuple[str, KEY, int] | None:
        event = json.loads(value)
        op, source = event["op"], event["source"]
        if op == "r":
            return None
        key = ("", "", "")
        if op == "c":
            key = (source["db"], source["table"], _primary_key(event["after"]))
        return op, key, int(source["ts_ms"])

    def fee(value: bytes) -> object:
        return (json.loads(value).get("after") or {}).get("fee")

    return Receiver(consumer, lambda _: True, decode if decoding else None, fee)


def _consumer(settings: Settings, extra: dict[str, Any] | None = None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-dbz-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 5,
            **(extra or {}),
        }
    )


# --- Debezium's side: a user, publications, connectors ------------------------------------


class Debezium:
    """Debezium connectors for one simulated hospital's databases, on a shared worker."""

    def __init__(
        self,
        worker: ConnectWorker,
        settings: Settings,
        engine: str,
        connectors: list[ConnectorConfig],
    ) -> None:
        self.worker = worker
        self.settings = settings
        self.engine = engine
        self.sources = connectors
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"dbz{self.tag}"
        self.user = f"bench_dbz_{self.tag}"
        self.names: list[str] = []

    def configs(self) -> dict[str, dict[str, str]]:
        common = {
            "tasks.max": "1",
            "database.user": self.user,
            "database.password": self.worker.secret(SECRET),
            "snapshot.mode": "no_data",
            "heartbeat.interval.ms": "1000",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
        }
        if self.engine == "postgres":
            return {
                f"{self.prefix}-{c.system}": common
                | {
                    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                    "plugin.name": "pgoutput",
                    "database.hostname": c.connection.host,
                    "database.port": str(c.connection.port),
                    "database.dbname": c.connection.database,
                    "topic.prefix": f"{self.prefix}_{c.system}",
                    "slot.name": f"{self.prefix}_{c.system}",
                    "publication.name": self.prefix,
                    "publication.autocreate.mode": "disabled",
                    "table.include.list": ",".join(c.tables),
                }
                for c in self.sources
            }
        # one MariaDB connector reads the server's binlog for all four databases
        first = self.sources[0]
        return {
            f"{self.prefix}-mariadb": common
            | {
                "connector.class": MARIADB_CONNECTOR,
                "database.hostname": first.connection.host,
                "database.port": str(first.connection.port),
                "database.server.id": str(random.randint(5000, 9000)),  # noqa: S311
                "database.include.list": ",".join(c.connection.database for c in self.sources),
                "topic.prefix": f"{self.prefix}_hospital",
                "snapshot.locking.mode": "none",
                "include.schema.changes": "false",
                # only this run's databases: the shared server's others come and go (tests)
                "schema.history.internal.store.only.captured.databases.ddl": "true",
                "schema.history.internal.store.only.captured.tables.ddl": "true",
                "schema.history.internal.kafka.bootstrap.servers": self.settings.kafka_bootstrap,
                "schema.history.internal.kafka.topic": f"_{self.prefix}_schema_history",
            }
        }

    def topics(self) -> list[str]:
        """The change topics its connectors write (one per table), named as Debezium does."""
        if self.engine == "postgres":
            return [f"{self.prefix}_{c.system}.{t}" for c in self.sources for t in c.tables]
        return [
            f"{self.prefix}_hospital.{c.connection.database}.{t}"
            for c in self.sources
            for t in c.tables
        ]

    def create_topics(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        futures = admin.create_topics([NewTopic(t, 1, 1) for t in self.topics()])
        for future in futures.values():
            future.result()

    def receiver(self, decoding: bool) -> Receiver:
        return debezium_receiver(self.settings, self.topics(), decoding)

    def grant(self) -> None:
        """A user of its own (password from the stack's secrets), with what Debezium needs."""
        password = stack_secret(self.settings, SECRET)
        if self.engine == "postgres":
            admin = Postgres(self.settings)
            with contextlib.closing(admin.connect()) as conn, conn.cursor() as cur:
                conn.autocommit = True
                cur.execute(f'CREATE ROLE "{self.user}" LOGIN REPLICATION PASSWORD %s', (password,))
            for c in self.sources:
                with contextlib.closing(admin.connect(c.connection.database)) as conn:
                    conn.autocommit = True
                    with conn.cursor() as cur:
                        database = c.connection.database
                        cur.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{self.user}"')
                        cur.execute(f'GRANT USAGE ON SCHEMA public TO "{self.user}"')
                        cur.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{self.user}"')
                        tables = ", ".join(c.tables)
                        cur.execute(f"CREATE PUBLICATION {self.prefix} FOR TABLE {tables}")
        else:
            host = self.settings.mariadb_host
            with contextlib.closing(MariaDB(self.settings).connect()) as conn:
                with conn.cursor() as cur:
                    cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (self.user, host, password))
                    cur.execute(
                        "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, "
                        "REPLICATION CLIENT ON *.* TO %s@%s",
                        (self.user, host),
                    )
                conn.commit()
        self.worker.write_secrets({SECRET: password})
        self.create_topics()

    def start(self) -> None:
        """Create the connectors; return once each has committed a streaming offset."""
        for name, config in self.configs().items():
            self.worker.put_connector(name, config)
            self.names.append(name)
        deadline = time.monotonic() + 180
        while not all(self._has_offset(name) for name in self.names):
            for name in self.names:
                try:
                    state, tasks = self.worker.connector_state(name)
                except ConnectRestError as exc:
                    if exc.status != 404:  # 404: created, its status not written yet
                        raise
                    continue
                failed = [t for t in tasks if t.startswith("FAILED")]
                if state == "FAILED" or failed:
                    raise SystemExit(f"Debezium connector {name} failed: {failed or state}")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"Debezium connectors took no position; see {self.worker.log_file}"
                )
            time.sleep(0.5)

    def _has_offset(self, name: str) -> bool:
        try:
            return bool(self.worker.request("GET", f"/connectors/{name}/offsets")["offsets"])
        except Exception:
            return False

    def stop(self) -> None:
        for name in self.names:
            self.worker.stop_connector(name)
        self._wait_state("STOPPED")

    def resume(self) -> None:
        for name in self.names:
            self.worker.resume_connector(name)

    def _wait_state(self, wanted: str) -> None:
        deadline = time.monotonic() + 180
        while any(self.worker.connector_state(n)[0] != wanted for n in self.names):
            if time.monotonic() > deadline:
                raise SystemExit(f"Debezium connectors not {wanted} after 180 s")
            time.sleep(0.2)

    def remove(self) -> None:
        """Connectors and their offsets, then the user (databases are dropped by the caller)."""
        for name in self.names:
            with contextlib.suppress(Exception):
                self.worker.delete_connector(name)

    def drop_user(self) -> None:
        if self.engine == "postgres":
            with contextlib.closing(Postgres(self.settings).connect()) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f'DROP ROLE IF EXISTS "{self.user}"')
        else:
            with contextlib.closing(MariaDB(self.settings).connect()) as conn:
                with conn.cursor() as cur:
                    cur.execute(
                        "DROP USER IF EXISTS %s@%s", (self.user, self.settings.mariadb_host)
                    )
                conn.commit()


# --- the runs ------------------------------------------------------------------------------


@dataclass
class Usage:
    seconds: float
    drained: int
    cpu_s: float
    peak_rss: int
    first_last_s: float | None = None
    total: int = 0  # changes received in all, a few seconds after the drain


@dataclass
class Run:
    """One engine's databases, both sides set up, and what to remove afterwards."""

    settings: Settings
    directory: Path
    simulation: ct.TimedSimulation
    connectors: list[ConnectorConfig]
    debezium: Debezium
    agents: list[ct.Agent] = field(default_factory=list)

    def start_agent(self) -> ct.Agent:
        agent = ct.Agent(self.settings, self.directory, self.connectors)
        self.agents.append(agent)
        return agent


@contextlib.contextmanager
def prepared(
    worker: ConnectWorker, engine: str, rate: float, duration: float, paced: bool
) -> Iterator[Run]:
    settings = ct.isolated(load_settings())
    directory = Path(tempfile.mkdtemp(prefix="bench-dbz-"))
    simulation, connectors = ct.prepare(
        settings, DIALECTS[engine], rate, duration, paced, directory
    )
    debezium = Debezium(worker, settings, engine, connectors)
    run = Run(settings, directory, simulation, connectors, debezium)
    try:
        debezium.grant()
        yield run
    finally:
        for agent in run.agents:  # one left running by an error or ^C
            if agent.process.poll() is None:
                agent.stop()
        debezium.remove()
        with contextlib.suppress(Exception):
            drop_databases(settings, read_ledger(directory / "ledger.json"))
        with contextlib.suppress(Exception):
            debezium.drop_user()
        _delete_topics(settings, debezium.prefix, settings.capture_positions_topic)
        _delete_group(settings, settings.capture_group)


def _wait_drained(receiver: Receiver, expected: int, timeout_s: float = 600) -> float:
    began = time.monotonic()
    while receiver.seen.count < expected and time.monotonic() - began < timeout_s:
        time.sleep(0.05)
    return time.monotonic() - began


def backlog(worker: ConnectWorker, engine: str, changes: int) -> dict[str, Any]:
    with prepared(worker, engine, changes / 10, 10.0, False) as run:
        agent = run.start_agent()  # its starting position
        time.sleep(10)  # ...and the small initial snapshot
        agent.stop()
        refused = None
        try:
            run.debezium.start()  # its own slot(s) / binlog position, no data snapshot
            run.debezium.stop()
        except ConnectRestError as exc:  # measure the agent all the same, and say why not
            refused = str(exc)
        report = run.simulation.run()  # the backlog piles up in the logs
        results: dict[str, Any] = {"changes": report.written, "debezium": refused}

        receiver = agent_receiver(run.settings, run.connectors, decoding=False)
        receiver.start()
        began = time.monotonic()
        agent = run.start_agent()
        rss = PeakRss(agent.process.pid)
        rss.start()
        seconds = (time.monotonic() - began) + _wait_drained(receiver, report.written)
        results["agent"] = _usage(seconds, receiver, cpu_seconds(agent.process.pid), rss)
        _settle(results["agent"], receiver)
        results["agent_fee"] = receiver.fee
        agent.stop()
        receiver.stop.set()
        if refused is not None:
            return results

        receiver = run.debezium.receiver(decoding=False)
        receiver.start()
        assert worker.pid is not None
        cpu_before = cpu_seconds(worker.pid)
        rss = PeakRss(worker.pid)
        rss.start()
        run.debezium.resume()
        seconds = _wait_drained(receiver, report.written)
        cpu = cpu_seconds(worker.pid) - cpu_before
        results["debezium"] = _usage(seconds, receiver, cpu, rss)
        _settle(results["debezium"], receiver)
        results["debezium_fee"] = receiver.fee
        receiver.stop.set()
        return results


def _settle(usage: Usage, receiver: Receiver) -> None:
    """What arrives after the count was reached: the final total."""
    time.sleep(3)
    usage.total = receiver.seen.count


def _usage(seconds: float, receiver: Receiver, cpu: float, rss: PeakRss) -> Usage:
    seen = receiver.seen
    first_last = seen.last - seen.first if seen.first and seen.last else None
    return Usage(seconds, seen.count, cpu, rss.finish(), first_last)


def latency(
    worker: ConnectWorker, engine: str, side: str, rate: float, duration: float
) -> dict[str, Any]:
    with prepared(worker, engine, rate, duration, True) as run:
        if side == "agent":
            agent = run.start_agent()
            time.sleep(10)  # let the initial snapshot finish: this measures streaming
            receiver = agent_receiver(run.settings, run.connectors, decoding=True)
            stop: Callable[[], None] = agent.stop
        else:
            run.debezium.start()
            receiver = run.debezium.receiver(decoding=True)
            stop = run.debezium.stop
        receiver.start()
        run.simulation.committed.clear()  # the warm-up's inserts, written before either side ran
        report = run.simulation.run()
        time.sleep(5)
        stop()
        receiver.stop.set()
        committed = run.simulation.committed
        sim = sorted(
            (receiver.seen.received[k] - t) * 1000
            for k, t in committed.items()
            if k in receiver.seen.received
        )
        src = sorted(receiver.seen.source_lag_ms)
        return {
            "rate": report.rate,
            "inserts": len(committed),
            "matched": len(sim),
            "sim": _percentiles(sim),
            "src": _percentiles(src),
        }


def _percentiles(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    return statistics.median(values), values[max(0, int(len(values) * 0.99) - 1)]


def _delete_group(settings: Settings, group: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.delete_consumer_groups([group], request_timeout=15).values():
        with contextlib.suppress(Exception):  # never formed: nothing to delete
            future.result()


def _delete_topics(settings: Settings, prefix: str, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t in names or prefix in t  # <prefix>_*, __debezium-heartbeat.<prefix>_*, _<prefix>_*
    ]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


# --- output ----------------------------------------------------------------------------------


def _print_backlog(engine: str, results: dict[str, Any]) -> None:
    for side in ("agent", "debezium"):
        u: Usage | str = results[side]
        if isinstance(u, str):
            print(f"{engine:<8} backlog  {side:<8} not measured: {u}", flush=True)
            continue
        per_10k = u.cpu_s / u.drained * 10000 if u.drained else float("nan")
        first_last = (
            f"  (first→last event {u.drained / u.first_last_s:>7,.0f}/s)" if u.first_last_s else ""
        )
        print(
            f"{engine:<8} backlog  {side:<8} {u.drained:>7,} of {results['changes']:,} changes in "
            f"{u.seconds:5.1f} s = {u.drained / u.seconds:>7,.0f} events/s{first_last}  "
            f"CPU {u.cpu_s:5.1f} s = {per_10k:4.2f} s per 10,000  "
            f"peak RSS {u.peak_rss / 2**20:,.0f} MB  (in all {u.total:,})",
            flush=True,
        )


def _print_fee(engine: str, results: dict[str, Any]) -> None:
    if results.get("debezium_fee") is None:
        return
    print(
        f"{engine:<8} a DECIMAL fee as delivered: agent (Avro, exact digits as text) "
        f"{results['agent_fee']!r}, "
        f"Debezium (JSON, no schema) {results['debezium_fee']!r}: base64 of the unscaled "
        "integer, its scale lost",
        flush=True,
    )


def _print_latency(engine: str, side: str, lat: dict[str, Any]) -> None:
    def fmt(pair: tuple[float, float] | None) -> str:
        return "n/a" if pair is None else f"p50 {pair[0]:5.0f} ms  p99 {pair[1]:5.0f} ms"

    print(
        f"{engine:<8} latency  {side:<8} at {lat['rate']:>5,.0f} changes/s: commit→readable "
        f"sim {fmt(lat['sim'])} | src {fmt(lat['src'])}  "
        f"({lat['matched']:,} of {lat['inserts']:,} inserts matched)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=60000, help="backlog run, changes")
    parser.add_argument("--rates", default="1000,2000", help="latency runs, changes/s")
    parser.add_argument("--duration", type=float, default=20.0, help="latency run, seconds")
    parser.add_argument("--engines", default="postgres,mariadb")
    parser.add_argument("--connect-port", type=int, default=38183, help="worker REST port")
    args = parser.parse_args()
    settings = load_settings()
    tag = uuid.uuid4().hex[:6]
    options = WorkerOptions(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"bench-connect-{tag}",
        rest_port=args.connect_port,
    )
    worker = ConnectWorker(options, settings.data_dir / "bench-connect")
    print(
        "Debezium on Kafka Connect 4.0.2 (distributed, 768 MB heap): PostgreSQL connector "
        "3.6.1.Final, MariaDB connector 3.5.0.Final; JsonConverter without schemas: decimals "
        "arrive as base64 of the unscaled integer, scale lost. streamhub agent: Avro through "
        "the schema registry (a DECIMAL as its exact digits).",
        flush=True,
    )
    worker.start()
    try:
        for engine in args.engines.split(","):
            results = backlog(worker, engine, args.backlog)
            _print_backlog(engine, results)
            _print_fee(engine, results)
            sides = ("agent",) if isinstance(results["debezium"], str) else ("agent", "debezium")
            for rate in (float(r) for r in args.rates.split(",")):
                for side in sides:
                    _print_latency(engine, side, latency(worker, engine, side, rate, args.duration))
    finally:
        worker.stop()
        _delete_topics(settings, f"bench-connect-{tag}")


if __name__ == "__main__":
    main()
