"""Named read-only queries for processes that do not own the engine.

The embedded chDB engine may be opened by one process only, the lander; it serves a query
endpoint (:mod:`.service`, ``streamhub land --query-port``) that runs the named queries of
:mod:`.catalog` and nothing else. Readers (the web app, the CLI, tests) take a
:class:`QuerySource` from :func:`open_query_source` and ``run(name, parameters)``: through
that endpoint for a ``chdb://`` DSN, straight to the server for an ``http(s)://`` one. Both
give the same JSON-native values (:mod:`.values`).
"""

from streamhub.query.catalog import CATALOG
from streamhub.query.errors import (
    QueryBusyError,
    QueryError,
    QueryParameterError,
    QueryRefusedError,
    QueryTokenError,
    QueryUnavailableError,
    UnknownQueryError,
)
from streamhub.query.named import Catalog, NamedQuery, Param
from streamhub.query.source import DirectQueries, LanderQueries, QuerySource, open_query_source

__all__ = [
    "CATALOG",
    "Catalog",
    "DirectQueries",
    "LanderQueries",
    "NamedQuery",
    "Param",
    "QueryBusyError",
    "QueryError",
    "QueryParameterError",
    "QueryRefusedError",
    "QuerySource",
    "QueryTokenError",
    "QueryUnavailableError",
    "UnknownQueryError",
    "open_query_source",
]
