"""Migration 0009's state tables behind the dashboard's whole-history parts.

Inpatients on hand (``inpatient_state``) and the fee lines' encounter type
(``encounter_kind``) must give the 0003 views' figures after admissions, discharges,
cancellations, deletes (key-only too), type changes and versions landed again
(at-least-once), whether the versions were there before the migration (its backfill) or
land after it (its materialized views). The figures are checked against a hand count.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.migrations import load_migrations, migrate
from streamhub.query import DirectQueries

HAND = "HAND-0009"  # the institution of the hand-counted rows
PAIRS = {
    "dashboard.final.today": "dashboard.today",
    "dashboard.final.fees": "dashboard.fees",
}
_OLD = "now64(3) - INTERVAL 20 DAY"  # committed long before the recent window
_ENCOUNTER = (
    "institution_id, record_id, source_position_seq, deleted, cancelled, encounter_id, "
    "encounter_type, registered_time, discharge_time, status, commit_time, received_time, "
    "standardized_time, source_key, source_position"
)
_CHARGE = (
    "institution_id, record_id, source_position_seq, deleted, cancelled, encounter_id, "
    "charge_kind, amount, is_drug, charged_time, commit_time, received_time, "
    "standardized_time, source_key, source_position"
)


def _bench() -> ModuleType:
    path = Path(__file__).parents[3] / "bench" / "dashboard_year.py"
    spec = importlib.util.spec_from_file_location("dashboard_year", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(chdb_path: Path, unique: Any) -> Iterator[Client]:
    database = unique("dstate").replace("-", "_")
    ch = connect(f"chdb://{chdb_path}", database, create=True)
    yield ch
    ch.command(f"DROP DATABASE IF EXISTS `{database}`")
    ch.close()


def _answers(source: DirectQueries, bench: ModuleType, names: list[str]) -> list[list[str]]:
    return [sorted(bench._canonical(r) for r in source.run(name)) for name in names]


def _encounter(
    ch: Client,
    *rows: tuple[str, int, str | None],
    at: str = "now64(3)",
    deleted: bool = False,
    cancelled: bool = False,
    discharged: bool = False,
    key_only: bool = False,
) -> None:
    """One INSERT (one block) of encounter versions: (record, seq, type)."""
    values = []
    for record, seq, kind in rows:
        typ = "NULL" if key_only or kind is None else f"'{kind}'"
        discharge = "now64(3)" if discharged else "NULL"
        status = "'discharged'" if discharged else "NULL"
        registered = "NULL" if key_only else at
        values.append(
            f"('{HAND}', '{record}', {seq}, {int(deleted)}, {int(cancelled)}, '{record}-e', "
            f"{typ}, {registered}, {discharge}, {status}, {at}, {at}, {at}, '{record}', '{seq}')"
        )
    ch.command(f"INSERT INTO std_encounter ({_ENCOUNTER}) VALUES {', '.join(values)}")


def _fee(ch: Client, record: str, encounter: str, amount: int, seq: int = 1) -> None:
    ch.command(
        f"INSERT INTO std_charge ({_CHARGE}) VALUES ('{HAND}', '{record}', {seq}, 0, 0, "
        f"'{encounter}-e', 'fee', {amount}, 0, now64(3), now64(3), now64(3), now64(3), "
        f"'{record}', '{seq}')"
    )


def _hand_row(source: DirectQueries, name: str) -> dict[str, Any]:
    (row,) = [r for r in source.run(name) if r["institution_id"] == HAND]
    return row


def test_backfill_and_views_keep_inpatients_on_hand_and_fee_types_exact(client: Client) -> None:
    ch = client
    migrate(ch, [m for m in load_migrations() if m.version < 7])
    bench = _bench()
    for _label, sql in bench.generation(bench.Shape(12, 0.0006, datetime.now(UTC))):
        ch.command(sql)
    # versions landed before 0009: an admission still on hand, one discharged, a fee line
    # today of an outpatient visit registered weeks ago, one of an old deleted visit
    _encounter(ch, ("pre-on", 1, "inpatient"), at=_OLD)
    _encounter(ch, ("pre-out", 1, "inpatient"), at=_OLD)
    _encounter(ch, ("pre-out", 2, "inpatient"), at=_OLD, discharged=True)
    _encounter(ch, ("old-visit", 1, "outpatient"), at=_OLD)
    _encounter(ch, ("old-gone", 1, "outpatient"), at=_OLD)
    _encounter(ch, ("old-gone", 2, None), at=_OLD, deleted=True, key_only=True)
    _fee(ch, "f-old-visit", "old-visit", 100)
    _fee(ch, "f-old-gone", "old-gone", 7)
    source = DirectQueries(ch)
    before = _answers(source, bench, list(PAIRS))

    migrate(ch)  # 0007-0009: the state tables are backfilled from the versions above
    assert _answers(source, bench, list(PAIRS.values())) == before
    assert _hand_row(source, "dashboard.today")["inpatients_on_hand"] == 1
    # a discharged admission of the generated data landed again (its first version):
    # the state's newer "gone" row keeps it out
    again = ch.query(
        "SELECT record_id, min(source_position_seq) FROM std_encounter "
        "WHERE encounter_type = 'inpatient' AND status = 'discharged' "
        "GROUP BY record_id LIMIT 1"
    ).result_rows
    assert again, "the generated data holds a discharge"
    ch.command(
        "INSERT INTO std_encounter SELECT * FROM std_encounter "
        f"WHERE record_id = '{again[0][0]}' AND source_position_seq = {again[0][1]}"
    )

    # versions landed after 0009, through the materialized views
    _encounter(ch, ("a", 1, "inpatient"))  # on hand
    _encounter(ch, ("b", 1, "inpatient"))
    _encounter(ch, ("b", 2, "inpatient"), discharged=True)  # discharged
    _encounter(ch, ("c", 1, "inpatient"))
    _encounter(ch, ("c", 2, "inpatient"), cancelled=True)  # cancelled
    _encounter(ch, ("d", 1, "inpatient"))
    _encounter(ch, ("d", 2, "inpatient"), deleted=True, key_only=True)  # deleted, key only
    _encounter(ch, ("e", 1, "inpatient"))
    _encounter(ch, ("e", 2, "inpatient"), discharged=True)
    _encounter(ch, ("e", 1, "inpatient"))  # the admission landed again after the discharge
    _encounter(ch, ("g", 1, "inpatient"))
    _encounter(ch, ("g", 2, "inpatient"), ("g", 1, "inpatient"))  # a change and a redelivery
    _encounter(ch, ("h", 1, "inpatient"), ("h", 2, "outpatient"))  # type changed, one block
    _encounter(ch, ("i", 1, "inpatient"))
    _encounter(ch, ("i", 2, "emergency"))  # type changed, a later block
    _encounter(ch, ("pre-on", 1, "inpatient"), at=_OLD)  # landed again, still on hand
    _encounter(ch, ("pre-out", 1, "inpatient"), at=_OLD)  # landed again, still discharged
    # fee lines today: a visit today, the old visit again, an admission weeks ago, a visit
    # turned into an admission today, a visit deleted today, a fee line landed twice
    _encounter(ch, ("visit", 1, "outpatient"))
    _encounter(ch, ("old-adm", 1, "inpatient"), ("old-adm", 2, "inpatient"), at=_OLD)
    _encounter(ch, ("turned", 1, "outpatient"), at=_OLD)
    _encounter(ch, ("turned", 2, "inpatient"))
    _encounter(ch, ("del-today", 1, "outpatient"), at=_OLD)
    _encounter(ch, ("del-today", 2, None), deleted=True, key_only=True)
    _fee(ch, "f-visit", "visit", 20)
    _fee(ch, "f-old-visit-2", "old-visit", 3)
    _fee(ch, "f-old-adm", "old-adm", 500)
    _fee(ch, "f-turned", "turned", 40)
    _fee(ch, "f-del-today", "del-today", 9)
    _fee(ch, "f-visit", "visit", 20)  # landed again

    today = _hand_row(source, "dashboard.today")
    # by hand: on hand a, g, old-adm, turned (after 0009) and pre-on (before); outpatient
    # fee lines are f-old-visit 100 + f-visit 20 + f-old-visit-2 3
    assert today["inpatients_on_hand"] == 5
    assert float(today["outpatient_revenue"]) == 123.0
    fees = _hand_row(source, "dashboard.fees")
    assert float(fees["fee_revenue"]) == 100 + 7 + 20 + 3 + 500 + 40 + 9
    # every institution's answers equal the 0003 views' (whole-history FINAL)
    assert _answers(source, bench, list(PAIRS.values())) == _answers(source, bench, list(PAIRS))
    on_hand = ch.query(
        "SELECT count() FROM inpatient_state FINAL WHERE institution_id = {i:String}",
        parameters={"i": HAND},
    ).result_rows[0][0]
    assert on_hand == 5
    # the lookup is small: only records ever inpatient (or typeless) are in the state
    rows = ch.query("SELECT uniqExact(record_id) FROM inpatient_state").result_rows[0][0]
    records = ch.query("SELECT uniqExact(record_id) FROM std_encounter").result_rows[0][0]
    assert rows < records / 5
