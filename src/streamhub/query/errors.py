"""Errors of reading ClickHouse through :mod:`streamhub.query`."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class QueryError(StreamhubError):
    """A read-only query could not be answered."""


class QueryUnavailableError(QueryError):
    """ClickHouse (or the lander that owns the embedded engine) cannot be reached now."""


class QueryRefusedError(QueryError):
    """The query itself was refused: bad SQL, a write, a wrong token. Retrying will not help."""
