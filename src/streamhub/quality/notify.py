"""Notifications of work orders: pluggable senders (SMTP email, JSON webhook).

A :class:`Notice` carries the institution, rule, scope, counts, deadline and a link to the
order — never a clear personal value, and not even the pseudonymized record ids (they are on
the order's page, behind the sign-in). The SMTP password is read when sending, from the
environment or a file (:class:`~.orders_config.SmtpSettings`), and never logged.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_call
from streamhub.quality.errors import NotifyError
from streamhub.quality.orders import WorkOrder
from streamhub.quality.orders_config import SmtpSettings, WebhookSettings

log = logging.getLogger(__name__)

SUBJECTS = {
    "open": "数据质量整改工单 / data quality work order",
    "escalated": "工单已逾期升级 / work order overdue, escalated",
    "closed": "工单已关闭 / work order closed",
}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Notice:
    """What one notification says about one order (no record values, no record ids)."""

    event: str  # the order's state being announced: open, escalated, closed
    order_id: str
    institution_id: str
    rule: str
    system: str
    table: str
    level: str
    breach_count: int
    breach_rate: float
    deadline_ms: int
    link: str
    evidence: str

    @classmethod
    def of(cls, order: WorkOrder, link_base: str) -> Notice:
        return cls(
            event=order.state,
            order_id=order.order_id,
            institution_id=order.institution_id,
            rule=order.rule,
            system=order.system,
            table=order.table,
            level=order.level,
            breach_count=order.breach_count,
            breach_rate=order.breach_rate,
            deadline_ms=order.deadline_ms,
            link=f"{link_base}{order.order_id}",
            evidence=order.evidence,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "event": self.event,
            "order_id": self.order_id,
            "institution_id": self.institution_id,
            "rule": self.rule,
            "system": self.system,
            "table": self.table,
            "level": self.level,
            "breach_count": self.breach_count,
            "breach_rate": round(self.breach_rate, 4),
            "deadline": _iso(self.deadline_ms),
            "link": self.link,
            "evidence": self.evidence,
        }

    def subject(self) -> str:
        title = SUBJECTS.get(self.event, self.event)
        return f"[streamhub] {title}: {self.institution_id} {self.rule} ({self.order_id})"

    def body(self) -> str:
        lines = [
            f"机构 institution: {self.institution_id}",
            f"规则 rule: {self.rule} ({self.level})",
            f"来源 source: {self.system} / {self.table}",
            f"问题记录 failing records: {self.breach_count} ({self.breach_rate:.1%})",
            f"整改期限 deadline: {_iso(self.deadline_ms)}",
            f"状态 state: {self.event}",
        ]
        if self.evidence:
            lines.append(f"说明 evidence: {self.evidence}")
        lines += ["", f"详情 details (sign in): {self.link}", ""]
        return "\n".join(lines)


class Notifier(Protocol):
    name: str

    def send(self, notice: Notice) -> None:
        """Deliver ``notice``; raise :class:`NotifyError` when it could not be."""
        ...


class SmtpNotifier:
    """Email through an SMTP server (STARTTLS and login when configured)."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, notice: Notice) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = notice.subject()
        message["From"] = s.sender
        message["To"] = ", ".join(s.to)
        message.set_content(notice.body())
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls()
                password = s.password()
                if s.username and password is not None:
                    smtp.login(s.username, password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(
                f"email for work order {notice.order_id} not sent through {s.host}:{s.port} "
                f"({type(exc).__name__}); check the SMTP settings (STREAMHUB_ORDERS_SMTP__*)"
            ) from exc


class WebhookNotifier:
    """A JSON POST of :meth:`Notice.as_json`, retried with backoff on failure."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.clock = clock

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            self.settings.url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:  # noqa: S310
            response.read()

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.as_json(), ensure_ascii=False).encode("utf-8")
        policy = RetryPolicy(attempts=self.settings.attempts, first_s=0.5, max_s=10.0)
        try:
            retry_call(
                lambda: self._post(body),
                policy,
                what=f"webhook for work order {notice.order_id}",
                transient=lambda exc: isinstance(exc, OSError),
                clock=self.clock,
            )
        except (RetriesExhaustedError, OSError) as exc:
            raise NotifyError(
                f"webhook for work order {notice.order_id} not delivered "
                f"({type(exc.__cause__ or exc).__name__}); check STREAMHUB_ORDERS_WEBHOOK__URL "
                "and that the receiver answers 2xx"
            ) from exc


class FanOut:
    """Every configured sender; a failure of one does not stop the others."""

    name = "all"

    def __init__(self, senders: Sequence[Notifier]) -> None:
        self.senders = list(senders)

    def send(self, notice: Notice) -> None:
        failed: list[str] = []
        for sender in self.senders:
            try:
                sender.send(notice)
            except NotifyError as exc:
                log.warning("work order notification failed: %s", exc)
                failed.append(sender.name)
        if failed:
            raise NotifyError(
                f"work order {notice.order_id}: {', '.join(failed)} failed (see the log); "
                "retried on the next evaluation"
            )


def from_settings(
    smtp: SmtpSettings, webhook: WebhookSettings, *, clock: Clock = SYSTEM_CLOCK
) -> FanOut:
    senders: list[Notifier] = []
    if smtp.host:
        senders.append(SmtpNotifier(smtp))
    if webhook.url:
        senders.append(WebhookNotifier(webhook, clock=clock))
    return FanOut(senders)
