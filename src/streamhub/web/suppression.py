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

Pure (no I/O). The dashboard's groups, per count: region = Σ districts, district = Σ
institutions (the summary); at each minute, region = Σ institutions (the trend; districts
have no trend); and each series = its day's figure in the summary. They are protected as one
system (:func:`protect_count`), from the whole institution × minute table, so that a cell
hidden in one group cannot be recovered through another.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

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
    graph = _Graph(values, groups)
    changed = True
    while changed:
        changed = False
        for group in groups:
            extra = _complement(values, group, secret)
            if extra is not None:
                secret.add(extra)
                changed = True
        if not changed:
            changed = graph.close_bridges(secret)
    return frozenset(secret)


_GROUND = ("ground",)


class _Graph:
    """The published sums as a graph: a node per group (its sum), an edge per non-zero cell
    between the (at most two) groups it belongs to, or the ground node for a side without a
    group. Each cell is a total in one of its groups and a part in the other (or a part in
    both, with the groups' signs chosen to match), so the sums are a network's flow
    conservation and the hidden values a reader cannot pin down are those on cycles of
    hidden edges: a hidden edge that is a *bridge* of the hidden edges is determined by
    subtraction over whole groups of sums (three institutions at a minute, a row against its
    columns), even when every group alone has two hidden cells. Zero cells are known (zero is
    never hidden) and are no edges."""

    def __init__(self, values: Mapping[Hashable, int], groups: list[Group]) -> None:
        sides: dict[Hashable, list[int]] = {}
        for n, group in enumerate(groups):
            for cell in (group.total, *group.parts):
                sides.setdefault(cell, []).append(n)
        self.values = values
        self.ends: dict[Hashable, tuple[Hashable, Hashable]] = {}
        self.edges: dict[Hashable, list[Hashable]] = {}  # node → its cells
        for cell, nodes in sides.items():
            if values.get(cell, 0) == 0 or len(nodes) > 2:
                continue
            a: Hashable = ("group", nodes[0])
            b: Hashable = ("group", nodes[1]) if len(nodes) == 2 else _GROUND
            self.ends[cell] = (a, b)
            self.edges.setdefault(a, []).append(cell)
            self.edges.setdefault(b, []).append(cell)

    def close_bridges(self, secret: set[Hashable]) -> bool:
        """Hides, for each hidden bridge, the cheapest path of shown cells that puts it on a
        cycle; True when a cell was added."""
        added = False
        for bridge in self._bridges(secret):
            if not self._is_bridge(bridge, secret):
                continue  # an earlier path put it on a cycle
            path = self._cheapest_path(bridge, secret)
            secret.update(path)
            added = added or bool(path)
        return added

    def _other(self, cell: Hashable, node: Hashable) -> Hashable:
        a, b = self.ends[cell]
        return b if a == node else a

    def _bridges(self, secret: set[Hashable]) -> list[Hashable]:
        """Hidden edges that are bridges of the hidden edges (Tarjan, without recursion)."""
        order: dict[Hashable, int] = {}
        low: dict[Hashable, int] = {}
        bridges: list[Hashable] = []
        hidden = [c for c in self.ends if c in secret]
        for root in {end for c in hidden for end in self.ends[c]}:
            if root in order:
                continue
            order[root] = low[root] = len(order)
            stack: list[tuple[Hashable, Hashable | None, list[Hashable]]] = [
                (root, None, [c for c in self.edges[root] if c in secret])
            ]
            while stack:
                node, via, todo = stack[-1]
                if todo:
                    cell = todo.pop()
                    if cell == via:
                        continue
                    nxt = self._other(cell, node)
                    if nxt in order:
                        low[node] = min(low[node], order[nxt])
                    else:
                        order[nxt] = low[nxt] = len(order)
                        stack.append((nxt, cell, [c for c in self.edges[nxt] if c in secret]))
                    continue
                stack.pop()
                if stack and via is not None:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        bridges.append(via)
        return sorted(bridges, key=str)

    def _is_bridge(self, bridge: Hashable, secret: set[Hashable]) -> bool:
        start, goal = self.ends[bridge]
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for cell in self.edges[node]:
                if cell in secret and cell != bridge:
                    nxt = self._other(cell, node)
                    if nxt == goal:
                        return False
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
        return True

    def _cheapest_path(self, bridge: Hashable, secret: set[Hashable]) -> list[Hashable]:
        """Shown cells of the path between the bridge's ends (not through it) that hides the
        fewest people: hidden cells cost nothing, shown ones their value."""
        start, goal = self.ends[bridge]
        best: dict[Hashable, int] = {start: 0}
        came: dict[Hashable, Hashable] = {}
        queue: list[tuple[int, str, Hashable]] = [(0, str(start), start)]
        while queue:
            cost, _, node = heapq.heappop(queue)
            if node == goal:
                break
            if cost > best[node]:
                continue
            for cell in self.edges[node]:
                if cell == bridge:
                    continue
                nxt = self._other(cell, node)
                step = cost + (0 if cell in secret else self.values[cell])
                if step < best.get(nxt, step + 1):
                    best[nxt], came[nxt] = step, cell
                    heapq.heappush(queue, (step, str(nxt), nxt))
        if goal not in came:
            return []  # cannot happen when the sums hold: a lone non-zero edge would be 0
        path, node = [], goal
        while node != start:
            cell = came[node]
            if cell not in secret:
                path.append(cell)
            node = self._other(cell, node)
        return path


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


_REGION: Hashable = ("region",)
Minutes = Mapping[str, Mapping[str, int]]
"""institution id → ``HH:MM`` → count of one day (minutes with no count left out)."""


@dataclass(frozen=True)
class HiddenMinutes:
    """Minutes of one day's series to hide, of the region and of each institution."""

    region: frozenset[str]
    institutions: Mapping[str, frozenset[str]]

    def of(self, institution: str | None) -> frozenset[str]:
        if institution is None:
            return self.region
        return self.institutions.get(institution, frozenset())


def protect_count(
    district_of: Mapping[str, str],
    per_institution: Mapping[str, int] | None,
    minutes: Minutes | None = None,
) -> tuple[frozenset[Hashable], HiddenMinutes]:
    """Hidden cells of one count over the whole region, every published sum a group.

    ``per_institution`` is the day's count per institution when the summary publishes it
    (region = Σ districts, district = Σ institutions); ``minutes`` the day's per-minute
    series when the trend publishes them: each minute's region value = Σ institutions'
    values that minute, and — when the summary publishes the day — each series sums to its
    day's figure. One system, so a cell hidden for one group is protected in all the others
    (three or more institutions in a minute: the region minute minus the shown ones no
    longer gives a lone small one away). Returns the summary cells (``("region",)``,
    ``("district", d)``, ``("institution", i)``) and the hidden minutes.
    """
    values: dict[Hashable, int] = {}
    groups: list[Group] = []
    members: dict[str, list[str]] = {}
    for institution, district in district_of.items():
        members.setdefault(district, []).append(institution)
    if per_institution is not None:
        for district, ids in members.items():
            for institution in ids:
                values[("institution", institution)] = per_institution.get(institution, 0)
            values[("district", district)] = sum(per_institution.get(i, 0) for i in ids)
        values[_REGION] = sum(values[("district", d)] for d in members)
        groups.append(Group(_REGION, tuple(("district", d) for d in members)))
        groups += [
            Group(("district", d), tuple(("institution", i) for i in ids))
            for d, ids in members.items()
        ]
    if minutes is not None:
        groups += _minute_groups(values, minutes, per_institution)
    secret = protect(values, groups)
    region: set[str] = set()
    institutions: dict[str, set[str]] = {i: set() for i in district_of}
    for cell in secret:
        if isinstance(cell, tuple) and cell[0] == "minute":
            (region if cell[1] is None else institutions.setdefault(cell[1], set())).add(cell[2])
    summary = frozenset(c for c in secret if not (isinstance(c, tuple) and c[0] == "minute"))
    return summary, HiddenMinutes(
        frozenset(region), {i: frozenset(m) for i, m in institutions.items()}
    )


def _minute_groups(
    values: dict[Hashable, int], minutes: Minutes, per_institution: Mapping[str, int] | None
) -> list[Group]:
    """Fills ``values`` with the minute cells; the groups they are published in. Zero cells
    are left out of the groups: shown as 0, never hidden, they add nothing to a sum."""
    by_minute: dict[str, list[Hashable]] = {}
    for institution, series in minutes.items():
        for hm, count in series.items():
            if count:
                cell = ("minute", institution, hm)
                values[cell] = count
                by_minute.setdefault(hm, []).append(cell)
    groups = []
    for hm, cells in by_minute.items():
        total = ("minute", None, hm)
        values[total] = sum(values[c] for c in cells)
        groups.append(Group(total, tuple(cells)))
    if per_institution is None:
        return groups
    # each series sums to the summary's figure of the day (when the two agree: a sum that
    # does not hold tells a reader nothing)
    region_minutes = tuple(("minute", None, hm) for hm in by_minute)
    if values.get(_REGION) == sum(values[c] for c in region_minutes):
        groups.append(Group(_REGION, region_minutes))
    for institution, series in minutes.items():
        day = ("institution", institution)
        parts = tuple(("minute", institution, hm) for hm, n in series.items() if n)
        if day in values and values[day] == sum(values[c] for c in parts):
            groups.append(Group(day, parts))
    return groups


def protect_minutes(district_of: Mapping[str, str], minutes: Minutes) -> HiddenMinutes:
    """Hidden minutes of a day whose totals are not published (last week's series)."""
    return protect_count(district_of, None, minutes)[1]


@dataclass(frozen=True)
class HiddenCells:
    """Which counts (by name: visits, admissions …) to hide at each level of the summary,
    and, per count with a trend, the minutes of today's series to hide."""

    region: frozenset[str]
    districts: Mapping[str, frozenset[str]]
    institutions: Mapping[str, frozenset[str]]
    minutes: Mapping[str, HiddenMinutes] = field(default_factory=dict)


def protect_summary(
    counts: Mapping[str, Mapping[str, int]],
    district_of: Mapping[str, str],
    minutes: Mapping[str, Minutes] | None = None,
) -> HiddenCells:
    """Hidden cells of region → district → institution, per count, and of today's series.

    ``counts`` is count name → institution id → count; ``district_of`` names every
    institution's district; ``minutes`` is count name → today's institution × minute table,
    for the counts with a trend. Computed over the whole region: a one-district view shows
    the same pattern, or the two views together would undo it.
    """
    region: set[str] = set()
    districts: dict[str, set[str]] = {d: set() for d in district_of.values()}
    institutions: dict[str, set[str]] = {i: set() for i in district_of}
    hidden_minutes: dict[str, HiddenMinutes] = {}
    for name, per_institution in counts.items():
        table = (minutes or {}).get(name)
        secret, hidden_minutes[name] = protect_count(district_of, per_institution, table)
        _name_cells(name, secret, region, districts, institutions)
    return HiddenCells(
        frozenset(region),
        {d: frozenset(n) for d, n in districts.items()},
        {i: frozenset(n) for i, n in institutions.items()},
        {n: m for n, m in hidden_minutes.items() if n in (minutes or {})},
    )


def _name_cells(
    name: str,
    secret: Iterable[Hashable],
    region: set[str],
    districts: dict[str, set[str]],
    institutions: dict[str, set[str]],
) -> None:
    """Adds ``name`` to the level of each hidden summary cell."""
    for cell in secret:
        if cell == _REGION:
            region.add(name)
        elif isinstance(cell, tuple) and cell[0] == "district":
            districts.setdefault(cell[1], set()).add(name)
        elif isinstance(cell, tuple) and cell[0] == "institution":
            institutions.setdefault(cell[1], set()).add(name)
