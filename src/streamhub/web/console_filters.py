"""The console's filters, worst-first order and pages, kept apart from the routes (pure).

A province has 1,751 institutions: every console list is filtered (district, status,
institution), ordered worst first and served one page at a time, with the total and the
count per status so the filter chips can say how many each would show. Link health is
filtered here, in Python, over the cached evaluation; the ClickHouse lists are filtered in
SQL (:mod:`streamhub.query.console_pages`) with the parameters :meth:`Who.parameters` gives.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streamhub.query.named import MAX_ARRAY_ITEMS
from streamhub.web.institutions import UNKNOWN, Directory

HEALTH_STATUSES = ("down", "degraded", "unknown", "ok")
# worst first: down, then degraded, then not judged, then healthy
HEALTH_RANK = {status: rank for rank, status in enumerate(HEALTH_STATUSES)}
HEALTH_SORTS = ("worst", "institution", "name")
UNKNOWN_DISTRICT = "unknown"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DISTRICT_PATTERN = r"^(\d{6}|unknown)?$"


@dataclass(frozen=True)
class Who:
    """Which institutions a list shows: an exact id, a district (region code or
    ``unknown``) and a search text (a substring of the id or of the name); "" = any."""

    institution: str = ""
    district: str = ""
    search: str = ""

    def parameters(self, directory: Directory) -> dict[str, Any]:
        """The bound parameters of :mod:`~streamhub.query.console_pages`' who-filter."""
        search = self.search.strip()
        return {
            "institution": self.institution,
            "district": self.district,
            "known_regions": (
                [code for code, _ in directory.districts()]
                if self.district == UNKNOWN_DISTRICT
                else []
            ),
            "search": search,
            # names are not in ClickHouse: the ids whose name matches go as a list
            "named": directory.named_like(search)[:MAX_ARRAY_ITEMS] if search else [],
        }

    def admits(self, row: dict[str, Any]) -> bool:
        """Whether a health row (``institution_id``, ``name``, ``region_code``) is shown."""
        if self.institution and row["institution_id"] != self.institution:
            return False
        if self.district:
            code = row.get("region_code")
            if self.district == UNKNOWN_DISTRICT and code is not None:
                return False
            if self.district != UNKNOWN_DISTRICT and code != self.district:
                return False
        needle = self.search.strip().casefold()
        return not needle or (
            needle in str(row["institution_id"]).casefold()
            or needle in str(row.get("name") or "").casefold()
        )


@dataclass(frozen=True)
class Paging:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def parameters(self) -> dict[str, int]:
        return {"limit": self.page_size, "offset": self.offset}

    def describe(self, matched: int) -> dict[str, int]:
        """What the pager shows: this page, its size, how many pages the matches fill."""
        return {
            "page": self.page,
            "page_size": self.page_size,
            "pages": max(1, math.ceil(matched / self.page_size)),
            "matched": matched,
        }


def health_rank(row: dict[str, Any]) -> tuple[int, int, int, str]:
    """Worst first: the overall status, then the most hops down, then degraded, then id.

    For judged institutions this is :func:`streamhub.health.summary.severity`'s order (a
    test holds them equal); it is kept here because it ranks the document's JSON rows,
    which also hold the console's ``unknown`` (not judged: Kafka or the registry was
    unreachable), ranked between degraded and ok. Likewise the filters stay here rather
    than :func:`~streamhub.health.summary.select`: the console's district is a catalogue
    code or ``unknown`` (an id outside the catalogue) where ``select`` takes names and
    code prefixes, its statuses are the page's ``ok``/``unknown`` labels, and it searches
    names."""
    hops = [h.get("status", "unknown") for h in row.get("hops", {}).values()]
    return (
        HEALTH_RANK.get(row["overall"]["status"], HEALTH_RANK["unknown"]),
        -hops.count("down"),
        -hops.count("degraded"),
        str(row["institution_id"]),
    )


def located(directory: Directory, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Health rows with their district and region code, worst first."""
    out = []
    for row in rows:
        place = directory.get(str(row["institution_id"]))
        out.append({**row, "district": place.district, "region_code": place.region_code})
    return sorted(out, key=health_rank)


def district_options(directory: Directory, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The district filter's choices: every district of the catalogue with its count of
    institutions in ``rows``, then 未知 when some institution's code is outside it."""
    counts = Counter(row.get("region_code") for row in rows)
    options: list[dict[str, Any]] = [
        {"code": code, "name": name, "institutions": counts.get(code, 0)}
        for code, name in directory.districts()
    ]
    if counts.get(None):
        options.append({"code": UNKNOWN_DISTRICT, "name": UNKNOWN, "institutions": counts[None]})
    return options


def _by_name(row: dict[str, Any]) -> tuple[bool, str, str]:
    """By name, institutions without one (未知) last."""
    name = str(row.get("name") or UNKNOWN)
    return (name == UNKNOWN, name, str(row["institution_id"]))


def health_page(
    document: dict[str, Any], who: Who, status: str, sort: str, paging: Paging
) -> dict[str, Any]:
    """One page of a located health document (rows worst first, see :func:`located`)."""
    rows: list[dict[str, Any]] = document["institutions"]
    chosen = [r for r in rows if who.admits(r)]
    counts = Counter(r["overall"]["status"] for r in chosen)
    if status:
        chosen = [r for r in chosen if r["overall"]["status"] == status]
    if sort == "institution":
        chosen = sorted(chosen, key=lambda r: str(r["institution_id"]))
    elif sort == "name":
        chosen = sorted(chosen, key=_by_name)
    return {
        **{k: v for k, v in document.items() if k != "institutions"},
        "total": len(rows),
        "counts": {s: counts.get(s, 0) for s in HEALTH_STATUSES},
        **paging.describe(len(chosen)),
        "institutions": chosen[paging.offset : paging.offset + paging.page_size],
    }
