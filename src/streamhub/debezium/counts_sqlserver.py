"""Source counts of a SQL Server source captured by Debezium, independent of Debezium.

SQL Server's CDC writes every captured change into the change table of its capture instance
(``cdc.<capture_instance>_CT``), and each transaction's commit time into
``cdc.lsn_time_mapping`` (``tran_end_time``, the server's local time). Counting the change
table by commit minute gives what the agent's log counts give for PostgreSQL and MySQL: per
table and minute, inserts, updates and deletes as the source holds them, whatever Debezium
did with them. ``__$operation``: 1 delete, 2 insert, 3 an update's before image (not
counted: one update is two rows), 4 an update's after image.

:func:`count_sql` renders the query (one per capture instance, bounded by commit time, the
``?`` placeholders of pyodbc / the mssql ODBC driver); :func:`source_counts_records` folds
its rows into ``ops.source_counts`` records (``avro_schemas/ops/source_counts.avsc``) named
as the normalizer names the tables (``database`` and ``schema.table``), so the reconciler
compares them with the landed counts of the same table. Times are converted to UTC in the
query (``AT TIME ZONE``, SQL Server 2016 and later) with the server's Windows time-zone name.

:class:`ChangeTableCounter` runs it (``streamhub debezium counts`` for a SQL Server file): every
pass counts the last ``lookback`` complete minutes of every table again, through a DB-API
connection (pyodbc and Microsoft's ODBC driver, installed by the operator), and each minute's
record is its whole total (latest wins), so late commits and a restarted counter need no
stored state; a counter down longer than the lookback leaves those minutes uncounted (run
once with a longer ``--lookback-minutes``).

Change tables are cleaned by SQL Server's CDC cleanup job (3 days by default): counts of a
minute must be read before its changes are cleaned. Not run against a server here (no SQL
Server on this machine): the query, the folding and the command's wiring down to the DB-API
cursor are unit-tested.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.counts import MINUTE_MS
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.topic_names import SOURCE_COUNTS
from streamhub.debezium.errors import DebeziumError
from streamhub.serde.avro_serde import AvroSerde

#: a capture instance name as SQL Server makes them (sysname; ``<schema>_<table>`` by default)
_INSTANCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_@#$]{0,99}$")
_TZ = re.compile(r"^[A-Za-z][A-Za-z0-9 .+\-()]{0,63}$")


_QUERY = """\
SELECT DATEDIFF_BIG(millisecond, '1970-01-01', w.minute_utc) AS window_start_ms,
       SUM(CASE WHEN w.op = 2 THEN 1 ELSE 0 END) AS inserts,
       SUM(CASE WHEN w.op = 4 THEN 1 ELSE 0 END) AS updates,
       SUM(CASE WHEN w.op = 1 THEN 1 ELSE 0 END) AS deletes
FROM (SELECT ct.__$operation AS op,
             DATEADD(minute, DATEDIFF(minute, 0, CAST(<commit_utc> AS datetime2)), 0)
               AS minute_utc
      FROM <ct> AS ct
      JOIN cdc.lsn_time_mapping AS m ON m.start_lsn = ct.__$start_lsn
      WHERE ct.__$operation IN (1, 2, 4)
        AND <commit_utc> >= ? AND <commit_utc> < ?) AS w
GROUP BY w.minute_utc
ORDER BY w.minute_utc"""


class CountQueryError(DebeziumError):
    """A name that cannot be put in the counting query as it is (capture instance, time zone)."""


class DriverMissingError(DebeziumError):
    """No SQL Server DB-API driver is installed where the counter runs."""


class Cursor(Protocol):
    """The DB-API cursor the counter needs (pyodbc's)."""

    def execute(self, sql: str, params: Sequence[Any]) -> Any: ...
    def fetchall(self) -> Sequence[Sequence[Any]]: ...
    def close(self) -> None: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...
    def close(self) -> None: ...


ODBC_DRIVER = "ODBC Driver 18 for SQL Server"


@dataclass(frozen=True, slots=True)
class CountedTable:
    """One captured table and its capture instance."""

    schema: str
    table: str
    capture_instance: str

    @classmethod
    def of(cls, name: str, capture_instance: str | None = None) -> CountedTable:
        """``schema.table`` (a bare name is in ``dbo``), capture instance ``schema_table``
        unless named."""
        schema, _, table = name.rpartition(".")
        schema = schema or "dbo"
        return cls(schema, table, capture_instance or f"{schema}_{table}")


def count_sql(table: CountedTable, server_time_zone: str = "China Standard Time") -> str:
    """The query counting ``table``'s changes per commit minute between two commit times
    (parameters: from and to, UTC ``datetime2``; rows: minute start as UTC epoch ms,
    inserts, updates, deletes)."""
    if not _INSTANCE.match(table.capture_instance):
        raise CountQueryError(
            f"capture instance {table.capture_instance!r} is not a plain SQL Server name; "
            "name it in the connector file's debezium.properties as created"
        )
    if not _TZ.match(server_time_zone):
        raise CountQueryError(
            f"time zone {server_time_zone!r} is not a Windows time-zone name "
            "(sys.time_zone_info lists them)"
        )
    # names checked above (_INSTANCE, _TZ); the commit times are bound parameters
    commit_utc = f"(m.tran_end_time AT TIME ZONE '{server_time_zone}' AT TIME ZONE 'UTC')"
    return _QUERY.replace("<ct>", f"cdc.[{table.capture_instance}_CT]").replace(
        "<commit_utc>", commit_utc
    )


def source_counts_records(
    config: ConnectorConfig,
    table: CountedTable,
    rows: Iterable[Sequence[Any]],
    emitted_ts_ms: int,
) -> list[dict[str, Any]]:
    """The ``ops.source_counts`` records of :func:`count_sql`'s rows for one table.

    Each minute's record carries the minute's whole total (latest wins downstream), so a
    minute counted again after late commits replaces the earlier record.
    """
    records = []
    for window_start_ms, inserts, updates, deletes in rows:
        start = int(window_start_ms)
        if start % MINUTE_MS:
            raise CountQueryError(f"window start {start} is not on a minute boundary")
        records.append(
            {
                "connector": config.name,
                "institution_id": config.institution_id,
                "system": config.system,
                "database": config.connection.database,
                "table": f"{table.schema}.{table.table}",
                "window_start_ms": start,
                "window_ms": MINUTE_MS,
                "inserts": int(inserts or 0),
                "updates": int(updates or 0),
                "deletes": int(deletes or 0),
                "snapshot_reads": 0,
                "row_count": None,
                "row_count_position": None,
                "emitted_ts_ms": emitted_ts_ms,
            }
        )
    return records


def record_key(record: dict[str, Any]) -> bytes:
    """The message key the agent gives a minute's counts (one key per table and minute)."""
    key = {
        "connector": record["connector"],
        "table": f"{record['database']}.{record['table']}",
        "window": record["window_start_ms"],
    }
    return json.dumps(key, sort_keys=True).encode()


def connection_string(config: ConnectorConfig, password: str, driver: str = ODBC_DRIVER) -> str:
    """The ODBC connection string of the connector file's database (TLS on, as the driver's
    default; ``database.trustServerCertificate`` from the file's Debezium properties)."""
    connection = config.connection
    properties = config.debezium.properties if config.debezium else {}
    trust = properties.get("database.trustServerCertificate", "false").lower() == "true"

    def braced(value: str) -> str:
        return "{" + value.replace("}", "}}") + "}"

    parts = {
        "DRIVER": braced(driver),
        "SERVER": f"{connection.host},{connection.port}",
        "DATABASE": braced(connection.database),
        "UID": braced(connection.user),
        "PWD": braced(password),
        "Encrypt": "yes",
        "TrustServerCertificate": "yes" if trust else "no",
        "ApplicationIntent": "ReadOnly",
    }
    return ";".join(f"{k}={v}" for k, v in parts.items())


def odbc_connect(config: ConnectorConfig, password: str) -> Connection:
    """A pyodbc connection to the connector file's database."""
    try:
        import pyodbc  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise DriverMissingError(
            f"{config.name}: counting SQL Server's change tables needs pyodbc and Microsoft's "
            f"'{ODBC_DRIVER}' where streamhub runs (pip install pyodbc; the driver from "
            "Microsoft's packages)"
        ) from None
    connection: Connection = pyodbc.connect(
        connection_string(config, password), autocommit=True, timeout=30
    )
    return connection


class ChangeTableCounter:
    """Counts one SQL Server connector's change tables, the last ``lookback_minutes`` complete
    minutes on each pass."""

    def __init__(
        self,
        config: ConnectorConfig,
        connect: Callable[[], Connection],
        *,
        server_time_zone: str = "China Standard Time",
        lookback_minutes: int = 10,
        grace_ms: int = 10_000,
    ) -> None:
        self.config = config
        self.connect = connect
        self.tables = [CountedTable.of(name) for name in config.tables]
        self.queries = [count_sql(t, server_time_zone) for t in self.tables]  # checked now
        self.lookback_ms = lookback_minutes * MINUTE_MS
        self.grace_ms = grace_ms  # commits stamped just before now may not be mapped yet

    def bounds(self, now_ms: int) -> tuple[datetime, datetime]:
        """[from, to): the complete minutes a pass counts (UTC, naive as ``datetime2``)."""
        end = now_ms - self.grace_ms
        end -= end % MINUTE_MS
        start = end - self.lookback_ms

        def utc(ms: int) -> datetime:
            return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)

        return utc(start), utc(end)

    def count(self, now_ms: int) -> list[dict[str, Any]]:
        """One pass: every table's minutes as ``ops.source_counts`` records."""
        start, end = self.bounds(now_ms)
        records: list[dict[str, Any]] = []
        with contextlib.closing(self.connect()) as connection:
            cursor = connection.cursor()
            try:
                for table, sql in zip(self.tables, self.queries, strict=True):
                    cursor.execute(sql, (start, end))
                    rows = cursor.fetchall()
                    records += source_counts_records(self.config, table, rows, now_ms)
            finally:
                cursor.close()
        return records


class CountsProducer:
    """Writes ``ops.source_counts`` records to Kafka, acknowledged before it returns."""

    def __init__(self, settings: Settings) -> None:
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        self.writer = self.serde.register(
            f"{SOURCE_COUNTS}-value",
            load_schema(settings.project_dir / "avro_schemas", "ops/source_counts.avsc"),
        )
        self.producer = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "linger.ms": 20}
        )

    def send(self, records: Sequence[dict[str, Any]]) -> None:
        failures: list[str] = []
        for record in records:
            self.producer.produce(
                SOURCE_COUNTS,
                self.serde.encode(self.writer, record),
                record_key(record),
                on_delivery=lambda err, _m: failures.append(str(err)) if err else None,
            )
        if records and self.producer.flush(30) > 0:
            raise DebeziumError("source counts not acknowledged by Kafka within 30 s")
        if failures:
            raise DebeziumError(f"source counts refused by Kafka: {failures[0]}")
