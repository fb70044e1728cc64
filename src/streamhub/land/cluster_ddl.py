"""The migrations in their ClickHouse-cluster form, rendered from the single-node SQL.

When the settings name a cluster (``clickhouse_cluster``), ``streamhub clickhouse migrate``
applies these statements instead of the files' own (docs/decisions/clickhouse-cluster.md):

- every DDL runs ``ON CLUSTER <cluster>``;
- each table ``T`` becomes ``T_local``, a ``Replicated*MergeTree`` (same engine family and
  version arguments) under ``/clickhouse/tables/{shard}/{database}/T`` with replica
  ``{replica}`` (the servers' macros), and ``T`` itself becomes
  ``Distributed(<cluster>, <database>, T_local, cityHash64(<T's ORDER BY columns>))``, so the
  lander, the views and the named queries keep every name they use. Rows that can replace
  each other in a ReplacingMergeTree share their sort key, hence their shard: FINAL, run by
  each shard on its own part of the table, sees every version of a record;
- views are created on every node over the Distributed tables;
- column changes go to both ``T_local`` and ``T``; data skipping indexes and mutations to
  ``T_local`` only;
- a copy-aside rebuild (0007: ``CREATE TABLE T_NNNN AS T`` … ``CREATE OR REPLACE TABLE T AS
  T_NNNN ENGINE … PARTITION BY …`` … ``DROP TABLE T_NNNN``) is not run on a cluster: the
  rebuild's engine, partition key and sort key are folded into ``T``'s first CREATE, and the
  rebuild becomes a check that refuses a cluster whose ``T_local`` lacks that partition key.

The transformer knows exactly the statement shapes our migrations use and refuses any other
(:class:`ClusterDdlError` naming the migration and statement): a new shape needs a rule here
and a golden file under tests/data/cluster_ddl/.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from streamhub.land.errors import ClusterDdlError

LOCAL_SUFFIX = "_local"
ZOOKEEPER_PREFIX = "/clickhouse/tables/{shard}/{database}/"
REPLICA = "{replica}"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_CREATE_TABLE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<name>\w+)\n"
    r"(?P<columns>\(\n.*\n\))\n"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^()\n]*)\))?\n"
    r"(?:PARTITION BY (?P<partition>[^\n]+)\n)?"
    r"ORDER BY (?P<order>[^\n]+)",
    re.DOTALL,
)
_CREATE_VIEW = re.compile(r"CREATE OR REPLACE VIEW (?P<name>\w+) AS\n(?P<body>.+)", re.DOTALL)
_ALTER_COLUMN = re.compile(
    r"ALTER TABLE (?P<name>\w+) "
    r"(?P<action>(?:ADD COLUMN IF NOT EXISTS|DROP COLUMN IF EXISTS) [^\n]+)"
)
_ALTER_INDEX = re.compile(r"ALTER TABLE (?P<name>\w+) (?P<action>ADD INDEX IF NOT EXISTS [^\n]+)")
_ALTER_UPDATE = re.compile(r"ALTER TABLE (?P<name>\w+)\n(?P<action>\s+UPDATE .+)", re.DOTALL)
_ASIDE_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (?P<aside>\w+) AS (?P<name>\w+)")
_ASIDE_COPY = re.compile(
    r"INSERT INTO (?P<into>\w+) SELECT \* FROM (?P<src>\w+)(?: SETTINGS [\w =,]+)?"
)
_ASIDE_DROP = re.compile(r"DROP TABLE IF EXISTS (?P<aside>\w+)")
_MATERIALIZED = re.compile(
    r"CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<name>\w+) TO (?P<target>\w+) AS\n(?P<body>.+)",
    re.DOTALL,
)
_BACKFILL = re.compile(r"INSERT INTO (?P<into>\w+)\n(?P<body>SELECT .+)", re.DOTALL)
_REBUILD = re.compile(
    r"CREATE OR REPLACE TABLE (?P<name>\w+) AS (?P<aside>\w+)\n"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^()\n]*)\))?\n"
    r"PARTITION BY (?P<partition>[^\n]+)\n"
    r"ORDER BY (?P<order>[^\n]+)"
)


class SourceMigration(Protocol):
    """What the renderer reads of a migration (streamhub.land.migrations.Migration)."""

    @property
    def version(self) -> int: ...

    @property
    def name(self) -> str: ...

    def statements(self) -> list[str]: ...


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster (``<remote_servers>`` name) and the database every node uses."""

    cluster: str
    database: str

    def __post_init__(self) -> None:
        for what, value in (("cluster", self.cluster), ("database", self.database)):
            if not _NAME.match(value):
                raise ClusterDdlError(
                    f"ClickHouse {what} name {value!r}: use letters, digits and underscores only"
                )


@dataclass(frozen=True)
class _Layout:
    """A table's final engine, partition key and sort key (after any rebuild)."""

    engine: str
    args: str | None
    partition: str | None
    order: str


def local_name(table: str) -> str:
    return table + LOCAL_SUFFIX


def sharding_key(order: str) -> str:
    """``cityHash64`` of a sort key's expressions: ``(a, b)`` → ``cityHash64(a, b)``."""
    inner = order.strip()
    if inner.startswith("(") and inner.endswith(")") and _balanced(inner[1:-1]):
        inner = inner[1:-1]
    return f"cityHash64({inner})"


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def replicated_engine(engine: str, args: str | None, table: str) -> str:
    """``ReplacingMergeTree(v)`` → ``ReplicatedReplacingMergeTree('<path>', '{replica}', v)``."""
    if engine.startswith("Replicated"):
        raise ClusterDdlError(f"table {table}: engine {engine} is already replicated")
    params = [f"'{ZOOKEEPER_PREFIX}{table}'", f"'{REPLICA}'"]
    if args and args.strip():
        params.append(args.strip())
    return f"Replicated{engine}({', '.join(params)})"


def migrations_table_ddl(target: ClusterTarget, table: str) -> str:
    """``schema_migrations`` on every node of every shard: one replication group cluster-wide
    (no ``{shard}`` in its path), so any node answers which versions are applied."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER {target.cluster} (version UInt32, "
        "name String, applied_at DateTime64(3, 'UTC'), checksum String) "
        f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{{database}}/{table}', "
        f"'{REPLICA}') ORDER BY version"
    )


def render_cluster(
    migrations: Sequence[SourceMigration], target: ClusterTarget
) -> dict[int, list[str]]:
    """version → the statements of that migration in cluster form, for every migration."""
    layouts = _rebuilt_layouts(migrations)
    renderer = _Renderer(target, layouts)
    return {m.version: renderer.migration(m) for m in migrations}


def _rebuilt_layouts(migrations: Sequence[SourceMigration]) -> dict[str, _Layout]:
    found: dict[str, _Layout] = {}
    for migration in migrations:
        for statement in migration.statements():
            match = _REBUILD.fullmatch(statement)
            if match:
                found[match["name"]] = _Layout(
                    match["engine"], match["args"], match["partition"], match["order"]
                )
    return found


class _Renderer:
    def __init__(self, target: ClusterTarget, layouts: dict[str, _Layout]) -> None:
        self.target = target
        self.layouts = layouts
        self.tables: set[str] = set()
        self.views: set[str] = set()
        self.asides: dict[str, str] = {}  # aside copy → the table it copies

    @property
    def on(self) -> str:
        return f"ON CLUSTER {self.target.cluster}"

    def migration(self, migration: SourceMigration) -> list[str]:
        out: list[str] = []
        for number, statement in enumerate(migration.statements(), start=1):
            try:
                out.extend(self.statement(statement))
            except ClusterDdlError as exc:
                first = statement.splitlines()[0][:100]
                raise ClusterDdlError(
                    f"migration {migration.version:04d}_{migration.name}, statement {number} "
                    f"({first!r}): {exc}; add a rule for it to streamhub.land.cluster_ddl "
                    "(and a golden file) before migrating a cluster"
                ) from None
        return out

    def statement(self, sql: str) -> list[str]:
        for pattern, rule in (
            (_CREATE_TABLE, self._create_table),
            (_CREATE_VIEW, self._create_view),
            (_ALTER_COLUMN, self._alter_column),
            (_ALTER_INDEX, self._alter_local),
            (_ALTER_UPDATE, self._alter_local),
            (_ASIDE_CREATE, self._aside_create),
            (_ASIDE_COPY, self._aside_copy),
            (_REBUILD, self._rebuild),
            (_ASIDE_DROP, self._aside_drop),
            (_MATERIALIZED, self._materialized),
            (_BACKFILL, self._backfill),
        ):
            match = pattern.fullmatch(sql)
            if match:
                return rule(match)
        raise ClusterDdlError("no cluster form is known for this statement shape")

    def _known_table(self, name: str) -> str:
        if name not in self.tables:
            raise ClusterDdlError(f"{name} is not a table created by an earlier migration")
        return name

    def _create_table(self, match: re.Match[str]) -> list[str]:
        name = match["name"]
        if name in self.tables or name in self.views:
            raise ClusterDdlError(f"{name} is created twice")
        if re.search(r"^\s*(INDEX|PROJECTION) ", match["columns"], re.MULTILINE):
            # the Distributed table is created AS the local one and would inherit it
            raise ClusterDdlError(
                f"{name}: an index or projection inside CREATE TABLE; add it with ALTER TABLE "
                "… ADD INDEX (local tables only) instead"
            )
        layout = self.layouts.get(name) or _Layout(
            match["engine"], match["args"], match["partition"], match["order"]
        )
        self.tables.add(name)
        local = local_name(name)
        lines = [
            f"CREATE TABLE IF NOT EXISTS {local} {self.on}",
            match["columns"],
            f"ENGINE = {replicated_engine(layout.engine, layout.args, name)}",
        ]
        if layout.partition:
            lines.append(f"PARTITION BY {layout.partition}")
        lines.append(f"ORDER BY {layout.order}")
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {name} {self.on}\nAS {local}\n"
            f"ENGINE = Distributed('{self.target.cluster}', '{self.target.database}', "
            f"'{local}', {sharding_key(layout.order)})"
        )
        return ["\n".join(lines), distributed]

    def _create_view(self, match: re.Match[str]) -> list[str]:
        name = match["name"]
        if name in self.tables:
            raise ClusterDdlError(f"{name} is a table; a view cannot replace it")
        self.views.add(name)
        return [f"CREATE OR REPLACE VIEW {name} {self.on} AS\n{match['body']}"]

    def _alter_column(self, match: re.Match[str]) -> list[str]:
        name = self._known_table(match["name"])
        action = match["action"]
        return [
            f"ALTER TABLE {local_name(name)} {self.on} {action}",
            f"ALTER TABLE {name} {self.on} {action}",
        ]

    def _alter_local(self, match: re.Match[str]) -> list[str]:
        # an index or a mutation concerns the stored parts: the local tables only
        name = self._known_table(match["name"])
        action = match["action"]
        separator = "\n" if action[0].isspace() else " "
        return [f"ALTER TABLE {local_name(name)} {self.on}{separator}{action}"]

    def _materialized(self, match: re.Match[str]) -> list[str]:
        # on every node, over the Distributed tables: an insert into the Distributed source
        # fires it on the node that receives it, and its rows go out by the target's sharding
        name, target = match["name"], self._known_table(match["target"])
        if name in self.tables or name in self.views:
            raise ClusterDdlError(f"{name} is created twice")
        self.views.add(name)
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} {self.on} TO {target} AS\n"
            f"{match['body']}"
        ]

    def _backfill(self, match: re.Match[str]) -> list[str]:
        # runs once, on the node migrated through, into the Distributed table (sharded there)
        return [f"INSERT INTO {self._known_table(match['into'])}\n{match['body']}"]

    def _aside_create(self, match: re.Match[str]) -> list[str]:
        name, aside = self._known_table(match["name"]), match["aside"]
        if not re.fullmatch(re.escape(name) + r"_\d{4}", aside):
            raise ClusterDdlError(f"{aside} is not a copy-aside name (<table>_NNNN) of {name}")
        if name not in self.layouts:
            raise ClusterDdlError(f"{aside} copies {name} aside but no rebuild of {name} follows")
        self.asides[aside] = name
        return []

    def _aside_copy(self, match: re.Match[str]) -> list[str]:
        into, src = match["into"], match["src"]
        if self.asides.get(into) == src or self.asides.get(src) == into:
            return []  # the copy aside and back of a rebuild that is not run on a cluster
        raise ClusterDdlError("only the copies of a copy-aside rebuild are known")

    def _aside_drop(self, match: re.Match[str]) -> list[str]:
        if match["aside"] not in self.asides:
            raise ClusterDdlError("only a copy-aside table of a rebuild may be dropped")
        return []

    def _rebuild(self, match: re.Match[str]) -> list[str]:
        name = self._known_table(match["name"])
        if self.asides.get(match["aside"]) != name:
            raise ClusterDdlError(f"{name} is rebuilt from {match['aside']}, not its copy aside")
        local = local_name(name)
        partition = match["partition"]
        message = (
            f"{self.target.database}.{local} is not partitioned by {partition}: a cluster gets "
            "its tables partitioned when they are created and its tables are never rebuilt by "
            "copy; rebuild it by hand (docs/decisions/clickhouse-cluster.md)"
        )
        if "'" in message or "\\" in message:
            raise ClusterDdlError("the partition key cannot be quoted in the check's message")
        return [
            f"SELECT throwIf(count() > 0, '{message}')\nFROM system.tables\n"
            f"WHERE database = currentDatabase() AND name = '{local}' "
            f"AND partition_key != '{partition}'"
        ]
