"""A quality report as tables (总体评价, 趋势, 规则明细, 问题记录), and those tables as text,
xlsx and printable HTML. Every format renders the same rows.

Source keys (tokens of the source primary key, security level 3) appear only when the
caller says the reader is an operator (``show_source_keys``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from streamhub.quality.scores import Counts, Report
from streamhub.quality.weights import DIMENSION_NAMES, DIMENSIONS, WEIGHTS

OVERALL = "总体评价"
TREND = "趋势"
RULES = "规则明细"
PROBLEMS = "问题记录"
TOTAL = "合计"
_SCORE_HEADERS = [DIMENSION_NAMES[d] for d in DIMENSIONS] + ["总分"]

Cell = str | int | float


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def _scores(counts: Counts) -> list[Cell]:
    scores = counts.scores()
    return [round(scores[d], 2) for d in (*DIMENSIONS, "overall")]


def sections(report: Report, *, show_source_keys: bool = False) -> list[Section]:
    overall = [
        [i, s, t, c.records, c.source_changes, c.landed, *_scores(c)]
        for (i, s, t), c in sorted(report.scopes.items())
    ]
    total = report.total
    overall.append([TOTAL, "", "", total.records, total.source_changes, total.landed])
    overall[-1] += _scores(total)
    trend = [[p.label, c.records, *_scores(c)] for p, c in report.trend]
    rules: list[list[Cell]] = [
        [
            *(r.institution_id, r.system, r.table, r.rule, r.records, r.of),
            round(100.0 * r.records / r.of, 2) if r.of else 0.0,
        ]
        for r in report.rules
    ]
    key_header = ["源主键(运维)"] if show_source_keys else []
    problems: list[list[Cell]] = [
        [
            *(p.institution_id, p.system, p.table, p.entity, p.record_id),
            *([p.source_key] if show_source_keys else []),
            *(p.at.isoformat(), ", ".join(p.problems)),
        ]
        for p in report.problems
    ]
    return [
        Section(
            OVERALL,
            ["机构", "系统", "表", "记录数", "源端变更", "已入库变更", *_SCORE_HEADERS],
            overall,
        ),
        Section(TREND, ["周期", "记录数", *_SCORE_HEADERS], trend),
        Section(RULES, ["机构", "系统", "表", "规则", "问题记录数", "记录数", "问题率%"], rules),
        Section(
            PROBLEMS,
            ["机构", "系统", "表", "实体", "记录标识(假名)", *key_header, "时间", "问题"],
            problems,
        ),
    ]


def weights_line() -> str:
    return "权重: " + ", ".join(f"{DIMENSION_NAMES[d]} {WEIGHTS[d]:.0%}" for d in DIMENSIONS)


def title(report: Report) -> str:
    scope = report.institution or "全部机构"
    rule = f" 规则 {report.rule}" if report.rule else ""
    return f"数据质控报告 {report.period.label} {scope}{rule}"


def as_text(report: Report, *, show_source_keys: bool = False) -> str:
    lines = [title(report), weights_line()]
    for section in sections(report, show_source_keys=show_source_keys):
        lines += ["", f"== {section.title} ==", "\t".join(section.headers)]
        lines += ["\t".join(str(c) for c in row) for row in section.rows]
        if not section.rows:
            lines.append("(无)")
    return "\n".join(lines) + "\n"


def write_xlsx(report: Report, path: Path, *, show_source_keys: bool = False) -> None:
    """One sheet per section, headers in the first row."""
    from openpyxl import Workbook  # imported here: only the export needs it

    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    for section in sections(report, show_source_keys=show_source_keys):
        sheet = book.create_sheet(section.title)
        sheet.append(section.headers)
        for row in section.rows:
            sheet.append(row)
    book.save(path)


_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
th,td{border:1px solid #999;padding:2px 6px;font-size:12px}th{background:#eee}
@media print{section{page-break-inside:avoid}}"""


def as_html(report: Report, *, show_source_keys: bool = False) -> str:
    """A printable HTML page with the same sections (print it to PDF from a browser)."""
    esc = html.escape
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{esc(title(report))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title(report))}</h1><p>{esc(weights_line())}</p>",
    ]
    for section in sections(report, show_source_keys=show_source_keys):
        parts.append(f"<section><h2>{esc(section.title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in section.headers]
        parts.append("</tr></thead><tbody>")
        for row in section.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table></section>")
    parts.append("</body></html>\n")
    return "".join(parts)
