"""Run the real simulator, capture and `streamhub anomaly run` together; read ops.anomaly.

The detector runs as the operator starts it (a subprocess of the CLI) with its own group,
suppressions topic and metrics port, watching only this run's connectors (``--connectors
PREFIX-*``), so concurrent runs and older runs' connectors on the shared topics are not
its business. The simulator and the capture agent run in this process, like the demo.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streamhub.anomaly.codec import OpsCodec
from streamhub.config import Settings
from streamhub.core.topic_names import ANOMALY
from streamhub.kafka.groups import topic_ends
from tests.integration.commands import run_streamhub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_minute_boundary(offset_s: float = 1.0) -> float:
    """Sleep until ``offset_s`` past the next wall-clock minute; that epoch time."""
    now = time.time()
    target = now - now % 60 + 60 + offset_s
    time.sleep(target - now)
    return target


@dataclass
class AnomalyRun:
    settings: Settings
    workdir: Path
    prefix: str  # this run's connector names start with f"{prefix}-"
    tag: str
    process: subprocess.Popen[bytes] | None = None
    metrics_port: int = field(default_factory=free_port)
    starts: dict[tuple[str, int], int] = field(default_factory=dict)
    log_offset: int = 0  # where this start's lines begin in anomaly.log

    @property
    def suppressions_topic(self) -> str:
        return f"_test_anomaly_suppressions_{self.tag}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STREAMHUB_PROJECT_DIR": str(self.settings.project_dir),
            "STREAMHUB_ANOMALY_GROUP": f"test-anomaly-{self.tag}",
        }

    def streamhub(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_streamhub(*args, env=self.env(), cwd=self.settings.project_dir, timeout=timeout)

    def start(self, *options: str) -> None:
        """Start the detector; ops.anomaly is read from where it ends now."""
        self.starts = topic_ends(self.settings, [ANOMALY])
        path = self.workdir / "anomaly.log"
        self.log_offset = path.stat().st_size if path.exists() else 0
        log = path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamhub",
                "--log-level",
                "info",
                "anomaly",
                "run",
                "--connectors",
                f"{self.prefix}-*",
                "--metrics-port",
                str(self.metrics_port),
                "--suppressions-topic",
                self.suppressions_topic,
                *options,
            ],
            env=self.env(),
            cwd=self.settings.project_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            if "[^Worker]: Ready" in self.log_since_start():
                return
            time.sleep(0.5)
        raise AssertionError(f"anomaly app not ready in {timeout_s}s:\n{self.log_tail()}")

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"anomaly app exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def log_since_start(self) -> str:
        with (self.workdir / "anomaly.log").open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "anomaly.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def events(self) -> list[dict[str, Any]]:
        """This run's ops.anomaly values (its connectors only), in detection order."""
        codec = OpsCodec(self.settings)
        ends = topic_ends(self.settings, [ANOMALY])
        wanted = {where: end for where, end in ends.items() if end > self.starts.get(where, 0)}
        consumer = Consumer(
            {"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": f"read-{self.tag}"}
        )
        out: list[dict[str, Any]] = []
        try:
            consumer.assign([TopicPartition(t, p, self.starts.get((t, p), 0)) for t, p in wanted])
            deadline = time.monotonic() + 60
            while wanted and time.monotonic() < deadline:
                for message in consumer.consume(500, timeout=1.0):
                    where = (message.topic() or "", message.partition() or 0)
                    if message.error() is not None or where not in wanted:
                        continue
                    record = codec.decode(message.value() or b"")
                    if str(record.get("connector") or "").startswith(f"{self.prefix}-"):
                        out.append(record)
                    if (message.offset() or 0) + 1 >= wanted[where]:
                        del wanted[where]
        finally:
            consumer.close()
        return sorted(out, key=lambda r: r["detected_ts_ms"])

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The app's streamhub_anomaly_* samples (empty while it does not serve yet)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.URLError:
            return {}
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("streamhub_anomaly_")
        }
