"""MUST-SHOW (issue 18): the operators' console with a province's 1,751 institutions loaded.

The web app runs in this process (uvicorn on a free 127.0.0.1 port) on a chDB database
seeded directly with ten minutes of reconciliation windows and the anomalies of 1,751
institutions (:mod:`.console_fleet`, faults known). Link health is judged by the real
evaluation (streamhub.health.evaluate) of an observation of the same 1,751 institutions, fed
through the console's health source (:func:`streamhub.web.console.use_health_source`):
gather reads the fixed ops topics of the shared stack, which a test cannot fill with a
province of its own.

An operator signs in through the login page in headless Chromium, filters by district and
status, pages forward and back, searches an institution by name, and each time reads on
screen exactly the rows the fault plan predicts, in worst-first order. A screenshot of the
console as it opens (1,751 institutions, first page) goes to the artifacts directory.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from clickhouse_connect.driver.client import Client
from playwright.sync_api import Page, expect

from streamhub.config import Settings, load_settings
from streamhub.core.clock import SYSTEM_CLOCK, now_ms
from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate
from streamhub.web.app import create_app
from streamhub.web.auth import User, hash_password, write_users
from streamhub.web.console import use_health_source
from streamhub.web.institutions import Directory

from .browser_harness import artifacts_dir, chromium, free_port, sign_in
from .conftest import KeepOpen
from .console_fleet import (
    Fleet,
    Institution,
    anomaly_rows,
    fleet,
    insert_rows,
    observation,
    reconciliation_rows,
)

MINUTES = 10  # of reconciliation windows: 59,290 for the province
PAGE = 50
OPERATOR, PASSWORD = "scale-operator", "scale-operator-pw"
RECON_RANK = {"MISSING": 0, "EXCESS": 1, "PENDING": 2, "LATE": 3, "MATCH": 4}


@dataclass(frozen=True)
class Seeded:
    fleet: Fleet
    windows: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    base_url: str


@pytest.fixture(scope="module")
def ch(chdb_path: Path) -> Iterator[Client]:
    database = f"console_scale_{uuid.uuid4().hex[:8]}"
    client = connect(f"chdb://{chdb_path}", database, create=True)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()


@pytest.fixture(scope="module")
def scale_settings(tmp_path_factory: pytest.TempPathFactory, project_dir: Path) -> Settings:
    home = tmp_path_factory.mktemp("console-scale")
    users = home / "users.yaml"
    write_users(
        users, {OPERATOR: User(OPERATOR, "operator", hash_password(PASSWORD, iterations=1_000))}
    )
    return load_settings(
        project_dir=project_dir, data_dir=home, web_users_file=users,
        audit_log=home / "audit.jsonl", web_session_minutes=30,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded(ch: Client, scale_settings: Settings) -> Iterator[Seeded]:
    province = fleet()
    now = now_ms(SYSTEM_CLOCK)
    newest = now - now % 60_000 - 2 * 60_000
    windows = list(reconciliation_rows(province, newest, MINUTES))
    insert_rows(ch, "ops_reconciliation", iter(windows))
    anomalies = anomaly_rows(province, now)
    insert_rows(ch, "ops_anomaly", iter(anomalies))

    names = province.names
    app = create_app(scale_settings, KeepOpen(ch), directory=Directory(lambda: names))
    use_health_source(app.state.web, lambda: observation(province, now_ms(SYSTEM_CLOCK)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="console-scale-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    try:
        yield Seeded(province, windows, anomalies, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(15)


# --- what the fault plan says each view must show ---------------------------------------------


def health_expected(seeded: Seeded, region: str, status: str) -> list[str]:
    """Within one status every faulty institution has the same hops at fault: id order."""
    return sorted(
        i.institution_id
        for i in seeded.fleet.institutions
        if i.region_code == region and i.health == status
    )


def recon_expected(seeded: Seeded, region: str, status: str) -> list[str]:
    rows = [
        w for w in seeded.windows
        if w["institution_id"][2:8] == region and w["status"] == status
    ]  # fmt: skip
    rows.sort(key=lambda w: (w["institution_id"], w["system"], w["table"]))
    rows.sort(key=lambda w: (RECON_RANK[w["status"]], -abs(w["difference"]), -w["window_start_ms"]))
    return [window_key(w) for w in rows]


def window_key(w: dict[str, Any]) -> str:
    return f"{w['institution_id']}|{w['system']}|{w['table']}|{w['window_start_ms']}"


def anomalies_expected(seeded: Seeded, region: str) -> list[str]:
    """Open, not acknowledged: critical (SILENCE of a down link) first, then newest start."""
    opened = [
        a for a in seeded.anomalies
        if a["institution_id"][2:8] == region and a["kind"] != "RECOVERED"
        and not a["suppressed"] and not a["anomaly_id"].endswith("-rec")
    ]  # fmt: skip
    opened.sort(key=lambda a: a["anomaly_id"])
    opened.sort(key=lambda a: (a["severity"] != "CRITICAL", -a["start_ms"]))
    return [a["anomaly_id"] for a in opened]


# --- reading the screen -----------------------------------------------------------------------


def shown(page: Page, testid: str, attribute: str) -> list[str]:
    values: list[str] = page.eval_on_selector_all(
        f'[data-testid="{testid}"]', f"els => els.map(e => e.getAttribute('{attribute}'))"
    )
    return values


def shown_windows(page: Page) -> list[str]:
    keys: list[str] = page.eval_on_selector_all(
        '[data-testid="recon-row"]',
        "els => els.map(e => [e.dataset.institution, e.dataset.system, e.dataset.table,"
        " e.dataset.windowStartMs].join('|'))",
    )
    return keys


def wait_rows(page: Page, read: Any, expected: list[str], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    got = read()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        got = read()
    assert got == expected, (
        f"{what}: expected {len(expected)} rows {expected[:5]}…, shown {got[:5]}…"
    )


def pager_at(page: Page, prefix: str, number: int, pages: int, matched: int) -> None:
    pager = page.get_by_test_id(f"{prefix}-pager")
    expect(pager).to_have_attribute("data-page", str(number), timeout=20_000)
    expect(pager).to_have_attribute("data-pages", str(pages))
    expect(pager).to_have_attribute("data-matched", str(matched))


def chip(page: Page, prefix: str, value: str) -> Any:
    return page.locator(f'[data-testid="{prefix}-chip"][data-value="{value}"]')


def pick(province: Fleet) -> Institution:
    return province.institutions[123]


def test_console_filters_and_pages_a_province(seeded: Seeded) -> None:
    province = seeded.fleet
    region = province.institutions[0].region_code
    in_region = sorted(i.institution_id for i in province.institutions if i.region_code == region)
    counts = {
        s: sum(i.health == s for i in province.institutions) for s in ("down", "degraded", "ok")
    }
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1040}, locale="zh-CN")
        page = context.new_page()
        sign_in(page, seeded.base_url, OPERATOR, PASSWORD)
        page.goto(f"{seeded.base_url}/console")

        # the whole province: one page of 50 rows, worst first, the chips count every state
        pager_at(page, "health", 1, -(-1751 // PAGE), 1751)
        for status, count in counts.items():
            expect(chip(page, "health", status)).to_have_attribute(
                "data-count", str(count), timeout=20_000
            )
        expect(chip(page, "health", "")).to_have_attribute("data-count", "1751")
        downs = sorted(i.institution_id for i in province.institutions if i.health == "down")
        degraded = sorted(i.institution_id for i in province.institutions if i.health == "degraded")
        wait_rows(page, lambda: shown(page, "health-row", "data-institution"),
                  (downs + degraded)[:PAGE], "health, worst first")  # fmt: skip
        pager_at(page, "recon", 1, -(-len(seeded.windows) // PAGE), len(seeded.windows))
        shot = artifacts_dir() / "console-1751.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")

        # a district: its institutions only, every list
        page.get_by_test_id("filter-district").select_option(region)
        healthy = health_expected(seeded, region, "ok")
        pager_at(page, "health", 1, -(-len(in_region) // PAGE), len(in_region))
        chip(page, "health", "ok").click()
        pager_at(page, "health", 1, -(-len(healthy) // PAGE), len(healthy))
        assert len(healthy) > 2 * PAGE  # three pages at least: forward twice, back once
        read_health = lambda: shown(page, "health-row", "data-institution")  # noqa: E731
        wait_rows(page, read_health, healthy[:PAGE], "district, ok, page 1")
        page.get_by_test_id("health-next").click()
        wait_rows(page, read_health, healthy[PAGE : 2 * PAGE], "district, ok, page 2")
        page.get_by_test_id("health-next").click()
        wait_rows(page, read_health, healthy[2 * PAGE : 3 * PAGE], "district, ok, page 3")
        page.get_by_test_id("health-prev").click()
        wait_rows(page, read_health, healthy[PAGE : 2 * PAGE], "district, ok, back to page 2")
        chip(page, "health", "down").click()
        wait_rows(page, read_health, health_expected(seeded, region, "down"), "district, down")

        # reconciliation in the district: MATCH windows paged, MISSING ones exactly
        matched = recon_expected(seeded, region, "MATCH")
        chip(page, "recon", "MATCH").click()
        pager_at(page, "recon", 1, -(-len(matched) // PAGE), len(matched))
        wait_rows(page, lambda: shown_windows(page), matched[:PAGE], "recon MATCH page 1")
        page.get_by_test_id("recon-next").click()
        wait_rows(page, lambda: shown_windows(page), matched[PAGE : 2 * PAGE], "recon page 2")
        page.get_by_test_id("recon-prev").click()
        wait_rows(page, lambda: shown_windows(page), matched[:PAGE], "recon back to page 1")
        chip(page, "recon", "MISSING").click()
        missing = recon_expected(seeded, region, "MISSING")
        wait_rows(page, lambda: shown_windows(page), missing[:PAGE], "recon MISSING")

        # anomalies in the district: the open, unacknowledged ones, critical first
        chip(page, "anomaly", "open").click()
        wait_rows(page, lambda: shown(page, "anomaly-row", "data-anomaly-id"),
                  anomalies_expected(seeded, region)[:PAGE], "anomalies open")  # fmt: skip

        # a name search narrows every list to that institution (all districts again)
        one = pick(province)
        page.get_by_test_id("filter-district").select_option("")
        chip(page, "health", "").click()
        page.get_by_test_id("filter-search").fill(one.name.split("第")[1])  # "0124医院"
        wait_rows(page, read_health, [one.institution_id], f"search {one.name}")
        chip(page, "recon", "").click()
        pager_at(page, "recon", 1, 1, sum(w["institution_id"] == one.institution_id
                                          for w in seeded.windows))  # fmt: skip
        assert set(shown(page, "recon-row", "data-institution")) == {one.institution_id}
        context.close()
