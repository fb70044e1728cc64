"""A Kafka Connect worker with Debezium's connector plugins, from Maven Central jars.

The worker runs in distributed mode against the stack's broker: its connector configs,
source offsets and task status live in three Kafka topics named after its group, so a
restarted worker (or a second one in the same group) resumes where the first stopped.
Secrets reach connector configs through Kafka's ``FileConfigProvider`` from an owner-only
properties file: a connector config says ``${file:<path>:<name>}``, never the value.

Nothing here is part of ``streamhub stack up`` yet: the Debezium benchmark starts and
stops its own worker.
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

from streamhub.stack import process
from streamhub.stack.errors import ConnectRestError, StackError
from streamhub.stack.maven import resolve_jars

POM = "kafka-connect.pom.xml"
WORKER_PROFILE = "worker"
# plugin name (a directory under <home>/plugins and a profile of the pom) → connector class
PLUGINS: dict[str, str] = {
    "debezium-postgres": "io.debezium.connector.postgresql.PostgresConnector",
    "debezium-mysql": "io.debezium.connector.mysql.MySqlConnector",
}
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
        targets: dict[str | None, Path] = {WORKER_PROFILE: self.lib}
        targets |= {p: self.home / "plugins" / p for p in self.options.plugins}
        return resolve_jars(POM, self.home, targets, "Kafka Connect jars")

    def write_secrets(self, values: Mapping[str, str]) -> Path:
        """Write secrets for connector configs to an owner-only properties file."""
        directory = self.secrets_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        for name, value in values.items():
            if not name.replace("_", "").isalnum() or any(c in value for c in "\\\n\r"):
                raise StackError(f"secret {name!r} cannot be written as a properties entry")
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{name}={value}\n" for name, value in values.items())
        return self.secrets_file

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

    def request(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - a fixed http://127.0.0.1 URL
            self.options.rest_url + path,
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
                f"Kafka Connect {method} {path} answered {exc.code}: {detail}"
            ) from None
        return json.loads(text) if text else None

    def validate(self, config: Mapping[str, str]) -> dict[str, list[str]]:
        """Connect's own validation of a connector config: the errors by field."""
        plugin = config["connector.class"].rsplit(".", 1)[-1]
        answer = self.request("PUT", f"/connector-plugins/{plugin}/config/validate", dict(config))
        errors: dict[str, list[str]] = {}
        for entry in answer.get("configs", []):
            value = entry.get("value") or {}  # Debezium leaves some defined keys without one
            if value.get("errors"):
                errors[str(value["name"])] = [str(e) for e in value["errors"]]
        return errors

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
