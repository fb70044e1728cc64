"""Pre-flight checks of a PostgreSQL source for log-based capture.

Checks never raise for a source problem: each becomes a ``CheckResult`` with a
fix an operator can apply. The set-up the log reader runs on start (``setup``)
raises ``PreflightError`` with the same advice when it cannot proceed.
"""

from __future__ import annotations

import contextlib

import psycopg2
from psycopg2.extensions import cursor as Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CheckResult
from streamhub.capture.errors import CaptureError
from streamhub.capture.postgres.connection import (
    connect,
    connect_replication,
    fetch_one,
    qualified_tables,
    translated,
    where,
)
from streamhub.capture.postgres.setup import identity_problem, published_tables, slot_row

MIN_SERVER_VERSION = 140000  # pgoutput's `messages` option (snapshot watermarks)

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


def _setting(cur: Cursor, name: str) -> str:
    cur.execute("SELECT setting FROM pg_settings WHERE name = %s", (name,))
    return str(fetch_one(cur)[0])


def _server(cur: Cursor) -> list[CheckResult]:
    version = int(_setting(cur, "server_version_num"))
    wal_level = _setting(cur, "wal_level")
    cur.execute("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    may_replicate = bool(fetch_one(cur)[0])
    cur.execute("SELECT current_user::text")
    user = fetch_one(cur)[0]
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


def _slot_checks(cur: Cursor, config: ConnectorConfig) -> list[CheckResult]:
    slot = config.slot_name
    row = slot_row(cur, slot)
    if row is None:
        max_slots = int(_setting(cur, "max_replication_slots"))
        cur.execute("SELECT count(*) FROM pg_replication_slots")
        used = int(fetch_one(cur)[0])
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


def _table_checks(cur: Cursor, config: ConnectorConfig) -> list[CheckResult]:
    snapshot = config.snapshot.mode != "never"
    out = []
    for schema, name in qualified_tables(config):
        problem = identity_problem(cur, schema, name, snapshot)
        if problem is None:
            out.append(CheckResult(f"table {schema}.{name}", True, "exists, has a key"))
        else:
            out.append(CheckResult(f"table {schema}.{name}", False, problem[0], fix=problem[1]))
    return out


def _publication(cur: Cursor, config: ConnectorConfig) -> CheckResult:
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
    superuser = bool(fetch_one(cur)[0])
    cur.execute(
        "SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS w(s, n) "
        "JOIN pg_namespace ns ON ns.nspname = w.s "
        "JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = w.n "
        "WHERE NOT pg_has_role(c.relowner, 'USAGE')",
        ([s for s, _ in wanted], [n for _, n in wanted]),
    )
    owns_tables = superuser or int(fetch_one(cur)[0]) == 0
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
        may = owns_tables and bool(fetch_one(cur)[0])
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


def _retention(cur: Cursor) -> list[CheckResult]:
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
