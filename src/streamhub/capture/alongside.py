"""Run the capture agent beside another job in one process (the demo, benchmarks).

The simulator re-creates its institutions' databases on every run, so stored
positions of their connectors describe databases that no longer exist: they
are forgotten first, and each connector starts with a fresh snapshot.
"""

from __future__ import annotations

import threading
from types import TracebackType

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError
from streamhub.capture.positions import PositionStore
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.topic_names import HEARTBEAT, SOURCE_COUNTS

DRAIN_S = 5.0


class CaptureAlongside:
    def __init__(
        self, settings: Settings, connectors: list[ConnectorConfig], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.connectors = connectors
        self.count = len(connectors)
        self._stop = threading.Event()
        self._agent = CaptureAgent(settings, connectors, coordinated=False, clock=clock)
        self._thread = threading.Thread(target=self._agent.run, args=(self._stop,), daemon=True)
        self._positions = PositionStore(settings, clock)

    def __enter__(self) -> CaptureAlongside:
        for config in self.connectors:
            self._positions.forget(config.name)
        self._thread.start()
        deadline = self.clock.monotonic() + 120
        while not all(self._positions.load(c.name) for c in self.connectors):
            if self.clock.monotonic() > deadline:
                self._stop.set()
                raise CaptureError(
                    "the capture agent did not start its connectors within 120 s; "
                    "see the log (--log-level info) and `streamhub connectors check`"
                )
            self.clock.sleep(0.5)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.clock.sleep(DRAIN_S)  # let the last transactions reach Kafka before stopping
        self._stop.set()
        self._thread.join(120)

    def summary(self) -> str:
        stored = [self._positions.load(c.name) or {} for c in self.connectors]
        snapshots = sum(
            entry.get("rows", 0) for s in stored for entry in (s.get("snapshot") or {}).values()
        )
        return (
            f"{len(stored)} connectors stopped with their positions stored; "
            f"{snapshots:,} rows came from initial snapshots, the rest streamed from the logs "
            f"(see {HEARTBEAT} and {SOURCE_COUNTS})"
        )
