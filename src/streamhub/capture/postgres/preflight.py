"""What a PostgreSQL source needs for log-based capture: pre-flight checks, and the
idempotent set-up (publication, slot) the log reader runs on start.

Checks never raise for a source problem: each becomes a ``CheckResult`` with a
fix an operator can apply. The set-up raises ``PreflightError`` with the same
advice when it cannot proceed.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CheckResult
from streamhub.capture.errors import (
    CaptureError,
    PositionLostError,
    PreflightError,
    SourceUnavailableError,
)
from streamhub.capture.postgres.pgoutput import parse_lsn
from streamhub.capture.postgres.snapshot_reader import (
    connect,
    connect_replication,
    find_table,
    qualified_tables,
    translated,
    where,
)
from streamhub.log import get_logger

log = get_logger(__name__)

MIN_SERVER_VERSION = 140000  # pgoutput's `messages` option (snapshot watermarks)
SLOT_RELEASE_WAIT_S = 10.0  # a just-closed stream's walsender may hold the slot briefly

# --- shared with the log reader ---------------------------------------------------------


def identity_problem(
    cur: Any, schema: str, name: str, snapshot: bool = True
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


def ensure_publication(cur: Any, config: ConnectorConfig) -> None:
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


def published_tables(cur: Any, publication: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = %s",
        (publication,),
    )
    return [(str(s), str(t)) for s, t in cur.fetchall()]


def ensure_slot(cur: Any, config: ConnectorConfig, resume: str | None) -> int:
    """The slot's confirmed position, creating the slot when there is none and nothing
    to resume. A missing slot with a stored position means the changes are gone."""
    slot = config.slot_name
    deadline = time.monotonic() + SLOT_RELEASE_WAIT_S
    while True:
        row = _slot(cur, slot)
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
            return parse_lsn(cur.fetchone()[0])
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
        if time.monotonic() > deadline:
            raise SourceUnavailableError(
                f"connector {config.name}: replication slot {slot} is in use by server process "
                f"{active_pid}; is another agent running this connector? Stop it, or end the "
                f"stream with SELECT pg_terminate_backend({active_pid})"
            )
        time.sleep(0.2)


def _slot(cur: Any, slot: str) -> tuple[Any, ...] | None:
    cur.execute(
        "SELECT plugin, database, active_pid, confirmed_flush_lsn::text, wal_status "
        "FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    )
    row: tuple[Any, ...] | None = cur.fetchone()
    return row


# --- the checks --------------------------------------------------------------------------


def check(config: ConnectorConfig, password: str) -> list[CheckResult]:
    """Pre-flight checks of the source for this connector, each with its fix."""
    try:
        conn = connect(config, password)
    except CaptureError as exc:
        return [
            CheckResult(
                "connection",
                False,
                str(exc),
                fix=(
                    "check host, port, database, user and the password source in the connector "
                    "file, that the server is up, and that pg_hba.conf admits this client"
                ),
            )
        ]
    try:
        with translated(config, "pre-flight checks"), conn.cursor() as cur:
            return [
                CheckResult("connection", True, f"connected to {where(config)}"),
                *_server(cur),
                _replication_connection(config, password),
                *_slot_checks(cur, config),
                *_table_checks(cur, config),
                _publication(cur, config),
                *_retention(cur),
            ]
    except CaptureError as exc:
        return [CheckResult("pre-flight", False, str(exc), fix="see the error and rerun")]
    finally:
        conn.close()


def _setting(cur: Any, name: str) -> str:
    cur.execute("SELECT setting FROM pg_settings WHERE name = %s", (name,))
    return str(cur.fetchone()[0])


def _server(cur: Any) -> list[CheckResult]:
    version = int(_setting(cur, "server_version_num"))
    wal_level = _setting(cur, "wal_level")
    cur.execute("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    may_replicate = bool(cur.fetchone()[0])
    cur.execute("SELECT current_user::text")
    user = cur.fetchone()[0]
    return [
        CheckResult(
            "server version",
            version >= MIN_SERVER_VERSION,
            f"server_version_num = {version}",
            fix="upgrade to PostgreSQL 14 or later (pgoutput messages carry snapshot watermarks)",
        ),
        CheckResult(
            "wal_level",
            wal_level == "logical",
            f"wal_level = {wal_level}",
            fix="ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
        ),
        CheckResult(
            "replication privilege",
            may_replicate,
            f"role {user} {'may' if may_replicate else 'may not'} replicate",
            fix=f"ALTER ROLE {user} REPLICATION;",
        ),
    ]


def _replication_connection(config: ConnectorConfig, password: str) -> CheckResult:
    try:
        conn = connect_replication(config, password, "UTF8")
    except CaptureError as exc:
        return CheckResult(
            "replication connection",
            False,
            str(exc),
            fix=(
                f"pg_hba.conf must admit {config.connection.user} to database "
                f"{config.connection.database} from this host (logical replication connections "
                "match the database name, not the `replication` keyword), then "
                "SELECT pg_reload_conf(); also check max_wal_senders has room"
            ),
        )
    with contextlib.suppress(psycopg2.Error):
        conn.close()
    return CheckResult("replication connection", True, "a logical replication connection opened")


def _slot_checks(cur: Any, config: ConnectorConfig) -> list[CheckResult]:
    slot = config.slot_name
    row = _slot(cur, slot)
    if row is None:
        max_slots = int(_setting(cur, "max_replication_slots"))
        cur.execute("SELECT count(*) FROM pg_replication_slots")
        used = int(cur.fetchone()[0])
        return [
            CheckResult(
                "replication slots",
                used < max_slots,
                f"{used} of max_replication_slots = {max_slots} in use; "
                f"slot {slot} will be created",
                fix="raise max_replication_slots (needs a restart) or drop unused slots",
            )
        ]
    plugin, database, active_pid, _confirmed, wal_status = row
    problems = []
    if plugin != "pgoutput" or database != config.connection.database:
        problems.append(f"it is a {plugin} slot of database {database}")
    if active_pid is not None:
        problems.append(f"server process {active_pid} is streaming it")
    if wal_status == "lost":
        problems.append("it lost WAL it needed")
    return [
        CheckResult(
            f"slot {slot}",
            not problems,
            "; ".join(problems) or f"exists (pgoutput, {wal_status or 'ok'})",
            fix=(
                f"stop whatever streams slot {slot}, or name another slot in the connector "
                "(postgres: {slot: ...}); a lost or foreign slot must be dropped with "
                f"SELECT pg_drop_replication_slot('{slot}') and the connector re-snapshotted"
            ),
        )
    ]


def _table_checks(cur: Any, config: ConnectorConfig) -> list[CheckResult]:
    snapshot = config.snapshot.mode != "never"
    out = []
    for schema, name in qualified_tables(config):
        problem = identity_problem(cur, schema, name, snapshot)
        if problem is None:
            out.append(CheckResult(f"table {schema}.{name}", True, "exists, has a key"))
        else:
            out.append(CheckResult(f"table {schema}.{name}", False, problem[0], fix=problem[1]))
    return out


def _publication(cur: Any, config: ConnectorConfig) -> CheckResult:
    name = config.publication_name
    wanted = qualified_tables(config)
    create = f"CREATE PUBLICATION {name} FOR TABLE {', '.join(f'{s}.{n}' for s, n in wanted)}"
    cur.execute(
        "SELECT puballtables, pg_has_role(pubowner, 'USAGE') FROM pg_publication "
        "WHERE pubname = %s",
        (name,),
    )
    row = cur.fetchone()
    cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    superuser = bool(cur.fetchone()[0])
    cur.execute(
        "SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS w(s, n) "
        "JOIN pg_namespace ns ON ns.nspname = w.s "
        "JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = w.n "
        "WHERE NOT pg_has_role(c.relowner, 'USAGE')",
        ([s for s, _ in wanted], [n for _, n in wanted]),
    )
    owns_tables = superuser or int(cur.fetchone()[0]) == 0
    if row is not None and row[0]:
        return CheckResult(
            f"publication {name}",
            False,
            "it publishes ALL TABLES",
            fix="give the connector its own publication (postgres: {publication: ...})",
        )
    if row is not None and set(published_tables(cur, name)) == set(wanted):
        return CheckResult(f"publication {name}", True, "exists with the connector's tables")
    if row is None:
        cur.execute("SELECT has_database_privilege(current_database(), 'CREATE')")
        may = owns_tables and bool(cur.fetchone()[0])
        detail = (
            "missing; the agent will create it"
            if may
            else "missing, and the user may not create it"
        )
    else:
        may = owns_tables and (superuser or bool(row[1]))
        detail = (
            "lists other tables; the agent will set them"
            if may
            else "lists other tables, and the user may not change it"
        )
    return CheckResult(
        f"publication {name}",
        may,
        detail,
        fix=f"as the tables' owner or a superuser: {create} (or ALTER PUBLICATION ... SET TABLE)",
    )


def _retention(cur: Any) -> list[CheckResult]:
    keep = _setting(cur, "max_slot_wal_keep_size")
    timeout_ms = int(_setting(cur, "wal_sender_timeout"))
    return [
        CheckResult(
            "max_slot_wal_keep_size",
            keep != "-1",
            f"max_slot_wal_keep_size = {keep}{'' if keep == '-1' else ' MB'}",
            fix=(
                "a stalled connector makes the slot keep WAL without limit until the disk fills: "
                "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (what the disk can spare); "
                "SELECT pg_reload_conf()"
            ),
            severity="warning",
        ),
        CheckResult(
            "wal_sender_timeout",
            timeout_ms == 0 or timeout_ms >= 10_000,
            f"wal_sender_timeout = {timeout_ms} ms",
            fix=(
                "a short timeout drops the stream during pauses: ALTER SYSTEM SET "
                "wal_sender_timeout = '60s'; SELECT pg_reload_conf()"
            ),
            severity="warning",
        ),
    ]
