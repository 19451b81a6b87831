"""A victim's preferences in the portal, on the real database, through the journey and the real outbox sender
with the local Notify server: each change is recorded for the officer and honoured by the very next update
(channel, language, opting out of texts, a phone call instead, how often to hear)."""
from __future__ import annotations

from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from integrations.govuk_notify.simulator import NotifyServer
from integrations.niche.protocol import parse_change
from rxapp.investigation.models import CaseVictim, Duty
from rxapp.investigation.service import JourneyService
from rxapp.messaging.models import Message
from rxapp.plumbing.db import session_scope
from rxapp.portal import live
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.models import PreferenceChange
from rxapp.portal.preferences import change_preferences, preferences, staff_preference_changes
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

from .portal_cases import AT, record_case, sign_in, touch
from .test_journey_service import Clock, _sender

pytestmark = pytest.mark.asyncio
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def victim(db_url):
    record_case(db_url)
    return sign_in(db_url)


def event(change_id, what, at):
    return parse_change({"change_id": change_id, "type": "investigation.event", "occurred_at": at.isoformat(),
                         "occurrence_number": "26CL0090001", "event": what, "detail": {}}, decoded=True)


def duty(db_url, key):
    with session_scope(db_url) as s:
        return s.exec(select(Duty).where(Duty.key == key)).one()


async def test_preferences_offered_are_the_victims_own(db_url, victim):
    with session_scope(db_url) as s:
        prefs = preferences(s, victim, AT)
    assert prefs["channel"] == "sms" and prefs["language"] == "en" and prefs["routine_every_days"] == 28
    assert prefs["opt_out_all"] is prefs["opt_out_sms"] is prefs["opt_out_email"] is False
    assert prefs["channels_available"] == ["sms", "email", "phone"]  # no postal address: no letter
    assert [code for code, _ in prefs["languages"]] == ["en", "pl", "ur", "ar"]
    assert dict(prefs["languages"])["pl"] == "Polski"
    assert prefs["frequencies"] == [7, 14, 28, 56]


@pytest.mark.parametrize("changes", [
    {"channel": "letter"}, {"channel": "pigeon"}, {"channel": None}, {"language": "xx"}, {"language": 3},
    {"routine_every_days": 5}, {"routine_every_days": "abc"}, {"routine_every_days": True}, {"opt_out_all": "maybe"},
    {"colour": "red"}, {"channel": "email", "opt_out_email": "yes", "opt_out_sms": True},
    {"channel": "email", "opt_out_email": True},
    {"language": "pl", "routine_every_days": 1000}, "channel=email", None,
])
async def test_a_bad_choice_is_refused_and_changes_nothing(db_url, victim, changes):
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            change_preferences(s, victim, changes, AT)
    assert refused.value.key == "bad_choice"
    with session_scope(db_url) as s:
        assert s.exec(select(PreferenceChange)).all() == []
        assert s.get(Victim, victim.victim_id).language == "en"


async def test_preference_changed_and_honoured_by_the_next_update(db_url, victim, notify):
    """Opting out of texts and choosing Polish in the portal: the next update (an arrest) goes by email, in
    Polish, through the real sender; then a shorter rhythm moves the next routine update at once; then a phone
    call instead makes the next update a task for the officer."""
    clock = Clock(AT)
    service = JourneyService(db_url, now=clock)
    sender = _sender(notify, db_url, clock)
    before = live.version(victim.case_victim_id)
    with session_scope(db_url) as s:
        # The whole form, as the page sends it: the channel left as it was, texts ticked off.
        after = change_preferences(s, victim, {"channel": "sms", "opt_out_sms": True, "language": "pl",
                                               "routine_every_days": "28", "opt_out_all": False,
                                               "opt_out_email": False}, AT)
    assert live.version(victim.case_victim_id) == before + 1
    # Out of texts, the victim hears by email, and the page says so.
    assert after["opt_out_sms"] is True and after["language"] == "pl" and after["channel"] == "email"
    with session_scope(db_url) as s:
        changes = s.exec(select(PreferenceChange).order_by(PreferenceChange.id)).all()
        assert [(c.setting, c.old_value, c.new_value, c.changed_by) for c in changes] == [
            ("opt_out_sms", "no", "yes", "victim"), ("language", "en", "pl", "victim")]
        rows = staff_preference_changes(s, victim.case_victim_id)
        assert rows[0]["setting"] == "Language" and rows[0]["new"] == "pl" and rows[0]["by"] == "the victim, in the portal"
    await sender.drain()
    clock.at = AT + timedelta(hours=1)
    service.apply_page([event("t-10", "SUSPECT_ARRESTED", AT + timedelta(minutes=30))], "p10")
    await sender.drain()
    arrest = duty(db_url, "event:t-10")
    with session_scope(db_url) as s:
        message = s.get(Message, arrest.message_id)
        assert message.channel == "email" and message.language == "pl"
        assert message.destination == "test.victim@example.org" and message.status in ("sent", "delivered")
    emails = [n for n in notify.sent if n.type == "email" and n.to == "test.victim@example.org"]
    assert emails and "został zatrzymany" in emails[-1].body  # Polish: "someone has been arrested"
    assert duty(db_url, "event:t-10").state == "done"

    # How often: 14 days instead of the Code's 28, and the routine update still to come moves at once.
    routine = next(d for d in _duties(db_url) if d.key.startswith("routine:") and d.state == "due")
    with session_scope(db_url) as s:
        last = s.get(CaseVictim, victim.case_victim_id).last_update_at
    assert routine.due_at.astimezone(LONDON).date() == (last.astimezone(LONDON) + timedelta(days=28)).date()
    touch(db_url, victim, clock.at)
    with session_scope(db_url) as s:
        change_preferences(s, victim, {"routine_every_days": "14"}, clock.at)
    moved = duty(db_url, routine.key)
    assert moved.due_at.astimezone(LONDON).date() == (last.astimezone(LONDON) + timedelta(days=14)).date()

    # A phone call instead: the next update is a task for the officer in charge, not a message.
    with session_scope(db_url) as s:
        change_preferences(s, victim, {"channel": "phone"}, clock.at)
        assert s.get(Victim, victim.victim_id).preferred_channel == "PHONE"
    clock.at += timedelta(hours=1)
    service.apply_page([event("t-11", "SUSPECT_INTERVIEWED", clock.at - timedelta(minutes=10))], "p11")
    interviewed = duty(db_url, "event:t-11")
    assert interviewed.message_id is None and interviewed.state == "handed"
    with session_scope(db_url) as s:
        task = s.get(Task, interviewed.task_id)
        assert task.assignee == "PC 1234" and "phone" in (task.title + task.detail).lower()


async def test_opting_out_of_everything_hands_updates_to_a_person(db_url, victim):
    with session_scope(db_url) as s:
        change_preferences(s, victim, {"opt_out_all": True}, AT)
        assert s.get(VictimContactState, victim.victim_id).opted_out_at == AT
    JourneyService(db_url, now=lambda: AT + timedelta(hours=1)).apply_page(
        [event("t-12", "SUSPECT_ARRESTED", AT + timedelta(minutes=30))], "p12")
    arrest = duty(db_url, "event:t-12")
    assert arrest.message_id is None and arrest.state == "handed"
    # Changing back is recorded too; unchanged values are not.
    touch(db_url, victim, AT + timedelta(hours=2))
    with session_scope(db_url) as s:
        change_preferences(s, victim, {"opt_out_all": False, "language": "en"}, AT + timedelta(hours=2))
        changes = s.exec(select(PreferenceChange).order_by(PreferenceChange.id)).all()
    assert [(c.setting, c.new_value) for c in changes] == [("opt_out_all", "yes"), ("opt_out_all", "no")]


def _duties(db_url):
    with session_scope(db_url) as s:
        return list(s.exec(select(Duty).order_by(Duty.id)))


async def test_preferences_need_a_live_session(db_url, victim):
    from rxapp.portal.models import PortalSession

    with session_scope(db_url) as s:
        s.get(PortalSession, victim.session_hash).ended_at = AT
    with session_scope(db_url) as s:
        for act in (lambda: preferences(s, victim, AT), lambda: change_preferences(s, victim, {"language": "pl"}, AT)):
            with pytest.raises(PortalRefusal) as refused:
                act()
            assert refused.value.key == "not_allowed"
    with session_scope(db_url) as s:
        assert s.get(Victim, victim.victim_id).language == "en"
