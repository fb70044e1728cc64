"""Check a ledger against the databases themselves: what the simulator says it wrote is there.

Row counts per table, deleted rows gone, updated rows visibly updated
(modification time after creation time), added columns filled for rows inserted
after the change, and every planted bad record present and still bad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streamhub.codes import catalogue, citizen_id
from streamhub.config import Settings
from streamhub.simulate.dialect import Dialect, load
from streamhub.simulate.sources import SourceDatabases, open_sources

CHUNK = 500


@dataclass
class VerifyReport:
    checks: int = 0
    problems: list[str] = field(default_factory=list)

    def expect(self, ok: bool, problem: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, bytes):
        value = value.decode("ascii")
    return datetime.strptime(str(value), "%Y%m%d%H%M%S")


def _undecodable(encoding: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, bytes):
            return False
        try:
            value.decode(encoding)
        except UnicodeDecodeError:
            return True
        return False

    return check


def _text(value: object, encoding: str) -> str | None:
    if value is None:
        return None
    return value.decode(encoding) if isinstance(value, bytes) else str(value)


class LedgerVerifier:
    def __init__(self, settings: Settings, ledger: dict[str, Any]) -> None:
        self.settings = settings
        self.ledger = ledger
        self.report = VerifyReport()
        self.sources: dict[str, SourceDatabases] = {}
        self.institutions = {i["key"]: i for i in ledger["institutions"]}

    def _source(self, institution: str) -> SourceDatabases:
        engine = self.institutions[institution]["engine"]
        if engine not in self.sources:
            self.sources[engine] = open_sources(self.settings, engine)
        return self.sources[engine]

    def _dialect(self, institution: str) -> Dialect:
        return load(self.institutions[institution]["dialect"])

    def _column(self, source: SourceDatabases, dialect: Dialect, expression: str) -> str:
        # raw-text dialects keep bytes the database cannot interpret: read them as bytes
        quoted = source.quote(expression)
        return f"CAST({quoted} AS BINARY)" if dialect.raw_text else quoted

    def run(self) -> VerifyReport:
        try:
            for table in self.ledger["tables"]:
                self._table(table)
            for change in self.ledger["schema_changes"]:
                self._schema_change(change)
            for bad in self.ledger["bad_records"]:
                self._bad_record(bad)
        finally:
            for source in self.sources.values():
                source.close()
        return self.report

    def _table(self, entry: dict[str, Any]) -> None:
        source = self._source(entry["institution"])
        spec = self._dialect(entry["institution"]).tables[entry["entity"]]
        where = f"{entry['database']}.{entry['table']}"
        q = source.quote
        name = q(spec.name)
        (rows,) = source.query(entry["database"], f"SELECT count(*) FROM {name}")[0]
        self.report.expect(rows == entry["rows"], f"{where}: {rows} rows, ledger {entry['rows']}")
        created, updated = q(spec.column_for("created_at")), q(spec.column_for("updated_at"))
        (changed,) = source.query(
            entry["database"], f"SELECT count(*) FROM {name} WHERE {updated} > {created}"
        )[0]
        self.report.expect(
            changed == entry["updated_rows"],
            f"{where}: {changed} rows modified after creation, ledger {entry['updated_rows']}",
        )
        deleted = entry["deleted_keys"]
        textual_key = spec.columns[spec.primary_key].textual
        left = 0
        for i in range(0, len(deleted), CHUNK):
            keys = [str(k) if textual_key else k for k in deleted[i : i + CHUNK]]
            marks = ", ".join(["%s"] * len(keys))
            left += source.query(
                entry["database"],
                f"SELECT count(*) FROM {name} WHERE {q(spec.primary_key)} IN ({marks})",
                keys,
            )[0][0]
        self.report.expect(left == 0, f"{where}: {left} of {len(deleted)} deleted rows still there")

    def _schema_change(self, change: dict[str, Any]) -> None:
        source = self._source(change["institution"])
        entry = next(
            t
            for t in self.ledger["tables"]
            if t["institution"] == change["institution"] and t["entity"] == change["entity"]
        )
        (filled,) = source.query(
            change["database"],
            f"SELECT count({source.quote(change['column'])}) FROM {source.quote(change['table'])}",
        )[0]
        expected = entry["inserts"] - change["inserts_before"]
        self.report.expect(
            filled == expected,
            f"{change['database']}.{change['table']}.{change['column']}: {filled} rows filled, "
            f"{expected} inserted after the column was added",
        )

    def _bad_record(self, bad: dict[str, Any]) -> None:
        source = self._source(bad["institution"])
        dialect = self._dialect(bad["institution"])
        spec = dialect.tables[bad["entity"]]
        columns = ", ".join(
            self._column(source, dialect, spec.column_for(f)) for f in bad["fields"]
        )
        key = str(bad["key"]) if spec.columns[spec.primary_key].textual else bad["key"]
        rows = source.query(
            bad["database"],
            f"SELECT {columns} FROM {source.quote(spec.name)} "
            f"WHERE {source.quote(spec.primary_key)} = %s",
            [key],
        )
        where = f"{bad['database']}.{bad['table']} key {bad['key']} ({bad['kind']})"
        if not rows:
            self.report.expect(False, f"{where}: planted row missing")
            return
        values = rows[0]
        encoding = dialect.text_encoding
        kind = bad["kind"]
        if kind == "bad_id_checksum":
            number = _text(values[0], encoding)
            ok = number is not None and not citizen_id.is_valid(number)
        elif kind == "unknown_code":
            ok = _text(values[0], encoding) not in catalogue.icd10_by_code()
        elif kind == "missing_required":
            ok = values[0] in (None, "", b"")
        elif kind == "undecodable_text":
            ok = _undecodable(encoding)(values[0])
        else:  # discharge_before_admission
            ok = None not in values and _moment(values[1]) < _moment(values[0])
        self.report.expect(ok, f"{where}: the row is no longer bad: {values!r}")


def drop_databases(settings: Settings, ledger: dict[str, Any]) -> list[str]:
    """Drop the databases a ledger's run created; returns their names."""
    dropped = []
    for inst in ledger["institutions"]:
        source = open_sources(settings, inst["engine"])
        try:
            for database in inst["databases"].values():
                source.drop(database)
                dropped.append(database)
        finally:
            source.close()
    return dropped


def verify_ledger(settings: Settings, ledger: dict[str, Any]) -> VerifyReport:
    return LedgerVerifier(settings, ledger).run()
