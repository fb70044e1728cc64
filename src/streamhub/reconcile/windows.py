"""One window's evidence: source totals, what landed, was standardized and was rejected.

Counts are kept so that at-least-once delivery cannot inflate them where the
inputs allow it: source totals are replaced by newer emissions (they are
cumulative), versioned increments are unioned as sets, unversioned dead letters
are deduplicated by the input they rejected. Only unversioned landed/standardized
increments are summed as they come, and :attr:`WindowState.landed_unversioned`
says how much of a count rests on them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from streamhub.reconcile.inputs import Rejection, SourceWindow, StageCounts
from streamhub.reconcile.result import Result


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


#: what a window without dead letters / repair credits holds: one shared instance each (most
#: windows have neither, and millions of windows are retained at a province's count); a
#: window gets its own on the first one (:meth:`WindowState.rejections`, ``repair_credits``)
NO_REJECTIONS = RejectTally()
NO_REPAIRS = RepairTally()


def _no_rejections() -> RejectTally:
    return NO_REJECTIONS


def _no_repairs() -> RepairTally:
    return NO_REPAIRS


@dataclass(slots=True)
class WindowState:
    system: str
    source: SourceTotals | None = None
    landed: StageTally = field(default_factory=StageTally)
    standardized: StageTally = field(default_factory=StageTally)
    rejected: RejectTally = field(default_factory=_no_rejections)  # read only: see rejections()
    repairs: RepairTally = field(default_factory=_no_repairs)  # read only: see repair_credits()
    # the judgement so far
    judged: Result | None = None  # the last result emitted
    ever_unmatched: bool = False
    dirty: bool = False  # changed since the last judgement

    def rejections(self) -> RejectTally:
        """The window's own dead-letter tally, to add to."""
        if self.rejected is NO_REJECTIONS:
            self.rejected = RejectTally()
        return self.rejected

    def repair_credits(self) -> RepairTally:
        """The window's own repair tally, to add to."""
        if self.repairs is NO_REPAIRS:
            self.repairs = RepairTally()
        return self.repairs

    def to_dict(self) -> dict[str, Any]:
        source = None if self.source is None else asdict(self.source)
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
            rejected=_shared_if_empty(RejectTally.from_dict(data["rejected"]), NO_REJECTIONS),
            # absent in snapshots written before repair credits existed
            repairs=_shared_if_empty(
                RepairTally.from_dict(
                    data.get("repairs") or {"versions": [], "ids": [], "anonymous": 0}
                ),
                NO_REPAIRS,
            ),
            judged=None if data["judged"] is None else Result.from_avro(data["judged"]),
            ever_unmatched=bool(data["ever_unmatched"]),
            dirty=bool(data["dirty"]),
        )


_Tally = TypeVar("_Tally", RejectTally, RepairTally)


def _shared_if_empty(tally: _Tally, empty: _Tally) -> _Tally:
    return empty if tally == empty else tally
