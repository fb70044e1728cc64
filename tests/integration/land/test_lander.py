"""The lander end to end: real Kafka, real registry, real chDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.land.config import LanderConfig
from streamhub.land.errors import LandError, LandingFailedError
from streamhub.land.lander import Lander
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.model import Charge, Encounter, LabReport
from tests.integration.land.helpers import StdProducer, read_all, record

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Scenario:
    """Topics and the records produced to them, with what the final state must be."""

    def __init__(self, new_topic: Callable[..., str]) -> None:
        self.encounters = new_topic("std-encounter")
        self.charges = new_topic("std-charge")
        self.labs = new_topic("std-lab-report")
        self.dlq = new_topic("dlq-land")
        self.counts = new_topic("ops-landed-counts")
        self.t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        self.landed: list[Any] = []  # every valid record version produced
        self.corrupt: bytes = b""

    def routes(self) -> dict[str, str]:
        return {self.encounters: "encounter", self.charges: "charge", self.labs: "lab_report"}

    def produce(self, out: StdProducer) -> None:
        t0 = self.t0
        enc: list[Any] = [
            # e1: registered, then visited: one visit
            record(
                Encounter,
                "e1",
                10,
                encounter_id="E1",
                encounter_type="outpatient",
                registered_time=t0,
            ),
            record(
                Encounter,
                "e1",
                20,
                encounter_id="E1",
                encounter_type="outpatient",
                registered_time=t0,
                visit_time=t0,
            ),
            # e2: registration withdrawn (退号): counts nowhere
            record(
                Encounter,
                "e2",
                11,
                encounter_id="E2",
                encounter_type="outpatient",
                registered_time=t0,
            ),
            record(
                Encounter,
                "e2",
                21,
                encounter_id="E2",
                encounter_type="outpatient",
                registered_time=t0,
                cancelled=True,
                status="withdrawn",
            ),
            # e3: deleted at the source: gone
            record(
                Encounter,
                "e3",
                12,
                encounter_id="E3",
                encounter_type="emergency",
                registered_time=t0,
                visit_time=t0,
            ),
            record(
                Encounter,
                "e3",
                22,
                encounter_id="E3",
                encounter_type="emergency",
                registered_time=t0,
                visit_time=t0,
                deleted=True,
            ),
            # e4: admitted, still in hospital
            record(
                Encounter,
                "e4",
                13,
                encounter_id="I4",
                encounter_type="inpatient",
                registered_time=t0,
                status="in_hospital",
            ),
            # e5: admitted and discharged
            record(
                Encounter,
                "e5",
                14,
                encounter_id="I5",
                encounter_type="inpatient",
                registered_time=t0,
                status="in_hospital",
            ),
            record(
                Encounter,
                "e5",
                24,
                encounter_id="I5",
                encounter_type="inpatient",
                registered_time=t0,
                discharge_time=t0,
                status="discharged",
            ),
            # e6: the newer version arrives first; the older one must not win
            record(
                Encounter,
                "e6",
                25,
                encounter_id="E6",
                encounter_type="outpatient",
                registered_time=t0,
                visit_time=t0,
                department_code="03.01",
            ),
            record(
                Encounter,
                "e6",
                15,
                encounter_id="E6",
                encounter_type="outpatient",
                registered_time=t0,
                department_code="04",
            ),
        ]
        charges: list[Any] = [
            record(
                Charge,
                "c1",
                30,
                charge_id="C1",
                charge_kind="fee",
                encounter_id="E1",
                is_drug=True,
                amount=Decimal("100.00"),
                charged_time=t0,
            ),
            record(
                Charge,
                "c2",
                31,
                charge_id="C2",
                charge_kind="fee",
                encounter_id="E6",
                is_drug=False,
                amount=Decimal("50.00"),
                charged_time=t0,
            ),
            record(
                Charge,
                "c3",
                32,
                charge_id="C3",
                charge_kind="fee",
                encounter_id="I4",
                is_drug=True,
                amount=Decimal("200.00"),
                charged_time=t0,
            ),
            record(
                Charge,
                "c4",
                33,
                charge_id="C4",
                charge_kind="fee",
                encounter_id="E1",
                is_drug=False,
                amount=Decimal("30.00"),
                charged_time=t0,
            ),
            record(
                Charge,
                "c4",
                43,
                charge_id="C4",
                charge_kind="fee",
                encounter_id="E1",
                is_drug=False,
                amount=Decimal("30.00"),
                charged_time=t0,
                cancelled=True,
            ),
            record(
                Charge,
                "c5",
                34,
                charge_id="S5",
                charge_kind="settlement",
                encounter_id="E1",
                total=Decimal("130.00"),
                charged_time=t0,
            ),
        ]
        labs: list[Any] = [
            record(LabReport, "l1", 40, report_id="L1", requested_time=t0, reported_time=t0),
            record(LabReport, "l2", 41, report_id="L2", requested_time=t0),  # not reported yet
        ]
        for topic, records in ((self.encounters, enc), (self.charges, charges), (self.labs, labs)):
            for rec in records:
                out.send(topic, rec)
        self.landed = enc + charges + labs
        # A truncated message: a dead letter with its bytes; the rest still lands.
        valid = out.encode(self.encounters, enc[0])
        self.corrupt = valid[:-4]
        out.send_raw(self.encounters, b"corrupt", self.corrupt)
        # A record ClickHouse refuses (empty record_id violates the table's constraint).
        out.send(
            self.encounters, record(Encounter, "bad", 50, record_id="", encounter_type="outpatient")
        )
        out.flush()


def _lander(
    settings: Settings, dsn: str, database: str, group: str, scenario: Scenario, **overrides: Any
) -> Lander:
    options: dict[str, Any] = {"until_idle_s": 3.0, "flush_rows": 4, **overrides}
    config = LanderConfig.from_settings(
        settings,
        database,
        dsn=dsn,
        group=group,
        routes=scenario.routes(),
        dlq_topic=scenario.dlq,
        landed_counts_topic=scenario.counts,
        **options,
    )
    return Lander(config, progress_out=None)


def _final_state(ch: Client) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in ch.query(sql).result_rows]

    return {
        "encounters": rows(
            "SELECT encounter_id, source_position_seq, cancelled, "
            "department_code FROM std_encounter FINAL ORDER BY encounter_id"
        ),
        "charges": rows(
            "SELECT charge_id, source_position_seq, cancelled FROM std_charge FINAL "
            "ORDER BY charge_id"
        ),
        "by_day": rows(
            "SELECT toString(day), visits, admissions, discharges "
            "FROM v_encounters_by_day ORDER BY day"
        ),
        "by_minute": rows(
            "SELECT toString(minute), visits, admissions, discharges "
            "FROM v_encounters_by_minute ORDER BY minute"
        ),
        "on_hand": rows("SELECT institution_id, inpatients FROM v_inpatients_on_hand"),
        "fees": rows(
            "SELECT toString(day), fee_revenue, drug_revenue, outpatient_revenue, "
            "round(drug_share, 6) FROM v_fees_by_day"
        ),
        "cost": rows(
            "SELECT toString(day), outpatient_revenue, visits, avg_outpatient_cost "
            "FROM v_outpatient_cost_by_day"
        ),
        "lab": rows("SELECT toString(day), lab_reports, exams FROM v_lab_exam_by_day"),
    }


def _committed(settings: Settings, group: str, topics: list[str]) -> dict[str, int]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        parts = consumer.committed([TopicPartition(t, 0) for t in topics], timeout=10)
        return {tp.topic: tp.offset for tp in parts}
    finally:
        consumer.close()


def test_lands_latest_versions_views_replay_and_dead_letters(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    ch: Client,
    dsn: str,
    database: str,
) -> None:
    scenario = Scenario(new_topic)
    scenario.produce(StdProducer(settings.kafka_bootstrap, registry))
    group = unique("lander")
    stats = _lander(settings, dsn, database, group, scenario).run()

    assert stats.messages == len(scenario.landed) + 2
    assert stats.rows == len(scenario.landed)
    assert stats.dead_letters == 2
    t0 = scenario.t0.astimezone(SHANGHAI)
    day, minute = t0.date().isoformat(), t0.strftime("%Y-%m-%d %H:%M:00")
    state = _final_state(ch)
    assert state["encounters"] == [
        ("E1", 20, False, None),
        ("E2", 21, True, None),
        ("E6", 25, False, "03.01"),
        ("I4", 13, False, None),
        ("I5", 24, False, None),
    ]  # E3 deleted: gone
    assert state["charges"] == [
        ("C1", 30, False),
        ("C2", 31, False),
        ("C3", 32, False),
        ("C4", 43, True),
        ("S5", 34, False),
    ]
    assert state["by_day"] == [(day, 2, 2, 1)]
    assert state["by_minute"] == [(minute, 2, 2, 1)]
    assert state["on_hand"] == [("123502001549897397", 1)]
    assert state["fees"] == [
        (day, Decimal("350.00"), Decimal("300.00"), Decimal("150.00"), round(300 / 350, 6))
    ]
    assert state["cost"] == [(day, Decimal("150.00"), 2, Decimal("75.00"))]
    assert state["lab"] == [(day, 1, 0)]
    if t0.date() == datetime.now(SHANGHAI).date():
        today = ch.query(
            "SELECT visits, admissions, discharges, inpatients_on_hand, "
            "outpatient_revenue, avg_outpatient_cost, lab_reports, exams "
            "FROM v_dashboard_today"
        ).result_rows
        assert today == [(2, 2, 1, 1, Decimal("150.00"), Decimal("75.00"), 1, 0)]

    # Dead letters: the corrupt bytes as they were, and the refused row with the server's reason.
    serde = AvroSerde(registry)
    dead = read_all(settings.kafka_bootstrap, scenario.dlq, serde, unique("dlq-reader"))
    by_type = {d["error_type"]: d for d in dead}
    assert set(by_type) == {"CorruptMessageError", "DatabaseError"}
    corrupt = by_type["CorruptMessageError"]
    assert corrupt["original_value"] == scenario.corrupt
    assert corrupt["original_key"] == b"corrupt"
    assert corrupt["original_topic"] == scenario.encounters and corrupt["stage"] == "land"
    assert "VIOLATED_CONSTRAINT" in by_type["DatabaseError"]["reason"]

    # ops.landed_counts: what landed, per source table and minute of commit time.
    counts = read_all(settings.kafka_bootstrap, scenario.counts, serde, unique("cnt-reader"))
    assert sum(c["upserts"] + c["deletes"] for c in counts) == len(scenario.landed)
    assert sum(c["deletes"] for c in counts) == 1
    by_entity: dict[str, int] = {}
    for c in counts:
        by_entity[c["entity"]] = by_entity.get(c["entity"], 0) + c["upserts"] + c["deletes"]
    assert by_entity == {"encounter": 11, "charge": 6, "lab_report": 2}

    # Offsets committed to the end, dead letters included.
    assert _committed(settings, group, [scenario.encounters, scenario.charges]) == {
        scenario.encounters: 13,
        scenario.charges: 6,
    }

    # A replay from the beginning (new group) leaves the final state unchanged.
    replay = _lander(settings, dsn, database, unique("replay"), scenario).run()
    assert replay.rows == len(scenario.landed)
    assert _final_state(ch) == state


def test_failed_insert_commits_nothing_and_restart_loses_nothing(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    ch: Client,
    dsn: str,
    database: str,
) -> None:
    scenario = Scenario(new_topic)
    scenario.produce(StdProducer(settings.kafka_bootstrap, registry))
    # Same columns, but a Merge table refuses inserts: a failure no retry can fix.
    ch.command("CREATE TABLE encounter_parked AS std_encounter")
    ch.command("DROP TABLE std_encounter")
    ch.command(
        f"CREATE TABLE std_encounter AS encounter_parked "
        f"ENGINE = Merge('{database}', '^encounter_parked$')"
    )
    group = unique("lander")
    with pytest.raises(LandingFailedError, match="std_encounter"):
        _lander(settings, dsn, database, group, scenario).run()
    assert all(o < 0 for o in _committed(settings, group, list(scenario.routes())).values())

    ch.command("DROP TABLE std_encounter")
    ch.command("RENAME TABLE encounter_parked TO std_encounter")
    stats = _lander(settings, dsn, database, group, scenario).run()
    assert stats.rows == len(scenario.landed)
    assert _final_state(ch)["by_day"][0][1:] == (2, 2, 1)


def test_stop_from_another_thread_flushes_and_commits(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    ch: Client,
    dsn: str,
    database: str,
) -> None:
    scenario = Scenario(new_topic)
    group = unique("lander")
    lander = _lander(
        settings,
        dsn,
        database,
        group,
        scenario,
        until_idle_s=None,
        flush_rows=10_000,
        flush_ms=60_000,
    )  # only stop() flushes
    thread = threading.Thread(target=lander.run)
    thread.start()
    scenario.produce(StdProducer(settings.kafka_bootstrap, registry))
    deadline = time.monotonic() + 30
    while lander.stats.messages < len(scenario.landed) + 2:
        assert time.monotonic() < deadline, "lander consumed too little"
        time.sleep(0.1)
    assert ch.query("SELECT count() FROM std_charge").result_rows[0][0] == 0
    lander.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert ch.query("SELECT count() FROM std_charge FINAL").result_rows[0][0] == 5
    assert _committed(settings, group, [scenario.charges]) == {scenario.charges: 6}


def test_lander_refuses_unmigrated_database(
    settings: Settings,
    new_topic: Callable[..., str],
    dsn: str,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    scenario = Scenario(new_topic)
    with pytest.raises(LandError, match="streamhub clickhouse migrate"):
        _lander(settings, dsn, unique("nodb").replace("-", "_"), unique("g"), scenario).run()
