"""What bench/region.py watches while a run goes: each process's CPU and peak memory, when a
restarted process works again, and the reconciliation verdicts as they are published."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from proc_usage import cpu_seconds  # bench/, on the path

from streamhub.anomaly.codec import OpsCodec
from streamhub.config import Settings
from streamhub.kafka.groups import committed_lags, topic_ends


def _hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class Usage(threading.Thread):
    """Every ``interval_s``: each named process's CPU seconds (per pid, so a process killed
    and restarted keeps what its earlier incarnations used) and its peak RSS (VmHWM)."""

    def __init__(self, pids: Callable[[], dict[str, int]], interval_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval_s = interval_s
        self.cpu: dict[str, dict[int, float]] = {}
        self.peak_mb: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def sample(self) -> None:
        with self._lock:
            for name, pid in self.pids().items():
                used = cpu_seconds(pid)
                if used > 0:
                    self.cpu.setdefault(name, {})[pid] = used
                hwm = _hwm_mb(pid)
                if hwm is not None:
                    self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), hwm)

    def cpu_now(self) -> dict[str, float]:
        self.sample()
        with self._lock:
            return {name: sum(per_pid.values()) for name, per_pid in self.cpu.items()}

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()


def committed_total(settings: Settings, group: str, topics: list[str]) -> int:
    lags = committed_lags(settings.kafka_bootstrap, group, topics)
    return sum(lag.committed for lag in lags if lag.has_commit)


def wait_ready(probe: Callable[[], bool], timeout_s: float, poll_s: float = 0.5) -> float | None:
    """Seconds until ``probe`` holds, or None after ``timeout_s``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        # not up yet: connection refused, no group yet
        with contextlib.suppress(Exception):
            if probe():
                return time.monotonic() - began
        time.sleep(poll_s)
    return None


def group_moved(settings: Settings, group: str, topics: list[str]) -> Callable[[], bool]:
    """A probe: the group committed past where it stood when the probe was made (the
    restarted process consumes and commits again)."""
    before = committed_total(settings, group, topics)
    return lambda: committed_total(settings, group, topics) > before


def http_ok(url: str, contains: str | None = None) -> Callable[[], bool]:
    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            body = answer.read().decode("utf-8", "replace")
            return answer.status < 500 and (contains is None or contains in body)

    return probe


def health_checked_since(url: str, since_s: float, metric: str) -> Callable[[], bool]:
    """A probe: `health --serve` has finished a check that began after ``since_s``."""

    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            for line in answer.read().decode().splitlines():
                if line.startswith(metric) and float(line.split()[-1]) >= since_s:
                    return True
        return False

    return probe


class TopicFollower:
    """Reads an ops topic from its start as it grows; ``poll`` hands over the new records."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.codec = OpsCodec(settings)
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"bench-region-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        ends = topic_ends(settings, [topic])
        self.consumer.assign([TopicPartition(t, p, 0) for t, p in ends])
        self.settings = settings
        self.topic = topic

    def poll(self, settle_s: float = 1.0) -> list[dict[str, Any]]:
        """Everything up to the topic's current end."""
        wanted = {tp: end for tp, end in topic_ends(self.settings, [self.topic]).items() if end}
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            messages = self.consumer.consume(1000, timeout=settle_s)
            for message in messages:
                if message.error() is None:
                    out.append(self.codec.decode(message.value() or b""))
            positions = self.consumer.position([TopicPartition(t, p) for t, p in wanted])
            if all(tp.offset >= wanted[(tp.topic, tp.partition)] for tp in positions):
                break
        return out

    def close(self) -> None:
        self.consumer.close()
