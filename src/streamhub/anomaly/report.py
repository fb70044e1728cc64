"""What ops.anomaly says now: the latest event of every anomaly, as a table.

An anomaly is a story of events sharing an id (opened, escalated, suppressed,
RECOVERED); the operator wants its current state, so the latest event per id wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streamhub.anomaly.codec import OpsCodec
from streamhub.anomaly.history import read_since
from streamhub.config import Settings
from streamhub.core.topic_names import ANOMALY


@dataclass(frozen=True)
class AnomalyState:
    record: dict[str, Any]  # the latest ops.anomaly value of this anomaly

    @property
    def anomaly_id(self) -> str:
        return str(self.record["anomaly_id"])

    @property
    def is_open(self) -> bool:
        return bool(self.record["kind"] != "RECOVERED")

    @property
    def kind(self) -> str:
        """The anomaly's own kind, also once it recovered."""
        return str(self.record.get("recovered_kind") or self.record["kind"])


def latest_states(settings: Settings, since_ms: int) -> dict[str, AnomalyState]:
    """Latest event per anomaly id among those written since ``since_ms``."""
    codec = OpsCodec(settings)
    states: dict[str, AnomalyState] = {}
    messages = read_since(settings, [ANOMALY], since_ms).messages
    # one anomaly's events share a key, hence a partition: offsets order them; across
    # partitions the detection time does
    for message in sorted(messages, key=lambda m: (m.timestamp_ms, m.partition, m.offset)):
        if message.value is None:
            continue
        record = codec.decode(message.value)
        states[str(record["anomaly_id"])] = AnomalyState(record)
    return states


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


COLUMNS = (
    "anomaly_id",
    "institution",
    "system",
    "table",
    "kind",
    "state",
    "severity",
    "start",
    "end",
    "suppressed",
    "observed",
    "expected",
)


def rows(states: list[AnomalyState]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for state in sorted(states, key=lambda s: (s.record.get("start_ms") or 0, s.anomaly_id)):
        r = state.record
        out.append(
            (
                state.anomaly_id,
                str(r["institution_id"]),
                str(r["system"]),
                str(r["table"] or "*"),
                state.kind,
                "open" if state.is_open else "recovered",
                str(r.get("severity") or "-"),
                _when(r.get("start_ms")),
                _when(r.get("end_ms")),
                str(r.get("suppression") or "no") if r.get("suppressed") else "no",
                f"{r['observed']:g}",
                f"{r['expected']:.1f}",
            )
        )
    return out


def render(states: list[AnomalyState]) -> str:
    table = [COLUMNS, *rows(states)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


ROLLUP_COLUMNS = ("institution", "severity", "feeds", "kinds", "since", "which")


def rollup_rows(states: list[AnomalyState]) -> list[tuple[str, ...]]:
    """Open unsuppressed anomalies, one row per institution (what pages someone), worst
    first: critical before warning, then by the number of feeds."""
    grouped: dict[str, list[AnomalyState]] = {}
    for state in states:
        if state.is_open and not state.record.get("suppressed"):
            grouped.setdefault(str(state.record["institution_id"]), []).append(state)
    out: list[tuple[bool, int, tuple[str, ...]]] = []
    for institution, group in grouped.items():
        critical = any(s.record.get("severity") == "CRITICAL" for s in group)
        kinds = sorted({s.kind for s in group})
        since = min((s.record.get("start_ms") or 0) for s in group)
        which = ", ".join(sorted(f"{s.record['system']} {s.record['table'] or '*'}" for s in group))
        row = (
            institution,
            "CRITICAL" if critical else "WARNING",
            str(len(group)),
            " ".join(kinds),
            _when(since),
            which,
        )
        out.append((critical, len(group), row))
    out.sort(key=lambda r: (not r[0], -r[1], r[2][0]))
    return [row for _, _, row in out]


def render_rollup(states: list[AnomalyState]) -> str:
    return _table(ROLLUP_COLUMNS, rollup_rows(states))


def _table(columns: tuple[str, ...], body: list[tuple[str, ...]]) -> str:
    table = [columns, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
