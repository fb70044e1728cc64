"""The audit trail: one JSON line per page and API request, and an ``audit`` log event.

Who (user, role — null when not signed in), when, what (method, path, query string, what
was viewed) and the answer's status, including refused requests and failed sign-ins.
Never a password, a cookie or a request body. Static assets and the charting library are
not audited: they say nothing about what a user looked at.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamhub.log import get_logger
from streamhub.web.auth import SessionStore

log = get_logger(__name__)

SESSION_COOKIE = "streamhub_session"
UNAUDITED_PREFIXES = ("/static/", "/vendor/", "/favicon.ico")


class AuditTrail:
    """Appends audit records to a JSON-lines file (one writer per process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(line)
            except OSError as exc:  # the request was served; say loudly that it went unrecorded
                log.error(
                    "audit record not written", extra={"file": str(self.path), "error": str(exc)}
                )
        log.info("audit", extra=entry)


def session_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(SESSION_COOKIE)
            if morsel is not None:
                return morsel.value
    return None


class AuditMiddleware:
    """ASGI middleware: routes put ``user``/``role``/``viewed`` into ``request.state``."""

    def __init__(
        self,
        app: ASGIApp,
        trail: AuditTrail,
        sessions: SessionStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.trail = trail
        self.sessions = sessions
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNAUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started_ms = int(self.clock() * 1000)
        status = 500  # what the client gets when the app fails before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.trail.record(self._entry(scope, path, status, started_ms))

    def _entry(self, scope: Scope, path: str, status: int, ts_ms: int) -> dict[str, Any]:
        state: dict[str, Any] = scope.get("state") or {}
        user, role = state.get("user"), state.get("role")
        if user is None:
            session = self.sessions.peek(session_token(scope))
            if session is not None:
                user, role = session.user, session.role
        query = scope.get("query_string", b"").decode("latin-1")
        return {
            "ts_ms": ts_ms,
            "user": user,
            "role": role,
            "method": scope.get("method"),
            "path": path,
            "query": query or None,
            "status": status,
            "viewed": state.get("viewed") or path,
        }
