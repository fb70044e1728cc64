"""One settings model for every streamhub command.

Values come, highest priority first, from ``STREAMHUB_*`` environment
variables, the YAML file named by ``STREAMHUB_CONFIG`` (or ``--config``), and
the defaults below, which describe the local stack. Secrets are ``SecretStr``:
they print as ``**********``, and may be given as a file path
(``STREAMHUB_POSTGRES_PASSWORD_FILE``); the local stack writes the ones it
generates under ``<data_dir>/secrets/``, which is read last.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from streamhub.errors import ConfigError
from streamhub.secrets_mask import mask_url

ENV_PREFIX = "STREAMHUB_"
CONFIG_ENV = "STREAMHUB_CONFIG"
SECRET_FIELDS = (
    "postgres_password",
    "mariadb_password",
    "pseudonym_key",
    "pseudonym_identity_key",
    "query_token",
)

# URL settings that may carry a password (user:pw@ or ?password=): printed masked
# shorter values would redact ordinary words from log lines; generated secrets are 32 chars
MIN_REDACTED_LENGTH = 6
URL_FIELDS = ("clickhouse_dsn", "registry_url", "query_url")

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"expected http(s)://host:port, got {mask_url(value)!r}")
    return value.rstrip("/")


def _default_project_dir() -> Path:
    """The checkout that holds topics/, avro_schemas/ and connectors/."""
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "topics").is_dir() and (candidate / "avro_schemas").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


class PathSettings(BaseModel):
    """Where streamhub keeps its state and finds its checkout's files."""

    data_dir: Path = Field(
        default=Path(".streamhub"),
        description="Local state: stack data, logs, generated secrets, chDB files.",
    )
    project_dir: Path = Field(
        default_factory=_default_project_dir,
        description="Checkout holding topics/, avro_schemas/ and connectors/.",
    )
    connectors_dir: Path | None = Field(
        default=None, description="Connector files; default <project_dir>/connectors."
    )
    profiles_dir: Path | None = Field(
        default=None, description="Mapping profiles; default <project_dir>/connectors/profiles."
    )


class KafkaSettings(BaseModel):
    """Kafka and the schema registry."""

    kafka_bootstrap: str = Field(
        default="127.0.0.1:39092", description="Kafka bootstrap servers, host:port[,host:port]."
    )
    kafka_heap_mb: int = Field(default=768, ge=256, description="Heap of the local Kafka broker.")
    registry_url: str = Field(
        default="http://127.0.0.1:38081", description="Confluent-compatible schema registry URL."
    )
    registry_topic: str = Field(
        default="_schemas", description="Compacted topic where the local registry keeps schemas."
    )
    connect_url: str = Field(
        default="http://127.0.0.1:38083",
        description="Kafka Connect worker's REST API (Debezium connectors; `stack up --connect`).",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",")]
        bad = [s for s in servers if not _HOST_PORT.match(s)]
        if bad or not value.strip():
            raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return ",".join(servers)

    @field_validator("registry_url", "connect_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        return _http_url(value)


class ProcessSettings(BaseModel):
    """Each process's Kafka group (or Faust app id), and the capture agents' positions topic."""

    capture_positions_topic: str = Field(
        default="_capture_positions",
        description="Compacted topic where capture agents keep connector positions.",
    )
    capture_group: str = Field(
        default="streamhub-capture",
        description="Kafka group of capture agents sharing one connector set (fail-over).",
    )
    standardize_group: str = Field(
        default="streamhub-standardize", description="Faust app id of the standardizer."
    )
    lander_group: str = Field(
        default="streamhub-lander", description="Kafka group of the ClickHouse lander."
    )
    reconcile_group: str = Field(
        default="streamhub-reconcile",
        description="Kafka group (and Faust app id) of the reconciliation app.",
    )
    anomaly_group: str = Field(
        default="streamhub-anomaly",
        description="Kafka group (and Faust app id) of the traffic-anomaly app.",
    )


class ClickHouseSettings(BaseModel):
    """The landing database, and the lander's query endpoint for the other processes."""

    clickhouse_dsn: str = Field(
        default="",
        description="chdb:///abs/path (embedded, default <data_dir>/clickhouse) or http(s)://host:8123.",
    )
    clickhouse_database: str = Field(
        default="streamhub", description="ClickHouse database of the std_* and ops_* tables."
    )
    clickhouse_cluster: str | None = Field(
        default=None,
        description="ClickHouse cluster (a <remote_servers> name) to migrate in cluster form: "
        "ON CLUSTER DDL, Replicated*MergeTree <table>_local tables, Distributed tables under "
        "the names the lander and queries use (docs/decisions/clickhouse-cluster.md). Unset: "
        "one server or chDB.",
    )
    query_url: str = Field(
        default="http://127.0.0.1:39106",
        description="The lander's read-only query endpoint (`streamhub land --query-port`): how "
        "other processes read an embedded chDB engine that only the lander may open.",
    )
    query_token: SecretStr | None = Field(
        default=None, description="Bearer token of the lander's query endpoint."
    )
    query_token_file: Path | None = None

    @field_validator("query_url")
    @classmethod
    def _check_query_http_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("query_url")
    @classmethod
    def _no_credentials_in_query_url(cls, value: str) -> str:
        # the endpoint authenticates by query_token; a user:password@ here would only be
        # printed (and urllib quotes it back in its errors)
        if "@" in urlsplit(value).netloc:
            raise ValueError(
                f"{mask_url(value)}: no user:password@ in the query URL; the endpoint's "
                "credential is query_token (STREAMHUB_QUERY_TOKEN or its _FILE)"
            )
        return value

    @field_validator("clickhouse_cluster")
    @classmethod
    def _check_clickhouse_cluster(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError(f"expected a cluster name (letters, digits, _), got {value!r}")
        return value

    @field_validator("clickhouse_dsn")
    @classmethod
    def _check_clickhouse_dsn(cls, value: str) -> str:
        if value and not re.match(r"^(chdb:///\S+|https?://\S+)$", value):
            raise ValueError(
                f"expected chdb:///abs/path or http(s)://host:8123, got {mask_url(value)!r}"
            )
        return value


class SourceDatabaseSettings(BaseModel):
    """The local stack's PostgreSQL and MariaDB (the simulated institutions' servers)."""

    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(default=35432, ge=1, le=65535)
    postgres_user: str = "streamhub"
    postgres_password: SecretStr | None = None
    postgres_password_file: Path | None = None
    mariadb_host: str = "127.0.0.1"
    mariadb_port: int = Field(default=33306, ge=1, le=65535)
    mariadb_user: str = "streamhub"
    mariadb_password: SecretStr | None = None
    mariadb_password_file: Path | None = None


class PseudonymSettings(BaseModel):
    """The keys of pseudonyms and record ids (docs/decisions/pseudonym-keys.md)."""

    pseudonym_key: SecretStr | None = Field(
        default=None, description="HMAC key for personal-identifier pseudonyms."
    )
    pseudonym_key_file: Path | None = None
    pseudonym_identity_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of record ids, source keys and institution-internal "
        "ids (not rotated with the person keys; see docs/decisions/pseudonym-keys.md).",
    )
    pseudonym_identity_key_file: Path | None = None


class WebSettings(BaseModel):
    """The web app: users, sessions, audit trail, freshness colours."""

    web_users_file: Path | None = Field(
        default=None,
        description="Web users and roles (hashed passwords); default "
        "<data_dir>/web/users.yaml, written by `streamhub users add`.",
    )
    web_session_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="Web sessions expire after this idle time."
    )
    audit_log: Path | None = Field(
        default=None,
        description="Audit trail of the web app (JSON lines); default <data_dir>/logs/audit.jsonl.",
    )
    freshness_amber_s: float = Field(
        default=30.0, gt=0, description="Dashboard data older than this shows amber."
    )
    freshness_red_s: float = Field(
        default=120.0, gt=0, description="Dashboard data older than this shows red."
    )


class RuntimeSettings(BaseModel):
    """What every process shares at run time: where metrics bind, how much it logs."""

    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address every Prometheus /metrics server binds (capture, standardize, land, "
        "reconcile, anomaly, status --serve); loopback unless a scraper elsewhere needs it.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class Settings(
    BaseSettings,
    RuntimeSettings,
    WebSettings,
    PseudonymSettings,
    SourceDatabaseSettings,
    ClickHouseSettings,
    ProcessSettings,
    KafkaSettings,
    PathSettings,
):
    """One settings model for every command, assembled from the sections above. The variables
    stay flat (``STREAMHUB_<FIELD>``, one YAML key per field): they are the deployment
    interface (chart, scripts, docs); the sections group the fields in code."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigError(f"{CONFIG_ENV}={config_file}: no such file")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        object.__setattr__(self, "project_dir", self.project_dir.expanduser().resolve())
        if not self.clickhouse_dsn:
            object.__setattr__(self, "clickhouse_dsn", f"chdb://{data_dir / 'clickhouse'}")
        if self.freshness_red_s <= self.freshness_amber_s:
            raise ValueError(
                f"freshness_red_s ({self.freshness_red_s}) must exceed freshness_amber_s "
                f"({self.freshness_amber_s})"
            )
        for name in SECRET_FIELDS:
            if getattr(self, name) is not None:
                continue
            given: Path | None = getattr(self, f"{name}_file")
            path = given if given is not None else data_dir / "secrets" / name
            if path.is_file():
                object.__setattr__(self, name, SecretStr(path.read_text().strip()))
            elif given is not None:
                raise ValueError(f"{name}_file: secret file {given} does not exist")
        return self

    @property
    def connectors_path(self) -> Path:
        return self.connectors_dir or self.project_dir / "connectors"

    @property
    def profiles_path(self) -> Path:
        return self.profiles_dir or self.project_dir / "connectors" / "profiles"

    @property
    def web_users_path(self) -> Path:
        return self.web_users_file or self.data_dir / "web" / "users.yaml"

    @property
    def audit_log_path(self) -> Path:
        return self.audit_log or self.data_dir / "logs" / "audit.jsonl"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def require_secret(self, name: str) -> str:
        """The secret's value, or a ConfigError saying how to provide it."""
        value: SecretStr | None = getattr(self, name)
        if value is None:
            env = f"{ENV_PREFIX}{name.upper()}"
            raise ConfigError(
                f"{name} is not set: set {env}, or {env}_FILE to a file holding it "
                f"(the local stack writes {self.secrets_dir / name} on `streamhub stack up`)"
            )
        return value.get_secret_value()

    def masked(self) -> dict[str, Any]:
        """Settings as printable JSON-safe values; secrets and URL passwords masked."""
        dumped: dict[str, Any] = self.model_dump(mode="json")
        for name in URL_FIELDS:
            dumped[name] = mask_url(dumped[name])
        return dumped

    def secret_values(self) -> set[str]:
        """Every secret value these settings hold (for log redaction): SecretStr fields,
        URL passwords, and each file under the secrets directory (web passwords too)."""
        values: set[str] = set()
        for name in SECRET_FIELDS:
            secret: SecretStr | None = getattr(self, name)
            if secret is not None:
                values.add(secret.get_secret_value())
        for name in URL_FIELDS:
            parts = urlsplit(getattr(self, name))
            if parts.password:
                values.update({parts.password, unquote(parts.password)})
        if self.secrets_dir.is_dir():
            for path in self.secrets_dir.iterdir():
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    if path.is_file():
                        text = path.read_text(encoding="utf-8").strip()
                        values.add(text)
                        # a keyring holds a key per line, ``<id> <created> <secret>``:
                        # each secret is redacted on its own, not only the whole file
                        values.update(
                            line.split()[-1]
                            for line in text.splitlines()
                            if line.strip() and len(line.split()) > 1
                        )
        return {v for v in values if len(v) >= MIN_REDACTED_LENGTH}


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one operator-readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(settings)"
        env = f"{ENV_PREFIX}{field.upper()}" if error["loc"] else ""
        where = f"{env} ({field})" if env else field
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
