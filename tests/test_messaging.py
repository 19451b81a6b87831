"""The messaging service against the real database: what the feed queues, receipts, fallbacks, STOP and
replies. (Sending itself is tested against the local Notify server in test_outbox_sender.py.)"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import select

from integrations.govuk_notify.callbacks import parse_delivery_receipt, parse_received_text
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.domain.contact import is_stop
from rxapp.messaging.models import InboundText, Message
from rxapp.messaging.outbox import enqueue
from rxapp.messaging.receipts import record_receipt
from rxapp.messaging.replies import record_inbound
from rxapp.plumbing.db import session_scope
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

from .helpers import parsed, renumbered, scenario_lines

ALL = ["burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"]


def _queued(db_url, urn):
    with session_scope(db_url) as s:
        inc = s.exec(select(Incident).where(Incident.urn == urn)).one()
        return [m.template for m in s.exec(select(Message).where(Message.incident_id == inc.id).order_by(Message.id))]


def test_the_feed_queues_the_attendance_texts_once(db_url):
    service = AttendanceService(db_url)
    lines = renumbered(ALL)
    service.apply_sync(parsed(lines))
    service.apply_sync(parsed(lines))  # a replay queues nothing more
    assert _queued(db_url, "CLE-20261120-0142") == ["officer_assigned", "officer_arriving_soon", "attendance_closed"]
    assert _queued(db_url, "CLE-20261120-0188") == [
        "officer_assigned", "attendance_delayed_no_window", "officer_assigned", "officer_arriving_soon",
        "attendance_closed"]
    assert _queued(db_url, "CLE-20261120-0230") == ["attendance_closed"]
    with session_scope(db_url) as s:
        polish = s.exec(select(Message).where(Message.language == "pl")).one()
        assert "CL/26/041990" in polish.body and "Twoje" in polish.body
        for m in s.exec(select(Message)):
            assert m.reference.startswith("vj-") and len(m.reference) == 35
            assert "07700" not in m.reference and "/track/" not in m.body  # the link is added only when sending
            assert "[private link]" in m.body or m.template in ("officer_arriving_soon", "attendance_closed",
                                                                 "attendance_closed_no_crime")


def _victim(db_url, **kw) -> int:
    with session_scope(db_url) as s:
        v = Victim(name="Test Person", phone=kw.get("phone", "+447700900555"), email=kw.get("email"),
                   sms_consent=True, language="en")
        s.add(v)
        s.flush()
        return v.id


def _message(db_url, victim_id, template="attendance_closed_no_crime") -> str:
    with session_scope(db_url) as s:
        m = enqueue(s, victim=s.get(Victim, victim_id), template=template, kind="attendance", personalisation={})
        m.status = "sent"
        return m.reference


def test_receipts_record_delivery_and_repeat_safely(db_url):
    ref = _message(db_url, _victim(db_url))
    with session_scope(db_url) as s:
        record_receipt(s, parse_delivery_receipt({"reference": ref, "status": "delivered", "id": "n-1"}))
    with session_scope(db_url) as s:
        record_receipt(s, parse_delivery_receipt({"reference": ref, "status": "temporary-failure", "id": "n-1"}))  # late, out of order
        m = s.exec(select(Message).where(Message.reference == ref)).one()
        assert m.status == "delivered" and m.delivered_at is not None


def test_temporary_failure_is_retried_later(db_url):
    ref = _message(db_url, _victim(db_url))
    with session_scope(db_url) as s:
        s.exec(select(Message).where(Message.reference == ref)).one().attempts = 1
    with session_scope(db_url) as s:
        m = record_receipt(s, parse_delivery_receipt({"reference": ref, "status": "temporary-failure"}))
        assert m.status == "retry" and m.due_at > datetime.now(timezone.utc)


def test_permanent_failure_falls_back_to_email(db_url):
    victim_id = _victim(db_url, email="person@example.org")
    ref = _message(db_url, victim_id)
    with session_scope(db_url) as s:
        record_receipt(s, parse_delivery_receipt({"reference": ref, "status": "permanent-failure"}))
    with session_scope(db_url) as s:
        msgs = s.exec(select(Message).where(Message.victim_id == victim_id).order_by(Message.id)).all()
        assert [(m.channel, m.status) for m in msgs] == [("sms", "permanent-failure"), ("email", "queued")]
        assert s.get(VictimContactState, victim_id).phone_failed_permanently


def test_permanent_failure_without_another_channel_makes_a_task(db_url):
    victim_id = _victim(db_url)
    ref = _message(db_url, victim_id)
    with session_scope(db_url) as s:
        record_receipt(s, parse_delivery_receipt({"reference": ref, "status": "permanent-failure"}))
    with session_scope(db_url) as s:
        task = s.exec(select(Task)).one()
        assert task.kind == "delivery_failed" and task.status == "open" and task.due_at is not None


def test_bad_receipts_get_clear_errors(db_url):
    import pytest

    from integrations.govuk_notify.callbacks import BadCallback

    with session_scope(db_url) as s:
        for body, text in (([], "JSON object"), ({"status": "lost"}, "status must be"),
                           ({"status": "delivered"}, "reference or id")):
            with pytest.raises(BadCallback, match=text):
                record_receipt(s, parse_delivery_receipt(body))
        with pytest.raises(LookupError):
            record_receipt(s, parse_delivery_receipt({"status": "delivered", "reference": "vj-unknown"}))


def test_stop_variants():
    for text in ("STOP", "stop", " Stop. ", "STOP ALL", "stopall", "Unsubscribe", "stop texts please"):
        assert is_stop(text), text
    for text in ("Please don't stop the officer coming", "when will they arrive?", "", "stopping by later?"):
        assert not is_stop(text), text


def test_stop_opts_out_at_once_and_queues_a_confirmation(db_url):
    service = AttendanceService(db_url)
    service.apply_sync(parsed(scenario_lines("burglary-priority")[:2]))
    with session_scope(db_url) as s:
        record_inbound(s, parse_received_text({"id": "in-1", "source_number": "07700900123", "message": "Stop",
                           "destination_number": "07700900000", "date_received": "2026-11-20T09:40:00Z"}))
    with session_scope(db_url) as s:
        victim = s.exec(select(Victim).where(Victim.phone == "+447700900123")).one()
        assert s.get(VictimContactState, victim.id).opted_out_all
        confirmation = s.exec(select(Message).where(Message.template == "opt_out_confirmation")).one()
        assert confirmation.kind == "service" and confirmation.channel == "sms"
        assert s.exec(select(InboundText)).one().handled_as == "stop"
        assert s.exec(select(Task).where(Task.kind == "opted_out")).one()
    with session_scope(db_url) as s:  # the same callback again changes nothing
        record_inbound(s, parse_received_text({"id": "in-1", "source_number": "07700900123", "message": "Stop"}))
        assert len(s.exec(select(Message).where(Message.template == "opt_out_confirmation")).all()) == 1


def test_any_other_reply_reaches_a_person_on_the_right_case(db_url):
    service = AttendanceService(db_url)
    service.apply_sync(parsed(renumbered(["burglary-priority", "diverted"])))
    with session_scope(db_url) as s:
        record_inbound(s, parse_received_text({"id": "in-2", "source_number": "+447700900456", "message": "How long now? Door is open"}))
        record_inbound(s, parse_received_text({"id": "in-3", "source_number": "+447700900999", "message": "Who is this?"}))
    with session_scope(db_url) as s:
        inc = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0188")).one()
        reply = s.exec(select(InboundText).where(InboundText.provider_id == "in-2")).one()
        assert reply.incident_id == inc.id and reply.handled_as == "reply"
        task = s.get(Task, reply.task_id)
        assert task.kind == "reply_received" and "Door is open" in task.detail and task.incident_id == inc.id
        stranger = s.exec(select(InboundText).where(InboundText.provider_id == "in-3")).one()
        assert stranger.task_id is not None and stranger.victim_id is None  # kept, and a person sees it


def test_no_text_or_email_makes_a_task_for_a_phone_call_or_letter(db_url):
    with session_scope(db_url) as s:
        v = Victim(name="No Contact", phone=None, email=None, sms_consent=False)
        s.add(v)
        s.flush()
        assert enqueue(s, victim=v, template="attendance_closed_no_crime", kind="routine", personalisation={}) is None
        assert enqueue(s, victim=v, template="officer_assigned", kind="attendance",
                       personalisation={"link": "x"}) is None  # an attendance text simply does not go
        tasks = s.exec(select(Task)).all()
        assert len(tasks) == 1 and "phone or letter" in tasks[0].title
