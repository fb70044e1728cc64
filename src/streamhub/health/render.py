"""``streamhub health`` output: an aligned table for people, JSON for scripts."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from streamhub.health.model import HOPS, InstitutionHealth, Observation
from streamhub.health.summary import Summary, hop_counts, summarize

COLUMNS = ("INSTITUTION", "NAME", "OVERALL", *(h.upper() for h in HOPS), "REASON")


def _width(text: str) -> int:
    """Display width: CJK institution names take two columns per character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(healths: list[InstitutionHealth]) -> str:
    rows = [
        [
            h.institution_id,
            h.name or "-",
            h.overall.label,
            *(h.hop(hop).status.label for hop in HOPS),
            h.reason,
        ]
        for h in healths
    ]
    widths = [max(_width(r[i]) for r in [list(COLUMNS), *rows]) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in [list(COLUMNS), *rows]:
        cells = [_pad(cell, widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def summary_text(summary: Summary, healths: list[InstitutionHealth]) -> str:
    """Counts per state and per hop, then the worst institutions as a table."""
    counts = summary.counts
    lines = [
        f"{summary.total:,} institutions: {counts['healthy']:,} healthy, "
        f"{counts['degraded']:,} degraded, {counts['down']:,} down"
    ]
    failing = {
        hop: by_status
        for hop, by_status in hop_counts(healths).items()
        if by_status["degraded"] or by_status["down"]
    }
    if failing:
        lines.append(
            "by hop: "
            + "; ".join(
                f"{hop} {c['down']:,} down, {c['degraded']:,} degraded"
                for hop, c in failing.items()
            )
        )
    if summary.worst:
        lines += ["", f"worst {len(summary.worst)}:", table(summary.worst)]
    return "\n".join(lines)


def document(healths: list[InstitutionHealth], obs: Observation) -> dict[str, Any]:
    summary = summarize(healths)
    return {
        "checked_at": datetime.fromtimestamp(obs.now_ms / 1000, UTC).isoformat(),
        "kafka_error": obs.kafka_error,
        "summary": {
            "institutions": summary.total,
            "by_status": summary.counts,
            "by_hop": hop_counts(healths),
            "worst": [h.institution_id for h in summary.worst],
        },
        "institutions": [
            {
                "institution_id": h.institution_id,
                "name": h.name,
                "overall": h.overall.label,
                "reason": h.reason,
                "hops": {
                    hop.hop: {"status": hop.status.label, "reasons": list(hop.reasons)}
                    for hop in h.hops
                },
                "connectors": [
                    {
                        "name": c.name,
                        "heartbeat_age_s": c.heartbeat_age_s,
                        "source_lag_s": c.source_lag_s,
                    }
                    for c in h.connectors
                ],
                "dead_letters_per_minute": h.dead_letters_per_minute,
                "landing_freshness_s": h.landing_freshness_s,
            }
            for h in healths
        ],
        "consumer_lag": [
            {
                "group": lag.group,
                "topic": lag.topic,
                "messages": lag.messages,
                "committed": lag.committed,
                "oldest_age_s": None
                if lag.oldest_ts_ms is None
                else max(obs.now_ms - lag.oldest_ts_ms, 0) / 1000,
            }
            for lag in obs.lags
        ],
    }


def as_json(healths: list[InstitutionHealth], obs: Observation) -> str:
    return json.dumps(document(healths, obs), ensure_ascii=False, indent=2)
