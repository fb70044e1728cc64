from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streamhub.quality.period import parse_period
from streamhub.quality.render import as_html, as_text, sections
from streamhub.quality.scores import Counts, Problem, Report
from streamhub.quality.weights import DIMENSIONS, WEIGHTS


def test_weights_are_published_and_sum_to_one() -> None:
    assert set(WEIGHTS) == set(DIMENSIONS)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_scores_are_shares_of_passing_records_and_coverage() -> None:
    counts = Counts(
        records=10, incomplete=1, invalid=2, inconsistent=5, late=0, source_changes=20, landed=15
    )
    scores = counts.scores()
    assert scores["completeness"] == pytest.approx(90 * 0.75)
    assert scores["validity"] == pytest.approx(80)
    assert scores["consistency"] == pytest.approx(50)
    assert scores["timeliness"] == pytest.approx(100)
    assert scores["overall"] == pytest.approx(0.3 * 67.5 + 0.3 * 80 + 0.2 * 50 + 0.2 * 100)
    # more landed than counted (a replay) never scores above 100
    assert Counts(records=1, source_changes=1, landed=3).scores()["completeness"] == 100
    # a table counted at the source with nothing landed scores no completeness
    assert Counts(source_changes=4).scores()["completeness"] == 0


def _report() -> Report:
    problem = Problem(
        "I1",
        "his",
        "his.visit",
        "encounter",
        "rec-token",
        "SECRET-KEY",
        datetime(2026, 11, 10, tzinfo=UTC),
        ("required",),
    )
    period = parse_period("2026-11")
    return Report(
        period,
        "I1",
        "",
        {("I1", "his", "his.visit"): Counts(records=1, incomplete=1)},
        [],
        [problem],
        [(period, Counts(records=1, incomplete=1))],
    )


def test_source_keys_only_for_operators() -> None:
    report = _report()
    for text in (as_text(report), as_html(report)):
        assert "rec-token" in text and "SECRET-KEY" not in text
    assert "SECRET-KEY" in as_text(report, show_source_keys=True)
    titles = [s.title for s in sections(report)]
    assert titles == ["总体评价", "趋势", "规则明细", "问题记录"]
