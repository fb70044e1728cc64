"""The ground-truth ledger: what the simulator committed, for tests and benchmarks only.

Counts per institution, table, operation and simulated minute; per table the
totals, the rows that must be gone and how many rows were updated; the bad
records planted; the faults and schema changes applied. The pipeline never reads
this file: it must find the same facts in the sources' logs on its own.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from streamhub.simulate.bad_records import PlantedRecord
from streamhub.simulate.dialect import Dialect
from streamhub.simulate.errors import LedgerError
from streamhub.simulate.institutions import Institution
from streamhub.simulate.records import Change

FORMAT = 1


class Ledger:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, datetime]] = Counter()
        self.inserts: Counter[tuple[str, str]] = Counter()
        self.updated: dict[tuple[str, str], set[int]] = {}
        self.deleted: dict[tuple[str, str], list[int]] = {}
        self.planted: list[PlantedRecord] = []
        self.faults: list[dict[str, Any]] = []
        self.schema_changes: list[dict[str, Any]] = []

    def record(self, changes: list[Change]) -> None:
        counts, inserts = self.counts, self.inserts
        for change in changes:
            where = (change.institution, change.entity)
            counts[(*where, change.op, change.at.replace(second=0, microsecond=0))] += 1
            if change.op == "c":
                inserts[where] += 1
            elif change.op == "u":
                self.updated.setdefault(where, set()).add(change.key)
            else:
                self.deleted.setdefault(where, []).append(change.key)

    def document(
        self,
        options: dict[str, Any],
        institutions: list[Institution],
        dialects: dict[str, Dialect],
        prefix: str,
    ) -> dict[str, Any]:
        """The ledger as plain data, identical for identical runs (sorted, no wall clock)."""
        place: dict[tuple[str, str], tuple[str, str]] = {}
        for inst in institutions:
            for entity, spec in dialects[inst.dialect].tables.items():
                if spec.system in inst.systems:
                    place[(inst.key, entity)] = (inst.database(prefix, spec.system), spec.name)
        ops = Counter[tuple[str, str, str]]()
        for (inst_key, entity, op, _), n in self.counts.items():
            ops[(inst_key, entity, op)] += n
        tables = []
        for (inst_key, entity), (database, table) in sorted(place.items()):
            deleted = sorted(self.deleted.get((inst_key, entity), []))
            inserts = self.inserts[(inst_key, entity)]
            tables.append(
                {
                    "institution": inst_key,
                    "entity": entity,
                    "database": database,
                    "table": table,
                    "inserts": inserts,
                    "updates": ops[(inst_key, entity, "u")],
                    "deletes": ops[(inst_key, entity, "d")],
                    "rows": inserts - len(deleted),
                    "updated_rows": len(
                        self.updated.get((inst_key, entity), set()).difference(deleted)
                    ),
                    "deleted_keys": deleted,
                }
            )
        counts = [
            [inst_key, *place[(inst_key, entity)], op, minute.strftime("%Y-%m-%dT%H:%M"), n]
            for (inst_key, entity, op, minute), n in self.counts.items()
        ]
        return {
            "format": FORMAT,
            "note": "ground truth for tests and benchmarks; the pipeline never reads it",
            "options": options,
            "institutions": [
                {
                    "key": inst.key,
                    "id": inst.credit_code,
                    "name": inst.name,
                    "kind": inst.kind,
                    "engine": inst.engine,
                    "dialect": inst.dialect,
                    "databases": {s: inst.database(prefix, s) for s in inst.systems},
                }
                for inst in institutions
            ],
            "tables": tables,
            "counts": sorted(counts),
            "bad_records": sorted(
                (
                    {
                        "institution": bad.institution,
                        "entity": bad.entity,
                        "database": place[(bad.institution, bad.entity)][0],
                        "table": place[(bad.institution, bad.entity)][1],
                        "key": bad.key,
                        "kind": bad.kind,
                        "fields": list(bad.fields),
                    }
                    for bad in self.planted
                ),
                key=lambda b: (b["institution"], b["table"], b["key"], b["kind"]),
            ),
            "faults": self.faults,
            "schema_changes": self.schema_changes,
        }


def write_ledger(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str) + "\n", "utf-8")
    tmp.replace(path)


def read_ledger(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read the ledger {path}: {exc}") from exc
    if document.get("format") != FORMAT:
        raise LedgerError(f"{path} is not a format-{FORMAT} simulator ledger")
    return document
