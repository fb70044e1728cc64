"""Crashes and fail-over: kill -9 the agent, or let a second agent take over; nothing missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.positions import PositionStore
from streamhub.config import Settings
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

from .helpers import changes_of, kafka_matches_source, wait_until, write_connector_files

START = datetime(2026, 3, 2, 10, 0)


def _agent(settings: Settings, directory: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STREAMHUB_CAPTURE_GROUP": settings.capture_group,
        "STREAMHUB_CAPTURE_POSITIONS_TOPIC": settings.capture_positions_topic,
    }
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "streamhub", "capture", "--connectors-dir", str(directory), *extra],
        env=env,
        stdout=handle,
        stderr=handle,
    )


def _simulation(
    settings: Settings, tmp_path: Path, directory: Path
) -> tuple[Simulation, list[ConnectorConfig]]:
    options = SimulationOptions(
        start=START,
        seed=33,
        hospitals=1,
        clinics=1,
        rate=250.0,
        duration_s=12.0,
        compression=360.0,
        db_prefix=f"cr{uuid.uuid4().hex[:6]}",
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    simulation.setup()
    connectors = [
        c for c in write_connector_files(settings, simulation, directory) if c.system == "his"
    ]
    for stale in directory.glob("*.yaml"):
        if not any(stale.name == f"{c.name}.yaml" for c in connectors):
            stale.unlink()
    return simulation, connectors


def _duplicates_identical(changes: list[dict[str, Any]]) -> list[str]:
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        source = change["source"]
        image = change["after"] or change["before"]
        identity = (source["connector"], source["table"], source["position_seq"], str(image))
        seen[identity].append(change)
    problems = []
    for identity, copies in seen.items():
        first = {k: v for k, v in copies[0].items() if k != "ts_ms"}
        for other in copies[1:]:
            if {k: v for k, v in other.items() if k != "ts_ms"} != first:
                problems.append(f"duplicate of {identity} differs")
    return problems


def _stop(*agents: subprocess.Popen[bytes]) -> None:
    for agent in agents:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
    for agent in agents:
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()


def test_kill_9_mid_stream_then_restart_loses_nothing(
    capture_settings: Settings, connectors_dir: Path, tmp_path: Path
) -> None:
    settings = capture_settings
    simulation, connectors = _simulation(settings, tmp_path, connectors_dir)
    log = tmp_path / "agent.log"
    first = _agent(settings, connectors_dir, log, "--standalone")
    second = None
    try:
        positions = PositionStore(settings)
        assert wait_until(lambda: all(positions.load(c.name) for c in connectors), 60), (
            log.read_text()
        )
        writer = threading.Thread(target=simulation.run, daemon=True)
        writer.start()
        time.sleep(5)
        first.send_signal(signal.SIGKILL)  # mid-stream, mid-snapshot for all we know
        first.wait(10)
        time.sleep(1)
        second = _agent(settings, connectors_dir, log, "--standalone")
        writer.join(60)
        assert kafka_matches_source(settings, connectors, 90) == []
        assert _duplicates_identical(changes_of(settings, connectors)) == []
    finally:
        _stop(first, *([second] if second else []))
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))


def _running(log: Path) -> set[str]:
    text = log.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line.startswith("running ")]
    if not lines:
        return set()
    names = lines[-1].split(":", 1)[1].strip()
    return set() if names == "none" else {n.strip() for n in names.split(",")}


def test_fail_over_moves_the_connectors_of_a_dead_agent_to_the_other(
    capture_settings: Settings, connectors_dir: Path, tmp_path: Path
) -> None:
    settings = capture_settings
    simulation, connectors = _simulation(settings, tmp_path, connectors_dir)
    names = {c.name for c in connectors}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    agents = [_agent(settings, connectors_dir, log) for log in logs]
    try:
        assert wait_until(
            lambda: (
                _running(logs[0]) | _running(logs[1]) == names
                and not (_running(logs[0]) & _running(logs[1]))
            ),
            60,
        ), [log.read_text() for log in logs]
        victim = 0 if _running(logs[0]) else 1
        writer = threading.Thread(target=simulation.run, daemon=True)
        writer.start()
        time.sleep(4)
        agents[victim].send_signal(signal.SIGKILL)
        survivor = logs[1 - victim]
        assert wait_until(lambda: _running(survivor) == names, 45), survivor.read_text()
        writer.join(60)
        assert kafka_matches_source(settings, connectors, 90) == []
    finally:
        _stop(*agents)
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))
