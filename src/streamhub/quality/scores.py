"""Dimension scores from the counts ClickHouse returns, and the report they make.

The counting (which records fail what) happens in ClickHouse (:mod:`.sql`); here the counts
become shares. A dimension's score is 100 × the share of records passing it; completeness
also multiplies by the share of source changes that landed (capped at 1, 1 without source
counts); the overall score is the weighted sum (:data:`~.weights.WEIGHTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.quality import sql
from streamhub.quality.errors import QualityError
from streamhub.quality.period import Period, trend
from streamhub.quality.weights import DIMENSIONS, WEIGHTS

Key = tuple[str, str, str]  # institution, system, table


@dataclass(frozen=True, slots=True)
class Counts:
    records: int = 0
    incomplete: int = 0
    invalid: int = 0
    inconsistent: int = 0
    late: int = 0
    source_changes: int = 0
    landed: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))

    @property
    def coverage(self) -> float:
        """Share of the changes counted at the source that landed (1 without source counts)."""
        if self.source_changes <= 0:
            return 1.0
        return min(1.0, self.landed / self.source_changes)

    def scores(self, weights: Mapping[str, float] = WEIGHTS) -> dict[str, float]:
        def passing(failed: int) -> float:
            return 1.0 if self.records == 0 else 1.0 - failed / self.records

        out = {
            "completeness": 100.0 * passing(self.incomplete) * self.coverage,
            "validity": 100.0 * passing(self.invalid),
            "consistency": 100.0 * passing(self.inconsistent),
            "timeliness": 100.0 * passing(self.late),
        }
        out["overall"] = sum(weights[d] * out[d] for d in DIMENSIONS)
        return out


def _fields(counts: Counts) -> tuple[int, ...]:
    return (
        counts.records,
        counts.incomplete,
        counts.invalid,
        counts.inconsistent,
        counts.late,
        counts.source_changes,
        counts.landed,
    )


@dataclass(frozen=True, slots=True)
class RuleRow:
    institution_id: str
    system: str
    table: str
    rule: str
    records: int  # failing the rule
    of: int  # records in the scope


@dataclass(frozen=True, slots=True)
class Problem:
    institution_id: str
    system: str
    table: str
    entity: str
    record_id: str
    source_key: str
    at: datetime
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    institution: str
    rule: str
    scopes: dict[Key, Counts]
    rules: list[RuleRow]
    problems: list[Problem]
    trend: list[tuple[Period, Counts]] = field(default_factory=list)

    @property
    def total(self) -> Counts:
        return sum(self.scopes.values(), Counts())


def _query(client: Client, text: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    try:
        return client.query(text, parameters=params).result_rows
    except ClickHouseError as exc:
        raise QualityError(
            f"the quality query failed on ClickHouse ({type(exc).__name__}); is the database "
            "migrated (`streamhub clickhouse migrate`)?"
        ) from exc


def _params(period: Period, institution: str) -> dict[str, Any]:
    start, end = period.bounds()
    return {
        "start_ms": int(start.timestamp() * 1000),
        "end_ms": int(end.timestamp() * 1000),
        "institution": institution,
    }


def scope_counts(client: Client, period: Period, institution: str = "") -> dict[Key, Counts]:
    """Counts per (institution, system, table) of one period."""
    params = _params(period, institution)
    out: dict[Key, Counts] = {}
    for inst, system, table, records, incomplete, invalid, inconsistent, late in _query(
        client, sql.scopes_sql(), params
    ):
        out[(inst, system, table)] = Counts(
            int(records), int(incomplete), int(invalid), int(inconsistent), int(late)
        )
    for inst, system, table, source_changes, landed in _query(client, sql.coverage_sql(), params):
        key = (inst, system, table)
        out[key] = out.get(key, Counts()) + Counts(
            source_changes=int(source_changes), landed=int(landed)
        )
    return out


def build_report(
    client: Client,
    period: Period,
    *,
    institution: str = "",
    rule: str = "",
    trend_periods: int = 3,
    problem_limit: int = 200,
) -> Report:
    scopes = scope_counts(client, period, institution)
    params = _params(period, institution) | {"rule": rule}
    rules = [
        RuleRow(i, s, t, r, int(n), scopes.get((i, s, t), Counts()).records)
        for i, s, t, r, n in _query(client, sql.rules_sql(), params)
    ]
    problems = [
        Problem(i, s, t, e, rid, skey, at, tuple(p))
        for i, s, t, e, rid, skey, at, p in _query(
            client, sql.problems_sql(), params | {"limit": problem_limit}
        )
    ]
    history = [
        (p, sum(scope_counts(client, p, institution).values(), Counts()))
        for p in trend(period, trend_periods)[:-1]
    ]
    history.append((period, sum(scopes.values(), Counts())))
    return Report(period, institution, rule, scopes, rules, problems, history)
