"""Complementary suppression: no hidden small cell can be worked out from what is shown.

Hiding a count of 1-4 is not enough when its total and its siblings are shown: a district of
123 with one institution of 120 gives the other away as 3. Every published sum is a *group*
``total = part + part + ...``; a hidden cell is exposed when it is the only hidden member of a
group (its value is the total minus the rest), or when the hidden parts' residual leaves each
of them exactly 1 (every hidden cell is known to be at least 1: zero is never hidden). For
such a group one more cell is hidden: the smallest non-zero shown part (it costs the least
information), or the total when no part is left. Hiding a cell can expose it in another group
(a district hidden for its region hides one of its institutions too), so the rule runs until
nothing changes. All hidden cells look alike to the reader, so the added ones cannot be told
from the small ones and give no bound away.

Pure (no I/O). The dashboard's groups: region = Σ districts, district = Σ institutions, per
count; a day's per-minute series = its day total; and an institution's minute against the
region's minute (:func:`protect_against_rest`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from streamhub.web.figures import small


@dataclass(frozen=True)
class Group:
    """``total == sum(parts)``, published together."""

    total: Hashable
    parts: tuple[Hashable, ...]


def protect(
    values: Mapping[Hashable, int],
    groups: Iterable[Group],
    hidden: Iterable[Hashable] = (),
) -> frozenset[Hashable]:
    """The cells to hide: the small ones, ``hidden`` (already hidden elsewhere), and as few
    more as the rule needs so that no hidden cell is given away by a group."""
    secret = set(hidden) | {cell for cell, value in values.items() if small(value)}
    groups = list(groups)
    changed = True
    while changed:
        changed = False
        for group in groups:
            extra = _complement(values, group, secret)
            if extra is not None:
                secret.add(extra)
                changed = True
    return frozenset(secret)


def _complement(
    values: Mapping[Hashable, int], group: Group, secret: set[Hashable]
) -> Hashable | None:
    """The cell to hide next in ``group``, None when the group gives nothing away."""
    hidden_parts = [p for p in group.parts if p in secret]
    count = len(hidden_parts) + (group.total in secret)
    if count == 0:
        return None
    exposed = count == 1
    if not exposed and group.total not in secret:
        shown = sum(values[p] for p in group.parts if p not in secret)
        exposed = values[group.total] - shown <= len(hidden_parts)  # each would be exactly 1
    if not exposed:
        return None
    candidates = [p for p in group.parts if p not in secret and values[p] > 0]
    if candidates:
        return min(candidates, key=lambda p: (values[p], str(p)))
    return None if group.total in secret else group.total


def protect_series(
    points: Mapping[str, int], total_hidden: bool, hidden: Iterable[str] = ()
) -> frozenset[str]:
    """Minutes of one day to hide: its minutes sum to the day's total, shown elsewhere (the
    summary) unless ``total_hidden``; a hidden total must not come back as the sum either."""
    total = ("total",)
    values: dict[Hashable, int] = dict(points.items())
    values[total] = sum(points.values())
    already = [*hidden, *([total] if total_hidden else [])]
    secret = protect(values, [Group(total, tuple(points))], already)
    return frozenset(str(cell) for cell in secret if cell != total)


def protect_against_rest(own: Mapping[str, int], region: Mapping[str, int]) -> frozenset[str]:
    """Minutes of one institution to hide because the region's minute is shown beside it: when
    the rest of the region at that minute is 1-4 (often one other institution), showing both
    would give the rest away."""
    return frozenset(m for m, n in own.items() if small(region.get(m, 0) - n))


@dataclass(frozen=True)
class HiddenCells:
    """Which counts (by name: visits, admissions …) to hide at each level of the summary."""

    region: frozenset[str]
    districts: Mapping[str, frozenset[str]]
    institutions: Mapping[str, frozenset[str]]


def protect_summary(
    counts: Mapping[str, Mapping[str, int]], district_of: Mapping[str, str]
) -> HiddenCells:
    """Hidden cells of region → district → institution, per count.

    ``counts`` is count name → institution id → count; ``district_of`` names every
    institution's district. Computed over the whole region: a one-district view shows the
    same pattern, or the two views together would undo it.
    """
    region_cell: Hashable = ("region",)
    members: dict[str, list[str]] = {}
    for institution, district in district_of.items():
        members.setdefault(district, []).append(institution)
    groups = [Group(region_cell, tuple(("district", d) for d in members))]
    groups += [
        Group(("district", d), tuple(("institution", i) for i in ids)) for d, ids in members.items()
    ]
    region: set[str] = set()
    districts: dict[str, set[str]] = {d: set() for d in members}
    institutions: dict[str, set[str]] = {i: set() for i in district_of}
    for name, per_institution in counts.items():
        values: dict[Hashable, int] = {}
        for district, ids in members.items():
            for institution in ids:
                values[("institution", institution)] = per_institution.get(institution, 0)
            values[("district", district)] = sum(per_institution.get(i, 0) for i in ids)
        values[region_cell] = sum(values[("district", d)] for d in members)
        for cell in protect(values, groups):
            if cell == region_cell:
                region.add(name)
            elif isinstance(cell, tuple) and cell[0] == "district":
                districts[cell[1]].add(name)
            elif isinstance(cell, tuple):
                institutions[cell[1]].add(name)
    return HiddenCells(
        frozenset(region),
        {d: frozenset(n) for d, n in districts.items()},
        {i: frozenset(n) for i, n in institutions.items()},
    )
