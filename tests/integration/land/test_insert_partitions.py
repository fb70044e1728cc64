"""One insert may span many commit days (a backlog, a long outage drained at once).

Since migration 0007 the std tables are partitioned by commit day, and ClickHouse refuses
an insert block touching over 100 partitions by default (TOO_MANY_PARTS, which the lander
treats as transient: it would retry the same batch for ever). The lander's session lifts
that limit; a batch is bounded by its own size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamhub.land.clickhouse import connect


def test_an_insert_spanning_150_commit_days_lands(
    chdb_path: Path, unique: Callable[[str], str]
) -> None:
    database = unique("partitions").replace("-", "_")
    client = connect(f"chdb://{chdb_path}", database, create=True)
    client.command(
        "CREATE TABLE days (id UInt64, commit_time DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(commit_time) ORDER BY id"
    )
    start = datetime(2026, 1, 1, 8, tzinfo=UTC)
    rows = [[day, start + timedelta(days=day)] for day in range(150)]
    client.insert("days", rows, column_names=["id", "commit_time"])
    assert client.query("SELECT count(), uniqExact(toDate(commit_time)) FROM days").result_rows == [
        (150, 150)
    ]
