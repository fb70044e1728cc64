"""The seeded fault schedule of a fault run: what hits, when, for how long.

Every kind hits once, at a time drawn from the seed within the run's middle (after a
lead for the pipeline to settle, ending ``tail_s`` before the writes stop, so everything
the faults held is sent before the drain). The schedule is printed before the run starts:
the same seed and duration give the same schedule, so a failing run can be replayed.

Kinds:
- ``kill:<process>``: SIGKILL of that process (capture, std1/std2, land, reconcile,
  anomaly); the supervisor starts it again ``for_s`` later (its restart delay);
- ``broker``: SIGKILL of one Kafka broker, started again ``for_s`` later; with
  ``for_good`` it stays down until the end of the run (only with three brokers);
- ``restart:postgres`` / ``restart:mariadb``: the database stopped (fast shutdown),
  kept down ``for_s``, started again (the simulated applications hold their writes
  meanwhile, as an application's queue would);
- ``netcut``: the capture agent's path to Kafka black-holed for ``for_s``.

Outages (what link health and the anomaly detector must name): the capture agent's kill,
the network cut and the databases' restarts: each stops an institution's feed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# the supervisor's restart delays: a centre worker at once-ish, the capture agent after a
# pause long enough that its absence is an outage the detectors must see
RESTART_DELAY_S = {"capture": 20.0, "default": 5.0}
DB_DOWN_S = 30.0
NETCUT_S = 30.0
BROKER_DOWN_S = 45.0
OUTAGES = ("kill:capture", "netcut", "restart:postgres", "restart:mariadb")
FULL_MATRIX = (
    "kill:capture",
    "kill:std",
    "kill:land",
    "kill:reconcile",
    "kill:anomaly",
    "broker",
    "restart:postgres",
    "restart:mariadb",
    "netcut",
)


class FaultPlanError(RuntimeError):
    """The run is too short for the faults asked for."""


@dataclass(frozen=True)
class Fault:
    kind: str  # kill:capture, kill:std1, broker, restart:postgres, netcut, ...
    at_s: float  # seconds from the start of the writes
    for_s: float  # restart delay, downtime or cut length
    target: str = ""  # the broker's node id, when kind == broker
    for_good: bool = False

    @property
    def end_s(self) -> float:
        return self.at_s + self.for_s

    @property
    def outage(self) -> bool:
        return self.kind in OUTAGES

    def describe(self) -> str:
        what = self.kind + (f"({self.target})" if self.target else "")
        if self.for_good:
            return f"{what} @{self.at_s:.0f}s, for good"
        return f"{what} @{self.at_s:.0f}s for {self.for_s:.0f}s"


def _length(kind: str, netcut_s: float) -> float:
    if kind == "netcut":
        return netcut_s
    if kind.startswith("restart:"):
        return DB_DOWN_S
    if kind == "broker":
        return BROKER_DOWN_S
    process = kind.split(":", 1)[1]
    return RESTART_DELAY_S.get(process, RESTART_DELAY_S["default"])


def plan(
    seed: int,
    duration_s: float,
    kinds: tuple[str, ...] = FULL_MATRIX,
    *,
    brokers: int = 1,
    broker_for_good: bool = False,
    lead_s: float = 45.0,
    tail_s: float = 60.0,
    netcut_s: float = NETCUT_S,
) -> list[Fault]:
    """The schedule: one fault of each of ``kinds`` (``kill:std`` picks std1 or std2; the
    broker fault needs three brokers and is left out with one)."""
    rng = random.Random(f"faults:{seed}")  # noqa: S311 - a schedule, not a secret
    wanted = [k for k in kinds if k != "broker" or brokers >= 3]
    faults = []
    for kind in wanted:
        length = _length(kind, netcut_s)
        latest = duration_s - tail_s - length
        if latest < lead_s:
            raise FaultPlanError(
                f"a {duration_s:g} s run is too short for {kind} ({length:g} s) after a "
                f"{lead_s:g} s lead and before a {tail_s:g} s tail"
            )
        at = round(rng.uniform(lead_s, latest), 1)
        if kind == "kill:std":
            faults.append(Fault(f"kill:std{rng.choice((1, 2))}", at, length))
        elif kind == "broker":
            node = str(rng.randint(1, brokers))
            faults.append(Fault("broker", at, length, target=node, for_good=broker_for_good))
        else:
            faults.append(Fault(kind, at, length))
    return sorted(faults, key=lambda f: f.at_s)


def schedule_text(seed: int, duration_s: float, faults: list[Fault]) -> str:
    lines = [f"fault schedule, seed {seed}, {duration_s:g} s of writes:"]
    lines += [f"  {f.describe()}" for f in faults]
    return "\n".join(lines)
