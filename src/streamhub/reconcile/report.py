"""`reconcile show`: the published results of a span, latest revision per window, as a table.

Reads ``ops.reconciliation`` (not ClickHouse: the lander owns the embedded engine while
it runs). A window is re-judged whenever its evidence changes, so only its highest
revision counts; the daily totals come from those with :func:`daily_totals`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.core.topic_names import RECONCILIATION
from streamhub.kafka.reading import read_since
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.times import local_minute
from streamhub.reconcile.totals import DailyTotal, daily_totals, latest_per_window
from streamhub.serde.avro_serde import AvroSerde

COLUMNS = (
    "window",
    "table",
    "source",
    "standardized",
    "rejected",
    "landed",
    "repaired",
    "status",
    "detail",
)


@dataclass(frozen=True)
class Selection:
    institution_id: str | None  # None: every institution
    since_ms: int
    status: Status | None = None

    def keep(self, result: Result) -> bool:
        return (
            self.institution_id in (None, result.institution_id)
            and result.window_start_ms >= self.since_ms
        )

    def show(self, result: Result) -> bool:
        return self.status is None or result.status is self.status


def read_results(settings: Settings, since_ms: int) -> list[Result]:
    """Every verdict published on ops.reconciliation from ``since_ms`` on (all revisions)."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    return [
        Result.from_avro(serde.decode(m.value).value)
        for m in read_since(settings, [RECONCILIATION], since_ms)
        if m.value is not None
    ]


def select(
    results: Iterable[Result], selection: Selection
) -> tuple[list[Result], list[DailyTotal]]:
    """Rows to print (status filter applied) and daily totals (over every status)."""
    latest = latest_per_window(r for r in results if selection.keep(r))
    return [r for r in latest if selection.show(r)], daily_totals(latest)


def row(result: Result) -> list[str]:
    table = f"{result.database}.{result.table}" if result.database else result.table
    return [
        local_minute(result.window_start_ms),
        table,
        str(result.source_changes),
        str(result.standardized),
        str(result.dead_lettered),
        str(result.landed),
        str(result.repaired),
        result.status.value,
        result.detail or "",
    ]


def render_table(rows: list[list[str]], headers: tuple[str, ...] | list[str]) -> str:
    widths = [len(h) for h in headers]
    for cells in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in rows
    ]
    return "\n".join(lines)


def total_rows(totals: list[DailyTotal]) -> list[list[str]]:
    return [
        [
            str(t.day),
            t.institution_id,
            str(t.windows),
            str(t.source_changes),
            str(t.dead_lettered),
            str(t.landed),
            str(t.repaired),
            str(t.difference),
            " ".join(f"{s.value}={n}" for s, n in sorted(t.statuses.items())),
        ]
        for t in totals
    ]


TOTAL_COLUMNS = (
    "day",
    "institution",
    "windows",
    "source",
    "rejected",
    "landed",
    "repaired",
    "difference",
    "statuses",
)


def as_json(rows: list[Result], totals: list[DailyTotal]) -> str:
    """One JSON document per line: ``{"window": …}`` rows, then ``{"day": …}`` totals."""
    lines = [
        json.dumps({"window": local_minute(r.window_start_ms), **r.to_avro()}, ensure_ascii=False)
        for r in rows
    ]
    lines += [
        json.dumps(
            {
                "day": str(t.day),
                "institution_id": t.institution_id,
                "windows": t.windows,
                "source_changes": t.source_changes,
                "standardized": t.standardized,
                "dead_lettered": t.dead_lettered,
                "landed": t.landed,
                "repaired": t.repaired,
                "duplicates": t.duplicates,
                "difference": t.difference,
                "statuses": {s.value: n for s, n in sorted(t.statuses.items())},
            },
            ensure_ascii=False,
        )
        for t in totals
    ]
    return "\n".join(lines)
