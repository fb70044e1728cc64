"""Single-node Apache Kafka in KRaft mode, from Maven Central jars, on the machine's Java 17."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from streamhub.stack import process
from streamhub.stack.errors import StackError
from streamhub.stack.maven import resolve_jars
from streamhub.stack.service import Service, ServiceStatus

POM = "kafka-broker.pom.xml"


def _first_host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host.strip("[]"), int(port)


class Kafka(Service):
    name = "kafka"

    @property
    def lib(self) -> Path:
        return self.home / "lib"

    @property
    def address(self) -> tuple[str, int]:
        return _first_host_port(self.settings.kafka_bootstrap)

    def ensure_jars(self) -> bool:
        """Resolve the pinned broker jars with Maven; cached until the pom changes."""
        return resolve_jars(POM, self.home, {None: self.lib}, "Kafka broker jars")

    def _render_config(self) -> Path:
        host, port = self.address
        data = self.home / "data"
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{host}:{port + 1}",
                    f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{port + 1}",
                    f"advertised.listeners=PLAINTEXT://{host}:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.check.interval.ms=60000",
                    "",
                ]
            )
        )
        log4j = self.home / "log4j2.properties"
        log4j.write_text(
            "\n".join(
                [
                    "rootLogger.level=INFO",
                    "rootLogger.appenderRef.file.ref=file",
                    "appender.file.type=File",
                    "appender.file.name=file",
                    f"appender.file.fileName={self.home / 'server.log'}",
                    "appender.file.layout.type=PatternLayout",
                    "appender.file.layout.pattern=[%d] %p %m (%c)%n",
                    "logger.kafka.name=kafka",
                    "logger.kafka.level=INFO",
                    "logger.state.name=state.change.logger",
                    "logger.state.level=WARN",
                    "",
                ]
            )
        )
        return config

    def _java(self, main: str, *args: str, heap: bool = False) -> list[str]:
        opts = ["-Xms256m", f"-Xmx{self.settings.kafka_heap_mb}m"] if heap else ["-Xmx256m"]
        return [
            "java",
            *opts,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            main,
            *args,
        ]

    def ready(self) -> bool:
        host, port = self.address
        if not process.port_open(host, port):
            return False
        try:
            metadata = AdminClient(
                {"bootstrap.servers": self.settings.kafka_bootstrap}
            ).list_topics(timeout=2)
        except Exception:
            return False
        return len(metadata.brokers) > 0

    def up(self) -> str:
        if self.running_pid() is not None and self.ready():
            return "already running"
        fetched = self.ensure_jars()
        config = self._render_config()
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            process.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(config),
                    "--ignore-formatted",
                ),
                "formatting Kafka storage",
            )
        host, port = self.address
        if process.port_open(host, port):
            raise StackError(
                f"port {host}:{port} is taken by another process; stop it or set "
                "STREAMHUB_KAFKA_BOOTSTRAP to a free port"
            )
        pid = process.spawn(
            self._java("kafka.Kafka", str(config), heap=True),
            self.home / "stdout.log",
            self.pid_file,
        )
        process.wait_until(self.ready, "Kafka broker", 90, self.home / "server.log", pid)
        return "started" + (" (broker jars resolved from Maven Central)" if fetched else "")

    def _cluster_id(self) -> str:
        return new_cluster_id()

    def down(self) -> str:
        return self.stop_process(grace_s=45)

    def status(self) -> ServiceStatus:
        host, port = self.address
        pid = self.running_pid()
        running = pid is not None and self.ready()
        version = "kafka (KRaft)"
        jars = sorted(self.lib.glob("kafka_2.13-*.jar")) if self.lib.exists() else []
        if jars:
            version = "kafka " + jars[0].stem.removeprefix("kafka_2.13-") + " (KRaft)"
        return ServiceStatus(
            self.name, running, f"{host}:{port}", pid if running else None, version
        )


def new_cluster_id() -> str:
    """A random UUID in the URL-safe base64 form KRaft expects, never starting with ``-``:
    one in 64 would, and the storage tool's argument parser then takes it for an option
    (Kafka's own ``Uuid.randomUuid`` skips those for the same reason)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
