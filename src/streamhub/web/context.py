"""What every route needs (settings, queries, sessions …) and the sign-in/role guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from streamhub.anomaly.suppression_log import SUPPRESSIONS_TOPIC
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.query import QuerySource
from streamhub.web.audit import SESSION_COOKIE, AuditTrail
from streamhub.web.auth import ROLE_PAGES, Session, SessionStore, UserStore, allowed
from streamhub.web.errors import ServiceUnavailableError
from streamhub.web.institutions import Directory
from streamhub.web.order_store import OrderStore
from streamhub.web.throttle import SignInThrottle

NOT_SIGNED_IN = (
    "未登录或会话已过期，请重新登录 (not signed in or the session expired: sign in again)"
)


@dataclass
class WebContext:
    settings: Settings
    queries: QuerySource
    users: UserStore
    sessions: SessionStore
    directory: Directory
    trail: AuditTrail
    clock: Clock = SYSTEM_CLOCK
    suppressions_topic: str = SUPPRESSIONS_TOPIC
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    # opens the work order store (web.work_orders.settings_store unless a test gives one)
    orders: Callable[[], OrderStore] = field(default=lambda: _no_orders())
    # mutable state shared by requests (the freshness fallback, the health cache)
    state: dict[str, Any] = field(default_factory=dict)

    def now_ms(self) -> int:
        return now_ms(self.clock)


def _no_orders() -> OrderStore:
    raise ServiceUnavailableError("this app was built without a work order store")


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def current_session(request: Request) -> Session | None:
    """The caller's session (its idle time restarted), recorded for the audit trail.

    A user removed from the users file, or given another role or institution, loses the
    session at once.
    """
    ctx = context(request)
    token = request.cookies.get(SESSION_COOKIE)
    session = ctx.sessions.touch(token)
    if session is not None:
        user = ctx.users.users().get(session.user)
        if (
            user is None
            or user.role != session.role
            or user.institution_id != session.institution_id
        ):
            ctx.sessions.close(token)
            return None
        request.state.user = session.user
        request.state.role = session.role
    return session


def forbidden_message(role: str, page: str) -> str:
    pages = ", ".join(ROLE_PAGES.get(role, ())) or "none"
    return f"无权访问：角色 {role} 不能打开 {page} (role {role} may open: {pages})"


def require(page: str) -> Callable[[Request], Session]:
    """A dependency: 401 when not signed in, 403 when the role may not open ``page``."""

    def guard(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise HTTPException(401, NOT_SIGNED_IN)
        if not allowed(session.role, page):
            raise HTTPException(403, forbidden_message(session.role, page))
        return session

    return guard


def signed_in(request: Request) -> Session:
    """A dependency: any signed-in user."""
    session = current_session(request)
    if session is None:
        raise HTTPException(401, NOT_SIGNED_IN)
    return session


def viewed(request: Request, what: str) -> None:
    """Say in the audit trail what the request showed."""
    request.state.viewed = what
