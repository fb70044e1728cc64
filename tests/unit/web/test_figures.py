"""Small-cell suppression and the sums behind the dashboard's figures."""

from __future__ import annotations

import pytest

from streamhub.web.dashboard import freshness_state
from streamhub.web.figures import Totals, day_minutes, figures, rank_key, series, suppress


@pytest.mark.parametrize(("count", "shown"), [(0, 0), (1, None), (4, None), (5, 5), (120, 120)])
def test_counts_of_one_to_four_are_hidden(count: int, shown: int | None) -> None:
    assert suppress(count) == shown


def test_figures_hide_small_cells_and_name_them() -> None:
    totals = Totals(
        visits=3,
        admissions=0,
        discharges=7,
        inpatients_on_hand=2,
        lab_reports=5,
        exams=1,
        outpatient_revenue=300.0,
        drug_revenue=40.0,
        fee_revenue=100.0,
    )
    out = figures(totals)
    assert out["visits"] is None and out["admissions"] == 0 and out["discharges"] == 7
    assert out["avg_outpatient_cost"] is None  # would show what 3 patients paid
    assert out["drug_share"] == 0.4
    assert out["suppressed"] == ["visits", "inpatients_on_hand", "exams", "avg_outpatient_cost"]


def test_average_cost_and_drug_share_come_from_sums() -> None:
    a = Totals(visits=10, outpatient_revenue=1000.0, drug_revenue=30.0, fee_revenue=100.0)
    b = Totals(visits=30, outpatient_revenue=1000.0, drug_revenue=10.0, fee_revenue=300.0)
    out = figures(a.add(b))
    assert out["visits"] == 40
    assert out["avg_outpatient_cost"] == 50.0  # 2000 / 40, not the mean of 100 and 33.3
    assert out["drug_share"] == 0.1
    assert out["suppressed"] == []


def test_nothing_yet_is_zero_not_hidden() -> None:
    out = figures(Totals())
    assert out["visits"] == 0 and out["avg_outpatient_cost"] is None
    assert out["drug_share"] is None and out["suppressed"] == []


def test_rows_with_nulls_count_as_zero() -> None:
    row = {"institution_id": "x", "visits": 6, "exams": None, "outpatient_revenue": 12.5}
    totals = Totals.from_row(row)
    assert (totals.visits, totals.exams, totals.outpatient_revenue) == (6, 0, 12.5)


def test_ranking_places_hidden_counts_between_zero_and_five() -> None:
    entries = [
        {"district": d, "figures": {"visits": v}}
        for d, v in (("a", 0), ("b", None), ("c", 5), ("d", 12))
    ]
    ranked = sorted(entries, key=lambda e: rank_key(e, "district"))
    assert [e["district"] for e in ranked] == ["d", "c", "b", "a"]


def test_series_fills_minutes_and_hides_small_ones() -> None:
    assert day_minutes(3) == ["00:00", "00:01", "00:02"]
    assert len(day_minutes()) == 1440 and day_minutes()[-1] == "23:59"
    assert series({"00:01": 2, "00:02": 9}, day_minutes(3)) == [
        ["00:00", 0],
        ["00:01", None],
        ["00:02", 9],
    ]


@pytest.mark.parametrize(
    ("age", "state"),
    [(0.0, "fresh"), (29.9, "fresh"), (30.0, "amber"), (120.0, "red"), (None, "red")],
)
def test_freshness_states(age: float | None, state: str) -> None:
    assert freshness_state(age, 30.0, 120.0) == state
