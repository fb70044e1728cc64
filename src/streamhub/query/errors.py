"""Errors of reading ClickHouse through :mod:`streamhub.query`."""

from __future__ import annotations

from streamhub.errors import ConfigError, StreamhubError


class QueryError(StreamhubError):
    """A read-only query could not be answered."""


class QueryUnavailableError(QueryError):
    """ClickHouse (or the lander that owns the embedded engine) cannot be reached now."""


class QueryBusyError(QueryUnavailableError):
    """Every reading slot of the endpoint is taken; try again in a moment."""


class QueryRefusedError(QueryError):
    """The query itself was refused: bad SQL, a write, a wrong token. Retrying will not help."""


class UnknownQueryError(QueryRefusedError):
    """No named query of that name: the endpoint answers registered queries only."""


class QueryParameterError(QueryRefusedError):
    """A parameter that the named query does not declare, or not of its declared type."""


class QueryTokenError(QueryError, ConfigError):
    """The query endpoint's bearer token is missing, empty or too short to be a secret."""
