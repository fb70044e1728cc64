"""The scheduling core of one institution's workload: keys, clock, arrivals, follow-ups.

Every decision comes from one seeded RNG per institution and is taken in
simulated-time order, so a seed and the run options fix every change; how fast
the databases accept them never alters what is written.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from streamhub.simulate.activity import Activity
from streamhub.simulate.business_time import DayCurve
from streamhub.simulate.institutions import Institution
from streamhub.simulate.records import ENTITIES, Change

Action = Callable[..., None]


KEY_SPACES = {"admission": "registration"}


class WorkloadBase:
    def __init__(
        self,
        institution: Institution,
        activity: Activity,
        *,
        seed: int,
        start: datetime,
        rows_per_second: float,
        rows_per_arrival: float,
        compression: float,
        curve: DayCurve,
    ) -> None:
        self.institution = institution
        self.activity = activity
        self.rng = random.Random(f"{seed}:{institution.key}")
        self.now = start
        self._rows_per_second = rows_per_second
        self._rows_per_arrival = rows_per_arrival
        self._compression = compression
        self._curve = curve
        self._queue: list[tuple[datetime, int, Action, tuple[object, ...]]] = []
        self._sequence = 0
        self._next_key = dict.fromkeys(ENTITIES, 1)
        # registrations and admissions share one visit number space (one 就诊ID, as JZID in
        # many HIS products), so an encounter_id on a charge or report names one encounter
        self._key_space = {entity: KEY_SPACES.get(entity, entity) for entity in ENTITIES}
        self._out: list[Change] = []
        self._paused_until = start
        self.rows = 0
        self.arrivals = 0
        # live rows and their creation time, oldest first: bursts and corrections pick from here
        self.live: dict[str, dict[int, datetime]] = {entity: {} for entity in ENTITIES}
        self._next_arrival = start + timedelta(seconds=self._gap(start))

    # --- the clock -----------------------------------------------------------------

    def next_time(self) -> datetime:
        if self._queue and self._queue[0][0] < self._next_arrival:
            return self._queue[0][0]
        return self._next_arrival

    def step(self) -> list[Change]:
        """Run the earliest pending action or arrival; return the changes it made."""
        self._out = []
        if self._queue and self._queue[0][0] < self._next_arrival:
            at, _, action, args = heapq.heappop(self._queue)
            if at < self._paused_until:  # the institution is down: the work waits
                jitter = timedelta(seconds=self.rng.uniform(0, 120))
                self._schedule_at(self._paused_until + jitter, action, *args)
                return []
            self.now = at
            action(*args)
        else:
            at = self._next_arrival
            self._next_arrival = at + timedelta(seconds=self._gap(at))
            if at < self._paused_until:
                return []  # nobody registers at an institution whose system is down
            self.now = at
            self.arrivals += 1
            self.arrive()
        self.rows += len(self._out)
        return self._out

    def arrive(self) -> None:
        raise NotImplementedError

    def pause(self, until: datetime) -> None:
        """Outage: no arrivals before ``until``; follow-ups due meanwhile happen after it."""
        self._paused_until = max(self._paused_until, until)
        if self._next_arrival < until:
            self._next_arrival = until + timedelta(seconds=self._gap(until))

    def _gap(self, at: datetime) -> float:
        """Seconds of simulated time to the next arrival, from the target row rate.

        Arrivals are a Poisson process whose rate follows the day's curve, drawn by thinning:
        candidates at the curve's peak rate, each kept with the curve's intensity there over
        the peak. One exponential gap at the rate of ``at`` would be wrong for a small
        institution: a gap drawn at a quiet hour's rate (hours long) jumps over the busy
        hours after it, so most of a province's clinics sent nothing in a short run.
        """
        peak = self._curve.peak
        arrivals_per_sim_second = (
            self._rows_per_second * peak / (self._rows_per_arrival * self._compression)
        )
        candidate = at
        while True:
            candidate += timedelta(seconds=self.rng.expovariate(arrivals_per_sim_second))
            if self.rng.random() * peak < self._curve.at(candidate):
                return (candidate - at).total_seconds()

    def after(self, minutes: tuple[float, float], action: Action, *args: object) -> None:
        """Schedule a follow-up a random number of simulated minutes from now."""
        delay = timedelta(minutes=self.rng.uniform(*minutes))
        self._schedule_at(self.now + delay, action, *args)

    def _schedule_at(self, at: datetime, action: Action, *args: object) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (at, self._sequence, action, args))

    # --- row changes -----------------------------------------------------------------

    def insert(self, entity: str, values: dict[str, object], at: datetime | None = None) -> int:
        space = self._key_space[entity]
        key = self._next_key[space]
        self._next_key[space] = key + 1
        when = at or self.now
        row = {ENTITIES[entity][0]: key, **values, "created_at": when, "updated_at": when}
        self._out.append(Change(self.institution.key, entity, "c", key, when, row))
        self.live[entity][key] = when
        return key

    def update(self, entity: str, key: int, values: dict[str, object]) -> None:
        row = {**values, "updated_at": self.now}
        self._out.append(Change(self.institution.key, entity, "u", key, self.now, row))

    def delete(self, entity: str, key: int) -> None:
        del self.live[entity][key]
        self._out.append(Change(self.institution.key, entity, "d", key, self.now))

    def burst(self, entity: str, rows: int, at: datetime) -> list[Change]:
        """A bulk job touching many existing rows in one statement (e.g. a nightly re-sync)."""
        self.now = max(self.now, at)
        cutoff = self.now.replace(microsecond=0)  # strictly older, even at 1 s resolution
        self._out = []
        for key, created in self.live[entity].items():
            if len(self._out) >= rows or created >= cutoff:
                break
            self.update(entity, key, {})
        self.rows += len(self._out)
        return self._out

    def take_seeded(self) -> list[Change]:
        """Changes made outside :meth:`step` (the initial state), handed over once."""
        out, self._out = self._out, []
        return out

    def older_than(self, entity: str, minutes: float) -> int | None:
        """A random live row created at least ``minutes`` ago, if there is one."""
        rows = self.live[entity]
        if not rows:
            return None
        cutoff = self.now - timedelta(minutes=minutes)
        for _ in range(4):
            key = self.rng.choice(list(rows)) if len(rows) < 64 else self._random_key(rows)
            if rows.get(key, cutoff) < cutoff:
                return key
        return None

    def _random_key(self, rows: dict[int, datetime]) -> int:
        # keys are dense integers; deletions leave holes that the caller retries past
        return self.rng.randrange(1, self._max_key(rows) + 1)

    @staticmethod
    def _max_key(rows: dict[int, datetime]) -> int:
        return next(reversed(rows))
