"""Scores and reports on a small fixed dataset equal a hand computation (issue 22)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client
from openpyxl import load_workbook

from streamhub.quality.period import parse_period
from streamhub.quality.render import as_html, write_xlsx
from streamhub.quality.scores import build_report
from tests.integration.quality import dataset
from tests.integration.quality.dataset import NOV, VERSIONS, V

WEIGHTS = {"completeness": 0.3, "validity": 0.3, "consistency": 0.2, "timeliness": 0.2}


def _latest() -> dict[tuple[str, str, str], V]:
    """The last version of every record (plain Python), deleted ones dropped."""
    last: dict[tuple[str, str, str], V] = {}
    for v in sorted(VERSIONS, key=lambda v: v.seq):
        last[(v.institution, v.entity, v.record_id)] = v
    return {k: v for k, v in last.items() if not v.deleted}


def _first_commit(key: tuple[str, str, str]) -> object:
    return min(v.commit for v in VERSIONS if (v.institution, v.entity, v.record_id) == key)


def _expected(institution: str, month: int) -> dict[tuple[str, str], dict[str, float]]:
    live = _latest()
    existing = {(v.institution, v.entity, v.values[dataset.KEYS[v.entity]]) for v in live.values()}
    keys = Counter(
        (v.institution, v.entity, v.values[dataset.KEYS[v.entity]]) for v in live.values()
    )
    lines: Counter[tuple[str, str]] = Counter()
    for v in live.values():
        if v.entity == "charge" and v.values["charge_kind"] == "fee" and not v.cancelled:
            lines[(v.institution, v.values["settlement_id"])] += float(v.values["amount"])
    counts: dict[str, Counter[str]] = {}
    for key, v in live.items():
        at = v.business or v.commit
        if v.institution != institution or (at + timedelta(hours=8)).month != month:
            continue
        c = counts.setdefault(dataset.SOURCE[v.entity][1], Counter())
        c["records"] += 1
        c["incomplete"] += "required" in v.issues
        c["invalid"] += any(i != "required" for i in v.issues)
        bad = keys[(v.institution, v.entity, v.values[dataset.KEYS[v.entity]])] > 1
        if v.entity in dataset.REFERENCES:
            column, target = dataset.REFERENCES[v.entity]
            ref = v.values.get(column)
            bad |= ref is not None and (v.institution, target, ref) not in existing
        if v.values.get("charge_kind") == "settlement":
            bad |= (
                abs(float(v.values["total"]) - lines[(v.institution, v.values["charge_id"])]) > 0.01
            )
        c["inconsistent"] += bad
        late = v.landed_after > timedelta(minutes=5)
        late |= v.business is not None and _first_commit(key) - v.business > timedelta(hours=24)
        c["late"] += late
    out = {}
    for table, c in counts.items():
        coverage = 1.0
        if table == "his.visit" and month == 11:
            coverage = sum(dataset.LANDED_COUNTS.values()) / sum(dataset.SOURCE_COUNTS.values())
        n = c["records"]
        s = {
            "completeness": 100 * (1 - c["incomplete"] / n) * coverage,
            "validity": 100 * (1 - c["invalid"] / n),
            "consistency": 100 * (1 - c["inconsistent"] / n),
            "timeliness": 100 * (1 - c["late"] / n),
        }
        s["overall"] = sum(WEIGHTS[d] * s[d] for d in WEIGHTS)
        out[(table, "records")] = {"n": n}
        out[(table, "scores")] = s
    return out


def test_scores_equal_a_hand_computation(ch: Client, tmp_path: Path) -> None:
    dataset.insert(ch)
    report = build_report(ch, parse_period("2026-11"), institution="I1", trend_periods=2)
    expected = _expected("I1", 11)
    assert {t for _i, _s, t in report.scopes} == {
        "his.visit",
        "emr.diag",
        "his.fee",
        "lis.report",
        "lis.result",
    }
    for (inst, _system, table), counts in report.scopes.items():
        assert inst == "I1"
        assert counts.records == expected[(table, "records")]["n"], table
        got = counts.scores()
        for name, value in expected[(table, "scores")].items():
            assert abs(got[name] - value) < 1e-9, (table, name, got[name], value)
    # the figures the hand computation gives, stated once so a change in both shows
    visit = report.scopes[("I1", "his", "his.visit")]
    assert (visit.records, visit.incomplete, visit.invalid, visit.inconsistent, visit.late) == (
        4,
        1,
        0,
        2,
        2,
    )
    assert report.scopes[("I1", "emr", "emr.diag")].inconsistent == 2  # encX and deleted enc3
    assert report.scopes[("I1", "his", "his.fee")].inconsistent == 1  # s2 after l3's update
    # trend: October holds e6 only
    (october, oct_counts), (november, _) = report.trend
    assert (october.label, oct_counts.records, oct_counts.invalid) == ("2026-10", 1, 1)
    assert november.label == "2026-11"
    rules = {(r.table, r.rule): r.records for r in report.rules}
    assert rules[("his.visit", "business_key_unique")] == 2
    assert rules[("his.visit", "entered_late")] == 1
    assert ("his.visit", "discharge_after_admission") not in rules  # fixed at the source
    assert {p.record_id for p in report.problems} == {"e1", "e4", "e5", "d2", "d4", "s2", "t2"}

    xlsx = tmp_path / "q.xlsx"
    write_xlsx(report, xlsx)
    book = load_workbook(xlsx)
    assert book.sheetnames == ["总体评价", "趋势", "规则明细", "问题记录"]
    overall = list(book["总体评价"].iter_rows(values_only=True))
    total = overall[-1]
    assert total[0] == "合计" and total[3] == 4 + 4 + 6 + 1 + 2
    assert total[4:6] == (11, 9)
    assert book["问题记录"].max_row == 1 + 7
    assert "源主键(运维)" not in next(book["问题记录"].iter_rows(values_only=True))
    page = as_html(report, show_source_keys=True)
    for heading in ("总体评价", "趋势", "规则明细", "问题记录", "源主键(运维)", "key-e4"):
        assert heading in page


def test_rule_and_institution_filters(ch: Client) -> None:
    dataset.insert(ch)
    report = build_report(ch, parse_period("2026-W46"), rule="encounter_exists")
    assert {i for i, _s, _t in report.scopes} == {"I1", "I2"}
    assert {r.rule for r in report.rules} == {"encounter_exists"}
    assert {p.record_id for p in report.problems} == {"d2", "d4"}
    day = build_report(ch, parse_period(NOV.date().isoformat()), institution="I2")
    assert [c.records for c in day.scopes.values()] == [1]
