"""Which database a table lives in, learned from the source counts.

``ops.landed_counts`` and the land stage's dead letters name a table without its
database. Every captured table announces its database in ``ops.source_counts``
(windows and row counts), so the reconciler learns (institution, qualified table)
→ {database: system} from there, and parks what it cannot place yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamhub.reconcile.errors import AmbiguousTableError
from streamhub.reconcile.keys import TableKey


@dataclass
class TableDirectory:
    _known: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def learn(self, table: TableKey, system: str) -> bool:
        """Remember where ``table`` lives; True when it was not known before."""
        databases = self._known.setdefault((table.institution_id, table.table), {})
        new = table.database not in databases
        databases[table.database] = system
        return new

    def system_of(self, table: TableKey) -> str | None:
        return self._known.get((table.institution_id, table.table), {}).get(table.database)

    def resolve(self, institution_id: str, table: str, system: str | None) -> TableKey | None:
        """The table's key; None while unknown; raises when two databases could hold it."""
        databases = self._known.get((institution_id, table), {})
        candidates = sorted(db for db, sys in databases.items() if system in (None, sys))
        if not candidates:
            return None
        if len(candidates) > 1:
            raise AmbiguousTableError(
                f"institution {institution_id}: table {table} (system {system or 'unknown'}) "
                f"exists in databases {', '.join(candidates)} and the record does not say "
                "which; the lander must send `database` in ops.landed_counts"
            )
        return TableKey(institution_id, candidates[0], table)

    def to_list(self) -> list[list[str]]:
        return [
            [institution, table, database, system]
            for (institution, table), databases in sorted(self._known.items())
            for database, system in sorted(databases.items())
        ]

    @classmethod
    def from_list(cls, rows: list[Any]) -> TableDirectory:
        directory = cls()
        for institution, table, database, system in rows:
            directory.learn(TableKey(institution, database, table), system)
        return directory
