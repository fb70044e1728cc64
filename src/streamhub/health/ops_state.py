"""What link health keeps of the ops topics between checks: bounded, slid with the horizon.

Records go in decoded, with their Kafka timestamp (which says whether they are still in the
horizon); :meth:`OpsState.view` prunes what fell out and returns the observation's parts.
What is kept is only what the evaluation reads, so memory follows the number of connectors
and institutions, not the traffic:

- heartbeats: per connector, those of the recent window (``Thresholds.recent_s``) and the
  newest one before it (pairs of consecutive beats count errors and restarts; the newest
  says the rest);
- landed counts: per institution, the newest commit and any later-stamped record that could
  take over once it leaves the horizon (a sliding maximum: a record with a lower commit and
  an earlier timestamp can never be the maximum again, so it is dropped);
- source counts: per minute with changes, the newest record's timestamp;
- dead letters: those of the recent window, counted per institution and stage.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streamhub.health.model import ActivityWindow, Beat, Connector


@dataclass
class _Series:
    """One connector's heartbeats, ordered by emission: (Kafka timestamp, beat)."""

    owner: Connector
    stamps: list[int] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)

    def add(self, ts: int, beat: Beat) -> None:
        if not self.beats or beat.emitted_ts_ms >= self.beats[-1].emitted_ts_ms:
            self.stamps.append(ts)
            self.beats.append(beat)
            return
        # after equal emission times: the order read, as a stable sort keeps it
        at = bisect.bisect_right(self.beats, beat.emitted_ts_ms, key=lambda b: b.emitted_ts_ms)
        self.stamps.insert(at, ts)
        self.beats.insert(at, beat)

    def prune(self, since_ms: int, recent_from: int) -> None:
        """Drop beats out of the horizon and all but the newest before ``recent_from``."""
        keep = [i for i, ts in enumerate(self.stamps) if ts >= since_ms]
        if len(keep) != len(self.stamps):
            self.stamps = [self.stamps[i] for i in keep]
            self.beats = [self.beats[i] for i in keep]
        first_recent = bisect.bisect_left(self.beats, recent_from, key=lambda b: b.emitted_ts_ms)
        if first_recent > 1:
            del self.stamps[: first_recent - 1]
            del self.beats[: first_recent - 1]


@dataclass(frozen=True)
class OpsView:
    """The observation's parts read from the ops topics, at one moment."""

    beats: dict[str, tuple[Beat, ...]]
    heard: list[Connector]
    dead_letters: dict[tuple[str, str], int]
    landed_commit_ms: dict[str, int]
    activity: tuple[ActivityWindow, ...]


class OpsState:
    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}
        # institution -> [(Kafka timestamp, commit)], no entry dominated by another
        self._landed: dict[str, list[tuple[int, int]]] = {}
        self._activity: dict[ActivityWindow, int] = {}  # window -> newest record's timestamp
        self._dead: deque[tuple[int, str, str]] = deque()

    # --- records in ------------------------------------------------------------------

    def heartbeat(self, ts: int, r: dict[str, Any]) -> None:
        if "connector" not in r or "emitted_ts_ms" not in r:
            return
        name = r["connector"]
        owner = Connector(name, r["institution_id"], r["system"])
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = _Series(owner)
        series.owner = owner  # the newest record read says whose it is
        series.add(
            ts,
            Beat(
                emitted_ts_ms=r["emitted_ts_ms"],
                state=r["state"],
                events_total=r["events_total"],
                errors_total=r["errors_total"],
                lag_bytes=r.get("lag_bytes"),
                lag_ms=r.get("lag_ms"),
                last_event_ts_ms=r.get("last_event_ts_ms"),
                error=r.get("error"),
            ),
        )

    def landed(self, ts: int, r: dict[str, Any]) -> None:
        """A landed count: its commit is the end of its minute, or its landing time when
        that minute was still running."""
        if "window_start_ms" not in r:
            return
        commit = min(r["window_start_ms"] + r.get("window_ms", 60_000), r["landed_ts_ms"])
        kept = self._landed.setdefault(r["institution_id"], [])
        if any(c >= commit and t >= ts for t, c in kept):
            return  # never the newest while any of those is in the horizon
        kept[:] = [(t, c) for t, c in kept if not (c <= commit and t <= ts)]
        kept.append((ts, commit))

    def source_counts(self, ts: int, r: dict[str, Any]) -> None:
        if r.get("row_count") is not None or "window_start_ms" not in r:
            return  # a row-count reading, not changes
        changes = r["inserts"] + r["updates"] + r["deletes"] + r.get("snapshot_reads", 0)
        if changes:
            window = ActivityWindow(r["institution_id"], r["window_start_ms"], r["window_ms"])
            self._activity[window] = max(self._activity.get(window, ts), ts)

    def dead_letter(self, ts: int, r: dict[str, Any]) -> None:
        if r.get("institution_id") and r.get("stage"):
            self._dead.append((ts, r["institution_id"], r["stage"]))

    # --- the view --------------------------------------------------------------------

    def heard(self) -> list[Connector]:
        """Every connector with a heartbeat kept, as its newest record names it."""
        return [s.owner for s in self._series.values()]

    def landed_commits(self, since_ms: int) -> dict[str, int]:
        """Newest landed commit per institution, of the records stamped ``since_ms`` or later."""
        landed: dict[str, int] = {}
        for institution, kept in self._landed.items():
            commits = [c for t, c in kept if t >= since_ms]
            if commits:
                landed[institution] = max(commits)
        return landed

    def view(self, since_ms: int, recent_from: int) -> OpsView:
        """What is in the horizon (``since_ms``) and the recent window, pruned to it."""
        for name in list(self._series):
            series = self._series[name]
            series.prune(since_ms, recent_from)
            if not series.beats:
                del self._series[name]
        for institution in list(self._landed):
            kept = [(t, c) for t, c in self._landed[institution] if t >= since_ms]
            if kept:
                self._landed[institution] = kept
            else:
                del self._landed[institution]
        landed = self.landed_commits(since_ms)
        for window in [w for w, ts in self._activity.items() if ts < since_ms]:
            del self._activity[window]
        while self._dead and self._dead[0][0] < recent_from:
            self._dead.popleft()
        dead = Counter((i, s) for ts, i, s in self._dead if ts >= recent_from)
        return OpsView(
            beats={name: tuple(s.beats) for name, s in self._series.items()},
            heard=self.heard(),
            dead_letters=dict(dead),
            landed_commit_ms=landed,
            activity=_unlanded(self._activity, landed, since_ms),
        )

    def size(self) -> int:
        """Entries held, for tests and the benchmark: bounded by connectors and minutes."""
        return (
            sum(len(s.beats) for s in self._series.values())
            + sum(len(k) for k in self._landed.values())
            + len(self._activity)
            + len(self._dead)
        )


def _unlanded(
    activity: Iterable[ActivityWindow], landed: dict[str, int], since_ms: int
) -> tuple[ActivityWindow, ...]:
    """Minutes ending after the later of ``since_ms`` and their institution's newest landed
    commit: the only ones the landing check can find waiting."""
    return tuple(
        sorted(
            (
                w
                for w in activity
                if w.end_ms > max(landed.get(w.institution_id, since_ms), since_ms)
            ),
            key=lambda w: (w.institution_id, w.window_start_ms),
        )
    )
