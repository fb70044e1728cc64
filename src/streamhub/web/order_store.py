"""Where the web app reads and changes work orders.

With a ClickHouse server the app holds a :class:`~streamhub.quality.orders.WorkOrderStore`
of its own (reads, and the contact's acknowledge / report-fix with their audit rows). With
embedded chDB only the lander may open the database: :class:`QueriedOrders` reads the orders
through the named queries ``quality.orders`` / ``quality.order`` (the lander's endpoint) and
refuses the changes with a 503 that says why, rather than pretending they were made.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Protocol

from streamhub.quality.orders import ORDER_STATES, WorkOrder, WorkOrderNotFoundError
from streamhub.query import QuerySource
from streamhub.query.quality_queries import ORDER, ORDERS
from streamhub.web.errors import ServiceUnavailableError

READ_ONLY = (
    "work orders are read-only here: with embedded chDB only the lander may write the "
    "database; acknowledge or report the fix once the web app reads a ClickHouse server "
    "(clickhouse_dsn http(s)://…)"
)


class OrderStore(Protocol):
    """What the routes use of :class:`~streamhub.quality.orders.WorkOrderStore`."""

    def list(
        self, *, institution_id: str | None = None, states: Sequence[str] | None = None
    ) -> builtins.list[WorkOrder]: ...

    def get(self, order_id: str) -> WorkOrder: ...

    def acknowledge(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder: ...

    def report_fix(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder: ...


def _order(row: dict[str, Any]) -> WorkOrder:
    return WorkOrder(
        order_id=str(row["order_id"]),
        institution_id=str(row["institution_id"]),
        rule=str(row["rule"]),
        system=str(row["system"]),
        table=str(row["table"]),
        level=str(row["level"]),
        state=str(row["state"]),
        opened_at_ms=int(row["opened_at_ms"]),
        deadline_ms=int(row["deadline_ms"]),
        breach_count=int(row["breach_count"]),
        breach_rate=float(row["breach_rate"]),
        examples=tuple(str(x) for x in row["examples"]),
        evidence=str(row["evidence"]),
        updated_at_ms=int(row["updated_at_ms"]),
    )


class QueriedOrders:
    """Work orders read through named queries; changes refused (see the module)."""

    def __init__(self, queries: QuerySource) -> None:
        self.queries = queries

    def list(
        self, *, institution_id: str | None = None, states: Sequence[str] | None = None
    ) -> builtins.list[WorkOrder]:
        wanted = [s for s in states or () if s in ORDER_STATES]
        found: builtins.list[WorkOrder] = []
        for state in wanted or [""]:
            rows = self.queries.run(ORDERS, {"institution": institution_id or "", "state": state})
            found += [_order(r) for r in rows]
        return sorted(found, key=lambda o: (-o.opened_at_ms, o.order_id))

    def get(self, order_id: str) -> WorkOrder:
        rows = self.queries.run(ORDER, {"id": order_id[:256]})
        if not rows:
            raise WorkOrderNotFoundError(f"no work order {order_id[:80]!r}")
        return _order(rows[0])

    def acknowledge(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder:
        raise ServiceUnavailableError(READ_ONLY)

    def report_fix(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder:
        raise ServiceUnavailableError(READ_ONLY)
