import itertools
from datetime import datetime

import pytest

from streamhub.codes import citizen_id, credit_code
from streamhub.simulate.activity import load_activity
from streamhub.simulate.business_time import DayCurve
from streamhub.simulate.calibration import rows_per_arrival
from streamhub.simulate.errors import FaultSpecError
from streamhub.simulate.faults import parse_fault
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import plan_institutions

START = datetime(2026, 3, 2, 8, 0)


def _stream(seed: int, minutes: int = 90, bad: float = 0.05):
    activity = load_activity()
    inst = plan_institutions(hospitals=1, clinics=0, dialects=["pinyin_gbk"], seed=seed)[0]
    workload = InstitutionWorkload(
        inst,
        activity,
        seed=seed,
        start=START,
        rows_per_second=50.0,
        rows_per_arrival=15.0,
        compression=60.0,
        curve=DayCurve(activity.day_curve),
    )
    workload.configure(
        bad_fraction=bad,
        bad_kinds=(
            "bad_id_checksum",
            "unknown_code",
            "missing_required",
            "undecodable_text",
            "discharge_before_admission",
        ),
        raw_text=True,
    )
    workload.seed_state(50, 10)
    changes = workload.take_seeded()
    end = START.replace(hour=8 + minutes // 60, minute=minutes % 60)
    while workload.next_time() < end:
        changes.extend(workload.step())
    return changes, workload


def test_same_seed_same_changes_other_seed_other_changes():
    first, _ = _stream(3)
    second, _ = _stream(3)
    other, _ = _stream(4)
    assert first == second  # dataclass equality: every field of every change, in order
    assert first != other


def test_a_day_of_work_has_inserts_updates_deletes_in_business_order():
    changes, workload = _stream(5, minutes=240)
    ops = {c.op for c in changes}
    assert ops == {"c", "u", "d"}
    entities = {c.entity for c in changes}
    assert {
        "patient",
        "registration",
        "diagnosis",
        "order",
        "charge",
        "settlement",
        "lab_report",
        "lab_result",
        "exam_report",
        "admission",
    } <= entities
    stream = [c for c in changes if c.at >= START]
    assert all(a.at <= b.at for a, b in itertools.pairwise(stream))
    assert {p.kind for p in workload.planted} >= {"bad_id_checksum", "unknown_code"}


def test_patients_carry_valid_ids_unless_planted_bad():
    changes, workload = _stream(6)
    bad_ids = {p.key for p in workload.planted if p.kind == "bad_id_checksum"}
    patients = [c for c in changes if c.entity == "patient" and c.op == "c"]
    for change in patients:
        valid = citizen_id.is_valid(str(change.values["id_number"]))
        assert valid != (change.key in bad_ids)
        if valid and change.key not in bad_ids:
            parsed = citizen_id.parse(str(change.values["id_number"]))
            assert parsed.birth_date == change.values["birth_date"]
            assert parsed.sex == (1 if change.values["sex"] == "male" else 2)


def test_institutions_are_deterministic_and_carry_valid_credit_codes():
    a = plan_institutions(hospitals=2, clinics=3, dialects=["english_pg", "pinyin_gbk"], seed=9)
    b = plan_institutions(hospitals=2, clinics=3, dialects=["english_pg", "pinyin_gbk"], seed=9)
    assert a == b
    assert [i.engine for i in a] == ["postgres", "mariadb", "postgres", "mariadb", "postgres"]
    assert all(credit_code.is_valid(i.credit_code) and i.credit_code.startswith("12") for i in a)
    assert "pacs" not in a[2].systems and "pacs" in a[0].systems


def test_day_curve_has_a_morning_peak_a_lunch_dip_and_a_quiet_night():
    curve = DayCurve(load_activity().day_curve)
    mean = sum(curve.at_hour(h / 10) for h in range(240)) / 240
    assert mean == pytest.approx(1.0, abs=0.02)
    assert curve.at_hour(9.5) > curve.at_hour(12) < curve.at_hour(15)
    assert curve.at_hour(3) < 0.3


def test_calibration_counts_the_follow_ups_of_an_arrival():
    hospital = rows_per_arrival("hospital", ("his", "emr", "lis", "pacs"), False)
    clinic = rows_per_arrival("clinic", ("his", "emr", "lis"), False)
    assert 8 < clinic < hospital < 30


def test_fault_specs_parse_and_bad_ones_say_how_to_write_them():
    fault = parse_fault("outage:h01@30s+2m")
    assert (fault.kind, fault.institution, fault.at_s, fault.for_s) == ("outage", "h01", 30, 120)
    assert parse_fault("burst:c02@1m,rows=3000").rows == 3000
    assert parse_fault("alter:h02,entity=patient").entity == "patient"
    for bad in ("outage:h01@30s", "melt:h01", "burst:h01,rows=x", "burst:h01,colour=red"):
        with pytest.raises(FaultSpecError):
            parse_fault(bad)


def test_a_small_institution_starting_at_a_quiet_hour_still_gets_the_busy_hours_arrivals():
    # a night at 1% of the day's intensity, then a working day: started at 07:00, a clinic
    # expecting ~40 arrivals between 08:00 and 12:00 must get about that many; one gap drawn
    # at 07:00's rate (mean ~4 days here) jumped over the whole morning
    curve = DayCurve([(0.0, 0.01), (8.0, 0.01), (8.001, 1.0), (24.0, 1.0)])
    activity = load_activity()
    inst = plan_institutions(hospitals=0, clinics=1, dialects=["pinyin_gbk"], seed=1)[0]
    busy = sum(curve.at_hour(8 + m / 60) for m in range(240)) / 240  # mean 08:00-12:00
    rows_per_arrival = 10.0
    per_sim_second = 40 / (4 * 3600 * busy)  # arrivals/s at intensity 1 for ~40 in the morning
    counts = []
    for seed in range(20):
        workload = InstitutionWorkload(
            inst,
            activity,
            seed=seed,
            start=datetime(2026, 3, 2, 7, 0),
            rows_per_second=per_sim_second * rows_per_arrival,
            rows_per_arrival=rows_per_arrival,
            compression=1.0,
            curve=curve,
        )
        workload.configure(bad_fraction=0.0, bad_kinds=(), raw_text=False)
        end = datetime(2026, 3, 2, 12, 0)
        while workload.next_time() < end:
            workload.step()
        counts.append(workload.arrivals)
    mean = sum(counts) / len(counts)
    assert 30 <= mean <= 50, counts
