"""Pre-flight checks for a MySQL/MariaDB connector: binlog settings, GTIDs, grants, tables.

Each check says what it found and, when it fails, what the DBA should change. A connection
failure is one failed check (nothing else can be checked), never an exception.
"""

from __future__ import annotations

import contextlib
import re

import pymysql
from pymysql.cursors import Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CheckResult
from streamhub.capture.errors import SourceUnavailableError
from streamhub.capture.mysql.catalog import CatalogColumn, describe
from streamhub.capture.mysql.connection import connect, quote
from streamhub.capture.mysql.watermarks import WATERMARK_SCHEMA, WATERMARK_TABLE

_VARIABLES = (
    "version",
    "server_id",
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "binlog_row_metadata",
    "gtid_binlog_pos",
    "gtid_mode",
    "expire_logs_days",
    "binlog_expire_logs_seconds",
)
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<scope>\S+) TO ", re.DOTALL)
_DAY_S = 86400


def check(config: ConnectorConfig, password: str) -> list[CheckResult]:
    conn = config.connection
    try:
        connection = connect(config, password)
    except SourceUnavailableError as exc:
        return [
            CheckResult(
                "connection",
                False,
                str(exc),
                fix=f"check that {conn.host}:{conn.port} accepts TCP connections from this host "
                f"and that user {conn.user} and the connector's password source are right",
            )
        ]
    with contextlib.closing(connection), connection.cursor() as cur:
        try:
            return _checks(config, cur)
        except pymysql.MySQLError as exc:
            return [
                CheckResult(
                    "server queries",
                    False,
                    f"reading server settings failed: {exc}",
                    fix=f"let {conn.user} run SHOW VARIABLES and SHOW GRANTS, "
                    "and read information_schema",
                )
            ]


def _checks(config: ConnectorConfig, cur: Cursor) -> list[CheckResult]:
    placeholders = ", ".join(["%s"] * len(_VARIABLES))
    cur.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({placeholders})", _VARIABLES)
    variables = {str(name).lower(): str(value) for name, value in cur.fetchall()}
    mariadb = "mariadb" in variables.get("version", "").lower()
    cur.execute("SHOW GRANTS")
    grants = [str(row[0]) for row in cur.fetchall()]
    tables = {t: describe(cur, config.connection.database, t) for t in config.tables}
    watermarks_exist = bool(describe(cur, WATERMARK_SCHEMA, WATERMARK_TABLE))
    return [
        CheckResult("connection", True, f"{variables.get('version', '?')} answers"),
        _engine(config, variables, mariadb),
        *_binlog(variables),
        _gtid(variables, mariadb),
        _privileges(config, grants, mariadb, watermarks_exist),
        _retention(variables),
        _server_id(config, variables),
        *(_table(config, name, columns) for name, columns in tables.items()),
    ]


def _engine(config: ConnectorConfig, variables: dict[str, str], mariadb: bool) -> CheckResult:
    actual = "mariadb" if mariadb else "mysql"
    version = variables.get("version", "?")
    if actual == config.engine:
        return CheckResult("engine", True, f"server is {version}")
    return CheckResult(
        "engine",
        False,
        f"connector says {config.engine} but the server is {version}",
        fix=f"set engine: {actual} in connector {config.name} (GTIDs differ between the two)",
    )


def _binlog(variables: dict[str, str]) -> list[CheckResult]:
    log_bin = variables.get("log_bin", "OFF").upper() in ("ON", "1")
    results = [
        CheckResult(
            "log_bin",
            log_bin,
            f"log_bin={variables.get('log_bin', 'OFF')}",
            None if log_bin else "add log_bin=binlog to [mysqld] in my.cnf and restart the server",
        )
    ]
    for name in ("binlog_format", "binlog_row_image", "binlog_row_metadata"):
        want = "ROW" if name == "binlog_format" else "FULL"
        value = variables.get(name)
        if value is None:
            results.append(
                CheckResult(
                    name,
                    False,
                    f"the server has no {name} setting",
                    fix="upgrade to MariaDB ≥ 10.5 or MySQL ≥ 8.0.14, which log column names",
                )
            )
            continue
        ok = value.upper() == want
        fix = (
            f"SET GLOBAL {name}='{want}' and put {name}={want} in [mysqld] of my.cnf "
            "(sessions already connected keep the old value until they reconnect)"
        )
        results.append(CheckResult(name, ok, f"{name}={value}", None if ok else fix))
    return results


def _gtid(variables: dict[str, str], mariadb: bool) -> CheckResult:
    if mariadb:
        if "gtid_binlog_pos" not in variables:
            return CheckResult(
                "gtid",
                False,
                "@@gtid_binlog_pos is not readable",
                fix="use MariaDB ≥ 10.0.2 with log_bin on: positions are GTIDs",
            )
        position = variables["gtid_binlog_pos"] or "(empty: nothing logged yet)"
        return CheckResult("gtid", True, f"gtid_binlog_pos={position}")
    mode = variables.get("gtid_mode", "OFF").upper()
    ok = mode == "ON"
    fix = (
        "SET GLOBAL enforce_gtid_consistency=ON, then step gtid_mode through "
        "OFF_PERMISSIVE, ON_PERMISSIVE to ON (and put both in my.cnf)"
    )
    return CheckResult("gtid", ok, f"gtid_mode={mode}", None if ok else fix)


def _retention(variables: dict[str, str]) -> CheckResult:
    seconds = float(variables.get("binlog_expire_logs_seconds") or 0)
    if seconds == 0:
        seconds = float(variables.get("expire_logs_days") or 0) * _DAY_S
    if seconds == 0:
        return CheckResult("binlog retention", True, "binlogs are never purged automatically")
    detail = f"binlogs are kept {seconds / _DAY_S:g} day(s)"
    if seconds >= _DAY_S:
        return CheckResult("binlog retention", True, detail)
    return CheckResult(
        "binlog retention",
        False,
        detail + ": a connector stopped longer than that loses its position",
        fix="SET GLOBAL binlog_expire_logs_seconds=604800 (7 days) and put it in my.cnf",
        severity="warning",
    )


def _server_id(config: ConnectorConfig, variables: dict[str, str]) -> CheckResult:
    assert config.mysql is not None  # the connector's validator requires it
    ours, theirs = config.mysql.server_id, int(variables.get("server_id") or 0)
    fix = "choose another mysql.server_id (1 … 4294967295), unique among the server's replicas"
    if not 1 <= ours <= 0xFFFFFFFF:
        return CheckResult("server_id", False, f"mysql.server_id={ours} is out of range", fix=fix)
    if ours == theirs:
        return CheckResult(
            "server_id", False, f"mysql.server_id={ours} is the server's own server_id", fix=fix
        )
    return CheckResult("server_id", True, f"connector {ours}, server {theirs}")


def _table(config: ConnectorConfig, table: str, columns: list[CatalogColumn]) -> CheckResult:
    database = config.connection.database
    name = f"table {database}.{table}"
    if not columns:
        return CheckResult(
            name,
            False,
            "does not exist (or is not visible to the connector's user)",
            fix=f"create it and let the user read it, or take {table} out of 'tables'",
        )
    keys = [c.name for c in sorted(columns, key=lambda c: c.key_position or 0) if c.key_position]
    if not keys:
        return CheckResult(
            name,
            False,
            "has no primary key: rows cannot be keyed or snapshotted in chunks",
            fix=f"ALTER TABLE {quote(database)}.{quote(table)} ADD PRIMARY KEY (<unique, "
            "NOT NULL columns>), or remove the table from the connector",
        )
    return CheckResult(name, True, f"primary key ({', '.join(keys)}), {len(columns)} columns")


def _privileges(
    config: ConnectorConfig, grants: list[str], mariadb: bool, watermarks_exist: bool
) -> CheckResult:
    held = _parse_grants(grants)
    database = config.connection.database

    def has(privilege: str, db: str = "*", table: str = "*") -> bool:
        scopes = [("*", "*"), (db, "*"), (db, table)]
        return any(p in held.get(s, set()) for s in scopes for p in (privilege, "ALL PRIVILEGES"))

    missing: list[str] = []
    if not (has("REPLICATION SLAVE") or has("REPLICATION REPLICA")):
        missing.append("REPLICATION SLAVE ON *.*")
    if not (has("BINLOG MONITOR") or has("REPLICATION CLIENT")):
        missing.append(f"{'BINLOG MONITOR' if mariadb else 'REPLICATION CLIENT'} ON *.*")
    missing += [
        f"SELECT ON {database}.{t}" for t in config.tables if not has("SELECT", database, t)
    ]
    wm = (WATERMARK_SCHEMA, WATERMARK_TABLE)
    if not has("INSERT", *wm):
        missing.append(f"INSERT ON {WATERMARK_SCHEMA}.*")
    if not watermarks_exist and not has("CREATE", *wm):
        missing.append(f"CREATE ON {WATERMARK_SCHEMA}.* (for the watermarks table)")
    roles = any(" ON " not in g for g in grants)
    note = " (privileges through roles were not expanded)" if roles else ""
    if not missing:
        return CheckResult("privileges", True, "replication, binlog monitoring, SELECT, watermarks")
    user = f"'{config.connection.user}'@'<host>'"
    return CheckResult(
        "privileges",
        False,
        f"missing: {'; '.join(missing)}{note}",
        fix="; ".join(f"GRANT {m} TO {user}" for m in missing),
    )


def _parse_grants(grants: list[str]) -> dict[tuple[str, str], set[str]]:
    """SHOW GRANTS lines → {(database, table): privileges}; ``*`` for wildcards."""
    held: dict[tuple[str, str], set[str]] = {}
    for line in grants:
        match = _GRANT.match(line)
        if match is None:
            continue  # role grants, PROXY
        db, _, table = match["scope"].partition(".")
        scope = (_unquote(db), _unquote(table))
        privileges = {p for p in _split(match["privileges"]) if "(" not in p}  # no column grants
        held.setdefault(scope, set()).update(privileges)
    return held


def _unquote(name: str) -> str:
    return name.strip("`").replace("``", "`").replace("\\_", "_").replace("\\%", "%")


def _split(privileges: str) -> list[str]:
    """Split on commas outside parentheses: ``SELECT (a, b), INSERT``."""
    parts, depth, current = [], 0, ""
    for char in privileges:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip().upper())
            current = ""
        else:
            current += char
    parts.append(current.strip().upper())
    return [" ".join(p.split()) for p in parts if p]
