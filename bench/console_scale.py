"""The operators' console at a province's count: API time per list and page at 1,751.

Seeds a chDB engine of this process with a day of reconciliation windows (one per
institution, source table and minute: 8.5 million rows at ``--minutes 1440``) and anomalies
for 1,751 institutions (tests/integration/web/console_fleet.py, faults known), gives the web
app a link-health observation of the same 1,751 institutions (evaluated for real by
streamhub.health), signs in an operator and times each console request ``--runs`` times
through the app (FastAPI routing, audit trail, named queries on ClickHouse, JSON): the first
page, a deep page, and district / status / name-search filters. Prints per request the
wall p50/p99, the process's CPU p50/p99 (chDB runs in this process, so it counts
ClickHouse's work: the figure to read on a shared machine) and the CPU of the first request,
which fills the shared caches (verdict counts, daily totals).

    .venv/bin/python bench/console_scale.py                 # a day: 1,440 minutes
    .venv/bin/python bench/console_scale.py --minutes 60    # quick look
    .venv/bin/python bench/console_scale.py --data /tmp/console-chdb   # keep, reuse the seed
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fleet generator lives beside the browser test

from fastapi.testclient import TestClient  # noqa: E402
from tests.integration.web.console_fleet import (  # noqa: E402
    anomaly_rows,
    fleet,
    insert_rows,
    observation,
    reconciliation_rows,
)

from streamhub.config import load_settings  # noqa: E402
from streamhub.core.clock import SYSTEM_CLOCK, now_ms  # noqa: E402
from streamhub.land.clickhouse import connect  # noqa: E402
from streamhub.land.migrations import migrate  # noqa: E402
from streamhub.query import DirectQueries  # noqa: E402
from streamhub.web.app import create_app  # noqa: E402
from streamhub.web.auth import User, hash_password, write_users  # noqa: E402
from streamhub.web.console import use_health_source  # noqa: E402
from streamhub.web.institutions import Directory  # noqa: E402

PASSWORD = "bench-operator-pw"  # noqa: S105 - a throw-away user of a temp dir


def _seed(client: Any, minutes: int, now: int) -> tuple[Any, dict[str, float]]:
    province = fleet()
    newest = now - now % 60_000 - 2 * 60_000
    started = time.perf_counter()
    windows = insert_rows(
        client, "ops_reconciliation", reconciliation_rows(province, newest, minutes)
    )
    recon_s = time.perf_counter() - started
    anomalies = insert_rows(client, "ops_anomaly", iter(anomaly_rows(province, now)))
    client.command("OPTIMIZE TABLE ops_reconciliation FINAL")  # as merges would leave it
    return province, {
        "institutions": len(province.institutions),
        "windows": windows,
        "anomalies": anomalies,
        "seed_s": recon_s,
    }


def _app(home: Path, client: Any, province: Any) -> TestClient:
    users = home / "users.yaml"
    write_users(users, {"op": User("op", "operator", hash_password(PASSWORD, iterations=1_000))})
    settings = load_settings(
        project_dir=REPO, data_dir=home, web_users_file=users, audit_log=home / "audit.jsonl"
    )
    names = province.names
    app = create_app(settings, DirectQueries(client), directory=Directory(lambda: names))
    use_health_source(app.state.web, lambda: observation(province, now_ms(SYSTEM_CLOCK)))
    web = TestClient(app)
    answer = web.post("/api/login", json={"username": "op", "password": PASSWORD})
    answer.raise_for_status()
    return web


def _requests(province: Any) -> list[tuple[str, str, dict[str, Any]]]:
    district = province.institutions[0].region_code
    return [
        ("health", "/api/console/health", {}),
        ("health", "/api/console/health", {"page": 30}),
        ("health", "/api/console/health", {"district": district, "status": "ok", "page": 2}),
        ("health", "/api/console/health", {"q": "第01"}),
        ("reconciliation", "/api/console/reconciliation/list", {}),
        ("reconciliation", "/api/console/reconciliation/list", {"page": 200}),
        ("reconciliation", "/api/console/reconciliation/list", {"status": "MISSING"}),
        ("reconciliation", "/api/console/reconciliation/list",
         {"district": district, "status": "MATCH", "page": 3}),
        ("reconciliation", "/api/console/reconciliation/list", {"q": "第01"}),
        ("reconciliation", "/api/console/reconciliation/list", {"sort": "newest", "page": 2}),
        ("reconciliation", "/api/console/reconciliation/days", {}),
        ("reconciliation", "/api/console/reconciliation/days", {"district": district, "page": 2}),
        ("anomalies", "/api/console/anomalies", {}),
        ("anomalies", "/api/console/anomalies", {"state": "open", "page": 3}),
        ("anomalies", "/api/console/anomalies", {"district": district, "q": "医院"}),
    ]  # fmt: skip


def _time(
    web: TestClient, path: str, params: dict[str, Any], runs: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per request. chDB runs in this process, so the process's
    CPU time counts ClickHouse's work too: the figure that holds on a busy shared machine."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = web.get(path, params=params)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        answer.raise_for_status()
    return wall, cpu


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=1440, help="minutes of windows (a day)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per line")
    parser.add_argument(
        "--data",
        type=Path,
        help="a chDB directory to keep the seeded rows in and reuse on the next run (seeding "
        "a day takes minutes); default: a temporary one",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-scale-") as tmp:
        home = Path(tmp)
        client = connect(f"chdb://{args.data or home / 'chdb'}", "console_scale", create=True)
        migrate(client)
        now = now_ms(SYSTEM_CLOCK)
        held = client.query("SELECT count() FROM ops_reconciliation").result_rows[0][0]
        if held:
            province = fleet()
            print(f"reusing {held:,} reconciliation windows in {args.data}")
        else:
            province, seeded = _seed(client, args.minutes, now)
            print(
                f"seeded {seeded['institutions']:,} institutions, {seeded['windows']:,} "
                f"reconciliation windows ({args.minutes} min) in {seeded['seed_s']:.1f} s, "
                f"{seeded['anomalies']:,} anomaly events"
            )
        web = _app(home, client, province)
        started = time.perf_counter()
        first = web.get("/api/console/health")
        first.raise_for_status()
        print(
            f"link health, first request (gather replaced by the observation, evaluate of "
            f"{first.json()['total']:,} institutions): {(time.perf_counter() - started):.2f} s"
        )
        print(
            f"\n{'request':<66} {'rows':>5} {'matched':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'cpu p50':>8} {'cpu p99':>8} {'cpu 1st':>8}"
        )
        for _kind, path, params in _requests(province):
            # the first request fills the shared caches (verdict counts, daily totals)
            first_cpu = time.process_time()
            body = web.get(path, params=params).json()
            first_cpu = (time.process_time() - first_cpu) * 1000
            rows = next(len(v) for k, v in body.items() if isinstance(v, list) and k != "hops"
                        and k != "districts")  # fmt: skip
            took, cpu = _time(web, path, params, args.runs)
            query = "&".join(f"{k}={v}" for k, v in params.items())
            label = path.removeprefix("/api/console") + (f"?{query}" if query else "")
            print(
                f"{label:<66} {rows:>5} {body.get('matched', 0):>9,} "
                f"{statistics.median(took):>8.1f} {_p(took, 0.99):>8.1f} "
                f"{statistics.median(cpu):>8.1f} {_p(cpu, 0.99):>8.1f} {first_cpu:>8.1f}"
            )
        client.close()
    command = f"bench/console_scale.py --minutes {args.minutes} --runs {args.runs}"
    print(f"\ncommand: .venv/bin/python {command}")


if __name__ == "__main__":
    main()
