"""Counts per source table and commit minute (ops.landed_counts, ops.standardized_counts)."""

from __future__ import annotations

from datetime import UTC, datetime

from streamhub.core.identity import version_id
from streamhub.core.window_counts import WindowCounts


def _record(
    op: str, minute: int, second: int = 5, table: str = "public.visit", seq: int = 1
) -> dict[str, object]:
    return {
        "institution_id": "123502001549897397",
        "source_system": "his",
        "source_table": table,
        "source_database": "his",
        "record_id": f"r-{table}",
        "source_position_seq": seq,
        "operation": op,
        "commit_time": datetime(2026, 11, 25, 8, minute, second, tzinfo=UTC),
    }


def test_landed_counts_per_table_and_commit_minute() -> None:
    counts = WindowCounts()
    for seq, (op, minute) in enumerate((("c", 1), ("u", 1), ("r", 1), ("d", 1), ("c", 2))):
        counts.add("encounter", _record(op, minute, seq=seq))
    counts.add("encounter", _record("c", 1, table="public.admission"))
    events = counts.events(landed_ts_ms=123)
    start = int(datetime(2026, 11, 25, 8, 1, tzinfo=UTC).timestamp() * 1000)
    values = [(v["table"], v["window_start_ms"], v["upserts"], v["deletes"]) for _, v in events]
    assert values == [
        ("public.admission", start, 1, 0),
        ("public.visit", start, 3, 1),
        ("public.visit", start + 60_000, 1, 0),
    ]
    key, value = events[1]
    assert key == f"123502001549897397|public.visit|{start}".encode()
    assert value["window_ms"] == 60_000 and value["landed_ts_ms"] == 123
    assert value["database"] == "his" and value["repair_id"] is None
    # every counted record's version, so the reconciler counts a replayed flush once
    assert value["versions"] == [version_id("r-public.visit", seq) for seq in range(4)]
