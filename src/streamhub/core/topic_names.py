"""The topics every stage names, in one place (``topics/*.yaml`` declares their settings)."""

from __future__ import annotations

SYSTEMS: tuple[str, ...] = ("his", "emr", "lis", "pacs")


def raw_topic(system: str) -> str:
    """``cdc.raw.<system>``: the change envelopes of every institution's ``system``."""
    return f"cdc.raw.{system}"


RAW_TOPICS: tuple[str, ...] = tuple(raw_topic(s) for s in SYSTEMS)

HEARTBEAT = "ops.heartbeat"
SOURCE_COUNTS = "ops.source_counts"
STANDARDIZED_COUNTS = "ops.standardized_counts"
LANDED_COUNTS = "ops.landed_counts"
QUALITY = "ops.quality"
RECONCILIATION = "ops.reconciliation"
ANOMALY = "ops.anomaly"

DLQ_CAPTURE = "dlq.capture"
DLQ_STANDARDIZE = "dlq.standardize"
DLQ_LAND = "dlq.land"
DEAD_LETTER_TOPICS: tuple[str, ...] = (DLQ_CAPTURE, DLQ_STANDARDIZE, DLQ_LAND)

#: the reconcile app's checkpoints (compacted, created by the app like ``_capture_positions``)
RECONCILE_STATE = "_reconcile_state"
