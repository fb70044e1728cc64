"""Builders for the reconciler's inputs, in the shape of the topics' decoded values."""

from __future__ import annotations

from typing import Any

from streamhub.core.clock import ManualClock
from streamhub.reconcile.inputs import (
    Rejection,
    SourceWindow,
    StageCounts,
    landed_from_avro,
    rejection_from_avro,
    source_from_avro,
)
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings

INST = "12110000MA0000000X"
MINUTE = 60_000
T0 = 1_700_000_040_000  # a whole UTC minute
GRACE = 120_000


def clock_at(ms: int) -> ManualClock:
    """A manual clock at ``ms`` milliseconds since the epoch (the tests count in ms)."""
    return ManualClock(ms / 1000)


def reconciler(clock: ManualClock, retention_ms: int = 6 * 3_600_000) -> Reconciler:
    settings = ReconcileSettings(grace_ms=GRACE, retention_ms=retention_ms)
    return Reconciler(settings, clock)


def source(
    start: int = T0,
    *,
    inserts: int = 0,
    updates: int = 0,
    deletes: int = 0,
    snapshot_reads: int = 0,
    emitted: int | None = None,
    database: str = "hisdb",
    table: str = "public.patient",
    system: str = "his",
) -> SourceWindow:
    item = source_from_avro(
        {
            "connector": "c1",
            "institution_id": INST,
            "system": system,
            "database": database,
            "table": table,
            "window_start_ms": start,
            "window_ms": MINUTE,
            "inserts": inserts,
            "updates": updates,
            "deletes": deletes,
            "snapshot_reads": snapshot_reads,
            "row_count": None,
            "row_count_position": None,
            "emitted_ts_ms": start + MINUTE + 5_000 if emitted is None else emitted,
        }
    )
    assert isinstance(item, SourceWindow)
    return item


def landed(
    start: int = T0,
    *,
    upserts: int = 0,
    deletes: int = 0,
    table: str = "public.patient",
    versions: list[int] | None = None,
    database: str | None = None,
    system: str = "his",
    repair_id: str | None = None,
) -> StageCounts:
    value: dict[str, Any] = {
        "institution_id": INST,
        "system": system,
        "table": table,
        "entity": "patient",
        "window_start_ms": start,
        "window_ms": MINUTE,
        "upserts": upserts,
        "deletes": deletes,
        "landed_ts_ms": start + 2_000,
    }
    if versions is not None:
        value["versions"] = versions
    if database is not None:
        value["database"] = database
    if repair_id is not None:
        value["repair_id"] = repair_id
    return landed_from_avro(value)


def dead_letter(
    *,
    commit_ts_ms: int | None = T0 + 1_000,
    offset: int = 7,
    version: int | None = None,
    stage: str = "standardize",
    table: str = "hisdb.public.patient",
) -> Rejection:
    rejection = rejection_from_avro(
        {
            "stage": stage,
            "reason": "profile refuses",
            "error_type": "StandardizeError",
            "institution_id": INST,
            "table": table,
            "original_topic": "cdc.raw.his",
            "original_partition": 0,
            "original_offset": offset,
            "original_key": b"{}",
            "original_value": b"",
            "failed_ts_ms": T0 + 3_000,
        },
        commit_ts_ms=commit_ts_ms,
        version=version,
    )
    assert rejection is not None
    return rejection
