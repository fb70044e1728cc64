"""A province at N institutions: every centre process's cost, restart and correctness.

For each N (default 10, 100, 1751), on a private stack of its own (bench/region_stack.py:
Kafka and the registry on other ports and a fresh data dir, so fresh topics, groups and
embedded ClickHouse; the shared stack is never touched), this runs `streamhub simulate fleet`
(N institutions' capture agents, a business day in --day-minutes of wall time at a fixed
--peak-rate for every N, so the growth with N is the per-institution cost) and every centre
process as deployed: standardize, land (with its query endpoint), reconcile run, anomaly run,
health --serve and serve. A seeded fault plan (bench/region_faults.py) puts two outages, two
bursts, a stuck feed and a silent connector on six random institutions. Each centre process
is killed with SIGKILL once mid-run and started again at once, as a supervisor would.

Figures, per N and centre process:
- CPU s/min: CPU seconds (all incarnations) per wall minute over the fleet's run;
- peak RSS: the largest VmHWM of any incarnation, MiB;
- restart s: from the restart to working again: standardize, land, reconcile and anomaly
  when their consumer group commits past where it stood (consuming again), health when a
  check begun after the restart is served, serve when its page answers;
and per N: commit -> landed p50/p99 (each std row's _landed_time; all rows, and without the
faulted institutions, whose held changes keep their old commit times), and correctness after
the fleet stops and the pipeline drains: every window's final reconciliation verdict (from
ops_reconciliation in the lander's ClickHouse) MATCH for every institution, none PENDING, the
source changes per institution equal to the fleet's ledger; the faults found by the anomaly
detector (precision, recall); and whether link health, sampled while the stuck and silent
faults are on, names exactly those institutions. A markdown table (also --table-out) and
docs/region-cost.png (CPU s/min and peak RSS against N), with the growth ratios
cost(N2)/cost(N1) against N2/N1.

    .venv/bin/python bench/region.py                       # 10, 100, 1751; 20 min each
    .venv/bin/python bench/region.py --sizes 10,100 --minutes 4.5 --min-history 1   # a trial

Needs Java and the Kafka jars of `streamhub stack up` (a private broker is started).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from end_to_end import LANDED_TOPICS, wait_drained  # bench/, on the path
from region_faults import (
    HEALTH_VISIBLE,
    FaultPlan,
    HealthScore,
    plan_faults,
    score_anomalies,
    score_health,
)
from region_stack import KAFKA_PORT, PORT_OFFSET, REGISTRY_PORT, PrivateStack
from region_watch import (
    TopicFollower,
    Usage,
    group_moved,
    health_checked_since,
    http_ok,
    wait_ready,
)

from streamhub.config import Settings
from streamhub.core import topic_names as topics
from streamhub.demo.workers import Workers
from streamhub.fleet.connectors import write_connector_files
from streamhub.fleet.pacing import Pacing
from streamhub.fleet.run import FleetOptions, plan_connectors
from streamhub.health.metrics import CHECKED
from streamhub.land.clickhouse import connect

CENTRE = ("standardize", "land", "reconcile", "anomaly", "health", "serve")
# the order of the kills: each centre process once, before the first fault (a restart's
# catch-up would otherwise show in the link-health sample, and the detector's restart in
# what it finds), the slowest to come back (the lander) first
KILL_ORDER = ("land", "standardize", "reconcile", "anomaly", "health", "serve")


def kill_times(duration_s: float, first_fault_s: float) -> dict[str, float]:
    """Seconds from the fleet's start at which each centre process is killed."""
    first, last = 0.05 * duration_s, first_fault_s - 10.0
    step = (last - first) / (len(KILL_ORDER) - 1)
    return {name: first + i * step for i, name in enumerate(KILL_ORDER)}


READY_TIMEOUT_S = 240.0
RECONCILE_INPUTS = [
    topics.SOURCE_COUNTS,
    topics.STANDARDIZED_COUNTS,
    topics.LANDED_COUNTS,
    topics.DLQ_STANDARDIZE,
    topics.DLQ_LAND,
]
ANOMALY_INPUTS = [topics.SOURCE_COUNTS, topics.HEARTBEAT]

VERDICTS_SQL = """
SELECT institution_id, ifNull(database, '') AS db, table, status, source_changes
FROM (
    SELECT institution_id, database, table, window_start_ms,
           argMax(status, revision) AS status, argMax(source_changes, revision) AS source_changes
    FROM {database}.ops_reconciliation
    GROUP BY institution_id, database, table, window_start_ms
)
"""
LAG_SQL = """
SELECT count(), quantiles(0.5, 0.99)(dateDiff('millisecond', commit_time, _landed_time))
FROM merge('{database}', '^std_') WHERE operation != 'r' {where}
"""


@dataclass
class RegionOptions:
    institutions: int
    minutes: float = 20.0
    day_minutes: float = 20.0
    peak_rate: float = 400.0
    seed: int = 7
    min_history: int = 3
    drain_timeout_s: float = 900.0
    reconcile_grace: str = "120s"  # `reconcile run --grace` (its default)
    health_thresholds: tuple[str, ...] = ()  # NAME=VALUE for health --serve and the sample
    min_held_s: float = 150.0  # see region_faults.plan_faults
    lead_s: float = 30.0
    sample_after_s: float = 70.0
    flat: bool = False  # the fleet's --flat: no day curve (a detector without a day's history)
    port_shift: int = 0  # added to the private stack's and the workers' ports (side by side)
    work_dir: Path = Path(tempfile.gettempdir()) / "streamhub-region"

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0


@dataclass
class ProcessFigures:
    cpu_s_per_min: float
    peak_rss_mb: float
    restart_s: float | None  # None: not working again within READY_TIMEOUT_S (or no restart)


@dataclass
class RegionResult:
    institutions: int
    minutes: float
    peak_rate: float
    emitted: int
    processes: dict[str, ProcessFigures]
    fleet_cpu_s_per_min: float
    lag_ms: dict[str, list[float]]  # all / unfaulted -> [p50, p99]
    verdicts: dict[str, int]  # status -> windows
    institutions_all_match: int  # every window MATCH
    # every window MATCH, or LATE on the stuck or silent institution: its held changes came
    # after the grace (judged missing then matched), which is what LATE says
    institutions_settled: int
    institutions_expected: int
    ledger_mismatch: list[str]
    anomaly: dict[str, Any]
    health: dict[str, Any]
    faults: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return (
            set(self.verdicts) <= {"MATCH", "LATE"}
            and self.institutions_settled == self.institutions_expected
            and not self.ledger_mismatch
            and self.anomaly["recall"] == 1.0
            and bool(self.health["exact"])
        )


class RegionRun:
    """One N: private stack, centre processes, the fleet, kills, drain, checks."""

    def __init__(self, options: RegionOptions) -> None:
        self.options = options
        self.work = options.work_dir / f"n{options.institutions}"
        self.stack = PrivateStack(
            self.work / "data",
            kafka_port=KAFKA_PORT + options.port_shift,
            registry_port=REGISTRY_PORT + options.port_shift,
        )
        self.notes: list[str] = []
        self.restarts: dict[str, float | None] = {}
        self.restarting: set[str] = set()
        self.threads: list[threading.Thread] = []
        self.health: HealthScore | None = None
        self.fleet: subprocess.Popen[bytes] | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _connectors(self, settings: Settings) -> tuple[dict[str, str], dict[str, int]]:
        """Write the fleet's connector files for the centre before anything starts (the
        fleet writes the same files; it is given an empty directory of its own so it takes
        the same credit codes). Fleet key -> credit code, and each key's burst rows."""
        options = FleetOptions(
            start=datetime.now(), institutions=self.options.institutions, seed=self.options.seed
        )
        planned = plan_connectors(settings, options, set())
        write_connector_files(self.work / "connectors", [c for _, cs in planned for c in cs])
        codes = {m.institution.key: m.institution.credit_code for m, _ in planned}
        pacing = Pacing(day_minutes=self.options.day_minutes, peak_rate=self.options.peak_rate)
        total = sum(m.institution.weight for m, _ in planned)
        # a burst: about three peak minutes of the institution's own traffic (at least 2,000)
        rows = {
            m.institution.key: max(2000, int(8 * 60 * pacing.share(m.institution.weight, total)))
            for m, _ in planned
        }
        return codes, rows

    def _workers(self, settings: Settings) -> Workers:
        workers = Workers(
            settings,
            self.work / "connectors",
            self.work / "logs",
            extra_env={**self.stack.env()},
            port_offset=PORT_OFFSET + self.options.port_shift,
        )
        workers.extra_env["STREAMHUB_QUERY_URL"] = f"http://127.0.0.1:{workers.port('query')}"
        return workers

    def _args(self, name: str, workers: Workers) -> tuple[str, ...]:
        if name == "land":
            return ("--query-port", str(workers.port("query")))
        if name == "anomaly":
            compression = 24 * 60 / self.options.day_minutes
            return (
                "--compression",
                f"{compression:g}",
                "--min-history",
                str(self.options.min_history),
            )
        if name == "serve":
            return ("--port", str(workers.port("web")))
        if name == "reconcile":
            return ("--grace", self.options.reconcile_grace)
        if name == "health":
            return self._thresholds()
        return ()

    def _thresholds(self) -> tuple[str, ...]:
        return tuple(a for t in self.options.health_thresholds for a in ("--threshold", t))

    def _probe(self, name: str, settings: Settings, workers: Workers, since_s: float) -> Any:
        if name == "standardize":
            return group_moved(settings, settings.standardize_group, list(topics.RAW_TOPICS))
        if name == "land":
            return group_moved(settings, settings.lander_group, LANDED_TOPICS)
        if name == "reconcile":
            return group_moved(settings, settings.reconcile_group, RECONCILE_INPUTS)
        if name == "anomaly":
            return group_moved(settings, settings.anomaly_group, ANOMALY_INPUTS)
        if name == "health":
            url = f"http://127.0.0.1:{workers.port('health')}/metrics"
            return health_checked_since(url, since_s, CHECKED)
        return http_ok(f"http://127.0.0.1:{workers.port('web')}/")

    # -- during the run -------------------------------------------------------------------
    def _restart(self, name: str, settings: Settings, workers: Workers, usage: Usage) -> None:
        process = workers.processes[name]
        self.restarting.add(name)
        usage.sample()
        probe = self._probe(name, settings, workers, time.time())
        process.send_signal(signal.SIGKILL)
        process.wait()
        since = time.time()
        probe = (
            self._probe(name, settings, workers, since) if name in ("health", "serve") else probe
        )
        workers.start(name, *self._args(name, workers))
        restarted = workers.processes[name]
        # a restarted process that exits is not waited on (it once went unnoticed for the
        # whole round: the detector's warm start exited, and the round read as recall 0)
        self.restarts[name] = wait_ready(
            lambda: restarted.poll() is not None or probe(), READY_TIMEOUT_S
        )
        if restarted.poll() is not None:
            self.restarts[name] = None
            self.notes.append(
                f"{name} exited {restarted.returncode} after its restart; "
                f"see {self.work}/logs/{name}.log"
            )
        self.restarting.discard(name)  # from now on its exit stops the run

    def _sample_health(self, plan: FaultPlan, codes: dict[str, str]) -> None:
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "streamhub", "health", "--format", "json", *self._thresholds()],
            env={
                **os.environ,
                **self.stack.env(),
                "STREAMHUB_CONNECTORS_DIR": str(self.work / "connectors"),
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        seconds = time.monotonic() - began
        (self.work / "health-sample.json").write_text(done.stdout)
        try:
            self.health = score_health(json.loads(done.stdout), plan, codes, seconds)
        except (json.JSONDecodeError, KeyError) as exc:
            self.notes.append(f"health sample unreadable ({exc}): {done.stderr[-400:]}")

    def _fleet_command(self, plan: FaultPlan) -> list[str]:
        o = self.options
        command = [
            sys.executable,
            "-m",
            "streamhub",
            "simulate",
            "fleet",
            "--institutions",
            str(o.institutions),
            "--seed",
            str(o.seed),
            "--duration",
            f"{o.duration_s:g}s",
            "--day-minutes",
            f"{o.day_minutes:g}",
            "--peak-rate",
            f"{o.peak_rate:g}",
            "--ledger",
            str(self.work / "ledger.json"),
            "--connectors-out",
            str(self.work / "fleet-connectors"),
        ]
        for spec in plan.specs():
            command += ["--fault", spec]
        if o.flat:
            command.append("--flat")
        return command

    def _start_fleet(self, plan: FaultPlan) -> float:
        """Start the fleet; the wall time (epoch s) its run began (after its set-up)."""
        (self.work / "fleet-own").mkdir(exist_ok=True)
        log_path = self.work / "logs" / "fleet.log"
        log = log_path.open("ab")
        self.fleet = subprocess.Popen(
            self._fleet_command(plan),
            env={
                **os.environ,
                **self.stack.env(),
                "STREAMHUB_CONNECTORS_DIR": str(self.work / "fleet-own"),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while "connector files in" not in log_path.read_text(errors="replace"):
            if self.fleet.poll() is not None:
                raise SystemExit(f"the fleet exited {self.fleet.returncode}; see {log_path}")
            time.sleep(0.2)
        return time.time()

    # -- the run --------------------------------------------------------------------------
    def run(self) -> RegionResult:
        o = self.options
        print(f"[N={o.institutions}] private stack at {self.stack.data_dir}", flush=True)
        self.stack.up()
        try:
            return self._run()
        finally:
            self.stack.down()

    def _run(self) -> RegionResult:
        o = self.options
        settings = self.stack.settings()
        codes, burst_rows = self._connectors(settings)
        plan = plan_faults(
            sorted(codes),
            o.duration_s,
            o.seed,
            o.min_history,
            burst_rows,
            min_held_s=o.min_held_s,
            lead_s=o.lead_s,
            sample_after_s=o.sample_after_s,
        )
        workers = self._workers(settings)
        try:
            return self._measure(settings, workers, plan, codes)
        finally:
            workers.stop()
            if self.fleet is not None and self.fleet.poll() is None:
                self.fleet.kill()
                self.fleet.wait()

    def _measure(
        self, settings: Settings, workers: Workers, plan: FaultPlan, codes: dict[str, str]
    ) -> RegionResult:
        o = self.options
        workers.run_once("clickhouse", "migrate")
        for name in CENTRE:
            workers.start(name, *self._args(name, workers))

        def pids() -> dict[str, int]:
            found = {name: p.pid for name, p in list(workers.processes.items())}
            if self.fleet is not None:
                found["fleet"] = self.fleet.pid
            return found

        usage = Usage(pids)
        usage.start()
        time.sleep(10)  # the centre's processes settle before the fleet starts
        workers.check_alive()
        t0 = self._start_fleet(plan)
        print(
            f"[N={o.institutions}] fleet running {o.duration_s:g} s; faults "
            f"{', '.join(plan.specs())}",
            flush=True,
        )
        cpu_start = usage.cpu_now()
        events: list[tuple[float, str]] = sorted(
            [(at, name) for name, at in kill_times(o.duration_s, plan.first_fault_s).items()]
            + [(plan.health_sample_s, "health-sample")]
        )
        assert self.fleet is not None
        while self.fleet.poll() is None:
            now = time.time() - t0
            while events and events[0][0] <= now:
                _, what = events.pop(0)
                if what == "health-sample":
                    thread = threading.Thread(
                        target=self._sample_health, args=(plan, codes), daemon=True
                    )
                else:
                    thread = threading.Thread(
                        target=self._restart, args=(what, settings, workers, usage), daemon=True
                    )
                thread.start()
                self.threads.append(thread)
            for name, process in workers.processes.items():
                if process.poll() is not None and name not in self.restarting:
                    raise SystemExit(f"{name} exited {process.returncode}; see {self.work}/logs")
            time.sleep(0.5)
        wall_min = (time.time() - t0) / 60
        cpu_end = usage.cpu_now()
        if self.fleet.returncode != 0:
            self.notes.append(f"the fleet exited {self.fleet.returncode}")
        for thread in self.threads:
            thread.join(READY_TIMEOUT_S)
        print(f"[N={o.institutions}] fleet done; draining", flush=True)
        drained = wait_drained(
            settings,
            {
                settings.standardize_group: list(topics.RAW_TOPICS),
                settings.lander_group: LANDED_TOPICS,
            },
            o.drain_timeout_s,
        )
        ledger = json.loads((self.work / "ledger.json").read_text())
        t0_ms = _fleet_t0_ms(ledger, t0)
        expected = _ledger_tables(ledger)
        verdicts = self._await_verdicts(settings, expected)
        anomalies = TopicFollower(settings, topics.ANOMALY)
        score = score_anomalies(anomalies.poll(), plan, codes, t0_ms)
        anomalies.close()
        peaks = dict(usage.peak_mb)
        usage.stop()
        workers.stop()
        final = self._final_checks(settings, expected, plan, codes)
        processes = {
            name: ProcessFigures(
                (cpu_end.get(name, 0.0) - cpu_start.get(name, 0.0)) / wall_min,
                peaks.get(name, math.nan),
                self.restarts.get(name),
            )
            for name in CENTRE
        }
        fleet_cpu = (cpu_end.get("fleet", 0.0) - cpu_start.get("fleet", 0.0)) / wall_min
        self.notes.append(
            f"drained {drained.seconds:.0f} s after the fleet; "
            f"{sum(verdicts.values()):,} windows published"
        )
        result = RegionResult(
            institutions=o.institutions,
            minutes=o.minutes,
            peak_rate=o.peak_rate,
            emitted=int(ledger["emitted"]),
            processes=processes,
            fleet_cpu_s_per_min=fleet_cpu,
            lag_ms=final["lag"],
            verdicts=final["verdicts"],
            institutions_all_match=final["all_match"],
            institutions_settled=final["settled"],
            institutions_expected=len({i for i, _ in expected}),
            ledger_mismatch=final["mismatch"],
            anomaly={
                "opened": score.opened,
                "precision": score.precision,
                "recall": score.recall,
                "found": score.found,
                "false_positives": score.false_positives[:20],
            },
            health=_health_dict(self.health),
            faults=plan.specs(),
            notes=self.notes,
        )
        (self.work / "result.json").write_text(json.dumps(asdict(result), indent=1, default=str))
        return result

    def _await_verdicts(
        self, settings: Settings, expected: dict[tuple[str, str], int]
    ) -> dict[str, int]:
        """Follow ops.reconciliation until, for every table the ledger names, the source
        changes of its windows' latest verdicts add up to the ledger's and none is PENDING
        (the grace after the last window, then a judging pass), or time out."""
        follower = TopicFollower(settings, topics.RECONCILIATION)
        latest: dict[tuple[Any, ...], tuple[int, str, int]] = {}
        deadline = time.monotonic() + self.options.drain_timeout_s
        try:
            while True:
                for r in follower.poll():
                    key = (
                        r["institution_id"],
                        r.get("database") or "",
                        r["table"],
                        r["window_start_ms"],
                    )
                    if key not in latest or r["revision"] >= latest[key][0]:
                        latest[key] = (r["revision"], r["status"], r["source_changes"])
                statuses: dict[str, int] = {}
                counted: dict[tuple[str, str], int] = {}
                for (institution, db, table, _), (_, status, changes) in latest.items():
                    statuses[status] = statuses.get(status, 0) + 1
                    name = (institution, f"{db}.{table}" if db else table)
                    counted[name] = counted.get(name, 0) + changes
                short = [k for k, n in expected.items() if counted.get(k, 0) < n]
                if not short and "PENDING" not in statuses:
                    return statuses
                if time.monotonic() > deadline:
                    self.notes.append(
                        f"reconciliation not settled in time: {statuses}, {len(short)} tables "
                        "with fewer source changes in their windows than the ledger"
                    )
                    return statuses
                time.sleep(10)
        finally:
            follower.close()

    def _final_checks(
        self,
        settings: Settings,
        expected: dict[tuple[str, str], int],
        plan: FaultPlan,
        codes: dict[str, str],
    ) -> dict[str, Any]:
        """From the lander's ClickHouse (the lander has stopped; this process opens it)."""
        database = settings.clickhouse_database
        client = connect(settings.clickhouse_dsn, database)
        try:
            rows = client.query(VERDICTS_SQL.format(database=database)).result_rows
            faulted = sorted(codes[k] for k in plan.keys(None))
            lag = {}
            for label, where in (
                ("all", ""),
                (
                    "unfaulted",
                    "AND institution_id NOT IN ({})".format(", ".join(f"'{c}'" for c in faulted)),
                ),
            ):
                sql = LAG_SQL.format(database=database, where=where)
                _, (p50, p99) = client.query(sql).result_rows[0]
                lag[label] = [float(p50), float(p99)]
        finally:
            client.close()
        verdicts: dict[str, int] = {}
        changes: dict[tuple[str, str], int] = {}
        bad: set[str] = set()
        unsettled: set[str] = set()
        held = {codes[k] for k in plan.keys(HEALTH_VISIBLE)}
        for institution, db, table, status, source_changes in rows:
            verdicts[status] = verdicts.get(status, 0) + 1
            name = f"{db}.{table}" if db else table
            changes[(institution, name)] = changes.get((institution, name), 0) + source_changes
            if status != "MATCH":
                bad.add(institution)
            if status != "MATCH" and not (status == "LATE" and institution in held):
                unsettled.add(institution)
        mismatch = [
            f"{i} {t}: ledger {n}, reconciled {changes.get((i, t), 0)}"
            for (i, t), n in sorted(expected.items())
            if changes.get((i, t), 0) != n
        ]
        institutions = {i for i, _ in expected}
        return {
            "verdicts": verdicts,
            "all_match": len(institutions - bad),
            "settled": len(institutions - unsettled),
            "mismatch": mismatch[:20]
            + ([f"... {len(mismatch) - 20} more"] if len(mismatch) > 20 else []),
            "lag": lag,
        }


def _fleet_t0_ms(ledger: dict[str, Any], fallback_s: float) -> int:
    """The fleet's start, from a fault's applied wall time less its planned second."""
    for fault in ledger.get("faults", []):
        spec = next(
            (
                s
                for s in ledger["options"]["faults"]
                if s.startswith(f"{fault['fault']}:{fault['institution']}@")
            ),
            None,
        )
        if spec is None:
            continue
        at_s = float(spec.split("@", 1)[1].split("+")[0].split(",")[0].rstrip("s"))
        applied = datetime.fromisoformat(fault["at_wall"]).timestamp()
        return int((applied - at_s) * 1000)
    return int(fallback_s * 1000)


def _ledger_tables(ledger: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Changes sent per (institution, database.table)."""
    sent: dict[tuple[str, str], int] = {}
    for institution, table, _minute, *counts in ledger["minutes"]:
        sent[(institution, table)] = sent.get((institution, table), 0) + sum(counts)
    return sent


def _health_dict(score: HealthScore | None) -> dict[str, Any]:
    if score is None:
        return {"exact": False, "expected": [], "named": [], "seconds": None}
    return {
        "exact": score.exact,
        "expected": sorted(score.expected),
        "named": sorted(score.named),
        "seconds": round(score.seconds, 1),
    }


# -- reporting ----------------------------------------------------------------------------
def table(results: list[RegionResult]) -> str:
    lines = [
        "| N | process | CPU s/min | peak RSS MiB | restart s |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in results:
        for name, f in r.processes.items():
            restart = "-" if f.restart_s is None else f"{f.restart_s:.1f}"
            lines.append(
                f"| {r.institutions:,} | {name} | {f.cpu_s_per_min:.2f} | "
                f"{f.peak_rss_mb:.0f} | {restart} |"
            )
        lines.append(
            f"| {r.institutions:,} | (fleet, not centre) | {r.fleet_cpu_s_per_min:.2f} | | |"
        )
    lines += [
        "",
        "| N | changes | lag p50/p99 ms (all) | lag p50/p99 ms (unfaulted) | verdicts | "
        "institutions all MATCH (settled) | anomaly precision / recall | link health exact | "
        "correct |",
        "|---:|---:|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.institutions:,} | {r.emitted:,} | {r.lag_ms['all'][0]:.0f} / "
            f"{r.lag_ms['all'][1]:.0f} | {r.lag_ms['unfaulted'][0]:.0f} / "
            f"{r.lag_ms['unfaulted'][1]:.0f} | "
            f"{', '.join(f'{k} {v:,}' for k, v in sorted(r.verdicts.items()))} | "
            f"{r.institutions_all_match:,} ({r.institutions_settled:,}) of "
            f"{r.institutions_expected:,} | "
            f"{r.anomaly['precision']:.2f} / {r.anomaly['recall']:.2f} | "
            f"{'yes' if r.health['exact'] else 'no'} | {'yes' if r.correct else 'NO'} |"
        )
    return "\n".join(lines)


def growth(results: list[RegionResult]) -> str:
    """cost(N2)/cost(N1) against N2/N1 for each process and consecutive pair of N."""
    lines = []
    for a, b in itertools.pairwise(results):
        ratio = b.institutions / a.institutions
        parts = []
        for name in CENTRE:
            fa, fb = a.processes[name], b.processes[name]
            cpu = fb.cpu_s_per_min / fa.cpu_s_per_min if fa.cpu_s_per_min else math.nan
            rss = fb.peak_rss_mb / fa.peak_rss_mb if fa.peak_rss_mb else math.nan
            parts.append(f"{name} CPU x{cpu:.2f} RSS x{rss:.2f}")
        lines.append(
            f"N {a.institutions:,} -> {b.institutions:,} (x{ratio:.1f}): " + "; ".join(parts)
        )
    return "\n".join(lines)


def plot(results: list[RegionResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r.institutions for r in results]
    figure, (cpu_ax, rss_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name in CENTRE:
        cpu_ax.plot(sizes, [r.processes[name].cpu_s_per_min for r in results], "o-", label=name)
        rss_ax.plot(sizes, [r.processes[name].peak_rss_mb for r in results], "o-", label=name)
    for ax, label in ((cpu_ax, "CPU seconds per wall minute"), (rss_ax, "peak RSS, MiB")):
        ax.set_xscale("log")
        ax.set_xlabel("institutions (N)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    cpu_ax.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def load_result(path: Path) -> RegionResult:
    """A result.json an earlier run wrote (to table and plot runs made apart)."""
    document = json.loads(path.read_text())
    document["processes"] = {k: ProcessFigures(**v) for k, v in document["processes"].items()}
    return RegionResult(**document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="10,100,1751", help="institution counts, comma-separated"
    )
    parser.add_argument("--minutes", type=float, default=20.0, help="wall minutes per N")
    parser.add_argument(
        "--day-minutes",
        type=float,
        default=20.0,
        help="wall minutes of one business day (the fleet's --day-minutes)",
    )
    parser.add_argument(
        "--peak-rate",
        type=float,
        default=400.0,
        help="changes/s at the day's peak, the same for every N",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--min-history",
        type=int,
        default=3,
        help="minutes the anomaly detector learns before judging",
    )
    parser.add_argument(
        "--flat", action="store_true", help="no day curve (the detector has no day's history)"
    )
    parser.add_argument("--work-dir", type=Path, default=RegionOptions.work_dir)
    parser.add_argument("--table-out", type=Path, help="default: <work-dir>/region.md")
    parser.add_argument("--plot", type=Path, default=Path("docs/region-cost.png"))
    parser.add_argument("--label", default="", help="e.g. 'trial on a shared machine'")
    parser.add_argument(
        "--add-result",
        type=Path,
        action="append",
        default=[],
        help="an earlier run's <work-dir>/n<N>/result.json, tabled and plotted with these",
    )
    args = parser.parse_args()
    results = [load_result(path) for path in args.add_result]
    for n in (int(s) for s in args.sizes.split(",") if s):
        options = RegionOptions(
            institutions=n,
            minutes=args.minutes,
            day_minutes=args.day_minutes,
            peak_rate=args.peak_rate,
            seed=args.seed,
            min_history=args.min_history,
            flat=args.flat,
            work_dir=args.work_dir,
        )
        result = RegionRun(options).run()
        results.append(result)
        print(table([result]), flush=True)
        for note in result.notes:
            print(f"  note: {note}")
        print(f"  anomaly: {result.anomaly}\n  link health: {result.health}", flush=True)
    results.sort(key=lambda r: r.institutions)
    heading = (
        f"peak rate {args.peak_rate:g} changes/s for every N (a business day in "
        f"{args.day_minutes:g} wall min), {args.minutes:g} min per N"
        + (f"; {args.label}" if args.label else "")
    )
    text = f"{heading}\n\n{table(results)}\n\n{growth(results)}\n"
    print(text)
    out = args.table_out or args.work_dir / "region.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"table: {out}")
    if len(results) > 1:
        plot(results, args.plot, heading)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
