"""Judging one window: the numbers, the status and a detail line an operator can act on."""

from __future__ import annotations

from streamhub.reconcile.keys import WindowKey
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.windows import WindowState


def judge(
    key: WindowKey,
    state: WindowState,
    window_ms: int,
    now_ms: int,
    *,
    unplaced_rejections: int = 0,
    pending: bool = False,
) -> Result:
    """The window's result now; ``pending`` when its grace period has not passed yet.

    The revision is the next one after the last emitted judgement; MATCH becomes
    LATE when any earlier judgement of the window was not a match, unless repair
    credits made it match (MATCH with ``repaired`` > 0 and the repair ids in the detail).
    """
    source = state.source.changes if state.source is not None else 0
    repaired = state.repairs.credited(state.landed.versions)
    landed = state.landed.distinct + repaired
    rejected = state.rejected.count(state.landed.versions | state.repairs.versions)
    difference = landed + rejected - source
    if pending:
        status = Status.PENDING
    elif difference < 0:
        status = Status.MISSING
    elif difference > 0:
        status = Status.EXCESS
    elif repaired:
        status = Status.MATCH  # matched by an operator's repair, not by late arrivals
    else:
        status = Status.LATE if state.ever_unmatched else Status.MATCH
    return Result(
        institution_id=key.table.institution_id,
        system=state.system,
        database=key.table.database,
        table=key.table.table,
        window_start_ms=key.start_ms,
        window_end_ms=key.start_ms + window_ms,
        source_changes=source,
        standardized=state.standardized.distinct,
        dead_lettered=rejected,
        landed=landed,
        status=status,
        difference=difference,
        detail=_detail(state, status, rejected, unplaced_rejections),
        checked_ts_ms=now_ms,
        duplicates=state.landed.duplicates,
        revision=0 if state.judged is None else state.judged.revision + 1,
        repaired=repaired,
    )


def _detail(state: WindowState, status: Status, rejected: int, unplaced: int) -> str | None:
    notes: list[str] = []
    src = state.source
    if src is None:
        notes.append(
            "no ops.source_counts for this window: is the capture agent running and past it?"
        )
    elif src.restarts:
        notes.append(
            f"source window re-emitted from zero {src.restarts} time(s) after the capture "
            "agent forgot it; totals were added"
        )
    if state.repairs.ids:
        notes.append(
            f"{state.repairs.credited(state.landed.versions)} change(s) restored by targeted "
            f"re-snapshot {', '.join(sorted(state.repairs.ids))}"
        )
    if state.landed.duplicates:
        notes.append(f"{state.landed.duplicates} replayed landing(s) not counted")
    if status is Status.EXCESS and state.landed.unversioned:
        notes.append(
            f"{state.landed.unversioned} landed record(s) came without version ids, so a "
            "replayed flush cannot be told from an extra row: compare distinct versions in "
            "ClickHouse"
        )
    if status is Status.MISSING:
        notes.extend(_where_missing(state, rejected, unplaced))
    if src is not None and src.deletes != state.landed.deletes and status is not Status.PENDING:
        notes.append(f"deletes: source {src.deletes}, landed {state.landed.deletes}")
    return "; ".join(notes) or None


def _where_missing(state: WindowState, rejected: int, unplaced: int) -> list[str]:
    notes: list[str] = []
    std, landed = state.standardized, state.landed.distinct
    if std.seen and std.distinct > landed:
        notes.append(f"{std.distinct - landed} standardized but not landed: lander lag or stuck")
    elif std.seen and state.source is not None and std.distinct + rejected < state.source.changes:
        notes.append("not all changes were standardized: capture→raw or standardizer lag")
    if unplaced:
        notes.append(
            f"{unplaced} dead letter(s) of this table carry no commit time and may be these "
            "(see dlq.standardize)"
        )
    return notes
