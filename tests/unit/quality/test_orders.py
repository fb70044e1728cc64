"""Work orders: thresholds, opening, closing, escalation and the contacts' access check.

The store's reads and writes are kept in memory here (its ClickHouse side is the integration
test's); the state logic, the audit rows and the access check are the real code's.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from streamhub.core.clock import ManualClock
from streamhub.quality.errors import NotifyError, WorkOrderError
from streamhub.quality.notify import Notice
from streamhub.quality.orders import (
    AuditEntry,
    WorkOrder,
    WorkOrderAccessError,
    WorkOrderNotFoundError,
    WorkOrderStateError,
    WorkOrderStore,
)
from streamhub.quality.orders_config import OrderSettings, Threshold, load_order_settings
from streamhub.quality.orders_engine import OrderEngine, order_id_for
from streamhub.quality.orders_sql import RecordState, RuleCount, RuleKey, Scope

START_S = 1_794_000_000.0
HOUR_MS = 3_600_000
LEVELS = {
    "warning": Threshold(min_rate=0.1, min_count=3, deadline_s=86_400),
    "critical": Threshold(min_rate=0.5, min_count=10, deadline_s=3_600),
}


class MemoryStore(WorkOrderStore):
    """WorkOrderStore with its rows in memory: the real change logic above it."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(client=None, clock=clock)  # type: ignore[arg-type]
        self.rows: dict[str, WorkOrder] = {}
        self.trail: list[AuditEntry] = []

    def get(self, order_id: str) -> WorkOrder:
        if order_id not in self.rows:
            raise WorkOrderNotFoundError(f"no work order {order_id!r}")
        return self.rows[order_id]

    def list(
        self, *, institution_id: str | None = None, states: Sequence[str] | None = None
    ) -> builtins.list[WorkOrder]:
        return [
            o
            for o in self.rows.values()
            if (institution_id is None or o.institution_id == institution_id)
            and (states is None or o.state in states)
        ]

    def audit(self, order_id: str) -> builtins.list[AuditEntry]:
        return [a for a in self.trail if a.order_id == order_id]

    def save(self, order: WorkOrder, *, actor: str, action: str, note: str = "") -> WorkOrder:
        previous = self.rows.get(order.order_id)
        saved = replace(order, version=(previous.version if previous else 0) + 1)
        if previous is None or previous.state != saved.state:
            self.trail.append(
                AuditEntry(
                    saved.order_id,
                    saved.version,
                    self.now_ms(),
                    actor,
                    action,
                    previous.state if previous else "",
                    saved.state,
                    note,
                )
            )
        self.rows[order.order_id] = saved
        return saved


class Data:
    """Rule counts and offender states as a test sets them."""

    def __init__(self) -> None:
        self.counts: dict[RuleKey, RuleCount] = {}
        self.records: dict[Scope, int] = {}
        self.fixed: dict[str, RecordState] = {}

    def breach(self, inst: str, rule: str, failing: int, records: int) -> None:
        offenders = tuple(f"{inst}-{i}" for i in range(failing))
        key = (inst, "his", "his.visit", rule)
        self.counts[key] = RuleCount(*key[:3], "encounter", rule, failing, records, offenders)
        self.records[key[:3]] = records

    def clear(self, inst: str, rule: str) -> None:
        self.counts.pop((inst, "his", "his.visit", rule), None)

    def rule_counts(
        self, start_ms: int, end_ms: int, max_offenders: int
    ) -> tuple[dict[RuleKey, RuleCount], dict[Scope, int]]:
        return dict(self.counts), dict(self.records)

    def offender_states(self, order: WorkOrder) -> list[RecordState]:
        return [
            self.fixed.get(rid, RecordState(rid, True, True, 1, 0, False))
            for rid in order.offenders
        ]


class Sent:
    name = "test"

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.fail = False

    def send(self, notice: Notice) -> None:
        if self.fail:
            raise NotifyError("down")
        self.notices.append(notice)


def _engine(
    clean_period_s: int = 86_400,
) -> tuple[OrderEngine, MemoryStore, Data, Sent, ManualClock]:
    clock = ManualClock(START_S)
    store, data, sent = MemoryStore(clock), Data(), Sent()
    settings = OrderSettings(levels=LEVELS, clean_period_s=clean_period_s)
    return OrderEngine(store, settings, sent, data), store, data, sent, clock


# --- thresholds ---------------------------------------------------------------------------


def test_a_level_needs_both_its_count_and_its_rate() -> None:
    settings = OrderSettings(levels=LEVELS)
    assert settings.level_of("required", 2, 4) is None  # 50 % but 2 records
    assert settings.level_of("required", 3, 100) is None  # 3 records but 3 %
    assert settings.level_of("required", 3, 30)[0] == "warning"  # type: ignore[index]
    assert settings.level_of("required", 10, 20)[0] == "critical"  # type: ignore[index]
    assert settings.level_of("required", 0, 0) is None
    assert settings.under_threshold("required", 2, 30)


def test_a_rule_overrides_a_level_and_keeps_the_others() -> None:
    strict = Threshold(min_rate=0.01, min_count=1, deadline_s=600)
    settings = OrderSettings(levels=LEVELS, rules={"id_checksum": {"warning": strict}})
    assert settings.level_of("id_checksum", 1, 100) == ("warning", strict)
    assert settings.level_of("required", 1, 100) is None
    assert list(settings.thresholds("id_checksum")) == ["warning", "critical"]
    off = OrderSettings(levels=LEVELS, disabled_rules=frozenset({"entered_late"}))
    assert off.level_of("entered_late", 20, 20) is None
    assert off.level_of("required", 20, 20) is not None


def test_the_defaults_and_the_environment() -> None:
    settings = OrderSettings()
    assert settings.level_of("required", 5, 100)[0] == "warning"  # type: ignore[index]
    assert settings.level_of("required", 20, 100)[0] == "critical"  # type: ignore[index]
    assert settings.level_of("required", 4, 10) is None


def test_settings_from_the_environment_and_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMHUB_ORDERS_SMTP__HOST", "mail.example")
    monkeypatch.setenv("STREAMHUB_ORDERS_WINDOW_S", "3600")
    loaded = load_order_settings()
    assert (loaded.smtp.host, loaded.window_s) == ("mail.example", 3600)
    path = tmp_path / "orders.json"
    path.write_text(
        json.dumps({"levels": {"warning": {"min_rate": 0.5, "min_count": 2, "deadline_s": 60}}})
    )
    assert load_order_settings(path).levels["warning"].min_count == 2
    path.write_text(json.dumps({"levels": {"warning": {"min_rate": 2}}}))
    with pytest.raises(WorkOrderError, match=str(path)):
        load_order_settings(path)


def test_the_smtp_password_comes_from_a_file_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamhub.quality.orders_config import SmtpSettings

    monkeypatch.setenv("STREAMHUB_SMTP_PASSWORD", "s3cret")
    assert SmtpSettings().password().get_secret_value() == "s3cret"  # type: ignore[union-attr]
    assert "s3cret" not in repr(SmtpSettings().password())
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    assert SmtpSettings(password_file=secret).password().get_secret_value() == "from-file"  # type: ignore[union-attr]
    monkeypatch.delenv("STREAMHUB_SMTP_PASSWORD")
    assert SmtpSettings().password() is None
    with pytest.raises(WorkOrderError, match="password file"):
        SmtpSettings(password_file=tmp_path / "missing").password()


# --- opening -----------------------------------------------------------------------------


def test_a_breach_opens_one_order_at_its_level_and_clean_scopes_none() -> None:
    engine, store, data, sent, _ = _engine()
    data.breach("I1", "required", 4, 20)  # warning
    data.breach("I2", "id_checksum", 12, 20)  # critical
    data.breach("I3", "required", 2, 20)  # under every threshold
    first = engine.evaluate()
    opened = {o.institution_id: o for o in first.opened}
    assert set(opened) == {"I1", "I2"}
    assert (opened["I1"].level, opened["I1"].breach_count, opened["I1"].breach_rate) == (
        "warning", 4, 0.2,
    )  # fmt: skip
    assert opened["I1"].deadline_ms == opened["I1"].opened_at_ms + 24 * HOUR_MS
    assert opened["I2"].level == "critical"
    assert opened["I2"].deadline_ms == opened["I2"].opened_at_ms + HOUR_MS
    assert opened["I2"].examples == tuple(f"I2-{i}" for i in range(5))
    assert len(opened["I2"].offenders) == 12
    assert {n.order_id for n in sent.notices} == {o.order_id for o in first.opened}
    second = engine.evaluate()  # still breached: no second order, no second notice
    assert second.opened == [] and len(store.rows) == 2 and len(sent.notices) == 2


def test_only_the_covered_institutions_open_orders() -> None:
    clock = ManualClock(START_S)
    store, data = MemoryStore(clock), Data()
    settings = OrderSettings(levels=LEVELS, institutions=frozenset({"I2"}))
    data.breach("I1", "required", 5, 10)
    data.breach("I2", "required", 5, 10)
    opened = OrderEngine(store, settings, Sent(), data).evaluate().opened
    assert [o.institution_id for o in opened] == ["I2"]


def test_order_ids_are_stable_per_scope_rule_and_opening_time() -> None:
    key = ("I1", "his", "his.visit", "required")
    assert order_id_for(key, 1) == order_id_for(key, 1)
    assert order_id_for(key, 1) != order_id_for(key, 2)
    assert order_id_for(key, 1_794_000_000_000).startswith("WO-20261106-")


# --- closing -----------------------------------------------------------------------------


def test_an_order_closes_only_when_every_offender_passes_or_is_deleted() -> None:
    engine, store, data, sent, clock = _engine()
    data.breach("I1", "required", 3, 20)
    (order,) = engine.evaluate().opened
    data.fixed["I1-0"] = RecordState("I1-0", True, False, 7, 1_000, False)
    data.fixed["I1-1"] = RecordState("I1-1", False, False, 8, 2_000, True)
    clock.advance(60)
    assert engine.evaluate().closed == []  # I1-2 still fails
    data.fixed["I1-2"] = RecordState("I1-2", True, False, 9, 3_000, False)
    (closed,) = engine.evaluate().closed
    assert closed.state == "closed" and store.get(order.order_id).state == "closed"
    assert "I1-0 v7 landed 1970-01-01T00:00:01+00:00 passing" in closed.evidence
    assert "I1-1 v8 landed 1970-01-01T00:00:02+00:00 (deleted at the source)" in closed.evidence
    assert [n.event for n in sent.notices] == ["open", "closed"]
    # a record never landed is not a fix
    assert not RecordState("x", False, False, 0, 0, False).resolved
    # the breach, still there after closing, opens a new order
    (again,) = engine.evaluate().opened
    assert again.order_id != order.order_id


def test_a_reported_fix_does_not_close_an_order() -> None:
    engine, store, data, _, clock = _engine()
    data.breach("I1", "required", 3, 20)
    (order,) = engine.evaluate().opened
    store.report_fix(order.order_id, by="c1", note="done", institution_id="I1")
    clock.advance(60)
    assert engine.evaluate().closed == []
    assert store.get(order.order_id).state == "fix_reported"


def test_an_order_closes_after_its_rule_stays_under_threshold_for_the_clean_period() -> None:
    engine, store, data, _, clock = _engine(clean_period_s=3 * 3600)
    data.breach("I1", "required", 3, 20)
    (order,) = engine.evaluate().opened
    data.clear("I1", "required")  # the window moved on; no record fails any more
    clock.advance(3600)
    engine.evaluate()
    assert store.get(order.order_id).clean_since_ms == int(clock.time() * 1000)
    clock.advance(3600)
    data.breach("I1", "required", 3, 20)  # breached again: the clean period restarts
    engine.evaluate()
    assert store.get(order.order_id).clean_since_ms == 0
    data.clear("I1", "required")
    for _ in range(3):
        clock.advance(3600)
        assert engine.evaluate().closed == []
    clock.advance(3600)
    (closed,) = engine.evaluate().closed
    assert "under threshold since" in closed.evidence
    assert "3 of the 3 original offenders still failing" in closed.evidence


# --- escalation --------------------------------------------------------------------------


def test_an_overdue_order_escalates_once_per_deadline_and_is_announced() -> None:
    engine, store, data, sent, clock = _engine()
    data.breach("I1", "required", 12, 20)  # critical: an hour
    (order,) = engine.evaluate().opened
    clock.advance(3600)
    assert engine.evaluate().escalated == []  # at the deadline, not past it
    clock.advance(1)
    (escalated,) = engine.evaluate().escalated
    assert escalated.state == "escalated"
    assert "12 of 12 offending records still failing" in escalated.evidence
    assert escalated.deadline_ms == int(clock.time() * 1000) + HOUR_MS
    assert engine.evaluate().escalated == []
    assert [n.event for n in sent.notices] == ["open", "escalated"]
    assert [(a.from_state, a.to_state) for a in store.audit(order.order_id)] == [
        ("", "open"),
        ("open", "escalated"),
    ]
    # acknowledged after escalation, then past the new deadline: escalates again
    store.acknowledge(order.order_id, by="c1", note="on it", institution_id="I1")
    clock.advance(3601)
    assert [o.order_id for o in engine.evaluate().escalated] == [order.order_id]


def test_a_failed_notification_is_retried_on_the_next_evaluation() -> None:
    engine, _, data, sent, _ = _engine()
    data.breach("I1", "required", 3, 20)
    sent.fail = True
    first = engine.evaluate()
    assert first.notified == [] and len(first.notify_failed) == 1
    sent.fail = False
    assert engine.evaluate().notified == first.notify_failed


# --- the contacts ------------------------------------------------------------------------


def test_a_contact_may_change_only_their_institutions_orders() -> None:
    engine, store, data, _, _ = _engine()
    data.breach("I1", "required", 3, 20)
    data.breach("I2", "required", 3, 20)
    orders = {o.institution_id: o for o in engine.evaluate().opened}
    with pytest.raises(WorkOrderAccessError) as refused:
        store.acknowledge(orders["I2"].order_id, by="alice", note="", institution_id="I1")
    assert "alice" in str(refused.value) and orders["I2"].order_id in str(refused.value)
    assert "I2" not in str(refused.value).replace(orders["I2"].order_id, "")
    with pytest.raises(WorkOrderAccessError):
        store.report_fix(orders["I2"].order_id, by="alice", note="", institution_id="I1")
    assert store.get(orders["I2"].order_id).state == "open"  # nothing changed, nothing audited
    assert len(store.audit(orders["I2"].order_id)) == 1
    done = store.acknowledge(orders["I1"].order_id, by="alice", note="seen", institution_id="I1")
    assert done.state == "acknowledged"
    assert store.audit(done.order_id)[-1].actor == "alice"
    # an operator (no institution) may act on any
    store.report_fix(orders["I2"].order_id, by="op", note="", institution_id=None)


def test_state_changes_follow_the_workflow() -> None:
    engine, store, data, _, _ = _engine()
    data.breach("I1", "required", 3, 20)
    (order,) = engine.evaluate().opened
    store.report_fix(order.order_id, by="c", note="", institution_id="I1")
    with pytest.raises(WorkOrderStateError, match="fix_reported"):
        store.acknowledge(order.order_id, by="c", note="", institution_id="I1")
    with pytest.raises(WorkOrderNotFoundError):
        store.acknowledge("WO-none", by="c", note="", institution_id="I1")


def test_the_store_refuses_an_unknown_state_filter() -> None:
    store = WorkOrderStore(client=None, clock=ManualClock())  # type: ignore[arg-type]
    with pytest.raises(WorkOrderStateError, match="unknown work order state"):
        store.list(states=["done"])
