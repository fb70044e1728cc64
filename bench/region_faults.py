"""A region run's seeded fault plan, and how the detectors' findings are scored against it.

Six distinct institutions, drawn with the run's seed: two outages, two bursts (on hospitals:
a burst is one bulk UPDATE of rows the institution holds, and a clinic holds too few), one
stuck feed and one silent connector. Times scale with the run (``duration_s``): nothing starts
before the anomaly detector has ``min_history_min`` minutes of traffic (and 30 % of the run), the
stuck and silent spells last long enough for link health to cross its degraded limits (source
lag 60 s, heartbeat age 30 s), and every fault is over 30 s before the fleet stops, so every
held change is sent and reconciliation can end all MATCH.

Scoring (anomalies are what ``ops.anomaly`` opened: the first event of each anomaly id):
- an anomaly is a true positive when it is on a faulted institution and starts between one
  minute before its fault and three minutes after the fault ended (a held feed's catch-up is
  part of its fault), whatever its kind; any other is a false positive;
- a fault is found when an anomaly of the expected kind opened on its institution in that
  span: SPIKE for a burst, SILENCE / STUCK / DROP for an outage, a stuck feed or a silent
  connector.
Link health can see only the stuck feed (its lag) and the silent connector (its heartbeat):
an outage is an idle institution, a burst a busy one. While both are on, the institutions
not healthy must be exactly those two.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BEFORE_MS = 60_000
AFTER_MS = 180_000
DOWN = frozenset({"SILENCE", "STUCK", "DROP"})
EXPECTED: dict[str, frozenset[str]] = {
    "outage": DOWN,
    "stuck": DOWN,
    "silent": DOWN,
    "burst": frozenset({"SPIKE"}),
}
HEALTH_VISIBLE = ("stuck", "silent")


class FaultPlanError(RuntimeError):
    """The run is too short (or the fleet too small) for the fault plan."""


@dataclass(frozen=True)
class PlannedFault:
    kind: str
    key: str  # fleet key, h0001 / c0042
    at_s: float
    for_s: float
    rows: int = 0

    def spec(self) -> str:
        text = f"{self.kind}:{self.key}@{self.at_s:g}s"
        if self.kind == "burst":
            return text + f",rows={self.rows}"
        return text + f"+{self.for_s:g}s"


@dataclass(frozen=True)
class FaultPlan:
    faults: tuple[PlannedFault, ...]
    health_sample_s: float  # wall seconds from the fleet's start: stuck and silent both on

    @property
    def first_fault_s(self) -> float:
        return min(f.at_s for f in self.faults)

    def specs(self) -> list[str]:
        return [f.spec() for f in self.faults]

    def keys(self, kinds: Iterable[str] | None = None) -> set[str]:
        wanted = set(kinds) if kinds is not None else set(EXPECTED)
        return {f.key for f in self.faults if f.kind in wanted}


def plan_faults(
    keys: list[str],
    duration_s: float,
    seed: int,
    min_history_min: int,
    burst_rows: Mapping[str, int] | None = None,
    *,
    min_held_s: float = 150.0,
    lead_s: float = 30.0,
    sample_after_s: float = 70.0,
) -> FaultPlan:
    """The fault plan of a run of ``duration_s`` wall seconds over the fleet ``keys``;
    ``burst_rows``: the rows of a burst per key (3,000 where not given); ``min_held_s``: the
    shortest stuck and silent spell; ``lead_s``: traffic after the detector's history before
    the first fault; ``sample_after_s``: when link health is sampled, from the spell's start
    (70 s: past its default limits, heartbeat age 30 s and source lag 60 s; a short round
    lowers those limits and this). The `streamhub health` that samples takes its time to
    start and evaluate (30 s seen on a busy machine), so the spell goes on 60 s after it."""
    if len(keys) < 6:
        raise FaultPlanError(f"the fault plan needs 6 institutions, the fleet has {len(keys)}")
    start = max(0.3 * duration_s, 60.0 * min_history_min + lead_s)
    held = max(min_held_s, 0.3 * duration_s, sample_after_s + 60.0)
    if start + held + 30.0 > duration_s:
        raise FaultPlanError(
            f"a {duration_s:g} s run is too short for the fault plan: faults start at "
            f"{start:g} s (after {min_history_min} min of history) and hold {held:g} s; "
            f"give at least {start + held + 30:g} s"
        )
    rows = burst_rows or {}
    rng = random.Random(f"{seed}:region-faults")  # noqa: S311 - a plan, not a secret
    # a burst is one bulk UPDATE of rows the institution holds: a clinic holds too few (a
    # short run's clinic had 88 registrations), so bursts go to hospitals (keys h0001...)
    hospitals = sorted(k for k in keys if k.startswith("h"))
    if len(hospitals) < 2:
        raise FaultPlanError(f"the fault plan needs 2 hospitals, the fleet has {len(hospitals)}")
    bursts = rng.sample(hospitals, 2)
    chosen = rng.sample(sorted(set(keys) - set(bursts)), 4) + bursts
    faults = (
        PlannedFault("stuck", chosen[0], start, held),
        PlannedFault("silent", chosen[1], start, held),
        PlannedFault("outage", chosen[2], start, held),
        PlannedFault("outage", chosen[3], start + 10.0, held - 10.0),
        PlannedFault("burst", chosen[4], start + 20.0, 0.0, rows.get(chosen[4], 3000)),
        PlannedFault("burst", chosen[5], start + 0.6 * held, 0.0, rows.get(chosen[5], 3000)),
    )
    return FaultPlan(faults, health_sample_s=start + sample_after_s)


@dataclass(frozen=True)
class AnomalyScore:
    opened: int
    true_positives: int
    found: dict[str, bool]  # fault spec -> found
    false_positives: list[str]  # "institution kind" of each

    @property
    def precision(self) -> float:
        return self.true_positives / self.opened if self.opened else 1.0

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / len(self.found) if self.found else 1.0


def openings(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The first event of each anomaly id (RECOVERED events close, they do not open)."""
    seen: set[str] = set()
    out = []
    for event in sorted(events, key=lambda e: int(e["detected_ts_ms"])):
        if event["anomaly_id"] not in seen and event["kind"] != "RECOVERED":
            seen.add(str(event["anomaly_id"]))
            out.append(event)
    return out


def _span_ms(fault: PlannedFault, t0_ms: int) -> tuple[int, int]:
    start = t0_ms + int(fault.at_s * 1000)
    return start - BEFORE_MS, start + int(fault.for_s * 1000) + AFTER_MS


def _related(event: Mapping[str, Any], fault: PlannedFault, code: str, t0_ms: int) -> bool:
    low, high = _span_ms(fault, t0_ms)
    start = event.get("start_ms") or event["window_start_ms"]
    return event["institution_id"] == code and low <= int(start) <= high


def score_anomalies(
    events: Iterable[Mapping[str, Any]], plan: FaultPlan, codes: Mapping[str, str], t0_ms: int
) -> AnomalyScore:
    """``codes``: fleet key -> credit code; ``t0_ms``: the fleet's start (wall, epoch ms)."""
    opened = openings(events)
    true = [e for e in opened if any(_related(e, f, codes[f.key], t0_ms) for f in plan.faults)]
    found = {
        fault.spec(): any(
            _related(e, fault, codes[fault.key], t0_ms) and e["kind"] in EXPECTED[fault.kind]
            for e in opened
        )
        for fault in plan.faults
    }
    false = [f"{e['institution_id']} {e['kind']}" for e in opened if e not in true]
    return AnomalyScore(len(opened), len(true), found, false)


@dataclass(frozen=True)
class HealthScore:
    expected: set[str]  # credit codes
    named: set[str]  # credit codes not healthy
    seconds: float  # how long the evaluation took

    @property
    def exact(self) -> bool:
        return self.expected == self.named


def score_health(
    report: Mapping[str, Any], plan: FaultPlan, codes: Mapping[str, str], seconds: float
) -> HealthScore:
    """``report``: `streamhub health --format json` while the stuck and silent faults are on."""
    named = {i["institution_id"] for i in report["institutions"] if i["overall"] != "healthy"}
    expected = {codes[k] for k in plan.keys(HEALTH_VISIBLE)}
    return HealthScore(expected, named, seconds)
