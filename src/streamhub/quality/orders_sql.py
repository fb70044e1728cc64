"""The ClickHouse SQL the work orders read: breaches per scope and rule, and whether an
order's offending records have landed passing since.

Both read :func:`.sql.records_sql` (every live record at its latest version, with its
problems), so an order sees exactly what the quality report counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.quality import sql
from streamhub.quality.errors import WorkOrderError

Scope = tuple[str, str, str]  # institution, system, table
RuleKey = tuple[str, str, str, str]  # institution, system, table, rule
_ALL = "*"  # the pseudo-rule every record has: the scope's record count
_ENTITIES = frozenset(e.name for e in sql.ENTITIES)
_VERSION = "(source_position_seq, -toUnixTimestamp64Milli(_landed_time))"


@dataclass(frozen=True, slots=True)
class RuleCount:
    institution_id: str
    system: str
    table: str
    entity: str
    rule: str
    failing: int
    records: int  # live records of the scope in the window
    offenders: tuple[str, ...]  # record ids failing the rule, sorted, at most ``max_offenders``

    @property
    def key(self) -> RuleKey:
        return (self.institution_id, self.system, self.table, self.rule)

    @property
    def rate(self) -> float:
        return self.failing / self.records if self.records else 0.0


@dataclass(frozen=True, slots=True)
class RecordState:
    """One offender as it stands now."""

    record_id: str
    live: bool  # a live (not deleted) latest version exists
    failing: bool  # that version still fails the rule
    seq: int  # its latest version (source position), 0 when never landed
    landed_ms: int  # when that version landed
    deleted: bool  # its latest version is a delete

    @property
    def resolved(self) -> bool:
        return (self.live and not self.failing) or (not self.live and self.deleted)


def _query(client: Client, text: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    try:
        return client.query(text, parameters=params).result_rows
    except ClickHouseError as exc:
        raise WorkOrderError(
            f"the work order query failed on ClickHouse ({type(exc).__name__}); is the "
            "database migrated (`streamhub clickhouse migrate`)?"
        ) from exc


def rule_counts_sql() -> str:
    return f"""SELECT institution_id, system, table, any(entity) AS entity, rule,
       count() AS failing,
       arraySort(groupArrayIf({{max_offenders:UInt32}})(record_id, rule != '{_ALL}')) AS offenders
FROM ({sql.records_sql()})
ARRAY JOIN arrayConcat(['{_ALL}'], arrayDistinct(arrayConcat(issues, cross, late))) AS rule
GROUP BY institution_id, system, table, rule"""  # noqa: S608 - module constants; values are bound


def rule_counts(
    client: Client, start_ms: int, end_ms: int, *, max_offenders: int, institution: str = ""
) -> tuple[dict[RuleKey, RuleCount], dict[Scope, int]]:
    """Failing records per (institution, system, table, rule) over records whose business
    time is in [start_ms, end_ms), and the live records per scope."""
    rows = _query(
        client,
        rule_counts_sql(),
        {
            "start_ms": start_ms,
            "end_ms": end_ms,
            "institution": institution,
            "max_offenders": max_offenders,
        },
    )
    records: dict[Scope, int] = {}
    entities: dict[Scope, str] = {}
    raw: list[tuple[Scope, str, int, tuple[str, ...]]] = []
    for inst, system, table, entity, rule, failing, offenders in rows:
        scope = (str(inst), str(system), str(table))
        entities[scope] = str(entity)
        if rule == _ALL:
            records[scope] = int(failing)
        else:
            raw.append((scope, str(rule), int(failing), tuple(str(o) for o in offenders)))
    counts = {
        (*scope, rule): RuleCount(
            *scope, entities[scope], rule, failing, records.get(scope, 0), offenders
        )
        for scope, rule, failing, offenders in raw
    }
    return counts, records


def offender_states_sql(entity: str) -> str:
    if entity not in _ENTITIES:
        raise WorkOrderError(f"work order entity {entity!r} is not one of {sorted(_ENTITIES)}")
    return f"""SELECT o.record_id, r.present, has(r.problems, {{rule:String}}) AS failing,
       v.seq, v.landed_ms, v.gone
FROM (SELECT arrayJoin({{ids:Array(String)}}) AS record_id) AS o
LEFT JOIN (
    SELECT record_id, toUInt8(1) AS present, arrayConcat(issues, cross, late) AS problems
    FROM ({sql.records_sql()})
    WHERE entity = {{entity:String}} AND has({{ids:Array(String)}}, record_id)
) AS r ON r.record_id = o.record_id
LEFT JOIN (
    SELECT record_id, toInt64(max(source_position_seq)) AS seq,
           toUnixTimestamp64Milli(argMax(_landed_time, {_VERSION})) AS landed_ms,
           argMax(deleted, {_VERSION}) AS gone
    FROM std_{entity}
    WHERE institution_id = {{institution:String}} AND has({{ids:Array(String)}}, record_id)
    GROUP BY record_id
) AS v ON v.record_id = o.record_id
ORDER BY o.record_id"""  # noqa: S608 - entity checked against the catalogue; values are bound


def offender_states(
    client: Client, *, institution: str, entity: str, rule: str, record_ids: Sequence[str]
) -> list[RecordState]:
    """Each offender's latest version now: live or deleted, failing ``rule`` or not."""
    if not record_ids:
        return []
    rows = _query(
        client,
        offender_states_sql(entity),
        {
            "ids": list(record_ids),
            "rule": rule,
            "entity": entity,
            "institution": institution,
            "start_ms": 0,
            "end_ms": 2**62,
        },
    )
    return [
        RecordState(
            str(rid),
            bool(present),
            bool(present) and bool(failing),
            int(seq or 0),
            int(landed or 0),
            bool(gone),
        )
        for rid, present, failing, seq, landed, gone in rows
    ]
