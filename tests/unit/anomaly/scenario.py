"""A scripted world for the detector: feeds with a day-shaped Poisson load, faults, a clock.

Counts records are emitted like the capture agent does (a minute's window 5 s after it
ends, nothing for a minute without changes); heartbeats every 10 s with ``lag_ms`` 0.
"""

from __future__ import annotations

import copy
import functools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from streamhub.anomaly import (
    AnomalyEvent,
    BaselineConfig,
    DetectorConfig,
    Kind,
    SeasonalCalendar,
    Suppressions,
    TrafficDetector,
)
from streamhub.core.clock import ManualClock, now_ms
from streamhub.simulate.business_time import DayCurve

MINUTE = 60_000
STEP_MS = 10_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z = 08:00 in Shanghai
CURVE = DayCurve(
    [
        (0.0, 0.12),
        (6.0, 0.15),
        (7.5, 0.9),
        (9.0, 2.4),
        (11.0, 2.1),
        (12.0, 0.8),
        (13.5, 0.9),
        (14.5, 1.9),
        (16.5, 1.5),
        (17.5, 0.6),
        (19.0, 0.4),
        (22.0, 0.25),
        (24.0, 0.12),
    ]
)
TABLES = {  # events per minute at a day-average load, for a hospital (clinics: a quarter)
    "his": {"his.public.registration": 40.0, "his.public.charge": 60.0, "his.public.patient": 8.0},
    "lis": {"lis.public.lab_result": 30.0, "lis.public.specimen": 12.0},
}
INSTITUTIONS = {"h01": 1.0, "h02": 1.0, "c01": 0.25, "c02": 0.25}


@dataclass(frozen=True)
class Feed:
    institution: str
    system: str
    table: str
    rate: float

    @property
    def connector(self) -> str:
        return f"{self.institution}-{self.system}"


@dataclass(frozen=True)
class Fault:
    kind: str  # outage | agent_down | burst | drop | stuck
    institution: str
    start_ms: int
    end_ms: int
    table: str | None = None  # only this table (burst, drop, stuck)
    rows: int = 5000
    factor: float = 0.2

    def hits(self, feed: Feed) -> bool:
        return feed.institution == self.institution and self.table in (None, feed.table)


def feeds() -> list[Feed]:
    out = []
    for inst, weight in INSTITUTIONS.items():
        systems = ("his", "lis") if inst.startswith("h") else ("his",)
        for system in systems:
            out += [Feed(inst, system, t, r * weight) for t, r in TABLES[system].items()]
    return out


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(round(rng.gauss(lam, math.sqrt(lam))), 0)
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class World:
    compression: float = 1.0
    seed: int = 7
    faults: list[Fault] = field(default_factory=list)
    suppressions: Suppressions = field(default_factory=Suppressions)
    start_ms: int = T0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.feeds = feeds()
        self.clock = ManualClock(self.start_ms / 1000)
        seasonal = SeasonalCalendar(
            compression=self.compression, origin_ms=self.start_ms, business_origin_ms=self.start_ms
        )
        config = DetectorConfig(baseline=BaselineConfig(seasonal=seasonal))
        self.detector = TrafficDetector(self.clock, config, self.suppressions)
        self.events: list[AnomalyEvent] = []
        self._queue: list[tuple[int, dict[str, Any]]] = []  # (deliver at, counts record)
        self._seasonal = seasonal

    def load(self, minute: int) -> float:
        """Mean day-curve intensity over one wall minute of business time."""
        points = [minute + i * MINUTE // 12 for i in range(12)]
        hours = [
            (self._seasonal.business_ms(p) + 8 * 3_600_000) % 86_400_000 / 3_600_000 for p in points
        ]
        return sum(CURVE.at_hour(h) for h in hours) / len(hours)

    def _count(self, feed: Feed, minute: int) -> int:
        n = poisson(self.rng, feed.rate * self.load(minute))
        for fault in self.faults:
            if not fault.hits(feed):
                continue
            overlap = max(min(fault.end_ms, minute + MINUTE) - max(fault.start_ms, minute), 0)
            share = overlap / MINUTE
            if fault.kind in ("outage", "stuck"):
                n = round(n * (1 - share))
            elif fault.kind == "drop":
                n = round(n * (1 - share * (1 - fault.factor)))
            elif fault.kind == "burst" and minute <= fault.start_ms < minute + MINUTE:
                n += fault.rows
        return n

    def _agent_down(self, feed: Feed, at_ms: int) -> Fault | None:
        return next(
            (
                f
                for f in self.faults
                if f.kind == "agent_down" and f.hits(feed) and f.start_ms <= at_ms < f.end_ms
            ),
            None,
        )

    def run(self, minutes: int) -> list[AnomalyEvent]:
        end = now_ms(self.clock) + minutes * MINUTE
        while now_ms(self.clock) < end:
            self.clock.advance(STEP_MS / 1000)
            now = now_ms(self.clock)
            if now % MINUTE == 0:
                self._close_minute(now - MINUTE)
            self._deliver(now)
            for connector in sorted({f.connector for f in self.feeds}):
                feed = next(f for f in self.feeds if f.connector == connector)
                if self._agent_down(feed, now) is None:
                    self.events += self.detector.on_heartbeat(self._heartbeat(feed, now))
            self.events += self.detector.tick()
        return self.events

    def _close_minute(self, minute: int) -> None:
        for feed in self.feeds:
            n = self._count(feed, minute)
            if n == 0:
                continue  # the agent emits nothing for a minute without changes
            at = minute + MINUTE + 5_000
            down = self._agent_down(feed, at)
            at = down.end_ms + 5_000 if down else at  # re-read from its position on restart
            database, _, table = feed.table.partition(".")
            self._queue.append(
                (
                    at,
                    {
                        "connector": feed.connector,
                        "institution_id": feed.institution,
                        "system": feed.system,
                        "database": database,
                        "table": table,
                        "window_start_ms": minute,
                        "window_ms": MINUTE,
                        "inserts": n,
                        "updates": 0,
                        "deletes": 0,
                        "snapshot_reads": 0,
                        "emitted_ts_ms": at,
                    },
                )
            )

    def _deliver(self, now: int) -> None:
        due = [r for at, r in self._queue if at <= now]
        self._queue = [(at, r) for at, r in self._queue if at > now]
        for record in due:
            self.events += self.detector.on_counts(record)

    def _heartbeat(self, feed: Feed, now: int) -> dict[str, Any]:
        return {
            "connector": feed.connector,
            "institution_id": feed.institution,
            "system": feed.system,
            "engine": "postgres",
            "state": "streaming",
            "position": None,
            "lag_bytes": 0,
            "lag_ms": 0,
            "last_event_ts_ms": None,
            "events_total": 0,
            "errors_total": 0,
            "emitted_ts_ms": now,
        }


# --- scoring ----------------------------------------------------------------------------------

EXPECTED_KIND = {
    "outage": Kind.SILENCE,
    "agent_down": Kind.SILENCE,
    "burst": Kind.SPIKE,
    "drop": Kind.DROP,
    "stuck": Kind.STUCK,
}
DEADLINE_MS = {
    "outage": 3 * MINUTE,
    "agent_down": 3 * MINUTE,
    "burst": 2 * MINUTE,
    "drop": 5 * MINUTE,
    "stuck": 5 * MINUTE,
}


def openings(events: list[AnomalyEvent]) -> list[AnomalyEvent]:
    """The first event of each anomaly (its opening), unsuppressed ones only."""
    seen: set[str] = set()
    out = []
    for e in events:
        if e.anomaly_id not in seen and e.kind != Kind.RECOVERED:
            seen.add(e.anomaly_id)
            out.append(e)
    return out


def _related(event: AnomalyEvent, fault: Fault) -> bool:
    feed = event.feed
    table_ok = fault.table is None or feed.table in (None, fault.table)
    return (
        feed.institution_id == fault.institution
        and table_ok
        and fault.start_ms - MINUTE <= event.start_ms <= fault.end_ms + 3 * MINUTE
    )


def detection_delay(events: list[AnomalyEvent], fault: Fault) -> int | None:
    """Ms from the fault's start to the first anomaly of the expected kind on its feeds."""
    hits = [
        e.detected_ts_ms - fault.start_ms
        for e in openings(events)
        if _related(e, fault) and e.kind == EXPECTED_KIND[fault.kind]
    ]
    return min(hits) if hits else None


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    opened: int
    true_positives: int
    detected: int
    faults: int


def score(events: list[AnomalyEvent], faults: list[Fault]) -> Score:
    """Precision over opened anomalies (related to some fault); recall over faults (the
    expected kind, within the fault's deadline)."""
    opened = openings(events)
    tp = sum(any(_related(e, f) for f in faults) for e in opened)
    detected = 0
    for fault in faults:
        delay = detection_delay(events, fault)
        detected += delay is not None and delay <= DEADLINE_MS[fault.kind]
    return Score(
        precision=tp / len(opened) if opened else 1.0,
        recall=detected / len(faults) if faults else 1.0,
        opened=len(opened),
        true_positives=tp,
        detected=detected,
        faults=len(faults),
    )


@functools.lru_cache(maxsize=8)
def _warmed(compression: float, seed: int, minutes: int) -> World:
    world = World(compression=compression, seed=seed)
    world.run(minutes)
    return world


def warmed(compression: float, seed: int, minutes: int, faults: list[Fault]) -> World:
    """A world that has already run ``minutes`` clean (shared, copied), then these faults.

    Faults must start after ``minutes``; a fresh copy keeps tests independent.
    """
    world = copy.deepcopy(_warmed(compression, seed, minutes))
    assert all(f.start_ms >= now_ms(world.clock) for f in faults)
    world.faults = list(faults)
    return world
