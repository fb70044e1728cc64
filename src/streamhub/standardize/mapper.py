"""One source row -> the canonical values of its entity, as the vendor's profile says.

A field that cannot be mapped (a local code missing from the crosswalk, a date that does
not parse) becomes ``None`` with an :class:`Issue`; the record still flows, flagged. Only a
row that cannot be identified (its key missing) raises :class:`MappingError`. Personal
identifiers (the entity's CLEAR_FIELDS) are never echoed in an issue.

The work is done by the table's compiled plan (:mod:`streamhub.standardize.plan`), built
once per profile and table mapping.
"""

from __future__ import annotations

from collections.abc import Mapping

from streamhub.standardize.errors import MappingError
from streamhub.standardize.plan import MappedRow, plan_for
from streamhub.standardize.plan_values import OBSERVED_MAX, QUOTED_MAX
from streamhub.standardize.profile import Profile, TableMapping

__all__ = ["OBSERVED_MAX", "QUOTED_MAX", "MappedRow", "map_further", "map_row"]


def map_row(
    profile: Profile,
    table: str,
    row: Mapping[str, object],
    mapping: TableMapping | None = None,
) -> MappedRow:
    """Map one row (an envelope's ``after``, or ``before`` for a delete) of ``table``.

    Columns absent from the row (a delete's key-only ``before``, a column the source does
    not have) leave their fields ``None`` without an issue; present but wrong values give
    one issue each.
    """
    mapping = profile.table(table) if mapping is None else mapping  # or one of its `also`
    return plan_for(profile, mapping).map(table, row)


def map_further(
    profile: Profile, table: str, row: Mapping[str, object]
) -> list[tuple[TableMapping, MappedRow | None]]:
    """The further entities the row feeds (the table's ``also``), in profile order, each
    mapped by its own fields; ``None`` when the row holds none now (its key is empty: the
    embedded diagnosis was removed), which the standardizer turns into a deletion."""
    out: list[tuple[TableMapping, MappedRow | None]] = []
    for further in profile.table(table).also:
        try:
            out.append((further, plan_for(profile, further).map(table, row)))
        except MappingError:
            out.append((further, None))
    return out
