"""k-anonymity of what leaves the standardizer, on the simulator's population
(docs/decisions/privacy.md).

The population: a region of 6 hospitals and 12 clinics with the patients ``streamhub
simulate`` seeds them with (400 and 120) and a morning's arrivals at a real hospital's rate
(1,500 a day, calibration.py), made by the simulator's own generators with a fixed seed,
mapped to the standardizer's clear values and protected by the real :class:`Pseudonymizer`.
The smallest equivalence class is counted in distinct persons (person_key), so a person
registered twice does not pad a class. Run with ``-s`` to see the k found.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from streamhub.simulate.activity import load_activity
from streamhub.simulate.business_time import DayCurve
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import Institution, plan_institutions
from streamhub.simulate.records import Change
from streamhub.standardize.checks import check
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.web.figures import COUNTS, Totals, figures, series, small
from streamhub.web.suppression import Group, protect, protect_summary

from .test_checks import to_values

SEED = 20261206
HOSPITALS, CLINICS = 6, 12
START = datetime(2026, 3, 2, 7, 0)  # Shanghai wall clock, as the sources store it
HOURS = 3  # 07:00-10:00, the morning peak
ARRIVALS_PER_DAY = 1500  # a hospital's (calibration.py); a clinic has a quarter (weight)
ROWS_PER_ARRIVAL = 10.0
SHANGHAI = ZoneInfo("Asia/Shanghai")
K_MIN = 5
KEY = b"k-anonymity test key, 32 bytes.."
# Patient fields that are not quasi-identifiers: identity tokens and keys (keyed; unique by
# design, nobody outside holds the key) and the key's id. Every other field that leaves is a
# quasi-identifier: a new field lands in the k below unless it is named here with a reason.
PATIENT_NOT_QI = frozenset({"patient_id", "person_key", "pseudonym_key_id"})


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=SHANGHAI).astimezone(UTC)


def _workloads() -> list[tuple[Institution, list[Change]]]:
    activity = load_activity()
    institutions = plan_institutions(
        hospitals=HOSPITALS, clinics=CLINICS, dialects=["pinyin_gbk", "english_pg"], seed=SEED
    )
    out = []
    for inst in institutions:
        workload = InstitutionWorkload(
            inst, activity, seed=SEED, start=START,
            rows_per_second=ARRIVALS_PER_DAY * ROWS_PER_ARRIVAL * inst.weight / 86400,
            rows_per_arrival=ROWS_PER_ARRIVAL, compression=1.0,
            curve=DayCurve(activity.day_curve),
        )  # fmt: skip
        workload.configure(bad_fraction=0.0, bad_kinds=(), raw_text=False)
        workload.seed_state(activity.seed_patients[inst.kind], activity.seed_inpatients[inst.kind])
        changes = workload.take_seeded()
        while workload.next_time() < START + timedelta(hours=HOURS):
            changes.extend(workload.step())
        out.append((inst, changes))
    return out


@pytest.fixture(scope="module")
def population() -> list[tuple[Institution, list[Change]]]:
    return _workloads()


@pytest.fixture(scope="module")
def protected_patients(population) -> list[tuple[str, dict[str, object]]]:
    """(institution id, what std.patient carries) per simulated patient, through the real
    checks and pseudonymizer."""
    pseudonymizer = Pseudonymizer(KEY)
    out = []
    for inst, changes in population:
        for change in changes:
            if change.entity != "patient" or change.op != "c":
                continue
            entity, values = to_values("patient", dict(change.values or {}))
            values["region_name"] = None  # the profile's derivation gives the county name
            check(entity, values)  # runs on the clear values, as in the pipeline
            protected = pseudonymizer.protect(
                entity, values, _utc(change.at), institution_id=inst.credit_code
            )
            out.append((inst.credit_code, protected))
    return out


def smallest_class(rows: list[dict[str, object]], qis: tuple[str, ...]) -> tuple[int, int]:
    """k (distinct persons in the smallest class over ``qis``) and the number of classes."""
    persons: dict[tuple[object, ...], set[object]] = defaultdict(set)
    for row in rows:
        persons[tuple(row.get(q) for q in qis)].add(row.get("person_key"))
    return min(len(p) for p in persons.values()), len(persons)


def test_population_is_realistic(protected_patients) -> None:
    assert len(protected_patients) >= 3000
    assert len({inst for inst, _ in protected_patients}) == HOSPITALS + CLINICS


def test_patient_quasi_identifiers_are_five_anonymous_across_the_region(
    protected_patients,
) -> None:
    rows = [values for _, values in protected_patients]
    qis = tuple(sorted({name for row in rows for name in row} - PATIENT_NOT_QI))
    # what docs/decisions/privacy.md names: nothing else is left to single a person out by
    assert set(qis) == {"sex_code", "age_band", "region_code", "region_name", "id_type"}
    k, classes = smallest_class(rows, qis)
    print(f"\nstd.patient over {qis}: k = {k} in {classes} classes of {len(rows)} patients")
    assert k >= K_MIN


def test_the_county_would_not_be_five_anonymous(protected_patients, population) -> None:
    """Why the region is generalized to the prefecture: the same patients by county."""
    county = {}
    for _, changes in population:
        for change in changes:
            if change.entity == "patient" and change.op == "c":
                county[str((change.values or {})["id_number"])] = (change.values or {})[
                    "region_code"
                ]
    pseudonymizer = Pseudonymizer(KEY)
    by_key = {pseudonymizer.person_key("01", number): code for number, code in county.items()}
    rows = [{**v, "region_code": by_key[str(v["person_key"])]} for _, v in protected_patients]
    k, classes = smallest_class(rows, ("sex_code", "age_band", "region_code"))
    print(f"\nby county instead of prefecture: k = {k} in {classes} classes")
    assert k < K_MIN


def test_patient_rows_within_one_institution_are_not_anonymous(protected_patients) -> None:
    """Why std.* topics are level 3 (granted per project) and never published: every row names
    its institution, and an institution's own patients split into classes of 1."""
    rows = [{**values, "institution_id": inst} for inst, values in protected_patients]
    k, classes = smallest_class(rows, ("institution_id", "sex_code", "age_band", "region_code"))
    print(f"\nstd.patient with institution_id: k = {k} in {classes} classes")
    assert k < K_MIN


# --- the dashboard-facing projections of encounters, labs and exams ----------------------------


@pytest.fixture(scope="module")
def counts(population):
    """Per institution: the day's counts as the dashboard's views make them, and per-minute
    visits."""
    per_institution: dict[str, Totals] = {}
    minutes: dict[str, Counter[str]] = {}
    district: dict[str, str] = {}
    for inst, changes in population:
        totals = Totals()
        per_minute: Counter[str] = Counter()
        for change in changes:
            if change.op != "c":
                continue
            if change.entity == "registration":
                totals.visits += 1
                per_minute[f"{change.at:%H:%M}"] += 1
            elif change.entity == "admission":
                totals.admissions += 1
            elif change.entity == "lab_report":
                totals.lab_reports += 1
            elif change.entity == "exam":
                totals.exams += 1
        per_institution[inst.credit_code] = totals
        minutes[inst.credit_code] = per_minute
        district[inst.credit_code] = inst.district
    return per_institution, minutes, district


def test_encounter_cells_are_small_and_the_dashboard_suppresses_them(counts) -> None:
    """An encounter's own quasi-identifiers (institution, department, time) are unique by
    nature: k-anonymity is not attainable for the rows, so the dashboard publishes counts only,
    with every count of 1-4 hidden and complementary cells hidden beside it."""
    per_institution, minutes, district = counts
    all_cells = [n for m in minutes.values() for n in m.values()]
    print(f"\nvisits per institution and minute: smallest non-zero cell {min(all_cells)}")
    assert any(small(n) for n in all_cells)  # the raw projection is not 5-anonymous
    hidden = protect_summary(
        {name: {i: getattr(t, name) for i, t in per_institution.items()} for name in COUNTS},
        district,
    )
    shown = []
    for institution, totals in per_institution.items():
        published = figures(totals, hidden.institutions[institution])
        shown += [published[name] for name in COUNTS if published[name] is not None]
        points = dict(minutes[institution])
        # the day's minutes sum to its total, published in the summary: one group
        total = ("total",)
        cells: dict[object, int] = {**points, total: sum(points.values())}
        day_hidden = protect(cells, [Group(total, tuple(points))]) - {total}
        day = series(points, sorted(points), {str(m) for m in day_hidden})
        shown += [n for _, n in day if n is not None]
    assert shown and not [n for n in shown if small(n)]
    small_admissions = [t.admissions for t in per_institution.values() if small(t.admissions)]
    print(f"institution-day counts of 1-4 hidden: admissions {small_admissions}")
