"""The capture agent: runs the connectors assigned to it, restarts them when they fail.

Each connector runs in its own thread with its own producer and source
connections. A failed connector is restarted with backoff from its stored
position; one connector's trouble never stops the others.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.membership import Membership
from streamhub.capture.task import ConnectorTask
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.retry import RetryPolicy
from streamhub.kafka import probes
from streamhub.log import get_logger

log = get_logger(__name__)
# a connector is restarted for as long as it is assigned here: only the delays are used
RESTART_BACKOFF = RetryPolicy(attempts=None, first_s=1.0, max_s=30.0, within_s=math.inf)
STABLE_RUN_S = 120  # a task that ran this long failed afresh: its backoff starts over


@dataclass
class Running:
    stop: threading.Event
    thread: threading.Thread


class CaptureAgent:
    def __init__(
        self,
        settings: Settings,
        connectors: list[ConnectorConfig],
        *,
        coordinated: bool = True,
        on_change: Callable[[set[str]], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.connectors = {c.name: c for c in connectors}
        self.coordinated = coordinated
        self.on_change = on_change
        self.running: dict[str, Running] = {}

    def run(self, stop: threading.Event) -> None:
        membership = Membership(self.settings, list(self.connectors)) if self.coordinated else None
        try:
            while not stop.is_set():
                probes.beat("capture")
                wanted = membership.poll() if membership else set(self.connectors)
                self._reconcile(wanted)
                if membership is None:
                    stop.wait(0.5)
        finally:
            self._reconcile(set())
            if membership is not None:
                membership.close()

    def _reconcile(self, wanted: set[str]) -> None:
        current = set(self.running)
        for name in sorted(current - wanted):
            entry = self.running.pop(name)
            entry.stop.set()
            entry.thread.join(60)
            log.info("connector released", extra={"connector": name})
        for name in sorted(wanted - current):
            stop = threading.Event()
            thread = threading.Thread(
                target=self._supervise, args=(self.connectors[name], stop), name=name, daemon=True
            )
            self.running[name] = Running(stop, thread)
            thread.start()
            log.info("connector assigned", extra={"connector": name})
        if current != wanted and self.on_change is not None:
            self.on_change(set(wanted))

    def _supervise(self, config: ConnectorConfig, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            task = ConnectorTask(self.settings, config, stop, clock=self.clock)
            began = self.clock.monotonic()
            try:
                task.run()
                return
            except Exception as exc:
                stable = self.clock.monotonic() - began > STABLE_RUN_S
                failures = 0 if stable else failures + 1
                # 2 s, 4 s, … 30 s in a row; 1 s after a stable run
                backoff = RESTART_BACKOFF.delay(failures + 1)
                log.error(
                    "connector failed; restarting from its stored position",
                    extra={
                        "connector": config.name,
                        "institution": config.institution_id,
                        "error": f"{type(exc).__name__}: {exc}",
                        "retry_in_s": backoff,
                    },
                )
                stop.wait(backoff)
