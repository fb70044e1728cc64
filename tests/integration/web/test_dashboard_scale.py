"""The dashboard with a province's 1,751 institutions loaded, in Chromium.

ClickHouse (chDB, migrated through 0007) is seeded by bench/dashboard_year.py's generator at
a small volume: eight days of 1,751 institutions (hospitals first, skewed by size, over the
catalogue's districts) with updates, cancellations, withdrawn registrations and deletes as
further versions. The web app serves it on a local port; the official signs in and the
screen's KPIs must equal today's figures computed straight from the std_* tables (check.*).
The screenshot goes to docs/screenshots/dashboard-1751.png.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from clickhouse_connect.driver.client import Client

from streamhub.config import Settings
from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate
from streamhub.query import DirectQueries
from streamhub.web.app import create_app
from streamhub.web.institutions import Directory

from .browser_harness import (
    KPIS,
    REPO,
    Screen,
    chromium,
    expected_figures,
    free_port,
    mismatches,
    read_screen,
    sign_in,
    wait_for_screen,
)
from .conftest import PASSWORDS, KeepOpen

SCREENSHOT = REPO / "docs" / "screenshots" / "dashboard-1751.png"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dashboard_year", REPO / "bench" / "dashboard_year.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def province(chdb_path: Path) -> Iterator[tuple[Client, ModuleType]]:
    bench = _bench()
    database = f"scale_{uuid.uuid4().hex[:10]}"
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    for _label, sql in bench.generation(bench.Shape(8, 0.002, datetime.now(UTC))):
        client.command(sql)
    yield client, bench
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()


class Served:
    """The web app on 127.0.0.1 in a thread of this process (it reads chDB directly)."""

    def __init__(self, settings: Settings, client: Client, names: dict[str, str]) -> None:
        app = create_app(settings, KeepOpen(client), directory=Directory(lambda: names))
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "the web app did not start"
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_dashboard_shows_the_exact_figures_of_1751_institutions(
    province: tuple[Client, ModuleType], web_settings: Settings
) -> None:
    client, bench = province
    ids = bench.institution_ids()
    assert len(ids) == 1_751
    names = {
        i: f"{'医院' if n < bench.HOSPITALS else '卫生院'} {n + 1:04d}" for n, i in enumerate(ids)
    }
    source = DirectQueries(client)
    seen = client.query("SELECT uniqExact(institution_id) FROM std_encounter").result_rows[0][0]
    assert seen > 1_700  # nearly all of them have data (the smallest clinics may have none)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    expected = expected_figures(source, today)
    assert isinstance(expected["visits"], int) and expected["visits"] > 500
    with Served(web_settings, client, names) as base_url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base_url, "wang", PASSWORDS["wang"])
        page.goto(f"{base_url}/dashboard")
        summary = page.request.get(f"{base_url}/api/dashboard/summary").json()
        # complementary suppression may hide a regional total that is not small itself
        protecting = {k for k, f in KPIS.items() if f in summary["totals"]["suppressed"]}

        def problems(screen: Screen) -> list[str]:
            return [
                m
                for m in mismatches(screen, expected)
                if not (m.split(":")[0] in protecting and m.split(":")[0] in screen.hidden)
            ]

        screen = wait_for_screen(page, lambda s: not problems(s), timeout_s=40)
        assert not problems(screen), problems(screen)
        assert len(protecting) < len(KPIS) // 2  # most of the region's figures are shown
        rows = page.get_by_test_id("rank-institution").get_by_test_id("rank-row").count()
        # the ranking shows its first 100 institutions, not a table of every one per poll
        assert len(summary["by_institution"]) > 1_000
        assert rows == 100
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        print(f"screenshot: {SCREENSHOT} ({SCREENSHOT.stat().st_size} bytes, {rows} rows)")
        assert read_screen(page).values() == screen.values()
