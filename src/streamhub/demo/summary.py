"""The demo's live summary: per institution, what each stage has done, read from its metrics.

Every stage already exports Prometheus counters labelled by institution; the
summary scrapes the workers' endpoints (and the in-process capture registry)
rather than opening ClickHouse, which belongs to the lander. The names it reads are
taken from the stages' own metric definitions (:func:`read_names`), so renaming a
stage's metric cannot silently empty a column.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamhub.capture.metrics import CaptureMetrics
from streamhub.core.clock import SYSTEM_CLOCK
from streamhub.land.metrics import LandMetrics
from streamhub.standardize.metrics import StandardizeMetrics

Samples = list[tuple[str, dict[str, str], float]]


@dataclass(frozen=True)
class ReadNames:
    """The sample names the summary reads, one per column it fills."""

    captured: str  # capture: row changes read
    standardized: str  # standardize: records by outcome (dead_letter: rejected)
    landed: str  # land: records landed
    landed_commit: str  # land: newest landed commit time, seconds


def sample_name(metric: Counter | Gauge) -> str:
    """The name a metric's value is exposed under (a counter's with ``_total``)."""
    (family,) = metric.describe()
    return f"{family.name}_total" if family.type == "counter" else family.name


@cache
def read_names() -> ReadNames:
    """The names, from the stages' metric definitions built in a registry of their own
    (nothing is registered where this process serves its metrics)."""
    registry = CollectorRegistry()
    capture = CaptureMetrics.create(registry)
    standardize = StandardizeMetrics.create(registry)
    land = LandMetrics.create(registry)
    return ReadNames(
        captured=sample_name(capture.events),
        standardized=sample_name(standardize.records),
        landed=sample_name(land.records),
        landed_commit=sample_name(land.newest_commit),
    )


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
        names = read_names()
        for name, labels, value in samples:
            institution = labels.get("institution")
            if not institution:
                continue
            row = self.rows[institution]
            if name == names.captured:
                row.captured += value
            elif name == names.standardized:
                outcome = labels.get("outcome")
                if outcome == "dead_letter":
                    row.rejected += value
                else:
                    row.standardized += value
                    row.flagged += value if outcome == "flagged" else 0.0
            elif name == names.landed:
                row.landed += value
            elif name == names.landed_commit:
                row.last_landed_commit_s = max(row.last_landed_commit_s or 0.0, value)

    def render(self, names: dict[str, str], now_s: float | None = None) -> str:
        now_s = SYSTEM_CLOCK.time() if now_s is None else now_s
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
