"""Work orders on landed versions (issue 22): breaches open orders for exactly the
institutions and rules they hit, notifications reach a local SMTP sink and webhook, corrected
versions landing close the orders with evidence, an order left alone escalates.

The versions are written to the std tables as the lander writes them (a record's corrected
version is a later version of the same record_id); the source → capture → standardize → land
route of the same correction is test_work_orders_pipeline.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.quality.notify import from_settings
from streamhub.quality.orders import WorkOrderAccessError, WorkOrderStore
from streamhub.quality.orders_config import OrderSettings, SmtpSettings, Threshold, WebhookSettings
from streamhub.quality.orders_engine import Evaluation, OrderEngine
from streamhub.quality.orders_metrics import OrderMetrics
from streamhub.quality.orders_run import run_loop
from tests.integration.quality.sinks import smtp_sink, webhook_receiver

NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LEVELS = {
    "warning": Threshold(min_rate=0.2, min_count=3, deadline_s=86_400),
    "critical": Threshold(min_rate=0.5, min_count=6, deadline_s=3_600),
}


def _version(
    ch: Client, inst: str, rid: str, seq: int, issues: list[str], at: datetime = NOW
) -> None:
    row: dict[str, Any] = {
        "record_id": rid,
        "institution_id": inst,
        "source_system": "his",
        "source_database": "his",
        "source_table": "his.visit",
        "source_key": f"key-{rid}",
        "operation": "u",
        "deleted": False,
        "source_position": str(seq),
        "source_position_seq": seq,
        "business_time": at - timedelta(hours=1),
        "commit_time": at - timedelta(hours=1),
        "received_time": at - timedelta(hours=1),
        "standardized_time": at - timedelta(hours=1),
        "cancelled": False,
        "quality_issues": issues,
        "profile": "test@1",
        "_topic": "std.encounter",
        "_partition": 0,
        "_offset": seq,
        "_landed_time": at - timedelta(hours=1) + timedelta(seconds=5),
        "encounter_id": f"enc-{rid}",
    }
    ch.insert("std_encounter", [list(row.values())], column_names=list(row))


def _plant(ch: Client) -> None:
    """I1: 4 of 10 fail `required` (warning), 1 fails `department_code` (under threshold);
    I2: 7 of 10 fail `department_code` (critical); I3: 10 clean."""
    seq = 0
    for inst, bad in (
        ("I1", {"required": 4, "department_code": 1}),
        ("I2", {"department_code": 7}),
        ("I3", {}),
    ):
        planted = [rule for rule, n in bad.items() for _ in range(n)]
        for i in range(10):
            seq += 1
            _version(ch, inst, f"{inst}-r{i}", seq, [planted[i]] if i < len(planted) else [])


def test_orders_open_notify_close_on_corrected_versions_and_escalate(ch: Client) -> None:
    clock = ManualClock(NOW.timestamp())
    store = WorkOrderStore(ch, clock=clock)
    _plant(ch)
    with smtp_sink() as (port, mailbox), webhook_receiver() as (url, hooks):
        settings = OrderSettings(
            levels=LEVELS,
            window_s=7 * 86_400,
            clean_period_s=10 * 86_400,
            link_base="https://streamhub.example/quality/orders/",
            smtp=SmtpSettings(host="127.0.0.1", port=port, to=("qc@example.org",)),
            webhook=WebhookSettings(url=url),
        )
        engine = OrderEngine(
            store, settings, from_settings(settings.smtp, settings.webhook, clock=clock)
        )
        hooks.fail_next = 1  # the webhook's first try fails: retried
        first = engine.evaluate()

        opened = {(o.institution_id, o.rule): o for o in first.opened}
        assert set(opened) == {("I1", "required"), ("I2", "department_code")}
        i1, i2 = opened[("I1", "required")], opened[("I2", "department_code")]
        assert (i1.level, i1.breach_count, i1.breach_rate) == ("warning", 4, 0.4)
        assert (i2.level, i2.breach_count) == ("critical", 7)
        assert i1.examples == ("I1-r0", "I1-r1", "I1-r2", "I1-r3")
        assert i1.deadline_ms - i1.opened_at_ms == 86_400_000
        assert i2.deadline_ms - i2.opened_at_ms == 3_600_000

        # the notifications: one email and one webhook per order, no record id in either
        assert sorted(first.notified) == sorted([i1.order_id, i2.order_id])
        assert len(mailbox.messages) == 2 and len(hooks.bodies) == 2
        mail = {m["Subject"]: m.get_payload(decode=True).decode() for m in mailbox.messages}
        body = next(b for s, b in mail.items() if i1.order_id in s)
        assert "I1" in body and "required" in body and "4 (40.0%)" in body
        assert f"https://streamhub.example/quality/orders/{i1.order_id}" in body
        assert "2026-11-11T04:00:00+00:00" in body  # the deadline
        hook = next(h for h in hooks.bodies if h["order_id"] == i2.order_id)
        assert hook["institution_id"] == "I2" and hook["breach_count"] == 7
        assert hook["event"] == "open" and hook["link"].endswith(i2.order_id)
        sent = "".join(mail.values()) + str(hooks.bodies)
        assert "-r0" not in sent and "key-" not in sent  # neither record ids nor source keys

        # a second evaluation opens nothing new and announces nothing twice
        again = engine.evaluate()
        assert again.opened == [] and again.notified == [] and len(hooks.bodies) == 2

        # the contacts: I1's acknowledges its own order, is refused I2's
        store.acknowledge(i1.order_id, by="contact-i1", note="seen", institution_id="I1")
        try:
            store.acknowledge(i2.order_id, by="contact-i1", note="x", institution_id="I1")
            raise AssertionError("another institution's order was acknowledged")
        except WorkOrderAccessError as exc:
            assert "contact-i1" in str(exc) and "I2" not in str(exc)

        # I1's records corrected at the source: their later versions land passing
        clock.advance(600)
        for i in range(4):
            _version(ch, "I1", f"I1-r{i}", 100 + i, [], at=NOW + timedelta(minutes=10))
        store.report_fix(i1.order_id, by="contact-i1", note="fixed", institution_id="I1")
        assert store.get(i1.order_id).state == "fix_reported"  # not closed on the word alone
        third = engine.evaluate()
        assert [o.order_id for o in third.closed] == [i1.order_id]
        closed = store.get(i1.order_id)
        assert closed.state == "closed"
        for i in range(4):
            assert f"I1-r{i} v{100 + i} landed 2026-11-10T03:10:05+00:00 passing" in closed.evidence
        assert len(hooks.bodies) == 3 and hooks.bodies[-1]["event"] == "closed"

        # I2's order is left alone: after its deadline it escalates, once, and is announced
        assert third.escalated == []
        clock.advance(3_600)
        fourth = engine.evaluate()
        assert [o.order_id for o in fourth.escalated] == [i2.order_id]
        escalated = store.get(i2.order_id)
        assert escalated.state == "escalated"
        assert "7 of 7 offending records still failing" in escalated.evidence
        assert hooks.bodies[-1]["event"] == "escalated" and len(mailbox.messages) == 4
        assert engine.evaluate().escalated == []  # its new deadline is ahead

    trail = [(a.actor, a.action, a.from_state, a.to_state) for a in store.audit(i1.order_id)]
    assert trail == [
        ("streamhub", "opened", "", "open"),
        ("contact-i1", "acknowledged", "open", "acknowledged"),
        ("contact-i1", "fix_reported", "acknowledged", "fix_reported"),
        ("streamhub", "closed", "fix_reported", "closed"),
    ]
    assert [a.to_state for a in store.audit(i2.order_id)] == ["open", "escalated"]
    assert {o.institution_id for o in store.list()} == {"I1", "I2"}  # none for the clean I3
    # a new breach after closing opens a new order; the closed one stays closed
    assert store.list(institution_id="I1", states=["closed"])[0].order_id == i1.order_id


def test_an_order_closes_after_a_clean_period(ch: Client) -> None:
    clock = ManualClock(NOW.timestamp())
    store = WorkOrderStore(ch, clock=clock)
    _plant(ch)
    settings = OrderSettings(levels=LEVELS, window_s=86_400, clean_period_s=3 * 86_400)
    engine = OrderEngine(store, settings)
    opened = {o.rule: o for o in engine.evaluate().opened if o.institution_id == "I1"}
    order = opened["required"]
    # the window moves past the bad records; new records of the scope land clean
    for day in (2, 3, 4, 5):
        clock.set(NOW.timestamp() + day * 86_400)
        _version(ch, "I1", f"I1-new{day}", 1000 + day, [], at=NOW + day * DAY)
        result = engine.evaluate()
        state = store.get(order.order_id)
        if day < 5:
            assert state.state in ("open", "escalated"), day
    assert state.state == "closed"
    assert order.order_id in [o.order_id for o in result.closed]
    assert "under threshold since 2026-11-12T04:00:00+00:00" in state.evidence
    assert "4 of the 4 original offenders still failing" in state.evidence


def test_the_run_loop_exports_open_and_overdue_orders_and_scores(ch: Client) -> None:
    clock = ManualClock(NOW.timestamp())
    store = WorkOrderStore(ch, clock=clock)
    _plant(ch)
    registry = CollectorRegistry()
    metrics = OrderMetrics.create(registry)
    engine = OrderEngine(store, OrderSettings(levels=LEVELS))
    stop = threading.Event()
    seen: list[Evaluation] = []

    def report(result: Evaluation) -> None:
        seen.append(result)
        stop.set()

    assert run_loop(engine, metrics, 60, stop, report) == 0
    assert len(seen[0].opened) == 2

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    orders = "streamhub_quality_work_orders_count"
    assert value(orders, institution="I1", status="open") == 1
    assert value(orders, institution="I2", status="open") == 1
    assert value(orders, institution="I3", status="open") == 0
    assert value("streamhub_quality_work_orders_overdue_count", institution="I2") == 0
    assert value("streamhub_quality_score_ratio", institution="I3") == 1.0
    # by hand: I1 completeness 60, validity 90 -> 0.3*60 + 0.3*90 + 0.2*100 + 0.2*100 = 85;
    # I2 validity 30 -> 0.3*100 + 0.3*30 + 40 = 79
    assert value("streamhub_quality_score_ratio", institution="I1") == pytest.approx(0.85)
    assert value("streamhub_quality_score_ratio", institution="I2") == pytest.approx(0.79)
    assert value("streamhub_quality_work_order_evaluations_total", outcome="ok") == 1
    # past I2's one-hour deadline, before the next evaluation escalates it: overdue
    metrics.export(seen[0].active, {}, int(NOW.timestamp() * 1000) + 3_601_000)
    assert value("streamhub_quality_work_orders_overdue_count", institution="I2") == 1
    assert value("streamhub_quality_work_orders_overdue_count", institution="I1") == 0
