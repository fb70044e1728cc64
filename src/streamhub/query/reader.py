"""The lander's reading clients: read-only and limited in ways a query cannot lift.

``readonly=1`` (set last, after the limits) refuses writes, table functions (``file()``,
``url()``, ``remote()``, ``mysql()``, chDB's ``Python()``, …) and any change of a setting,
by ``SET`` or by a query's ``SETTINGS`` clause, so the limits below hold for every query. It
does not refuse ``INTO OUTFILE`` under chDB (checked with chdb 4.4); that is kept out by the
catalog, which registers plain SELECTs only (:mod:`.named`). Each client is a chDB connection
handle of its own: queries on different clients run concurrently in the one engine.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.errors import LandError
from streamhub.query.errors import QueryUnavailableError

MAX_EXECUTION_S = 10  # below the reader's HTTP timeout (source.DEFAULT_TIMEOUT_S)
READER_SETTINGS: dict[str, int | str] = {
    "max_execution_time": MAX_EXECUTION_S,
    "max_result_rows": 200_000,
    "result_overflow_mode": "throw",
    "max_memory_usage": 2 << 30,
    "allow_python_table_function": 0,  # chDB's Python(var): readonly=1 refuses it too
    "readonly": 1,  # last: after it no setting can change
}


def open_reader(dsn: str, database: str) -> Client:
    """A client on ``database`` with :data:`READER_SETTINGS` fixed on its session."""
    try:
        client = connect(dsn, database)
    except LandError as exc:
        raise QueryUnavailableError(str(exc)) from exc
    try:
        for key, value in READER_SETTINGS.items():
            client.set_client_setting(key, value)
    except Exception:
        client.close()
        raise
    return client
