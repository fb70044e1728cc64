"""Versioned, idempotent ClickHouse migrations: ``migrations/NNNN_name.sql`` applied in order.

``schema_migrations`` records each applied version with the file's checksum; a second run
applies nothing. A migration is recorded only after all its statements ran, and statements
are written to be re-runnable (IF NOT EXISTS, CREATE OR REPLACE VIEW), so a run interrupted
half-way is finished by the next one. Editing an applied file is refused: add a new one.
The same code runs on chDB and on a server; the SQL names tables without a database and the
client's default database decides where they go. Given a cluster, the statements applied are
the files' cluster form (:mod:`streamhub.land.cluster_ddl`); the checksums stay the files'.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.land.clickhouse import as_land_error
from streamhub.land.cluster_ddl import ClusterTarget, migrations_table_ddl, render_cluster
from streamhub.land.errors import MigrationError

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        """Statements separated by ``;`` at a line end; ``--`` comment lines dropped."""
        text = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if s.strip()]


@dataclass
class MigrationResult:
    applied: list[Migration] = field(default_factory=list)
    already: list[Migration] = field(default_factory=list)


def load_migrations() -> list[Migration]:
    """The packaged migrations, by version; versions must be unique."""
    found: dict[int, Migration] = {}
    folder = resources.files("streamhub.land").joinpath("migrations")
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version:04d}: rename one")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _ensure_table(client: Client, cluster: ClusterTarget | None) -> None:
    if cluster is not None:
        client.command(migrations_table_ddl(cluster, MIGRATIONS_TABLE))
        return
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC'), checksum String) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )


def applied_versions(client: Client) -> dict[int, str]:
    """version → checksum of what is applied in the client's database."""
    rows = client.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {MIGRATIONS_TABLE} GROUP BY version"  # noqa: S608 - a constant name
    ).result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(
    client: Client, migrations: list[Migration] | None = None, cluster: ClusterTarget | None = None
) -> MigrationResult:
    """Apply what is missing, in version order, to the client's database; with ``cluster``,
    in cluster form (every migration is rendered first: one that has none applies nothing)."""
    todo = load_migrations() if migrations is None else migrations
    rendered = None if cluster is None else render_cluster(todo, cluster)
    result = MigrationResult()
    try:
        _ensure_table(client, cluster)
        applied = applied_versions(client)
    except ClickHouseError as exc:
        raise as_land_error(exc, "reading schema_migrations") from exc
    for migration in todo:
        checksum = applied.get(migration.version)
        if checksum is not None:
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} was edited after it "
                    "was applied; restore the file and add a new migration for the change"
                )
            result.already.append(migration)
            continue
        statements = migration.statements() if rendered is None else rendered[migration.version]
        _apply(client, migration, statements, cluster_form=rendered is not None)
        result.applied.append(migration)
    return result


def _apply(
    client: Client, migration: Migration, statements: list[str], *, cluster_form: bool = False
) -> None:
    # in cluster form the numbers count the rendered statements (tests/data/cluster_ddl/)
    form = " of its cluster form" if cluster_form else ""
    for number, statement in enumerate(statements, start=1):
        try:
            client.command(statement)
        except ClickHouseError as exc:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}, statement {number}{form}: "
                f"{as_land_error(exc, 'ClickHouse refused it')}; fix the file (it is not "
                "recorded as applied) and run `streamhub clickhouse migrate` again"
            ) from exc
    try:
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, datetime.now(UTC), migration.checksum]],
            column_names=["version", "name", "applied_at", "checksum"],
        )
    except ClickHouseError as exc:
        raise as_land_error(exc, f"recording migration {migration.version:04d}") from exc
