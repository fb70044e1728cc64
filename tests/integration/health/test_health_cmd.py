"""`streamhub health` on the real stack: a simulated institution's link is healthy while its
capture agent runs, and its capture hop goes down, with the reason, once the agent stops."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.connector import load_connectors
from streamhub.config import Settings
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.kafka.groups import pin_to_end
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.sources import open_sources

from ..capture.helpers import wait_until

# lab limits: the connector beats every second, so 3 s is late and 6 s is gone
LIMITS = ("--threshold", "heartbeat_degraded_s=3", "--threshold", "heartbeat_down_s=6")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Status:
    def __init__(self, settings: Settings, connectors_dir: Path, tag: str) -> None:
        self.settings = settings
        self.env = {
            **os.environ,
            "STREAMHUB_PROJECT_DIR": str(settings.project_dir),
            "STREAMHUB_DATA_DIR": str(settings.data_dir),
            "STREAMHUB_CONNECTORS_DIR": str(connectors_dir),
            # this run's stage groups, pinned at the ends: other runs' backlogs are not ours
            "STREAMHUB_STANDARDIZE_GROUP": f"test-health-std-{tag}",
            "STREAMHUB_LANDER_GROUP": f"test-health-land-{tag}",
        }
        pin_to_end(settings, self.env["STREAMHUB_STANDARDIZE_GROUP"], list(RAW_TOPICS))
        pin_to_end(settings, self.env["STREAMHUB_LANDER_GROUP"], list(DEFAULT_ROUTES))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "streamhub", "health", *LIMITS, *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            cwd=self.settings.project_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_status_is_healthy_while_capturing_and_down_within_the_threshold_after(
    capture_settings: Settings, connectors_dir: Path, tmp_path: Path
) -> None:
    settings = capture_settings
    tag = uuid.uuid4().hex[:8]
    prefix = f"hl{tag}"
    options = SimulationOptions(
        start=datetime(2026, 3, 2, 9, 0),
        seed=int(tag, 16),  # the seed draws the credit code: no other run's institution
        hospitals=1,
        clinics=0,
        warm_up=False,
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    simulation.setup()
    documents = connector_documents(settings, simulation.institutions, simulation.dialects, prefix)
    file, document = next((f, d) for f, d in documents.items() if d["system"] == "his")
    write_connectors(connectors_dir, {file: document | {"heartbeat_s": 1}})
    [connector] = load_connectors(connectors_dir)
    name = connector.name
    institution = connector.institution_id
    status = Status(settings, connectors_dir, tag)
    port = free_port()
    server = subprocess.Popen(
        status.command("--serve", "--metrics-port", str(port), "--interval", "1"),
        env=status.env,
        cwd=settings.project_dir,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("wb"),
    )
    stop = threading.Event()
    agent = threading.Thread(
        target=CaptureAgent(settings, [connector], coordinated=False).run, args=(stop,)
    )
    agent.start()
    try:
        healthy: list[subprocess.CompletedProcess[str]] = []

        def is_healthy() -> bool:
            healthy[:] = [status.run("--format", "json", "--institution", institution)]
            return healthy[0].returncode == 0

        assert wait_until(is_healthy, 60), healthy[0].stdout[:2000] + healthy[0].stderr
        [shown] = json.loads(healthy[0].stdout)["institutions"]
        assert shown["overall"] == "healthy" and shown["reason"] == "all hops healthy"
        assert {hop["status"] for hop in shown["hops"].values()} == {"healthy"}
        assert shown["connectors"][0]["name"] == name
        assert shown["connectors"][0]["heartbeat_age_s"] < 3

        stop.set()
        stopped = time.monotonic()
        agent.join(60)
        down: list[subprocess.CompletedProcess[str]] = []

        def is_down() -> bool:
            down[:] = [status.run("--institution", institution)]
            return down[0].returncode == 4

        assert wait_until(is_down, 30, every_s=0.5), down[0].stdout + down[0].stderr
        took = time.monotonic() - stopped
        # the table: one row, capture down, the reason naming the connector and the limit
        header, row = down[0].stdout.splitlines()
        assert header.split()[:8] == [
            "INSTITUTION",
            "NAME",
            "OVERALL",
            "SOURCE",
            "CAPTURE",
            "CHANNEL",
            "PROCESSING",
            "CENTER",
        ]
        cells = row.split()
        assert cells[0] == institution
        assert "capture: " + name + ": last heartbeat" in row
        assert "(down after 6 s; is its capture agent running?)" in row
        assert row.count("down") >= 2  # overall and capture
        # within the threshold: first shown down when the last beat was 6 s old, give or
        # take one poll of `streamhub health` (about 3 s)
        reported = re.search(r"last heartbeat (\d+) s ago", row)
        assert reported, row
        age = int(reported.group(1))
        print(f"shown down {took:.1f} s after stop, with the last heartbeat {age} s old")
        assert 6 <= age <= 6 + 5, row

        # the exporter saw it too
        text = ""

        def exported_down() -> bool:
            nonlocal text
            text = scrape(port)
            return f'streamhub_health_link_state{{institution="{institution}"}} 2.0' in text

        assert wait_until(exported_down, 15), text[-3000:]
        assert (
            f'streamhub_health_hop_state{{hop="capture",institution="{institution}"}} 2.0' in text
        )
        assert f'streamhub_health_hop_state{{hop="source",institution="{institution}"}} 0.0' in text
        age_line = next(
            line
            for line in text.splitlines()
            if line.startswith("streamhub_health_heartbeat_age_seconds{")
            and f'connector="{name}"' in line
        )
        assert float(age_line.split()[-1]) >= 6
        assert 'streamhub_health_consumer_lag_messages{group="test-health-std-' in text
        assert (
            f'streamhub_health_dead_letters_per_minute{{institution="{institution}",stage="standardize"}}'
            in text
        )
        assert "streamhub_health_check_failures_count 0.0" in text
    finally:
        stop.set()
        agent.join(60)
        server.terminate()
        server.wait(30)
        sources = open_sources(settings, simulation.institutions[0].engine)
        try:
            for system in simulation.institutions[0].systems:
                sources.drop(simulation.institutions[0].database(prefix, system))
        finally:
            sources.close()
