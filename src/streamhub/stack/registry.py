"""The schema registry process: ``streamhub registry serve`` kept running in the background."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from urllib.parse import urlparse

from streamhub.secrets_mask import mask_url
from streamhub.stack import process
from streamhub.stack.errors import StackError
from streamhub.stack.kafka_cluster import local_bootstrap
from streamhub.stack.service import Service, ServiceStatus


class Registry(Service):
    name = "registry"

    @property
    def address(self) -> tuple[str, int]:
        parsed = urlparse(self.settings.registry_url)
        return parsed.hostname or "127.0.0.1", parsed.port or 80

    def ready(self) -> bool:
        try:
            # registry_url is validated as http(s):// in Settings
            url = f"{self.settings.registry_url}/subjects"
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def up(self) -> str:
        if self.running_pid() is not None and self.ready():
            return "already running"
        host, port = self.address
        if host not in ("127.0.0.1", "localhost"):
            shown = mask_url(self.settings.registry_url)
            return f"not started here: {shown} is not a local address"
        if process.port_open(host, port):
            raise StackError(
                f"port {host}:{port} is taken by another process; stop it or set "
                "STREAMHUB_REGISTRY_URL to a free port"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            "STREAMHUB_KAFKA_BOOTSTRAP": local_bootstrap(self.settings),
            "STREAMHUB_REGISTRY_URL": self.settings.registry_url,
            "STREAMHUB_REGISTRY_TOPIC": self.settings.registry_topic,
            "STREAMHUB_DATA_DIR": str(self.settings.data_dir),
        }
        pid = process.spawn(
            [sys.executable, "-m", "streamhub", "registry", "serve"],
            self.log_file,
            self.pid_file,
            env,
        )
        process.wait_until(self.ready, "schema registry", 60, self.log_file, pid)
        return "started"

    def down(self) -> str:
        return self.stop_process(grace_s=15)

    def status(self) -> ServiceStatus:
        pid = self.running_pid()
        running = pid is not None and self.ready()
        return ServiceStatus(
            self.name,
            running,
            mask_url(self.settings.registry_url),
            pid,
            f"streamhub registry, topic {self.settings.registry_topic}",
        )
