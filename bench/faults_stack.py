"""The stack a fault run runs against, and the faults that hit its services.

``PrivateFaultStack``: Kafka (one broker, or three with ``--brokers 3``), the registry,
PostgreSQL and MariaDB of the run's own (STREAMHUB_DATA_DIR and ports of its own, like
bench/region_stack.py), so restarting a database or killing a broker never touches the
shared stack. ``SharedStack``: the environment's stack as it is (the short round in the
test suite), where only the run's own processes may be hit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from streamhub.config import Settings, load_settings

KAFKA_PORT = 27092  # the controller of a single broker on + 1
REGISTRY_PORT = 27181
POSTGRES_PORT = 27432
MARIADB_PORT = 27306


class StackFaultError(RuntimeError):
    """A service of the private stack could not be started, stopped or found."""


def _ports_of(bootstrap: str) -> list[int]:
    return [int(part.rpartition(":")[2]) for part in bootstrap.split(",") if part.strip()]


@dataclass
class SharedStack:
    """The stack of the environment (the test suite's): nothing of it is restarted."""

    overrides: dict[str, str] = field(default_factory=dict)
    brokers: int = 1
    private = False

    @property
    def owns_databases(self) -> bool:
        """Whether the databases are the run's own (restartable, removed with the stack)."""
        return False

    def env(self) -> dict[str, str]:
        return dict(self.overrides)

    def settings(self) -> Settings:
        return load_settings()

    def forwarded_ports(self, settings: Settings) -> dict[int, str]:
        """The ports the capture agent needs, by group (only ``kafka`` is ever cut)."""
        ports = {port: "kafka" for port in _ports_of(settings.kafka_bootstrap)}
        ports[urlsplit(settings.registry_url).port or 80] = "registry"
        ports[settings.postgres_port] = "postgres"
        ports[settings.mariadb_port] = "mariadb"
        return ports

    def up(self) -> None:
        """Nothing: the shared stack is up (the test suite checks it)."""

    def down(self) -> None:
        """Nothing: the shared stack is never stopped."""


@dataclass
class PrivateFaultStack(SharedStack):
    data_dir: Path = Path("/tmp/streamhub-faults/data")  # noqa: S108 - a bench's scratch
    shift: int = 0  # added to every port: runs side by side
    # the services of its own; the others are the environment's (the test's round keeps the
    # shared databases, whose passwords ``secrets_from`` holds)
    services: tuple[str, ...] = ("kafka", "registry", "postgres", "mariadb")
    secrets_from: Path | None = None
    private = True

    @property
    def owns_databases(self) -> bool:
        return {"postgres", "mariadb"} <= set(self.services)

    @property
    def kafka_port(self) -> int:
        return KAFKA_PORT + self.shift

    def bootstrap(self) -> str:
        # three brokers: 127.0.0.1:<port>, <port> + 2, <port> + 4 (see `stack up --brokers`)
        return ",".join(f"127.0.0.1:{self.kafka_port + 2 * n}" for n in range(max(1, self.brokers)))

    def env(self) -> dict[str, str]:
        return {
            "STREAMHUB_DATA_DIR": str(self.data_dir),
            "STREAMHUB_KAFKA_BOOTSTRAP": self.bootstrap(),
            "STREAMHUB_REGISTRY_URL": f"http://127.0.0.1:{REGISTRY_PORT + self.shift}",
            "STREAMHUB_KAFKA_HEAP_MB": "384",  # up to nine brokers side by side
            **(
                {"STREAMHUB_POSTGRES_PORT": str(POSTGRES_PORT + self.shift)}
                if "postgres" in self.services
                else {}
            ),
            **(
                {"STREAMHUB_MARIADB_PORT": str(MARIADB_PORT + self.shift)}
                if "mariadb" in self.services
                else {}
            ),
            **self.overrides,
        }

    def settings(self) -> Settings:
        saved = {name: os.environ.get(name) for name in self.env()}
        os.environ.update(self.env())
        try:
            return load_settings()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def streamhub(self, *args: str, timeout_s: float = 300.0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "streamhub", *args],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise StackFaultError(
                f"`streamhub {' '.join(args)}` on the private stack ({self.data_dir}) failed:\n"
                f"{(done.stdout + done.stderr)[-1500:]}"
            )
        return done.stdout

    def _up_args(self) -> tuple[str, ...]:
        return ("--brokers", str(self.brokers)) if self.brokers > 1 else ()

    def up(self, attempts: int = 3) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        if self.secrets_from is not None:
            shutil.copytree(self.secrets_from, self.data_dir / "secrets")
        steps = (
            ("stack", "up", *self._up_args(), *self.services),
            ("topics", "apply"),
        )
        for step in steps:
            for attempt in range(1, attempts + 1):
                try:
                    self.streamhub(*step, timeout_s=900)  # three brokers on a busy machine
                    break
                except StackFaultError:
                    if attempt == attempts:
                        raise
                    time.sleep(5)

    def down(self) -> None:
        try:
            self.streamhub("stack", "down", *reversed(self.services), timeout_s=240)
        except (StackFaultError, subprocess.TimeoutExpired) as exc:
            print(f"private stack down: {exc}", flush=True)

    # -- faults on services -----------------------------------------------------------------
    def stop_database(self, name: str) -> None:
        self.streamhub("stack", "down", name, timeout_s=600)

    def start_database(self, name: str) -> None:
        self.streamhub("stack", "up", name, timeout_s=900)

    def kill_broker(self, node: str) -> int:
        """SIGKILL one broker at once (a lost machine): its pid from the cluster layout
        `stack up --brokers` wrote (the CLI's `stack broker stop --kill` takes a Python start,
        tens of seconds on a loaded machine)."""
        layout = json.loads((self.data_dir / "kafka" / "cluster.json").read_text())
        found = [n for n in layout["nodes"] if str(n["node_id"]) == node]
        if not found:
            raise StackFaultError(f"no broker {node} in {self.data_dir}/kafka/cluster.json")
        pid = int(Path(found[0]["pid_file"]).read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        return pid

    def start_broker(self, node: str) -> None:
        self.streamhub("stack", "broker", "start", node, timeout_s=900)
