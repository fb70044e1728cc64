"""A Kafka Connect worker with Debezium's connector plugins, from Maven Central jars.

The worker runs in distributed mode against the stack's broker: its connector configs,
source offsets and task status live in three Kafka topics named after its group, so a
restarted worker (or a second one in the same group) resumes where the first stopped.
Secrets reach connector configs through Kafka's ``FileConfigProvider`` from an owner-only
properties file: a connector config says ``${file:<path>:<name>}``, never the value.

:class:`KafkaConnect` is the stack's own worker (``streamhub stack up --connect``; not started
by a plain ``stack up``): group ``streamhub-connect``, REST API at ``settings.connect_url``,
home ``<data_dir>/connect``, JSON converters with schemas. The Debezium benchmark starts and
stops a worker of its own (another group and port).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from confluent_kafka.admin import AdminClient

from streamhub.catalog.apply import apply_topics
from streamhub.catalog.errors import CatalogError
from streamhub.catalog.load import load_catalog
from streamhub.catalog.model import TopicSpec
from streamhub.config import Settings
from streamhub.secrets_mask import mask_url
from streamhub.stack import process
from streamhub.stack.errors import ConnectRestError, StackError
from streamhub.stack.kafka_cluster import local_bootstrap
from streamhub.stack.maven import resolve_jars
from streamhub.stack.service import Service, ServiceStatus

POM = "kafka-connect.pom.xml"
WORKER_PROFILE = "worker"
# plugin name (a directory under <home>/plugins and a profile of the pom) → connector class
PLUGINS: dict[str, str] = {
    "debezium-postgres": "io.debezium.connector.postgresql.PostgresConnector",
    "debezium-mysql": "io.debezium.connector.mysql.MySqlConnector",
    "debezium-oracle": "io.debezium.connector.oracle.OracleConnector",
    "debezium-sqlserver": "io.debezium.connector.sqlserver.SqlServerConnector",
    "debezium-mariadb": "io.debezium.connector.mariadb.MariaDbConnector",
}
# plugins resolved from a pom of their own (another Debezium release; see that pom), so a
# change there re-resolves only them; the others come from POM
PLUGIN_POMS: dict[str, str] = {"debezium-mariadb": "kafka-connect-mariadb.pom.xml"}
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
FILE_PROVIDER = "org.apache.kafka.common.config.provider.FileConfigProvider"
MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What distinguishes one worker (group) from another on the same broker."""

    bootstrap: str
    group_id: str = "streamhub-connect"
    rest_port: int = 38083
    heap_mb: int = 768
    plugins: tuple[str, ...] = tuple(PLUGINS)
    converter: str = JSON_CONVERTER
    schemas_enable: bool = False
    offset_flush_ms: int = 5000

    @property
    def config_topic(self) -> str:
        return f"_{self.group_id}_configs"

    @property
    def offset_topic(self) -> str:
        return f"_{self.group_id}_offsets"

    @property
    def status_topic(self) -> str:
        return f"_{self.group_id}_status"

    @property
    def internal_topics(self) -> tuple[str, str, str]:
        return (self.config_topic, self.offset_topic, self.status_topic)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"


def render_worker_properties(options: WorkerOptions, home: Path) -> str:
    """The worker's ``connect-distributed.properties``."""
    unknown = sorted(set(options.plugins) - set(PLUGINS))
    if unknown:
        raise StackError(f"unknown Kafka Connect plugin(s) {unknown}; known: {sorted(PLUGINS)}")
    schemas = "true" if options.schemas_enable else "false"
    lines = [
        f"bootstrap.servers={options.bootstrap}",
        f"group.id={options.group_id}",
        f"config.storage.topic={options.config_topic}",
        f"offset.storage.topic={options.offset_topic}",
        f"status.storage.topic={options.status_topic}",
        "config.storage.replication.factor=1",
        "offset.storage.replication.factor=1",
        "offset.storage.partitions=1",
        "status.storage.replication.factor=1",
        "status.storage.partitions=1",
        f"offset.flush.interval.ms={options.offset_flush_ms}",
        f"key.converter={options.converter}",
        f"value.converter={options.converter}",
        f"key.converter.schemas.enable={schemas}",
        f"value.converter.schemas.enable={schemas}",
        f"listeners=http://127.0.0.1:{options.rest_port}",
        "rest.advertised.host.name=127.0.0.1",
        f"rest.advertised.port={options.rest_port}",
        f"plugin.path={home / 'plugins'}",  # each plugin in its own directory below it
        # every plugin here has ServiceLoader manifests: reading them, instead of scanning
        # each jar's classes by reflection, cuts the worker's start from ~60 s to seconds
        "plugin.discovery=service_load",
        "topic.creation.enable=true",
        "config.providers=file",
        f"config.providers.file.class={FILE_PROVIDER}",
        f"config.providers.file.param.allowed.paths={home / 'secrets'}",
        "",
    ]
    return "\n".join(lines)


def render_log4j(home: Path) -> str:
    return "\n".join(
        [
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.file.ref=file",
            "appender.file.type=File",
            "appender.file.name=file",
            f"appender.file.fileName={home / 'connect.log'}",
            "appender.file.layout.type=PatternLayout",
            "appender.file.layout.pattern=[%d] %p %m (%c)%n",
            "logger.kafka.name=org.apache.kafka",
            "logger.kafka.level=WARN",
            "logger.connect.name=org.apache.kafka.connect.runtime",
            "logger.connect.level=INFO",
            "",
        ]
    )


def secret_reference(path: Path, name: str) -> str:
    """How a connector config names a secret kept in ``path`` (FileConfigProvider syntax)."""
    return "${file:" + str(path) + ":" + name + "}"


def validate_path(config: Mapping[str, str]) -> str:
    """``PUT`` here validates ``config`` with its connector plugin (named by its class)."""
    plugin = config["connector.class"].rsplit(".", 1)[-1]
    return f"/connector-plugins/{plugin}/config/validate"


def validation_errors(answer: Any) -> dict[str, list[str]]:
    """The errors by field in Connect's answer to a validate request."""
    errors: dict[str, list[str]] = {}
    for entry in answer.get("configs", []):
        value = entry.get("value") or {}  # Debezium leaves some defined keys without one
        if value.get("errors"):
            errors[str(value["name"])] = [str(e) for e in value["errors"]]
    return errors


class ConnectRest:
    """A Kafka Connect worker's REST API: JSON in and out, refusals as ``ConnectRestError``
    carrying the HTTP status and Connect's own message."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def request(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - the configured http(s) URL
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as response:  # noqa: S310
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise ConnectRestError(
                f"Kafka Connect {method} {path} answered {exc.code}: {detail}", exc.code
            ) from None
        return json.loads(text) if text else None


def write_secrets_file(path: Path, values: Mapping[str, str]) -> Path:
    """Write ``values`` as an owner-only properties file (FileConfigProvider's format),
    replacing it whole and at once: a worker reading it meanwhile sees old or new."""
    for name, value in values.items():
        bare = name.replace("_", "").replace("-", "").replace(".", "")
        if not bare.isalnum() or any(c in value for c in "\\\n\r") or value != value.strip():
            raise StackError(f"secret {name!r} cannot be written as a properties entry")
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in values.items())
    temporary.replace(path)
    return path


def update_secrets_file(path: Path, values: Mapping[str, str]) -> Path:
    """Set these entries of the secrets file at ``path``, keeping its others."""
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                kept[name] = value
    return write_secrets_file(path, kept | dict(values))


class ConnectWorker:
    """Resolves the jars, runs one distributed worker process, and talks to its REST API.

    ``<home>/lib`` is the worker's classpath; ``<home>/plugins/<name>`` holds one plugin each
    (``plugin.path`` is ``<home>/plugins``), so each connector's dependencies stay isolated.
    """

    def __init__(self, options: WorkerOptions, home: Path) -> None:
        self.options = options
        self.home = home
        self.pid: int | None = None

    @property
    def lib(self) -> Path:
        return self.home / "lib"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets" / "connect-secrets.properties"

    @property
    def log_file(self) -> Path:
        return self.home / "connect.log"

    def ensure_jars(self) -> bool:
        """Resolve the worker's and each plugin's jars; cached per directory by the pom's hash."""
        by_pom: dict[str, dict[str | None, Path]] = {POM: {WORKER_PROFILE: self.lib}}
        for plugin in self.options.plugins:
            pom = PLUGIN_POMS.get(plugin, POM)
            by_pom.setdefault(pom, {})[plugin] = self.home / "plugins" / plugin
        resolved = [
            resolve_jars(pom, self.home, targets, "Kafka Connect jars")
            for pom, targets in by_pom.items()
        ]
        return any(resolved)

    def write_secrets(self, values: Mapping[str, str]) -> Path:
        """Write secrets for connector configs to an owner-only properties file."""
        return write_secrets_file(self.secrets_file, values)

    def update_secrets(self, values: Mapping[str, str]) -> Path:
        """Set these secrets, keeping the others already in the file."""
        return update_secrets_file(self.secrets_file, values)

    def secret(self, name: str) -> str:
        return secret_reference(self.secrets_file, name)

    def command(self, config: Path) -> list[str]:
        return [
            "java",
            "-Xms256m",
            f"-Xmx{self.options.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            MAIN_CLASS,
            str(config),
        ]

    def start(self, timeout_s: float = 180) -> int:
        """Start the worker and wait until its REST API lists every plugin."""
        self.ensure_jars()
        if process.port_open("127.0.0.1", self.options.rest_port):
            raise StackError(
                f"port 127.0.0.1:{self.options.rest_port} is taken; give the Connect worker "
                "another REST port"
            )
        secrets = self.secrets_file.parent
        secrets.mkdir(parents=True, exist_ok=True)
        secrets.chmod(0o700)
        config = self.home / "connect-distributed.properties"
        config.write_text(render_worker_properties(self.options, self.home))
        (self.home / "log4j2.properties").write_text(render_log4j(self.home))
        self.pid = process.spawn(
            self.command(config), self.home / "stdout.log", self.home / "connect.pid"
        )
        process.wait_until(self.ready, "Kafka Connect worker", timeout_s, self.log_file, self.pid)
        return self.pid

    def ready(self) -> bool:
        try:
            plugins = self.request("GET", "/connector-plugins")
        except (ConnectRestError, OSError):
            return False
        classes = {p.get("class") for p in plugins}
        return all(PLUGINS[p] in classes for p in self.options.plugins)

    def stop(self, grace_s: float = 60) -> None:
        if self.pid is not None:
            process.terminate(self.pid, "kafka-connect", grace_s=grace_s)
            (self.home / "connect.pid").unlink(missing_ok=True)
            self.pid = None

    # --- REST -------------------------------------------------------------------------

    @property
    def rest(self) -> ConnectRest:
        return ConnectRest(self.options.rest_url)

    def request(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        return self.rest.request(method, path, body, timeout_s)

    def validate(self, config: Mapping[str, str]) -> dict[str, list[str]]:
        """Connect's own validation of a connector config: the errors by field."""
        return validation_errors(self.request("PUT", validate_path(config), dict(config)))

    def put_connector(self, name: str, config: Mapping[str, str]) -> None:
        """Create or update a connector, validated first: a refused config raises
        ``ConnectRestError`` naming each field and its errors (Connect's own PUT answers an
        invalid Debezium MySQL config with a bare NullPointerException)."""
        errors = self.validate({"name": name, **config})
        if errors:
            listed = "; ".join(f"{field}: {' '.join(e)}" for field, e in sorted(errors.items()))
            raise ConnectRestError(f"Kafka Connect refused connector {name}'s config: {listed}")
        self.request("PUT", f"/connectors/{name}/config", dict(config))

    def connector_state(self, name: str) -> tuple[str, list[str]]:
        """The connector's state and its tasks' states (``FAILED: <trace head>`` on failure)."""
        status = self.request("GET", f"/connectors/{name}/status")
        tasks = []
        for task in status.get("tasks", []):
            state = str(task.get("state"))
            if state == "FAILED":
                state += ": " + str(task.get("trace", "")).splitlines()[0]
            tasks.append(state)
        return str(status["connector"]["state"]), tasks

    def stop_connector(self, name: str) -> None:
        """Stop its tasks (offsets committed) but keep its config: ``resume_connector`` restarts."""
        self.request("PUT", f"/connectors/{name}/stop")

    def resume_connector(self, name: str) -> None:
        self.request("PUT", f"/connectors/{name}/resume")

    def delete_connector(self, name: str) -> None:
        """Delete the connector and reset its offsets (stopped first, as Connect requires)."""
        self.stop_connector(name)
        process.wait_until(
            lambda: self.connector_state(name)[0] == "STOPPED",
            f"Kafka Connect connector {name} to stop",
            60,
            self.log_file,
            self.pid,
        )
        self.request("DELETE", f"/connectors/{name}/offsets")
        self.request("DELETE", f"/connectors/{name}")

    def connectors(self) -> Sequence[str]:
        return list(self.request("GET", "/connectors"))


STACK_GROUP = "streamhub-connect"


class KafkaConnect(Service):
    """The stack's Kafka Connect worker (``streamhub stack up --connect``).

    Distributed mode, group ``streamhub-connect``: its configs, offsets and status live in
    the catalog's compacted topics ``_streamhub-connect_configs|_offsets|_status`` (created
    from ``topics/`` before the worker starts), so a restarted worker resumes every
    connector. Every Debezium plugin streamhub renders configs for is installed.
    """

    name = "connect"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        parsed = urlparse(settings.connect_url)
        self.host = parsed.hostname or "127.0.0.1"
        options = WorkerOptions(
            bootstrap=local_bootstrap(settings),  # every broker of the stack's cluster
            group_id=STACK_GROUP,
            rest_port=parsed.port or 80,
            schemas_enable=True,  # decimals and times are decoded by their logical type
        )
        self.worker = ConnectWorker(options, self.home)

    @property
    def log_file(self) -> Path:
        return self.worker.log_file

    def up(self) -> str:
        pid = self.running_pid()
        if pid is not None and self.worker.ready():
            self.worker.pid = pid
            return "already running"
        if self.host not in ("127.0.0.1", "localhost"):
            return f"not started here: {mask_url(self.settings.connect_url)} is not a local address"
        if pid is not None:  # alive but not answering: a stale start; begin again
            self.stop_process(grace_s=30)
        self.create_state_topics()
        self.worker.start()
        return "started"

    def state_topics(self) -> list[TopicSpec]:
        """The worker's configs, offsets and status topics as the catalog declares them."""
        wanted = self.worker.options.internal_topics
        specs = {s.name: s for s in load_catalog(self.settings.project_dir / "topics")}
        missing = [name for name in wanted if name not in specs]
        if missing:
            raise StackError(
                f"the topic catalog (topics/) does not declare Kafka Connect's {missing}; "
                "restore topics/connect.yaml"
            )
        return [specs[name] for name in wanted]

    def create_state_topics(self) -> None:
        """Create (or bring to the catalog) the worker's state topics before it starts, so
        Connect finds them compacted as it requires instead of creating its own."""
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        try:
            report = apply_topics(admin, self.state_topics())
        except CatalogError as exc:
            raise StackError(f"Kafka Connect's state topics: {exc}") from exc
        if report.drift:
            raise StackError(f"Kafka Connect's state topics differ: {'; '.join(report.drift)}")

    def down(self) -> str:
        return self.stop_process(grace_s=60)

    def status(self) -> ServiceStatus:
        pid = self.running_pid()
        running = pid is not None and self.worker.ready()
        plugins = ", ".join(p.removeprefix("debezium-") for p in self.worker.options.plugins)
        return ServiceStatus(
            self.name,
            running,
            mask_url(self.settings.connect_url),
            pid,
            f"Kafka Connect, group {STACK_GROUP}, Debezium {plugins}",
        )

    @property
    def started_here(self) -> bool:
        """Whether ``stack up --connect`` ever ran for this data directory (status shows it)."""
        return self.pid_file.exists()
