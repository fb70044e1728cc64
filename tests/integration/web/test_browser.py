"""MUST-SHOW (issue 7): the regional dashboard in a real browser on the real local stack.

Simulated institutions write today's business (``--start today``) while the capture agent,
`streamhub standardize`, `streamhub land --query-port` and `streamhub serve` run as the demo
runs them. An official signs in through the login page in headless Debian Chromium and:

1. sees the KPIs move within seconds while the simulator writes (no KPI stands still for
   more than 5 s over a 30 s watch, the visits count changes again and again);
2. sees the freshness badge turn red when the lander stops (its age still counting up),
   and fresh again when it is back;
3. once everything captured has landed, reads on screen exactly the figures this test
   computes itself from the std_* tables for DOMAIN.md's definitions (small cells as "<5");
4. never got a server error (HTTP 5xx other than "unavailable") from the dashboard's API,
   and sees the trend chart drawn for today.

A developer, in a browser of their own, is refused the dashboard (page and API: 403) and
gets the data catalog. Screenshots go to $STREAMHUB_TEST_ARTIFACTS (default .artifacts/).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from streamhub.capture.alongside import CaptureAlongside
from streamhub.cli.simulate_cmd import parse_start
from streamhub.config import Settings
from streamhub.simulate.runner import Simulation, SimulationOptions

from ..capture.conftest import capture_settings, catalog_topics  # noqa: F401 - fixtures
from ..capture.helpers import write_connector_files
from ..pipeline.harness import capture_caught_up
from .browser_harness import (
    SMALL_CELL_MAX,
    Screen,
    ServerErrors,
    WebPipeline,
    chromium,
    drop_sources,
    expected_figures,
    mismatches,
    read_screen,
    screenshot,
    sign_in,
    wait_for_screen,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# long enough that the simulator still writes through the 30 s watch and the lander outage
SIM_DURATION_S = 90.0
SIM_RATE = 120.0  # row changes per second, all institutions: a modest, steady stream
WATCH_S = 30.0
MAX_STILL_S = 5.0  # "the dashboard refreshes within seconds": no KPI stands still longer
SLACK_S = 1.0  # sampling every 0.5 s, plus a request's round trip
FIRST_DATA_S = 90.0  # snapshot + standardizer start-up before the first figures show


def test_official_sees_live_exact_figures_and_a_developer_is_refused(
    capture_settings: Settings,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    settings = capture_settings
    options = SimulationOptions(
        start=parse_start("today"),  # as `streamhub simulate --start today`: today's dashboard
        seed=17,
        hospitals=2,  # h01 PostgreSQL, h02 MariaDB (GBK): admissions, discharges, exams
        clinics=1,
        rate=SIM_RATE,
        duration_s=SIM_DURATION_S,
        compression=144.0,
        db_prefix=f"web{uuid.uuid4().hex[:6]}",
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    pipeline = WebPipeline(
        settings, tmp_path, _dir(tmp_path / "connectors"), uuid.uuid4().hex[:8], database="web"
    )
    with chromium() as browser:
        started = time.monotonic()
        try:
            connectors = write_connector_files(
                settings, simulation, pipeline.connectors_dir, row_count_s=60
            )
            pipeline.pin_groups_to_end()
            migrated = pipeline.streamhub("clickhouse", "migrate")
            assert migrated.returncode == 0, migrated.stderr
            users = pipeline.add_users()
            pipeline.start("standardize")
            pipeline.start_land()
            pipeline.start_serve()
            simulation.setup()  # while the workers start
            pipeline.wait_serving("serve", f"{pipeline.base_url}/login")
            _phase(started, "sources set up, workers and web app started")

            official = browser.new_context()
            official.set_default_timeout(15_000)
            page = official.new_page()
            server_errors = ServerErrors()
            server_errors.watch(page)
            sign_in(page, pipeline.base_url, *users["official"])
            assert urlparse(page.url).path == "/dashboard", f"the official landed on {page.url}"

            with CaptureAlongside(settings, connectors):
                writer = Writer(simulation)
                writer.start()
                _kpis_move_while_the_simulator_writes(pipeline, page, writer)
                _badge_turns_red_without_the_lander(pipeline, page, writer)
                _phase(started, "live KPIs and the lander outage shown")
                writer.join()
                assert capture_caught_up(pipeline, connectors, 120) == []
            assert pipeline.wait_drained(180), (
                f"pipeline lag {pipeline.lag()} after 180 s\nstandardize:\n"
                f"{pipeline.log_tail('standardize')}\nland:\n{pipeline.log_tail('land')}"
            )
            _phase(started, "simulator done, everything captured has landed")
            _screen_equals_clickhouse(pipeline, page)
            _developer_is_refused_the_dashboard(browser, pipeline, users["developer"])
            assert not server_errors.seen, (
                f"the dashboard's API failed {len(server_errors.seen)} time(s): "
                f"{sorted(set(server_errors.seen))[:5]}\nserve:\n{pipeline.log_tail('serve', 10)}"
            )
            _trend_chart_drawn(page)
        finally:
            pipeline.stop_all()
            drop_sources(settings, simulation)
            print(f"browser test: {time.monotonic() - started:.0f} s; logs in {tmp_path}")


class Writer(threading.Thread):
    """The simulator's run in a thread; its failure is re-raised by join()."""

    def __init__(self, simulation: Simulation) -> None:
        super().__init__(daemon=True)
        self.simulation = simulation
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.simulation.run()
        except BaseException as exc:  # re-raised in the test's thread
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise AssertionError(f"the simulator failed: {self.error!r}") from self.error


def _kpis_move_while_the_simulator_writes(
    pipeline: WebPipeline, page: Page, writer: Writer
) -> None:
    def flowing(screen: Screen) -> bool:
        return (screen.value("kpi-visits") or "").isdigit() and screen.freshness_state == "fresh"

    # the watch starts once data shows and the badge has caught up with it (both are polled)
    first = wait_for_screen(page, flowing, FIRST_DATA_S)
    assert flowing(first), (
        f"no fresh visits on the dashboard {FIRST_DATA_S:g} s after the simulator started "
        f"(kpi-visits {first.kpis['kpi-visits']}, badge {first.freshness_state} "
        f"{first.freshness_text!r})\n"
        f"standardize:\n{pipeline.log_tail('standardize', 15)}\n"
        f"land:\n{pipeline.log_tail('land', 15)}\nserve:\n{pipeline.log_tail('serve', 15)}"
    )
    assert writer.is_alive(), "the simulator finished before the watch began: raise SIM_DURATION_S"
    samples = [first]
    while samples[-1].at - first.at < WATCH_S:
        time.sleep(0.5)
        samples.append(read_screen(page))
    assert writer.is_alive(), "the simulator stopped during the watch: raise SIM_DURATION_S"

    changes = [b.at for a, b in pairwise(samples) if a.values() != b.values()]
    visit_changes = [
        (a.value("kpi-visits"), b.value("kpi-visits"))
        for a, b in pairwise(samples)
        if a.value("kpi-visits") != b.value("kpi-visits")
    ]
    marks = [first.at, *changes, samples[-1].at]
    still = max(b - a for a, b in pairwise(marks))
    print(
        f"watch: {len(changes)} KPI changes in {WATCH_S:g} s, longest still {still:.1f} s, "
        f"visits {first.value('kpi-visits')} -> {samples[-1].value('kpi-visits')}"
    )
    assert len(visit_changes) >= 2, (
        f"kpi-visits changed {len(visit_changes)} time(s) in {WATCH_S:g} s while the simulator "
        f"wrote: {visit_changes}"
    )
    assert still <= MAX_STILL_S + SLACK_S, (
        f"the KPIs stood still for {still:.1f} s (at most {MAX_STILL_S:g} s allowed) while the "
        f"simulator wrote; change times (s into the watch): "
        f"{[round(t - first.at, 1) for t in changes]}"
    )
    states = [s.freshness_state for s in samples]
    assert "fresh" in states and "red" not in states, (
        f"the freshness badge while data flowed: {sorted(set(map(str, states)))}"
    )


def _badge_turns_red_without_the_lander(pipeline: WebPipeline, page: Page, writer: Writer) -> None:
    before = wait_for_screen(page, lambda s: s.freshness_state == "fresh", 10)
    assert before.freshness_state == "fresh", (
        f"the badge is not fresh while data lands: {before.freshness_state} "
        f"{before.freshness_text!r}"
    )
    code = pipeline.stop("land")
    assert code == 0, f"the lander exited {code} on SIGTERM:\n{pipeline.log_tail('land')}"
    # red at the latest when the age passes red_s (the page polls every few seconds)
    red = wait_for_screen(page, lambda s: s.freshness_state == "red", pipeline.red_s + 5)
    assert red.freshness_state == "red", (
        f"{pipeline.red_s + 5:g} s after the lander stopped the badge is "
        f"{red.freshness_state} {red.freshness_text!r} (red after {pipeline.red_s:g} s)"
    )
    time.sleep(2.5)
    later = read_screen(page)
    ages = (red.age_s(), later.age_s())
    assert later.freshness_state == "red", f"the badge left red: {later.freshness_text!r}"
    assert ages[0] is not None and ages[1] is not None and ages[1] > ages[0], (
        f"the badge should read 数据更新于 N 秒前 with N growing; it read "
        f"{red.freshness_text!r} then {later.freshness_text!r}"
    )
    screenshot(page, "dashboard-lander-stopped.png")

    pipeline.start_land()
    back = wait_for_screen(page, lambda s: s.freshness_state == "fresh", 60)
    assert back.freshness_state == "fresh", (
        f"the badge did not turn fresh within 60 s of restarting the lander: "
        f"{back.freshness_state} {back.freshness_text!r}\nland:\n{pipeline.log_tail('land', 15)}"
    )


def _screen_equals_clickhouse(pipeline: WebPipeline, page: Page) -> None:
    day = datetime.now(SHANGHAI).date()
    summary = page.request.get(f"{pipeline.base_url}/api/dashboard/summary")
    assert summary.ok, f"/api/dashboard/summary: {summary.status} {summary.text()[:300]}"
    assert summary.json()["day"] == day.isoformat(), (
        f"the dashboard's day {summary.json()['day']} is not today in Asia/Shanghai ({day})"
    )
    source = pipeline.queries()
    try:
        figures = expected_figures(source, day)
    finally:
        source.close()
    visits = figures["visits"]
    assert isinstance(visits, int) and visits > SMALL_CELL_MAX, f"too little landed: {figures}"
    screen: Screen = wait_for_screen(page, lambda s: not mismatches(s, figures), 15)
    path = screenshot(page, "dashboard-drained.png")
    assert mismatches(screen, figures) == [], f"screen vs ClickHouse ({figures}); see {path}"


def _trend_chart_drawn(page: Page) -> None:
    """The chart drew today's series from /api/dashboard/trend (data-day is its day)."""
    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_have_attribute("data-day", datetime.now(SHANGHAI).date().isoformat())
    expect(chart.locator("canvas")).not_to_have_count(0)


def _developer_is_refused_the_dashboard(
    browser: Browser, pipeline: WebPipeline, developer: tuple[str, str]
) -> None:
    context = browser.new_context()  # a fresh browser: no official's cookie
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, pipeline.base_url, *developer)
        assert urlparse(page.url).path == "/catalog", f"the developer landed on {page.url}"
        response = page.goto(f"{pipeline.base_url}/dashboard")
        assert response is not None and response.status == 403, (
            f"/dashboard for a developer: {None if response is None else response.status}"
        )
        expect(page.get_by_test_id("forbidden")).to_be_visible()
        expect(page.get_by_test_id("kpi-visits")).to_have_count(0)
        screenshot(page, "developer-forbidden.png")
        api: Any = context.request.get(f"{pipeline.base_url}/api/dashboard/summary")
        assert api.status == 403, f"/api/dashboard/summary for a developer: {api.status}"
        page.goto(f"{pipeline.base_url}/catalog")
        expect(page.get_by_test_id("topic-list")).to_contain_text("std.encounter")
    finally:
        context.close()


def _phase(started: float, what: str) -> None:
    print(f"[{time.monotonic() - started:5.0f} s] {what}")


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
