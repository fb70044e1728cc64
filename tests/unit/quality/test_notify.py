"""The work order notifier: what a notice says, email to a local SMTP sink, the webhook's
retries, and one sender's failure not stopping the others."""

from __future__ import annotations

import logging

import pytest

from streamhub.core.clock import ManualClock
from streamhub.quality.errors import NotifyError
from streamhub.quality.notify import FanOut, Notice, SmtpNotifier, WebhookNotifier, from_settings
from streamhub.quality.orders import WorkOrder
from streamhub.quality.orders_config import SmtpSettings, WebhookSettings
from tests.integration.quality.sinks import smtp_sink, webhook_receiver

ORDER = WorkOrder(
    order_id="WO-20261110-abc",
    institution_id="H0042",
    rule="id_checksum",
    system="his",
    table="his.patient",
    level="critical",
    state="open",
    opened_at_ms=1_794_000_000_000,
    deadline_ms=1_794_086_400_000,
    breach_count=12,
    breach_rate=0.24,
    examples=("rec-secret-1", "rec-secret-2"),
    evidence="",
    updated_at_ms=1_794_000_000_000,
    offenders=("rec-secret-1", "rec-secret-2"),
)
NOTICE = Notice.of(ORDER, "https://hub.example/quality/orders/")


def test_a_notice_carries_scope_counts_deadline_and_link_but_no_record() -> None:
    body, data = NOTICE.body(), NOTICE.as_json()
    for text in ("H0042", "id_checksum", "his / his.patient", "12 (24.0%)", "2026-11-"):
        assert text in body
    assert data["link"] == "https://hub.example/quality/orders/WO-20261110-abc"
    assert data["breach_count"] == 12 and data["event"] == "open"
    assert "rec-secret" not in body + str(data) + NOTICE.subject()


def test_email_reaches_the_smtp_sink() -> None:
    with smtp_sink() as (port, mailbox):
        settings = SmtpSettings(host="127.0.0.1", port=port, to=("a@x.org", "b@x.org"))
        SmtpNotifier(settings).send(NOTICE)
    (message,) = mailbox.messages
    assert mailbox.recipients == [["a@x.org", "b@x.org"]]
    assert "H0042" in message["Subject"] and "WO-20261110-abc" in message["Subject"]
    text = message.get_payload(decode=True).decode("utf-8")
    assert "整改期限 deadline" in text and "12 (24.0%)" in text


def test_a_refused_login_names_the_server_never_the_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STREAMHUB_SMTP_PASSWORD", "hunter2-secret")
    caplog.set_level(logging.DEBUG)
    with smtp_sink() as (port, _):  # the sink offers no AUTH: the login fails
        settings = SmtpSettings(host="127.0.0.1", port=port, to=("a@x.org",), username="hub")
        with pytest.raises(NotifyError) as failed:
            FanOut([SmtpNotifier(settings)]).send(NOTICE)
    everything = str(failed.value) + str(failed.value.__cause__) + caplog.text
    assert "hunter2" not in everything
    assert "smtp failed" in str(failed.value)


def test_the_webhook_posts_json_and_retries_a_failing_receiver() -> None:
    clock = ManualClock()
    with webhook_receiver() as (url, received):
        received.fail_next = 2
        WebhookNotifier(WebhookSettings(url=url, attempts=3), clock=clock).send(NOTICE)
    assert len(received.bodies) == 1 and received.bodies[0]["order_id"] == "WO-20261110-abc"
    assert clock.sleeps == [0.5, 1.0]


def test_the_webhook_gives_up_after_its_attempts() -> None:
    with webhook_receiver() as (url, received):
        received.fail_next = 5
        notifier = WebhookNotifier(WebhookSettings(url=url, attempts=2), clock=ManualClock())
        with pytest.raises(NotifyError, match="not delivered"):
            notifier.send(NOTICE)
    assert received.bodies == []


def test_one_failing_sender_does_not_stop_the_others() -> None:
    with webhook_receiver() as (url, received):
        smtp = SmtpSettings(host="127.0.0.1", port=1, to=("a@x.org",), timeout_s=2)
        fan = from_settings(smtp, WebhookSettings(url=url), clock=ManualClock())
        assert [s.name for s in fan.senders] == ["smtp", "webhook"]
        with pytest.raises(NotifyError, match="smtp failed"):
            fan.send(NOTICE)
    assert len(received.bodies) == 1
    assert from_settings(SmtpSettings(), WebhookSettings()).senders == []
