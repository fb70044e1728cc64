"""The fleet's ground truth: what it sent, per institution, table and commit minute.

Counted when a change is handed to the emitter, with the commit time its envelope carries,
so the per-minute counts are exactly what the capture agent's own ``ops.source_counts`` say
and what reconciliation should find landed. Beside them: totals per table, each table's
rows at the end (live rows, so a row count check has its answer), changes the source made
that never left (a stuck or silent connector at the end of the run), and the faults with
their wall and business times.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamhub.capture.counts import MINUTE_MS

OP_INDEX = {"c": 0, "u": 1, "d": 2}


@dataclass
class FleetLedger:
    # (institution id, database.table as capture names it, minute start ms) -> [c, u, d]
    minutes: dict[tuple[str, str, int], list[int]] = field(default_factory=dict)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)  # made, never sent
    faults: list[dict[str, Any]] = field(default_factory=list)
    emitted = 0

    def record(self, institution: str, table: str, op: str, commit_ms: int) -> None:
        key = (institution, table, commit_ms - commit_ms % MINUTE_MS)
        counts = self.minutes.get(key)
        if counts is None:
            counts = self.minutes[key] = [0, 0, 0]
        counts[OP_INDEX[op]] += 1
        self.emitted += 1

    def by_table(self) -> dict[str, list[int]]:
        """Inserts, updates and deletes per table name (without database), all institutions."""
        totals: dict[str, list[int]] = {}
        for (_, table, _), counts in self.minutes.items():
            name = table.rsplit(".", 1)[-1]
            total = totals.setdefault(name, [0, 0, 0])
            for i, n in enumerate(counts):
                total[i] += n
        return dict(sorted(totals.items()))

    def by_institution(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (institution, _, _), counts in self.minutes.items():
            totals[institution] += sum(counts)
        return dict(totals)

    def document(
        self,
        options: dict[str, Any],
        institutions: list[dict[str, Any]],
        live_rows: dict[tuple[str, str], int],
    ) -> dict[str, Any]:
        return {
            "kind": "streamhub fleet ledger",
            "options": options,
            "institutions": institutions,
            "emitted": self.emitted,
            "by_table": self.by_table(),
            "minutes": [
                [institution, table, minute, *counts]
                for (institution, table, minute), counts in sorted(self.minutes.items())
            ],
            "live_rows": [
                [institution, table, rows]
                for (institution, table), rows in sorted(live_rows.items())
            ],
            "held": [
                [institution, table, n] for (institution, table), n in sorted(self.held.items())
            ],
            "faults": self.faults,
        }


def write_ledger(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def read_ledger(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
