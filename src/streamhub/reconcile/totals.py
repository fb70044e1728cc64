"""Daily totals per institution: the latest result of every window, summed by Shanghai day.

A window belongs to the day (Asia/Shanghai) in which its commit minute starts;
with whole-minute windows and a whole-hour offset no window straddles two days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from streamhub.reconcile.result import Result, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class DailyTotal:
    institution_id: str
    day: date  # Asia/Shanghai calendar day
    windows: int = 0
    source_changes: int = 0
    standardized: int = 0
    dead_lettered: int = 0
    landed: int = 0
    duplicates: int = 0
    repaired: int = 0  # of landed: restored by targeted re-snapshots
    difference: int = 0  # sum of the windows' differences: they may cancel, see statuses
    statuses: dict[Status, int] = field(default_factory=dict)  # windows per latest status

    def add(self, result: Result) -> None:
        self.windows += 1
        self.source_changes += result.source_changes
        self.standardized += result.standardized
        self.dead_lettered += result.dead_lettered
        self.landed += result.landed
        self.duplicates += result.duplicates
        self.repaired += result.repaired
        self.difference += result.difference
        self.statuses[result.status] = self.statuses.get(result.status, 0) + 1


def latest_per_window(results: Iterable[Result]) -> list[Result]:
    """The highest revision of each window (ties: the later check), in window order."""
    latest: dict[tuple[str, str, str, int], Result] = {}
    for result in results:
        key = (result.institution_id, result.database, result.table, result.window_start_ms)
        known = latest.get(key)
        if known is None or (result.revision, result.checked_ts_ms) > (
            known.revision,
            known.checked_ts_ms,
        ):
            latest[key] = result
    return sorted(latest.values(), key=lambda r: (r.window_start_ms, r.database, r.table))


def shanghai_day(epoch_ms: int) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(SHANGHAI).date()


def daily_totals(results: Iterable[Result]) -> list[DailyTotal]:
    """Totals per (institution, Shanghai day), from results in any order with re-judgements.

    Only the latest result of each window counts (highest revision, then latest check).
    """
    totals: dict[tuple[str, date], DailyTotal] = {}
    for result in latest_per_window(results):
        day = shanghai_day(result.window_start_ms)
        total = totals.setdefault(
            (result.institution_id, day), DailyTotal(result.institution_id, day)
        )
        total.add(result)
    return [totals[k] for k in sorted(totals)]
