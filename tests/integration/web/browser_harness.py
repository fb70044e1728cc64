"""What the browser test needs around the pipeline harness: the web app beside the lander,
users to sign in with, Debian's Chromium driven by Playwright, the screen's KPIs and the
same figures computed independently from ClickHouse.

The processes are the demo's (`streamhub standardize`, `streamhub land --query-port`,
`streamhub serve`), started through :class:`~tests.integration.pipeline.harness.Pipeline`
with its per-run Kafka groups and ClickHouse directory. The lander owns the embedded
ClickHouse; this process reads it only through the lander's query endpoint.
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from streamhub.config import Settings
from streamhub.query import QuerySource, open_query_source
from streamhub.simulate.runner import Simulation
from streamhub.simulate.sources import open_sources

from ..pipeline.harness import Pipeline

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SMALL_CELL_MAX = 4  # DOMAIN.md: cells of 1-4 people are hidden
# every hidden cell shows one neutral mark (a small count and one hidden to protect it alike),
# saying so on hover
SUPPRESSED_TEXT = "—"
SUPPRESSED_TITLE = "已隐藏（保护小样本）"
FRESHNESS_TEXT = re.compile(r"数据更新于\s*(\d+)\s*秒前")
ROLES = ("official", "developer", "operator")

# data-testid -> the figure it shows (names of :func:`expected_figures`)
KPIS = {
    "kpi-visits": "visits",
    "kpi-admissions": "admissions",
    "kpi-discharges": "discharges",
    "kpi-inpatients": "inpatients_on_hand",
    "kpi-avg-cost": "avg_outpatient_cost",
    "kpi-drug-share": "drug_share",
    "kpi-lab": "lab_reports",
    "kpi-exam": "exams",
}
# decimals the API rounds each non-count to (the screen's data-value is the API's number)
DECIMALS = {"avg_outpatient_cost": 2, "drug_share": 4}


def artifacts_dir() -> Path:
    """Where screenshots go: $STREAMHUB_TEST_ARTIFACTS, else <repo>/.artifacts (git-ignored)."""
    path = Path(os.environ.get("STREAMHUB_TEST_ARTIFACTS") or REPO / ".artifacts") / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the pipeline with the web app ----------------------------------------------------------


@dataclass
class WebPipeline(Pipeline):
    """The pipeline harness plus `land --query-port` and `streamhub serve` on free ports."""

    query_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    amber_s: float = 5.0
    red_s: float = 15.0

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.query_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def users_file(self) -> Path:
        return self.workdir / "web" / "users.yaml"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "web" / "audit.jsonl"

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "STREAMHUB_QUERY_URL": self.query_url,
            "STREAMHUB_WEB_USERS_FILE": str(self.users_file),
            "STREAMHUB_AUDIT_LOG": str(self.audit_log),
            "STREAMHUB_FRESHNESS_AMBER_S": f"{self.amber_s:g}",
            "STREAMHUB_FRESHNESS_RED_S": f"{self.red_s:g}",
        }

    def add_users(self) -> dict[str, tuple[str, str]]:
        """One user per role through `streamhub users add --password-file`: role -> (name,
        password)."""
        secrets = self.workdir / "web" / "passwords"
        secrets.mkdir(parents=True, exist_ok=True)
        users = {}
        for role in ROLES:
            name, password = f"{role}-{self.tag}", f"pw-{role}-{os.urandom(6).hex()}"
            path = secrets / name
            path.write_text(password + "\n")
            path.chmod(0o600)
            done = self.streamhub(
                "users", "add", name, "--role", role, "--password-file", str(path), timeout=60
            )
            assert done.returncode == 0, f"`streamhub users add {name}` failed: {done.stderr}"
            users[role] = (name, password)
        return users

    def start_land(self) -> None:
        self.start("land", "land", "--query-port", str(self.query_port))

    def start_serve(self) -> None:
        self.start("serve", "serve", "--host", "127.0.0.1", "--port", str(self.web_port))

    def queries(self) -> QuerySource:
        """This run's ClickHouse, read through the lander's query endpoint."""
        settings = self.settings.model_copy(
            update={
                "query_url": self.query_url,
                "clickhouse_dsn": self.dsn,
                "clickhouse_database": self.database,
            }
        )
        return open_query_source(settings)

    def wait_serving(self, name: str, url: str, timeout_s: float = 90) -> None:
        """Until ``url`` answers (any HTTP status); fails with the log when the process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive(name):
                raise AssertionError(f"`streamhub {name}` exited:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own 127.0.0.1
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(
            f"{url} did not answer within {timeout_s:g} s; `streamhub {name}` "
            f"log:\n{self.log_tail(name)}"
        )


def drop_sources(settings: Settings, simulation: Simulation) -> None:
    """Drop the run's institution databases (also when the run failed before its ledger)."""
    for engine in {inst.engine for inst in simulation.institutions}:
        source = open_sources(settings, engine)
        try:
            for inst in simulation.institutions:
                if inst.engine == engine:
                    for system in inst.systems:
                        source.drop(inst.database(simulation.options.db_prefix, system))
        finally:
            source.close()


# --- the browser ----------------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium. Missing: a skip locally, a failure in CI (scripts/test
    installs it with `streamhub stack up --browser`)."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: install Debian's chromium (`streamhub stack up "
            "--browser`, as scripts/test does)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, name: str, password: str) -> None:
    """Through the login page, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_test_id("login-username").fill(name)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=15_000)


@dataclass(frozen=True)
class Screen:
    """One reading of the dashboard: data-testid -> (data-value, text), and the badge;
    ``hidden``: the data-testids marked hidden (class and hover text)."""

    at: float  # time.monotonic()
    kpis: dict[str, tuple[str | None, str]]
    freshness_state: str | None
    freshness_text: str
    hidden: frozenset[str] = frozenset()

    def value(self, testid: str) -> str | None:
        return self.kpis.get(testid, (None, ""))[0]

    def values(self) -> tuple[str | None, ...]:
        return tuple(self.value(testid) for testid in KPIS)

    def age_s(self) -> int | None:
        match = FRESHNESS_TEXT.search(self.freshness_text)
        return int(match[1]) if match else None


_READ_SCREEN = """([ids, title]) => {
  const out = {};
  for (const id of ids) {
    const el = document.querySelector(`[data-testid="${id}"]`);
    out[id] = el ? [el.getAttribute("data-value"), el.textContent.trim(),
                    el.classList.contains("suppressed") && el.title === title] : null;
  }
  const badge = document.querySelector('[data-testid="freshness"]');
  return {kpis: out, state: badge ? badge.getAttribute("data-state") : null,
          text: badge ? badge.textContent.trim() : ""};
}"""


def read_screen(page: Page) -> Screen:
    """Every KPI and the badge in one evaluation (one consistent moment of the page)."""
    got: dict[str, Any] = page.evaluate(_READ_SCREEN, [list(KPIS), SUPPRESSED_TITLE])
    missing = [testid for testid, cell in got["kpis"].items() if cell is None]
    assert not missing, f"the dashboard has no element with data-testid {missing}"
    kpis = {testid: (cell[0], cell[1]) for testid, cell in got["kpis"].items()}
    hidden = frozenset(testid for testid, cell in got["kpis"].items() if cell[2])
    return Screen(time.monotonic(), kpis, got["state"], got["text"], hidden)


def wait_for_screen(page: Page, check: Any, timeout_s: float, every_s: float = 0.5) -> Screen:
    """Read the screen until ``check(screen)`` holds; the last reading either way."""
    deadline = time.monotonic() + timeout_s
    screen = read_screen(page)
    while not check(screen) and time.monotonic() < deadline:
        time.sleep(every_s)
        screen = read_screen(page)
    return screen


@dataclass
class ServerErrors:
    """API answers of a page that are server faults: any 5xx but 502-504, which say "the
    lander / ClickHouse is unavailable" and are expected while the lander is down."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def record(response: Response) -> None:
            if (
                "/api/" in response.url
                and response.status >= 500
                and response.status
                not in (
                    502,
                    503,
                    504,
                )
            ):
                self.seen.append(
                    f"{response.request.method} {response.url} -> "
                    f"{response.status} {_body(response)}"
                )

        page.on("response", record)


def _body(response: Response) -> str:
    try:
        return response.text()[:300]
    except PlaywrightError:
        return "(no body)"


def screenshot(page: Page, name: str) -> Path:
    path = artifacts_dir() / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


# --- the figures, computed independently of the dashboard views ------------------------------
# The check.* named queries of streamhub.query.catalog (the lander runs no other SQL): today's
# totals per DOMAIN.md straight from the std_* tables (FINAL), not through the views.


def expected_figures(source: QuerySource, day: date) -> dict[str, int | Decimal | None]:
    """Today's regional totals per DOMAIN.md, straight from the std_* tables (FINAL)."""
    parameters = {"day": day.isoformat()}
    (encounters,) = source.run("check.encounters_of_day", parameters)
    (fees,) = source.run("check.fees_of_day", parameters)
    (reports,) = source.run("check.reports_of_day", parameters)
    counts = {name: int(value) for name, value in {**encounters, **reports}.items()}
    fee, drug, outpatient = (
        Decimal(fees[name]) for name in ("fee_revenue", "drug_revenue", "outpatient_revenue")
    )
    visits = counts["visits"]
    return {
        **counts,
        "avg_outpatient_cost": outpatient / visits if visits else None,
        "drug_share": drug / fee if fee else None,
    }


def suppressed(figure: str, figures: dict[str, Any]) -> bool:
    """A small cell: a count of 1-4, or the average cost of 1-4 visits."""
    count = figures["visits"] if figure == "avg_outpatient_cost" else figures[figure]
    return isinstance(count, int) and 1 <= count <= SMALL_CELL_MAX


def mismatches(screen: Screen, figures: dict[str, Any]) -> list[str]:
    """How the screen differs from the figures (empty when it shows them exactly)."""
    problems = []
    for testid, figure in KPIS.items():
        raw, text = screen.kpis[testid]
        value = figures[figure]
        if suppressed(figure, figures):
            if raw != "" or SUPPRESSED_TEXT not in text or testid not in screen.hidden:
                problems.append(
                    f"{testid}: ClickHouse says {value} (a small cell: data-value "
                    f"'', {SUPPRESSED_TEXT!r} marked hidden), screen shows "
                    f"data-value={raw!r} text={text!r}"
                )
            continue
        if value is None:
            ok = raw == ""
        elif figure in DECIMALS:
            # the API rounds (half a unit of its last decimal) a float sum (a hair more)
            half_unit = Decimal(1).scaleb(-DECIMALS[figure]) / 2 + Decimal("1e-9")
            ok = raw not in (None, "") and abs(Decimal(raw) - value) <= half_unit
        else:
            ok = raw == str(value)
        if not ok:
            problems.append(
                f"{testid}: ClickHouse says {value}, screen shows data-value={raw!r} text={text!r}"
            )
    return problems


# --- an app of this process, served on a free port (the 质控 page's short browser test) ----


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import threading

    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web app under test did not start within 30 s"
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
