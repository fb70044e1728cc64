"""Per-table, per-commit-minute counts of what the source log holds (ops.source_counts).

Counted from the log by the agent, never downstream. The open windows are part
of the connector's stored position, so a restart that re-reads the log from
there counts every change exactly once. A window is emitted when the log has
moved past its end (plus a grace for commit-time jitter) or the source is idle
past it; a late change re-emits its window with the new totals (latest wins).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from streamhub.capture.model import Op

MINUTE_MS = 60_000
OPS: dict[Op, int] = {"c": 0, "u": 1, "d": 2, "r": 3}
RECENTLY_CLOSED = 512  # windows kept after emission, to re-emit on a late change


@dataclass(frozen=True)
class WindowCounts:
    table: str  # database.schema.table as the log names it
    window_start_ms: int
    inserts: int
    updates: int
    deletes: int
    snapshot_reads: int


class SourceCounts:
    def __init__(self, state: list[list[Any]] | None = None, grace_ms: int = 5_000) -> None:
        self.grace_ms = grace_ms
        self._open: dict[tuple[str, int], list[int]] = {}
        self._closed: OrderedDict[tuple[str, int], list[int]] = OrderedDict()
        for table, start, counts, *closed in state or []:
            (self._closed if closed and closed[0] else self._open)[(table, start)] = counts
        self.latest_commit_ms = 0

    def add(self, table: str, op: Op, commit_ts_ms: int) -> None:
        window = (table, commit_ts_ms - commit_ts_ms % MINUTE_MS)
        counts = self._open.get(window)
        if counts is None:
            late = self._closed.pop(window, None)  # a late change reopens its window
            counts = self._open[window] = late or [0, 0, 0, 0]
        counts[OPS[op]] += 1
        if op != "r":
            self.latest_commit_ms = max(self.latest_commit_ms, commit_ts_ms)

    def due(self, idle_at_ms: int | None = None, everything: bool = False) -> list[WindowCounts]:
        """Windows to emit now: past the log's latest commit time, or, when the source is
        idle (its log read to the head) at ``idle_at_ms``, past that moment.

        ``everything`` emits the open windows too (on shutdown); they stay known, so a
        later change to one of them re-emits it with the full total.
        """
        horizon = self.latest_commit_ms - self.grace_ms
        if idle_at_ms is not None:
            horizon = max(horizon, idle_at_ms - self.grace_ms)
        closing = [w for w in self._open if everything or w[1] + MINUTE_MS <= horizon]
        emitted = []
        for window in sorted(closing, key=lambda w: (w[1], w[0])):
            counts = self._open.pop(window)
            self._closed[window] = counts
            emitted.append(WindowCounts(window[0], window[1], *counts))
        while len(self._closed) > RECENTLY_CLOSED:
            self._closed.popitem(last=False)
        return emitted

    def state(self) -> list[list[Any]]:
        """Open and recently emitted windows as JSON-ready data, stored with the position."""
        return [
            [table, start, list(counts), closed]
            for closed, windows in ((False, self._open), (True, self._closed))
            for (table, start), counts in windows.items()
        ]
