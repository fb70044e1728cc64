"""Connector files: one YAML per institution source in ``connectors/``.

A connector names the institution (its unified social credit code), the system,
the engine and how to reach the database, which tables to capture, the mapping
profile the standardizer applies, and the text encoding of the source. The
password never sits in the file: it comes from an environment variable, a file,
or one of streamhub's own secrets.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streamhub.capture.errors import ConnectorConfigError
from streamhub.codes import credit_code
from streamhub.codes.errors import CodeError
from streamhub.config import Settings
from streamhub.core.topic_names import raw_topic

Engine = Literal["postgresql", "mariadb", "mysql", "oracle", "sqlserver"]
# who reads the source's log: streamhub's own agent, or Debezium on Kafka Connect
CaptureEngine = Literal["streamhub", "debezium"]
DEBEZIUM_ONLY: frozenset[str] = frozenset({"oracle", "sqlserver"})
System = Literal["his", "emr", "lis", "pacs"]


class _Strict(BaseModel):
    # hide_input_in_errors: a stray key (password: ...) must not be echoed in the error
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Connection(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    database: str
    user: str
    password_env: str | None = Field(None, description="environment variable holding it")
    password_file: Path | None = Field(None, description="file holding it (first line)")
    password_secret: Literal["postgres_password", "mariadb_password"] | None = Field(
        None, description="one of streamhub's own secrets (local stack)"
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> Connection:
        given = [self.password_env, self.password_file, self.password_secret]
        if sum(x is not None for x in given) != 1:
            raise ValueError("give exactly one of password_env, password_file or password_secret")
        return self


class SnapshotSettings(_Strict):
    mode: Literal["initial", "never"] = Field(
        "initial", description="initial: read every table once, then stream; never: stream only"
    )
    chunk_rows: int = Field(2000, ge=10, le=100000)


class PostgresSettings(_Strict):
    slot: str | None = None  # default streamhub_<connector name>
    publication: str | None = None


class MySQLSettings(_Strict):
    server_id: int = Field(description="unique replica id for this connector's binlog stream")


class DebeziumSettings(_Strict):
    """What only a Debezium-captured source needs; the rest comes from the connector file."""

    snapshot_mode: str | None = Field(
        None,
        description="Debezium's snapshot.mode; default from snapshot.mode (initial → initial, "
        "never → no_data)",
    )
    pdb: str | None = Field(None, description="Oracle: the pluggable database (database.pdb.name)")
    log_mining_strategy: Literal["online_catalog", "redo_log_catalog", "hybrid"] = Field(
        "online_catalog",
        description="Oracle LogMiner's dictionary: online_catalog (fastest; no DDL during "
        "capture), redo_log_catalog (follows DDL; needs the dictionary in the redo logs)",
    )
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="further Debezium connector properties, passed as given (never a password: "
        "those come through the worker's config provider)",
    )


class ConnectorConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")
    institution_id: str
    institution_name: str | None = None
    system: System
    engine: Engine = Field(description="the source database's kind")
    capture_engine: CaptureEngine = Field(
        "streamhub",
        description="streamhub: streamhub's own capture agent (PostgreSQL, MySQL, MariaDB); "
        "debezium: Debezium on Kafka Connect (`streamhub connectors apply`; Oracle, SQL Server)",
    )
    connection: Connection
    tables: list[str] = Field(min_length=1, description="table names; PostgreSQL: schema.table")
    profile: str = Field(description="mapping profile in connectors/profiles/")
    encoding: str = "utf-8"
    snapshot: SnapshotSettings = SnapshotSettings()
    postgres: PostgresSettings | None = None
    mysql: MySQLSettings | None = None
    debezium: DebeziumSettings | None = None
    heartbeat_s: float = Field(5.0, gt=0, le=300)
    row_count_s: float = Field(
        300.0, ge=1, description="how often each table's row count is read at a log position"
    )
    max_message_bytes: int = Field(
        1_000_000,
        ge=10_000,
        le=100_000_000,
        description="largest change envelope sent to Kafka (the producer's message.max.bytes; "
        "keep it at most the raw topic's max.message.bytes); a larger change goes to dlq.capture",
    )

    @field_validator("institution_id", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        # YAML reads an all-digit code as a number (a leading 0 would even be lost)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                "an institution id is text: quote it in the file "
                '(institution_id: "123502001549897397"); unquoted digits are a YAML number'
            )
        return value

    @field_validator("institution_id")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        try:
            credit_code.validate(value)
        except CodeError as exc:
            # a ValueError, so it becomes a field error of the file, not a crash of the reader
            raise ValueError(
                f"{exc}; give the institution's 18-character unified social credit code"
            ) from exc
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError as exc:
            raise ValueError(f"unknown text encoding {value!r} (utf-8, gbk, gb18030)") from exc

    @model_validator(mode="after")
    def _engine_block(self) -> ConnectorConfig:
        if self.engine == "postgresql" and self.mysql is not None:
            raise ValueError("a postgresql connector takes a postgres: block, not mysql:")
        if self.capture_engine == "streamhub":
            if self.engine in DEBEZIUM_ONLY:
                raise ValueError(
                    f"streamhub's agent cannot read {self.engine}; set capture_engine: debezium"
                )
            if self.debezium is not None:
                raise ValueError("a debezium: block needs capture_engine: debezium")
        if self.engine in ("mariadb", "mysql") and self.mysql is None:
            raise ValueError("a MySQL/MariaDB connector needs mysql: {server_id: N}")
        return self

    @property
    def by_debezium(self) -> bool:
        """Captured by Debezium on Kafka Connect, not by streamhub's agent."""
        return self.capture_engine == "debezium"

    @property
    def slot_name(self) -> str:
        custom = self.postgres.slot if self.postgres else None
        return custom or "streamhub_" + self.name.replace("-", "_")

    @property
    def publication_name(self) -> str:
        custom = self.postgres.publication if self.postgres else None
        return custom or "streamhub_" + self.name.replace("-", "_")

    @property
    def topic(self) -> str:
        return raw_topic(self.system)

    def labels(self) -> dict[str, str]:
        """What names the connector: its metrics' (bounded) labels and its log lines' fields."""
        return {"connector": self.name, "institution": self.institution_id, "system": self.system}

    def password(self, settings: Settings) -> str:
        """The database password, from wherever the connector says; never logged."""
        conn = self.connection
        if conn.password_env is not None:
            value = os.environ.get(conn.password_env)
            if not value:
                raise ConnectorConfigError(
                    f"connector {self.name}: environment variable {conn.password_env} is not set"
                )
            return value
        if conn.password_file is not None:
            path = conn.password_file
            if not path.is_absolute():
                path = settings.project_dir / path
            try:
                return path.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise ConnectorConfigError(
                    f"connector {self.name}: cannot read the password file {path}: {exc}"
                ) from exc
        assert conn.password_secret is not None
        return settings.require_secret(conn.password_secret)


def load_connector(path: Path) -> ConnectorConfig:
    """The connector file at ``path``; :class:`ConnectorConfigError` naming the file and fields.

    Validation errors never quote the file's values (a stray ``password:`` would be echoed).
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectorConfigError(f"cannot read connector file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        # the parser's message quotes the offending line: name the place only
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConnectorConfigError(
            f"connector file {path} is not valid YAML{where}: fix the file"
        ) from exc
    try:
        return ConnectorConfig.model_validate(document)
    except ValidationError as exc:
        raise ConnectorConfigError(
            f"connector file {path} is invalid: {_field_errors(exc)}; fix the file "
            "(a password never sits in it: use password_env, password_file or password_secret)"
        ) from exc


def _field_errors(exc: ValidationError) -> str:
    """``field.path: message`` per error, without the input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(p) for p in error["loc"]) or "(file)"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)


def load_connectors(
    directory: Path,
    names: list[str] | None = None,
    on_error: Callable[[ConnectorConfigError], None] | None = None,
) -> list[ConnectorConfig]:
    """Every ``*.yaml`` connector under ``directory`` (profiles/ and examples/ excluded), or
    the named ones.

    Without ``on_error`` a bad file raises; with it, the error is handed over and the file
    skipped, so readers that only look (web, standardizer) keep the other institutions.
    """
    loaded: list[ConnectorConfig] = []
    for path in sorted(directory.rglob("*.yaml")):
        if {"profiles", "examples"} & set(path.relative_to(directory).parts[:-1]):
            continue  # mapping profiles; worked examples (read with --connectors-dir)
        try:
            loaded.append(load_connector(path))
        except ConnectorConfigError as exc:
            if on_error is None:
                raise
            on_error(exc)
    found = {c.name: c for c in loaded}
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise ConnectorConfigError(
                f"no connector named {', '.join(missing)} under {directory} "
                f"(have {', '.join(sorted(found)) or 'none'})"
            )
        return [found[n] for n in names]
    return list(found.values())
