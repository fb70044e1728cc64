"""What every local-stack service offers, and their registry by name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from streamhub.config import Settings
from streamhub.stack import process


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    running: bool
    address: str
    pid: int | None = None
    detail: str = ""


class Service(ABC):
    """A local process-backed service. ``up``/``down`` are idempotent."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_dir / self.name

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    def running_pid(self) -> int | None:
        """The service's pid if its process is alive."""
        pid = process.read_pid(self.pid_file)
        return pid if process.alive(pid) else None

    def stop_process(self, grace_s: float) -> str:
        """Stop a process started by ``process.spawn``: SIGTERM, then SIGKILL after grace."""
        pid = self.running_pid()
        if pid is None:
            return "not running"
        process.terminate(pid, self.name, grace_s=grace_s)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"

    @abstractmethod
    def up(self) -> str:
        """Install if missing, initialise if new, start if stopped; say what was done."""

    @abstractmethod
    def down(self) -> str:
        """Stop if running; say what was done."""

    @abstractmethod
    def status(self) -> ServiceStatus: ...

    def statuses(self) -> list[ServiceStatus]:
        """One line per process (a Kafka cluster has one per broker)."""
        return [self.status()]
