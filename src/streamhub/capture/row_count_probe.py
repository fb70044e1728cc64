"""Row counts of every captured table at a known log position (ops.source_counts).

Every ``row_count_s`` the task counts each table between a low and a high watermark
written into the source log; when the log reader reaches the high mark, the counts are
reported with that position. The reconciler compares them with the rows landed up to
there.
"""

from __future__ import annotations

import uuid

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import SnapshotReader
from streamhub.capture.counts import WindowCounts
from streamhub.capture.model import TableInfo, Watermark
from streamhub.capture.ops_records import OpsRecords, minute_of
from streamhub.core.clock import Clock, now_ms


class RowCountProbe:
    def __init__(self, config: ConnectorConfig, ops: OpsRecords, clock: Clock) -> None:
        self.config = config
        self.ops = ops
        self.clock = clock
        self._next = clock.monotonic() + config.row_count_s
        self._open: tuple[str, dict[str, int]] | None = None  # (probe id, counts by table)

    @property
    def is_open(self) -> bool:
        """Counted, waiting for the high mark to come through the log."""
        return self._open is not None

    def due(self) -> bool:
        return self.clock.monotonic() >= self._next

    def open(self, reader: SnapshotReader, tables: dict[str, TableInfo]) -> None:
        """Count every table between two watermarks: a count at a known position."""
        self._next = self.clock.monotonic() + self.config.row_count_s
        probe_id = f"{self.config.name}:n{uuid.uuid4().hex[:11]}"
        reader.watermark("low", probe_id)
        counts = {name: reader.count(t) for name, t in sorted(tables.items())}
        reader.watermark("high", probe_id)
        self._open = (probe_id, counts)

    def watermark(self, mark: Watermark, resume: str | None) -> bool:
        """Whether ``mark`` is this probe's; at its high mark the counts are reported."""
        if self._open is None or mark.chunk_id != self._open[0]:
            return False
        if mark.kind == "high":
            _, counts = self._open
            self._open = None
            # one reading: two could straddle a minute boundary
            minute = minute_of(now_ms(self.clock))
            for name, rows in counts.items():
                # the count is of a moment between the two marks; the position is the high
                # mark's: changes committed between the marks may or may not be in it
                self.ops.counts(
                    WindowCounts(name, minute, 0, 0, 0, 0), rows, f"{resume}@{mark.chunk_id}"
                )
        return True
