"""The fault run's processes and the supervisor that starts them again after a kill.

Each process is a `streamhub` command line run as a child (the capture agent inside the
run's network namespace). A process killed by the run is started again after its
restart delay, as a supervisor (systemd, Kubernetes) would; one that exits on its own is
started again too, after the default delay, and counted as an unplanned exit (no fault
aimed at it: a fault elsewhere took it down).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Proc:
    name: str
    command: tuple[str, ...]  # after `streamhub`
    prefix: tuple[str, ...] = ()  # e.g. `ip netns exec <ns>`
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0


@dataclass
class Supervisor:
    log_dir: Path
    env: Callable[[], dict[str, str]]
    cwd: Path
    default_delay_s: float = 5.0
    procs: dict[str, Proc] = field(default_factory=dict)
    unplanned: list[str] = field(default_factory=list)  # "name exit N at T s"
    restarts: list[tuple[str, float, float]] = field(default_factory=list)  # name, kill, up
    lock: threading.Lock = field(default_factory=threading.Lock)
    down: set[str] = field(default_factory=set)  # killed, waiting for their restart
    stopping: bool = False
    t0: float = field(default_factory=time.monotonic)

    def add(self, name: str, *command: str, prefix: tuple[str, ...] = ()) -> None:
        self.procs[name] = Proc(name, command, prefix)
        self.start(name)

    def start(self, name: str) -> None:
        proc = self.procs[name]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        log.write(f"\n=== start {proc.starts + 1} at {self.elapsed():.1f} s\n".encode())
        log.flush()
        proc.popen = subprocess.Popen(
            [*proc.prefix, sys.executable, "-m", "streamhub", "--log-level", "info",
             *proc.command],
            env=self.env(),
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        proc.starts += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def kill9(self, name: str, delay_s: float) -> None:
        """SIGKILL ``name`` now and start it again ``delay_s`` later (blocks that long)."""
        proc = self.procs[name]
        with self.lock:
            self.down.add(name)
        killed_at = self.elapsed()
        if proc.popen is not None and proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(30)
        time.sleep(delay_s)
        with self.lock:
            if not self.stopping:
                self.start(name)
            self.down.discard(name)
        self.restarts.append((name, killed_at, self.elapsed()))

    def watch(self) -> None:
        """Start again what exited on its own (call every second or so)."""
        with self.lock:
            if self.stopping:
                return
            exited = [
                p
                for p in self.procs.values()
                if p.name not in self.down and p.popen is not None and p.popen.poll() is not None
            ]
            for proc in exited:
                code = proc.popen.returncode if proc.popen is not None else None
                self.unplanned.append(f"{proc.name} exited {code} at {self.elapsed():.0f} s")
                self.down.add(proc.name)
                threading.Thread(target=self._later, args=(proc.name,), daemon=True).start()

    def _later(self, name: str) -> None:
        time.sleep(self.default_delay_s)
        with self.lock:
            if not self.stopping:
                self.start(name)
            self.down.discard(name)

    def stop(self, name: str, timeout_s: float = 60.0) -> None:
        proc = self.procs.pop(name)
        if proc.popen is not None and proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for name in list(self.procs):
            self.stop(name)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
