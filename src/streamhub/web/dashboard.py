"""区域实时看板 API: today's figures, the per-minute trend and the data's freshness.

Definitions live in the ClickHouse views of migration 0003 (DOMAIN.md); since migration 0007
the named queries compute them from the recent commit-day partitions (query/dashboard_recent.py,
docs/decisions/dashboard-volume.md). This module only sums them per district and region and
hides small cells (:mod:`.figures`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request

from streamhub.codes import credit_code
from streamhub.query import QueryUnavailableError
from streamhub.query.catalog import TREND_METRICS
from streamhub.web.cache import TtlCache
from streamhub.web.context import WebContext, context, require, viewed
from streamhub.web.errors import BadParameterError
from streamhub.web.figures import COUNTS, Totals, day_minutes, figures, rank_key, series
from streamhub.web.institutions import Institution
from streamhub.web.suppression import (
    HiddenCells,
    HiddenMinutes,
    Minutes,
    protect_minutes,
    protect_summary,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Shared by every viewer; below the pages' polls (summary 3 s, trend 5 s) so figures stay live.
SUMMARY_TTL_S = 1.5
TREND_TTL_S = 4.0
Metric = Literal["visits", "admissions", "discharges"]
# The queries are named ones of streamhub.query.catalog (dashboard.*): the lander runs no SQL
# it was sent.

router = APIRouter(prefix="/api/dashboard", dependencies=[Depends(require("dashboard"))])


def shanghai_day(now_s: float) -> date:
    return datetime.fromtimestamp(now_s, SHANGHAI).date()


@router.get("/summary")
def summary(request: Request, district: str | None = None) -> dict[str, Any]:
    ctx = context(request)
    if district is not None and district not in ctx.directory.known_districts():
        raise BadParameterError(
            f"unknown district {district!r}: give a district name such as 思明区, as listed in "
            "by_district of /api/dashboard/summary"
        )
    viewed(request, f"dashboard summary{f' of {district}' if district else ''}")
    summary: dict[str, Any] = figures_cache(ctx).get(
        ("summary", district), SUMMARY_TTL_S, lambda: build_summary(ctx, district)
    )
    return summary


def figures_cache(ctx: WebContext) -> TtlCache:
    cache = ctx.state.get("figures")
    if cache is None:
        cache = ctx.state["figures"] = TtlCache(ctx.clock)
    return cache


@dataclass(frozen=True)
class Day:
    """One refresh of what the dashboard publishes, shared by every viewer: today's figures
    per institution, both days' institution × minute tables and the cells to hide in them,
    all from one reading so the hidden pattern fits every view."""

    per_institution: dict[str, Totals]
    institutions: list[Institution]
    hidden: HiddenCells
    minutes: dict[str, dict[str, Minutes]]  # day → metric → institution → HH:MM → count
    hidden_last_week: dict[str, HiddenMinutes]  # metric → minutes of last week to hide


def day_figures(ctx: WebContext) -> Day:
    day: Day = figures_cache(ctx).get(("day",), SUMMARY_TTL_S, lambda: build_day(ctx))
    return day


def build_day(ctx: WebContext) -> Day:
    per_institution: dict[str, Totals] = {
        str(row["institution_id"]): Totals.from_row(row)
        for row in ctx.queries.run("dashboard.today")
    }
    for row in ctx.queries.run("dashboard.fees"):
        money = Totals.from_row(row)
        base = per_institution.setdefault(str(row["institution_id"]), Totals())
        base.drug_revenue, base.fee_revenue = money.drug_revenue, money.fee_revenue
    today, last_week = _days(ctx)
    minutes = minute_tables(ctx, today, last_week)
    ids = set(per_institution).union(*(t for day in minutes.values() for t in day.values()))
    institutions = [ctx.directory.get(i) for i in sorted(ids)]
    district_of = {i.institution_id: i.district for i in institutions}
    # complementary suppression over the whole region and both views (summary and trends),
    # so a one-district view or an institution's trend hides the same
    hidden = protect_summary(
        {name: {i: getattr(t, name) for i, t in per_institution.items()} for name in COUNTS},
        district_of,
        minutes[today.isoformat()],
    )
    week = minutes[last_week.isoformat()]
    return Day(
        per_institution,
        [i for i in institutions if i.institution_id in per_institution],
        hidden,
        minutes,
        {metric: protect_minutes(district_of, week[metric]) for metric in week},
    )


def _days(ctx: WebContext) -> tuple[date, date]:
    today = shanghai_day(ctx.clock.time())
    return today, today - timedelta(days=7)


def minute_tables(ctx: WebContext, today: date, last_week: date) -> dict[str, dict[str, Minutes]]:
    """day → metric → institution → ``HH:MM`` → count, from one named query."""
    tables: dict[str, dict[str, dict[str, dict[str, int]]]] = {
        d.isoformat(): {m: {} for m in TREND_METRICS} for d in (today, last_week)
    }
    rows = ctx.queries.run("dashboard.minutes", {"today": today, "last_week": last_week})
    for row in rows:
        day = tables.setdefault(str(row["day"]), {m: {} for m in TREND_METRICS})
        for metric in TREND_METRICS:
            day[metric][str(row["institution_id"])] = {
                str(hm): int(n) for hm, n in zip(row["minutes"], row[metric], strict=True) if n
            }
    return {d: dict(metrics) for d, metrics in tables.items()}


def build_summary(ctx: WebContext, district: str | None) -> dict[str, Any]:
    day = day_figures(ctx)
    per_institution, hidden, institutions = day.per_institution, day.hidden, day.institutions
    if district is not None:
        institutions = [i for i in institutions if i.district == district]
    total = Totals()
    districts: dict[str, tuple[str | None, Totals]] = {}
    for institution in institutions:
        own = per_institution[institution.institution_id]
        total = total.add(own)
        code, sofar = districts.get(institution.district, (institution.region_code, Totals()))
        districts[institution.district] = (code, sofar.add(own))
    by_district = [
        {
            "district": name,
            "region_code": code,
            "figures": figures(sums, hidden.districts.get(name, ())),
        }
        for name, (code, sums) in districts.items()
    ]
    by_institution = [
        {
            "institution_id": i.institution_id,
            "name": i.name,
            "district": i.district,
            "figures": figures(
                per_institution[i.institution_id], hidden.institutions.get(i.institution_id, ())
            ),
        }
        for i in institutions
    ]
    return {
        "generated_at_ms": ctx.now_ms(),
        "day": shanghai_day(ctx.clock.time()).isoformat(),
        "totals": figures(
            total, hidden.region if district is None else hidden.districts.get(district, ())
        ),
        "by_district": sorted(by_district, key=lambda e: rank_key(e, "district")),
        "by_institution": sorted(by_institution, key=lambda e: rank_key(e, "institution_id")),
    }


@router.get("/trend")
def trend(
    request: Request,
    metric: Metric = Query(description="visits, admissions or discharges"),  # noqa: B008
    institution: str | None = None,
) -> dict[str, Any]:
    if institution is not None and not credit_code.is_valid(institution):
        raise BadParameterError(
            f"institution {institution!r} is not a unified social credit code (18 characters, "
            "valid check character); take the id from by_institution of the summary"
        )
    ctx = context(request)
    viewed(request, f"dashboard trend {metric}{f' of {institution}' if institution else ''}")
    answer: dict[str, Any] = figures_cache(ctx).get(
        ("trend", metric, institution), TREND_TTL_S, lambda: build_trend(ctx, metric, institution)
    )
    return answer


def build_trend(ctx: WebContext, metric: str, institution: str | None) -> dict[str, Any]:
    """Both days' series of the region or of one institution, from the shared refresh: the
    minutes hidden are those of the whole table's suppression (web/suppression.py)."""
    now = datetime.fromtimestamp(ctx.clock.time(), SHANGHAI)
    today, last_week = _days(ctx)
    figures_of_day = day_figures(ctx)
    day = _series_of(figures_of_day.minutes[today.isoformat()][metric], institution)
    week = _series_of(figures_of_day.minutes[last_week.isoformat()][metric], institution)
    hidden_day = figures_of_day.hidden.minutes[metric].of(institution)
    hidden_week = figures_of_day.hidden_last_week[metric].of(institution)
    return {
        "metric": metric,
        "institution": institution,
        "day": today.isoformat(),
        "compare_day": last_week.isoformat(),
        "today": series(day, day_minutes(_minutes_so_far(now, day)), hidden_day),
        "last_week": series(week, day_minutes(), hidden_week),
    }


def _series_of(table: Minutes, institution: str | None) -> dict[str, int]:
    """``HH:MM`` → count of one institution, or of the region (the sum of all)."""
    if institution is not None:
        return dict(table.get(institution, {}))
    total: dict[str, int] = {}
    for own in table.values():
        for hm, n in own.items():
            total[hm] = total.get(hm, 0) + n
    return total


def _minutes_so_far(now: datetime, today: dict[str, int]) -> int:
    """Up to now, or to the last minute holding data when business times run ahead of the
    wall clock (a simulator's compressed day; a source clock set wrong)."""
    last = max((int(hm[:2]) * 60 + int(hm[3:]) for hm in today), default=0)
    return max(now.hour * 60 + now.minute, last) + 1


def freshness_state(age_s: float | None, amber_s: float, red_s: float) -> str:
    if age_s is None or age_s >= red_s:
        return "red"
    return "amber" if age_s >= amber_s else "fresh"


@router.get("/freshness")
def freshness(request: Request) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, "dashboard freshness")
    settings, now_ms = ctx.settings, ctx.now_ms()
    reason: str | None = None
    try:
        newest = ctx.queries.run("dashboard.freshness")[0]["newest"]
        last_ms = int(newest) if newest else None  # max() of no rows is the epoch
        ctx.state["last_landed_ms"] = last_ms
        if last_ms is None:
            reason = "尚无落地数据 (nothing has been landed in ClickHouse yet)"
    except QueryUnavailableError as exc:
        last_ms = ctx.state.get("last_landed_ms")  # the age keeps growing from the last value
        reason = f"无法读取 ClickHouse：落地服务未运行或不可达 (cannot read ClickHouse: {exc})"
    age_s = None if last_ms is None else max(now_ms - last_ms, 0) / 1000
    state = (
        "red"
        if reason
        else freshness_state(age_s, settings.freshness_amber_s, settings.freshness_red_s)
    )
    if state != "fresh" and reason is None:
        reason = f"最新数据已是 {age_s:.0f} 秒前 (the newest landed data is {age_s:.0f} s old)"
    return {
        "last_landed_ms": last_ms,
        "age_s": age_s,
        "state": state,
        "reason": reason,
        "amber_after_s": settings.freshness_amber_s,
        "red_after_s": settings.freshness_red_s,
        "checked_at_ms": now_ms,
    }
