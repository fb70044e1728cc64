"""The dead letter of a message the lander cannot land: why, and where its change sits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streamhub.core.dead_letter import Placement
from streamhub.core.identity import version_id
from streamhub.core.window_counts import epoch_ms
from streamhub.land.batch import DeadLetter, Origin
from streamhub.log import get_logger

log = get_logger(__name__)

MAX_REASON = 4000


def dead_letter_for(
    route: str, origin: Origin, exc: BaseException, record: dict[str, Any] | None
) -> DeadLetter:
    """The letter of ``origin`` (routed to target ``route``) that failed with ``exc``;
    ``record`` when it decoded."""
    if isinstance(exc, KeyError):
        reason = (
            f"record has no field {exc}: not a record of {route}; check the topic's "
            "producer and schema"
        )
    else:
        reason = f"{route}: {exc}".strip()
    log.warning(
        "dead letter",
        extra={
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "reason": reason[:500],
        },
    )
    record = record or {}
    return DeadLetter(
        origin,
        reason[:MAX_REASON],
        type(exc).__name__,
        _str_or_none(record.get("institution_id")),
        _str_or_none(record.get("source_table", record.get("table"))),
        placement_of(record),
    )


def placement_of(record: dict[str, Any]) -> Placement:
    """A refused std record's system, commit time and version, for reconciliation."""
    rid, seq, commit = (
        record.get("record_id"),
        record.get("source_position_seq"),
        record.get("commit_time"),
    )
    if not isinstance(rid, str) or not isinstance(seq, int):
        return Placement()
    return Placement(
        system=_str_or_none(record.get("source_system")),
        database=_str_or_none(record.get("source_database")),
        commit_ts_ms=epoch_ms(commit) if isinstance(commit, datetime) else None,
        record_id=rid,
        version=version_id(rid, seq),
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
