"""Answers to re-snapshot requests, sent only once Kafka has what they announce.

A keyed re-read is answered with the rows it emitted and their position_seq; the
waiter (the reconciler's repair) then looks for those envelopes downstream, so the
answer must not overtake them. Each answer waits for the acknowledgement of every
message sent before it was queued, and answers leave in the order they were queued.
A refusal announces nothing and is sent at once.
"""

from __future__ import annotations

from collections import deque

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.delivery import AckTracker
from streamhub.capture.metrics import CaptureMetrics
from streamhub.capture.signals import SignalListener, SnapshotDone, SnapshotRequest
from streamhub.log import get_logger

log = get_logger(__name__)


class Replies:
    def __init__(
        self,
        config: ConnectorConfig,
        tracker: AckTracker,
        signals: SignalListener,
        metrics: CaptureMetrics,
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.signals = signals
        self.metrics = metrics
        self._waiting: deque[tuple[int, SnapshotDone]] = deque()  # sent once acked through n

    def after_acks(self, done: SnapshotDone) -> None:
        """Answer once every message sent so far is acknowledged."""
        self._waiting.append((self.tracker.sent, done))

    def refuse(self, request: SnapshotRequest, reason: str, table: str | None = None) -> None:
        log.error(
            "re-snapshot request refused",
            extra={
                **self.config.labels(),
                "table": table or request.table,
                "request_id": request.request_id,
                "reason": reason,
            },
        )
        done = SnapshotDone(request.request_id, self.config.name, table or request.table)
        self.signals.reply(done, reason)
        self.metrics.resnapshots.labels(**self.config.labels(), outcome="refused").inc()

    def answer_acknowledged(self) -> None:
        """Answer requests whose envelopes Kafka has acknowledged (in request order)."""
        while self._waiting and self.tracker.covers(self._waiting[0][0]):
            _, done = self._waiting.popleft()
            self.signals.reply(done)
            self.metrics.resnapshots.labels(**self.config.labels(), outcome="answered").inc()
            log.info(
                "targeted re-snapshot answered",
                extra={
                    **self.config.labels(),
                    "table": done.table,
                    "request_id": done.request_id,
                    "rows": done.rows,
                    "read": len(done.read),
                    "not_found": len(done.not_found),
                },
            )
