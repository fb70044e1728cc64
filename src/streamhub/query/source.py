"""Where named queries go: straight to ClickHouse, or through the lander that owns chDB."""

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
from streamhub.land.clickhouse import Failure, classify
from streamhub.query.catalog import CATALOG
from streamhub.query.errors import (
    QueryBusyError,
    QueryParameterError,
    QueryRefusedError,
    QueryUnavailableError,
    UnknownQueryError,
)
from streamhub.query.named import Catalog
from streamhub.query.reader import open_reader
from streamhub.query.token import query_token
from streamhub.query.values import json_rows

DEFAULT_TIMEOUT_S = 15.0
_REFUSALS: dict[str | None, type[QueryRefusedError]] = {
    "unknown_query": UnknownQueryError,
    "parameter": QueryParameterError,
}
_READONLY = 164  # transient for the lander (a replica recovering), a refusal for a reader


class QuerySource(Protocol):
    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of the named query (:mod:`.catalog`) as column → JSON-native value."""
        ...

    def close(self) -> None: ...


class DirectQueries:
    """Named queries on a clickhouse-connect client this process may open (a server, or
    chDB here). The parameters are checked against the catalog before anything runs."""

    def __init__(self, client: Client, catalog: Catalog = CATALOG) -> None:
        self.client = client
        self.catalog = catalog

    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        query, bound = self.catalog.bind(name, parameters)
        try:
            result = self.client.query(query.sql, parameters=bound)
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if classify(exc) is Failure.TRANSIENT and getattr(exc, "code", None) != _READONLY:
                raise QueryUnavailableError(f"ClickHouse is unavailable: {detail}") from exc
            raise QueryRefusedError(f"query {name} refused: {detail}") from exc
        return json_rows(list(result.column_names), list(result.result_rows))

    def close(self) -> None:
        self.client.close()


class LanderQueries:
    """Named queries sent to the lander's endpoint (``streamhub land --query-port``) as
    ``{"query": name, "parameters": {...}}``; the lander checks them against its catalog."""

    def __init__(
        self, url: str, token: Callable[[], str], timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url.rstrip("/") + "/query"
        self._token = token
        self.timeout_s = timeout_s

    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        body = json.dumps(
            {"query": name, "parameters": dict(parameters or {})}, default=_parameter
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is configuration, http(s) only
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._token()}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail, kind = _detail(exc)
            if exc.code == 503:
                raise QueryBusyError(f"lander query endpoint {self.url}: {detail}") from exc
            if exc.code in (502, 504):
                raise QueryUnavailableError(f"lander query endpoint {self.url}: {detail}") from exc
            refusal = _REFUSALS.get(kind, QueryRefusedError)
            raise refusal(f"lander query endpoint {self.url}: {detail}") from exc
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


def _detail(exc: urllib.error.HTTPError) -> tuple[str, str | None]:
    """The endpoint's explanation and the kind of refusal (see service.error_kind)."""
    try:
        answer = json.loads(exc.read())
        return str(answer["detail"]), answer.get("error")
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return f"HTTP {exc.code}", None


def open_query_source(settings: Settings) -> QuerySource:
    """Through the lander for embedded chDB (one process may open it; it reads its own
    database), else straight to settings.clickhouse_database on the server with the same
    read-only, limited client the lander reads with."""
    if settings.clickhouse_dsn.startswith("chdb:"):
        return LanderQueries(settings.query_url, query_token(settings))
    return DirectQueries(open_reader(settings.clickhouse_dsn, settings.clickhouse_database))
