"""Read-only ClickHouse queries for processes that do not own the engine.

The embedded chDB engine may be opened by one process only, the lander; it serves a
read-only query endpoint (:mod:`.service`, ``streamhub land --query-port``). Readers (the
web app, tests) take a :class:`QuerySource` from :func:`open_query_source`: through that
endpoint for a ``chdb://`` DSN, straight to the server for an ``http(s)://`` one. Both give
the same JSON-native values (:mod:`.values`).
"""

from streamhub.query.errors import QueryError, QueryRefusedError, QueryUnavailableError
from streamhub.query.source import DirectQueries, LanderQueries, QuerySource, open_query_source

__all__ = [
    "DirectQueries",
    "LanderQueries",
    "QueryError",
    "QueryRefusedError",
    "QuerySource",
    "QueryUnavailableError",
    "open_query_source",
]
