"""The sender and its providers as a force configures them: email over SMTP, with or without GOV.UK Notify.

Two defects came from the sender reading Notify's error attributes from every failure and assuming every
channel had a provider; these tests failed before the providers had one interface."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue
from rxapp.messaging.scheduled import build_sender
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.victims.models import Victim, VictimContactState

from .test_email_smtp import Collector, free_port

pytestmark = pytest.mark.asyncio
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)  # a Wednesday: no quiet hours, no bank holiday
PHONE, ADDRESS = "+447700900321", "sam.okafor@example.org"


@pytest.fixture
def relay():
    """A real SMTP relay (aiosmtpd) that accepts mail, or refuses recipients with `rcpt_reply`."""
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


@pytest.fixture
def smtp_only(db_url, relay, monkeypatch):
    """Email over SMTP and no GOV.UK Notify key, as the README allows."""
    monkeypatch.delenv("NOTIFY_API_KEY", raising=False)
    monkeypatch.setenv("SMTP_URL", relay.url)
    monkeypatch.setenv("EMAIL_VIA", "smtp")
    monkeypatch.setenv("EMAIL_FROM", "victim-updates@example.org")
    config.reset_settings()
    yield relay
    config.reset_settings()


def victim(db_url, *, phone=PHONE, email=ADDRESS) -> int:
    with session_scope(db_url) as s:
        person = Victim(name="Sam Okafor", phone=phone, email=email, sms_consent=phone is not None)
        s.add(person)
        s.flush()
        return person.id


def queue(db_url, victim_id: int, channel: str | None = None) -> int:
    with session_scope(db_url) as s:
        message = enqueue(s, victim=s.get(Victim, victim_id), template="crime_recorded", kind="routine",
                          personalisation={"crime_reference": "CR/26/000123", "officer": "PC 4127"},
                          channel=channel, now=NOON)
        return message.id


def sender(db_url):
    built = build_sender()
    built.db_url = db_url
    built._now = lambda: NOON
    return built


async def test_a_retryable_smtp_refusal_is_retried_in_seconds_and_keeps_the_reply_code(db_url, smtp_only):
    smtp_only.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable"
    message_id = queue(db_url, victim(db_url, phone=None))
    result = await sender(db_url).run_once()
    assert result.retried == 1
    with session_scope(db_url) as s:
        message = s.get(Message, message_id)
        assert message.status == "retry"
        # Nothing was handed over, so there is nothing to look up: the backoff, not the 60 s stale period.
        assert message.due_at - NOON <= timedelta(seconds=2)
        assert "451" in message.reason
    assert smtp_only.envelopes == []


async def test_without_a_notify_key_a_victim_with_a_phone_is_emailed_at_once(db_url, smtp_only):
    victim_id = victim(db_url)
    queue(db_url, victim_id)
    result = await sender(db_url).drain()
    assert result.sent == 1 and result.retried == 0
    assert [e.rcpt_tos for e in smtp_only.envelopes] == [[ADDRESS]]
    with session_scope(db_url) as s:
        messages = s.exec(select(Message).where(Message.victim_id == victim_id)).all()
        assert [(m.channel, m.status) for m in messages] == [("email", "sent")]
        state = s.get(VictimContactState, victim_id)
        assert not state.phone_failed_permanently


async def test_a_text_queued_before_notify_was_removed_goes_by_email_without_marking_the_phone(db_url, smtp_only):
    victim_id = victim(db_url)
    text_id = queue(db_url, victim_id, channel="sms")
    result = await sender(db_url).drain()
    assert result.retried == 0
    assert [e.rcpt_tos for e in smtp_only.envelopes] == [[ADDRESS]]
    with session_scope(db_url) as s:
        text = s.get(Message, text_id)
        assert text.status == "cancelled" and "no provider" in text.reason
        emails = s.exec(select(Message).where(Message.victim_id == victim_id, Message.channel == "email")).all()
        assert [m.status for m in emails] == ["sent"]
        assert not s.get(VictimContactState, victim_id).phone_failed_permanently
