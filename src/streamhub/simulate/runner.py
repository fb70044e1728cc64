"""Run the simulated institutions against the real databases, paced by the wall clock
(:mod:`streamhub.core.clock`, injected)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger
from streamhub.simulate import batch
from streamhub.simulate.activity import load_activity
from streamhub.simulate.bad_records import BAD_KINDS, BadKind
from streamhub.simulate.business_time import FLAT, BusinessTime, DayCurve
from streamhub.simulate.calibration import rows_per_arrival
from streamhub.simulate.dialect import Dialect, RowRenderer, load
from streamhub.simulate.errors import FaultSpecError, SimulatorError, SourceWriteError
from streamhub.simulate.faults import ControlDirectory, Fault
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import Institution, plan_institutions
from streamhub.simulate.ledger import Ledger, write_ledger
from streamhub.simulate.records import Change
from streamhub.simulate.sources import SourceDatabases, open_sources

log = get_logger(__name__)
MAX_BATCH = 4000  # changes per write; a batch is one transaction per database
SEED_BATCH = 20000


@dataclass(frozen=True)
class SimulationOptions:
    start: datetime
    seed: int = 1
    hospitals: int = 2
    clinics: int = 2
    dialects: tuple[str, ...] = ("english_pg", "pinyin_gbk")
    rate: float = 1000.0  # mean row changes per wall second, all institutions together
    duration_s: float = 60.0
    compression: float = 144.0  # simulated seconds per wall second: a day in 10 minutes
    day_shape: bool = True
    bad_fraction: float = 0.0
    bad_kinds: tuple[BadKind, ...] = BAD_KINDS
    faults: tuple[Fault, ...] = ()
    db_prefix: str = "sim"
    warm_up: bool = True  # write the hours before start during set-up (steady state at once)
    paced: bool = True  # False: write as fast as the databases take it (benchmarks)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", self.db_prefix):
            raise SimulatorError(
                f"database prefix {self.db_prefix!r}: use lower-case letters, digits and _"
            )

    def determining(self) -> dict[str, Any]:
        """The options that decide what is written (pacing only decides when)."""
        return {
            "start": self.start.isoformat(),
            "seed": self.seed,
            "hospitals": self.hospitals,
            "clinics": self.clinics,
            "dialects": list(self.dialects),
            "rate": self.rate,
            "duration_s": self.duration_s,
            "compression": self.compression,
            "day_shape": self.day_shape,
            "bad_fraction": self.bad_fraction,
            "bad_kinds": list(self.bad_kinds),
            "faults": [f.describe() for f in self.faults],
            "db_prefix": self.db_prefix,
            "warm_up": self.warm_up,
        }


@dataclass
class Progress:
    wall_s: float
    sim_time: datetime
    written: int
    behind_s: float


@dataclass
class RunReport:
    institutions: list[Institution]
    seeded: int
    written: int
    wall_s: float
    max_behind_s: float
    sim_end: datetime
    ledger_path: Path
    faults: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.written / self.wall_s if self.wall_s > 0 else 0.0


class Simulation:
    def __init__(
        self,
        settings: Settings,
        options: SimulationOptions,
        ledger_path: Path,
        control: ControlDirectory | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.options = options
        self.ledger_path = ledger_path
        self.control = control
        self.on_progress = on_progress
        self.clock = clock  # wall time: pacing reads and sleeps through it
        self.business_time = BusinessTime(options.start, options.compression)
        # by the dialect's own name (what institutions record), also when given as a file path
        loaded = [load(name) for name in options.dialects]
        self.dialects: dict[str, Dialect] = {dialect.name: dialect for dialect in loaded}
        self.institutions = plan_institutions(
            hospitals=options.hospitals,
            clinics=options.clinics,
            dialects=list(options.dialects),
            seed=options.seed,
        )
        if not self.institutions:
            raise SimulatorError("nothing to simulate: ask for at least one hospital or clinic")
        self.by_key = {inst.key: inst for inst in self.institutions}
        self.ledger = Ledger()
        self.sources: dict[str, SourceDatabases] = {}
        self.renderers: dict[tuple[str, str], RowRenderer] = {}
        self.database_of: dict[tuple[str, str], str] = {}
        self.engine_of: dict[str, str] = {}
        self.workloads = self._workloads()
        self.max_behind_s = 0.0
        self.written = 0
        self.seeded = 0
        self.applied: list[str] = []
        self._schema_changes_used: dict[tuple[str, str], int] = {}

    def _workloads(self) -> list[InstitutionWorkload]:
        activity = load_activity()
        curve = DayCurve(activity.day_curve) if self.options.day_shape else FLAT
        total_weight = sum(inst.weight for inst in self.institutions)
        warm_up = timedelta(hours=activity.warm_up_hours if self.options.warm_up else 0)
        workloads = []
        for inst in self.institutions:
            dialect = self.dialects[inst.dialect]
            for entity, table in dialect.tables.items():
                if table.system in inst.systems:
                    database = inst.database(self.options.db_prefix, table.system)
                    self.renderers[(inst.key, entity)] = RowRenderer(dialect, entity)
                    self.database_of[(inst.key, entity)] = database
                    self.engine_of[database] = inst.engine
            workload = InstitutionWorkload(
                inst,
                activity,
                seed=self.options.seed,
                start=self.options.start - warm_up,
                rows_per_second=self.options.rate * inst.weight / total_weight,
                rows_per_arrival=rows_per_arrival(inst.kind, inst.systems, dialect.raw_text),
                compression=self.options.compression,
                curve=curve,
            )
            workload.configure(
                bad_fraction=self.options.bad_fraction,
                bad_kinds=self.options.bad_kinds,
                raw_text=dialect.raw_text,
            )
            workloads.append(workload)
        return workloads

    # --- setting up ------------------------------------------------------------------

    def setup(self) -> None:
        """Create every institution's databases empty, then write its initial state."""
        activity = load_activity()
        for inst in self.institutions:
            dialect = self.dialects[inst.dialect]
            source = self._source(inst.engine)
            for system in inst.systems:
                tables = [dialect.tables[e] for e in dialect.entities_in(system)]
                source.recreate(
                    inst.database(self.options.db_prefix, system), tables, dialect.table_options
                )
            log.info(
                "institution databases created",
                extra={"institution": inst.credit_code, "engine": inst.engine},
            )
        for workload in self.workloads:
            kind = workload.institution.kind
            workload.seed_state(activity.seed_patients[kind], activity.seed_inpatients[kind])
            self._write_seeded(workload.take_seeded())
            warm: list[Change] = []
            while workload.next_time() < self.options.start:
                warm.extend(workload.step())
                if len(warm) >= SEED_BATCH:
                    self._write_seeded(warm)
            self._write_seeded(warm)

    def _write_seeded(self, changes: list[Change]) -> None:
        for i in range(0, len(changes), SEED_BATCH):
            self._write(changes[i : i + SEED_BATCH])
        self.seeded += len(changes)
        changes.clear()

    def _source(self, engine: str) -> SourceDatabases:
        if engine not in self.sources:
            self.sources[engine] = open_sources(self.settings, engine)  # type: ignore[arg-type]
        return self.sources[engine]

    # --- the run ---------------------------------------------------------------------

    def run(self) -> RunReport:
        options = self.options
        end = self.business_time.sim_at(options.duration_s)
        scheduled = sorted(
            ((self.business_time.sim_at(f.at_s), n, f) for n, f in enumerate(options.faults)),
        )
        heap = [(w.next_time(), n) for n, w in enumerate(self.workloads)]
        heapq.heapify(heap)
        pending: list[Change] = []
        t0 = self.clock.monotonic()
        last_report = last_poll = 0.0
        while True:
            wall = self.clock.monotonic() - t0
            due = min(self.business_time.sim_at(wall), end) if options.paced else end
            if self.control is not None and wall - last_poll >= 0.5:
                last_poll = wall
                for fault in self.control.receive():
                    self._flush(pending)
                    self._apply_fault(fault, max(self.business_time.sim_at(wall), heap[0][0]))
            while heap and heap[0][0] <= due and len(pending) < MAX_BATCH:
                if scheduled and scheduled[0][0] <= heap[0][0]:
                    at, _, fault = scheduled.pop(0)
                    self._flush(pending)
                    self._apply_fault(fault, at)
                    continue
                _, n = heapq.heappop(heap)
                workload = self.workloads[n]
                pending.extend(workload.step())
                heapq.heappush(heap, (workload.next_time(), n))
            if pending:
                self._flush(pending)
                behind = wall - self.business_time.wall_at(due) if options.paced else 0.0
                self.max_behind_s = max(self.max_behind_s, behind)
            elif heap[0][0] >= end:
                break
            elif options.paced:
                next_at = self.business_time.wall_at(heap[0][0])
                self.clock.sleep(min(max(next_at - wall, 0.001), 0.05))
            if self.on_progress is not None and wall - last_report >= 2.0:
                last_report = wall
                self.on_progress(Progress(wall, due, self.written, self.max_behind_s))
        wall = self.clock.monotonic() - t0
        if self.on_progress is not None:
            self.on_progress(Progress(wall, end, self.written, self.max_behind_s))
        self._finish()
        return RunReport(
            institutions=self.institutions,
            seeded=self.seeded,
            written=self.written,
            wall_s=wall,
            max_behind_s=self.max_behind_s,
            sim_end=end,
            ledger_path=self.ledger_path,
            faults=self.applied,
        )

    def _flush(self, pending: list[Change]) -> None:
        if pending:
            self._write(pending)
            self.written += len(pending)
            pending.clear()

    def _write(self, changes: list[Change]) -> None:
        by_database: dict[str, list[Change]] = {}
        for change in changes:
            database = self.database_of[(change.institution, change.entity)]
            by_database.setdefault(database, []).append(change)
        for database, group in by_database.items():
            source = self._source(self.engine_of[database])
            try:
                source.apply(database, batch.plan(group, self.renderers))
            except Exception as exc:  # any driver error: stop, keep the ledger true
                self._finish()
                raise SourceWriteError(
                    f"writing {len(group)} changes to {source.engine} database {database} "
                    f"failed: {exc}; the ledger holds what was committed before",
                    database=database,
                    engine=source.engine,
                ) from exc
            self.ledger.record(group)

    # --- faults ----------------------------------------------------------------------

    def _apply_fault(self, fault: Fault, at: datetime) -> None:
        inst = self.by_key.get(fault.institution)
        if inst is None:
            raise FaultSpecError(
                f"fault {fault.describe()}: no institution {fault.institution!r} in this run "
                f"(have {', '.join(self.by_key)})"
            )
        workload = self.workloads[inst.index]
        record: dict[str, Any] = {"fault": fault.kind, "institution": inst.key}
        record["at"] = at.isoformat(timespec="seconds")
        if fault.kind == "outage":
            until = at + timedelta(seconds=fault.for_s * self.options.compression)
            workload.pause(until)
            record["until"] = until.isoformat(timespec="seconds")
        elif fault.kind == "burst":
            entity = fault.entity or "registration"
            self._check_entity(fault, inst, entity)
            changes = workload.burst(entity, fault.rows, at)
            self._write(changes)
            self.written += len(changes)
            record.update(entity=entity, rows=len(changes))
        else:
            record.update(self._alter(fault, inst, at))
        self.ledger.faults.append(record)
        self.applied.append(fault.describe())
        log.info("fault applied", extra={"institution": inst.credit_code, **record})

    def _check_entity(self, fault: Fault, inst: Institution, entity: str) -> None:
        if (inst.key, entity) not in self.database_of:
            raise FaultSpecError(
                f"fault {fault.describe()}: institution {inst.key} has no {entity!r} table"
            )

    def _alter(self, fault: Fault, inst: Institution, at: datetime) -> dict[str, Any]:
        dialect = self.dialects[inst.dialect]
        candidates = [
            c
            for c in dialect.schema_changes
            if fault.entity in (None, c.entity) and (inst.key, c.entity) in self.database_of
        ]
        used = self._schema_changes_used.get((inst.key, str(fault.entity)), 0)
        if used >= len(candidates):
            raise FaultSpecError(
                f"fault {fault.describe()}: dialect {dialect.name} lists no further column "
                f"to add for {fault.entity or 'any table'}; add one under schema_changes"
            )
        self._schema_changes_used[(inst.key, str(fault.entity))] = used + 1
        change = candidates[used]
        database = self.database_of[(inst.key, change.entity)]
        table = dialect.tables[change.entity].name
        self._source(inst.engine).add_column(database, table, change.column, change.type)
        self.renderers[(inst.key, change.entity)].add_column(change.column, change.value)
        entry = {
            "institution": inst.key,
            "entity": change.entity,
            "database": database,
            "table": table,
            "column": change.column,
            "type": change.type,
            "at": at.isoformat(timespec="seconds"),
            "inserts_before": self.ledger.inserts[(inst.key, change.entity)],
        }
        self.ledger.schema_changes.append(entry)
        return {"entity": change.entity, "column": change.column}

    # --- the end ---------------------------------------------------------------------

    def _finish(self) -> None:
        for workload in self.workloads:
            self.ledger.planted.extend(workload.planted)
            workload.planted.clear()
        document = self.ledger.document(
            self.options.determining(), self.institutions, self.dialects, self.options.db_prefix
        )
        write_ledger(document, self.ledger_path)
        for source in self.sources.values():
            source.close()
