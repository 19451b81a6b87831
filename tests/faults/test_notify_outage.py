"""GOV.UK Notify failing for ten minutes (every request answered 500, sends and look-ups alike) while the feed
brings a night's attendances: nothing is lost, nothing is sent twice, and every message still worth sending
goes after Notify recovers; the final state equals a run with Notify up throughout.

The ten minutes run on the sender's own clock (`OutboxSender(now=...)`, the product's injectable clock): each
pass moves it on 5 s, so the outage takes 120 passes and the test a few seconds, and the sender's backoff (2 s
doubling to 10 minutes, with jitter) runs on that clock as it would in service."""
from __future__ import annotations

import json
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
from integrations.storm.protocol import parse_frame
from rxapp.attendance.service import AttendanceService
from rxapp.messaging.models import Message, MessageEvent
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import db
from rxapp.plumbing.db import session_scope

from . import harness

pytestmark = [pytest.mark.faults, pytest.mark.asyncio]
OUTAGE = timedelta(minutes=10)
TICK = timedelta(seconds=5)  # the sender's clock between passes (it runs every second in service)
CHUNK = 150  # frames applied between passes


def frames_closed(frames) -> list[dict]:
    return [f for f in frames if f["type"] == "incident.closed"]


async def _run(frames, db_url: str, *, outage: bool) -> tuple[dict, NotifyServer, dict]:
    server = NotifyServer(receipt_delay=3600).start()
    clock = {"now": datetime.now(timezone.utc)}
    started = clock["now"]
    client = NotifyClient(DEMO_API_KEY, server.url, timeout=2.0)
    sender = OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                                                             email_template_id=DEFAULT_EMAIL_TEMPLATE_ID),
                          now=lambda: clock["now"])
    service = AttendanceService(db_url)
    seen = {"passes": 0, "refused": 0, "started": started}
    try:
        if outage:
            server.fail_rate(1.0, 500, scope="all")
        pending = [json.dumps(f) for f in frames]
        while True:
            if pending:
                chunk, pending = pending[:CHUNK], pending[CHUNK:]
                service.apply_sync([parse_frame(text, received_at=datetime.now(timezone.utc)) for text in chunk])
            result = await sender.run_once()
            seen["passes"] += 1
            seen["refused"] += result.retried
            clock["now"] += TICK
            if outage and clock["now"] - started >= OUTAGE:
                server.reset()
                outage = False
                seen["recovered_after_passes"] = seen["passes"]
            if not pending and not outage and harness.outbox_settled(db_url):
                break
            assert seen["passes"] < 2000, "the outbox never settled"
        return harness.final_state(db_url), server, seen
    finally:
        await sender.aclose()
        server.stop()


async def test_notify_failing_for_ten_minutes_loses_nothing_doubles_nothing_and_sends_after(frames, db_url, tmp_path):
    calm_url = f"sqlite:///{tmp_path / 'calm.db'}"
    db.migrate(calm_url)
    calm, calm_server, _ = await _run(frames, calm_url, outage=False)

    stormy, server, seen = await _run(frames, db_url, outage=True)
    assert seen["refused"] > 0 and seen["recovered_after_passes"] == OUTAGE / TICK
    assert stormy == calm, harness.difference(calm, stormy)
    with session_scope(db_url) as s:
        messages = s.exec(select(Message)).all()
        sent = [m for m in messages if m.status in ("sent", "delivered")]
        retried = {e.message_id for e in s.exec(select(MessageEvent).where(MessageEvent.status == "retry"))}
        assert not [m for m in messages if m.status == "failed"]
        cancelled = [m for m in messages if m.status == "cancelled"]
        # A text cancelled rather than sent late had been overtaken by the visit itself (the product's rule,
        # `checks.SendFacts.no_longer_relevant`: "an officer has your call" once the officer has been and gone); the
        # closing text, still worth sending, went to every caller.
        assert all(m.reason.startswith("no longer relevant") for m in cancelled), {m.reason for m in cancelled}
        closing = [m for m in messages if m.template == "attendance_closed_no_crime"]
        assert len(closing) == len(frames_closed(frames)) and all(m in sent for m in closing)
    # Every message that went, went once; those that waited out the outage went after it.
    for message in sent:
        assert len(server.find(message.reference)) == 1, message.reference
    # Written during the outage (the feed's 4,650 frames take 31 passes, 155 s on the sender's clock), sent after.
    assert sent and all(m.sent_at >= seen["started"] + OUTAGE for m in sent)
    went_calm = sum(1 for n in calm_server.sent)
    print(f"outage: {len(sent)} sent after it ({len(retried)} had been refused), {len(cancelled)} overtaken; "
          f"Notify up throughout: {went_calm} sent")
