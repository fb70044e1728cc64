"""The local Kafka cluster's layout: its nodes (ports, directories), kept in ``cluster.json``.

One node is the default (``<data_dir>/kafka/`` holds its data, as it always has). With
``streamhub stack up --brokers 3`` every node is a combined broker + controller: the three
controllers are the KRaft quorum (a majority of 2 survives the loss of one node, like the
partitions' min ISR), at three JVMs rather than six on a small machine. Node ``i`` listens
at the ``i``-th address of ``kafka_bootstrap``, or, when it names one address ``host:P``, at
``P + 2(i-1)``; its controller one port above. Each node has its own directory
``kafka/node-<i>/`` (data, config, pid file, logs). The layout is written to
``kafka/cluster.json`` on the first start, and ``stack status|down`` and a later
``stack up`` read it from there, so every node is handled whatever the options.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from streamhub.config import Settings
from streamhub.kafka.topics import min_insync_for, replication_for
from streamhub.stack import process
from streamhub.stack.errors import StackError

STATE_FILE = "cluster.json"
MAX_BROKERS = 5


@dataclass(frozen=True, slots=True)
class BrokerNode:
    """One combined broker + controller of the local cluster."""

    node_id: int
    host: str
    port: int
    controller_port: int
    home: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def controller_address(self) -> str:
        return f"{self.host}:{self.controller_port}"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def server_log(self) -> Path:
        return self.home / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.home / "stdout.log"

    def pid(self) -> int | None:
        """The node's pid if its process is alive."""
        pid = process.read_pid(self.pid_file)
        return pid if process.alive(pid) else None

    def to_json(self) -> dict[str, object]:
        return {
            "node_id": self.node_id,
            "host": self.host,
            "port": self.port,
            "controller_port": self.controller_port,
            "home": str(self.home),
            "pid_file": str(self.pid_file),
        }


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    nodes: tuple[BrokerNode, ...]
    cluster_id: str | None = None  # known once storage was formatted

    @property
    def bootstrap(self) -> str:
        """The full bootstrap list every client should be given."""
        return ",".join(node.address for node in self.nodes)

    @property
    def voters(self) -> str:
        return ",".join(f"{n.node_id}@{n.controller_address}" for n in self.nodes)

    def node(self, node_id: int) -> BrokerNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        known = ", ".join(str(n.node_id) for n in self.nodes)
        raise StackError(f"the local Kafka cluster has no node {node_id} (nodes: {known})")


def kafka_home(settings: Settings) -> Path:
    return settings.data_dir / "kafka"


def state_path(settings: Settings) -> Path:
    return kafka_home(settings) / STATE_FILE


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def planned_layout(settings: Settings, brokers: int | None = None) -> ClusterLayout:
    """The cluster this data dir holds (``cluster.json``), else the one the settings describe
    with ``brokers`` nodes (default: one per bootstrap address)."""
    saved = read_layout(settings)
    if saved is not None:
        if brokers is not None and brokers != len(saved.nodes):
            raise StackError(
                f"{state_path(settings)} holds a {len(saved.nodes)}-broker cluster, not "
                f"{brokers}: stop it (`streamhub stack down kafka`) and use another "
                "STREAMHUB_DATA_DIR, or remove its kafka/ directory to start afresh"
            )
        return saved
    addresses = settings.kafka_bootstrap.split(",")
    count = brokers if brokers is not None else len(addresses)
    if not 1 <= count <= MAX_BROKERS:
        raise StackError(f"--brokers must be 1..{MAX_BROKERS}, got {count}")
    if len(addresses) == count:
        hosts = [_split(a) for a in addresses]
    elif len(addresses) == 1:
        host, port = _split(addresses[0])
        hosts = [(host, port + 2 * i) for i in range(count)]
    else:
        raise StackError(
            f"STREAMHUB_KAFKA_BOOTSTRAP lists {len(addresses)} addresses for {count} "
            "broker(s): list one per broker, or one (the others take the ports after it)"
        )
    home = kafka_home(settings)
    nodes = tuple(
        BrokerNode(i, host, port, port + 1, home if count == 1 else home / f"node-{i}")
        for i, (host, port) in enumerate(hosts, start=1)
    )
    ports = [p for n in nodes for p in (n.port, n.controller_port)]
    if len(set(ports)) != len(ports):
        raise StackError(
            f"broker and controller ports collide ({sorted(ports)}): each node uses its "
            "port and the one above it; space the bootstrap addresses' ports by 2"
        )
    return ClusterLayout(nodes)


def read_layout(settings: Settings) -> ClusterLayout | None:
    path = state_path(settings)
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
        nodes = tuple(
            BrokerNode(
                int(n["node_id"]),
                str(n["host"]),
                int(n["port"]),
                int(n["controller_port"]),
                Path(n["home"]),
            )
            for n in document["nodes"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(f"{path} is not a cluster layout streamhub wrote ({exc})") from exc
    return ClusterLayout(nodes, document.get("cluster_id"))


def local_bootstrap(settings: Settings) -> str:
    """The bootstrap list the stack's own services (registry, Connect) are given: every node
    of the cluster this data dir runs, else the settings'."""
    layout = read_layout(settings)
    return layout.bootstrap if layout is not None else settings.kafka_bootstrap


def write_layout(settings: Settings, layout: ClusterLayout) -> None:
    document = {
        "cluster_id": layout.cluster_id,
        "bootstrap": layout.bootstrap,
        "nodes": [node.to_json() for node in layout.nodes],
    }
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def server_properties(layout: ClusterLayout, node: BrokerNode) -> str:
    """``server.properties`` of one node; replication of the internal topics follows the
    cluster's size (3 and min ISR 2 on three brokers, 1 on one)."""
    count = len(layout.nodes)
    replication = replication_for(count)
    min_isr = min_insync_for(replication)
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={layout.voters}",
            f"listeners=PLAINTEXT://{node.address},CONTROLLER://{node.controller_address}",
            f"advertised.listeners=PLAINTEXT://{node.address}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={node.data}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            # topics created without a replication factor (clients' own) get the cluster's
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={replication}",
            "offsets.topic.num.partitions=6",
            f"transaction.state.log.replication.factor={replication}",
            f"transaction.state.log.min.isr={min_isr}",
            "transaction.state.log.num.partitions=4",
            f"share.coordinator.state.topic.replication.factor={replication}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "unclean.leader.election.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.check.interval.ms=60000",
            "",
        ]
    )


def log4j_properties(node: BrokerNode) -> str:
    return "\n".join(
        [
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.file.ref=file",
            "appender.file.type=File",
            "appender.file.name=file",
            f"appender.file.fileName={node.server_log}",
            "appender.file.layout.type=PatternLayout",
            "appender.file.layout.pattern=[%d] %p %m (%c)%n",
            "logger.kafka.name=kafka",
            "logger.kafka.level=INFO",
            "logger.state.name=state.change.logger",
            "logger.state.level=WARN",
            "",
        ]
    )
