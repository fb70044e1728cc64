"""The Grafana dashboards of monitoring/grafana/ as the queries Grafana would send.

Template variables and the ClickHouse plugin's macros are expanded with the meaning Grafana
and grafana-clickhouse-datasource document for them, so a query that runs here runs there.
A variable or macro this module does not know fails the test instead of being sent half-expanded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PROMETHEUS = "prometheus"
CLICKHOUSE = "grafana-clickhouse-datasource"


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    language: str  # PROMETHEUS or CLICKHOUSE
    text: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels


def panel_queries(directory: Path) -> list[PanelQuery]:
    """Every target of every panel; a panel without a datasource uses the default (Prometheus)."""
    queries = []
    for path in sorted(directory.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in _panels(board["panels"]):
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel.get("datasource") or {}
                language = source.get("type", PROMETHEUS)
                text = target["rawSql"] if language == CLICKHOUSE else target["expr"]
                queries.append(
                    PanelQuery(path.name, panel["title"], target.get("refId", "A"), language, text)
                )
    return queries


def variable_queries(directory: Path) -> list[tuple[str, str]]:
    """(dashboard, query) of every query-type template variable."""
    found = []
    for path in sorted(directory.glob("*.json")):
        for variable in json.loads(path.read_text()).get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"]
                found.append((path.name, query["query"] if isinstance(query, dict) else query))
    return found


@dataclass(frozen=True)
class Selection:
    """What the operator picked: institutions (All = every value), time range, intervals."""

    institutions: list[str]
    start: datetime  # aware, UTC
    end: datetime
    interval_s: int = 5
    rate_interval: str = "20s"  # Grafana: max(4 x scrape interval, interval + scrape)


def _variables(text: str, values: dict[str, Callable[[str | None], str]]) -> str:
    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name not in values:
            raise ValueError(f"unknown Grafana variable ${name} in {text!r}")
        return values[name](fmt)

    return re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)", expand, text)


def promql(text: str, selection: Selection) -> str:
    def institution(fmt: str | None) -> str:
        if fmt not in (None, "regex"):
            raise ValueError(f"unsupported format {fmt} of $institution in PromQL")
        return "|".join(re.escape(i) for i in selection.institutions) or ".*"

    return _variables(
        text,
        {
            "institution": institution,
            "__rate_interval": lambda _: selection.rate_interval,
            "__interval": lambda _: f"{selection.interval_s}s",
            "__range": lambda _: f"{int((selection.end - selection.start).total_seconds())}s",
        },
    )


def _macro_args(text: str, open_at: int) -> tuple[list[str], int]:
    """Arguments of the macro call whose "(" is at ``open_at`` (nested parentheses allowed)."""
    depth, args, current = 0, [], ""
    for at in range(open_at, len(text)):
        char = text[at]
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return args, at + 1
        elif char == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += char
    raise ValueError(f"unclosed macro call in {text!r}")


def sql(text: str, selection: Selection) -> str:
    """Grafana's template variables, then the ClickHouse plugin's macros."""

    def institution(fmt: str | None) -> str:
        if fmt != "singlequote":
            raise ValueError("use ${institution:singlequote} in SQL (a multi-value variable)")
        return ",".join("'" + i.replace("'", "\\'") + "'" for i in selection.institutions) or "''"

    text = re.sub(  # Grafana leaves $__ to the plugin; keep them out of the variable pass
        r"\$(?!__)\{?\w+(?::\w+)?\}?",
        lambda m: _variables(m.group(0), {"institution": institution}),
        text,
    )
    start_s, end_s = int(selection.start.timestamp()), int(selection.end.timestamp())
    start_ms, end_ms = start_s * 1000, end_s * 1000
    plain = {
        "fromTime": f"toDateTime({start_s})",
        "toTime": f"toDateTime({end_s})",
        "fromTime_ms": f"fromUnixTimestamp64Milli({start_ms})",
        "toTime_ms": f"fromUnixTimestamp64Milli({end_ms})",
        "interval_s": str(selection.interval_s),
    }
    called: dict[str, Callable[[str], str]] = {
        "timeFilter": lambda c: f"{c} >= toDateTime({start_s}) AND {c} <= toDateTime({end_s})",
        "timeFilter_ms": lambda c: (
            f"{c} >= fromUnixTimestamp64Milli({start_ms}) "
            f"AND {c} <= fromUnixTimestamp64Milli({end_ms})"
        ),
        "dateFilter": lambda c: (
            f"{c} >= toDate('{selection.start:%Y-%m-%d}') "
            f"AND {c} <= toDate('{selection.end:%Y-%m-%d}')"
        ),
        "timeInterval": lambda c: (
            f"toStartOfInterval(toDateTime({c}), INTERVAL {selection.interval_s} second)"
        ),
        "timeInterval_ms": lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {selection.interval_s * 1000} "
            "millisecond)"
        ),
    }
    out, at = "", 0
    for match in re.finditer(r"\$__(\w+)", text):
        if match.start() < at:
            continue  # inside a macro's arguments already expanded
        name = match.group(1)
        out += text[at : match.start()]
        if name in called and text[match.end() : match.end() + 1] == "(":
            args, at = _macro_args(text, match.end())
            out += called[name](sql(args[0], selection))
        elif name in plain:
            out += plain[name]
            at = match.end()
        else:
            raise ValueError(f"unknown ClickHouse plugin macro $__{name} in {text!r}")
    return out + text[at:]
