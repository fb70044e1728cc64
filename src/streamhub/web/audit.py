"""The audit trail: one JSON line per page and API request, and an ``audit`` log event.

Who (user, role — null when not signed in; the client address and user agent), when, what
(method, path, query string, what was viewed) and the answer's status, including refused
requests and failed sign-ins. Never a password, a cookie or a request body. The record is
written before the answer starts: when it cannot be written, the request is answered 503
and nothing is served (an unrecorded view is not allowed). Static assets and the charting
library are not audited: they say nothing about what a user looked at.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.log import get_logger
from streamhub.web.auth import SessionStore
from streamhub.web.errors import AuditWriteError

log = get_logger(__name__)

SESSION_COOKIE = "streamhub_session"
UNAUDITED_PREFIXES = ("/static/", "/vendor/", "/favicon.ico")
USER_AGENT_MAX = 200
AUDIT_FAILED = b'{"detail":"audit trail unavailable: the request was not served"}'


class AuditTrail:
    """Appends audit records to a JSON-lines file (one writer per process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, entry: dict[str, Any]) -> None:
        """Append ``entry``; :class:`AuditWriteError` when the file cannot be written."""
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(line)
            except OSError as exc:
                log.error(
                    "audit record not written", extra={"file": str(self.path), "error": str(exc)}
                )
                raise AuditWriteError(
                    f"cannot append to the audit trail {self.path}: {exc.strerror or exc}"
                ) from exc
        log.info("audit", extra=entry)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def user_agent(scope: Scope) -> str | None:
    """The User-Agent, printable characters only, at most ``USER_AGENT_MAX`` of them."""
    agent = header(scope, b"user-agent")
    if agent is None:
        return None
    return "".join(c if c.isprintable() else "?" for c in agent[:USER_AGENT_MAX])


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


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
        clock: Clock = SYSTEM_CLOCK,
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
        started_ms = now_ms(self.clock)
        recorded = refused = False

        async def recording_send(message: Message) -> None:
            nonlocal recorded, refused
            if refused:
                return  # the audit write failed: nothing of the answer goes out
            if message["type"] == "http.response.start":
                recorded = True
                try:
                    self.trail.record(self._entry(scope, path, int(message["status"]), started_ms))
                except AuditWriteError:
                    refused = True
                    await _refuse(send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not recorded:  # the app failed before answering: the client gets a 500
                # already failing; the error log says when this record is missing too
                with contextlib.suppress(AuditWriteError):
                    self.trail.record(self._entry(scope, path, 500, started_ms))

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
            "client": client_address(scope),
            "user_agent": user_agent(scope),
        }


async def _refuse(send: Send) -> None:
    await send({
        "type": "http.response.start",
        "status": 503,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(AUDIT_FAILED)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": AUDIT_FAILED})
