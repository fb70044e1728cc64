"""A small fixed dataset of std versions: updates, deletes, a record fixed at the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
OCT = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@dataclass
class V:
    """One landed version of a record."""

    entity: str
    record_id: str
    seq: int
    business: datetime | None
    commit: datetime
    landed_after: timedelta = MINUTE
    issues: list[str] = field(default_factory=list)
    deleted: bool = False
    cancelled: bool = False
    institution: str = "I1"
    values: dict[str, Any] = field(default_factory=dict)


SOURCE = {
    "encounter": ("his", "his.visit"),
    "diagnosis": ("emr", "emr.diag"),
    "charge": ("his", "his.fee"),
    "lab_report": ("lis", "lis.report"),
    "lab_result": ("lis", "lis.result"),
}
KEYS = {
    "encounter": "encounter_id",
    "diagnosis": "diagnosis_id",
    "charge": "charge_id",
    "lab_report": "report_id",
    "lab_result": "result_id",
}
# which column of an entity must name a live record of which entity
REFERENCES = {
    "diagnosis": ("encounter_id", "encounter"),
    "charge": ("encounter_id", "encounter"),
    "lab_result": ("report_id", "lab_report"),
}

VERSIONS = [
    # encounters
    V("encounter", "e1", 1, NOV, NOV, values={"encounter_id": "enc1"}),
    V(
        "encounter",
        "e2",
        2,
        NOV,
        NOV,
        issues=["discharge_after_admission"],
        values={"encounter_id": "enc2"},
    ),
    V("encounter", "e2", 5, NOV, NOV + 9 * MINUTE, values={"encounter_id": "enc2"}),  # fixed
    V("encounter", "e3", 3, NOV, NOV, issues=["required"], values={"encounter_id": "enc3"}),
    V("encounter", "e3", 6, NOV, NOV + MINUTE, deleted=True, values={"encounter_id": "enc3"}),
    # a duplicate business key, landed 10 minutes after its commit
    V("encounter", "e4", 4, NOV, NOV, landed_after=10 * MINUTE, values={"encounter_id": "enc1"}),
    # entered at the source two days after it happened, and incomplete
    V(
        "encounter",
        "e5",
        7,
        NOV - timedelta(days=2),
        NOV,
        issues=["required"],
        values={"encounter_id": "enc5"},
    ),
    V("encounter", "e6", 8, OCT, OCT, issues=["department_code"], values={"encounter_id": "enc6"}),
    V("encounter", "e9", 9, NOV, NOV, institution="I2", values={"encounter_id": "enc1"}),
    # diagnoses
    V("diagnosis", "d1", 10, NOV, NOV, values={"diagnosis_id": "g1", "encounter_id": "enc1"}),
    V(
        "diagnosis",
        "d2",
        11,
        NOV,
        NOV,
        issues=["icd_shape"],
        values={"diagnosis_id": "g2", "encounter_id": "encX"},
    ),
    V("diagnosis", "d3", 12, NOV, NOV, values={"diagnosis_id": "g3", "encounter_id": "encY"}),
    V("diagnosis", "d3", 13, NOV, NOV, values={"diagnosis_id": "g3", "encounter_id": "enc5"}),
    V("diagnosis", "d4", 14, NOV, NOV, values={"diagnosis_id": "g4", "encounter_id": "enc3"}),
    # charges: settlement s1 = 10 + 20; s2 = 50 but its lines now sum to 20
    # (l3 updated, l4 refunded)
    V(
        "charge",
        "s1",
        20,
        NOV,
        NOV,
        values={"charge_id": "s1", "charge_kind": "settlement", "total": Decimal("30.00")},
    ),
    V(
        "charge",
        "l1",
        21,
        NOV,
        NOV,
        values={
            "charge_id": "l1",
            "charge_kind": "fee",
            "settlement_id": "s1",
            "amount": Decimal("10.00"),
            "encounter_id": "enc1",
        },
    ),
    V(
        "charge",
        "l2",
        22,
        NOV,
        NOV,
        values={
            "charge_id": "l2",
            "charge_kind": "fee",
            "settlement_id": "s1",
            "amount": Decimal("20.00"),
            "encounter_id": "enc1",
        },
    ),
    V(
        "charge",
        "s2",
        23,
        NOV,
        NOV,
        values={"charge_id": "s2", "charge_kind": "settlement", "total": Decimal("50.00")},
    ),
    V(
        "charge",
        "l3",
        24,
        NOV,
        NOV,
        values={
            "charge_id": "l3",
            "charge_kind": "fee",
            "settlement_id": "s2",
            "amount": Decimal("50.00"),
            "encounter_id": "enc2",
        },
    ),
    V(
        "charge",
        "l3",
        26,
        NOV,
        NOV,
        values={
            "charge_id": "l3",
            "charge_kind": "fee",
            "settlement_id": "s2",
            "amount": Decimal("20.00"),
            "encounter_id": "enc2",
        },
    ),
    V(
        "charge",
        "l4",
        25,
        NOV,
        NOV,
        cancelled=True,
        values={
            "charge_id": "l4",
            "charge_kind": "fee",
            "settlement_id": "s2",
            "amount": Decimal("30.00"),
            "encounter_id": "enc2",
        },
    ),
]
VERSIONS += [
    V("lab_report", "r1", 30, NOV, NOV, values={"report_id": "rep1"}),
    V("lab_result", "t1", 31, NOV, NOV, values={"result_id": "res1", "report_id": "rep1"}),
    V("lab_result", "t2", 32, NOV, NOV, values={"result_id": "res2", "report_id": "rep9"}),
]
# ops counts in November for his.visit: 11 changes at the source, 9 landed
SOURCE_COUNTS = {"inserts": 8, "updates": 2, "deletes": 1}
LANDED_COUNTS = {"upserts": 8, "deletes": 1}


def insert(client: Client) -> None:
    for offset, v in enumerate(VERSIONS):
        system, table = SOURCE[v.entity]
        row: dict[str, Any] = {
            "record_id": v.record_id,
            "institution_id": v.institution,
            "source_system": system,
            "source_database": table.split(".")[0],
            "source_table": table,
            "source_key": f"key-{v.record_id}",
            "operation": "d" if v.deleted else "u",
            "deleted": v.deleted,
            "source_position": str(v.seq),
            "source_position_seq": v.seq,
            "business_time": v.business,
            "commit_time": v.commit,
            "received_time": v.commit,
            "standardized_time": v.commit,
            "cancelled": v.cancelled,
            "quality_issues": v.issues,
            "profile": "test@1",
            "_topic": f"std.{v.entity}",
            "_partition": 0,
            "_offset": offset,
            "_landed_time": v.commit + v.landed_after,
            **v.values,
        }
        client.insert(f"std_{v.entity}", [list(row.values())], column_names=list(row))
    window = int(NOV.timestamp() * 1000)
    source = {
        "connector": "c1",
        "institution_id": "I1",
        "system": "his",
        "database": "his",
        "table": "visit",
        "window_start_ms": window,
        "window_ms": 60000,
        **SOURCE_COUNTS,
        "snapshot_reads": 0,
        "emitted_ts_ms": window,
        "_topic": "ops.source_counts",
        "_partition": 0,
        "_offset": 0,
    }
    client.insert("ops_source_counts", [list(source.values())], column_names=list(source))
    landed = {
        "institution_id": "I1",
        "system": "his",
        "table": "his.visit",
        "entity": "encounter",
        "window_start_ms": window,
        "window_ms": 60000,
        **LANDED_COUNTS,
        "landed_ts_ms": window,
        "_topic": "ops.landed_counts",
        "_partition": 0,
        "_offset": 0,
    }
    client.insert("ops_landed_counts", [list(landed.values())], column_names=list(landed))
