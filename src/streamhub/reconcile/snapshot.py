"""The reconciler's whole state as JSON-ready data, for a changelog-backed store.

One document per reconciler (a Faust table value, or a compacted topic record
keyed by the worker's partition). ``format`` guards against reading a document
written by a version that shaped it differently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.reconcile.errors import SnapshotFormatError
from streamhub.reconcile.inputs import Rejection, RowCount, StageCounts
from streamhub.reconcile.keys import TableKey, WindowKey
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
from streamhub.reconcile.tables import TableDirectory
from streamhub.reconcile.windows import WindowState

FORMAT = 1


def snapshot_state(reconciler: Reconciler) -> dict[str, Any]:
    return {
        **misc_state(reconciler),
        "windows": window_rows(sorted(reconciler.windows.items())),
    }


def window_rows(windows: Iterable[tuple[WindowKey, WindowState]]) -> list[list[Any]]:
    """Windows as ``[institution, database, table, start, state]`` rows."""
    return [[*_table(key.table), key.start_ms, state.to_dict()] for key, state in windows]


def misc_state(reconciler: Reconciler) -> dict[str, Any]:
    """Everything but the windows (the checkpoint writes those per minute)."""
    return {
        "format": FORMAT,
        "tables": reconciler.tables.to_list(),
        "row_counts": [
            [
                *_table(rc.table),
                rc.system,
                rc.rows,
                rc.position,
                rc.measured_minute_ms,
                rc.emitted_ts_ms,
            ]
            for rc in reconciler.row_counts.values()
        ],
        "parked": [
            ["rejection", p.to_dict()] if isinstance(p, Rejection) else ["landed", p.to_dict()]
            for p in reconciler.parked
        ],
        "parked_standardized": [p.to_dict() for p in reconciler.parked_standardized],
        "unplaced": [
            [*_table(table), ident, ts]
            for table, letters in sorted(reconciler.unplaced.items())
            for ident, ts in sorted(letters.items())
        ],
        "stale_inputs": reconciler.stale_inputs,
    }


def restore_state(
    data: dict[str, Any], settings: ReconcileSettings | None = None, clock: Clock = SYSTEM_CLOCK
) -> Reconciler:
    if data.get("format") != FORMAT:
        raise SnapshotFormatError(
            f"reconciler snapshot has format {data.get('format')!r}, this version reads "
            f"{FORMAT}; start from an empty state (windows are re-judged as counts arrive)"
        )
    try:
        return _restore(data, settings, clock)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(f"reconciler snapshot is damaged: {exc!r}") from exc


def _restore(data: dict[str, Any], settings: ReconcileSettings | None, clock: Clock) -> Reconciler:
    rec = Reconciler(settings, clock)
    adopt_rows(rec, data["windows"])
    rec.tables = TableDirectory.from_list(data["tables"])
    for institution, database, table, system, rows, position, minute, emitted in data["row_counts"]:
        table_key = TableKey(institution, database, table)
        rec.row_counts[table_key] = RowCount(table_key, system, rows, position, minute, emitted)
    rec.parked = [
        Rejection.from_dict(item) if kind == "rejection" else StageCounts.from_dict(item)
        for kind, item in data["parked"]
    ]
    rec.parked_standardized = [StageCounts.from_dict(p) for p in data["parked_standardized"]]
    for institution, database, table, ident, ts in data["unplaced"]:
        rec.unplaced.setdefault(TableKey(institution, database, table), {})[ident] = int(ts)
    rec.stale_inputs = int(data["stale_inputs"])
    rec.take_changed_starts()  # as restored: nothing changed since the snapshot yet
    return rec


def adopt_rows(rec: Reconciler, rows: Iterable[list[Any]]) -> None:
    """Windows from :func:`window_rows` into ``rec`` (indexed as if built there)."""
    for institution, database, table, start, state in rows:
        key = WindowKey(TableKey(institution, database, table), int(start))
        rec.adopt(key, WindowState.from_dict(state))


def _table(table: TableKey) -> list[str]:
    return [table.institution_id, table.database, table.table]
