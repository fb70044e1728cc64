"""One window's evidence: source totals, what landed, was standardized and was rejected.

Counts are kept so that at-least-once delivery cannot inflate them where the
inputs allow it: source totals are replaced by newer emissions (they are
cumulative), versioned increments are unioned as sets, unversioned dead letters
are deduplicated by the input they rejected. Only unversioned landed/standardized
increments are summed as they come, and :attr:`WindowState.landed_unversioned`
says how much of a count rests on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamhub.reconcile.inputs import Rejection, SourceWindow, StageCounts
from streamhub.reconcile.result import Result


@dataclass
class SourceTotals:
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    snapshot_reads: int = 0
    emitted_ts_ms: int = -1
    restarts: int = 0  # re-emissions lower than what we had: the agent forgot the window

    @property
    def changes(self) -> int:
        return self.inserts + self.updates + self.deletes + self.snapshot_reads

    def apply(self, window: SourceWindow) -> bool:
        """Fold in one emission; True when the totals changed."""
        if window.emitted_ts_ms <= self.emitted_ts_ms:
            return False  # a redelivered or overtaken emission: the newer one already counts
        fields = ("inserts", "updates", "deletes", "snapshot_reads")
        new = [getattr(window, name) for name in fields]
        old = [getattr(self, name) for name in fields]
        self.emitted_ts_ms = window.emitted_ts_ms
        if all(n >= o for n, o in zip(new, old, strict=True)):
            values = new  # cumulative: latest wins
        else:
            # the capture agent keeps only recently closed windows; a late change to a
            # forgotten one starts from zero, so its totals continue ours
            self.restarts += 1
            values = [n + o for n, o in zip(new, old, strict=True)]
        for name, value in zip(fields, values, strict=True):
            setattr(self, name, value)
        return values != old


@dataclass
class StageTally:
    """Increments of one stage (landed or standardized) for one window."""

    versions: set[int] = field(default_factory=set)
    versioned_events: int = 0  # records summed over versioned increments, duplicates included
    unversioned: int = 0  # records of increments without version ids (cannot be deduplicated)
    deletes: int = 0  # summed as they come: for the detail line only
    seen: bool = False

    def apply(self, counts: StageCounts) -> None:
        self.seen = True
        self.deletes += counts.deletes
        if counts.versions is None:
            self.unversioned += counts.records
        else:
            self.versions |= counts.versions
            self.versioned_events += counts.records

    @property
    def distinct(self) -> int:
        return len(self.versions) + self.unversioned

    @property
    def duplicates(self) -> int:
        return self.versioned_events - len(self.versions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": sorted(self.versions),
            "versioned_events": self.versioned_events,
            "unversioned": self.unversioned,
            "deletes": self.deletes,
            "seen": self.seen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageTally:
        return cls(**{**data, "versions": set(data["versions"])})


@dataclass
class RejectTally:
    versions: set[int] = field(default_factory=set)
    origins: set[tuple[str, int, int]] = field(default_factory=set)
    anonymous: int = 0  # neither version nor origin: counted as it comes

    def apply(self, rejection: Rejection) -> None:
        if rejection.version is not None:
            self.versions.add(rejection.version)
        elif rejection.origin is not None:
            self.origins.add(rejection.origin)
        else:
            self.anonymous += 1

    def count(self, landed_versions: set[int]) -> int:
        # a rejected version that landed later (dlq replay after a profile fix) counts as landed
        return len(self.versions - landed_versions) + len(self.origins) + self.anonymous

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": sorted(self.versions),
            "origins": sorted(list(o) for o in self.origins),
            "anonymous": self.anonymous,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RejectTally:
        return cls(
            set(data["versions"]),
            {(str(t), int(p), int(o)) for t, p, o in data["origins"]},
            int(data["anonymous"]),
        )


@dataclass
class RepairTally:
    """Repair credits of one window: versions restored by targeted re-snapshots.

    A credit names the versions ``reconcile diff`` found missing; the re-read rows
    themselves landed (and are counted) in the window of the re-read. A credit without
    versions is counted by its records, as it comes.
    """

    versions: set[int] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    anonymous: int = 0

    def apply(self, counts: StageCounts) -> None:
        self.ids.add(counts.repair_id or "?")
        if counts.versions is None:
            self.anonymous += counts.records
        else:
            self.versions |= counts.versions

    def credited(self, landed_versions: set[int]) -> int:
        # a version that landed after all (a late flush) is landed, not repaired
        return len(self.versions - landed_versions) + self.anonymous

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": sorted(self.versions),
            "ids": sorted(self.ids),
            "anonymous": self.anonymous,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepairTally:
        return cls(set(data["versions"]), set(data["ids"]), int(data["anonymous"]))


@dataclass
class WindowState:
    system: str
    source: SourceTotals | None = None
    landed: StageTally = field(default_factory=StageTally)
    standardized: StageTally = field(default_factory=StageTally)
    rejected: RejectTally = field(default_factory=RejectTally)
    repairs: RepairTally = field(default_factory=RepairTally)
    # the judgement so far
    judged: Result | None = None  # the last result emitted
    ever_unmatched: bool = False
    dirty: bool = False  # changed since the last judgement

    def to_dict(self) -> dict[str, Any]:
        source = None if self.source is None else vars(self.source).copy()
        return {
            "system": self.system,
            "source": source,
            "landed": self.landed.to_dict(),
            "standardized": self.standardized.to_dict(),
            "rejected": self.rejected.to_dict(),
            "repairs": self.repairs.to_dict(),
            "judged": None if self.judged is None else self.judged.to_avro(),
            "ever_unmatched": self.ever_unmatched,
            "dirty": self.dirty,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowState:
        source = data["source"]
        return cls(
            system=data["system"],
            source=None if source is None else SourceTotals(**source),
            landed=StageTally.from_dict(data["landed"]),
            standardized=StageTally.from_dict(data["standardized"]),
            rejected=RejectTally.from_dict(data["rejected"]),
            # absent in snapshots written before repair credits existed
            repairs=RepairTally.from_dict(
                data.get("repairs") or {"versions": [], "ids": [], "anonymous": 0}
            ),
            judged=None if data["judged"] is None else Result.from_avro(data["judged"]),
            ever_unmatched=bool(data["ever_unmatched"]),
            dirty=bool(data["dirty"]),
        )
