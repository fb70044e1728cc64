"""One way to open ClickHouse, embedded (chDB) or a server, with the same code after it.

``connect`` returns a clickhouse-connect client whose inserts are synchronous
(``async_insert=0``: chDB defaults to asynchronous inserts, which would let the lander
commit offsets before the rows are stored). ClickHouse errors become land errors that
say whether waiting helps (:func:`classify`).
"""

from __future__ import annotations

import re
import struct
from enum import Enum
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, Error, OperationalError

from streamhub.land.errors import (
    ClickHouseQueryError,
    ClickHouseUnavailableError,
    EngineInUseError,
    LandError,
)
from streamhub.secrets_mask import mask_text, mask_url

# The std tables are partitioned by commit day (0007): a batch drained after a long outage may
# span over the default 100 partitions, refused as TOO_MANY_PARTS (transient: retried for
# ever). A batch is bounded by the lander's own size, so the limit is lifted (0: none).
# insert_distributed_sync (distributed_foreground_insert since 23.x, which keeps this name as
# an alias): an insert into a Distributed table (a cluster, docs/decisions/clickhouse-cluster.md)
# returns only once every shard stored its rows, not when they are queued on the node, so the
# lander commits offsets after the rows are stored. It does nothing to a MergeTree table.
SESSION_SETTINGS = {
    "async_insert": 0,
    "max_partitions_per_insert_block": 0,
    "insert_distributed_sync": 1,
}
# readonly=2: reads and per-query settings only. It must be a client of its own: with chDB a
# per-query readonly setting stays on that client's session and would fail its later inserts.
READONLY_SETTINGS = {"readonly": 2}
_UNKNOWN_DATABASE = 81
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Server codes after which the same statement can succeed later.
TRANSIENT_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE (connection cut)
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (a replica recovering)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS: merges are behind, back off
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        425,  # SYSTEM_ERROR
        999,  # KEEPER_EXCEPTION
    }
)
# Server codes that blame the inserted values: another row of the batch may be fine.
ROW_CODES = frozenset(
    {
        6,
        27,
        38,
        41,
        53,
        69,
        70,
        72,
        117,
        131,
        190,
        321,
        349,
        407,
        469,
        1001,
    }
)
# Client-side conversions (a Python value that does not fit the column type) fail with these.
ROW_EXCEPTIONS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    OverflowError,
    KeyError,
    struct.error,
    AttributeError,
)


class Failure(Enum):
    TRANSIENT = "transient"  # retry the same statement later
    ROW = "row"  # some rows of the batch are bad: isolate them
    FATAL = "fatal"  # table missing, bad SQL...: an operator must act


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, LandError):
        return Failure.TRANSIENT if exc.transient else Failure.FATAL
    if isinstance(exc, Error):
        if exc.code in TRANSIENT_CODES:
            return Failure.TRANSIENT
        if exc.code in ROW_CODES:
            return Failure.ROW
        if isinstance(exc, OperationalError) and exc.code is None:
            return Failure.TRANSIENT  # transport failure: no server answer at all
        return Failure.FATAL
    if isinstance(exc, ROW_EXCEPTIONS):
        return Failure.ROW
    return Failure.FATAL


def as_land_error(exc: Exception, what: str) -> LandError:
    """The land error for a failed ClickHouse call, with what we were doing; a refusal keeps
    the server's error code and symbolic name (``UNKNOWN_TABLE``…) as fields and in its
    message."""
    if isinstance(exc, LandError):
        return exc
    code = getattr(exc, "code", None)
    name = getattr(exc, "name", None) if isinstance(exc, Error) else None
    # a driver's message may quote the URL it used, credentials included
    text = mask_text(str(exc).strip())
    detail = text.splitlines()[0] if text else type(exc).__name__
    if classify(exc) is Failure.TRANSIENT:
        return ClickHouseUnavailableError(
            f"{what}: ClickHouse is unavailable or overloaded ({detail}); retry later"
        )
    if name and name not in detail:  # the name often ends a later line of the message
        detail = f"{detail} ({name})"
    return ClickHouseQueryError(f"{what}: {detail}", code, name)


def check_database_name(database: str) -> str:
    if not _DATABASE_NAME.match(database):
        raise ClickHouseQueryError(
            f"database name {database!r}: use letters, digits and underscores only"
        )
    return database


def connect(
    dsn: str, database: str | None = None, *, create: bool = False, readonly: bool = False
) -> Client:
    """A client on ``dsn`` (``chdb:///abs/path`` or ``http(s)://host:8123``) using ``database``.

    ``create`` creates the database first (migrations do; the lander expects it migrated).
    ``readonly`` refuses every write on this client (query endpoints, dashboards).
    """
    if database is not None:
        check_database_name(database)
    try:
        if create and database is not None:
            bootstrap = _open(dsn, None)
            try:
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            finally:
                bootstrap.close()
        return _open(dsn, database, READONLY_SETTINGS if readonly else SESSION_SETTINGS)
    except (ClickHouseError, OSError) as exc:
        if getattr(exc, "code", None) == _UNKNOWN_DATABASE:
            raise ClickHouseQueryError(
                f"database {database} does not exist on {mask_url(dsn)}; create it with "
                f"`streamhub clickhouse migrate --database {database}`",
                _UNKNOWN_DATABASE,
            ) from exc
        raise as_land_error(exc, f"connecting to {mask_url(dsn)} (database {database})") from exc


def _open(dsn: str, database: str | None, settings: dict[str, int] = SESSION_SETTINGS) -> Client:
    kwargs: dict[str, Any] = {"dsn": dsn, "settings": dict(settings)}
    if database is not None:
        kwargs["database"] = database
    try:
        return clickhouse_connect.get_client(**kwargs)
    except Error as exc:
        if dsn.startswith("chdb:") and "path" in str(exc).lower():
            raise EngineInUseError(
                f"{mask_url(dsn)}: this process already opened another chDB directory; chDB "
                "runs one embedded engine per process — use one path, or a ClickHouse server URL"
            ) from exc
        raise


def database_exists(client: Client, database: str) -> bool:
    rows = client.query(
        "SELECT count() FROM system.databases WHERE name = {db:String}", parameters={"db": database}
    ).result_rows
    return bool(rows[0][0])


def table_columns(client: Client, database: str, table: str) -> dict[str, str]:
    """Column name → type of one table (empty when the table does not exist)."""
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"db": database, "t": table},
    ).result_rows
    return {str(name): str(type_) for name, type_ in rows}
