"""The demo's live summary: per institution, what each stage has done, read from its metrics.

Every stage already exports Prometheus counters labelled by institution; the
summary scrapes the workers' endpoints (and the in-process capture registry)
rather than opening ClickHouse, which belongs to the lander.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def local_samples() -> Samples:
    return parse(generate_latest(REGISTRY).decode())


def scrape(url: str, timeout_s: float = 2.0) -> Samples:
    """Samples of one endpoint; empty while the worker is starting (not an error yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - our URL
            return parse(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return []


@dataclass
class InstitutionRow:
    captured: float = 0.0
    standardized: float = 0.0
    rejected: float = 0.0
    flagged: float = 0.0
    landed: float = 0.0
    last_landed_commit_s: float | None = None


@dataclass
class Summary:
    rows: dict[str, InstitutionRow] = field(default_factory=lambda: defaultdict(InstitutionRow))

    def add(self, samples: Iterable[tuple[str, dict[str, str], float]]) -> None:
        for name, labels, value in samples:
            institution = labels.get("institution")
            if not institution:
                continue
            row = self.rows[institution]
            if name == "streamhub_capture_events_total":
                row.captured += value
            elif name == "streamhub_standardize_records_total":
                outcome = labels.get("outcome")
                if outcome == "dead_letter":
                    row.rejected += value
                else:
                    row.standardized += value
                    row.flagged += value if outcome == "flagged" else 0.0
            elif name == "streamhub_land_records_total":
                row.landed += value
            elif name == "streamhub_land_last_commit_timestamp_seconds":
                row.last_landed_commit_s = max(row.last_landed_commit_s or 0.0, value)

    def render(self, names: dict[str, str], now_s: float | None = None) -> str:
        now_s = time.time() if now_s is None else now_s
        header = (
            f"{'institution':<34} {'captured':>9} {'standardized':>12} {'flagged':>8} "
            f"{'rejected':>8} {'landed':>9} {'freshness':>10}"
        )
        lines = [header, "-" * len(header)]
        for institution in sorted(self.rows):
            row = self.rows[institution]
            fresh = (
                f"{now_s - row.last_landed_commit_s:8.1f} s"
                if row.last_landed_commit_s
                else "       —  "
            )
            label = f"{names.get(institution, '')[:14]} {institution}"
            lines.append(
                f"{label:<34} {row.captured:>9,.0f} {row.standardized:>12,.0f} "
                f"{row.flagged:>8,.0f} {row.rejected:>8,.0f} {row.landed:>9,.0f} {fresh:>10}"
            )
        return "\n".join(lines)


def collect(
    urls: list[str],
    institutions: Iterable[str] | None = None,
    local: Callable[[], Samples] = local_samples,
) -> Summary:
    """The figures of ``institutions`` (all that report, when None)."""
    wanted = None if institutions is None else set(institutions)
    summary = Summary()
    for samples in (local(), *(scrape(url) for url in urls)):
        summary.add(s for s in samples if wanted is None or s[1].get("institution") in wanted)
    return summary
