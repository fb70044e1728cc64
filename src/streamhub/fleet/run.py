"""The fleet's run: N institutions' days, paced by the wall clock, through their connectors.

Like the database-backed simulator's runner, the institutions' workloads are merged in
business-time order and each step is taken when the wall clock reaches its business time
(``BusinessTime``). A step's changes go straight to the institution's connectors (no
database): one transaction per connector, committed now. Heartbeats and due source counts
go out per connector every ``heartbeat_s`` wall seconds, staggered. Faults apply at their
wall second or on arrival in the control directory.

Nothing the clock says changes what is written (contents and order come from the seed);
only the commit times (and so the minute each change is counted in) follow the wall clock.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.emitter import DELIVERY, OPS_SCHEMAS
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.fleet.connectors import connector_config, server_id
from streamhub.fleet.emit import FleetConnector
from streamhub.fleet.errors import FleetDeliveryError, FleetFaultError, FleetOptionsError
from streamhub.fleet.faults import FleetControl, FleetFault
from streamhub.fleet.ledger import FleetLedger, write_ledger
from streamhub.fleet.mix import FleetMember, plan_fleet
from streamhub.fleet.pacing import Pacing
from streamhub.fleet.source import FleetInstitution
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.activity import load_activity
from streamhub.simulate.business_time import BusinessTime
from streamhub.simulate.calibration import rows_per_arrival
from streamhub.simulate.dialect import load
from streamhub.simulate.flows import InstitutionWorkload

log = get_logger(__name__)
STEP_BATCH = 2_000  # changes between looks at the clock, heartbeats and faults
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class FleetOptions:
    start: datetime  # business time (naive, local) the run starts at
    institutions: int = 10
    seed: int = 1
    duration_s: float = 60.0
    pacing: Pacing = field(default_factory=Pacing)
    faults: tuple[FleetFault, ...] = ()
    warm_up: bool = True  # the hours before start become the tables' state, not sent
    paced: bool = True  # False: as fast as it goes (measuring the fleet's own cost)

    def determining(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "institutions": self.institutions,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "day_minutes": self.pacing.day_minutes,
            "peak_rate": self.pacing.peak_rate,
            "flat": self.pacing.flat,
            "faults": [f.describe() for f in self.faults],
            "warm_up": self.warm_up,
        }


@dataclass
class FleetProgress:
    wall_s: float
    business: datetime
    emitted: int
    behind_s: float


@dataclass
class FleetReport:
    emitted: int
    by_table: dict[str, list[int]]
    faults: list[str]
    refused: list[str]
    wall_s: float
    cpu_s: float
    setup_s: float
    max_behind_s: float
    business_end: datetime
    ledger_path: Path
    heartbeats: int
    bytes_out: int

    @property
    def cpu_per_10k(self) -> float:
        return self.cpu_s / self.emitted * 10_000 if self.emitted else 0.0


def make_producer(settings: Settings) -> Producer:
    """The fleet's one producer, configured as each capture agent's (idempotent, acks=all)."""
    return Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            **DELIVERY,
            "queue.buffering.max.messages": 200_000,
            "queue.buffering.max.kbytes": 262_144,
            "client.id": "streamhub-fleet",
        }
    )


def require_topics(settings: Settings, topics: set[str]) -> None:
    existing = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(timeout=15)
    missing = sorted(topics - set(existing.topics))
    if missing:
        raise FleetOptionsError(
            f"topics {', '.join(missing)} do not exist at {settings.kafka_bootstrap}; "
            "create them with `streamhub topics apply`"
        )


def plan_connectors(
    settings: Settings, options: FleetOptions, taken: set[str]
) -> list[tuple[FleetMember, list[ConnectorConfig]]]:
    """The fleet's members with their connectors' configs (no Kafka needed)."""
    planned = []
    for member in plan_fleet(options.institutions, options.seed, taken):
        inst = member.institution
        dialect = load(inst.dialect)
        configs = [connector_config(settings, inst, dialect, s) for s in inst.systems]
        planned.append((member, configs))
    return planned


class Fleet:
    def __init__(
        self,
        settings: Settings,
        options: FleetOptions,
        ledger_path: Path,
        *,
        control: FleetControl | None = None,
        on_progress: Callable[[FleetProgress], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        taken: set[str] | None = None,
        producer: Producer | None = None,
        serde: AvroSerde | None = None,
    ) -> None:
        """``producer`` and ``serde`` given (tests): the caller has made the topics."""
        self.settings = settings
        self.options = options
        self.ledger_path = ledger_path
        self.control = control
        self.on_progress = on_progress
        self.clock = clock
        began = time.process_time()
        self.pacing = options.pacing
        self.business_time = BusinessTime(options.start, self.pacing.compression)
        self.ledger = FleetLedger()
        planned = plan_connectors(settings, options, taken or set())
        self.configs = [config for _, configs in planned for config in configs]
        if producer is None:
            require_topics(settings, {c.topic for c in self.configs} | set(OPS_SCHEMAS))
            producer = make_producer(settings)
        self.producer = producer
        self.serde = serde or AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        total_weight = sum(member.institution.weight for member, _ in planned)
        self.institutions = [
            self._institution(member, configs, total_weight) for member, configs in planned
        ]
        self.by_name = {i.institution.key: i for i in self.institutions}
        self.by_name |= {i.institution.credit_code: i for i in self.institutions}
        self.connectors = [c for i in self.institutions for c in i.connectors.values()]
        self.applied: list[str] = []
        self.refused: list[str] = []  # run-time commands that could not apply, with why
        self._holding: list[FleetConnector] = []  # stuck or silent, or still sending held
        self.max_behind_s = 0.0
        self._checked_at = 0.0
        self.heartbeats = 0
        for fault in options.faults:
            self._target(fault)  # a scheduled fault that cannot apply fails before the run
        self._seed_state()
        self._register_schemas()
        self.setup_cpu_s = time.process_time() - began

    def _institution(
        self, member: FleetMember, configs: list[ConnectorConfig], total_weight: float
    ) -> FleetInstitution:
        inst = member.institution
        dialect = load(inst.dialect)
        activity = load_activity()
        warm_up = timedelta(hours=activity.warm_up_hours if self.options.warm_up else 0)
        workload = InstitutionWorkload(
            inst,
            activity,
            seed=self.options.seed,
            start=self.options.start - warm_up,
            rows_per_second=self.pacing.share(inst.weight, total_weight),
            rows_per_arrival=rows_per_arrival(inst.kind, inst.systems, False),
            compression=self.pacing.compression,
            curve=self.pacing.curve,
        )
        workload.configure(bad_fraction=0.0, bad_kinds=(), raw_text=False)
        connectors: dict[str, FleetConnector] = {
            config.system: FleetConnector(
                self.settings,
                config,
                producer=self.producer,
                serde=self.serde,
                clock=self.clock,
                ledger=self.ledger,
                server=server_id(inst, config.system),
            )
            for config in configs
        }
        return FleetInstitution(workload, dialect, connectors, member.size)

    def _seed_state(self) -> None:
        """Each institution's tables before capture starts: patients, inpatients, the
        morning's hours (warm-up). Kept as state, not sent (snapshot mode never)."""
        activity = load_activity()
        for source in self.institutions:
            workload = source.workload
            kind = workload.institution.kind
            workload.seed_state(activity.seed_patients[kind], activity.seed_inpatients[kind])
            source.apply(workload.take_seeded(), None)
            while workload.next_time() < self.options.start:
                source.apply(workload.step(), None)

    def _register_schemas(self) -> None:
        """Every table's envelope schema registered before the run (2-3 ms each, some 14,000
        at N = 1,751), as agents that started earlier would have: pacing starts clean."""
        for source in self.institutions:
            for table, _renderer, _reader, connector in source.tables.values():
                connector.emitter.encoder_for(table)

    # --- the run -------------------------------------------------------------------------

    def run(self) -> FleetReport:
        options = self.options
        began_cpu = time.process_time()
        end = self.business_time.sim_at(options.duration_s)
        scheduled = sorted(options.faults, key=lambda f: f.at_s)
        heap = [(s.workload.next_time(), n) for n, s in enumerate(self.institutions)]
        heapq.heapify(heap)
        beats = [
            (HEARTBEAT_S * n / max(len(self.connectors), 1), n) for n in range(len(self.connectors))
        ]  # staggered over one interval, in wall seconds from the start
        t0 = self.clock.monotonic()
        try:
            self._loop(heap, beats, scheduled, end, t0)
        except BaseException:
            self._write_ledger()  # what was handed over before the failure
            raise
        wall = self.clock.monotonic() - t0
        self._progress(wall, end)
        self._finish()
        cpu = time.process_time() - began_cpu
        return FleetReport(
            emitted=self.ledger.emitted,
            by_table=self.ledger.by_table(),
            faults=self.applied,
            refused=self.refused,
            wall_s=wall,
            cpu_s=cpu,
            setup_s=self.setup_cpu_s,
            max_behind_s=self.max_behind_s,
            business_end=end,
            ledger_path=self.ledger_path,
            heartbeats=self.heartbeats,
            bytes_out=sum(c.emitter.bytes_out for c in self.connectors),
        )

    def _loop(
        self,
        heap: list[tuple[datetime, int]],
        beats: list[tuple[float, int]],
        scheduled: list[FleetFault],
        end: datetime,
        t0: float,
    ) -> None:
        options = self.options
        last_report = last_poll = -1.0
        while True:
            wall = self.clock.monotonic() - t0
            due = min(self.business_time.sim_at(wall), end) if options.paced else end
            while scheduled and (scheduled[0].at_s <= wall or not options.paced):
                self._apply_fault(scheduled.pop(0), wall, t0)
            if self.control is not None and wall - last_poll >= 0.5:
                last_poll = wall
                for fault in self.control.receive():
                    self._command(fault, wall, t0)
            stepped = 0
            commit_ms = now_ms(self.clock)
            while heap and heap[0][0] <= due and stepped < STEP_BATCH:
                _, n = heapq.heappop(heap)
                source = self.institutions[n]
                stepped += source.step(commit_ms)
                heapq.heappush(heap, (source.workload.next_time(), n))
            self.producer.poll(0)
            self._release(wall)
            self._beat(beats, wall)
            if stepped and options.paced:
                self.max_behind_s = max(self.max_behind_s, wall - self.business_time.wall_at(due))
            if not stepped:
                if heap[0][0] >= end:
                    break
                if options.paced:
                    next_at = self.business_time.wall_at(heap[0][0])
                    self.clock.sleep(min(max(next_at - wall, 0.001), 0.05))
            if self.on_progress is not None and wall - last_report >= 5.0:
                last_report = wall
                self._progress(wall, due)

    def _progress(self, wall: float, due: datetime) -> None:
        if self.on_progress is not None:
            self.on_progress(FleetProgress(wall, due, self.ledger.emitted, self.max_behind_s))

    def _beat(self, beats: list[tuple[float, int]], wall: float) -> None:
        while beats and beats[0][0] <= wall:
            at, n = heapq.heappop(beats)
            connector = self.connectors[n]
            if connector.silent_until is None:
                self.heartbeats += 1
            connector.report()
            heapq.heappush(beats, (max(at + HEARTBEAT_S, wall), n))
        if wall - self._checked_at >= 1.0:  # a look at thousands of trackers: once a second
            self._checked_at = wall
            self._check_deliveries()

    def _release(self, wall: float) -> None:
        for connector in self._holding:
            connector.release(wall)
        self._holding = [c for c in self._holding if c.holding or c.held]

    def _check_deliveries(self) -> None:
        for connector in self.connectors:
            if connector.tracker.failure is not None:
                raise FleetDeliveryError(
                    f"connector {connector.config.name}: Kafka refused a delivery "
                    f"({connector.tracker.failure}); the ledger holds what was handed over "
                    "before, the topics may hold less"
                )

    # --- faults ----------------------------------------------------------------------------

    def _target(self, fault: FleetFault) -> FleetInstitution:
        """The institution a fault applies to; :class:`FleetFaultError` if it cannot apply."""
        source = self.by_name.get(fault.institution)
        if source is None:
            raise FleetFaultError(
                f"fault {fault.describe()}: no institution {fault.institution!r} in this fleet "
                f"(keys h0001…, c0001… or a credit code; see the ledger's institutions)"
            )
        if fault.kind == "burst" and fault.entity not in source.rows:
            raise FleetFaultError(
                f"fault {fault.describe()}: institution {source.institution.key} has no "
                f"{fault.entity!r} rows to update (entity= one of {', '.join(sorted(source.rows))})"
            )
        if fault.kind in ("stuck", "silent"):
            self._fault_connectors(fault, source)
        return source

    def _command(self, fault: FleetFault, wall: float, t0: float) -> None:
        """A fault from the control directory: one that cannot apply is refused and logged,
        the run goes on (a typo must not end a long run)."""
        try:
            self._apply_fault(fault, wall, t0)
        except FleetFaultError as exc:
            self.refused.append(str(exc))
            log.warning("fleet fault refused", extra={"reason": str(exc)})

    def _apply_fault(self, fault: FleetFault, wall: float, t0: float) -> None:
        source = self._target(fault)
        inst = source.institution
        business = self.business_time.sim_at(wall)
        until = math.inf if fault.for_s <= 0 else wall + fault.for_s
        record: dict[str, Any] = {
            "fault": fault.kind,
            "institution": inst.key,
            "institution_id": inst.credit_code,
            "at_wall": _wall_iso(self.clock.time()),
            "at_business": business.isoformat(timespec="seconds"),
        }
        if fault.for_s > 0:
            record["until_wall"] = _wall_iso(self.clock.time() + fault.for_s)
            record["until_business"] = self.business_time.sim_at(until).isoformat(
                timespec="seconds"
            )
        if fault.kind == "outage":
            source.workload.pause(self.business_time.sim_at(until))
        elif fault.kind == "burst":
            record |= {
                "entity": fault.entity,
                "rows": source.burst(fault.entity, fault.rows, business, now_ms(self.clock)),
            }
        else:
            connectors = self._fault_connectors(fault, source)
            for connector in connectors:
                if fault.kind == "stuck":
                    connector.stuck_until = until
                else:
                    connector.silent_until = until
            self._holding += [c for c in connectors if c not in self._holding]
            record["connectors"] = [c.config.name for c in connectors]
        self.ledger.faults.append(record)
        self.applied.append(fault.describe())
        log.info("fleet fault applied", extra={"institution": inst.credit_code, **record})

    @staticmethod
    def _fault_connectors(fault: FleetFault, source: FleetInstitution) -> list[FleetConnector]:
        if fault.system is None:
            return list(source.connectors.values())
        connector = source.connectors.get(fault.system)
        if connector is None:
            raise FleetFaultError(
                f"fault {fault.describe()}: institution {source.institution.key} runs no "
                f"{fault.system} (its systems: {', '.join(source.connectors)})"
            )
        return [connector]

    def _write_ledger(self) -> None:
        live = {
            (source.institution.credit_code, table): rows
            for source in self.institutions
            for table, rows in source.live_rows().items()
        }
        document = self.ledger.document(
            self.options.determining(), [s.describe() for s in self.institutions], live
        )
        document["refused"] = self.refused
        write_ledger(document, self.ledger_path)

    # --- the end ---------------------------------------------------------------------------

    def _finish(self) -> None:
        for connector in self.connectors:
            connector.finish()
            for pending, *_ in connector.held:
                self.ledger.held[(connector.config.institution_id, pending.table.full_name)] += 1
        left = self.producer.flush(60)
        self._write_ledger()
        if left:
            raise FleetDeliveryError(
                f"{left} messages were still undelivered after 60 s; is Kafka at "
                f"{self.settings.kafka_bootstrap} up? The ledger counts them as sent"
            )
        self._check_deliveries()


def _wall_iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")
