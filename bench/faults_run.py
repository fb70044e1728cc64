"""One seeded fault run: sources, pipeline, faults at their times, drain, checks.

Two simulated institutions (h01 on PostgreSQL, c01 on MariaDB) write inserts, updates and
deletes for the run's duration; the capture agent (in a network namespace of its own,
bench/netcut.py) captures both; two standardize workers, the lander, `reconcile run`,
`anomaly run` and `health --serve` run as child processes under a supervisor
(bench/faults_procs.py). The faults of the seeded schedule (bench/faults_plan.py) hit at
their times, each in a thread of its own, so they may overlap. When the writes stop and
every fault is over, the run waits until Kafka holds every source row's last version,
the pipeline's groups have no lag, and reconciliation has judged every window, then
stops the processes and checks (bench/faults_checks.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from faults_checks import (
    Applied,
    HealthSample,
    Verdict,
    anomaly_named,
    dead_letters,
    exact_state,
    health_named,
    reconciliation,
)
from faults_plan import FULL_MATRIX, RESTART_DELAY_S, Fault, FaultPlanError, plan, schedule_text
from faults_procs import Supervisor
from faults_stack import SharedStack
from netcut import Forwarder, Namespace
from region_watch import TopicFollower
from tests.integration.pipeline.harness import (
    RAW_TOPICS,
    Pipeline,
    capture_caught_up,
)

from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.capture.positions import PositionStore
from streamhub.config import Settings
from streamhub.core import topic_names as topics
from streamhub.health.metrics import HOP_STATE, LINK_STATE
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

START = datetime(2026, 3, 2, 8, 30)
RECONCILE_INPUTS = [topics.SOURCE_COUNTS, topics.LANDED_COUNTS, topics.DLQ_STANDARDIZE]
_SAMPLE = re.compile(r"^(\S+)\{([^}]*)\} (\S+)$")


@dataclass
class RunOptions:
    seed: int
    minutes: float = 10.0
    kinds: tuple[str, ...] = FULL_MATRIX
    netcut_s: float = 30.0
    rate: float = 40.0  # changes per wall second, both institutions together
    compression: float = 144.0  # a business day in 10 wall minutes
    reconcile_grace: str = "120s"  # reconcile run's default
    drain_timeout_s: float = 600.0
    broker_for_good: bool = False
    lead_s: float = 45.0
    tail_s: float = 60.0
    stale_after_s: float = 15.0  # anomaly run --stale-after (heartbeats every 5 s)
    health_degraded_s: float = 15.0  # link health's heartbeat_degraded_s
    health_port: int = 27505
    work_dir: Path = Path("/tmp/streamhub-faults")  # noqa: S108 - a bench's scratch
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the test's capture group

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0


@dataclass
class RunResult:
    seed: int
    schedule: list[str]
    verdicts: list[Verdict]
    figures: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


class GatedSimulation(Simulation):
    """The simulator, holding its writes while a database is down (an application's queue)
    and reconnecting once every database is back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Condition()
        self.down = 0  # databases down now

    def _write(self, changes: list[Any]) -> None:
        with self.gate:
            while self.down:
                self.gate.wait()
            super()._write(changes)

    @contextlib.contextmanager
    def database_down(self) -> Iterator[None]:
        """Writes wait (the one in flight ends first) while the block runs; then the next
        write opens fresh connections."""
        with self.gate:
            self.down += 1
        try:
            yield
        finally:
            with self.gate:
                self.down -= 1
                for source in self.sources.values():
                    with contextlib.suppress(Exception):  # it died with its server
                        source.close()
                self.sources.clear()
                self.gate.notify_all()


def _ms() -> int:
    return int(time.time() * 1000)


class FaultRun:
    def __init__(self, options: RunOptions, stack: SharedStack) -> None:
        self.options = options
        self.stack = stack
        self.tag = f"f{options.seed}{uuid.uuid4().hex[:5]}"
        self.prefix = self.tag
        self.work = options.work_dir / self.tag
        self.applied: list[Applied] = []
        self.samples: list[HealthSample] = []
        self.notes: list[str] = []
        self.figures: dict[str, Any] = {}
        self.stop_sampling = threading.Event()
        self.threads: list[threading.Thread] = []

    # -- set-up -----------------------------------------------------------------------------
    def _connectors(self, settings: Settings, simulation: Simulation) -> list[ConnectorConfig]:
        documents = connector_documents(
            settings, simulation.institutions, simulation.dialects, self.prefix
        )
        # MariaDB replication ids of their own (a shared server may serve other runs)
        base = 5000 + (uuid.uuid4().int % 400) * 10
        for n, document in enumerate(documents.values()):
            document["row_count_s"] = 60
            if "mysql" in document:
                document["mysql"] = {**document["mysql"], "server_id": base + n}
        directory = self.work / "connectors"
        write_connectors(directory, documents)
        return load_connectors(directory)

    def run(self) -> RunResult:
        o = self.options
        self.work.mkdir(parents=True, exist_ok=True)
        faults = plan(
            o.seed,
            o.duration_s,
            o.kinds,
            brokers=self.stack.brokers,
            broker_for_good=o.broker_for_good,
            lead_s=o.lead_s,
            tail_s=o.tail_s,
            netcut_s=o.netcut_s,
        )
        if not self.stack.owns_databases and any(f.kind.startswith("restart:") for f in faults):
            raise FaultPlanError("the databases are shared: they are not restarted by this run")
        print(schedule_text(o.seed, o.duration_s, faults), flush=True)
        print(f"work dir {self.work}", flush=True)
        try:
            self.stack.up()
            verdicts = self._run(faults)
        finally:
            self.stack.down()
        return RunResult(o.seed, [f.describe() for f in faults], verdicts, self.figures)

    def _run(self, faults: list[Fault]) -> list[Verdict]:
        o = self.options
        settings = self.stack.settings()
        options = SimulationOptions(
            start=START,
            seed=o.seed,
            hospitals=1,  # h01 on PostgreSQL
            clinics=1,  # c01 on MariaDB
            rate=o.rate,
            duration_s=o.duration_s,
            compression=o.compression,
            db_prefix=self.prefix,
        )
        ledger = self.work / "ledger.json"
        simulation = GatedSimulation(settings, options, ledger)
        simulation.setup()
        try:
            return self._with_sources(settings, simulation, faults)
        finally:
            if not self.stack.owns_databases:
                drop_databases(settings, read_ledger(ledger))

    def _with_sources(
        self, settings: Settings, simulation: GatedSimulation, faults: list[Fault]
    ) -> list[Verdict]:
        o = self.options
        connectors = self._connectors(settings, simulation)
        pipeline = Pipeline(settings, self.work, self.work / "connectors", self.tag)
        base_env = pipeline.env

        def env() -> dict[str, str]:
            return {**base_env(), **self.stack.env(), **o.extra_env}

        pipeline.env = env  # type: ignore[method-assign]
        pipeline.pin_groups_to_end()
        dlq_starts = _ends(settings, list(topics.DEAD_LETTER_TOPICS))
        migrated = pipeline.streamhub("clickhouse", "migrate", timeout=900)
        if migrated.returncode != 0:
            raise RuntimeError(f"clickhouse migrate failed: {migrated.stderr[-1000:]}")
        namespace = Namespace(f"shf-{self.tag}"[:15])
        namespace.create()
        forwarder = Forwarder(namespace, self.stack.forwarded_ports(settings))
        forwarder.start()
        supervisor = Supervisor(self.work / "logs", env, settings.project_dir)
        try:
            return self._pipeline(
                settings, simulation, connectors, pipeline, supervisor, namespace, forwarder,
                faults, dlq_starts,
            )  # fmt: skip
        finally:
            self.stop_sampling.set()
            supervisor.stop_all()
            forwarder.stop()
            namespace.remove()

    def _start_processes(self, supervisor: Supervisor, namespace: Namespace) -> None:
        o = self.options
        supervisor.add("std1", "standardize")
        supervisor.add("std2", "standardize")
        supervisor.add("land", "land")
        supervisor.add(
            "reconcile", "reconcile", "run", "--grace", o.reconcile_grace, "--retention", "30m",
            "--judge-every", "5", "--checkpoint-every", "1m",
        )  # fmt: skip
        supervisor.add(
            "anomaly", "anomaly", "run", "--compression", f"{o.compression:g}",
            "--min-history", "2", "--history", "0", "--stale-after", f"{o.stale_after_s:g}s",
            "--tick-s", "2",
            "--snapshot-interval", "1m", "--connectors", f"{self.prefix}-*",
        )  # fmt: skip
        supervisor.add(
            "health", "health", "--serve", "--metrics-port", str(o.health_port),
            "--interval", "5", "--threshold", f"heartbeat_degraded_s={o.health_degraded_s:g}",
        )  # fmt: skip
        supervisor.add("capture", "capture", "--standalone", prefix=tuple(namespace.prefix()))

    def _pipeline(
        self,
        settings: Settings,
        simulation: GatedSimulation,
        connectors: list[ConnectorConfig],
        pipeline: Pipeline,
        supervisor: Supervisor,
        namespace: Namespace,
        forwarder: Forwarder,
        faults: list[Fault],
        dlq_starts: dict[tuple[str, int], int],
    ) -> list[Verdict]:
        o = self.options
        self._start_processes(supervisor, namespace)
        capture_settings = settings.model_copy(
            update={
                k.removeprefix("STREAMHUB_").lower(): v
                for k, v in o.extra_env.items()
                if k in ("STREAMHUB_CAPTURE_GROUP", "STREAMHUB_CAPTURE_POSITIONS_TOPIC")
            }
        )
        positions = PositionStore(capture_settings)
        _wait(
            lambda: all(positions.load(c.name) for c in connectors),
            900,
            "every connector started",
            supervisor,
        )
        sampler = threading.Thread(target=self._sample_health, daemon=True)
        sampler.start()
        institutions = {i.credit_code for i in simulation.institutions}
        by_engine = {
            engine: frozenset(i.credit_code for i in simulation.institutions if i.engine == engine)
            for engine in ("postgres", "mariadb")
        }
        runner = threading.Thread(target=simulation.run, daemon=True)
        t0 = time.monotonic()
        runner.start()
        print(f"writing for {o.duration_s:g} s", flush=True)
        pending = list(faults)
        while runner.is_alive() or pending:
            now = time.monotonic() - t0
            while pending and pending[0].at_s <= now:
                fault = pending.pop(0)
                thread = threading.Thread(
                    target=self._apply,
                    args=(fault, supervisor, forwarder, simulation, settings, institutions,
                          by_engine),
                    daemon=True,
                )  # fmt: skip
                thread.start()
                self.threads.append(thread)
            supervisor.watch()
            time.sleep(0.5)
        for thread in self.threads:
            thread.join(300)
        writes_end = time.time()
        print(f"writes and faults done at {time.monotonic() - t0:.0f} s; draining", flush=True)
        for name, killed, up in supervisor.restarts:
            print(f"  {name}: killed at {killed:.0f} s, started again at {up:.0f} s", flush=True)
        return self._drain_and_check(
            settings, simulation, connectors, pipeline, supervisor, institutions, writes_end,
            dlq_starts,
        )  # fmt: skip

    # -- faults -----------------------------------------------------------------------------
    def _apply(
        self,
        fault: Fault,
        supervisor: Supervisor,
        forwarder: Forwarder,
        simulation: GatedSimulation,
        settings: Settings,
        institutions: set[str],
        by_engine: dict[str, frozenset[str]],
    ) -> None:
        start = _ms()
        note = ""
        print(f"  fault: {fault.describe()}", flush=True)
        try:
            if fault.kind.startswith("kill:"):
                supervisor.kill9(fault.kind.split(":", 1)[1], fault.for_s)
            elif fault.kind == "netcut":
                forwarder.cut("kafka")
                time.sleep(fault.for_s)
                forwarder.restore("kafka")
            elif fault.kind.startswith("restart:"):
                database = fault.kind.split(":", 1)[1]
                with simulation.database_down():
                    self.stack.stop_database(database)  # type: ignore[attr-defined]
                    time.sleep(fault.for_s)
                    self.stack.start_database(database)  # type: ignore[attr-defined]
            elif fault.kind == "broker":
                note = self._broker(fault, settings)
        except Exception as exc:  # reported as a failed check, the run goes on
            note = f"could not be applied: {type(exc).__name__}: {exc}"
            self.notes.append(f"{fault.describe()} {note}")
        end = _ms()
        hit: frozenset[str] = frozenset()
        if fault.kind in ("kill:capture", "netcut"):
            hit = frozenset(institutions)
        elif fault.kind.startswith("restart:"):
            hit = by_engine[fault.kind.split(":", 1)[1]]
        self.applied.append(Applied(fault, start, end, hit, note))
        print(f"  fault over: {fault.describe()} {note}", flush=True)

    def _broker(self, fault: Fault, settings: Settings) -> str:
        """Kill the broker; start it again after ``for_s`` unless for good. How long the
        pipeline took to resume is measured after the run, from ClickHouse (_resume_s)."""
        pid = self.stack.kill_broker(fault.target)  # type: ignore[attr-defined]
        self.figures["broker_killed_ms"] = _ms()
        if not fault.for_good:
            time.sleep(fault.for_s)
            self.stack.start_broker(fault.target)  # type: ignore[attr-defined]
        return f"pid {pid}"

    # -- link health ------------------------------------------------------------------------
    def _sample_health(self) -> None:
        url = f"http://127.0.0.1:{self.options.health_port}/metrics"
        while not self.stop_sampling.wait(3.0):
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    text = answer.read().decode()
            except Exception:  # noqa: S112 - not up yet, or restarting
                continue
            link: dict[str, int] = {}
            hops: dict[tuple[str, str], int] = {}
            for line in text.splitlines():
                match = _SAMPLE.match(line)
                if match is None or match[1] not in (LINK_STATE, HOP_STATE):
                    continue
                labels = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
                value = int(float(match[3]))
                if match[1] == LINK_STATE:
                    link[labels["institution"]] = value
                else:
                    hops[(labels["institution"], labels["hop"])] = value
            self.samples.append(HealthSample(_ms(), link, hops))

    # -- the end ----------------------------------------------------------------------------
    def _drain_and_check(
        self,
        settings: Settings,
        simulation: GatedSimulation,
        connectors: list[ConnectorConfig],
        pipeline: Pipeline,
        supervisor: Supervisor,
        institutions: set[str],
        writes_end: float,
        dlq_starts: dict[tuple[str, int], int],
    ) -> list[Verdict]:
        o = self.options
        verdicts: list[Verdict] = []
        began = time.monotonic()
        behind = capture_caught_up(pipeline, connectors, o.drain_timeout_s)
        verdicts.append(
            Verdict(
                "capture caught up",
                not behind,
                f"every source row's last version in Kafka after {time.monotonic() - began:.0f} s"
                if not behind
                else f"{len(behind)} rows behind: {behind[:3]}",
            )
        )
        drained = _drained(pipeline, supervisor, o.drain_timeout_s)
        verdicts.append(
            Verdict(
                "pipeline drained",
                drained,
                f"standardize and land lag 0 after {time.monotonic() - began:.0f} s"
                if drained
                else f"lag {pipeline.lag()} after {o.drain_timeout_s:g} s",
            )
        )
        self.figures["drain_s"] = round(time.monotonic() - began, 1)
        records = self._await_reconciliation(settings, institutions, writes_end)
        follower = TopicFollower(settings, topics.ANOMALY)
        anomalies = follower.poll()
        follower.close()
        self.stop_sampling.set()
        supervisor.watch()
        unplanned = list(supervisor.unplanned)
        supervisor.stop_all()
        killed = self.figures.get("broker_killed_ms")
        if killed is not None:
            self.figures["broker_resume_s"] = _resume_s(pipeline, int(killed))
        verdicts.append(exact_state(settings, pipeline, connectors, self.prefix))
        verdicts.append(reconciliation(records, institutions, self.prefix))
        outages = [a for a in self.applied if a.fault.outage]
        ours = [a for a in anomalies if a["institution_id"] in institutions]
        verdicts.append(anomaly_named(ours, outages))
        verdicts.append(health_named(self.samples, outages))
        verdicts.append(
            dead_letters(settings, dlq_starts, list(topics.DEAD_LETTER_TOPICS), institutions)
        )
        verdicts.append(
            Verdict(
                "faults applied",
                not self.notes,
                f"{len(self.applied)} applied"
                + (f"; {' | '.join(self.notes)}" if self.notes else ""),
            )
        )
        verdicts.append(
            Verdict(
                "no unplanned exit",
                not unplanned,
                "every process ran until killed or stopped"
                if not unplanned
                else "; ".join(unplanned[:6]),
            )
        )
        self.figures["written"] = simulation.written
        self.figures["seeded"] = simulation.seeded
        (self.work / "result.json").write_text(
            json.dumps(
                {
                    "seed": o.seed,
                    "applied": [
                        {"fault": a.fault.describe(), "start_ms": a.start_ms, "end_ms": a.end_ms,
                         "note": a.note}
                        for a in self.applied
                    ],
                    "verdicts": [v.__dict__ for v in verdicts],
                    "figures": self.figures,
                },
                indent=1,
            )
        )  # fmt: skip
        return verdicts

    def _await_reconciliation(
        self, settings: Settings, institutions: set[str], writes_end: float
    ) -> list[dict[str, Any]]:
        """Follow ops.reconciliation until every window of the run is judged: past the last
        window's end (a minute after the writes) and the grace, no window PENDING, and no
        new window or revision over two polls."""
        grace_s = _seconds(self.options.reconcile_grace)
        # the last window ends on the minute after the last write; judged after the grace
        settle_at = (writes_end // 60 + 1) * 60 + grace_s + 10
        follower = TopicFollower(settings, topics.RECONCILIATION)
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.options.drain_timeout_s
        stable = 0
        try:
            while time.monotonic() < deadline:
                fresh = [
                    r
                    for r in follower.poll()
                    if r["institution_id"] in institutions
                    and str(r.get("database") or "").startswith(f"{self.prefix}_")
                ]
                records.extend(fresh)
                latest: dict[tuple[Any, ...], str] = {}
                for r in records:
                    latest[(r["database"], r["table"], r["window_start_ms"])] = r["status"]
                pending = sum(1 for s in latest.values() if s == "PENDING")
                stable = stable + 1 if not fresh else 0
                if time.time() >= settle_at and latest and not pending and stable >= 2:
                    break
                time.sleep(5)
        finally:
            follower.close()
        return records


def _resume_s(pipeline: Pipeline, killed_ms: int) -> float | None:
    """Seconds from the broker's kill until the first change committed at the source after
    it was landed: the whole path (capture, Kafka with a broker gone, standardize, land)
    flowing again."""
    sql = (
        "SELECT toUnixTimestamp64Milli(min(_landed_time)) AS landed FROM merge(currentDatabase(), "  # noqa: S608
        f"'^std_') WHERE commit_time > fromUnixTimestamp64Milli({killed_ms})"
    )
    done = pipeline.streamhub("clickhouse", "query", "--format", "json", sql, timeout=900)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    landed = json.loads(done.stdout.splitlines()[0]).get("landed")
    return round((int(landed) - killed_ms) / 1000, 1) if landed else None


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if match is None:
        return 120.0
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def _ends(settings: Settings, names: list[str]) -> dict[tuple[str, int], int]:
    return dict(topic_ends_safe(settings, names))


def topic_ends_safe(settings: Settings, names: list[str]) -> dict[tuple[str, int], int]:
    from streamhub.kafka.groups import topic_ends

    return topic_ends(settings, names)


def _drained(pipeline: Pipeline, supervisor: Supervisor, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.watch()
        with contextlib.suppress(Exception):  # a group mid-rebalance
            if pipeline.lag() == 0:
                time.sleep(6)
                if pipeline.lag() == 0:
                    return True
        time.sleep(2)
    return False


def _wait(check: Any, timeout_s: float, what: str, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.watch()
        if supervisor.unplanned:
            raise RuntimeError(
                f"{supervisor.unplanned[0]} before {what}:\n"
                + "\n".join(supervisor.tail(n, 15) for n in supervisor.procs)
            )
        with contextlib.suppress(Exception):  # e.g. the positions topic not created yet
            if check():
                return
        time.sleep(1)
    raise RuntimeError(f"not {what} within {timeout_s:g} s:\n" + supervisor.tail("capture", 30))


__all__ = ["RAW_TOPICS", "RESTART_DELAY_S", "FaultRun", "RunOptions", "RunResult"]
