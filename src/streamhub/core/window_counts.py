"""Counts per source table and minute of commit time, in the shape of ops.landed_counts and
ops.standardized_counts: what one flush landed, or what one batch standardized.

Each event is the increment of one flush (consumers sum them): upserts are c/u/r versions,
deletes are d (a row feeding several entities counts once, by its first entity's record).
A batch landed twice (a replay after a crash before the commit) is counted
twice in the sums though ClickHouse keeps one version, so every event also lists the
``version_id`` of each record it counts: reconciliation counts distinct versions.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from streamhub.core.identity import change_version, is_further

MINUTE_MS = 60_000


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class WindowCounts:
    def __init__(self) -> None:
        # (institution, system, database, table, entity, window start) -> [upserts, deletes]
        self._counts: defaultdict[tuple[str, str, str, str, str, int], list[int]] = defaultdict(
            lambda: [0, 0]
        )
        self._versions: defaultdict[tuple[str, str, str, str, str, int], list[int]] = defaultdict(
            list
        )

    def add(self, entity: str, record: dict[str, Any]) -> None:
        commit_ms = epoch_ms(record["commit_time"])
        key = (
            record["institution_id"],
            record["source_system"],
            record["source_database"],
            record["source_table"],
            entity,
            commit_ms - commit_ms % MINUTE_MS,
        )
        counts = self._counts[key]
        # the version of the source change; a further entity of a row (profile `also`) lists
        # it without counting again: one change is one change however many records it fed
        self._versions[key].append(
            change_version(record["record_id"], record["source_position_seq"])
        )
        if not is_further(record["record_id"]):
            counts[1 if record["operation"] == "d" else 0] += 1

    def __len__(self) -> int:
        return len(self._counts)

    def events(self, landed_ts_ms: int) -> list[tuple[bytes, dict[str, Any]]]:
        """(key, value) per window; key = institution id + source table + window start."""
        out = []
        for group, (upserts, deletes) in sorted(self._counts.items()):
            institution, system, database, table, entity, start = group
            key = f"{institution}|{table}|{start}".encode()
            out.append(
                (
                    key,
                    {
                        "institution_id": institution,
                        "system": system,
                        "table": table,
                        "entity": entity,
                        "window_start_ms": start,
                        "window_ms": MINUTE_MS,
                        "upserts": upserts,
                        "deletes": deletes,
                        "landed_ts_ms": landed_ts_ms,
                        "database": database,
                        "versions": self._versions[group],
                        "repair_id": None,
                    },
                )
            )
        return out
