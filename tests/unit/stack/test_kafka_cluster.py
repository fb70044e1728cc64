"""The local Kafka cluster's layout: one node as always, or ``--brokers N`` combined
broker + controller nodes with their own ports and directories, kept in cluster.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamhub.config import Settings
from streamhub.stack.errors import StackError
from streamhub.stack.kafka import Kafka
from streamhub.stack.kafka_cluster import (
    local_bootstrap,
    planned_layout,
    read_layout,
    server_properties,
    write_layout,
)


def _settings(tmp_path: Path, bootstrap: str = "127.0.0.1:24092") -> Settings:
    return Settings(data_dir=tmp_path, kafka_bootstrap=bootstrap)


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_one_broker_keeps_the_single_node_layout(tmp_path: Path) -> None:
    layout = planned_layout(_settings(tmp_path))
    (node,) = layout.nodes
    assert (node.node_id, node.port, node.controller_port) == (1, 24092, 24093)
    assert node.home == tmp_path.resolve() / "kafka"  # where a one-broker stack always lived
    assert node.pid_file == tmp_path.resolve() / "kafka" / "kafka.pid"
    props = _props(server_properties(layout, node))
    assert props["controller.quorum.voters"] == "1@127.0.0.1:24093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    (line,) = Kafka(_settings(tmp_path)).statuses()  # `stack status` shows it as before
    assert (line.name, line.address, line.running) == ("kafka", "127.0.0.1:24092", False)


def test_three_brokers_from_one_address_take_the_ports_after_it(tmp_path: Path) -> None:
    layout = planned_layout(_settings(tmp_path), brokers=3)
    assert [(n.node_id, n.port, n.controller_port) for n in layout.nodes] == [
        (1, 24092, 24093),
        (2, 24094, 24095),
        (3, 24096, 24097),
    ]
    assert layout.bootstrap == "127.0.0.1:24092,127.0.0.1:24094,127.0.0.1:24096"
    assert len({n.home for n in layout.nodes}) == 3
    assert {n.home.name for n in layout.nodes} == {"node-1", "node-2", "node-3"}
    props = _props(server_properties(layout, layout.nodes[1]))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:24093,2@127.0.0.1:24095,3@127.0.0.1:24097"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:24094,CONTROLLER://127.0.0.1:24095"
    assert props["log.dirs"] == str(layout.nodes[1].data)
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert props[key] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"


def test_a_bootstrap_list_names_each_brokers_address(tmp_path: Path) -> None:
    bootstrap = "127.0.0.1:24100,127.0.0.1:24110,127.0.0.1:24120"
    layout = planned_layout(_settings(tmp_path, bootstrap))
    assert [n.port for n in layout.nodes] == [24100, 24110, 24120]
    assert layout.bootstrap == bootstrap


@pytest.mark.parametrize(
    ("bootstrap", "brokers", "match"),
    [
        ("127.0.0.1:24100,127.0.0.1:24110", 3, "lists 2 addresses for 3"),
        ("127.0.0.1:24100,127.0.0.1:24101", None, "ports collide"),
        ("127.0.0.1:24100", 9, "1..5"),
    ],
)
def test_an_impossible_layout_is_refused_with_what_to_change(
    tmp_path: Path, bootstrap: str, brokers: int | None, match: str
) -> None:
    with pytest.raises(StackError, match=match):
        planned_layout(_settings(tmp_path, bootstrap), brokers)


def test_the_written_layout_is_what_status_and_down_see(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert local_bootstrap(settings) == "127.0.0.1:24092"
    layout = planned_layout(settings, brokers=3)
    write_layout(settings, layout)
    # later commands without --brokers (status, down, broker start) find all three nodes
    assert read_layout(settings) == layout
    assert planned_layout(settings) == layout
    assert [s.name for s in Kafka(settings).statuses()] == ["kafka-1", "kafka-2", "kafka-3"]
    assert local_bootstrap(settings) == layout.bootstrap
    with pytest.raises(StackError, match="holds a 3-broker cluster, not 1"):
        planned_layout(settings, brokers=1)


def test_stopped_nodes_show_down_one_line_each(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    write_layout(settings, planned_layout(settings, brokers=3))
    kafka = Kafka(settings)
    assert not any(s.running for s in kafka.statuses())
    summary = kafka.status()
    assert not summary.running and "0/3 brokers up" in summary.detail
    assert kafka.stop_node(2) == "broker 2: not running"
    with pytest.raises(StackError, match="no node 7"):
        kafka.stop_node(7)
