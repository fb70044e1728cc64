"""The reconciler: a pure state machine over counts facts, driven by an injected clock.

Feed it every ``ops.source_counts``, ``ops.landed_counts`` and standardize/land
dead letter (in any order, duplicates welcome), and call :meth:`Reconciler.due`
periodically: it judges each (institution, database, table, commit minute) once
its grace period has passed, then again whenever its evidence changes, and
returns only results that differ from the last one emitted for the window.
Nothing here does I/O; :meth:`snapshot`/:meth:`restore` hand its whole state to
a changelog-backed store (Faust table) so a restart resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def now_ms(self) -> int:
        return clock_ms(self._clock)

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
                state.dirty |= state.source.apply(item)
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
        state.rejected.apply(rejection)
        state.dirty = True
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
        state.judged = result
        # LATE follows a MISSING/EXCESS judgement, so it also says there was one
        state.ever_unmatched |= result.status in (Status.MISSING, Status.EXCESS, Status.LATE)
        state.dirty = True  # judged again on the replayed evidence; published only if changed
        return True

    # --- judgement ------------------------------------------------------------------------

    def due(self, now_ms: int | None = None) -> list[Result]:
        """Results to publish now: first judgements past the grace, and changed verdicts."""
        now = self.now_ms() if now_ms is None else now_ms
        self.expire(now)
        out: list[Result] = []
        for key in sorted(self.windows):
            state = self.windows[key]
            if key.start_ms + self.settings.window_ms + self.settings.grace_ms > now:
                continue
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
            if state.judged is not None and result.same_verdict(state.judged):
                continue
            state.judged = result
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
        self.windows = {k: s for k, s in self.windows.items() if k.start_ms > horizon}
        self.parked = [p for p in self.parked if _parked_ms(p) > horizon]
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
            state.repairs.apply(counts)
        else:
            state.landed.apply(counts)
        state.dirty = True
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
            state = self.windows[key] = WindowState(system)
        return state

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
        for key, state in self.windows.items():
            if key.table == table and state.judged is not None:
                state.dirty |= state.judged.status is Status.MISSING
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
