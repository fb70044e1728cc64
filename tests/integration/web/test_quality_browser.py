"""MUST-SHOW (issue 22): the 质控 page and the printable report render in Chromium.

An operator signs in through the login page, opens 数据质控 for November 2026 (the quality
tests' fixed dataset), sees the overall scores, the trend chart, the per-rule tables and the
work orders, then opens the printable HTML report; a contact's page has no institution filter
and no source key column. Screenshots go to the browser artifacts directory
(docs/screenshots/quality-page.png is a copy of the first).
"""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client
from playwright.sync_api import expect

from streamhub.config import Settings
from streamhub.quality.orders import WorkOrderStore
from streamhub.web.app import create_app
from streamhub.web.institutions import Directory
from tests.integration.web import data
from tests.integration.web.browser_harness import (
    ServerErrors,
    chromium,
    screenshot,
    serving,
    sign_in,
)
from tests.integration.web.conftest import KeepOpen
from tests.integration.web.quality_data import (  # noqa: F401 - fixtures
    PASSWORDS,
    PERIOD,
    TITLES,
    A,
    B,
    contacts,
    orders,
    quality_rows,
)

REPORT_MS = 60_000  # a report runs a dozen scans: seconds on a busy shared machine


def test_quality_page_and_report_render(
    web_settings: Settings,
    ch: Client,
    orders: WorkOrderStore,  # noqa: F811 - the fixture imported above
    contacts: dict[str, str],  # noqa: F811
) -> None:
    app = create_app(
        web_settings,
        KeepOpen(ch),
        directory=Directory(lambda: dict(data.NAMES)),
        orders=lambda: orders,
    )
    with serving(app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = ServerErrors()
        errors.watch(page)
        sign_in(page, base, "li", PASSWORDS["li"])
        page.goto(f"{base}/quality?period={PERIOD}&trend=2")  # short: a dozen scans less
        expect(page.get_by_test_id("q-title")).to_contain_text(
            f"数据质控报告 {PERIOD}", timeout=REPORT_MS
        )
        assert not errors.seen, errors.seen
        titles = page.get_by_test_id("quality-section")
        expect(titles).to_have_count(len(TITLES))
        assert [titles.nth(i).get_attribute("data-title") for i in range(4)] == TITLES
        expect(page.get_by_test_id("quality-trend-chart").locator("canvas")).to_have_count(1)
        expect(page.get_by_test_id("order-row")).to_have_count(3)
        assert "源主键(运维)" in page.get_by_test_id("quality-sections").inner_text()
        shot = screenshot(page, "quality-page.png")
        docs = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "quality-page.png"
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_bytes(shot.read_bytes())

        href = page.get_by_test_id("q-export-html").get_attribute("href")
        assert href and "period=2026-11" in href
        page.goto(base + href)
        expect(page.locator("h1")).to_contain_text("数据质控报告", timeout=REPORT_MS)
        for title in TITLES:
            expect(page.locator("h2", has_text=title)).to_have_count(1)
        screenshot(page, "quality-report.png")

        contact = browser.new_page(viewport={"width": 1400, "height": 1000})
        sign_in(contact, base, "chen", PASSWORDS["chen"])
        # B is not even offered to a contact: the page leaves it out, the API would refuse it
        contact.goto(f"{base}/quality?period={PERIOD}&trend=1&institution={B}")
        expect(contact.get_by_test_id("q-title")).to_contain_text(A, timeout=REPORT_MS)
        expect(contact.get_by_test_id("q-institution")).to_be_hidden()
        expect(contact.get_by_test_id("order-row")).to_have_count(1)
        text = contact.get_by_test_id("quality-sections").inner_text()
        assert B not in text and "源主键(运维)" not in text
        screenshot(contact, "quality-page-contact.png")
