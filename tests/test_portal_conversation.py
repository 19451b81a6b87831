"""The portal's conversation on the real database: a victim's message stored as written with the automatic
answer and ONE task for the officer in charge; limits; "ask for an update" with its deadline; the officer's reply
(only on a case they may act on) closing the tasks and announcing itself without its content; a text reply
joining the conversation; and the live notices after commit."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from rxapp.audit.models import AuditEvent
from rxapp.domain import conversation as rules
from rxapp.domain.notifications import ReceivedText
from rxapp.messaging.models import InboundText, Message
from rxapp.messaging.outbox import personalisation_for_send
from rxapp.messaging.replies import record_inbound
from rxapp.plumbing import links
from rxapp.plumbing.db import session_scope
from rxapp.portal import live
from rxapp.portal.conversation import (
    ask_for_update,
    conversation,
    officer_reply,
    send_from_victim,
    staff_conversation,
)
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.portal.models import PortalMessage, PortalSession
from rxapp.tasks.models import Task

from .portal_cases import AT, OFFICER, OTHER_OFFICER, invite_of, record_case, sign_in, touch

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def end_of(y, m, d):
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=LONDON).astimezone(UTC)


def portal_tasks(db_url, who):
    with session_scope(db_url) as s:
        return list(s.exec(select(Task).where(Task.victim_id == who.victim_id,
                                              Task.kind.in_(["portal_message", "update_requested",
                                                             "reply_received"])).order_by(Task.id)))


@pytest.fixture
def victim(db_url):
    record_case(db_url)
    return sign_in(db_url)


# ---- rules (pure) -------------------------------------------------------------------------------------------

def test_message_rules():
    assert rules.message_refusal("") == "empty" and rules.message_refusal(" \n\t ") == "empty"
    assert rules.message_refusal(None) == "empty"
    assert rules.message_refusal("x" * 2000) is None
    assert rules.message_refusal("  " + "x" * 2000 + "\n") is None  # the surrounding whitespace is not counted
    assert rules.message_refusal("x" * 2001) == "too_long"
    assert rules.message_refusal("é" * 2000) is None  # characters, not bytes
    started = time.perf_counter()
    assert rules.message_refusal(" " * 5_000_000) == "too_long"  # looked at no further
    assert time.perf_counter() - started < 0.05
    assert rules.clean_message("  <b>hi</b>\n\n  there \n") == "<b>hi</b>\n\n  there"
    assert rules.too_many(20, 20) and not rules.too_many(19, 20)


def test_reply_and_update_deadlines_use_the_codes_working_days():
    from rxapp.investigation.duties import code

    cal = code().calendar()
    thursday = datetime(2026, 4, 2, 15, 0, tzinfo=UTC)  # the Thursday before Good Friday
    # Two working days: Good Friday and Easter Monday are not working days, so Tuesday is the first.
    assert rules.reply_expected_by(thursday, 2, cal) == end_of(2026, 4, 8)
    assert rules.update_request_due(code(), thursday, False, 2, cal) == end_of(2026, 4, 8)
    assert rules.update_request_due(code(), thursday, True, 2, cal) == end_of(2026, 4, 7)  # 1 working day
    assert rules.update_request_due(code(), thursday, True, 2, cal) < rules.update_request_due(
        code(), datetime(2026, 4, 8, 9, 0, tzinfo=UTC), False, 2, cal)


# ---- the victim writes --------------------------------------------------------------------------------------

def test_a_message_is_stored_as_written_with_an_automatic_answer_and_one_task(db_url, victim):
    body = "  <script>alert('x')</script> & <b>bold</b>\n\nSecond line  \n"
    with session_scope(db_url) as s:
        sent = send_from_victim(s, victim, body, AT)
    assert sent["author"] == "victim" and sent["body"] == body.strip() and sent["via"] == "portal"
    assert sent["when"] == "Mon 30 Mar, 13:05"  # London (BST)
    auto = sent["auto"]
    assert auto["author"] == "auto" and "Wednesday 1 April" in auto["body"] and "999" in auto["body"]
    (task,) = portal_tasks(db_url, victim)
    assert task.kind == "portal_message" and task.assignee == "PC 1234" and task.status == "open"
    assert task.due_at == end_of(2026, 4, 1) and task.escalate_at == task.due_at
    assert "<script>" not in task.detail and "1 message waiting" in task.detail
    # More messages the next day: still one task, due by the first promise; the answer keeps that promise.
    later = AT + timedelta(minutes=20)
    touch(db_url, victim, later)
    with session_scope(db_url) as s:
        again = send_from_victim(s, victim, "Another thing", later)
    assert "Wednesday 1 April" in again["auto"]["body"]
    (task,) = portal_tasks(db_url, victim)
    assert "2 messages waiting" in task.detail
    with session_scope(db_url) as s:
        stored = s.exec(select(PortalMessage).where(PortalMessage.author == "victim")
                        .order_by(PortalMessage.id)).first()
        assert stored.body == body.strip() and stored.task_id == task.id
        items = conversation(s, victim, later)
    assert [i["author"] for i in items] == ["victim", "auto", "victim", "auto"]


@pytest.mark.parametrize("text, key", [("", "empty"), ("   \n ", "empty"), ("x" * 2001, "too_long"),
                                       ("x" * 1_048_576, "too_long")])
def test_empty_and_oversized_messages_are_refused_and_store_nothing(db_url, victim, text, key):
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            send_from_victim(s, victim, text, AT)
    assert refused.value.key == key
    with session_scope(db_url) as s:
        assert s.exec(select(PortalMessage)).all() == []
    assert portal_tasks(db_url, victim) == []


def test_a_flood_of_messages_is_refused_past_the_hourly_limit(db_url, victim):
    for n in range(20):
        with session_scope(db_url) as s:
            send_from_victim(s, victim, f"message {n}", AT + timedelta(seconds=n))
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            send_from_victim(s, victim, "one more", AT + timedelta(minutes=5))
    assert refused.value.key == "too_many"
    assert len(portal_tasks(db_url, victim)) == 1  # twenty messages, one task
    later = AT + timedelta(hours=1, minutes=1)
    touch(db_url, victim, later)
    with session_scope(db_url) as s:
        send_from_victim(s, victim, "an hour later", later)


def test_a_session_that_ended_or_is_not_this_case_is_refused_the_same_way(db_url, victim):
    record_case(db_url, number="26CL0090002", person="P-T2", mobile="07700900556", prefix="u")
    other = sign_in(db_url, number="26CL0090002")
    forged = [
        VictimIdentity(other.case_victim_id, victim.victim_id, victim.occurrence_id, victim.session_hash),
        VictimIdentity(victim.case_victim_id, victim.victim_id, victim.occurrence_id, other.session_hash),
        VictimIdentity(victim.case_victim_id, other.victim_id, victim.occurrence_id, victim.session_hash),
        VictimIdentity(999_999, victim.victim_id, victim.occurrence_id, victim.session_hash),
        VictimIdentity(victim.case_victim_id, victim.victim_id, victim.occurrence_id, "0" * 64),
    ]
    for who in forged:
        for act in (lambda s: send_from_victim(s, who, "hello", AT), lambda s: ask_for_update(s, who, AT),
                    lambda s: conversation(s, who, AT)):
            with session_scope(db_url) as s:
                with pytest.raises(PortalRefusal) as refused:
                    act(s)
            assert refused.value.key == "not_allowed"
    # Idle past the limit, then ended: refused too.
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal):
            conversation(s, victim, AT + timedelta(minutes=31))
        s.get(PortalSession, victim.session_hash).ended_at = AT
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal):
            send_from_victim(s, victim, "hello", AT)
        assert s.exec(select(PortalMessage)).all() == []


# ---- ask for an update --------------------------------------------------------------------------------------

def test_ask_for_an_update_opens_a_task_with_a_deadline_once(db_url, victim):
    with session_scope(db_url) as s:
        asked = ask_for_update(s, victim, AT)
    assert asked["author"] == "victim" and asked["body"] == "I would like an update on my case."
    assert "Wednesday 1 April" in asked["auto"]["body"]
    (task,) = portal_tasks(db_url, victim)
    assert task.kind == "update_requested" and task.title == "Victim asked for an update"
    assert task.due_at == end_of(2026, 4, 1) and task.assignee == "PC 1234"
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            ask_for_update(s, victim, AT + timedelta(minutes=1))
    assert refused.value.key == "already_asked"
    assert len(portal_tasks(db_url, victim)) == 1


def test_an_enhanced_victim_gets_the_update_sooner(db_url):
    record_case(db_url, enhanced=True)
    who = sign_in(db_url)
    with session_scope(db_url) as s:
        asked = ask_for_update(s, who, AT)
    (task,) = portal_tasks(db_url, who)
    assert task.due_at == end_of(2026, 3, 31)  # the Code's enhanced deadline: 1 working day
    assert "Tuesday 31 March" in asked["auto"]["body"]


def test_the_automatic_answer_is_in_the_victims_language(db_url):
    record_case(db_url, language="pl")
    who = sign_in(db_url)
    with session_scope(db_url) as s:
        sent = send_from_victim(s, who, "Dzień dobry", AT)
    assert "środa 1 kwietnia" in sent["auto"]["body"] and "999" in sent["auto"]["body"]
    assert sent["auto"]["label"] == "Automatyczna odpowiedź" and sent["label"] == "Ty"


# ---- the officer replies ------------------------------------------------------------------------------------

def test_the_officer_in_charge_replies_and_the_victim_is_told_without_the_content(db_url, victim):
    with session_scope(db_url) as s:
        send_from_victim(s, victim, "Any news?", AT)
        ask_for_update(s, victim, AT)
    reply_at = AT + timedelta(hours=2)
    with session_scope(db_url) as s:
        replied = officer_reply(s, OFFICER, victim.case_victim_id, "  We have a suspect <i>in custody</i>.  ",
                                reply_at)
    assert replied["author"] == "officer" and replied["label"] == "PC 1234"
    assert replied["body"] == "We have a suspect <i>in custody</i>."
    assert "Test Officer" not in json.dumps(replied)
    tasks = portal_tasks(db_url, victim)
    assert [(t.kind, t.status, t.how_told) for t in tasks] == [("portal_message", "done", "portal"),
                                                               ("update_requested", "done", "portal")]
    assert all(t.escalate_at is None and t.completed_by == "PC 1234 Test Officer" for t in tasks)
    invite = invite_of(db_url, victim)
    with session_scope(db_url) as s:
        (announce,) = s.exec(select(Message).where(Message.template == "portal_reply_waiting")).all()
        assert announce.kind == "routine" and announce.channel == "sms" and announce.occurrence_id == victim.occurrence_id
        assert "suspect" not in announce.body and "suspect" not in announce.personalisation
        # The link is not stored: a stand-in for the invitation, replaced by the link only when it is sent.
        assert json.loads(announce.personalisation)["link"] == f"@portal-link:{invite.id}"
        assert personalisation_for_send(s, announce)["link"] == links.portal_url(
            links.derive_portal_token(invite.link_nonce))
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "reply_to_victim",
                                               AuditEvent.outcome == "allowed")).one()
        rows = staff_conversation(s, victim.case_victim_id)
        assert [r["unread"] for r in rows if r["author"] == "victim"] == ["", ""]
    touch(db_url, victim, reply_at)
    with session_scope(db_url) as s:
        items = conversation(s, victim, reply_at)
        assert items[-1]["author"] == "officer" and items[-1]["label"] == "PC 1234"
        officer_message = s.exec(select(PortalMessage).where(PortalMessage.author == "officer")).one()
        assert officer_message.read_by_victim_at == reply_at


def test_only_staff_who_may_act_on_the_case_can_reply(db_url, victim):
    with session_scope(db_url) as s:
        send_from_victim(s, victim, "Hello", AT)
    for actor, case_victim_id in ((OTHER_OFFICER, victim.case_victim_id), (OFFICER, 999_999), (OFFICER, "x"),
                                  (OTHER_OFFICER, 999_999)):
        with session_scope(db_url) as s:
            with pytest.raises(PortalRefusal) as refused:
                officer_reply(s, actor, case_victim_id, "hi", AT)
        assert refused.value.key == "not_allowed"
    with session_scope(db_url) as s:
        assert s.exec(select(PortalMessage).where(PortalMessage.author == "officer")).all() == []
        assert s.exec(select(Message).where(Message.template == "portal_reply_waiting")).all() == []
    assert portal_tasks(db_url, victim)[0].status == "open"
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            officer_reply(s, OFFICER, victim.case_victim_id, "x" * 2001, AT)
    assert refused.value.key == "too_long"


# ---- a text reply joins the conversation --------------------------------------------------------------------

def test_a_text_reply_joins_the_conversation_and_its_one_task(db_url, victim):
    with session_scope(db_url) as s:
        send_from_victim(s, victim, "From the portal", AT)
    with session_scope(db_url) as s:
        inbound = record_inbound(s, ReceivedText("prov-1", "+447700900555", "Is there any news?"), now=AT)
        inbound_id = inbound.id
    tasks = portal_tasks(db_url, victim)
    assert [t.kind for t in tasks] == ["portal_message"]  # one task, not a reply task as well
    with session_scope(db_url) as s:
        assert s.get(InboundText, inbound_id).task_id == tasks[0].id
        joined = s.exec(select(PortalMessage).where(PortalMessage.via == "sms")).one()
        assert joined.body == "Is there any news?" and joined.inbound_text_id == inbound_id
    # STOP is unchanged: an opt-out, not a message.
    with session_scope(db_url) as s:
        stop = record_inbound(s, ReceivedText("prov-2", "+447700900555", "STOP"), now=AT)
        assert stop.handled_as == "stop"
        assert s.exec(select(PortalMessage).where(PortalMessage.body == "STOP")).all() == []


def test_a_text_from_a_number_with_no_open_case_is_still_a_reply_task(db_url):
    with session_scope(db_url) as s:
        inbound = record_inbound(s, ReceivedText("prov-9", "+447700900999", "hello?"), now=AT)
        assert inbound.handled_as == "reply" and inbound.task_id is not None
        assert s.exec(select(PortalMessage)).all() == []


# ---- live notices -------------------------------------------------------------------------------------------

def test_live_notices_go_after_commit_only(db_url, victim):
    before = live.version(victim.case_victim_id)
    with session_scope(db_url) as s:
        send_from_victim(s, victim, "hello", AT)
        assert live.version(victim.case_victim_id) == before  # not yet committed
    assert live.version(victim.case_victim_id) == before + 1
    with pytest.raises(RuntimeError):
        with session_scope(db_url) as s:
            send_from_victim(s, victim, "rolled back", AT)
            raise RuntimeError("the transaction fails")
    assert live.version(victim.case_victim_id) == before + 1
    with session_scope(db_url) as s:
        assert len(s.exec(select(PortalMessage).where(PortalMessage.author == "victim")).all()) == 1


@pytest.mark.asyncio
async def test_a_waiting_page_wakes_when_a_thread_changes_its_case():
    assert await live.wait_for_change(4242, 0.05) is False
    started = time.perf_counter()
    waiter = asyncio.create_task(live.wait_for_change(4242, 5))
    await asyncio.sleep(0.01)
    threading.Thread(target=live.changed, args=(4242,)).start()
    assert await waiter is True
    assert time.perf_counter() - started < 1
    # Another case's change does not wake it; a change since the version read is not missed.
    assert await asyncio.gather(live.wait_for_change(4243, 0.05),
                                asyncio.to_thread(live.changed, 4242)) == [False, None]
    seen = live.version(4242)
    live.changed(4242)
    assert await live.wait_for_change(4242, 5, since=seen) is True
    assert live._waiters == {}


def test_the_staff_case_page_sees_the_portal_only_on_a_case_it_may_read(db_url, victim, monkeypatch):
    from rxapp.investigation import portal_side as staff_side
    from rxapp.plumbing import config, db

    with session_scope(db_url) as s:
        send_from_victim(s, victim, "Hello <i>there</i>", AT)
    with session_scope(db_url) as s:
        assert staff_side.portal_side(s, OTHER_OFFICER, "26CL0090001", AT) is None
        assert staff_side.portal_side(s, OFFICER, "26CL0000000", AT) is None
        seen = staff_side.portal_side(s, OFFICER, "26CL0090001", AT)
    assert seen["can_reply"] is True and [v["invited"] for v in seen["portal_victims"]] == ["yes"]
    assert [(m["author"], m["body"], m["unread"]) for m in seen["portal_messages"]][0] == (
        "victim", "Hello <i>there</i>", "yes")
    # The wrappers the page calls commit a refusal's audit entry, and raise it.
    monkeypatch.setenv("DATABASE_URL", db_url)
    config.reset_settings()
    db.dispose_all()
    with pytest.raises(PortalRefusal):
        staff_side.reply(OTHER_OFFICER, str(victim.case_victim_id), "hi")
    with pytest.raises(PortalRefusal):
        staff_side.revoke(OTHER_OFFICER, "not a number")
    with session_scope(db_url) as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.outcome == "refused")).all()
        assert {e.action for e in refused} >= {"reply_to_victim", "portal_revoke"}
        assert s.exec(select(PortalMessage).where(PortalMessage.author == "officer")).all() == []
    staff_side.reply(OFFICER, victim.case_victim_id, "Hello from PC 1234")
    with session_scope(db_url) as s:
        assert s.exec(select(PortalMessage).where(PortalMessage.author == "officer")).one().body == "Hello from PC 1234"
