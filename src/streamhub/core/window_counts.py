"""Counts per source table and minute of commit time, in the shape of ops.landed_counts and
ops.standardized_counts: what one flush landed, or what one batch standardized.

Each event is the increment of one flush (consumers sum them): upserts are c/u/r versions,
deletes are d (a row feeding several entities counts once, by its first entity's record).
A batch landed twice (a replay after a crash before the commit) is counted
twice in the sums though ClickHouse keeps one version, so every event also lists the
``version_id`` of each record it counts: reconciliation counts distinct versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streamhub.core.identity import is_further, row_record_id, version_id

MINUTE_MS = 60_000
# [upserts, deletes, versions] of one window
_Group = list[Any]


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class WindowCounts:
    def __init__(self) -> None:
        # (institution, system, database, table, entity, window start)
        #   -> [upserts, deletes, the versions counted]
        self._groups: dict[tuple[str, str, str, str, str, int], _Group] = {}

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
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = [0, 0, []]
        # the version of the source change (change_version); a further entity of a row
        # (profile `also`) lists it without counting again: one change is one change however
        # many records it fed
        record_id: str = record["record_id"]
        group[2].append(version_id(row_record_id(record_id), record["source_position_seq"]))
        if not is_further(record_id):
            group[1 if record["operation"] == "d" else 0] += 1

    def __len__(self) -> int:
        return len(self._groups)

    def events(self, landed_ts_ms: int) -> list[tuple[bytes, dict[str, Any]]]:
        """(key, value) per window; key = institution id + source table + window start."""
        out = []
        for group, (upserts, deletes, versions) in sorted(self._groups.items()):
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
                        "versions": versions,
                        "repair_id": None,
                    },
                )
            )
        return out
