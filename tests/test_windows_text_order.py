"""The text carrying the private link reaches the victim before any later attendance text, even when the provider
fails it once: the real outbox, the real sender and the local Notify-compatible server failing one send."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    NotifyServer,
)
from rxapp.messaging.models import Message
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_token

from .test_windows import S, Stream

pytestmark = pytest.mark.asyncio
NUMBER = "+447700900321"


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.05).start()
    yield server
    server.stop()


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def sender_for(server, db_url, clock) -> OutboxSender:
    client = NotifyClient(DEMO_API_KEY, server.url, timeout=5.0)
    return OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                        email_template_id=DEFAULT_EMAIL_TEMPLATE_ID), now=clock)


def texts_to(server) -> list[str]:
    return [n.body for n in server.sent if n.type == "sms" and n.to.replace(" ", "") in (NUMBER, "0" + NUMBER[3:])]


def statuses(db_url) -> dict[str, str]:
    with session_scope(db_url) as s:
        return {m.template: m.status for m in s.exec(select(Message).order_by(Message.id))}


async def test_arriving_soon_waits_for_the_link_text_that_the_provider_failed_once(db_url, notify):
    # Now, so the quiet-hours and freshness rules mean the same at any hour the test runs.
    start = datetime.now(timezone.utc).replace(microsecond=0) + 2 * S  # the outbox dates its rows by the wall clock
    clock = Clock(start)
    sender = sender_for(notify, db_url, clock)
    feed = Stream(db_url)
    feed.clock = start
    urn = "CLE-20261120-7101"
    feed.opened(urn, start - 120 * S)
    feed.on_the_way(urn, "CA1", start - 60 * S)  # the link text is queued
    notify.fail_next(1, 500)
    first = await sender.run_once()
    assert first.retried == 1 and texts_to(notify) == []
    feed.fix("CA1", 600.0, start)  # two minutes away: "arriving soon" is queued while the link text waits
    assert list(statuses(db_url)) == ["officer_assigned", "officer_arriving_soon"]

    # Before: this pass sent "arriving soon" at once, ahead of the link text it refers to.
    clock.at = start + 5 * S
    await sender.run_once()
    assert texts_to(notify) == []
    assert statuses(db_url) == {"officer_assigned": "retry", "officer_arriving_soon": "queued"}

    clock.at = start + 10 * timedelta(minutes=1)  # the retry is due (after a look-up at the provider)
    await sender.drain()
    sent = texts_to(notify)
    assert len(sent) == 2, sent
    incident = feed.incident(urn)
    assert "/track/" + derive_token(incident.link_nonce) in sent[0]  # the link first
    assert "nearly with you" in sent[1]
    assert statuses(db_url) == {"officer_assigned": "sent", "officer_arriving_soon": "sent"}


async def test_a_link_text_that_failed_for_good_holds_nothing_back_for_ever(db_url, notify):
    start = datetime.now(timezone.utc).replace(microsecond=0) + 2 * S  # the outbox dates its rows by the wall clock
    clock = Clock(start)
    sender = sender_for(notify, db_url, clock)
    feed = Stream(db_url)
    feed.clock = start
    urn = "CLE-20261120-7102"
    feed.opened(urn, start - 120 * S)
    feed.on_the_way(urn, "CA1", start - 60 * S)
    feed.fix("CA1", 600.0, start)
    notify.fail_next(1, 400)  # refused: it will never go
    await sender.drain()
    result = statuses(db_url)
    # The later text is no longer held back by it: the safety rules decide it (here, the number was refused).
    assert result == {"officer_assigned": "failed", "officer_arriving_soon": "blocked"}
    assert texts_to(notify) == []


async def test_texts_about_other_incidents_or_to_other_people_do_not_wait(db_url, notify):
    start = datetime.now(timezone.utc).replace(microsecond=0) + 2 * S  # the outbox dates its rows by the wall clock
    clock = Clock(start)
    sender = sender_for(notify, db_url, clock)
    feed = Stream(db_url)
    feed.clock = start
    feed.opened("CLE-20261120-7103", start - 120 * S)
    feed.on_the_way("CLE-20261120-7103", "CA1", start - 60 * S)
    notify.fail_next(1, 500)
    await sender.run_once()
    feed.opened("CLE-20261120-7104", start - 30 * S)
    feed.on_the_way("CLE-20261120-7104", "CB2", start - 20 * S)
    clock.at = start + 5 * S
    result = await sender.run_once()
    assert result.sent == 1  # the other incident's link text goes while the first one waits for its retry
    with session_scope(db_url) as s:
        rows = [(m.incident_id, m.status) for m in s.exec(select(Message).order_by(Message.id))]
    assert [status for _, status in rows] == ["retry", "sent"]
