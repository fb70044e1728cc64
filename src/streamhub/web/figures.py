"""Dashboard figures: sums per institution, district and region, with small cells hidden.

Pure (no I/O). A count of 1-4 people is a small cell: returned as null and named in
``suppressed`` so that nobody can be recognised from a district's figures; 0 stays 0. Cells
hidden so that a small one cannot be worked out by subtraction (:mod:`.suppression`) look
the same. The average outpatient cost hides with its visits, as it would reveal what a
handful of patients paid (and, beside the other averages, the hidden visits' revenue).
Ratios are recomputed from summed money, never averaged across institutions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

SMALL_CELL_MAX = 4
COUNTS = ("visits", "admissions", "discharges", "inpatients_on_hand", "lab_reports", "exams")
MONEY = ("outpatient_revenue", "drug_revenue", "fee_revenue")


def small(count: int) -> bool:
    return 1 <= count <= SMALL_CELL_MAX


def suppress(count: int) -> int | None:
    return None if small(count) else count


@dataclass
class Totals:
    """What is summed: counts and money (yuan) of one institution, or of many."""

    visits: int = 0
    admissions: int = 0
    discharges: int = 0
    inpatients_on_hand: int = 0
    lab_reports: int = 0
    exams: int = 0
    outpatient_revenue: float = 0.0
    drug_revenue: float = 0.0
    fee_revenue: float = 0.0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Totals:
        """From a query row; missing and NULL columns count as 0."""
        values: dict[str, Any] = {name: int(row.get(name) or 0) for name in COUNTS}
        values.update({name: float(row.get(name) or 0) for name in MONEY})
        return cls(**values)

    def add(self, other: Totals) -> Totals:
        return Totals(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def figures(totals: Totals, also_hidden: Collection[str] = ()) -> dict[str, Any]:
    """The contract's Figures object of ``totals``; ``also_hidden`` names counts hidden to
    protect a small cell elsewhere (complementary suppression)."""
    out: dict[str, Any] = {}
    hidden: list[str] = []
    for name in COUNTS:
        count: int = getattr(totals, name)
        out[name] = None if name in also_hidden else suppress(count)
        if out[name] is None:
            hidden.append(name)
    if "visits" in hidden:
        out["avg_outpatient_cost"] = None
        hidden.append("avg_outpatient_cost")
    else:
        out["avg_outpatient_cost"] = (
            round(totals.outpatient_revenue / totals.visits, 2) if totals.visits else None
        )
    out["drug_share"] = (
        round(totals.drug_revenue / totals.fee_revenue, 4) if totals.fee_revenue else None
    )
    out["suppressed"] = hidden
    return out


def rank_key(entry: dict[str, Any], label: str) -> tuple[float, str]:
    """Visits descending; a hidden count ranks between 0 and 5 without revealing its value."""
    visits = entry["figures"]["visits"]
    shown = (SMALL_CELL_MAX + 1) / 2 if visits is None else visits
    return (-shown, str(entry[label]))


def series(
    points: dict[str, int], minutes: list[str], hidden: Collection[str] = ()
) -> list[list[Any]]:
    """``[["HH:MM", n|null] …]`` over ``minutes``; absent minutes are 0, small and ``hidden``
    ones null."""
    return [[m, None if m in hidden else suppress(points.get(m, 0))] for m in minutes]


def day_minutes(count: int = 24 * 60) -> list[str]:
    """The first ``count`` minutes of a day as ``HH:MM``."""
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(count)]
