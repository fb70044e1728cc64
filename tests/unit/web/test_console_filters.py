"""The console's filters, worst-first order and pages over link health (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from streamhub.codes import credit_code
from streamhub.query.catalog import CATALOG
from streamhub.query.errors import QueryParameterError
from streamhub.query.named import MAX_ARRAY_ITEMS
from streamhub.web.console_filters import (
    Paging,
    Who,
    district_options,
    health_page,
    health_rank,
    located,
)
from streamhub.web.institutions import Directory

SIMING = [credit_code.make("1", "2", "350203", f"{n:08d}") for n in range(1, 5)]
HULI = credit_code.make("1", "2", "350206", "25498970")
NOWHERE = credit_code.make("1", "2", "990000", "15498973")
NAMES = {SIMING[0]: "思明第一医院", SIMING[1]: "思明社区卫生服务中心", HULI: "湖里医院"}
HOPS = ("source", "capture", "channel", "processing", "center")


def row(institution: str, overall: str, **hops: str) -> dict[str, Any]:
    statuses = {hop: {"status": hops.get(hop, "ok"), "reason": None} for hop in HOPS}
    return {
        "institution_id": institution,
        "name": NAMES.get(institution, "未知"),
        "overall": {"status": overall, "reason": None},
        "hops": statuses,
    }


def directory() -> Directory:
    return Directory(lambda: dict(NAMES))


def document() -> dict[str, Any]:
    rows = [
        row(SIMING[0], "ok"),
        row(SIMING[1], "degraded", capture="degraded"),
        row(SIMING[2], "down", capture="down"),
        row(SIMING[3], "down", capture="down", source="down", center="degraded"),
        row(HULI, "unknown", **dict.fromkeys(HOPS, "unknown")),
        row(NOWHERE, "ok"),
    ]
    return {"hops": list(HOPS), "error": None, "institutions": located(directory(), rows)}


def ids(page: dict[str, Any]) -> list[str]:
    return [r["institution_id"] for r in page["institutions"]]


def test_worst_first_more_hops_down_first_then_degraded_unknown_ok() -> None:
    doc = document()
    assert ids({"institutions": doc["institutions"]}) == [
        SIMING[3], SIMING[2], SIMING[1], HULI, SIMING[0], NOWHERE,
    ]  # fmt: skip
    assert health_rank(doc["institutions"][0])[:3] == (0, -2, -1)
    located_row = doc["institutions"][0]
    assert (located_row["district"], located_row["region_code"]) == ("思明区", "350203")


def test_district_status_and_counts_before_the_status_filter() -> None:
    page = health_page(document(), Who(district="350203"), "down", "worst", Paging())
    assert ids(page) == [SIMING[3], SIMING[2]]
    # the chips count the district's institutions per status, the status filter aside
    assert page["counts"] == {"down": 2, "degraded": 1, "unknown": 0, "ok": 1}
    assert (page["total"], page["matched"], page["pages"], page["page"]) == (6, 2, 1, 1)
    unknown = health_page(document(), Who(district="unknown"), "", "worst", Paging())
    assert ids(unknown) == [NOWHERE]


def test_search_by_name_or_id_and_exact_institution() -> None:
    by_name = health_page(document(), Who(search="湖里"), "", "worst", Paging())
    assert ids(by_name) == [HULI]
    by_id = health_page(document(), Who(search=SIMING[2][-6:].lower()), "", "worst", Paging())
    assert ids(by_id) == [SIMING[2]]
    exact = health_page(document(), Who(institution=SIMING[0]), "", "worst", Paging())
    assert ids(exact) == [SIMING[0]]


def test_pages_are_slices_of_the_order_and_other_sorts() -> None:
    doc = document()
    pages = [health_page(doc, Who(), "", "worst", Paging(n, 4)) for n in (1, 2, 3)]
    assert [ids(p) for p in pages] == [
        [SIMING[3], SIMING[2], SIMING[1], HULI], [SIMING[0], NOWHERE], [],
    ]  # fmt: skip
    assert [p["pages"] for p in pages] == [2, 2, 2]
    by_id = health_page(doc, Who(), "", "institution", Paging())
    assert ids(by_id) == sorted(ids(by_id))
    by_name = health_page(doc, Who(), "", "name", Paging())
    assert [r["name"] for r in by_name["institutions"]][:3] == sorted(NAMES.values())


def test_district_options_count_institutions_and_add_unknown() -> None:
    options = district_options(directory(), document()["institutions"])
    by_code = {o["code"]: (o["name"], o["institutions"]) for o in options}
    assert by_code["350203"] == ("思明区", 4) and by_code["350206"] == ("湖里区", 1)
    assert by_code["unknown"] == ("未知", 1)
    assert by_code["350211"] == ("集美区", 0)  # every district of the catalogue is offered


def test_who_parameters_resolve_names_to_ids() -> None:
    params = Who(district="350203", search=" 医院 ").parameters(directory())
    assert params["search"] == "医院"
    assert params["named"] == sorted([SIMING[0], HULI])
    assert params["known_regions"] == []
    unknown = Who(district="unknown").parameters(directory())
    assert "350203" in unknown["known_regions"] and unknown["named"] == []


def test_console_page_queries_bind_lists_and_refuse_bad_ones() -> None:
    query, bound = CATALOG.bind(
        "console.reconciliation.keys.worst",
        {"since": 0, "named": [SIMING[0]], "status": "MISSING", "limit": 50, "offset": 100},
    )
    assert bound["named"] == [SIMING[0]] and bound["known_regions"] == []
    assert "LIMIT {limit:UInt32} OFFSET {offset:UInt32}" in query.sql
    with pytest.raises(QueryParameterError, match="a list of at most"):
        CATALOG.bind("console.anomalies.counts", {"since": 0, "named": "x"})
    with pytest.raises(QueryParameterError, match="a list of at most"):
        CATALOG.bind(
            "console.anomalies.counts", {"since": 0, "named": ["x"] * (MAX_ARRAY_ITEMS + 1)}
        )
    with pytest.raises(QueryParameterError, match="one of"):
        CATALOG.bind("console.anomalies.page.worst", {"since": 0, "state": "x' OR 1"})
    # the order is a query of the allow-list, never a parameter
    assert {n for n in CATALOG.names() if n.startswith("console.reconciliation.keys.")} == {
        "console.reconciliation.keys.worst",
        "console.reconciliation.keys.newest",
        "console.reconciliation.keys.institution",
    }
