"""The outbox sender against the real local Notify server (JWT, validation, faults, receipts, received texts)
and the real database: exactly the texts a victim should get, each once, whatever fails."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
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
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_token
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

from .helpers import AppApiServer, parsed, shifted

pytestmark = pytest.mark.asyncio
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLBACK_TOKEN = "callback-token-for-tests-0123456789"


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.05).start()
    yield server
    server.stop()


def sender_for(server, db_url, *, timeout=5.0, clock=None, stale_after=timedelta(seconds=60)):
    client = NotifyClient(DEMO_API_KEY, server.url, timeout=timeout)
    return OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                        email_template_id=DEFAULT_EMAIL_TEMPLATE_ID), now=clock or (lambda: datetime.now(timezone.utc)),
                        stale_after=stale_after)


def texts_to(server, number):
    return [n.body for n in server.sent if n.to.replace(" ", "") in (number, "0" + number[3:]) and n.type == "sms"]


async def test_the_sample_scenarios_send_exactly_the_right_texts(db_url, notify):
    service = AttendanceService(db_url)
    sender = sender_for(notify, db_url)
    now = datetime.now(timezone.utc)
    seq = 0
    for name in ("burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"):
        # Each visit as if it had just happened (so the test means the same at 03:00 as at 15:00), and
        # live: the sender runs between feed events.
        for frame in parsed(shifted([name], end_at=now - timedelta(minutes=1))):
            seq += 1
            service.apply_sync([type(frame)(**{**frame.__dict__, "seq": seq})])
            await sender.drain()
    amina = texts_to(notify, "+447700900123")
    assert len(amina) == 3, amina
    assert "officer has been given your call" in amina[0]
    with session_scope(db_url) as s:
        burglary = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0142")).one()
        assert "/track/" + derive_token(burglary.link_nonce) in amina[0]
    assert "nearly with you" in amina[1] and "CL/26/041877" in amina[2]
    peter = texts_to(notify, "+447700900456")
    assert [("delayed" in t, "given your call" in t) for t in peter][:3] == [(False, True), (True, False), (False, True)]
    assert "CL/26/041902" in peter[-1] and len(peter) == 5
    assert texts_to(notify, "+447700900789") == []  # domestic abuse, crime in progress: nothing at all
    jan = texts_to(notify, "+447700900321")
    assert len(jan) == 1 and "CL/26/041990" in jan[0] and "Twoje" in jan[0]  # in Polish, his language
    with session_scope(db_url) as s:
        domestic = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0203")).one()
        held = s.exec(select(Message).where(Message.incident_id == domestic.id)).all()
        assert held and all(m.status == "blocked" for m in held)
        assert all(m.rule in ("safe_contact_not_confirmed", "crime_in_progress") for m in held)
        assert all(m.reason for m in held)
        refs = [m.reference for m in s.exec(select(Message).where(Message.status == "sent"))]
    assert all(len(notify.find(ref)) == 1 for ref in refs)


def _victims_and_messages(db_url, count: int) -> list[str]:
    refs = []
    with session_scope(db_url) as s:
        for i in range(count):
            v = Victim(name=None, phone=f"+4477009004{i % 100:02d}", sms_consent=True, language="en")
            s.add(v)
            s.flush()
            m = enqueue(s, victim=v, template="attendance_closed_no_crime", kind="service", personalisation={})
            refs.append(m.reference)
    return refs


async def _drain_with_time(sender, clock, rounds=60):
    for _ in range(rounds):
        await sender.drain()
        clock["offset"] += timedelta(minutes=15)  # past any backoff
        with session_scope(sender.db_url) as s:
            if not s.exec(select(Message).where(Message.status.in_(("queued", "retry", "sending", "held")))).first():
                return


async def test_500s_timeouts_and_429s_end_in_every_message_sent_once(db_url, notify):
    refs = _victims_and_messages(db_url, 60)
    clock = {"offset": timedelta(0)}
    sender = sender_for(notify, db_url, timeout=0.3, stale_after=timedelta(seconds=0),
                        clock=lambda: datetime.now(timezone.utc) + clock["offset"])
    notify.fail_rate(0.25, 500)
    notify.fail_next(5, 429)
    notify.delay_next(4, 1.0)            # answers after the client has given up: sent, but we never heard
    notify.accept_then_fail_next(4)      # recorded, then a 500: sent, but it looks like a failure
    await _drain_with_time(sender, clock)
    notify.reset()
    await _drain_with_time(sender, clock)
    with session_scope(db_url) as s:
        statuses = {m.reference: m.status for m in s.exec(select(Message))}
    assert set(statuses.values()) <= {"sent", "delivered"}, statuses
    for ref in refs:
        assert len(notify.find(ref)) == 1, ref


async def test_killed_between_the_answer_and_the_commit_sends_nothing_twice(db_url, notify):
    refs = _victims_and_messages(db_url, 20)
    env = dict(os.environ, DATABASE_URL=db_url, NOTIFY_API_KEY=DEMO_API_KEY, NOTIFY_BASE_URL=notify.url,
               NOTIFY_SMS_TEMPLATE_ID=DEFAULT_SMS_TEMPLATE_ID, NOTIFY_EMAIL_TEMPLATE_ID=DEFAULT_EMAIL_TEMPLATE_ID,
               PYTHONPATH=ROOT)
    crashed = subprocess.run([sys.executable, "-m", "rxapp.messaging.sender", "--once", "--stale-after", "0"], cwd=ROOT,
                             env={**env, "VJ_FAILPOINT": "after_provider_answer"}, capture_output=True, timeout=60)
    assert crashed.returncode == -9  # SIGKILL, between the provider's answer and our commit
    with session_scope(db_url) as s:
        in_flight = s.exec(select(Message).where(Message.status == "sending")).all()
    assert in_flight and len(notify.sent) >= 1
    again = subprocess.run([sys.executable, "-m", "rxapp.messaging.sender", "--once", "--stale-after", "0"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "recovered" in again.stdout
    with session_scope(db_url) as s:
        assert all(m.status == "sent" for m in s.exec(select(Message)))
    for ref in refs:
        assert len(notify.find(ref)) == 1, ref


@pytest.fixture
def callbacks(db_url, monkeypatch, notify):
    monkeypatch.setenv("NOTIFY_CALLBACK_TOKEN", CALLBACK_TOKEN)
    config.reset_settings()
    app = AppApiServer()
    notify.set_callbacks(delivery_url=app.url + "/notify/delivery-receipts",
                         received_text_url=app.url + "/notify/received-texts", token=CALLBACK_TOKEN)
    yield app
    app.stop()


async def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


def _status(db_url, ref):
    with session_scope(db_url) as s:
        return s.exec(select(Message).where(Message.reference == ref)).one().status


async def test_receipts_arrive_and_a_permanent_failure_falls_back(db_url, notify, callbacks):
    with session_scope(db_url) as s:
        ok = Victim(phone="+447700900601", sms_consent=True)
        dead = Victim(phone="+447700900002", email="person@example.org", sms_consent=True)  # Notify's perm-fail
        alone = Victim(phone="+447700900002", sms_consent=True)
        s.add_all([ok, dead, alone])
        s.flush()
        refs = [enqueue(s, victim=v, template="attendance_closed_no_crime", kind="service",
                        personalisation={}).reference for v in (ok, dead, alone)]
        ids = (dead.id, alone.id)
    sender = sender_for(notify, db_url)
    await sender.drain()
    await _wait(lambda: _status(db_url, refs[0]) == "delivered")
    await _wait(lambda: _status(db_url, refs[1]) == "permanent-failure")
    await _wait(lambda: _status(db_url, refs[2]) == "permanent-failure")
    await sender.drain()
    with session_scope(db_url) as s:
        fallback = s.exec(select(Message).where(Message.victim_id == ids[0], Message.channel == "email")).one()
        assert fallback.status == "sent"
        assert s.get(VictimContactState, ids[0]).phone_failed_permanently
        task = s.exec(select(Task).where(Task.victim_id == ids[1])).one()
        assert task.kind == "delivery_failed"
    assert any(n.to == "person@example.org" for n in notify.sent)


async def test_stop_by_text_opts_out_within_one_cycle_and_is_confirmed(db_url, notify, callbacks):
    service = AttendanceService(db_url)
    now = datetime.now(timezone.utc)
    lines = shifted(["burglary-priority"], end_at=now + timedelta(hours=1))  # live: the officer is on the way
    service.apply_sync(parsed(lines[:3]))
    sender = sender_for(notify, db_url)
    await sender.drain()
    assert len(texts_to(notify, "+447700900123")) == 1
    notify.inject_received_text("07700900123", "Stop")
    await _wait(lambda: any(m.template == "opt_out_confirmation" for m in _messages(db_url)))
    await sender.run_once()  # one sender cycle
    texts = texts_to(notify, "+447700900123")
    assert len(texts) == 2 and "not get any more automated texts" in texts[1]
    service.apply_sync(parsed(lines[3:]))  # the rest of the visit: nothing more goes out
    await sender.drain()
    assert len(texts_to(notify, "+447700900123")) == 2
    with session_scope(db_url) as s:
        later = s.exec(select(Message).where(Message.template == "attendance_closed")).one()
        assert later.status in ("blocked", "cancelled") and later.rule in ("opted_out", None)


async def test_a_reply_to_an_attendance_text_reaches_a_person(db_url, notify, callbacks):
    service = AttendanceService(db_url)
    lines = shifted(["diverted"], end_at=datetime.now(timezone.utc) + timedelta(hours=1))
    service.apply_sync(parsed(lines[:3]))
    notify.inject_received_text("07700900456", "Is someone still coming? I have to go out at 4")
    await _wait(lambda: _tasks(db_url))
    with session_scope(db_url) as s:
        task = s.exec(select(Task)).one()
        incident = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0188")).one()
        assert task.kind == "reply_received" and task.incident_id == incident.id and "go out at 4" in task.detail


async def test_callbacks_refuse_a_wrong_token(db_url, callbacks):
    import httpx

    async with httpx.AsyncClient() as client:
        for path in ("/notify/delivery-receipts", "/notify/received-texts"):
            r = await client.post(callbacks.url + path, json={"status": "delivered", "reference": "x"},
                                  headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401
        r = await client.post(callbacks.url + "/notify/delivery-receipts", content=b"{not json",
                              headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"})
        assert r.status_code == 400 and "JSON" in r.json()["error"]


def _messages(db_url):
    with session_scope(db_url) as s:
        return s.exec(select(Message)).all()


def _tasks(db_url):
    with session_scope(db_url) as s:
        return s.exec(select(Task)).all()


async def test_a_pass_reads_the_safety_facts_in_a_few_queries_whatever_the_number_of_messages(db_url, notify):
    """The claim reads its messages' victims, contact states, incidents, holds and recent texts for the whole
    pass at once, and the answers are stored by reading their rows together: the statements a pass runs
    (other than each message's own update and history row) do not grow with the messages it carries."""
    import sqlalchemy as sa

    from rxapp.plumbing.db import engine

    def queue(count: int) -> None:
        with session_scope(db_url) as s:
            for i in range(count):
                victim = Victim(phone=f"+4477009005{i:02d}", sms_consent=True, language="en")
                s.add(victim)
                s.flush()
                enqueue(s, victim=victim, template="attendance_closed_no_crime", kind="service", personalisation={})

    async def selects_for_a_pass(count: int) -> int:
        queue(count)
        sender = sender_for(notify, db_url)
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            seen.append(statement)

        sa.event.listen(engine(db_url), "before_cursor_execute", record)
        try:
            result = await sender.run_once()
        finally:
            sa.event.remove(engine(db_url), "before_cursor_execute", record)
        assert result.sent == count
        return sum(1 for statement in seen if statement.lstrip().upper().startswith("SELECT"))

    few, many = await selects_for_a_pass(3), await selects_for_a_pass(40)
    assert many == few, (few, many)
    assert len([n for n in notify.sent if n.type == "sms"]) == 43
