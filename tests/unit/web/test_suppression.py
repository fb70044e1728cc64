"""Complementary suppression, tried as an attacker would: subtract what is shown."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest

from streamhub.web.figures import COUNTS, Totals, figures, small
from streamhub.web.suppression import (
    HiddenCells,
    protect_minutes,
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


Table = dict[str, dict[str, int]]  # institution → HH:MM → count


def publish_day(
    table: Table, district_of: dict[str, str], with_summary: bool = True
) -> tuple[dict[Hashable, int | None], list[Equation], HiddenCells]:
    """What the summary (``with_summary``: today) and the trends of the region and of every
    institution show of one day's visits, and every sum a reader knows holds between them:
    the summary's, each minute's (region = Σ institutions) and each series' (= its day's
    figure, today). Last week's totals are published nowhere."""
    counts = {i: sum(table.get(i, {}).values()) for i in district_of}
    if with_summary:
        hidden = protect_summary({"visits": counts}, district_of, {"visits": table})
        cells, equations = publish(counts, district_of, hidden, "visits")
        of = hidden.minutes["visits"]
    else:
        hidden = HiddenCells(frozenset(), {}, {})
        cells, equations = {}, []
        of = protect_minutes(district_of, table)
    minutes = sorted({m for series in table.values() for m in series})
    region = {m: sum(table.get(i, {}).get(m, 0) for i in district_of) for m in minutes}
    for m in minutes:
        cells[("r", m)] = None if m in of.of(None) else region[m]
        for i in district_of:
            n = table.get(i, {}).get(m, 0)
            cells[("i", i, m)] = None if m in of.of(i) else n
        equations.append((("r", m), [("i", i, m) for i in district_of]))
    if with_summary:
        equations.append((("r",), [("r", m) for m in minutes]))
        equations += [(("i", i), [("i", i, m) for m in minutes]) for i in district_of]
    return cells, equations, hidden


def one_at_a_time(table: Table) -> set[tuple[str, str]]:
    """The rule before: a small cell hidden, and an institution's minute hidden when the rest
    of the region at that minute is small (each institution against the region alone)."""
    hidden = {(i, m) for i, series in table.items() for m, n in series.items() if small(n)}
    for i, series in table.items():
        for m, n in series.items():
            rest = sum(other.get(m, 0) for other in table.values()) - n
            if small(rest):
                hidden.add((i, m))
    return hidden


THREE: Table = {
    "big": {"00:05": 120, "00:06": 50},
    "small": {"00:05": 3, "00:07": 10},
    "other": {"00:05": 10, "00:06": 30},
}
THREE_DISTRICTS = {"big": "思明区", "small": "思明区", "other": "湖里区"}


def test_three_institutions_in_one_minute_give_nothing_away() -> None:
    # before: 133 - 120 - 10 gave the small one's 3 away
    before = one_at_a_time(THREE)
    assert ("small", "00:05") in before and ("big", "00:05") not in before
    assert ("other", "00:05") not in before
    cells, equations, hidden = publish_day(THREE, THREE_DISTRICTS)
    assert hidden.institutions == {"big": set(), "small": set(), "other": set()}  # all ≥ 13
    assert cells[("r", "00:05")] == 133 and cells[("i", "small", "00:05")] is None
    assert determined(cells, equations) == {}
    values = possible_values(cells, equations, upper=200, max_free=3)
    assert values is not None
    assert all(len(taken) > 1 for taken in values.values()), values


def test_last_weeks_three_institutions_give_nothing_away() -> None:
    table = {"big": {"00:05": 120}, "small": {"00:05": 3}, "other": {"00:05": 10}}
    cells, equations, _ = publish_day(table, THREE_DISTRICTS, with_summary=False)
    assert cells[("r", "00:05")] == 133 and cells[("i", "small", "00:05")] is None
    assert cells[("i", "other", "00:05")] is None  # the smallest shown part
    assert determined(cells, equations) == {}


def random_table(rng: random.Random) -> tuple[Table, dict[str, str]]:
    district_of = {f"i{n}": f"d{rng.randint(0, 1)}" for n in range(rng.randint(2, 4))}
    table: Table = {}
    for institution in district_of:
        minutes = rng.sample(["08:00", "08:01", "08:02"], rng.randint(1, 3))
        table[institution] = {m: rng.choice([1, 2, 3, 4, 5, 7, 12, rng.randint(5, 60)])
                              for m in minutes}  # fmt: skip
    return table, district_of


@pytest.mark.parametrize("seed", range(120))
@pytest.mark.parametrize("with_summary", [True, False])
def test_no_hidden_minute_can_be_worked_out(seed: int, with_summary: bool) -> None:
    table, district_of = random_table(random.Random(seed))
    cells, equations, _ = publish_day(table, district_of, with_summary)
    assert determined(cells, equations) == {}, (table, district_of, cells)
    values = possible_values(cells, equations, upper=80, max_free=2)
    if values is not None:
        for cell, taken in values.items():
            assert len(taken) > 1, (cell, taken, table, district_of, cells)
    for value in cells.values():
        assert value is None or not small(value)


def test_a_minute_alone_in_its_day_gets_a_complement() -> None:
    points = {"08:00": 10, "08:01": 3, "08:02": 6, "08:03": 20}  # total 39 shown in the summary
    cells, equations, hidden = publish_day({"x": points}, {"x": "d1"})
    assert hidden.region == frozenset()
    assert hidden.minutes["visits"].of("x") == {"08:01", "08:02"}
    assert cells[("i", "x")] == 39
    assert determined(cells, equations) == {}


def test_a_hidden_day_total_is_not_the_sum_of_shown_minutes() -> None:
    points = {"08:00": 7, "08:05": 9}
    _, _, hidden = publish_day({"x": points, "y": {"09:00": 30}}, {"x": "d1", "y": "d2"})
    assert hidden.minutes["visits"].of("x") == frozenset()  # its 16 is shown: nothing to hide
    # beside a small sibling its 16 is hidden in the summary, so one minute hides with it
    table = {"x": points, "y": {"09:00": 3}}
    cells, equations, hidden = publish_day(table, {"x": "d1", "y": "d1"})
    assert hidden.institutions["x"] == {"visits"}
    assert "08:00" in hidden.minutes["visits"].of("x")
    assert determined(cells, equations) == {}


def test_an_institution_minute_beside_the_region_minute_does_not_give_the_rest_away() -> None:
    own = {"00:05": 6, "00:06": 20}  # the rest: 3 at 00:05 (one other clinic)
    table = {"own": own, "other": {"00:05": 3, "00:07": 7}}
    cells, equations, hidden = publish_day(table, {"own": "d1", "other": "d2"})
    assert "00:05" in hidden.minutes["visits"].of("own")
    assert determined(cells, equations) == {}
