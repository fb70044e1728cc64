"""The lander's read-only query endpoint: how other processes read an embedded chDB engine.

chDB can be opened by one process only, and the lander must own it to insert. It therefore
answers ``POST /query`` ``{"sql", "parameters"}`` with ``{"columns", "rows"}`` on 127.0.0.1,
from a client of its own opened read-only (writes are refused by ClickHouse, not by parsing
SQL here), behind a bearer token from the local stack's secrets. Parameters bind server-side
(``{name:Type}``), never by string formatting.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streamhub.query.errors import QueryRefusedError, QueryUnavailableError
from streamhub.query.source import DirectQueries

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
# Per-query guards; the read-only client keeps them on its session.
QUERY_SETTINGS = {"max_result_rows": 200_000, "result_overflow_mode": "throw",
                  "max_execution_time": 30}


class QueryService:
    """Serves read-only queries on ``queries`` at 127.0.0.1:``port`` in a daemon thread."""

    def __init__(self, queries: DirectQueries, token: str, port: int,
                 host: str = "127.0.0.1") -> None:
        self.queries = queries
        self._token = token.encode()
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="query-service",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("query endpoint serving", extra={"port": self.port})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.queries.close()

    def authorized(self, header: str | None) -> bool:
        given = (header or "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(given, self._token)

    def answer(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body)
        except ValueError as exc:
            raise QueryRefusedError(f"the body is not JSON: {exc}") from exc
        sql = request.get("sql") if isinstance(request, dict) else None
        parameters = request.get("parameters") or {} if isinstance(request, dict) else None
        if not isinstance(sql, str) or not sql.strip() or not isinstance(parameters, dict):
            raise QueryRefusedError('expected {"sql": "<SELECT ...>", "parameters": {...}}')
        started = time.monotonic()
        rows = self.queries.rows(sql, parameters)
        log.debug("query answered", extra={"rows": len(rows),
                                           "ms": round((time.monotonic() - started) * 1000)})
        return {"rows": rows}


def _handler_for(service: QueryService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/query":
                self._send(HTTPStatus.NOT_FOUND, {"detail": "POST /query"})
                return
            if not service.authorized(self.headers.get("Authorization")):
                self._send(HTTPStatus.UNAUTHORIZED, {
                    "detail": "missing or wrong bearer token (the lander's query_token secret)"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": "request too large"})
                return
            try:
                self._send(HTTPStatus.OK, service.answer(self.rfile.read(length)))
            except QueryRefusedError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
            except QueryUnavailableError as exc:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"detail": str(exc)})

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(HTTPStatus.OK, {"ok": True})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"detail": "POST /query"})

        def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are not logged one by one (dashboards poll every few seconds)."""

    return Handler
