"""The quality report's queries (:mod:`streamhub.quality.sql`) as named queries, so that a
process that does not own the engine (the web app's 质控 page) runs exactly the SQL
`streamhub quality report` runs, through the lander's endpoint or a read-only reader."""

from __future__ import annotations

from streamhub.quality import sql
from streamhub.query.named import NamedQuery, Param

_PERIOD = {
    "start_ms": Param("Int64"),
    "end_ms": Param("Int64"),
    "institution": Param("String", default=""),  # "" means every institution
}
_RULE = {"rule": Param("String", default="")}

SCOPES = "quality.scopes"
COVERAGE = "quality.coverage"
RULES = "quality.rules"
PROBLEMS = "quality.problems"

QUALITY_QUERIES = [
    NamedQuery(SCOPES, sql.scopes_sql(), _PERIOD, "records and failures per scope"),
    NamedQuery(COVERAGE, sql.coverage_sql(), _PERIOD, "source vs landed changes per table"),
    NamedQuery(RULES, sql.rules_sql(), {**_PERIOD, **_RULE}, "records failing each rule"),
    NamedQuery(
        PROBLEMS,
        sql.problems_sql(),
        {**_PERIOD, **_RULE, "limit": Param("UInt32", default=200)},
        "the abnormal records (pseudonymized ids, source key tokens)",
    ),
]
