"""Apache Kafka in KRaft mode, from Maven Central jars, on the machine's Java 17: one node by
default, or a cluster of combined broker + controller nodes (``stack up --brokers 3``; the
layout is in :mod:`streamhub.stack.kafka_cluster`).

Single nodes can be stopped and started again (``streamhub stack broker stop|start ID``,
:meth:`Kafka.stop_node` / :meth:`Kafka.start_node`) for fault tests.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import os
import signal
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from streamhub.config import Settings
from streamhub.stack import process
from streamhub.stack.errors import StackError
from streamhub.stack.kafka_cluster import (
    BrokerNode,
    ClusterLayout,
    log4j_properties,
    planned_layout,
    read_layout,
    server_properties,
    write_layout,
)
from streamhub.stack.maven import resolve_jars
from streamhub.stack.service import Service, ServiceStatus

POM = "kafka-broker.pom.xml"
START_TIMEOUT_S = 120.0


class Kafka(Service):
    name = "kafka"

    def __init__(self, settings: Settings, brokers: int | None = None) -> None:
        super().__init__(settings)
        self.brokers = brokers  # None: what the data dir holds, else one per bootstrap address

    @property
    def lib(self) -> Path:
        return self.home / "lib"

    @property
    def layout(self) -> ClusterLayout:
        return planned_layout(self.settings, self.brokers)

    @property
    def nodes(self) -> tuple[BrokerNode, ...]:
        return self.layout.nodes

    @property
    def pid_file(self) -> Path:
        return self.nodes[0].pid_file

    def ensure_jars(self) -> bool:
        """Resolve the pinned broker jars with Maven; cached until the pom changes."""
        return resolve_jars(POM, self.home, {None: self.lib}, "Kafka broker jars")

    def _java(self, node: BrokerNode, main: str, *args: str, heap: bool = False) -> list[str]:
        opts = ["-Xms256m", f"-Xmx{self.settings.kafka_heap_mb}m"] if heap else ["-Xmx256m"]
        return [
            "java",
            *opts,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={node.home / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            main,
            *args,
        ]

    # readiness -----------------------------------------------------------------------

    def _brokers_seen(self, bootstrap: str) -> set[int]:
        try:
            # a probe: a down node is an answer here, not something for stderr
            admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return set()
        return set(metadata.brokers)

    def node_ready(self, node: BrokerNode) -> bool:
        """The node answers on its own address and counts itself among the brokers."""
        return process.port_open(node.host, node.port) and node.node_id in self._brokers_seen(
            node.address
        )

    def ready(self) -> bool:
        """Every node is registered with the cluster (a topic of 3 replicas can be created)."""
        layout = self.layout
        if not any(process.port_open(n.host, n.port) for n in layout.nodes):
            return False
        wanted = {n.node_id for n in layout.nodes}
        return wanted <= self._brokers_seen(layout.bootstrap)

    # start / stop --------------------------------------------------------------------

    def up(self) -> str:
        layout = self.layout
        if all(n.pid() is not None for n in layout.nodes) and self.ready():
            return "already running" + self._describe(layout)
        fetched = self.ensure_jars()
        layout = self._format(layout)
        started = [self._spawn(layout, n) for n in layout.nodes if n.pid() is None]
        # a quorum elects its leader only once a majority runs: start all, then wait
        for node, pid in started:
            process.wait_until(
                functools.partial(self.node_ready, node),
                f"Kafka broker {node.node_id} ({node.address})",
                START_TIMEOUT_S,
                node.server_log,
                pid,
            )
        process.wait_until(self.ready, "Kafka cluster", START_TIMEOUT_S, None)
        outcome = "started" + self._describe(layout)
        return outcome + (" (broker jars resolved from Maven Central)" if fetched else "")

    def _describe(self, layout: ClusterLayout) -> str:
        if len(layout.nodes) == 1:
            return ""
        return f" ({len(layout.nodes)} brokers, bootstrap {layout.bootstrap})"

    def _format(self, layout: ClusterLayout) -> ClusterLayout:
        """Write each node's config; format new storage with the cluster's one id."""
        cluster_id = layout.cluster_id or _existing_cluster_id(layout) or new_cluster_id()
        layout = dataclasses.replace(layout, cluster_id=cluster_id)
        for node in layout.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            node.config.write_text(server_properties(layout, node))
            (node.home / "log4j2.properties").write_text(log4j_properties(node))
            if (node.data / "meta.properties").exists():
                continue
            process.run(
                self._java(
                    node,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(node.config),
                    "--ignore-formatted",
                ),
                f"formatting Kafka storage of node {node.node_id}",
            )
        write_layout(self.settings, layout)
        return layout

    def _spawn(self, layout: ClusterLayout, node: BrokerNode) -> tuple[BrokerNode, int]:
        if process.port_open(node.host, node.port):
            raise StackError(
                f"port {node.address} is taken by another process; stop it or set "
                "STREAMHUB_KAFKA_BOOTSTRAP to free ports"
            )
        pid = process.spawn(
            self._java(node, "kafka.Kafka", str(node.config), heap=True),
            node.stdout_log,
            node.pid_file,
        )
        return node, pid

    def start_node(self, node_id: int) -> str:
        """Start one stopped node of an existing cluster again (with its data, as a
        supervisor would); wait until it is registered."""
        layout = read_layout(self.settings)
        if layout is None:
            raise StackError(
                f"no Kafka cluster in {self.settings.data_dir}; start it with `streamhub stack up`"
            )
        node = layout.node(node_id)
        if node.pid() is not None:
            return f"broker {node_id}: already running"
        node, pid = self._spawn(layout, node)
        process.wait_until(
            lambda: self.node_ready(node),
            f"Kafka broker {node_id} ({node.address})",
            START_TIMEOUT_S,
            node.server_log,
            pid,
        )
        return f"broker {node_id}: started (pid {pid}, {node.address})"

    def stop_node(self, node_id: int, kill: bool = False) -> str:
        """Stop one node: SIGTERM and a clean shutdown, or SIGKILL at once (``kill``)."""
        node = self.layout.node(node_id)
        pid = node.pid()
        if pid is None:
            return f"broker {node_id}: not running"
        if kill:
            os.kill(pid, signal.SIGKILL)
            process.wait_until(lambda: not process.alive(pid), f"broker {node_id} to die", 10, None)
        else:
            process.terminate(pid, f"kafka broker {node_id}", grace_s=45)
        node.pid_file.unlink(missing_ok=True)
        return f"broker {node_id}: {'killed' if kill else 'stopped'}"

    def down(self) -> str:
        """Stop every node. All are asked at once: one by one, the last ones would wait out
        their grace for a controller quorum that the first ones took away."""
        nodes = self.nodes
        pids = {node: node.pid() for node in nodes}
        for pid in pids.values():
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        for node, pid in pids.items():
            if pid is not None:
                process.terminate(pid, f"kafka broker {node.node_id}", grace_s=45)
                node.pid_file.unlink(missing_ok=True)
        if len(nodes) == 1:
            return "not running" if pids[nodes[0]] is None else "stopped"
        stopped = sum(pid is not None for pid in pids.values())
        return f"{stopped} of {len(nodes)} brokers stopped" + (
            f" ({len(nodes) - stopped} were not running)" if stopped < len(nodes) else ""
        )

    # status --------------------------------------------------------------------------

    def status(self) -> ServiceStatus:
        """The cluster as one line: up when every node runs and is registered."""
        layout = self.layout
        nodes = self.node_statuses()
        running = all(s.running for s in nodes)
        detail = self._version()
        if len(nodes) > 1:
            up = sum(s.running for s in nodes)
            detail += f", {up}/{len(nodes)} brokers up"
        pid = nodes[0].pid if len(nodes) == 1 else None
        return ServiceStatus(self.name, running, layout.bootstrap, pid, detail)

    def node_statuses(self) -> list[ServiceStatus]:
        """One line per node (``kafka-<id>`` on a cluster, ``kafka`` alone)."""
        nodes = self.nodes
        seen = self._brokers_seen(self.layout.bootstrap)
        found = []
        for node in nodes:
            pid = node.pid()
            running = pid is not None and node.node_id in seen
            name = self.name if len(nodes) == 1 else f"{self.name}-{node.node_id}"
            found.append(
                ServiceStatus(
                    name, running, node.address, pid if running else None, self._version()
                )
            )
        return found

    def statuses(self) -> list[ServiceStatus]:
        return self.node_statuses()

    def _version(self) -> str:
        jars = sorted(self.lib.glob("kafka_2.13-*.jar")) if self.lib.exists() else []
        if jars:
            return "kafka " + jars[0].stem.removeprefix("kafka_2.13-") + " (KRaft)"
        return "kafka (KRaft)"


def _existing_cluster_id(layout: ClusterLayout) -> str | None:
    """The id formatted into a node's storage (a data dir from before ``cluster.json``)."""
    for node in layout.nodes:
        meta = node.data / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None


def new_cluster_id() -> str:
    """A random UUID in the URL-safe base64 form KRaft expects, never starting with ``-``:
    one in 64 would, and the storage tool's argument parser then takes it for an option
    (Kafka's own ``Uuid.randomUuid`` skips those for the same reason)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
