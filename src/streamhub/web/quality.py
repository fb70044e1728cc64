"""质控 API: the quality report of a period (filters as `streamhub quality report`: period,
institution, rule), its trend against the previous periods, and the exports (xlsx and the
printable HTML of :mod:`streamhub.quality.render`, Chinese headings as the report has).

Operators see every institution and the source key tokens; an institution contact sees
their own institution only and never a source key (:mod:`.contact`).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response

from streamhub.quality.errors import PeriodError
from streamhub.quality.period import Period, parse_period
from streamhub.quality.render import as_html, sections, title, weights_line, write_xlsx
from streamhub.quality.scores import Report
from streamhub.quality.weights import CROSS_RULES, DIMENSION_NAMES, DIMENSIONS, LATE_RULES, TIMEZONE
from streamhub.standardize.checks import RULES as CHECK_RULES
from streamhub.web.auth import Session
from streamhub.web.contact import quality_page, scoped, shows_source_keys
from streamhub.web.context import context, viewed
from streamhub.web.errors import BadParameterError
from streamhub.web.quality_report import build_report

router = APIRouter(prefix="/api/quality")
KNOWN_RULES = tuple(sorted({*CHECK_RULES, *CROSS_RULES, *LATE_RULES}))
MAX_PROBLEMS = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the printable report carries its own <style>; it has no script and loads nothing
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
Access = Depends(quality_page)


def _period(text: str) -> Period:
    if not text:  # this month, in Shanghai
        text = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m")
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise BadParameterError(str(exc)) from exc


def _rule(text: str) -> str:
    if text and text not in KNOWN_RULES:
        raise BadParameterError(
            f"rule {text[:40]!r} is not a quality rule; pick one of /api/quality/rules"
        )
    return text


def _report(
    request: Request,
    session: Session,
    period: str,
    institution: str,
    rule: str,
    trend: int,
    limit: int,
    what: str,
) -> Report:
    which, rule = _period(period), _rule(rule)
    scope = scoped(request, session, institution)
    viewed(request, f"quality {what} {which.label} {scope or 'all institutions'} {rule}".rstrip())
    return build_report(
        context(request).queries,
        which,
        institution=scope,
        rule=rule,
        trend_periods=trend,
        problem_limit=limit,
    )


PeriodQ = Query(
    "", max_length=16, description="2026-11, 2026-W45 or 2026-11-05 (default: this month)"
)
InstitutionQ = Query("", max_length=64, description="One institution id ('' for all)")
RuleQ = Query("", max_length=64, description="One rule id ('' for all)")
TrendQ = Query(3, ge=1, le=24, description="Periods in the trend, this one included")
LimitQ = Query(200, ge=0, le=MAX_PROBLEMS, description="Abnormal records listed at most")


@router.get("/rules")
def rules(request: Request, session: Session = Access) -> dict[str, Any]:
    viewed(request, "quality rules")
    return {
        "rules": list(KNOWN_RULES),
        "dimensions": {d: DIMENSION_NAMES[d] for d in DIMENSIONS},
    }


@router.get("/report")
def report(
    request: Request,
    session: Session = Access,
    period: str = PeriodQ,
    institution: str = InstitutionQ,
    rule: str = RuleQ,
    trend: int = TrendQ,
    limit: int = LimitQ,
) -> dict[str, Any]:
    """The report's sections as the exports render them, the trend's scores for the charts
    and the overall scores of the period."""
    made = _report(request, session, period, institution, rule, trend, limit, "report")
    keys = shows_source_keys(session)
    return {
        "title": title(made),
        "weights": weights_line(),
        "period": made.period.label,
        "institution": made.institution,
        "rule": made.rule,
        "source_keys": keys,
        "overall": _rounded(made.total.scores()),
        "records": made.total.records,
        "trend": [
            {"period": p.label, "records": c.records, "scores": _rounded(c.scores())}
            for p, c in made.trend
        ],
        "sections": [
            {"title": s.title, "headers": s.headers, "rows": s.rows}
            for s in sections(made, show_source_keys=keys)
        ],
    }


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in scores.items()}


def _filename(made: Report, suffix: str) -> str:
    scope = "".join(c for c in made.institution if c.isascii() and c.isalnum())
    return f"quality-{made.period.label}{'-' + scope if scope else ''}.{suffix}"


@router.get("/report.xlsx")
def report_xlsx(
    request: Request,
    session: Session = Access,
    period: str = PeriodQ,
    institution: str = InstitutionQ,
    rule: str = RuleQ,
    trend: int = TrendQ,
    limit: int = LimitQ,
) -> Response:
    """The report as the xlsx `streamhub quality report --xlsx` writes (one sheet per section)."""
    made = _report(request, session, period, institution, rule, trend, limit, "export xlsx")
    with tempfile.TemporaryDirectory(prefix="streamhub-quality-") as directory:
        path = Path(directory) / "report.xlsx"
        write_xlsx(made, path, show_source_keys=shows_source_keys(session))
        content = path.read_bytes()
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(made, "xlsx")}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/report.html")
def report_html(
    request: Request,
    session: Session = Access,
    period: str = PeriodQ,
    institution: str = InstitutionQ,
    rule: str = RuleQ,
    trend: int = TrendQ,
    limit: int = LimitQ,
) -> Response:
    """The printable HTML report (print it to PDF from the browser)."""
    made = _report(request, session, period, institution, rule, trend, limit, "export html")
    return Response(
        as_html(made, show_source_keys=shows_source_keys(session)),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": REPORT_CSP,
            "Content-Disposition": f'inline; filename="{_filename(made, "html")}"',
            "Cache-Control": "no-store",
        },
    )
