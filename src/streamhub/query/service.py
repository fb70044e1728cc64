"""The lander's query endpoint: how other processes read an embedded chDB engine.

chDB can be opened by one process only, and the lander must own it to insert. It therefore
answers ``POST /query`` ``{"query": name, "parameters": {...}}`` with ``{"rows": [...]}`` on
127.0.0.1, behind a bearer token from the local stack's secrets. It runs named queries of its
catalog only (:mod:`.catalog`), never SQL from the request: an unknown name, an undeclared
parameter or one of the wrong type is refused (400) before anything reaches ClickHouse.

Bounds, so one caller cannot stall the others: each reading client (:mod:`.reader`; limits
fixed on its session, ``readonly=1``) serves one query at a time and a request waits at most
:data:`BUSY_WAIT_S` for a free one (else 503 with ``Retry-After``); at most
:data:`MAX_CONNECTIONS` connections are served at once (others are answered 503 and closed);
a connection that sends nothing for :data:`READ_TIMEOUT_S` is closed; a body must declare
its ``Content-Length`` (at most :data:`MAX_BODY_BYTES`) and is never read beyond it.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streamhub.query.errors import (
    QueryBusyError,
    QueryParameterError,
    QueryRefusedError,
    QueryUnavailableError,
    UnknownQueryError,
)
from streamhub.query.named import Catalog
from streamhub.query.reader import open_reader
from streamhub.query.source import DirectQueries
from streamhub.query.token import checked_token

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 << 10  # a name and a few parameters
MAX_CONNECTIONS = 32
READ_TIMEOUT_S = 10.0
BUSY_WAIT_S = 0.5
DEFAULT_READERS = 4  # concurrent queries; the machine's cores bound the useful number
_FIELDS = frozenset({"query", "parameters"})
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\n"
    b'{"detail": "too many connections to the query endpoint; try again"}'
)


class QueryService:
    """Serves the named queries of ``readers`` (one query at a time each) at
    ``host``:``port`` in a daemon thread."""

    def __init__(
        self, readers: Sequence[DirectQueries], token: str, port: int, host: str = "127.0.0.1"
    ) -> None:
        if not readers:
            raise ValueError("a query service needs at least one reading client")
        self._token = checked_token(token, "the lander's query_token secret").encode()
        self.catalog: Catalog = readers[0].catalog
        self.readers = list(readers)
        self._idle: queue.SimpleQueue[DirectQueries] = queue.SimpleQueue()
        for reader in readers:
            self._idle.put(reader)
        self.server = _BoundedServer((host, port), _handler_for(self))
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="query-service", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("query endpoint serving", extra={"port": self.port, "readers": len(self.readers)})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for reader in self.readers:
            reader.close()

    def authorized(self, header: str | None) -> bool:
        given = (header or "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(given, self._token)

    def answer(self, body: bytes) -> dict[str, Any]:
        name, parameters = _request(body)
        self.catalog.bind(name, parameters)  # refused here, before taking a reading slot
        try:
            reader = self._idle.get(timeout=BUSY_WAIT_S)
        except queue.Empty:
            raise QueryBusyError(
                f"all {len(self.readers)} reading slots are busy; try again in a moment"
            ) from None
        try:
            return {"rows": reader.run(name, parameters)}
        finally:
            self._idle.put(reader)


def error_kind(exc: QueryRefusedError) -> str:
    """The refusal's kind on the wire, so a reader raises the same exception type."""
    if isinstance(exc, UnknownQueryError):
        return "unknown_query"
    return "parameter" if isinstance(exc, QueryParameterError) else "refused"


def _request(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        request = json.loads(body)
    except ValueError as exc:
        raise QueryRefusedError(f"the body is not JSON: {exc}") from exc
    shape = 'expected {"query": "<registered name>", "parameters": {...}}'
    if not isinstance(request, dict):
        raise QueryRefusedError(shape)
    unknown = sorted(set(request) - _FIELDS)
    if unknown:
        raise QueryRefusedError(
            f"unknown field {', '.join(unknown)[:80]}: this endpoint runs named queries only, "
            f"never SQL; {shape}"
        )
    name, parameters = request.get("query"), request.get("parameters", {})
    if not isinstance(name, str) or not isinstance(parameters, dict):
        raise QueryRefusedError(shape)
    return name, parameters


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most :data:`MAX_CONNECTIONS` at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _handler_for(service: QueryService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S  # on the socket: a silent or slow client is dropped

        def do_POST(self) -> None:
            if self.path != "/query":
                self._send(HTTPStatus.NOT_FOUND, {"detail": "POST /query"})
                return
            if not service.authorized(self.headers.get("Authorization")):
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    {"detail": "missing or wrong bearer token (the lander's query_token secret)"},
                )
                return
            length = self._length()
            if length is None:
                return
            try:
                body = self.rfile.read(length)
            except OSError:  # TimeoutError included: the socket's read timeout
                self.close_connection = True
                return
            try:
                self._send(HTTPStatus.OK, service.answer(body))
            except QueryRefusedError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"detail": str(exc), "error": error_kind(exc)})
            except QueryBusyError as exc:
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"detail": str(exc)}, {"Retry-After": "1"}
                )
            except QueryUnavailableError as exc:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"detail": str(exc)})

        def _length(self) -> int | None:
            """The declared body length, or None once a refusal was sent."""
            declared = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or declared is None:
                self._send(
                    HTTPStatus.LENGTH_REQUIRED,
                    {"detail": "send the body with a Content-Length (no chunked bodies)"},
                )
                return None
            declared = declared.strip()
            if not (declared.isascii() and declared.isdigit()):
                self._send(
                    HTTPStatus.BAD_REQUEST,
                    {"detail": "Content-Length must be a non-negative integer"},
                )
                return None
            if int(declared) > MAX_BODY_BYTES:
                self._send(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"detail": f"request larger than {MAX_BODY_BYTES} bytes"},
                )
                return None
            return int(declared)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(HTTPStatus.OK, {"ok": True})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"detail": "POST /query"})

        def _send(
            self, status: HTTPStatus, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            if status >= 400:
                self.close_connection = True  # a refused body may still be unread
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are not logged one by one (dashboards poll every few seconds)."""

    return Handler


def open_readers(dsn: str, database: str, count: int = DEFAULT_READERS) -> list[DirectQueries]:
    """``count`` reading clients on the lander's database (each its own chDB handle)."""
    readers: list[DirectQueries] = []
    try:
        for _ in range(count):
            readers.append(DirectQueries(open_reader(dsn, database)))
    except Exception:
        for reader in readers:
            reader.close()
        raise
    return readers
