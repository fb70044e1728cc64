"""The quality report of :mod:`streamhub.quality` built from named queries.

The web app does not own the engine: it runs the report's SQL (``quality.*`` of
:mod:`streamhub.query.quality_queries`, the very statements of :mod:`streamhub.quality.sql`)
through its :class:`~streamhub.query.QuerySource` and fills the same
:class:`~streamhub.quality.scores.Report` that ``streamhub quality report`` builds, so scores
(:class:`~streamhub.quality.scores.Counts`) and rendering (:mod:`streamhub.quality.render`)
are the package's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamhub.quality.period import Period, trend
from streamhub.quality.scores import Counts, Key, Problem, Report, RuleRow
from streamhub.query import QuerySource
from streamhub.query.quality_queries import COVERAGE, PROBLEMS, RULES, SCOPES


def _params(period: Period, institution: str) -> dict[str, Any]:
    start, end = period.bounds()
    return {
        "start_ms": int(start.timestamp() * 1000),
        "end_ms": int(end.timestamp() * 1000),
        "institution": institution,
    }


def _scope(row: dict[str, Any]) -> Key:
    return (str(row["institution_id"]), str(row["system"]), str(row["table"]))


def scope_counts(queries: QuerySource, period: Period, institution: str = "") -> dict[Key, Counts]:
    """Counts per (institution, system, table) of one period."""
    params = _params(period, institution)
    out: dict[Key, Counts] = {}
    for row in queries.run(SCOPES, params):
        out[_scope(row)] = Counts(
            *(int(row[c]) for c in ("records", "incomplete", "invalid", "inconsistent", "late"))
        )
    for row in queries.run(COVERAGE, params):
        key = _scope(row)
        landed = Counts(source_changes=int(row["source_changes"]), landed=int(row["landed"]))
        out[key] = out.get(key, Counts()) + landed
    return out


def build_report(
    queries: QuerySource,
    period: Period,
    *,
    institution: str = "",
    rule: str = "",
    trend_periods: int = 3,
    problem_limit: int = 200,
) -> Report:
    """What :func:`streamhub.quality.scores.build_report` gives, through named queries."""
    scopes = scope_counts(queries, period, institution)
    params = _params(period, institution) | {"rule": rule}
    rules = [
        RuleRow(
            *_scope(r), str(r["rule"]), int(r["records"]), scopes.get(_scope(r), Counts()).records
        )
        for r in queries.run(RULES, params)
    ]
    problems = [
        Problem(
            *_scope(p),
            str(p["entity"]),
            str(p["record_id"]),
            str(p["source_key"] or ""),
            datetime.fromtimestamp(int(p["at"]) / 1000, UTC),
            tuple(str(x) for x in p["problems"]),
        )
        for p in queries.run(PROBLEMS, params | {"limit": problem_limit})
    ]
    history = [
        (p, sum(scope_counts(queries, p, institution).values(), Counts()))
        for p in trend(period, trend_periods)[:-1]
    ]
    history.append((period, sum(scopes.values(), Counts())))
    return Report(period, institution, rule, scopes, rules, problems, history)
