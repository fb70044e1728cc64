"""State reconciliation: a table's row count at a known source position vs ClickHouse.

The capture agent counts a table's rows between two watermarks and emits the count
with the position (``ops.source_counts`` with ``row_count`` set). The caller counts
the live rows of that table in ClickHouse (latest version per record, not deleted)
once ClickHouse holds everything up to that position, and says how many net rows
(inserts minus deletes) it holds from *after* the position, if it can tell. The
comparison itself is here; counting in ClickHouse belongs to the wiring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streamhub.reconcile.inputs import RowCount
from streamhub.reconcile.result import Status


@dataclass(frozen=True, slots=True)
class LiveRowCount:
    rows: int  # live rows of the table in ClickHouse
    caught_up: bool  # ClickHouse holds every change up to the count's position
    net_after: int = 0  # inserts minus deletes landed from after the position


@dataclass(frozen=True, slots=True)
class StateResult:
    institution_id: str
    system: str
    database: str
    table: str
    position: str
    source_rows: int
    expected_rows: int  # source_rows + net changes after the position
    landed_rows: int
    difference: int  # landed_rows - expected_rows
    status: Status  # MATCH, MISSING, EXCESS, or PENDING while ClickHouse lags
    measured_minute_ms: int
    checked_ts_ms: int
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def compare_row_count(
    count: RowCount, live: LiveRowCount, now_ms: int, tolerance: int = 0
) -> StateResult:
    """Judge one row count. ``tolerance`` absorbs changes committed while the source was
    being counted (between the two watermarks they may or may not be in the count)."""
    expected = count.rows + live.net_after
    difference = live.rows - expected
    detail = None
    if not live.caught_up:
        status = Status.PENDING
        detail = "ClickHouse has not landed everything up to the count's position yet"
    elif abs(difference) <= tolerance:
        status = Status.MATCH
        if difference:
            detail = f"off by {difference}, within the tolerance of {tolerance}"
    elif difference < 0:
        status = Status.MISSING
        detail = (
            f"{-difference} row(s) of {count.table.full_name} are not live in ClickHouse: "
            "look for dead letters, then replay the table"
        )
    else:
        status = Status.EXCESS
        detail = (
            f"{difference} live row(s) in ClickHouse the source does not have: a delete "
            "not captured or not landed"
        )
    return StateResult(
        count.table.institution_id,
        count.system,
        count.table.database,
        count.table.table,
        count.position,
        count.rows,
        expected,
        live.rows,
        difference,
        status,
        count.measured_minute_ms,
        now_ms,
        detail,
    )
