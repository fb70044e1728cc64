"""One dashboard refresh through the lander's query endpoint against the same queries direct.

The web app cannot open embedded chDB (the lander owns it) and reads through the lander's
read-only endpoint (`streamhub land --query-port`). This loads ``--records`` encounters (1–4
versions each, as bench/clickhouse_final.py does) into a chDB engine of this process, serves
it with the same QueryService (named queries, its reading clients) the lander runs, and
times, ``--runs`` times each, one refresh of the dashboard's named queries (today's figures,
fees, freshness, the institution × minute table of today and last week): direct on a reading
client, and over HTTP through the endpoint. Both must return the same rows; the ratio
is the endpoint's cost. Then the complementary suppression of that refresh (summary and
every series, web/suppression.py; 40 institutions in 4 districts), computed once per refresh
for all viewers. The page polls every 3 s, so a refresh must stay well below that.

    .venv/bin/python bench/web_dashboard.py --records 600000
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_final import load_encounters

from streamhub.land.clickhouse import connect
from streamhub.query import DirectQueries, LanderQueries, QuerySource
from streamhub.query.reader import open_reader
from streamhub.query.service import QueryService, open_readers
from streamhub.web.dashboard import minute_tables
from streamhub.web.figures import COUNTS, Totals
from streamhub.web.suppression import protect_minutes, protect_summary


def _refresh(source: QuerySource) -> list[list[dict[str, Any]]]:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return [
        source.run("dashboard.today"),
        source.run("dashboard.fees"),
        source.run("dashboard.freshness"),
        source.run("dashboard.minutes", {"today": today, "last_week": today - timedelta(days=7)}),
    ]


def _protect(source: QuerySource, runs: int) -> list[float]:
    """The suppression of one refresh as the dashboard computes it (build_day's pure part)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    last_week = today - timedelta(days=7)
    per_institution = {
        str(r["institution_id"]): Totals.from_row(r) for r in source.run("dashboard.today")
    }
    tables = minute_tables(SimpleNamespace(queries=source), today, last_week)  # type: ignore[arg-type]
    ids = set(per_institution).union(*(t for day in tables.values() for t in day.values()))
    district_of = {i: f"d{int(i[-2:]) % 4}" for i in ids}
    counts = {name: {i: getattr(t, name) for i, t in per_institution.items()} for name in COUNTS}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        hidden = protect_summary(counts, district_of, tables[today.isoformat()])
        for table in tables[last_week.isoformat()].values():
            protect_minutes(district_of, table)
        timings.append(time.perf_counter() - started)
    cells = sum(len(s) for t in tables[today.isoformat()].values() for s in t.values())
    shown = sum(
        len(m.region) + sum(len(x) for x in m.institutions.values())
        for m in hidden.minutes.values()
    )
    print(
        f"suppression of one refresh: median {statistics.median(timings) * 1000:6.0f} ms  "
        f"max {max(timings) * 1000:6.0f} ms  ({runs} runs; {len(ids)} institutions, "
        f"{cells} non-zero institution-minute cells today, {shown} minutes hidden)"
    )
    return timings


def _time(
    sources: list[QuerySource], runs: int
) -> tuple[list[list[float]], list[list[list[dict[str, Any]]]]]:
    """Each run refreshes through every source in turn, so load on the machine hits both."""
    timings: list[list[float]] = [[] for _ in sources]
    answers: list[list[list[dict[str, Any]]]] = [[] for _ in sources]
    for _ in range(runs):
        for n, source in enumerate(sources):
            started = time.perf_counter()
            answers[n] = _refresh(source)
            timings[n].append(time.perf_counter() - started)
    return timings, answers


def _sorted(answers: list[list[dict[str, Any]]]) -> list[list[str]]:
    """Rows of a GROUP BY without ORDER BY come in any order."""
    return [sorted(json.dumps(row, sort_keys=True) for row in rows) for rows in answers]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as path:
        load_encounters(connect(f"chdb://{path}", "bench", create=True), args.records, args.seed)
        direct = DirectQueries(open_reader(f"chdb://{path}", "bench"))
        token = secrets.token_urlsafe(24)
        service = QueryService(open_readers(f"chdb://{path}", "bench"), token, _free_port())
        service.start()
        try:
            endpoint = LanderQueries(f"http://127.0.0.1:{service.port}", lambda: token)
            _refresh(direct), _refresh(endpoint)  # warm both
            (direct_s, endpoint_s), (direct_rows, endpoint_rows) = _time(
                [direct, endpoint], args.runs
            )
            _protect(direct, args.runs)
        finally:
            service.stop()
        # freshness differs only if something landed in between; nothing does here
        same = "same rows" if _sorted(direct_rows) == _sorted(endpoint_rows) else "ROWS DIFFER"
        for label, timings in (("direct", direct_s), ("endpoint", endpoint_s)):
            print(
                f"{label:<9} one refresh: median {statistics.median(timings) * 1000:6.0f} ms  "
                f"max {max(timings) * 1000:6.0f} ms  ({args.runs} runs)"
            )
        ratio = statistics.median(endpoint_s) / statistics.median(direct_s)
        print(
            f"endpoint/direct = {ratio:4.2f}  ({same}; {sum(len(r) for r in direct_rows)} "
            f"result rows per refresh, at {datetime.now(UTC):%H:%M} UTC)"
        )


if __name__ == "__main__":
    main()
