"""What an operator reads first at a province's count: how many links are in each state,
which institutions are worst, and only the institutions asked for.

An institution is one row: its status is the worst of its hops, and each hop's the worst of
its connectors' findings (:mod:`.evaluate`), so a hospital with four failing feeds is one
down institution, not four.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streamhub.codes.catalogue import regions
from streamhub.health.errors import FilterError
from streamhub.health.model import HOPS, InstitutionHealth, Status

DEFAULT_WORST = 10


@dataclass(frozen=True)
class Summary:
    total: int
    counts: dict[str, int]  # status label -> institutions, every status present (0 included)
    worst: list[InstitutionHealth]  # the worst first, not-healthy ones only, at most worst_n

    @property
    def worst_status(self) -> Status:
        return self.worst[0].overall if self.worst else Status.HEALTHY


def severity(h: InstitutionHealth) -> tuple[int, int, int, str]:
    """Sort key, worst first: status, then down hops, then degraded hops, then the id."""
    statuses = [hop.status for hop in h.hops]
    return (
        -int(h.overall),
        -statuses.count(Status.DOWN),
        -statuses.count(Status.DEGRADED),
        h.institution_id,
    )


def worst_first(healths: Iterable[InstitutionHealth]) -> list[InstitutionHealth]:
    return sorted(healths, key=severity)


def summarize(healths: list[InstitutionHealth], worst_n: int = DEFAULT_WORST) -> Summary:
    """Counts per status and the ``worst_n`` worst institutions that are not healthy."""
    counts = {status.label: 0 for status in Status}
    for h in healths:
        counts[h.overall.label] += 1
    worst = [h for h in worst_first(healths) if h.overall][: max(worst_n, 0)]
    return Summary(len(healths), counts, worst)


def district_codes(district: str) -> set[str]:
    """The administrative-division codes a ``--district`` names: a district of the region
    catalogue by name (思明区) or full name (厦门市思明区), or a code or code prefix (3502)."""
    text = district.strip()
    if text.isdigit() and 2 <= len(text) <= 6:
        return {text}
    codes = {r.code for r in regions() if text in (r.district, r.name)}
    if not codes:
        known = ", ".join(sorted({r.district for r in regions()}))
        raise FilterError(
            f"no district {district!r}: give a district name ({known}) or an administrative "
            "division code such as 350203, or its prefix (3502 for a city)"
        )
    return codes


def in_district(institution_id: str, codes: set[str]) -> bool:
    """Whether the credit code's division (characters 3-8, GB 32100) is one of ``codes``
    or starts with one of them."""
    division = institution_id[2:8]
    return any(division.startswith(code) for code in codes)


def select(
    healths: list[InstitutionHealth],
    *,
    institutions: Iterable[str] = (),
    districts: Iterable[str] = (),
    states: Iterable[str] = (),
) -> list[InstitutionHealth]:
    """The institutions asked for: any of ``institutions`` (ids), in any of ``districts``,
    in any of ``states`` (labels); an empty filter keeps all."""
    wanted_ids = set(institutions)
    codes = set().union(*(district_codes(d) for d in districts)) if districts else set()
    wanted_states = set(states)
    unknown = wanted_states - {s.label for s in Status}
    if unknown:
        raise FilterError(
            f"no state {', '.join(sorted(unknown))}: give one of "
            f"{', '.join(s.label for s in Status)}"
        )
    return [
        h
        for h in healths
        if (not wanted_ids or h.institution_id in wanted_ids)
        and (not codes or in_district(h.institution_id, codes))
        and (not wanted_states or h.overall.label in wanted_states)
    ]


def hop_counts(healths: list[InstitutionHealth]) -> dict[str, dict[str, int]]:
    """hop -> status label -> institutions: which hop is failing across the region."""
    counts = {hop: {status.label: 0 for status in Status} for hop in HOPS}
    for h in healths:
        for hop in h.hops:
            counts[hop.hop][hop.status.label] += 1
    return counts
