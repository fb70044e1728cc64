"""What an attacker can work out from published sums: exact linear algebra and, for small
tables, every integer solution (each hidden cell is known to be at least 1: zero is shown).

A published table is ``cells`` (name → value, None when hidden) and ``equations`` (total name,
part names): ``total == sum(parts)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from fractions import Fraction

Equation = tuple[Hashable, Sequence[Hashable]]


def _system(
    cells: Mapping[Hashable, int | None], equations: Sequence[Equation]
) -> tuple[list[Hashable], list[list[Fraction]]]:
    """Rows ``[coefficients over the unknowns …, right-hand side]`` in reduced echelon form."""
    unknowns = sorted((c for c, v in cells.items() if v is None), key=repr)
    index = {c: n for n, c in enumerate(unknowns)}
    rows: list[list[Fraction]] = []
    for total, parts in equations:
        row = [Fraction(0)] * (len(unknowns) + 1)
        for cell, sign in [(total, 1), *((p, -1) for p in parts)]:
            value = cells[cell]
            if value is None:
                row[index[cell]] += sign
            else:
                row[-1] -= sign * value
        rows.append(row)
    pivot_row = 0
    for column in range(len(unknowns)):
        found = next((r for r in range(pivot_row, len(rows)) if rows[r][column] != 0), None)
        if found is None:
            continue
        rows[pivot_row], rows[found] = rows[found], rows[pivot_row]
        lead = rows[pivot_row][column]
        rows[pivot_row] = [x / lead for x in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[pivot_row], strict=True)]
        pivot_row += 1
    return unknowns, rows[:pivot_row]


def determined(
    cells: Mapping[Hashable, int | None], equations: Sequence[Equation]
) -> dict[Hashable, Fraction]:
    """Hidden cells whose value follows from the equations by subtraction alone."""
    unknowns, rows = _system(cells, equations)
    found = {}
    for row in rows:
        nonzero = [n for n, x in enumerate(row[:-1]) if x != 0]
        if len(nonzero) == 1:
            found[unknowns[nonzero[0]]] = row[-1]
    return found


def possible_values(
    cells: Mapping[Hashable, int | None],
    equations: Sequence[Equation],
    upper: int,
    max_free: int = 3,
) -> dict[Hashable, set[int]] | None:
    """Every value each hidden cell can take in an integer solution with all hidden cells in
    ``1..upper``; None when the system has more than ``max_free`` degrees of freedom."""
    unknowns, rows = _system(cells, equations)
    pivots = {next(n for n, x in enumerate(row[:-1]) if x != 0): row for row in rows}
    free = [n for n in range(len(unknowns)) if n not in pivots]
    if len(free) > max_free:
        return None
    seen: dict[Hashable, set[int]] = {c: set() for c in unknowns}
    for choice in itertools.product(range(1, upper + 1), repeat=len(free)):
        values: dict[int, Fraction] = {n: Fraction(v) for n, v in zip(free, choice, strict=True)}
        for column, row in pivots.items():
            values[column] = row[-1] - sum(row[f] * values[f] for f in free)
        if all(v.denominator == 1 and 1 <= v <= upper for v in values.values()):
            for n, v in values.items():
                seen[unknowns[n]].add(int(v))
    return seen
