"""The demo's live summary: per-institution figures from the stages' metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from streamhub.capture.metrics import CaptureMetrics
from streamhub.demo.run import drained
from streamhub.demo.summary import Summary, parse
from streamhub.land.metrics import LandMetrics
from streamhub.standardize.metrics import StandardizeMetrics

CAPTURE = """
# TYPE streamhub_capture_events_total counter
streamhub_capture_events_total{connector="a-his",institution="I1",system="his",op="c"} 70.0
streamhub_capture_events_total{connector="a-emr",institution="I1",system="emr",op="u"} 30.0
streamhub_capture_events_total{connector="b-his",institution="I2",system="his",op="c"} 5.0
"""
STANDARDIZE = """
# TYPE streamhub_standardize_records_total counter
streamhub_standardize_records_total{institution="I1",entity="patient",outcome="standardized"} 90.0
streamhub_standardize_records_total{institution="I1",entity="patient",outcome="flagged"} 8.0
streamhub_standardize_records_total{institution="I1",entity="unknown",outcome="dead_letter"} 2.0
streamhub_standardize_records_total{institution="I2",entity="patient",outcome="standardized"} 5.0
"""
LAND = """
# TYPE streamhub_land_records_total counter
streamhub_land_records_total{institution="I1"} 98.0
streamhub_land_records_total{institution="I2"} 4.0
# TYPE streamhub_land_last_commit_timestamp_seconds gauge
streamhub_land_last_commit_timestamp_seconds{institution="I1"} 1000.0
"""


def _summary(*texts: str) -> Summary:
    summary = Summary()
    for text in texts:
        summary.add(parse(text))
    return summary


def test_figures_are_summed_per_institution_across_connectors_and_outcomes() -> None:
    summary = _summary(CAPTURE, STANDARDIZE, LAND)
    first = summary.rows["I1"]
    assert (first.captured, first.standardized, first.flagged, first.rejected) == (100, 98, 8, 2)
    assert first.landed == 98 and first.last_landed_commit_s == 1000.0
    table = summary.render({"I1": "第一医院"}, now_s=1012.5)
    assert "第一医院" in table and "12.5 s" in table


def test_drained_only_when_everything_captured_was_handled_and_landed() -> None:
    assert not drained(_summary(CAPTURE, STANDARDIZE, LAND))  # I2: 5 standardized, 4 landed
    assert drained(_summary(CAPTURE, STANDARDIZE, LAND.replace("} 4.0", "} 5.0")))
    assert not drained(_summary(CAPTURE, LAND))  # nothing standardized yet
    assert not drained(Summary())


def test_the_summary_reads_what_the_stages_really_export() -> None:
    registry = CollectorRegistry()
    CaptureMetrics.create(registry).events.labels("a-his", "I1", "his", "c").inc(7)
    standardize = StandardizeMetrics.create(registry)
    standardize.records.labels("I1", "patient", "standardized").inc(5)
    standardize.records.labels("I1", "unknown", "dead_letter").inc(2)
    land = LandMetrics.create(registry)
    land.records.labels("I1").inc(5)
    land.newest_commit.labels("I1").set(1000.0)
    summary = Summary()
    summary.add(parse(generate_latest(registry).decode()))
    row = summary.rows["I1"]
    assert (row.captured, row.standardized, row.rejected, row.landed) == (7, 5, 2, 5)
    assert row.last_landed_commit_s == 1000.0
