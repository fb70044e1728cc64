"""A private Kafka + registry for one region run: its own data dir and ports.

Each N of bench/region.py gets a stack of its own (fresh topics, fresh consumer groups, a
fresh embedded ClickHouse under the data dir), so a run's windows never meet another run's,
and the shared stack other work uses is never touched. `streamhub stack up kafka registry`
with STREAMHUB_DATA_DIR / STREAMHUB_KAFKA_BOOTSTRAP (controller on port + 1) /
STREAMHUB_REGISTRY_URL pointing elsewhere; `stack down` with the same variables stops only
the processes whose pid files are in that data dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streamhub.config import Settings, load_settings

KAFKA_PORT = 29092  # and 29093 for its controller
REGISTRY_PORT = 28181
# Workers' ports (metrics 39101.., query 39106, web 38080) + this: clear of the demo's
# and below the ephemeral range (32768-60999), where a client socket can hold a port
PORT_OFFSET = -10_000


class StackStartError(RuntimeError):
    """The private stack did not come up; the message names the command and its output."""


@dataclass
class PrivateStack:
    data_dir: Path
    kafka_port: int = KAFKA_PORT
    registry_port: int = REGISTRY_PORT

    def env(self) -> dict[str, str]:
        return {
            "STREAMHUB_DATA_DIR": str(self.data_dir),
            "STREAMHUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
            "STREAMHUB_REGISTRY_URL": f"http://127.0.0.1:{self.registry_port}",
        }

    def settings(self, **overrides: object) -> Settings:
        """The settings every process of this run sees (the environment's, re-pointed)."""
        saved = {name: os.environ.get(name) for name in self.env()}
        os.environ.update(self.env())
        try:
            return load_settings(**overrides)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _streamhub(self, *args: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamhub", *args],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def up(self, attempts: int = 3) -> None:
        """Kafka, the registry, the topic catalog. A registry started while Kafka is still
        electing the leader of _schemas exits (NOT_LEADER_FOR_PARTITION): tried again."""
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        steps = (("stack", "up", "kafka", "registry"), ("topics", "apply"))
        for step in steps:
            for attempt in range(1, attempts + 1):
                done = self._streamhub(*step)
                if done.returncode == 0:
                    break
                if attempt == attempts:
                    raise StackStartError(
                        f"`streamhub {' '.join(step)}` with {self.env()} failed:\n"
                        f"{(done.stdout + done.stderr)[-1500:]}"
                    )
                time.sleep(5)

    def down(self) -> None:
        self._streamhub("stack", "down", "registry", "kafka", timeout_s=120)
