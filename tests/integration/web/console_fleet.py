"""A province's worth of console data, generated with known faults (test and bench share it).

1,751 institutions (338 hospitals with HIS, EMR, LIS and PACS; 1,413 clinics with HIS and
LIS), spread over the region catalogue's districts, with:

- a link-health :class:`Observation`: one connector per system, a fresh heartbeat each,
  except every ``DOWN_EVERY``-th institution (its HIS connector silent: capture down) and
  every ``DEGRADED_EVERY``-th other one (HIS heartbeat a minute old: capture degraded);
- reconciliation windows (ops_reconciliation rows) per table and minute, MATCH except a
  known set of MISSING, EXCESS and PENDING ones;
- anomalies (ops_anomaly rows): an open one per faulty institution, some suppressed, and a
  recovered one (two events) per ``RECOVERED_EVERY``-th institution.

Each generator also says what it made (:class:`Fleet` and the row dicts), so a test derives
the expected page from the fault plan, not from the code under test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from streamhub.codes import credit_code
from streamhub.codes.catalogue import regions
from streamhub.health.model import Beat, Connector, Observation

HOSPITALS, CLINICS = 338, 1413
HOSPITAL_SYSTEMS = ("his", "emr", "lis", "pacs")
CLINIC_SYSTEMS = ("his", "lis")
TABLES = {"his": ("registration", "charge"), "emr": ("diagnosis",), "lis": ("report",),
          "pacs": ("exam",)}  # fmt: skip
DOWN_EVERY, DEGRADED_EVERY, RECOVERED_EVERY = 37, 11, 5
MINUTE = 60_000


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    region_code: str
    hospital: bool
    index: int

    @property
    def systems(self) -> tuple[str, ...]:
        return HOSPITAL_SYSTEMS if self.hospital else CLINIC_SYSTEMS

    @property
    def health(self) -> str:
        """The overall link status the fault plan gives it."""
        if self.index % DOWN_EVERY == 0:
            return "down"
        if self.index % DEGRADED_EVERY == 0:
            return "degraded"
        return "ok"


@dataclass(frozen=True)
class Fleet:
    institutions: tuple[Institution, ...]

    @property
    def names(self) -> dict[str, str]:
        return {i.institution_id: i.name for i in self.institutions}

    def by_id(self) -> dict[str, Institution]:
        return {i.institution_id: i for i in self.institutions}


def fleet(hospitals: int = HOSPITALS, clinics: int = CLINICS) -> Fleet:
    """The institutions, ids valid credit codes, districts round-robin over the catalogue."""
    codes = [r.code for r in regions()]
    districts = {r.code: r.district for r in regions()}
    made = []
    for index in range(hospitals + clinics):
        hospital = index < hospitals
        region = codes[index % len(codes)]
        base = f"{(7_000_000 + index * 7919) % 10**8:08d}"
        institution_id = credit_code.make("1", "2", region, base)
        kind = "医院" if hospital else "社区卫生服务中心"
        name = f"{districts[region]}第{index + 1:04d}{kind}"
        made.append(Institution(institution_id, name, region, hospital, index))
    return Fleet(tuple(made))


def observation(fleet: Fleet, now_ms: int, horizon_ms: int = 900_000) -> Observation:
    """What gather would read from Kafka for the fleet: fresh heartbeats but the faults'."""
    connectors, beats = [], {}
    for inst in fleet.institutions:
        for system in inst.systems:
            name = f"{inst.institution_id}-{system}"
            connectors.append(Connector(name, inst.institution_id, system, inst.name))
            if system == "his" and inst.health == "down":
                continue  # silent: no heartbeat in the horizon
            age_ms = 60_000 if system == "his" and inst.health == "degraded" else 5_000
            beats[name] = (
                Beat(now_ms - age_ms - 5_000, "running", 100, 0),
                Beat(now_ms - age_ms, "running", 120, 0),
            )
    return Observation(
        now_ms=now_ms,
        since_ms=now_ms - horizon_ms,
        standardize_group="console-scale-standardize",
        lander_group="console-scale-land",
        connectors=tuple(connectors),
        beats=beats,
    )


def window_status(inst: Institution, system: str, table: str, minute: int) -> str:
    """The verdict the plan gives a window: a few problems, mostly MATCH."""
    spot = (inst.index * 31 + minute * 7 + len(table) + len(system)) % 997
    if spot == 0:
        return "MISSING"
    if spot == 1:
        return "EXCESS"
    if spot == 2 and minute < 3:
        return "PENDING"
    return "MATCH"


def reconciliation_rows(
    fleet: Fleet, first_window_ms: int, minutes: int, offsets: Iterator[int] | None = None
) -> Iterator[dict[str, Any]]:
    """One window per institution, table and minute from ``first_window_ms`` (newest first:
    minute 0 is the newest window)."""
    offsets = offsets or itertools.count()
    for inst in fleet.institutions:
        for system in inst.systems:
            for table in TABLES[system]:
                for minute in range(minutes):
                    status = window_status(inst, system, table, minute)
                    start = first_window_ms - minute * MINUTE
                    changes = 10 + (inst.index + minute) % 40
                    difference = {"MISSING": -1 - inst.index % 3, "EXCESS": 1}.get(status, 0)
                    yield {
                        "institution_id": inst.institution_id, "system": system,
                        "database": system, "table": table, "window_start_ms": start,
                        "window_end_ms": start + MINUTE, "source_changes": changes,
                        "standardized": changes, "dead_lettered": 0,
                        "landed": changes + difference, "status": status,
                        "difference": difference, "detail": None,
                        "checked_ts_ms": start + 2 * MINUTE, "duplicates": 0, "revision": 1,
                        "repaired": 0, "_topic": "ops.reconciliation", "_partition": 0,
                        "_offset": next(offsets),
                    }  # fmt: skip


def anomaly_rows(fleet: Fleet, now_ms: int) -> list[dict[str, Any]]:
    """An open anomaly per faulty institution (every other one of those suppressed, i.e.
    acknowledged), and an opened-then-recovered one per ``RECOVERED_EVERY``-th institution."""
    rows = []
    offsets = itertools.count()
    for inst in fleet.institutions:
        stories = []
        if inst.health != "ok":
            kind = "SILENCE" if inst.health == "down" else "DROP"
            severity = "CRITICAL" if inst.health == "down" else "WARNING"
            stories.append((f"an-{inst.index}-open", kind, severity, inst.index % 2 == 1, False))
        if inst.index % RECOVERED_EVERY == 0:
            stories.append((f"an-{inst.index}-rec", "SPIKE", "WARNING", False, True))
        for anomaly_id, kind, severity, suppressed, recovered in stories:
            start = now_ms - (30 + inst.index % 600) * MINUTE
            event = {
                "anomaly_id": anomaly_id, "institution_id": inst.institution_id, "system": "his",
                "table": "registration", "metric": "events", "kind": kind, "observed": 0.0,
                "expected": 40.0, "lower": 20.0, "upper": 60.0, "score": 5.0,
                "window_start_ms": start, "detected_ts_ms": start + MINUTE, "connector": None,
                "severity": severity, "start_ms": start, "end_ms": None, "recovered_kind": None,
                "suppressed": suppressed, "suppression": "ack" if suppressed else None,
                "detail": f"{kind} on his.registration", "_topic": "ops.anomaly",
                "_partition": 0, "_offset": next(offsets),
            }  # fmt: skip
            rows.append(event)
            if recovered:
                rows.append({**event, "kind": "RECOVERED", "recovered_kind": kind,
                             "detected_ts_ms": start + 10 * MINUTE, "end_ms": start + 10 * MINUTE,
                             "_offset": next(offsets)})  # fmt: skip
    return rows


def insert_rows(
    client: Any, table: str, rows: Iterator[dict[str, Any]], batch: int = 200_000
) -> int:
    """Insert dict rows in batches (columns of the first row); the number inserted."""
    done = 0
    while chunk := list(itertools.islice(rows, batch)):
        columns = list(chunk[0])
        client.insert(table, [[r[c] for c in columns] for r in chunk], column_names=columns)
        done += len(chunk)
    return done
