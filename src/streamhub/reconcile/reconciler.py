"""The reconciler: a pure state machine over counts facts, driven by an injected clock.

Feed it every ``ops.source_counts``, ``ops.landed_counts`` and standardize/land
dead letter (in any order, duplicates welcome), and call :meth:`Reconciler.due`
periodically: it judges each (institution, database, table, commit minute) once
its grace period has passed, then again whenever its evidence changes, and
returns only results that differ from the last one emitted for the window.
Nothing here does I/O; ``snapshot.py`` turns its state into JSON-ready data and
``checkpoint.py`` into the compressed minute buckets of the state topic.

What a judging pass costs does not grow with the windows retained (at 1,751
institutions, 6 h of windows is millions): a pass looks only at windows whose
grace ended since the last pass (a heap of deadlines) and at judged windows whose
evidence changed since (a dirty set), expires whole minutes at once (a bucket per
window start), and keeps the gauges' counts (windows per institution and verdict,
missing changes) up to date as verdicts change instead of recounting them.
Which minutes changed since the last checkpoint is recorded too
(:attr:`Reconciler.changed_starts`), so a checkpoint rewrites only those.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.clock import now_ms as clock_ms
from streamhub.reconcile.errors import AmbiguousTableError, WindowShapeError
from streamhub.reconcile.inputs import Rejection, RowCount, SourceWindow, StageCounts
from streamhub.reconcile.keys import TableKey, WindowKey, window_start
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.tables import TableDirectory
from streamhub.reconcile.verdict import judge
from streamhub.reconcile.windows import SourceTotals, WindowState


class ReconcileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_ms: int = Field(60_000, gt=0, description="window length; the counters' minute")
    grace_ms: int = Field(
        120_000,
        ge=0,
        description="wait after a window's end before judging it: the capture agent emits a "
        "window once its log is past it, the lander flushes in batches",
    )
    retention_ms: int = Field(
        6 * 3_600_000,
        gt=0,
        description="windows older than this (after their end) are forgotten and later input "
        "for them is counted as stale; it bounds memory (version ids are kept per window). "
        "Whole-day totals come from the published results, not from retained windows",
    )


class Outcome(StrEnum):
    APPLIED = "applied"
    PARKED = "parked"  # table's database unknown yet: applied once source counts name it
    STALE = "stale"  # older than the retention horizon: dropped


class Reconciler:
    def __init__(
        self, settings: ReconcileSettings | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.settings = settings or ReconcileSettings()
        self._clock = clock
        self.windows: dict[WindowKey, WindowState] = {}
        self.tables = TableDirectory()
        self.row_counts: dict[TableKey, RowCount] = {}
        self.parked: list[StageCounts | Rejection] = []
        self.parked_standardized: list[StageCounts] = []
        # dead letters without a commit time: identity -> failed_ts_ms, per table
        self.unplaced: dict[TableKey, dict[str, int]] = {}
        self.stale_inputs = 0
        self.ambiguous_inputs = 0  # parked input that two databases could hold
        #: window starts whose windows changed (or were dropped) since the checkpoint last
        #: took them (:meth:`take_changed_starts`)
        self.changed_starts: set[int] = set()
        # --- indexes: what a judging pass and the gauges need without a full scan
        self._awaiting: list[tuple[int, WindowKey]] = []  # (deadline, key) never judged yet
        self._dirty: set[WindowKey] = set()  # judged, evidence changed since
        self._by_start: dict[int, list[WindowKey]] = {}  # expiry buckets
        self._starts: list[int] = []  # heap of the buckets' starts
        self._missing: set[WindowKey] = set()  # last judged MISSING (unplaced letters refresh)
        self._verdicts: Counter[tuple[str, Status]] = Counter()  # windows per institution
        self._missing_changes: Counter[str] = Counter()  # -difference of MISSING windows
        self._per_institution: Counter[str] = Counter()  # windows retained
        self._table_keys: dict[TableKey, TableKey] = {}  # one per table (the feeds: bounded)

    def now_ms(self) -> int:
        return clock_ms(self._clock)

    # --- state kept apart from the inputs -------------------------------------------------

    def adopt(self, key: WindowKey, state: WindowState) -> None:
        """Take a window restored from a snapshot, indexed as if it had been built here."""
        old = self.windows.get(key)
        if old is not None:
            self._forget(key, old)
        key = WindowKey(self._shared(key.table), key.start_ms)
        self.windows[key] = state
        self._index(key, state)
        if state.dirty and state.judged is not None:
            self._dirty.add(key)

    def windows_of(self, start_ms: int) -> Iterator[tuple[WindowKey, WindowState]]:
        """The retained windows of one window start (a checkpoint's minute bucket)."""
        for key in self._by_start.get(start_ms, ()):
            state = self.windows.get(key)
            if state is not None:
                yield key, state

    def window_starts(self) -> list[int]:
        """Every window start with a retained window, oldest first."""
        return sorted(s for s, keys in self._by_start.items() if keys)

    def take_changed_starts(self) -> set[int]:
        """The window starts changed since the last call (the checkpoint takes them)."""
        changed, self.changed_starts = self.changed_starts, set()
        return changed

    def verdict_counts(self) -> dict[tuple[str, Status], int]:
        """Retained windows per (institution, current verdict; PENDING: not judged yet)."""
        return {k: n for k, n in self._verdicts.items() if n}

    def missing_changes(self) -> dict[str, int]:
        """Changes neither landed nor rejected over MISSING windows, per institution with
        retained windows (0 included)."""
        return {i: self._missing_changes[i] for i, n in self._per_institution.items() if n}

    # --- inputs ---------------------------------------------------------------------------

    def apply_source(self, item: SourceWindow | RowCount) -> Outcome:
        """An ``ops.source_counts`` record: a window's cumulative totals, or a row count."""
        learned = self.tables.learn(item.table, item.system)
        if isinstance(item, RowCount):
            known = self.row_counts.get(item.table)
            if known is None or item.emitted_ts_ms > known.emitted_ts_ms:
                self.row_counts[item.table] = item
            outcome = Outcome.APPLIED
        else:
            self._check_shape(item.window_start_ms, item.window_ms, item.table.full_name)
            key = WindowKey(item.table, item.window_start_ms)
            state = self._window(key, item.system)
            if state is None:
                self.stale_inputs += 1
                outcome = Outcome.STALE
            else:
                if state.source is None:
                    state.source = SourceTotals()
                self.changed_starts.add(key.start_ms)
                if state.source.apply(item):
                    self._touch(key, state)
                outcome = Outcome.APPLIED
        if learned:
            self._unpark(item.table)
        return outcome

    def apply_landed(self, counts: StageCounts) -> Outcome:
        """One ``ops.landed_counts`` increment (at-least-once: replays are expected), or a
        repair credit (``repair_id`` set): versions of this window a re-snapshot restored."""
        return self._apply_stage(counts, landed=True)

    def apply_standardized(self, counts: StageCounts) -> Outcome:
        """Records that reached std.* (informational: tells where a gap sits)."""
        return self._apply_stage(counts, landed=False)

    def apply_rejection(self, rejection: Rejection) -> Outcome:
        """A dead letter that withholds one record from ClickHouse."""
        table = self._table_of(
            rejection.institution_id, rejection.table, rejection.database, rejection.system
        )
        if table is None:
            self.parked.append(rejection)
            return Outcome.PARKED
        if rejection.commit_ts_ms is None:
            return self._unplaced(table, rejection)
        system = rejection.system or self.tables.system_of(table)
        start = window_start(rejection.commit_ts_ms, self.settings.window_ms)
        key = WindowKey(table, start)
        state = self.windows.get(key) if system is None else self._window(key, system)
        if state is None:
            return self._stale_or_park(key, rejection)
        state.rejections().apply(rejection)
        self._touch(key, state)
        return Outcome.APPLIED

    def remember(self, result: Result) -> bool:
        """Take a result published before a restart as its window's last judgement, so
        revisions continue and an unchanged verdict is not published again. False when
        the window is past the retention horizon."""
        key = WindowKey(
            TableKey(result.institution_id, result.database, result.table),
            result.window_start_ms,
        )
        state = self._window(key, result.system)
        if state is None:
            return False
        known = state.judged
        if known is not None and known.revision >= result.revision:
            return True
        self._judged(key, state, result)
        # LATE follows a MISSING/EXCESS judgement, so it also says there was one
        state.ever_unmatched |= result.status in (Status.MISSING, Status.EXCESS, Status.LATE)
        self._touch(key, state)  # judged again on the replayed evidence; published only if changed
        return True

    # --- judgement ------------------------------------------------------------------------

    def due(self, now_ms: int | None = None) -> list[Result]:
        """Results to publish now: first judgements past the grace, and changed verdicts.

        Only windows whose grace ended since the last pass or whose evidence changed are
        looked at; results come in window-key order."""
        now = self.now_ms() if now_ms is None else now_ms
        self.expire(now)
        wait = self.settings.window_ms + self.settings.grace_ms
        candidates: set[WindowKey] = set()
        while self._awaiting and self._awaiting[0][0] <= now:
            candidates.add(heapq.heappop(self._awaiting)[1])
        ready = [key for key in self._dirty if key.start_ms + wait <= now]
        self._dirty.difference_update(ready)
        candidates.update(ready)
        out: list[Result] = []
        for key in sorted(candidates):
            state = self.windows.get(key)
            if state is None:
                continue  # expired while it waited
            if state.judged is not None and not state.dirty:
                continue
            result = judge(
                key,
                state,
                self.settings.window_ms,
                now,
                unplaced_rejections=len(self.unplaced.get(key.table, {})),
            )
            state.dirty = False
            self.changed_starts.add(key.start_ms)
            if state.judged is not None and result.same_verdict(state.judged):
                continue
            self._judged(key, state, result)
            state.ever_unmatched |= result.status in (Status.MISSING, Status.EXCESS)
            out.append(result)
        return out

    def preview(self, now_ms: int | None = None) -> list[Result]:
        """Every retained window as it would be judged now (PENDING inside the grace)."""
        now = self.now_ms() if now_ms is None else now_ms
        end = self.settings.window_ms + self.settings.grace_ms
        return [
            judge(
                key,
                state,
                self.settings.window_ms,
                now,
                unplaced_rejections=len(self.unplaced.get(key.table, {})),
                pending=key.start_ms + end > now,
            )
            for key, state in sorted(self.windows.items())
        ]

    def results(self) -> list[Result]:
        """The last result emitted for every retained window (input for daily totals)."""
        return [s.judged for _, s in sorted(self.windows.items()) if s.judged is not None]

    def expire(self, now_ms: int) -> None:
        """Forget windows, parked input and unplaced dead letters past the retention horizon."""
        horizon = now_ms - self.settings.retention_ms - self.settings.window_ms
        while self._starts and self._starts[0] <= horizon:
            start = heapq.heappop(self._starts)
            for key in self._by_start.pop(start, ()):
                state = self.windows.pop(key, None)
                if state is not None:
                    self._forget(key, state)
            self.changed_starts.add(start)  # the checkpoint drops the minute
        if self.parked:
            self.parked = [p for p in self.parked if _parked_ms(p) > horizon]
        if self.parked_standardized:
            self.parked_standardized = [
                p for p in self.parked_standardized if p.window_start_ms > horizon
            ]
        for table, letters in list(self.unplaced.items()):
            kept = {ident: ts for ident, ts in letters.items() if ts > horizon}
            if kept:
                self.unplaced[table] = kept
            else:
                del self.unplaced[table]

    # --- internals ------------------------------------------------------------------------

    def _apply_stage(self, counts: StageCounts, *, landed: bool) -> Outcome:
        self._check_shape(counts.window_start_ms, counts.window_ms, counts.table)
        table = self._table_of(counts.institution_id, counts.table, counts.database, counts.system)
        if table is None:
            (self.parked if landed else self.parked_standardized).append(counts)
            return Outcome.PARKED
        state = self._window(WindowKey(table, counts.window_start_ms), counts.system)
        if state is None:
            self.stale_inputs += 1
            return Outcome.STALE
        if not landed:
            state.standardized.apply(counts)
        elif counts.repair_id is not None:
            state.repair_credits().apply(counts)
        else:
            state.landed.apply(counts)
        self._touch(WindowKey(table, counts.window_start_ms), state)
        return Outcome.APPLIED

    def _table_of(
        self, institution_id: str, table: str, database: str | None, system: str | None
    ) -> TableKey | None:
        if database is not None:
            return TableKey(institution_id, database, table)
        return self.tables.resolve(institution_id, table, system)

    def _window(self, key: WindowKey, system: str) -> WindowState | None:
        """The window's state, created on first sight; None when past the retention horizon."""
        state = self.windows.get(key)
        if state is None:
            horizon = self.now_ms() - self.settings.retention_ms - self.settings.window_ms
            if key.start_ms <= horizon:
                return None
            key = WindowKey(self._shared(key.table), key.start_ms)
            state = self.windows[key] = WindowState(sys.intern(system))
            self._index(key, state)
        return state

    def _shared(self, table: TableKey) -> TableKey:
        """One key object per table for all its windows (each input brings its own copy of
        the names; millions of windows would each keep one)."""
        shared = self._table_keys.get(table)
        if shared is None:
            shared = self._table_keys[table] = table
        return shared

    def _index(self, key: WindowKey, state: WindowState) -> None:
        """Index a window new to :attr:`windows`."""
        bucket = self._by_start.get(key.start_ms)
        if bucket is None:
            bucket = self._by_start[key.start_ms] = []
            heapq.heappush(self._starts, key.start_ms)
        bucket.append(key)
        self.changed_starts.add(key.start_ms)
        institution = key.table.institution_id
        self._per_institution[institution] += 1
        judged = state.judged
        self._verdicts[(institution, Status.PENDING if judged is None else judged.status)] += 1
        if judged is None:
            deadline = key.start_ms + self.settings.window_ms + self.settings.grace_ms
            heapq.heappush(self._awaiting, (deadline, key))
        elif judged.status is Status.MISSING:
            self._missing.add(key)
            self._missing_changes[institution] -= judged.difference

    def _forget(self, key: WindowKey, state: WindowState) -> None:
        """Undo :meth:`_index`'s counts for a window leaving :attr:`windows`."""
        institution = key.table.institution_id
        self._per_institution[institution] -= 1
        judged = state.judged
        self._verdicts[(institution, Status.PENDING if judged is None else judged.status)] -= 1
        if judged is not None and judged.status is Status.MISSING:
            self._missing_changes[institution] += judged.difference
        self._missing.discard(key)
        self._dirty.discard(key)
        if not self._per_institution[institution]:
            del self._per_institution[institution]
            self._missing_changes.pop(institution, None)

    def _judged(self, key: WindowKey, state: WindowState, result: Result) -> None:
        """Set the window's last emitted judgement, keeping the counts in step."""
        institution = key.table.institution_id
        old = state.judged
        self._verdicts[(institution, Status.PENDING if old is None else old.status)] -= 1
        self._verdicts[(institution, result.status)] += 1
        if old is not None and old.status is Status.MISSING:
            self._missing_changes[institution] += old.difference
            self._missing.discard(key)
        if result.status is Status.MISSING:
            self._missing_changes[institution] -= result.difference
            self._missing.add(key)
        state.judged = result
        self.changed_starts.add(key.start_ms)

    def _touch(self, key: WindowKey, state: WindowState) -> None:
        """The window's evidence changed: judge it again once its grace has passed."""
        state.dirty = True
        self.changed_starts.add(key.start_ms)
        if state.judged is not None:
            self._dirty.add(key)

    def _stale_or_park(self, key: WindowKey, rejection: Rejection) -> Outcome:
        # a rejection for a table whose database we were told but whose system we cannot
        # tell yet (no source counts, no landing): wait for a record that names it
        horizon = self.now_ms() - self.settings.retention_ms - self.settings.window_ms
        if key.start_ms <= horizon:
            self.stale_inputs += 1
            return Outcome.STALE
        self.parked.append(rejection)
        return Outcome.PARKED

    def _unplaced(self, table: TableKey, rejection: Rejection) -> Outcome:
        letters = self.unplaced.setdefault(table, {})
        if rejection.version is not None:
            ident = f"v{rejection.version}"
        elif rejection.origin is not None:
            ident = "o{}:{}:{}".format(*rejection.origin)
        else:
            ident = f"n{len(letters)}"
        letters[ident] = rejection.failed_ts_ms
        # the count appears in the detail of missing windows of the table: refresh those
        for key in [k for k in self._missing if k.table == table]:
            self._touch(key, self.windows[key])
        return Outcome.APPLIED

    def _unpark(self, table: TableKey) -> None:
        """Apply parked input that names this table now that its database is known."""

        def names(item: StageCounts | Rejection) -> bool:
            return (item.institution_id, item.table) == (table.institution_id, table.table)

        waiting: list[tuple[Callable[..., Outcome], StageCounts | Rejection]] = [
            (self.apply_rejection if isinstance(p, Rejection) else self.apply_landed, p)
            for p in self.parked
            if names(p)
        ]
        waiting += [(self.apply_standardized, p) for p in self.parked_standardized if names(p)]
        self.parked = [p for p in self.parked if not names(p)]
        self.parked_standardized = [p for p in self.parked_standardized if not names(p)]
        for apply, item in waiting:
            try:
                apply(item)
            except AmbiguousTableError:
                # the source record that taught us the table must not fail for this input;
                # it is dropped and counted until the lander sends `database`
                self.ambiguous_inputs += 1

    def _check_shape(self, start_ms: int, window_ms: int, table: str) -> None:
        if window_ms != self.settings.window_ms or start_ms % window_ms:
            raise WindowShapeError(
                f"table {table}: window {start_ms}+{window_ms} ms is not aligned to the "
                f"reconciler's {self.settings.window_ms} ms windows; set "
                "reconcile window_ms to the counters' window"
            )


def _parked_ms(item: StageCounts | Rejection) -> int:
    if isinstance(item, StageCounts):
        return item.window_start_ms
    return item.commit_ts_ms if item.commit_ts_ms is not None else item.failed_ts_ms
