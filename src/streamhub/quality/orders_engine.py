"""The work order engine: one evaluation opens, verifies, escalates and notifies.

- **Open**: a rule whose failing records in an institution's scope (system, table) over the
  evaluation window reach a level's threshold (:class:`~.orders_config.Threshold`: count and
  rate) opens one order for (institution, system, table, rule), at the most severe level
  reached, with the failing record ids (pseudonyms) as examples and offenders, and a
  deadline. No second order while one is active.
- **Close**, from the data only: every offender's latest landed version passes the rule (or
  is a delete) — evidence: each record's version and landing time; or the rule stays under
  every threshold for ``clean_period_s`` — evidence: the rate when it went under and now.
- **Escalate**: an active order past its deadline becomes ``escalated``, with a new
  deadline (the level's time again) and the offenders still failing as evidence.
- **Notify**: an order whose state is open, escalated or closed and not yet announced is
  sent through the notifier; a failed send is retried on the next evaluation.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from clickhouse_connect.driver.client import Client

from streamhub.quality.errors import NotifyError
from streamhub.quality.notify import FanOut, Notice, Notifier
from streamhub.quality.orders import ACTIVE_STATES, WorkOrder, WorkOrderStore
from streamhub.quality.orders_config import OrderSettings
from streamhub.quality.orders_sql import (
    RecordState,
    RuleCount,
    RuleKey,
    Scope,
    offender_states,
    rule_counts,
)

log = logging.getLogger(__name__)

ENGINE_ACTOR = "streamhub"
NOTIFY_STATES = ("open", "escalated", "closed")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def order_id_for(key: RuleKey, opened_at_ms: int) -> str:
    digest = hashlib.sha256(f"{'|'.join(key)}|{opened_at_ms}".encode()).hexdigest()[:10]
    day = datetime.fromtimestamp(opened_at_ms / 1000, UTC).strftime("%Y%m%d")
    return f"WO-{day}-{digest}"


def order_key(order: WorkOrder) -> RuleKey:
    return (order.institution_id, order.system, order.table, order.rule)


class OrderData(Protocol):
    """What the engine reads from the landed data."""

    def rule_counts(
        self, start_ms: int, end_ms: int, max_offenders: int
    ) -> tuple[dict[RuleKey, RuleCount], dict[Scope, int]]: ...

    def offender_states(self, order: WorkOrder) -> list[RecordState]: ...


class ClickHouseOrderData:
    """The std tables as they landed (:mod:`.orders_sql`)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def rule_counts(
        self, start_ms: int, end_ms: int, max_offenders: int
    ) -> tuple[dict[RuleKey, RuleCount], dict[Scope, int]]:
        return rule_counts(self.client, start_ms, end_ms, max_offenders=max_offenders)

    def offender_states(self, order: WorkOrder) -> list[RecordState]:
        return offender_states(
            self.client,
            institution=order.institution_id,
            entity=order.entity,
            rule=order.rule,
            record_ids=order.offenders,
        )


@dataclass
class Evaluation:
    """What one evaluation did."""

    opened: list[WorkOrder] = field(default_factory=list)
    closed: list[WorkOrder] = field(default_factory=list)
    escalated: list[WorkOrder] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # order ids announced
    notify_failed: list[str] = field(default_factory=list)
    active: list[WorkOrder] = field(default_factory=list)  # after the evaluation

    def summary(self) -> str:
        return (
            f"opened {len(self.opened)}, closed {len(self.closed)}, escalated "
            f"{len(self.escalated)}, notified {len(self.notified)}"
            + (f", notifications failed {len(self.notify_failed)}" if self.notify_failed else "")
            + f"; active {len(self.active)}"
        )


class OrderEngine:
    def __init__(
        self,
        store: WorkOrderStore,
        settings: OrderSettings,
        notifier: Notifier | None = None,
        data: OrderData | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.notifier: Notifier = notifier if notifier is not None else FanOut([])
        self.data: OrderData = data if data is not None else ClickHouseOrderData(store.client)

    def evaluate(self) -> Evaluation:
        now = self.store.now_ms()
        counts, records = self.data.rule_counts(
            now - self.settings.window_s * 1000, now + 1, self.settings.max_offenders
        )
        result = Evaluation()
        active = {
            order_key(o): o
            for o in self.store.list(states=ACTIVE_STATES)
            if self.settings.covers(o.institution_id)
        }
        for key, count in sorted(counts.items()):
            if key not in active and self.settings.covers(count.institution_id):
                opened = self._open(count, now)
                if opened is not None:
                    result.opened.append(opened)
                    active[key] = opened
        for key, order in list(active.items()):
            if order in result.opened:
                continue
            scope: Scope = key[:3]
            current = counts.get(key)
            updated = self._verify(order, current, records.get(scope, 0), now)
            if updated.state == "closed":
                result.closed.append(updated)
                del active[key]
                continue
            if updated.overdue(now):
                updated = self._escalate(updated, now)
                result.escalated.append(updated)
            active[key] = updated
        self._notify(result)
        result.active = sorted(
            (o for o in self.store.list(states=ACTIVE_STATES)), key=lambda o: o.order_id
        )
        return result

    # --- the steps -------------------------------------------------------------------------

    def _open(self, count: RuleCount, now: int) -> WorkOrder | None:
        reached = self.settings.level_of(count.rule, count.failing, count.records)
        if reached is None:
            return None
        level, threshold = reached
        order = WorkOrder(
            order_id=order_id_for(count.key, now),
            institution_id=count.institution_id,
            rule=count.rule,
            system=count.system,
            table=count.table,
            level=level,
            state="open",
            opened_at_ms=now,
            deadline_ms=now + threshold.deadline_s * 1000,
            breach_count=count.failing,
            breach_rate=count.rate,
            examples=count.offenders[: self.settings.examples],
            evidence="",
            updated_at_ms=now,
            entity=count.entity,
            offenders=count.offenders,
        )
        note = f"{count.failing} of {count.records} records fail {count.rule} ({count.rate:.1%})"
        return self.store.save(order, actor=ENGINE_ACTOR, action="opened", note=note)

    def _verify(
        self, order: WorkOrder, current: RuleCount | None, records: int, now: int
    ) -> WorkOrder:
        """Close from the data: offenders re-landed passing, or a long enough clean period."""
        states = self.data.offender_states(order)
        if states and all(s.resolved for s in states):
            fixed = [
                f"{s.record_id} v{s.seq} landed {_iso(s.landed_ms)}"
                + (" (deleted at the source)" if s.deleted else " passing")
                for s in states
            ]
            evidence = f"all {len(states)} offending records re-landed: " + "; ".join(fixed)
            return self._close(order, evidence, "offenders corrected at the source")
        failing = current.failing if current is not None else 0
        if not self.settings.under_threshold(order.rule, failing, records):
            if order.clean_since_ms:
                return self.store.save(
                    replace(order, clean_since_ms=0), actor=ENGINE_ACTOR, action="breached again"
                )
            return order
        if not order.clean_since_ms:
            return self.store.save(
                replace(order, clean_since_ms=now), actor=ENGINE_ACTOR, action="under threshold"
            )
        if now - order.clean_since_ms >= self.settings.clean_period_s * 1000:
            still = sum(not s.resolved for s in states)
            evidence = (
                f"rule {order.rule} under threshold since {_iso(order.clean_since_ms)}: "
                f"{failing} of {records} records failing at {_iso(now)} "
                f"(opened at {order.breach_count}, {order.breach_rate:.1%}); "
                f"{still} of the {len(states)} original offenders still failing"
            )
            return self._close(order, evidence, "rate under threshold for the clean period")
        return order

    def _close(self, order: WorkOrder, evidence: str, note: str) -> WorkOrder:
        closed = replace(order, state="closed", evidence=evidence)
        return self.store.save(closed, actor=ENGINE_ACTOR, action="closed", note=note)

    def _escalate(self, order: WorkOrder, now: int) -> WorkOrder:
        states = self.data.offender_states(order)
        still = sum(not s.resolved for s in states)
        threshold = self.settings.thresholds(order.rule).get(order.level)
        extra_s = threshold.deadline_s if threshold is not None else 86_400
        deadline = now + extra_s * 1000
        evidence = (
            f"deadline {_iso(order.deadline_ms)} passed while {order.state}; {still} of "
            f"{len(states)} offending records still failing; new deadline {_iso(deadline)}"
        )
        escalated = replace(order, state="escalated", evidence=evidence, deadline_ms=deadline)
        return self.store.save(escalated, actor=ENGINE_ACTOR, action="escalated", note=evidence)

    def _notify(self, result: Evaluation) -> None:
        for order in self.store.list():
            if order.state not in NOTIFY_STATES or order.notified_state == order.state:
                continue
            try:
                self.notifier.send(Notice.of(order, self.settings.link_base))
            except NotifyError as exc:
                log.warning("%s", exc)
                result.notify_failed.append(order.order_id)
                continue
            self.store.save(
                replace(order, notified_state=order.state), actor=ENGINE_ACTOR, action="notified"
            )
            result.notified.append(order.order_id)
