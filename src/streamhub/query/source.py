"""Where read-only queries go: straight to ClickHouse, or through the lander that owns chDB."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from streamhub.config import Settings
from streamhub.query.errors import QueryRefusedError, QueryUnavailableError
from streamhub.query.values import json_rows
from streamhub.sink.clickhouse import Failure, classify, connect
from streamhub.sink.errors import SinkError

DEFAULT_TIMEOUT_S = 15.0
_READONLY = 164  # transient for the lander (a replica recovering), a refusal for a reader


class QuerySource(Protocol):
    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The result rows as column → JSON-native value."""
        ...

    def close(self) -> None: ...


class DirectQueries:
    """Queries on a clickhouse-connect client this process may open (a server, or chDB here)."""

    def __init__(self, client: Client, settings: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.settings = dict(settings or {})

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self.client.query(
                sql, parameters=dict(parameters or {}), settings=self.settings or None
            )
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if classify(exc) is Failure.TRANSIENT and getattr(exc, "code", None) != _READONLY:
                raise QueryUnavailableError(f"ClickHouse is unavailable: {detail}") from exc
            raise QueryRefusedError(f"query refused: {detail}") from exc
        return json_rows(list(result.column_names), list(result.result_rows))

    def close(self) -> None:
        self.client.close()


class LanderQueries:
    """Queries sent to the lander's read-only endpoint (``streamhub land --query-port``)."""

    def __init__(
        self, url: str, token: Callable[[], str], timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url.rstrip("/") + "/query"
        self._token = token
        self.timeout_s = timeout_s

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        body = json.dumps({"sql": sql, "parameters": dict(parameters or {})},
                          default=_parameter).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is configuration, http(s) only
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self._token()}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if exc.code in (502, 503, 504):
                raise QueryUnavailableError(f"lander query endpoint {self.url}: {detail}") from exc
            raise QueryRefusedError(f"lander query endpoint {self.url}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise QueryUnavailableError(
                f"cannot reach the lander's query endpoint {self.url} ({reason}); is "
                "`streamhub land --query-port` running?"
            ) from exc
        return list(answer["rows"])

    def close(self) -> None:
        """Nothing held between requests."""


def _parameter(value: Any) -> str:
    """Dates, times and decimals travel as the text ClickHouse parses for {name:Type}."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | Decimal):
        return str(value)
    raise TypeError(f"query parameter of type {type(value).__name__} cannot be sent")


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["detail"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {exc.code}"


def query_token(settings: Settings) -> Callable[[], str]:
    """The endpoint's token, read once when first needed (the lander may create it after we
    start), then kept: dashboards query every few seconds."""
    path = settings.query_token_file or settings.secrets_dir / "query_token"
    known: list[str] = []

    def token() -> str:
        if settings.query_token is not None:
            return settings.query_token.get_secret_value()
        if not known:
            try:
                known.append(path.read_text().strip())
            except OSError as exc:
                raise QueryUnavailableError(
                    f"no query token at {path}: start the lander with --query-port (it creates "
                    "one) or set STREAMHUB_QUERY_TOKEN"
                ) from exc
        return known[0]

    return token


def open_query_source(settings: Settings) -> QuerySource:
    """Through the lander for embedded chDB (one process may open it; it reads its own
    database), else straight to settings.clickhouse_database on the server."""
    if settings.clickhouse_dsn.startswith("chdb:"):
        return LanderQueries(settings.query_url, query_token(settings))
    try:
        client = connect(settings.clickhouse_dsn, settings.clickhouse_database, readonly=True)
    except SinkError as exc:
        raise QueryUnavailableError(str(exc)) from exc
    return DirectQueries(client)
