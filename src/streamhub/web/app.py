"""The FastAPI app: pages, JSON API, audit trail; built around one :class:`QuerySource`."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from streamhub.anomaly.suppression_log import SUPPRESSIONS_TOPIC
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger
from streamhub.query import QueryRefusedError, QuerySource, QueryUnavailableError
from streamhub.web import catalog_api, console, dashboard, pages, quality, work_orders
from streamhub.web.audit import SESSION_COOKIE, AuditMiddleware, AuditTrail
from streamhub.web.auth import SESSION_MAX_S, Session, SessionStore, UserStore
from streamhub.web.context import WebContext, context, signed_in, viewed
from streamhub.web.errors import (
    BadParameterError,
    NotFoundError,
    ServiceUnavailableError,
    SignInBusyError,
)
from streamhub.web.headers import SecurityHeadersMiddleware
from streamhub.web.institutions import Directory
from streamhub.web.order_store import OrderStore
from streamhub.web.throttle import SignInThrottle

log = get_logger(__name__)

WRONG_LOGIN = "用户名或密码错误 (wrong user name or password)"


def create_app(
    settings: Settings,
    queries: QuerySource,
    *,
    clock: Clock = SYSTEM_CLOCK,
    directory: Directory | None = None,
    suppressions_topic: str = SUPPRESSIONS_TOPIC,
    throttle: SignInThrottle | None = None,
    session_max_s: float = SESSION_MAX_S,
    orders: Callable[[], OrderStore] | None = None,
) -> FastAPI:
    """The web app reading ClickHouse through ``queries`` (closed when the app shuts down)."""
    sessions = SessionStore(settings.web_session_minutes * 60, clock, session_max_s)
    trail = AuditTrail(settings.audit_log_path)

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        yield
        console.close_health(running.state.web)  # the kept health reader's consumer
        work_orders.close_store(running.state.web)  # its client, when it opened one
        queries.close()

    app = FastAPI(
        title="streamhub", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.web = WebContext(
        settings=settings,
        queries=queries,
        users=UserStore(settings.web_users_path),
        sessions=sessions,
        directory=directory or Directory.from_settings(settings),
        trail=trail,
        clock=clock,
        suppressions_topic=suppressions_topic,
        throttle=throttle or SignInThrottle(clock),
        orders=orders or work_orders.settings_store(settings, queries),
    )
    app.add_middleware(AuditMiddleware, trail=trail, sessions=sessions, clock=clock)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer, the audit's too
    _add_error_handlers(app)
    app.include_router(_session_router())
    app.include_router(dashboard.router)
    app.include_router(console.router)
    app.include_router(catalog_api.router)
    app.include_router(quality.router)
    app.include_router(work_orders.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), "static")
    return app


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


def _session_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.post("/login")
    def login(request: Request, credentials: Credentials, response: Response) -> dict[str, Any]:
        ctx = context(request)
        name = credentials.username
        client = request.client.host if request.client else "unknown"
        wait_s = ctx.throttle.admit(name, client)  # before any hash runs
        if wait_s > 0:
            viewed(request, f"sign-in refused for {name!r}: too many attempts")
            raise HTTPException(
                429,
                f"登录尝试过多，请 {math.ceil(wait_s)} 秒后再试 (too many failed sign-ins as "
                f"{name} or from this address: try again in {math.ceil(wait_s)} s)",
                headers={"Retry-After": str(math.ceil(wait_s))},
            )
        user = ctx.users.authenticate(name, credentials.password)
        if user is None:
            ctx.throttle.failed(name, client)
            viewed(request, f"sign-in refused for {name!r}")
            raise HTTPException(401, WRONG_LOGIN)
        ctx.throttle.succeeded(name, client)
        session = ctx.sessions.open(user.name, user.role, user.institution_id)
        request.state.user, request.state.role = user.name, user.role
        viewed(request, "sign-in")
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            path="/",
            secure=request.url.scheme == "https",  # behind TLS, never sent in clear
        )
        return {
            "user": user.name,
            "role": user.role,
            "pages": list(session.pages),
            **_bound(session),
            "expires_at_ms": int(ctx.sessions.expires_at(session) * 1000),
        }

    @router.post("/logout", status_code=204)
    def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        session = context(request).sessions.peek(token)
        if session is not None:
            request.state.user, request.state.role = session.user, session.role
        context(request).sessions.close(token)
        viewed(request, "sign-out")
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/me")
    def me(request: Request, session: Session = Depends(signed_in)) -> dict[str, Any]:  # noqa: B008
        viewed(request, "own session")
        return {
            "user": session.user,
            "role": session.role,
            "pages": list(session.pages),
            **_bound(session),
        }

    return router


def _bound(session: Session) -> dict[str, Any]:
    """An institution contact's institution (its own): the pages scope everything to it."""
    if session.institution_id is None:
        return {}
    return {"institution_id": session.institution_id}


def _add_error_handlers(app: FastAPI) -> None:
    def answer(status: int) -> Callable[[Request, Exception], JSONResponse]:
        def handler(request: Request, exc: Exception) -> JSONResponse:
            if status >= 500:
                log.warning("request failed", extra={"path": request.url.path, "error": str(exc)})
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handler

    app.add_exception_handler(BadParameterError, answer(400))
    app.add_exception_handler(NotFoundError, answer(404))
    app.add_exception_handler(ServiceUnavailableError, answer(503))
    app.add_exception_handler(SignInBusyError, _busy)
    app.add_exception_handler(QueryUnavailableError, answer(503))
    # a refused query is our bug, not the caller's: say what ClickHouse said
    app.add_exception_handler(QueryRefusedError, answer(500))
    app.add_exception_handler(RequestValidationError, _validation_error)


def _busy(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 list of errors as one readable sentence, e.g. ``query hours: …``."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = []
    for error in errors:
        where = " ".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        {"detail": "; ".join(parts) or "invalid request"},
        status_code=422,
    )
