"""A real Prometheus (the Debian package's binary) on monitoring/prometheus.yml, re-pointed
at a test's processes: 1 s scrapes and rule evaluations, its own storage and port."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streamhub.stack.prometheus import PrometheusTools


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape_config(monitoring: Path, targets: dict[str, str]) -> dict[str, Any]:
    """monitoring/prometheus.yml with every job's targets replaced by ``targets[job]``
    (host:port); a job of the file missing from ``targets`` is an error, not skipped."""
    config: dict[str, Any] = yaml.safe_load((monitoring / "prometheus.yml").read_text())
    config["global"] = {**config.get("global", {}), "scrape_interval": "1s",
                        "evaluation_interval": "1s", "scrape_timeout": "1s"}  # fmt: skip
    config["rule_files"] = [str((monitoring / f).resolve()) for f in config["rule_files"]]
    for job in config["scrape_configs"]:
        name = job["job_name"]
        if name not in targets:
            raise KeyError(f"no test target for scrape job {name}")
        for static in job["static_configs"]:
            static["targets"] = [targets[name]]
    return config


@dataclass
class PrometheusServer:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(
        cls, tools: PrometheusTools, config: dict[str, Any], workdir: Path
    ) -> PrometheusServer:
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        port = free_port()
        log = workdir / "prometheus.log"
        process = subprocess.Popen(
            [
                str(tools.server),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        server = cls(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"prometheus exited {process.returncode}:\n{server.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        server.stop()
        raise AssertionError(f"prometheus not ready after 30 s:\n{server.log_tail()}")

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of a /api/v1 answer; AssertionError with Prometheus's error otherwise."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result = data["result"]
        return result if data["resultType"] in ("vector", "matrix") else [{"value": result}]

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
