"""Declared maintenance windows and acknowledgements, held as data.

A maintenance window silences a scope (an institution, optionally one system and one
table) for a time range: minutes inside it are neither judged nor learned, because the
traffic there is abnormal on purpose. An acknowledgement marks one open anomaly as seen:
its later escalations are emitted with ``suppressed=True`` until ``until_ms`` or until it
closes; the closing event is never suppressed, so alerts resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamhub.anomaly.errors import InvalidSuppressionError
from streamhub.anomaly.events import FeedKey


@dataclass(frozen=True)
class MaintenanceWindow:
    window_id: str
    institution_id: str
    start_ms: int
    end_ms: int
    system: str | None = None  # None: every system of the institution
    table: str | None = None  # None: every table of the system(s)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise InvalidSuppressionError(
                f"maintenance window {self.window_id!r} for {self.institution_id} ends at "
                f"{self.end_ms} before it starts at {self.start_ms}; declare end after start"
            )

    def covers(self, feed: FeedKey, at_ms: int) -> bool:
        return (
            self.start_ms <= at_ms < self.end_ms
            and feed.institution_id == self.institution_id
            and self.system in (None, feed.system)
            # a connector-wide key (table None) is covered only by a window over all tables
            and self.table in (None, feed.table)
        )


@dataclass(frozen=True)
class Acknowledgement:
    anomaly_id: str
    by: str
    at_ms: int
    until_ms: int | None = None  # None: until the anomaly closes
    note: str = ""

    def __post_init__(self) -> None:
        if self.until_ms is not None and self.until_ms <= self.at_ms:
            raise InvalidSuppressionError(
                f"acknowledgement of {self.anomaly_id} by {self.by} expires at {self.until_ms}, "
                f"before it was given at {self.at_ms}"
            )

    def active(self, at_ms: int) -> bool:
        return self.at_ms <= at_ms and (self.until_ms is None or at_ms < self.until_ms)


class Suppressions:
    """The current maintenance windows and acknowledgements (replace them as data changes).

    Windows are indexed by institution: every feed's minute asks whether it is under
    maintenance, so a lookup must cost what that institution declared, not what the whole
    region did (tens of thousands of feeds a minute times every open window otherwise).
    Among windows covering a feed, the one declared first answers, as before the index.
    """

    def __init__(self) -> None:
        self._windows: dict[str, MaintenanceWindow] = {}
        self._by_institution: dict[str, dict[str, MaintenanceWindow]] = {}
        self._acks: dict[str, Acknowledgement] = {}

    def declare(self, window: MaintenanceWindow) -> None:
        previous = self._windows.get(window.window_id)
        if previous is not None and previous.institution_id != window.institution_id:
            self._unindex(previous)
        self._windows[window.window_id] = window
        self._by_institution.setdefault(window.institution_id, {})[window.window_id] = window

    def cancel(self, window_id: str) -> None:
        window = self._windows.pop(window_id, None)
        if window is not None:
            self._unindex(window)

    def acknowledge(self, ack: Acknowledgement) -> None:
        self._acks[ack.anomaly_id] = ack

    def maintenance(self, feed: FeedKey, at_ms: int) -> MaintenanceWindow | None:
        declared = self._by_institution.get(feed.institution_id)
        if not declared:
            return None
        covering = [w for w in declared.values() if w.covers(feed, at_ms)]
        if len(covering) <= 1:
            return covering[0] if covering else None
        order = {window_id: i for i, window_id in enumerate(self._windows)}
        return min(covering, key=lambda w: order[w.window_id])

    def acknowledged(self, anomaly_id: str, at_ms: int) -> Acknowledgement | None:
        ack = self._acks.get(anomaly_id)
        return ack if ack is not None and ack.active(at_ms) else None

    def closed(self, anomaly_id: str) -> None:
        """Forget the acknowledgement of an anomaly that has closed."""
        self._acks.pop(anomaly_id, None)

    def prune(self, now_ms: int) -> None:
        """Drop windows that have ended, so the set stays small."""
        for window_id in [w.window_id for w in self._windows.values() if w.end_ms <= now_ms]:
            self.cancel(window_id)

    @property
    def windows(self) -> list[MaintenanceWindow]:
        """The declared windows, in declaration order."""
        return list(self._windows.values())

    def _unindex(self, window: MaintenanceWindow) -> None:
        declared = self._by_institution.get(window.institution_id, {})
        declared.pop(window.window_id, None)
        if not declared:
            self._by_institution.pop(window.institution_id, None)
