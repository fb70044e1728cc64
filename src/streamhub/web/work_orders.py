"""运维工单 in the web app: operators list every institution's work orders (filter by
institution and state); an institution contact lists and opens their own, acknowledges them
and reports a fix. The orders are :mod:`streamhub.quality.orders`'s; the store checks a
contact's institution, and so does every route here (defence in depth): another
institution's order is refused exactly like one that does not exist, so a contact cannot
even learn which order ids exist.

The POST actions are protected as the app's other POSTs are: the session cookie is
``SameSite=Strict`` (no other site's page sends it) and the body must be JSON (a cross-site
form cannot send ``application/json`` without a CORS preflight the app never grants).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from streamhub.config import Settings
from streamhub.land.clickhouse import connect
from streamhub.land.errors import LandError
from streamhub.quality.orders import (
    WorkOrder,
    WorkOrderAccessError,
    WorkOrderError,
    WorkOrderNotFoundError,
    WorkOrderStateError,
    WorkOrderStore,
)
from streamhub.query import QuerySource
from streamhub.web.auth import Session
from streamhub.web.contact import NOT_A_CONTACT, is_contact, refuse, scoped
from streamhub.web.context import WebContext, context, viewed
from streamhub.web.errors import NotFoundError, ServiceUnavailableError
from streamhub.web.order_store import OrderStore, QueriedOrders
from streamhub.web.quality import Access

OrderState = Literal["open", "acknowledged", "fix_reported", "escalated", "closed"]
OrderStores = Callable[[], OrderStore]
STORE = "work_order_store"  # WebContext.state key: the app's one store
_lock = threading.Lock()
_opened: weakref.WeakSet[WorkOrderStore] = weakref.WeakSet()  # stores settings_store opened

router = APIRouter(prefix="/api/quality/orders")


def settings_store(settings: Settings, queries: QuerySource) -> OrderStores:
    """Work orders on the configured ClickHouse: a store of the app's own on a server (it
    writes the contact's changes); with embedded chDB, which the lander alone may open, the
    orders read through ``queries`` and the changes refused (:class:`QueriedOrders`)."""

    def open_store() -> OrderStore:
        dsn = settings.clickhouse_dsn
        if dsn.startswith("chdb:"):
            return QueriedOrders(queries)
        try:
            store = WorkOrderStore(connect(dsn, settings.clickhouse_database))
        except LandError as exc:
            raise ServiceUnavailableError(f"work orders unavailable: {exc}") from exc
        _opened.add(store)
        return store

    return open_store


def _store(ctx: WebContext) -> OrderStore:
    with _lock:
        store: OrderStore | None = ctx.state.get(STORE)
        if store is None:
            store = ctx.state[STORE] = ctx.orders()
        return store


def close_store(ctx: WebContext) -> None:
    """Close the ClickHouse client of a store :func:`settings_store` opened (the app is
    shutting down); a store given to the app is its giver's to close."""
    with _lock:
        store = ctx.state.pop(STORE, None)
    if isinstance(store, WorkOrderStore) and store in _opened:
        store.client.close()


def _unavailable(exc: WorkOrderError) -> ServiceUnavailableError:
    return ServiceUnavailableError(f"work orders unavailable: {exc}")


def _public(order: WorkOrder) -> dict[str, Any]:
    """What the pages show of an order: the contract's fields (the engine's bookkeeping —
    offenders, versions, notifications — stays inside)."""
    return {
        "order_id": order.order_id,
        "institution_id": order.institution_id,
        "rule": order.rule,
        "system": order.system,
        "table": order.table,
        "level": order.level,
        "state": order.state,
        "opened_at_ms": order.opened_at_ms,
        "deadline_ms": order.deadline_ms,
        "breach_count": order.breach_count,
        "breach_rate": order.breach_rate,
        "examples": list(order.examples),
        "evidence": order.evidence,
        "updated_at_ms": order.updated_at_ms,
    }


def _named(ctx: WebContext, order: WorkOrder) -> dict[str, Any]:
    return {**_public(order), "name": ctx.directory.name(order.institution_id)}


def _visible(request: Request, session: Session, order_id: str) -> WorkOrder:
    """The order, when the caller may see it: for a contact, one of their institution's
    (any other, and one that does not exist, is refused alike)."""
    ctx = context(request)
    try:
        order = _store(ctx).get(order_id)
    except WorkOrderNotFoundError as exc:
        if is_contact(session):
            refuse(request, f"work order {order_id}")
        raise NotFoundError(
            f"no work order {order_id}; list them with /api/quality/orders"
        ) from exc
    except WorkOrderError as exc:
        raise _unavailable(exc) from exc
    if is_contact(session) and order.institution_id != session.institution_id:
        refuse(request, f"work order {order_id}")
    return order


@router.get("")
def orders(
    request: Request,
    session: Session = Access,
    institution: str = Query("", max_length=64, description="One institution id ('' for all)"),
    state: OrderState | None = None,
) -> dict[str, Any]:
    ctx = context(request)
    scope = scoped(request, session, institution)
    viewed(request, f"work orders {scope or 'all institutions'} {state or ''}".rstrip())
    try:
        found = _store(ctx).list(institution_id=scope or None, states=[state] if state else None)
    except WorkOrderError as exc:
        raise _unavailable(exc) from exc
    if is_contact(session):  # the store filtered already; never trust one check alone
        found = [o for o in found if o.institution_id == scope]
    return {"orders": [_named(ctx, o) for o in found], "total": len(found)}


@router.get("/{order_id}")
def order(request: Request, order_id: str, session: Session = Access) -> dict[str, Any]:
    viewed(request, f"work order {order_id}")
    return {"order": _named(context(request), _visible(request, session, order_id))}


class ActionBody(BaseModel):
    note: str = Field(default="", max_length=500)


def _act(
    request: Request, session: Session, order_id: str, action: str, note: str
) -> dict[str, Any]:
    if not is_contact(session):
        viewed(request, f"work order {order_id} {action} (refused: not a contact)")
        raise HTTPException(403, NOT_A_CONTACT)
    _visible(request, session, order_id)
    viewed(request, f"work order {order_id} {action}")
    store = _store(context(request))
    change = store.acknowledge if action == "acknowledge" else store.report_fix
    try:
        changed = change(
            order_id, by=session.user, note=note, institution_id=session.institution_id
        )
    except (WorkOrderAccessError, WorkOrderNotFoundError):
        refuse(request, f"work order {order_id}")
    except WorkOrderStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    except WorkOrderError as exc:
        raise _unavailable(exc) from exc
    return {"order": _named(context(request), changed)}


@router.post("/{order_id}/acknowledge")
def acknowledge(
    request: Request, order_id: str, body: ActionBody, session: Session = Access
) -> dict[str, Any]:
    """The contact saw the order (open or escalated → acknowledged)."""
    return _act(request, session, order_id, "acknowledge", body.note)


@router.post("/{order_id}/fix")
def report_fix(
    request: Request, order_id: str, body: ActionBody, session: Session = Access
) -> dict[str, Any]:
    """The contact says the source is corrected (→ fix_reported); streamhub closes the order
    when the corrected records land passing."""
    return _act(request, session, order_id, "report fix", body.note)
