"""运维控制台 API: link health, reconciliation, anomalies (with acknowledge), DLQ and quality.

Health is :mod:`streamhub.health` (Kafka): one :class:`~streamhub.health.refresh.HealthReader`
kept for the app's life reads the ops topics' horizon on the first check, then on each
refresh only what they got since; its document is cached for a few seconds. The rest comes
from the ClickHouse ops tables and views (migration 0004).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from streamhub.anomaly.errors import AnomalyError
from streamhub.anomaly.suppression import Acknowledgement
from streamhub.anomaly.suppression_log import SuppressionLog
from streamhub.codes import credit_code
from streamhub.core.clock import Clock
from streamhub.health.errors import HealthError
from streamhub.health.evaluate import evaluate
from streamhub.health.model import HOPS, InstitutionHealth, Observation, Status
from streamhub.health.refresh import HealthReader
from streamhub.health.thresholds import Thresholds
from streamhub.log import get_logger
from streamhub.web.cache import TtlCache
from streamhub.web.console_filters import (
    DEFAULT_PAGE_SIZE,
    DISTRICT_PATTERN,
    MAX_PAGE_SIZE,
    Paging,
    Who,
    district_options,
    health_page,
    located,
)
from streamhub.web.context import WebContext, context, require, viewed
from streamhub.web.errors import BadParameterError, NotFoundError, ServiceUnavailableError
from streamhub.web.recon_diff import read_missing

log = get_logger(__name__)

HEALTH_CACHE_S = 5.0
COUNTS_CACHE_S = 10.0
MAX_ROWS = 1000
NEIGHBOUR_MS = 10 * 60_000
_HOP_STATUS = {Status.HEALTHY: "ok", Status.DEGRADED: "degraded", Status.DOWN: "down"}

HEALTH_SOURCE = "health_source"  # WebContext.state key: a callable giving an Observation
HEALTH_READER = "health_reader"  # WebContext.state key: the kept KeptReader

ReconStatus = Literal["MATCH", "MISSING", "EXCESS", "LATE", "PENDING"]
Hours = Query(24, ge=1, le=24 * 31, description="How far back, in hours (1..744)")
ListSort = Literal["worst", "newest", "institution"]
AnomalyState = Literal["open", "suppressed", "recovered"]
HealthStatus = Literal["down", "degraded", "unknown", "ok"]
HealthSort = Literal["worst", "institution", "name"]

router = APIRouter(prefix="/api/console", dependencies=[Depends(require("console"))])


class HealthCache:
    """The latest health document; a stale one is served while a fresh one is built.

    The first build reads the ops topics' horizon and takes seconds at a province's count;
    the console polls every few seconds, so requests must not wait for a build (only the
    very first one does).
    """

    def __init__(self, build: Callable[[], dict[str, Any]], clock: Clock) -> None:
        self._build = build
        self._clock = clock
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._at = 0.0
        self._refreshing = False

    def get(self) -> dict[str, Any]:
        with self._lock:
            document = self._document
            if document is not None and self._clock.monotonic() - self._at >= HEALTH_CACHE_S:
                self._start_refresh()
        if document is not None:
            return document
        with self._first:  # one build for all the first requests
            with self._lock:
                current = self._document
            return current if current is not None else self._store(self._build())

    def _start_refresh(self) -> None:
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh, name="health-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            self._store(self._build())
        except Exception:  # keep serving the last document; the next request tries again
            log.exception("link health refresh failed")
        finally:
            with self._lock:
                self._refreshing = False

    def _store(self, document: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._document, self._at = document, self._clock.monotonic()
        return document


class KeptReader:
    """The app's one :class:`HealthReader`, one refresh at a time.

    A reader holds the state its refreshes slide forward, so two threads must not refresh
    it at once: the cache's background refresh and a first build after
    :func:`use_health_source` swapped the cache can overlap. A refresh that fails makes the
    reader read the horizon again on the next one (see :mod:`streamhub.health.refresh`).
    """

    def __init__(self, reader: HealthReader) -> None:
        self._reader = reader
        self._lock = threading.Lock()

    def refresh(self, now_ms: int) -> Observation:
        with self._lock:
            return self._reader.refresh(now_ms)

    def close(self) -> None:
        with self._lock:
            self._reader.close()


_cache_lock = threading.Lock()


def who(
    institution: str = Query("", max_length=64, description="Exactly this institution id"),
    district: str = Query(
        "", pattern=DISTRICT_PATTERN, description="A region code (6 digits) or unknown"
    ),
    q: str = Query("", max_length=64, description="Part of an institution's id or name"),
) -> Who:
    return Who(institution=institution, district=district, search=q)


def paging(
    page: int = Query(1, ge=1, le=1_000_000, description="Page number, from 1"),
    page_size: int = Query(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description=f"Rows per page (1..{MAX_PAGE_SIZE})"
    ),
) -> Paging:
    return Paging(page=page, page_size=page_size)


WhoFilter = Depends(who)
PageOf = Depends(paging)


def use_health_source(ctx: WebContext, source: Callable[[], Observation]) -> None:
    """Judge link health from ``source`` instead of reading Kafka (a test or a bench feeds
    the console an observation of its own; the evaluation and everything after is real)."""
    ctx.state[HEALTH_SOURCE] = source
    ctx.state.pop("health", None)


def use_health_reader(ctx: WebContext, reader: HealthReader) -> None:
    """Judge link health from ``reader`` (a bench's, reading its own topics) instead of
    the one the console makes from its settings; a health source set before is dropped."""
    with _cache_lock:
        previous = ctx.state.pop(HEALTH_READER, None)
        ctx.state[HEALTH_READER] = KeptReader(reader)
        ctx.state.pop(HEALTH_SOURCE, None)
        ctx.state.pop("health", None)
    if previous is not None:
        previous.close()


def close_health(ctx: WebContext) -> None:
    """Close the kept reader's Kafka consumer (the app is shutting down)."""
    with _cache_lock:
        kept = ctx.state.pop(HEALTH_READER, None)
    if kept is not None:
        kept.close()


def _reader(ctx: WebContext, limits: Thresholds) -> KeptReader:
    with _cache_lock:
        kept: KeptReader | None = ctx.state.get(HEALTH_READER)
        if kept is None:
            kept = KeptReader(HealthReader(ctx.settings, limits, clock=ctx.clock))
            ctx.state[HEALTH_READER] = kept
    return kept


@router.get("/health")
def health(
    request: Request,
    who: Who = WhoFilter,
    status: HealthStatus | None = None,
    sort: HealthSort = "worst",
    page: Paging = PageOf,
) -> dict[str, Any]:
    """One page of the link-health matrix: filtered, worst first, with the count per status
    (before the status filter: the chips) and the districts to filter by."""
    ctx = context(request)
    viewed(request, "console link health")
    with _cache_lock:
        cache = ctx.state.get("health")
        if cache is None:
            cache = ctx.state["health"] = HealthCache(lambda: health_document(ctx), ctx.clock)
    return health_page(cache.get(), who, status or "", sort, page)


def health_document(ctx: WebContext) -> dict[str, Any]:
    """The link-health document the cache holds: every institution judged, located and
    worst first, with the districts to filter by (a bench times this: the background
    refresh's work)."""
    document = _judged(ctx)
    rows = located(ctx.directory, document["institutions"])
    return {**document, "institutions": rows, "districts": district_options(ctx.directory, rows)}


def _judged(ctx: WebContext) -> dict[str, Any]:
    limits = Thresholds()
    source = ctx.state.get(HEALTH_SOURCE)
    try:
        observation = source() if source else _reader(ctx, limits).refresh(ctx.now_ms())
        healths = evaluate(observation, limits)
    except HealthError as exc:  # e.g. the schema registry is down: nothing can be judged
        reason = f"状态未知 (cannot judge link health: {exc})"
        unknown = {"status": "unknown", "reason": reason}
        return {
            "generated_at_ms": ctx.now_ms(),
            "hops": list(HOPS),
            "error": str(exc),
            "institutions": [
                {
                    "institution_id": i,
                    "name": ctx.directory.name(i),
                    "overall": unknown,
                    "hops": dict.fromkeys(HOPS, unknown),
                }
                for i in ctx.directory.known_ids()
            ],
        }
    return {
        "generated_at_ms": ctx.now_ms(),
        "hops": list(HOPS),
        "error": None,
        "institutions": [_institution_health(ctx, h) for h in healths],
    }


def _institution_health(ctx: WebContext, health: InstitutionHealth) -> dict[str, Any]:
    return {
        "institution_id": health.institution_id,
        "name": health.name or ctx.directory.name(health.institution_id),
        "overall": {"status": _HOP_STATUS[health.overall], "reason": health.reason},
        "hops": {
            hop: {
                "status": _HOP_STATUS[h.status],
                "reason": "; ".join(h.reasons) if h.reasons else None,
            }
            for hop in HOPS
            for h in [health.hop(hop)]
        },
    }


def _named(ctx: WebContext, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "name": ctx.directory.name(str(row["institution_id"]))} for row in rows]


@router.get("/reconciliation")
def reconciliation(
    request: Request,
    institution: str | None = None,
    status: ReconStatus | None = None,
    hours: int = Hours,
) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, "console reconciliation")
    parameters: dict[str, Any] = {"since": ctx.now_ms() - hours * 3_600_000}
    if institution is not None:
        parameters["institution"] = institution
    daily = ctx.queries.run("console.reconciliation.daily", parameters)
    if status is not None:
        parameters["status"] = status
    windows = ctx.queries.run("console.reconciliation.windows", {**parameters, "limit": MAX_ROWS})
    return {"windows": _named(ctx, windows), "daily": _named(ctx, daily)}


@router.get("/reconciliation/list")
def reconciliation_list(
    request: Request,
    who: Who = WhoFilter,
    status: ReconStatus | None = None,
    hours: int = Hours,
    sort: ListSort = "worst",
    page: Paging = PageOf,
) -> dict[str, Any]:
    """One page of reconciliation windows (problems first by default), the number of
    windows per verdict under the other filters, and how many pages the filter fills."""
    ctx = context(request)
    viewed(request, "console reconciliation list")
    filters = {"since": ctx.now_ms() - hours * 3_600_000, **who.parameters(ctx.directory)}

    def count() -> dict[str, int]:
        counts = dict.fromkeys(get_args(ReconStatus), 0)
        for row in ctx.queries.run("console.reconciliation.counts", filters):
            counts[str(row["status"])] = int(row["windows"])
        return counts

    # the chips' counts scan every window of the period: shared by every viewer and page for
    # a few seconds (the page polls every 8 s)
    counts: dict[str, int] = _cache(ctx).get(("recon.counts", hours, who), COUNTS_CACHE_S, count)
    keys = ctx.queries.run(
        f"console.reconciliation.keys.{sort}",
        {**filters, "status": status or "", **page.parameters()},
    )
    matched = counts.get(status, 0) if status else sum(counts.values())
    return {
        "windows": _named(ctx, _windows_of(ctx, keys)),
        "counts": counts,
        "total": sum(counts.values()),
        **page.describe(matched),
    }


def _window_key(row: dict[str, Any]) -> str:
    parts = ("institution_id", "system", "database", "table", "window_start_ms")
    return "|".join(str(row[p] or "") for p in parts)


def _windows_of(ctx: WebContext, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the windows ``keys`` names, in the keys' order (one that was re-judged
    meanwhile shows its new verdict where its old one stood)."""
    if not keys:
        return []
    wanted = [_window_key(k) for k in keys]
    rows = ctx.queries.run(
        "console.reconciliation.rows",
        {"institutions": sorted({str(k["institution_id"]) for k in keys}), "keys": wanted},
    )
    by_key = {_window_key(r): r for r in rows}
    return [by_key[k] for k in wanted if k in by_key]


def _cache(ctx: WebContext) -> TtlCache:
    with _cache_lock:
        cache = ctx.state.get("console_cache")
        if cache is None:
            cache = ctx.state["console_cache"] = TtlCache(ctx.clock)
    return cache


@router.get("/reconciliation/days")
def reconciliation_days(
    request: Request,
    who: Who = WhoFilter,
    hours: int = Hours,
    sort: ListSort = "worst",
    page: Paging = PageOf,
) -> dict[str, Any]:
    """One page of the totals per institution and Shanghai day, most unmatched first
    (aggregated over every window of the period: shared for a few seconds, like the counts)."""
    ctx = context(request)
    viewed(request, "console reconciliation daily totals")
    parameters = {
        "since": ctx.now_ms() - hours * 3_600_000,
        **who.parameters(ctx.directory),
        **page.parameters(),
    }
    name = f"console.reconciliation.daily_page.{sort}"

    def days() -> dict[str, Any]:
        rows = ctx.queries.run(name, parameters)
        matched = int(rows[0]["total_rows"]) if rows else 0
        if not rows and page.page > 1:  # past the end: count the matches on the first page
            first = ctx.queries.run(name, {**parameters, "offset": 0, "limit": 1})
            matched = int(first[0]["total_rows"]) if first else 0
        daily = [{k: v for k, v in row.items() if k != "total_rows"} for row in rows]
        return {"daily": _named(ctx, daily), **page.describe(matched)}

    answer: dict[str, Any] = _cache(ctx).get(
        ("recon.days", hours, who, sort, page), COUNTS_CACHE_S, days
    )
    return answer


@router.get("/reconciliation/window")
def reconciliation_window(
    request: Request, institution: str, system: str, table: str, window_start_ms: int
) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, f"console reconciliation window {institution} {system} {table}")
    parameters = {
        "institution": institution,
        "system": system,
        "table": table,
        "from": window_start_ms - NEIGHBOUR_MS,
        "to": window_start_ms + NEIGHBOUR_MS,
    }
    rows = ctx.queries.run("console.reconciliation.window", parameters)
    window = next((r for r in rows if r["window_start_ms"] == window_start_ms), None)
    if window is None:
        raise NotFoundError(
            f"no reconciliation window of {institution} {system} {table} starting at "
            f"{window_start_ms}; pick one from /api/console/reconciliation"
        )
    named = _named(ctx, rows)
    return {
        "window": next(r for r in named if r["window_start_ms"] == window_start_ms),
        "neighbours": [r for r in named if r["window_start_ms"] != window_start_ms],
    }


@router.get("/reconciliation/missing")
def reconciliation_missing(
    request: Request,
    institution: str,
    system: str,
    table: str,
    window_start_ms: int,
    database: str | None = None,
) -> dict[str, Any]:
    """The window's missing changes, as `streamhub reconcile diff` lists them (read from
    Kafka in the threadpool: this is a plain ``def``). Operators only: keys are source data."""
    if not credit_code.is_valid(institution):
        raise BadParameterError(
            f"institution {institution!r} is not a unified social credit code (18 characters, "
            "valid check character); take the id from /api/console/reconciliation"
        )
    # the audit line names the window looked at, never the keys shown
    viewed(
        request, f"console reconciliation missing {institution} {system} {table} {window_start_ms}"
    )
    name = f"{database}.{table}" if database else table  # a database disambiguates
    return read_missing(context(request).settings, institution, system, name, window_start_ms)


@router.get("/anomalies")
def anomalies(
    request: Request,
    open: bool = False,
    who: Who = WhoFilter,
    state: AnomalyState | None = None,
    hours: int = Hours,
    sort: ListSort = "worst",
    page: Paging = PageOf,
) -> dict[str, Any]:
    """One page of anomalies (open ones, however old, and those recovered within ``hours``),
    unacknowledged open ones first by default, with the count per state."""
    ctx = context(request)
    viewed(request, f"console anomalies{' (open)' if open else ''}")
    filters = {"since": ctx.now_ms() - hours * 3_600_000, **who.parameters(ctx.directory)}
    counts = dict.fromkeys(get_args(AnomalyState), 0)
    for row in ctx.queries.run("console.anomalies.counts", filters):
        counts[str(row["state"])] = int(row["anomalies"])
    rows = ctx.queries.run(
        f"console.anomalies.page.{sort}",
        {**filters, "state": state or "", "open": open, **page.parameters()},
    )
    if state:
        matched = 0 if open and state == "recovered" else counts[state]
    else:
        matched = sum(n for s, n in counts.items() if not (open and s == "recovered"))
    return {
        "anomalies": _named(ctx, rows),
        "counts": counts,
        "total": sum(counts.values()),
        **page.describe(matched),
    }


class AckBody(BaseModel):
    note: str = Field(default="", max_length=500)


@router.post("/anomalies/{anomaly_id}/ack")
def acknowledge(request: Request, anomaly_id: str, body: AckBody) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, f"console acknowledge anomaly {anomaly_id}")
    known = ctx.queries.run("console.anomaly", {"id": anomaly_id})
    if not known:
        raise NotFoundError(
            f"no anomaly {anomaly_id} in ops_anomaly; list them with /api/console/anomalies"
        )
    user = str(request.state.user)
    ack = Acknowledgement(anomaly_id, by=user, at_ms=ctx.now_ms(), note=body.note)
    try:  # the same record `streamhub anomaly ack` writes; the anomaly app applies it
        SuppressionLog(ctx.settings.kafka_bootstrap, ctx.suppressions_topic).acknowledge(ack)
    except AnomalyError as exc:
        raise ServiceUnavailableError(
            f"acknowledgement of {anomaly_id} not recorded: {exc}; try again when Kafka is up"
        ) from exc
    return {"anomaly_id": anomaly_id, "acknowledged_by": user}


@router.get("/quality")
def quality(request: Request, hours: int = Hours) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, "console dead letters and quality")
    parameters = {"since": ctx.now_ms() - hours * 3_600_000}
    dead = ctx.queries.run("console.dead_letters", parameters)
    issues = ctx.queries.run("console.quality", parameters)
    return {"dead_letters": _named(ctx, dead), "quality": _named(ctx, issues)}
