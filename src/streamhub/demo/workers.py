"""The pipeline's worker processes as the demo and benchmarks start them.

`streamhub standardize`, `streamhub land` and the operator plane (`reconcile run`,
`anomaly run`, `health --serve`) run as child processes, each serving its Prometheus
metrics on 127.0.0.1 (the ports of monitoring/prometheus.yml), logging to
``<data_dir>/demo/<name>.log``; so does the web app (`streamhub serve`). The lander owns
the embedded ClickHouse engine; the web app reads it through the lander's query endpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from streamhub.config import Settings
from streamhub.demo.errors import WorkerError

COMMANDS: dict[str, tuple[str, ...]] = {
    # every connector in one agent of its own, as on a hospital's front-end machine (the demo
    # runs its agent inside the demo process instead; benchmarks start it apart)
    "capture": ("capture", "--standalone"),
    "standardize": ("standardize",),
    "land": ("land",),
    "reconcile": ("reconcile", "run"),
    "anomaly": ("anomaly", "run"),
    "health": ("health", "--serve"),
    "serve": ("serve",),
}
METRICS_PORTS = {
    "standardize": 39101,
    "land": 39102,
    "reconcile": 39103,
    "anomaly": 39104,
    "health": 39105,
}
WEB_PORT = 38080
QUERY_PORT = 39106  # the lander's read-only query endpoint (settings.query_url)
STOP_TIMEOUT_S = 60.0


@dataclass
class Workers:
    settings: Settings
    connectors_dir: Path
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # added to every port (metrics, query endpoint, web app): runs side by side on one machine
    port_offset: int = 0

    def port(self, name: str) -> int:
        """The TCP port of ``name`` ("query", "web" or a metrics-serving worker)."""
        base = {"query": QUERY_PORT, "web": WEB_PORT, **METRICS_PORTS}[name]
        return base + self.port_offset

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STREAMHUB_PROJECT_DIR": str(self.settings.project_dir),
            "STREAMHUB_DATA_DIR": str(self.settings.data_dir),
            "STREAMHUB_CONNECTORS_DIR": str(self.connectors_dir),
            "STREAMHUB_PROFILES_DIR": str(self.settings.profiles_path),
            **self.extra_env,
        }

    def run_once(self, *args: str) -> str:
        """A one-shot command (e.g. `clickhouse migrate`); its output, or WorkerError."""
        done = subprocess.run(
            [sys.executable, "-m", "streamhub", *args],
            env=self.env(),
            cwd=self.settings.project_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise WorkerError(
                f"`streamhub {' '.join(args)}` failed: {done.stderr.strip()[-800:]}",
                worker=args[0] if args else None,
            )
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "streamhub",
            "--log-level",
            "info",
            *COMMANDS[name],
            *(("--metrics-port", str(self.port(name))) if name in METRICS_PORTS else ()),
            *args,
        ]
        self.processes[name] = subprocess.Popen(
            command,
            env=self.env(),
            cwd=self.settings.project_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def metrics_urls(self) -> list[str]:
        return [
            f"http://127.0.0.1:{self.port(name)}/metrics"
            for name in self.processes
            if name in METRICS_PORTS
        ]

    def peak_rss_mb(self) -> dict[str, float]:
        """Each running worker's peak resident memory so far (Linux's VmHWM), in MiB."""
        peaks: dict[str, float] = {}
        for name, process in self.processes.items():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except OSError:  # exited, or not Linux
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = int(line.split()[1]) / 1024
        return peaks

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise WorkerError(
                    f"`streamhub {name}` exited with {process.returncode}; "
                    f"see {self.log_dir / (name + '.log')}",
                    worker=name,
                )

    def stop(self) -> dict[str, int]:
        """SIGTERM each (they flush and commit), then wait; the exit codes."""
        codes: dict[str, int] = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.processes.clear()
        return codes
