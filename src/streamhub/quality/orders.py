"""Work orders (运维工单): a rule breached by an institution, tracked until the data is fixed.

An order is stored in ClickHouse (``quality_work_orders``, migration 0008) as versions of one
row: the highest ``version`` is the order as it stands (FINAL). Every state change also
writes a row to ``quality_work_order_audit`` (who, what, when, from → to). The engine that
opens, verifies and escalates orders is :mod:`.orders_engine`; the web app and the CLI read
and change them through :class:`WorkOrderStore`.

States: ``open`` → ``acknowledged`` (the institution's contact saw it) → ``fix_reported``
(the contact says the source is corrected) → ``closed`` (streamhub saw the data pass:
:mod:`.orders_engine`). An order past its deadline and not closed becomes ``escalated``.
Only the engine closes an order: a reported fix is not a fixed one.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.quality.errors import (
    WorkOrderAccessError,
    WorkOrderError,
    WorkOrderNotFoundError,
    WorkOrderStateError,
)

__all__ = [
    "ACTIVE_STATES",
    "ORDER_STATES",
    "AuditEntry",
    "WorkOrder",
    "WorkOrderAccessError",
    "WorkOrderError",
    "WorkOrderNotFoundError",
    "WorkOrderStateError",
    "WorkOrderStore",
]

ORDER_STATES = ("open", "acknowledged", "fix_reported", "escalated", "closed")
#: states of an order still being worked on: at most one per (institution, rule, system, table)
ACTIVE_STATES = ("open", "acknowledged", "fix_reported", "escalated")

ORDERS_TABLE = "quality_work_orders"
AUDIT_TABLE = "quality_work_order_audit"

#: what the institution's contact may do, from which states
_ACK_FROM = ("open", "escalated")
_FIX_FROM = ("open", "acknowledged", "escalated")


@dataclass(frozen=True)
class WorkOrder:
    order_id: str
    institution_id: str
    rule: str
    system: str
    table: str
    level: str
    state: str  # one of ORDER_STATES
    opened_at_ms: int
    deadline_ms: int
    breach_count: int
    breach_rate: float
    examples: tuple[str, ...]  # pseudonymized record ids (record_id) only
    evidence: str  # why it closed / escalated; empty while open
    updated_at_ms: int
    # engine bookkeeping (after the contract's fields, all defaulted)
    entity: str = ""
    offenders: tuple[str, ...] = ()  # record ids failing the rule when the order opened
    clean_since_ms: int = 0  # since when the rule's rate is under threshold (0: it is not)
    notified_state: str = ""  # the state last announced by the notifier
    version: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def overdue(self, now_ms: int) -> bool:
        return self.active and now_ms > self.deadline_ms


@dataclass(frozen=True)
class AuditEntry:
    order_id: str
    version: int
    at_ms: int
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str


_COLUMNS = (
    "order_id",
    "institution_id",
    "rule",
    "system",
    "table",
    "level",
    "state",
    "opened_at_ms",
    "deadline_ms",
    "breach_count",
    "breach_rate",
    "examples",
    "evidence",
    "updated_at_ms",
    "entity",
    "offenders",
    "clean_since_ms",
    "notified_state",
    "version",
)
_AUDIT_COLUMNS = (
    "order_id",
    "version",
    "at_ms",
    "actor",
    "action",
    "from_state",
    "to_state",
    "note",
)
_SELECT = ", ".join(f"`{c}`" for c in _COLUMNS)


def _order(row: Sequence[Any]) -> WorkOrder:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["examples"] = tuple(values["examples"])
    values["offenders"] = tuple(values["offenders"])
    for name in ("opened_at_ms", "deadline_ms", "breach_count", "updated_at_ms"):
        values[name] = int(values[name])
    values["clean_since_ms"] = int(values["clean_since_ms"])
    values["version"] = int(values["version"])
    values["breach_rate"] = float(values["breach_rate"])
    return WorkOrder(**values)


def _row(order: WorkOrder) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in (getattr(order, c) for c in _COLUMNS)]


class WorkOrderStore:
    """Work orders in ClickHouse: read, and change with an audit row per state change."""

    def __init__(self, client: Client, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # --- reading ---------------------------------------------------------------------------

    def _query(self, text: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        try:
            return self.client.query(text, parameters=params).result_rows
        except ClickHouseError as exc:
            raise WorkOrderError(
                f"reading work orders failed on ClickHouse ({type(exc).__name__}); is the "
                "database migrated (`streamhub clickhouse migrate`, 0008)?"
            ) from exc

    def list(
        self, *, institution_id: str | None = None, states: Sequence[str] | None = None
    ) -> builtins.list[WorkOrder]:
        """Orders, newest first; only ``institution_id``'s and only in ``states`` when given."""
        unknown = [s for s in states or () if s not in ORDER_STATES]
        if unknown:
            raise WorkOrderStateError(
                f"unknown work order state(s) {unknown}; one of {', '.join(ORDER_STATES)}"
            )
        rows = self._query(
            f"SELECT {_SELECT} FROM {ORDERS_TABLE} FINAL "  # noqa: S608 - constant names
            "WHERE ({inst:String} = '' OR institution_id = {inst:String}) "
            "AND (empty({states:Array(String)}) OR has({states:Array(String)}, state)) "
            "ORDER BY opened_at_ms DESC, order_id",
            {"inst": institution_id or "", "states": list(states or ())},
        )
        return [_order(r) for r in rows]

    def get(self, order_id: str) -> WorkOrder:
        rows = self._query(
            f"SELECT {_SELECT} FROM {ORDERS_TABLE} FINAL WHERE order_id = {{id:String}}",  # noqa: S608 - constant names
            {"id": order_id},
        )
        if not rows:
            raise WorkOrderNotFoundError(f"no work order {order_id!r}")
        return _order(rows[0])

    def audit(self, order_id: str) -> builtins.list[AuditEntry]:
        """The order's state changes, oldest first."""
        rows = self._query(
            f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM {AUDIT_TABLE} FINAL "  # noqa: S608 - constant names
            "WHERE order_id = {id:String} ORDER BY version",
            {"id": order_id},
        )
        return [
            AuditEntry(str(o), int(v), int(at), str(a), str(act), str(f), str(t), str(n))
            for o, v, at, a, act, f, t, n in rows
        ]

    # --- changing --------------------------------------------------------------------------

    def save(self, order: WorkOrder, *, actor: str, action: str, note: str = "") -> WorkOrder:
        """Write a new version of ``order`` (its version bumped past the stored one, its
        ``updated_at_ms`` now), and an audit row when its state changed or it is new."""
        try:
            previous: WorkOrder | None = self.get(order.order_id)
        except WorkOrderNotFoundError:
            previous = None
        now = self.now_ms()
        version = max(now, (previous.version if previous else 0) + 1)
        saved = replace(order, version=version, updated_at_ms=now)
        from_state = previous.state if previous else ""
        try:
            self.client.insert(ORDERS_TABLE, [_row(saved)], column_names=list(_COLUMNS))
            if from_state != saved.state:
                self.client.insert(
                    AUDIT_TABLE,
                    [[saved.order_id, version, now, actor, action, from_state, saved.state, note]],
                    column_names=list(_AUDIT_COLUMNS),
                )
        except ClickHouseError as exc:
            raise WorkOrderError(
                f"storing work order {order.order_id} failed on ClickHouse "
                f"({type(exc).__name__}); the change was not made, try again"
            ) from exc
        return saved

    def _contact_change(
        self,
        order_id: str,
        *,
        by: str,
        note: str,
        institution_id: str | None,
        action: str,
        allowed_from: tuple[str, ...],
        to_state: str,
    ) -> WorkOrder:
        order = self.get(order_id)
        if institution_id is not None and order.institution_id != institution_id:
            raise WorkOrderAccessError(f"user {by!r} may not act on work order {order_id}")
        if order.state not in allowed_from:
            raise WorkOrderStateError(
                f"work order {order_id} is {order.state}: it cannot be {action} "
                f"(only from {', '.join(allowed_from)})"
            )
        return self.save(replace(order, state=to_state), actor=by, action=action, note=note)

    def acknowledge(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder:
        """The institution's contact saw the order (``institution_id``: the contact's own
        institution, checked; None for an operator)."""
        return self._contact_change(
            order_id,
            by=by,
            note=note,
            institution_id=institution_id,
            action="acknowledged",
            allowed_from=_ACK_FROM,
            to_state="acknowledged",
        )

    def report_fix(
        self, order_id: str, *, by: str, note: str, institution_id: str | None
    ) -> WorkOrder:
        """The contact says the records were corrected at the source; the order stays until
        the corrected versions land passing (the engine closes it)."""
        return self._contact_change(
            order_id,
            by=by,
            note=note,
            institution_id=institution_id,
            action="fix_reported",
            allowed_from=_FIX_FROM,
            to_state="fix_reported",
        )
