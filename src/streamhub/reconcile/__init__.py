"""Reconciliation: what the source log holds against what was rejected and landed.

Per (institution, database, source table, commit minute) — see :mod:`.keys` for
how the stages' table names meet — the :class:`Reconciler` folds in
``ops.source_counts``, ``ops.landed_counts`` and dead letters, and judges each
window after a grace period (MATCH, MISSING, EXCESS, later LATE); :func:`daily_totals`
sums per institution and Shanghai day; :func:`compare_row_count` checks a table's
row count at a known position against ClickHouse's live rows. All pure: time is
injected, I/O belongs to the Faust wiring.
"""

from streamhub.reconcile.errors import (
    AmbiguousTableError,
    ReconcileError,
    SnapshotFormatError,
    WindowShapeError,
)
from streamhub.reconcile.inputs import (
    Rejection,
    RowCount,
    SourceWindow,
    StageCounts,
    landed_from_avro,
    rejection_from_avro,
    source_from_avro,
)
from streamhub.reconcile.keys import TableKey, WindowKey
from streamhub.reconcile.reconciler import Outcome, Reconciler, ReconcileSettings
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.snapshot import restore_state, snapshot_state
from streamhub.reconcile.state_check import LiveRowCount, StateResult, compare_row_count
from streamhub.reconcile.totals import DailyTotal, daily_totals, shanghai_day

__all__ = [
    "AmbiguousTableError",
    "DailyTotal",
    "LiveRowCount",
    "Outcome",
    "ReconcileError",
    "ReconcileSettings",
    "Reconciler",
    "Rejection",
    "Result",
    "RowCount",
    "SnapshotFormatError",
    "SourceWindow",
    "StageCounts",
    "StateResult",
    "Status",
    "TableKey",
    "WindowKey",
    "WindowShapeError",
    "compare_row_count",
    "daily_totals",
    "landed_from_avro",
    "rejection_from_avro",
    "restore_state",
    "shanghai_day",
    "snapshot_state",
    "source_from_avro",
]
