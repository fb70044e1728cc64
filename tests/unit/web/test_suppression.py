"""Complementary suppression, tried as an attacker would: subtract what is shown."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest

from streamhub.web.figures import COUNTS, Totals, figures, small
from streamhub.web.suppression import (
    HiddenCells,
    protect_against_rest,
    protect_series,
    protect_summary,
)
from tests.unit.web.attack import Equation, determined, possible_values


def publish(
    counts: dict[str, int], district_of: dict[str, str], hidden: HiddenCells, name: str
) -> tuple[dict[Hashable, int | None], list[Equation]]:
    """What the summary shows of one count, and the sums a reader knows hold."""
    members: dict[str, list[str]] = {}
    for institution, district in district_of.items():
        members.setdefault(district, []).append(institution)
    cells: dict[Hashable, int | None] = {}
    for institution, value in counts.items():
        shown = name not in hidden.institutions[institution]
        cells[("i", institution)] = value if shown else None
    for district, ids in members.items():
        value = sum(counts[i] for i in ids)
        cells[("d", district)] = None if name in hidden.districts[district] else value
    total = sum(counts.values())
    cells[("r",)] = None if name in hidden.region else total
    equations: list[Equation] = [(("r",), [("d", d) for d in members])]
    equations += [(("d", d), [("i", i) for i in ids]) for d, ids in members.items()]
    return cells, equations


def naive(counts: dict[str, int], district_of: dict[str, str]) -> HiddenCells:
    """Per-cell suppression only, as the dashboard did before."""
    districts: dict[str, int] = {}
    for institution, district in district_of.items():
        districts[district] = districts.get(district, 0) + counts[institution]
    return HiddenCells(
        frozenset({"visits"} if small(sum(counts.values())) else ()),
        {d: frozenset({"visits"} if small(v) else ()) for d, v in districts.items()},
        {i: frozenset({"visits"} if small(v) else ()) for i, v in counts.items()},
    )


def test_123_with_one_institution_of_120_gives_the_other_away_without_complements() -> None:
    counts = {"big": 120, "small": 3, "elsewhere": 40}
    district_of = {"big": "思明区", "small": "思明区", "elsewhere": "湖里区"}
    cells, equations = publish(counts, district_of, naive(counts, district_of), "visits")
    assert determined(cells, equations) == {("i", "small"): 3}  # the hole
    hidden = protect_summary({"visits": counts}, district_of)
    cells, equations = publish(counts, district_of, hidden, "visits")
    assert cells[("i", "small")] is None and cells[("i", "big")] is None  # its complement
    assert cells[("r",)] == 163 and cells[("d", "思明区")] == 123  # totals stay
    assert determined(cells, equations) == {}


def test_a_small_district_hides_a_sibling_district_and_one_of_its_institutions() -> None:
    counts = {"a": 12, "c": 7, "b": 3}  # the integration data: 思明 19 (a, c), 湖里 3 (b)
    district_of = {"a": "思明区", "c": "思明区", "b": "湖里区"}
    hidden = protect_summary({"visits": counts}, district_of)
    assert hidden.region == frozenset()  # the headline total is not given up
    assert hidden.districts == {"思明区": {"visits"}, "湖里区": {"visits"}}
    assert {i for i, n in hidden.institutions.items() if n} == {"b", "c"}  # c: the smaller
    cells, equations = publish(counts, district_of, hidden, "visits")
    assert determined(cells, equations) == {}
    values = possible_values(cells, equations, upper=22)
    assert values is not None and len(values[("i", "b")]) > 1


def test_hidden_parts_that_could_only_be_ones_get_a_complement() -> None:
    counts = {"a": 8, "b": 1, "c": 1}  # 10 = 8 + x + y: two hidden cells, both 1
    hidden = protect_summary({"visits": counts}, dict.fromkeys(counts, "d1"))
    assert hidden.institutions["a"] == {"visits"} or hidden.districts["d1"] == {"visits"}
    cells, equations = publish(counts, dict.fromkeys(counts, "d1"), hidden, "visits")
    values = possible_values(cells, equations, upper=20)
    assert values is not None and len(values[("i", "b")]) > 1


def random_population(rng: random.Random) -> tuple[dict[str, int], dict[str, str]]:
    counts, district_of = {}, {}
    for d in range(rng.randint(1, 4)):
        for i in range(rng.randint(1, 4)):
            name = f"d{d}i{i}"
            counts[name] = rng.choice([0, 0, 1, 2, 3, 4, 4, 5, 6, 9, rng.randint(5, 40)])
            district_of[name] = f"d{d}"
    return counts, district_of


@pytest.mark.parametrize("seed", range(150))
def test_no_hidden_cell_can_be_worked_out(seed: int) -> None:
    rng = random.Random(seed)
    counts, district_of = random_population(rng)
    hidden = protect_summary({"visits": counts}, district_of)
    cells, equations = publish(counts, district_of, hidden, "visits")
    assert determined(cells, equations) == {}, (counts, district_of, cells)
    # hidden cells are at least 1; above, only what is shown bounds them (at least 20 here)
    values = possible_values(cells, equations, upper=max(20, sum(counts.values())), max_free=2)
    if values is not None:  # few enough unknowns to try every integer solution
        for cell, taken in values.items():
            assert len(taken) > 1, (cell, taken, counts, district_of, cells)
    # small cells are hidden, zero never; what is shown is the truth
    for value in cells.values():
        if value is not None:
            assert not small(value)


def test_average_cost_hides_with_complementary_visits() -> None:
    totals = Totals(visits=120, outpatient_revenue=12000.0, exams=9)
    out = figures(totals, frozenset({"visits"}))
    assert out["visits"] is None and out["avg_outpatient_cost"] is None
    assert out["exams"] == 9
    assert out["suppressed"] == ["visits", "avg_outpatient_cost"]
    assert set(COUNTS) >= {"visits", "admissions", "discharges"}


def test_a_minute_alone_in_its_day_gets_a_complement() -> None:
    points = {"08:00": 10, "08:01": 3, "08:02": 6, "08:03": 20}  # total 39 shown elsewhere
    hidden = protect_series(points, total_hidden=False)
    assert hidden == {"08:01", "08:02"}
    cells: dict[Hashable, int | None] = {m: None if m in hidden else n for m, n in points.items()}
    cells["total"] = 39
    assert determined(cells, [("total", list(points))]) == {}


def test_a_hidden_day_total_is_not_the_sum_of_shown_minutes() -> None:
    points = {"08:00": 7, "08:05": 9}  # the institution's 16 is hidden in the summary
    assert protect_series(points, total_hidden=False) == frozenset()
    assert protect_series(points, total_hidden=True) == {"08:00"}


def test_an_institution_minute_beside_the_region_minute_does_not_give_the_rest_away() -> None:
    region = {"00:05": 9, "00:06": 20, "00:07": 7}
    own = {"00:05": 6, "00:06": 20, "00:07": 0}  # the rest: 3 at 00:05 (one other clinic)
    assert protect_against_rest(own, region) == {"00:05"}
