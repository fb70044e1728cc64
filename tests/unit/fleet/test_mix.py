from __future__ import annotations

from collections import Counter

import pytest

from streamhub.codes import credit_code
from streamhub.fleet.errors import FleetOptionsError
from streamhub.fleet.mix import PROVINCE_CLINICS, PROVINCE_HOSPITALS, plan_fleet, split


def test_the_province_keeps_its_count_of_hospitals_and_clinics() -> None:
    assert split(1751) == (PROVINCE_HOSPITALS, PROVINCE_CLINICS)
    assert split(100) == (19, 81)
    assert split(10) == (2, 8)
    assert split(2) == (1, 1) and split(1) == (1, 0)
    with pytest.raises(FleetOptionsError):
        split(0)


def test_hospitals_come_in_sizes_and_run_four_systems_clinics_two() -> None:
    members = plan_fleet(1751, seed=3)
    sizes = Counter(m.size for m in members)
    assert sizes["clinic"] == 1413
    assert sizes["large"] < sizes["medium"] < sizes["small"]
    assert sum(sizes[s] for s in ("large", "medium", "small")) == 338
    large = next(m for m in members if m.size == "large").institution
    small = next(m for m in members if m.size == "small").institution
    clinic = next(m for m in members if m.size == "clinic").institution
    assert large.weight > small.weight > clinic.weight
    assert large.systems == ("his", "emr", "lis", "pacs")
    assert clinic.systems == ("his", "lis")
    assert {m.institution.dialect for m in members} == {"english_pg", "pinyin_gbk"}


def test_ids_are_valid_distinct_in_the_fleets_range_with_districts() -> None:
    members = plan_fleet(300, seed=1)
    codes = [m.institution.credit_code for m in members]
    assert len(set(codes)) == len(codes)
    assert all(credit_code.is_valid(c) and c[8] == "F" for c in codes)
    assert all(m.institution.district and m.institution.region_code for m in members)
    assert len({m.institution.key for m in members}) == 300


def test_the_plan_is_the_seeds_and_skips_taken_ids() -> None:
    first = plan_fleet(20, seed=7)
    assert first == plan_fleet(20, seed=7)
    assert [m.institution.credit_code for m in plan_fleet(20, seed=8)] != [
        m.institution.credit_code for m in first
    ]
    taken = {first[0].institution.credit_code}
    again = plan_fleet(20, seed=7, taken=taken)
    assert not taken & {m.institution.credit_code for m in again}
