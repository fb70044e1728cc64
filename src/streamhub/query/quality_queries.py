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

# Work orders (migration 0008) as they stand, for a reader that may not open the engine (the
# web app beside the lander's embedded chDB): the contract's fields of quality.orders.WorkOrder.
_ORDER_COLUMNS = (
    "order_id, institution_id, rule, system, `table`, level, state, opened_at_ms, deadline_ms, "
    "breach_count, breach_rate, examples, evidence, updated_at_ms"
)
ORDERS = "quality.orders"
ORDER = "quality.order"
QUALITY_QUERIES += [
    NamedQuery(
        ORDERS,
        f"SELECT {_ORDER_COLUMNS} FROM quality_work_orders FINAL "  # noqa: S608 - constants
        "WHERE ({institution:String} = '' OR institution_id = {institution:String}) "
        "AND ({state:String} = '' OR state = {state:String}) "
        "ORDER BY opened_at_ms DESC, order_id LIMIT {limit:UInt32}",
        {
            "institution": Param("String", default=""),
            "state": Param("String", default=""),
            "limit": Param("UInt32", default=1000),
        },
        "work orders, newest first",
    ),
    NamedQuery(
        ORDER,
        f"SELECT {_ORDER_COLUMNS} FROM quality_work_orders FINAL "  # noqa: S608 - constants
        "WHERE order_id = {id:String}",
        {"id": Param("String")},
        "one work order",
    ),
]
