"""Complementary suppression through the API: a district of 123 with one institution of 120
must not give the other's 3 away, neither by the summary's sums nor by the per-minute trend;
nor, with three institutions in one minute, the region's minute minus the other two."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.codes import credit_code
from streamhub.config import Settings
from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate
from streamhub.web.app import create_app
from streamhub.web.institutions import Directory
from tests.integration.web import data
from tests.integration.web.conftest import KeepOpen, sign_in
from tests.unit.web.attack import Equation, determined, possible_values

BIG = credit_code.make("1", "2", "350203", "11111116")  # 思明区, 120 visits at 00:05
SMALL = credit_code.make("1", "2", "350203", "22222222")  # 思明区, 3 visits at 00:05
OTHER = credit_code.make("1", "2", "350206", "33333338")  # 湖里区, 40 visits at 00:06
NAMES = {BIG: "大医院", SMALL: "小诊所", OTHER: "湖里医院"}
MINUTES = ("00:05", "00:06")


@pytest.fixture(scope="module")
def ch_123(chdb_path: Path) -> Iterator[Client]:
    database = f"web_sup_{uuid.uuid4().hex[:10]}"
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    at, minute = data.midnight(), timedelta(minutes=1)
    rows = [data.visit(BIG, f"big-{i}", at + 5 * minute) for i in range(120)]
    rows += [data.visit(SMALL, f"small-{i}", at + 5 * minute) for i in range(3)]
    rows += [data.visit(OTHER, f"other-{i}", at + 6 * minute) for i in range(40)]
    data.insert(client, "std_encounter", rows)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()


@pytest.fixture
def official(web_settings: Settings, ch_123: Client) -> Iterator[TestClient]:
    app = create_app(web_settings, KeepOpen(ch_123), directory=Directory(lambda: dict(NAMES)))
    with TestClient(app) as client:
        yield sign_in(client, "wang")


def test_nothing_hidden_can_be_worked_out_from_summary_and_trends(official: TestClient) -> None:
    summary = official.get("/api/dashboard/summary").json()
    cells: dict[Hashable, int | None] = {"region": summary["totals"]["visits"]}
    cells.update({d["district"]: d["figures"]["visits"] for d in summary["by_district"]})
    cells.update({i["institution_id"]: i["figures"]["visits"] for i in summary["by_institution"]})
    assert cells["region"] == 163 and cells["思明区"] == 123  # the totals stay shown
    assert cells[SMALL] is None and cells[BIG] is None  # 120 hidden: it gives 3 away
    equations: list[Equation] = [
        ("region", ["思明区", "湖里区"]), ("思明区", [BIG, SMALL]), ("湖里区", [OTHER]),
    ]  # fmt: skip
    assert determined(cells, equations) == {}
    # the per-minute trends: each day's minutes sum to its total, institutions to the region
    for scope in ("region", BIG, SMALL, OTHER):
        params = {"metric": "visits"} | ({} if scope == "region" else {"institution": scope})
        today = dict(official.get("/api/dashboard/trend", params=params).json()["today"])
        cells.update({(scope, m): today[m] for m in MINUTES})
        equations.append((scope, [(scope, m) for m in MINUTES]))
    equations += [(("region", m), [(i, m) for i in (BIG, SMALL, OTHER)]) for m in MINUTES]
    assert cells[("region", "00:05")] == 123
    assert cells[(SMALL, "00:05")] is None and cells[(BIG, "00:05")] is None
    assert determined(cells, equations) == {}


def test_a_district_view_hides_what_the_region_view_hides(official: TestClient) -> None:
    siming = official.get("/api/dashboard/summary", params={"district": "思明区"}).json()
    assert siming["totals"]["visits"] == 123
    shown = {i["institution_id"]: i["figures"]["visits"] for i in siming["by_institution"]}
    assert shown == {BIG: None, SMALL: None}


# Three institutions at 00:05, today and last week: 120 + 3 + 10 = 133 in the region. Each
# day total is large (nothing hidden in the summary); per institution, the rest of the region
# at 00:05 is 13 or more, so a rule that looks at one institution against the region at a
# time shows A's 120 and C's 10 and the region's 133, and B's 3 is 133 - 120 - 10.
THREE = {
    BIG: {"00:05": 120, "00:06": 50},
    SMALL: {"00:05": 3, "00:07": 10},
    OTHER: {"00:05": 10, "00:06": 30},
}
LAST_WEEK = {BIG: {"00:05": 120}, SMALL: {"00:05": 3}, OTHER: {"00:05": 10}}


@pytest.fixture(scope="module")
def ch_three(chdb_path: Path) -> Iterator[Client]:
    database = f"web_sup3_{uuid.uuid4().hex[:10]}"
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    rows = []
    for days_ago, table in ((0, THREE), (7, LAST_WEEK)):
        at = data.midnight(days_ago)
        for institution, series in table.items():
            for hm, count in series.items():
                when = at + timedelta(minutes=int(hm[:2]) * 60 + int(hm[3:]))
                key = f"{days_ago}-{institution[-4:]}-{hm}"
                rows += [data.visit(institution, f"{key}-{i}", when) for i in range(count)]
    data.insert(client, "std_encounter", rows)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()


@pytest.fixture
def official_three(web_settings: Settings, ch_three: Client) -> Iterator[TestClient]:
    app = create_app(web_settings, KeepOpen(ch_three), directory=Directory(lambda: dict(NAMES)))
    with TestClient(app) as client:
        yield sign_in(client, "wang")


def published(
    official: TestClient, series: str
) -> tuple[dict[Hashable, int | None], list[Equation]]:
    """Every cell of the summary (when ``series`` is today's) and of the trends of the region
    and of each institution, and the sums a reader knows hold between them."""
    cells: dict[Hashable, int | None] = {}
    equations: list[Equation] = []
    minutes = sorted({m for table in (THREE, LAST_WEEK) for s in table.values() for m in s})
    if series == "today":
        summary = official.get("/api/dashboard/summary").json()
        cells["region"] = summary["totals"]["visits"]
        cells.update({d["district"]: d["figures"]["visits"] for d in summary["by_district"]})
        cells.update(
            {i["institution_id"]: i["figures"]["visits"] for i in summary["by_institution"]}
        )
        equations += [
            ("region", ["思明区", "湖里区"]),
            ("思明区", [BIG, SMALL]),
            ("湖里区", [OTHER]),
        ]
    for scope in ("region", BIG, SMALL, OTHER):
        params = {"metric": "visits"} | ({} if scope == "region" else {"institution": scope})
        shown = dict(official.get("/api/dashboard/trend", params=params).json()[series])
        cells.update({(scope, m): shown[m] for m in minutes})
        if series == "today":  # each series sums to its day's figure (all its minutes are here)
            equations.append((scope, [(scope, m) for m in minutes]))
    equations += [(("region", m), [(i, m) for i in (BIG, SMALL, OTHER)]) for m in minutes]
    return cells, equations


@pytest.mark.parametrize("series", ["today", "last_week"])
def test_three_institutions_in_a_minute_give_nothing_away(
    official_three: TestClient, series: str
) -> None:
    cells, equations = published(official_three, series)
    assert cells[("region", "00:05")] == 133  # the region's busiest minute stays shown
    assert cells[(SMALL, "00:05")] is None
    assert determined(cells, equations) == {}
    values = possible_values(cells, equations, upper=200, max_free=3)
    if values is not None:
        for cell, taken in values.items():
            assert len(taken) > 1, (cell, taken)
