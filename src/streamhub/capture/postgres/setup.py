"""The idempotent set-up a PostgreSQL source needs before streaming: the connector's
publication and its logical replication slot, created or corrected by the log reader on
start. It raises ``PreflightError`` (or ``PositionLostError``) with the advice pre-flight
gives when it cannot proceed; ``identity_problem`` is that shared advice for a table.
"""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import PositionLostError, PreflightError, SourceUnavailableError
from streamhub.capture.postgres.catalog import find_table
from streamhub.capture.postgres.connection import fetch_one, qualified_tables, where
from streamhub.capture.postgres.pgoutput import parse_lsn
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger

log = get_logger(__name__)

SLOT_RELEASE_WAIT_S = 10.0  # a just-closed stream's walsender may hold the slot briefly
SLOT_POLL_S = 0.2


def identity_problem(
    cur: Cursor, schema: str, name: str, snapshot: bool = True
) -> tuple[str, str] | None:
    """Why the table cannot be captured and how to fix it, or None. Publishing a table
    without a replica identity makes every UPDATE and DELETE on it fail at the source."""
    table = f"{schema}.{name}"
    found = find_table(cur, schema, name)
    if found is None:
        return (
            f"table {table} does not exist (or is not an ordinary table)",
            f"create {table} or remove it from the connector's tables",
        )
    if found.replica_identity == "n":
        return (
            f"table {table} has REPLICA IDENTITY NOTHING: once published, UPDATE and DELETE "
            "on it would fail at the source",
            f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT (with a primary key) or FULL",
        )
    if found.primary_key:
        return None
    add_key = f"ALTER TABLE {table} ADD PRIMARY KEY (...)"
    if found.replica_identity == "f":
        if not snapshot:
            return None
        return (
            f"table {table} has no primary key; REPLICA IDENTITY FULL serves the log, "
            "but snapshots page by the primary key",
            f"{add_key}, or set snapshot.mode: never in the connector",
        )
    if found.replica_identity == "i":
        return f"table {table} has no primary key, which snapshots page by", add_key
    return (
        f"table {table} has no primary key: once published, UPDATE and DELETE on it "
        "would fail at the source",
        f"{add_key}; a table that cannot have one needs ALTER TABLE {table} REPLICA "
        "IDENTITY FULL and snapshot.mode: never",
    )


def ensure_publication(cur: Cursor, config: ConnectorConfig) -> None:
    """The publication covers exactly the connector's tables (created or altered)."""
    wanted = qualified_tables(config)
    snapshot = config.snapshot.mode != "never"
    problems = [p for s, n in wanted if (p := identity_problem(cur, s, n, snapshot))]
    if problems:
        text = "; ".join(f"{problem} (fix: {fix})" for problem, fix in problems)
        raise PreflightError(f"connector {config.name}: {text}")
    name = config.publication_name
    ident = sql.Identifier(name)
    tables = sql.SQL(", ").join(sql.Identifier(s, n) for s, n in wanted)
    cur.execute(
        "SELECT puballtables, pubinsert AND pubupdate AND pubdelete FROM pg_publication "
        "WHERE pubname = %s",
        (name,),
    )
    row = cur.fetchone()
    try:
        if row is None:
            cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(ident, tables))
            log.info("publication created", extra={"connector": config.name, "publication": name})
            return
        if row[0]:
            raise PreflightError(
                f"connector {config.name}: publication {name} is FOR ALL TABLES; give the "
                "connector its own (postgres: {publication: ...}) or drop that one"
            )
        if set(published_tables(cur, name)) != set(wanted):
            cur.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(ident, tables))
            log.info("publication tables set", extra={"connector": config.name, "tables": wanted})
        if not row[1]:
            cur.execute(
                sql.SQL(
                    "ALTER PUBLICATION {} SET (publish = 'insert, update, delete, truncate')"
                ).format(ident)
            )
    except psycopg2.errors.InsufficientPrivilege as exc:
        raise PreflightError(
            f"connector {config.name}: {config.connection.user} may not create or change "
            f"publication {name} ({str(exc).strip()}). As the tables' owner or a superuser run: "
            f"CREATE PUBLICATION {name} FOR TABLE {', '.join(f'{s}.{n}' for s, n in wanted)}"
        ) from exc


def published_tables(cur: Cursor, publication: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = %s",
        (publication,),
    )
    return [(str(s), str(t)) for s, t in cur.fetchall()]


def ensure_slot(
    cur: Cursor, config: ConnectorConfig, resume: str | None, clock: Clock = SYSTEM_CLOCK
) -> int:
    """The slot's confirmed position, creating the slot when there is none and nothing
    to resume. A missing slot with a stored position means the changes are gone."""
    slot = config.slot_name
    deadline = clock.monotonic() + SLOT_RELEASE_WAIT_S
    while True:
        row = slot_row(cur, slot)
        if row is None:
            if resume is not None:
                raise PositionLostError(
                    f"connector {config.name}: replication slot {slot} does not exist in "
                    f"{where(config)}, so changes after the stored position {resume} are gone. "
                    "Forget the connector's position to snapshot again"
                )
            try:
                cur.execute(
                    "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
                    (slot,),
                )
            except psycopg2.errors.DuplicateObject:
                continue  # another agent created it first: look again
            log.info("replication slot created", extra={"connector": config.name, "slot": slot})
            return parse_lsn(fetch_one(cur)[0])
        plugin, database, active_pid, confirmed, wal_status = row
        if plugin != "pgoutput" or database != config.connection.database:
            raise PreflightError(
                f"connector {config.name}: replication slot {slot} belongs to plugin {plugin} "
                f"in database {database}, not pgoutput in {config.connection.database}; "
                "name another slot (postgres: {slot: ...}) or drop that one"
            )
        if wal_status == "lost":
            raise PositionLostError(
                f"connector {config.name}: replication slot {slot} lost WAL it needed "
                "(max_slot_wal_keep_size); drop the slot and forget the connector's position "
                "to snapshot again"
            )
        if active_pid is None:
            return parse_lsn(confirmed)
        if clock.monotonic() > deadline:
            raise SourceUnavailableError(
                f"connector {config.name}: replication slot {slot} is in use by server process "
                f"{active_pid}; is another agent running this connector? Stop it, or end the "
                f"stream with SELECT pg_terminate_backend({active_pid})"
            )
        clock.sleep(SLOT_POLL_S)


def slot_row(cur: Cursor, slot: str) -> tuple[Any, ...] | None:
    cur.execute(
        "SELECT plugin, database, active_pid, confirmed_flush_lsn::text, wal_status "
        "FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    )
    row: tuple[Any, ...] | None = cur.fetchone()
    return row
