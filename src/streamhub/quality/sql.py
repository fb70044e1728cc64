"""The ClickHouse SQL of the quality scores: one row per record as it stands now.

Each std table is folded to the latest version of every record (argMax over the version,
ties broken by the earliest landing), deleted records dropped: a record corrected at the
source counts by its corrected version only, a deleted one not at all. The folding is a
GROUP BY rather than FINAL because timeliness needs the record's first commit as well.
Cross-record checks look at every live record, whatever its period: a diagnosis of this
month may reference an encounter of the last.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamhub.quality.weights import ENTRY_TARGET_MS, LANDED_TARGET_MS


@dataclass(frozen=True, slots=True)
class Reference:
    """``column`` must name a live record of ``target`` (by its business key), same institution."""

    column: str
    target: str
    rule: str


ENCOUNTER = Reference("encounter_id", "encounter", "encounter_exists")
REPORT = Reference("report_id", "lab_report", "report_exists")


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    business_key: str  # unique per institution among live records
    references: tuple[Reference, ...] = ()


ENTITIES = (
    Entity("patient", "patient_id"),
    Entity("encounter", "encounter_id"),
    Entity("diagnosis", "diagnosis_id", (ENCOUNTER,)),
    Entity("order", "order_id", (ENCOUNTER,)),
    Entity("charge", "charge_id", (ENCOUNTER,)),
    Entity("lab_report", "report_id"),
    Entity("lab_result", "result_id", (REPORT,)),
    Entity("exam", "exam_id"),
)
_VERSION = "(source_position_seq, -toUnixTimestamp64Milli(_landed_time))"
_CHARGE_COLUMNS = ("charge_kind", "settlement_id", "amount", "total")


def _latest(entity: Entity) -> str:
    """Live records of one std table, latest version each."""
    extra = [f"argMax({entity.business_key}, {_VERSION}) AS bkey"]
    extra += [f"argMax({r.column}, {_VERSION}) AS ref_{r.column}" for r in entity.references]
    if entity.name == "charge":
        extra += [f"argMax({c}, {_VERSION}) AS {c}" for c in _CHARGE_COLUMNS]
    columns = ",\n           ".join(extra)
    return f"""(
    SELECT institution_id, record_id,
           argMax(source_system, {_VERSION}) AS system,
           argMax(source_table, {_VERSION}) AS tbl,
           argMax(source_key, {_VERSION}) AS skey,
           argMax(deleted, {_VERSION}) AS gone,
           argMax(cancelled, {_VERSION}) AS void,
           argMax(quality_issues, {_VERSION}) AS issues,
           argMax(business_time, {_VERSION}) AS bt,
           argMax(commit_time, {_VERSION}) AS ct,
           min(commit_time) AS first_ct,
           argMax(_landed_time, {_VERSION}) AS lt,
           {columns}
    FROM std_{entity.name}
    GROUP BY institution_id, record_id
    HAVING NOT gone
)"""  # noqa: S608 - module constants; values are bound parameters


def _cross(entity: Entity) -> list[str]:
    rules = ["if(bkey IS NOT NULL AND bkey_n > 1, 'business_key_unique', '')"]
    for ref in entity.references:
        rules.append(
            f"if(ref_{ref.column} IS NOT NULL AND "  # noqa: S608 - module constants
            f"(institution_id, assumeNotNull(ref_{ref.column})) NOT IN "
            f"(SELECT institution_id, assumeNotNull(bkey) FROM live_{ref.target} "
            f"WHERE bkey IS NOT NULL), '{ref.rule}', '')"
        )
    if entity.name == "charge":
        # a settlement's total is the sum of its (not refunded-away) fee lines, to the cent
        rules.append(
            "if(charge_kind = 'settlement' AND NOT void AND "
            "abs(toFloat64(coalesce(total, 0)) - lines_sum) > 0.01 + 1e-9, "
            "'fee_sum_settlement', '')"
        )
    return rules


def _entity_records(entity: Entity) -> str:
    source = f"live_{entity.name}"
    if entity.name == "charge":
        source = """(
        SELECT c.*, coalesce(l.s, 0) AS lines_sum
        FROM live_charge AS c
        LEFT JOIN (
            SELECT institution_id, assumeNotNull(settlement_id) AS sid,
                   sum(toFloat64(coalesce(amount, 0))) AS s
            FROM live_charge
            WHERE charge_kind = 'fee' AND NOT void AND settlement_id IS NOT NULL
            GROUP BY institution_id, sid
        ) AS l ON l.institution_id = c.institution_id AND l.sid = c.bkey
    )"""
    cross = ",\n               ".join(_cross(entity))
    return f"""SELECT institution_id, toString(system) AS system, toString(tbl) AS table,
           '{entity.name}' AS entity, record_id, skey AS source_key,
           coalesce(bt, ct) AS at,
           arrayMap(x -> toString(x), issues) AS issues,
           arrayFilter(x -> x != '', [
               {cross}
           ]) AS cross,
           arrayFilter(x -> x != '', [
               if(toUnixTimestamp64Milli(lt) - toUnixTimestamp64Milli(ct) > {LANDED_TARGET_MS},
                  'landed_late', ''),
               if(bt IS NOT NULL AND toUnixTimestamp64Milli(first_ct)
                  - toUnixTimestamp64Milli(assumeNotNull(bt)) > {ENTRY_TARGET_MS},
                  'entered_late', '')
           ]) AS late
    FROM (
        SELECT *, count() OVER (PARTITION BY institution_id, bkey) AS bkey_n
        FROM {source}
    )"""  # noqa: S608 - module constants; values are bound parameters


def records_sql() -> str:
    """Every live record of the period (``start_ms``/``end_ms`` by business time, commit time
    when it has none) and institution (``institution``, '' for all), with its problems."""
    ctes = ",\n".join(f"live_{e.name} AS {_latest(e)}" for e in ENTITIES)
    union = "\nUNION ALL\n".join(_entity_records(e) for e in ENTITIES)
    return f"""WITH
{ctes}
SELECT * FROM (
{union}
)
WHERE toUnixTimestamp64Milli(at) >= {{start_ms:Int64}}
  AND toUnixTimestamp64Milli(at) < {{end_ms:Int64}}
  AND ({{institution:String}} = '' OR institution_id = {{institution:String}})"""  # noqa: S608 - module constants; values are bound parameters


def scopes_sql() -> str:
    """Counts per institution, system and table: records, and those failing each dimension."""
    return f"""SELECT institution_id, system, table,
       count() AS records,
       countIf(has(issues, 'required')) AS incomplete,
       countIf(arrayExists(x -> x != 'required', issues)) AS invalid,
       countIf(notEmpty(cross)) AS inconsistent,
       countIf(notEmpty(late)) AS late
FROM ({records_sql()})
GROUP BY institution_id, system, table
ORDER BY institution_id, system, table"""  # noqa: S608 - module constants; values are bound parameters


def rules_sql() -> str:
    """Records failing each rule (standardizer checks, cross-record checks, lateness)."""
    return f"""SELECT institution_id, system, table, rule, count() AS records
FROM ({records_sql()})
ARRAY JOIN arrayDistinct(arrayConcat(issues, cross, late)) AS rule
WHERE {{rule:String}} = '' OR rule = {{rule:String}}
GROUP BY institution_id, system, table, rule
ORDER BY institution_id, system, table, rule"""  # noqa: S608 - module constants; values are bound parameters


def problems_sql() -> str:
    """The abnormal records, by pseudonymized record id (and source key token)."""
    return f"""SELECT institution_id, system, table, entity, record_id, source_key, at,
       arrayConcat(issues, cross, late) AS problems
FROM ({records_sql()})
WHERE notEmpty(problems) AND ({{rule:String}} = '' OR has(problems, {{rule:String}}))
ORDER BY institution_id, system, table, record_id
LIMIT {{limit:UInt32}}"""  # noqa: S608 - module constants; values are bound parameters


def coverage_sql() -> str:
    """Changes the capture agents counted at the source against those landed, per table,
    by commit minute in the period (ops.source_counts vs ops.landed_counts)."""
    return """SELECT institution_id, system, table,
       sum(source_changes) AS source_changes, sum(landed) AS landed
FROM (
    SELECT institution_id, toString(system) AS system,
           concat(database, '.', table) AS table,
           inserts + updates + deletes AS source_changes, toInt64(0) AS landed
    FROM ops_source_counts FINAL
    WHERE window_start_ms >= {start_ms:Int64} AND window_start_ms < {end_ms:Int64}
      AND ({institution:String} = '' OR institution_id = {institution:String})
    UNION ALL
    SELECT institution_id, toString(system) AS system, toString(table) AS table,
           toInt64(0) AS source_changes, upserts + deletes AS landed
    FROM ops_landed_counts FINAL
    WHERE window_start_ms >= {start_ms:Int64} AND window_start_ms < {end_ms:Int64}
      AND ({institution:String} = '' OR institution_id = {institution:String})
)
GROUP BY institution_id, system, table"""
