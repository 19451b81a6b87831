"""Updates that fall due together go as one message (issue 11, point 7).

The rule itself (`rxapp/domain/bundling.py`) is tested directly; then the real outbox, the real sender and the
local Notify-compatible server: the records sample read during quiet hours (seven updates for the burglary
victim at 08:00 become one text), a Polish bundle, the "and N more" tail within Notify's length, a failed
provider call retried as the same one bundle, an interrupted send recovered without a repeat, delivery
receipts and permanent failures applying to every row, the safety rules still deciding each message, and
attendance texts never combined.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from integrations.govuk_notify.simulator import (
    NotifyServer,
)
from integrations.niche.protocol import parse_change
from rxapp.attendance.service import AttendanceService
from rxapp.domain import bundling
from rxapp.domain.bundling import Candidate
from rxapp.domain.notifications import DeliveryReceipt
from rxapp.domain.templates import LANGUAGES, NOTIFY_MAX_SMS_CHARACTERS, load_templates
from rxapp.investigation.models import Duty, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.messaging.bundles import BUNDLED
from rxapp.messaging.models import Message, MessageEvent
from rxapp.messaging.outbox import enqueue
from rxapp.messaging.receipts import record_receipt
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_portal_token, portal_url
from rxapp.portal.models import PortalInvite
from rxapp.tasks.models import Task
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim

from .helpers import parsed, renumbered
from .test_journey_service import Clock
from .test_journey_service import _sender as sender_for

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
SAMPLE = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"
TEMPLATES = load_templates()
WITH_LINE = sorted(name for name, t in TEMPLATES.items() if t.line is not None)
SEVEN = ["crime_recorded", "support_referral_made", "update_suspect_arrested", "update_suspect_interviewed",
         "update_released_under_investigation", "update_charged", "vps_offer"]


# ---- the rule, pure ---------------------------------------------------------------------------------------

def c(message_id, kind="routine", victim=1, case=10, channel="sms", destination="+447700900100", language="en",
      line=True):
    return Candidate(message_id, kind, victim, case, channel, destination, language, line)


def test_updates_for_one_victim_and_case_on_one_channel_go_together_in_the_order_written():
    assert bundling.group([c(3), c(1), c(2)]) == [(1, 2, 3)]


def test_what_is_never_combined():
    groups = bundling.group([
        c(1), c(2, kind="attendance"), c(3, kind="service"), c(4, line=False), c(5, case=None), c(6, victim=None),
        c(7, case=11), c(8, channel="email", destination="a@example.org"), c(9, destination="+447700900101"),
        c(10, language="pl"), c(11, kind="attendance"), c(12)])
    assert groups == [(1, 12), (2,), (3,), (4,), (5,), (6,), (7,), (8,), (9,), (10,), (11,)]


def test_a_lone_update_is_a_group_of_one():
    assert bundling.group([c(5)]) == [(5,)]
    assert bundling.group([]) == []


def whole(updates):
    return f"Updates:\n{updates}\nCall 101."


def more(n):
    return f"And {n} more: call 101."


def test_fit_lists_every_update_when_they_fit():
    fitted = bundling.fit(["One.", "Two.", "Three."], whole, more, 160)
    assert fitted == bundling.Fitted("Updates:\n1. One.\n2. Two.\n3. Three.\nCall 101.", 3)


def test_fit_names_the_first_few_and_counts_the_rest_within_the_limit():
    lines = [f"Update number {i} has some words in it." for i in range(1, 8)]
    fitted = bundling.fit(lines, whole, more, 160)
    assert len(fitted.body) <= 160 and fitted.listed == 2
    assert fitted.body == ("Updates:\n1. Update number 1 has some words in it.\n2. Update number 2 has some words in "
                           "it.\nAnd 5 more: call 101.\nCall 101.")
    assert bundling.fit(lines, whole, more, None).listed == 7  # an email has no such limit


def test_fit_refuses_rather_than_send_over_the_limit():
    with pytest.raises(ValueError):
        bundling.fit(["One."], whole, more, 10)
    with pytest.raises(ValueError):
        bundling.fit([], whole, more, 100)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_line_and_every_update_together_fits_in_one_notify_text(language):
    # All sixteen kinds of update at once, in each language: within Notify's limit, with the "more" tail.
    assert len(WITH_LINE) == 16 and all(TEMPLATES[n].kind == "routine" for n in WITH_LINE)
    tpl, tail = TEMPLATES["updates_together"], TEMPLATES["updates_together_more"]
    lines = [TEMPLATES[n].line_in(language) for n in WITH_LINE]
    fitted = bundling.fit(
        lines, lambda u: tpl.render(language, {"count": 16, "crime_reference": "CL/26/041877", "updates": u}).body,
        lambda n: tail.render(language, {"count": n}).body, NOTIFY_MAX_SMS_CHARACTERS)
    assert len(fitted.body) <= NOTIFY_MAX_SMS_CHARACTERS and 5 <= fitted.listed < 16
    assert tail.body[language].split("((")[0] in fitted.body and "101" in fitted.body and "999" in fitted.body


def test_a_line_is_only_for_routine_updates_and_has_no_placeholder():
    from rxapp.domain.templates import TemplateError, parse_template

    base = {"id": "5b0f3c9e-0d7e-4a53-9d55-7a1f1b1c2d3e", "name": "x", "channel": "sms",
            "body": {"en": "Hello."}, "line": {"en": "Hello."}}
    assert parse_template({**base, "kind": "routine"}).line_in("pl") == "Hello."  # English when no Polish
    with pytest.raises(TemplateError, match="only a routine update"):
        parse_template({**base, "kind": "attendance"})
    with pytest.raises(TemplateError, match="without placeholders"):
        parse_template({**base, "kind": "routine", "line": {"en": "Ref ((crime_reference))."}})


# ---- through the real outbox, sender and Notify server ------------------------------------------------------

@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


def texts_to(server, number):
    return [n for n in server.sent if n.type == "sms" and n.to.replace(" ", "") in (number, "0" + number[3:])]


def london(y, m, d, hh, mm):
    return datetime(y, m, d, hh, mm, tzinfo=LONDON).astimezone(UTC)


NIGHT = london(2026, 12, 2, 22, 30)  # quiet hours: routine updates wait for 08:00
MORNING = london(2026, 12, 3, 8, 0)


def case_with_updates(db_url, templates, *, phone="+447700900150", email=None, language="en", now=NIGHT,
                      number="26CL0099001", reference="CL/26/099001") -> list[int]:
    """A victim and a recorded crime, with `templates` queued for them by the real outbox at `now`."""
    with session_scope(db_url) as s:
        victim = Victim(phone=phone, email=email, sms_consent=True, language=language)
        occ = Occurrence(occurrence_number=number, crime_reference=reference, reported_at=now - timedelta(days=1),
                         recorded_at=now - timedelta(hours=2), oic_collar="DC 2210")
        s.add_all([victim, occ])
        s.flush()
        values = {"crime_reference": reference, "officer": "DC 2210", "next_update": "Wednesday 30 December"}
        ids = [enqueue(s, victim=victim, template=t, kind="routine", personalisation=values, now=now,
                       occurrence_id=occ.id).id for t in templates]
    return ids


def rows(db_url, ids):
    with session_scope(db_url) as s:
        found = [s.get(Message, i) for i in ids]
        s.expunge_all()
    return found


@pytest.mark.asyncio
async def test_the_records_sample_read_in_quiet_hours_tells_the_burglary_victim_in_one_text_at_eight(
        db_url, notify):
    # The case: the whole records page processed late at night. Before, the burglary victim had seven
    # texts queued for 08:00 (crime recorded, referral, arrest, interview, release, charge, VPS offer).
    AttendanceService(db_url).apply_sync(parsed(renumbered(
        ["burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"])))
    changes = [parse_change(ch, decoded=True) for ch in json.loads(SAMPLE.read_text())["changes"]]
    clock = Clock(london(2026, 12, 19, 23, 30))  # after every change in the page
    sender = sender_for(notify, db_url, clock)
    JourneyService(db_url, now=clock).apply_page(changes, changes[-1].change_id)
    night = await sender.drain()
    assert night.sent == 0 and texts_to(notify, "+447700900123") == []
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == "26CL0041877")).one()
        updates = s.exec(select(Message).where(Message.occurrence_id == occ.id,
                                               Message.template != "portal_invitation").order_by(Message.id)).all()
        update_ids = [m.id for m in updates]
        assert [m.template for m in updates] == SEVEN and {m.status for m in updates} == {"held"}
        # She is invited to the portal too (a burglary, consent to updates, a mobile): held for the morning.
        (invite,) = s.exec(select(PortalInvite)).all()
        assert s.get(Message, invite.message_id).status == "held"
        portal_link = portal_url(derive_portal_token(invite.link_nonce))

    clock.at = london(2026, 12, 20, 8, 0) + timedelta(seconds=30)
    morning = await sender.drain()
    texts = texts_to(notify, "+447700900123")
    bundle = [t for t in texts if "CL/26/041877:" in t.body]
    assert len(bundle) == 1 and morning.combined >= 1
    body = bundle[0].body
    assert body.startswith("7 updates on your case, crime reference CL/26/041877:\n1. The crime you reported has "
                           "been recorded.\n2. We passed your details")
    for i, template in enumerate(SEVEN, 1):
        assert f"{i}. {TEMPLATES[template].line['en']}" in body
    assert "If you are in danger, call 999." in body and len(body) <= NOTIFY_MAX_SMS_CHARACTERS
    # She has a portal invitation, so the list ends with her portal link (the invitation went on its own).
    assert body.endswith(f"write to the officer: {portal_link}")
    assert [t.body.endswith(f"Sign in: {portal_link}") for t in texts].count(True) == 1
    # The attendance's own "recorded as a crime" text (an attendance text) went on its own, not in the list.
    assert [t.body.startswith("We have recorded your report as a crime") for t in texts].count(True) == 1
    assert len(texts) == 3
    # Each row keeps its own status, sent by that one provider message, and meets its own Code duty.
    sent = rows(db_url, update_ids)
    assert {m.status for m in sent} <= {"sent", "delivered"}
    assert len({m.provider_id for m in sent}) == 1 and sent[0].provider_id == bundle[0].id
    assert bundle[0].reference == sent[0].reference  # the provider sees the first row's random reference
    with session_scope(db_url) as s:
        for m in sent:
            if m.duty_id is not None:
                duty = s.get(Duty, m.duty_id)
                assert duty.state == "done" and duty.done_at == clock.at, m.template
        notes = s.exec(select(MessageEvent).where(MessageEvent.message_id.in_(update_ids),
                                                  MessageEvent.status == BUNDLED)).all()
        assert len(notes) == 7 and all(sent[0].reference in n.detail for n in notes)
        assert "one message with 6 other updates" in notes[0].detail
        # Staff reading each row's history see that it went in one message with the others.
        accepted = s.exec(select(MessageEvent).where(MessageEvent.message_id.in_(update_ids),
                                                     MessageEvent.status == "sent")).all()
        assert len(accepted) == 7 and all(e.detail == "accepted by the provider on attempt 1, one message listing 7 "
                                          "updates" for e in accepted)


@pytest.mark.asyncio
async def test_a_polish_victim_gets_a_polish_bundle(db_url, notify):
    ids = case_with_updates(db_url, ["update_suspect_arrested", "update_released_on_bail", "vps_offer"],
                            language="pl")
    clock = Clock(NIGHT)
    sender = sender_for(notify, db_url, clock)
    assert (await sender.drain()).held == 3
    clock.at = MORNING
    result = await sender.drain()
    assert result.sent == 3 and result.combined == 1
    (text,) = texts_to(notify, "+447700900150")
    assert text.body == (
        "Nowe informacje w Twojej sprawie (liczba: 3), numer sprawy: CL/26/099001:\n"
        "1. Ktoś został zatrzymany.\n"
        "2. Podejrzanego zwolniono za poręczeniem, a my prowadzimy dalej czynności.\n"
        "3. Możesz złożyć oświadczenie pokrzywdzonego (Victim Personal Statement): zapytaj policjanta "
        "prowadzącego sprawę.\n"
        "Aby dowiedzieć się więcej, zadzwoń pod numer 101 i podaj numer sprawy. W razie zagrożenia dzwoń pod 999.")
    assert {m.status for m in rows(db_url, ids)} <= {"sent", "delivered"}


@pytest.mark.asyncio
async def test_too_many_to_list_names_the_first_few_and_says_how_many_more(db_url, notify):
    ids = case_with_updates(db_url, WITH_LINE, language="ur", now=MORNING)
    result = await sender_for(notify, db_url, Clock(MORNING + timedelta(seconds=1))).drain()
    assert result.sent == 16 and result.combined == 1
    (text,) = texts_to(notify, "+447700900150")
    assert len(text.body) <= NOTIFY_MAX_SMS_CHARACTERS
    assert "مزید اطلاعات (تعداد: " in text.body and "101" in text.body
    listed = sum(1 for n in range(1, 17) if f"\n{n}. " in text.body)
    assert 5 <= listed < 16 and f"(تعداد: {16 - listed})" in text.body
    assert {m.status for m in rows(db_url, ids)} <= {"sent", "delivered"}


@pytest.mark.asyncio
async def test_a_failed_provider_call_retries_the_bundle_once_and_never_sends_twice(db_url, notify):
    ids = case_with_updates(db_url, SEVEN[:4], now=MORNING)
    clock = Clock(MORNING + timedelta(seconds=1))
    sender = sender_for(notify, db_url, clock)
    notify.fail_next(1, 500)
    first = await sender.run_once()
    assert first.retried == 1 and first.sent == 0 and texts_to(notify, "+447700900150") == []
    waiting = rows(db_url, ids)
    assert {m.status for m in waiting} == {"retry"} and len({m.due_at for m in waiting}) == 1  # together again
    clock.at = waiting[0].due_at + timedelta(seconds=1)
    again = await sender.drain()
    assert again.sent == 4 and again.combined == 1
    (text,) = texts_to(notify, "+447700900150")
    assert text.body.startswith("4 updates on your case") and text.reference == waiting[0].reference
    done = rows(db_url, ids)
    assert {m.attempts for m in done} == {2} and len({m.provider_id for m in done}) == 1
    clock.at += timedelta(hours=1)
    await sender.drain()
    assert len(texts_to(notify, "+447700900150")) == 1


@pytest.mark.asyncio
async def test_an_interrupted_bundle_is_found_at_the_provider_not_sent_again(db_url, notify):
    ids = case_with_updates(db_url, SEVEN[2:5], now=MORNING)
    clock = Clock(MORNING + timedelta(seconds=1))
    sender = sender_for(notify, db_url, clock)
    await sender.drain()
    (text,) = texts_to(notify, "+447700900150")
    # As if the process died between the provider's answer and the commit: every row still "sending".
    with session_scope(db_url) as s:
        for i in ids:
            m = s.get(Message, i)
            m.status, m.provider_id, m.sent_at, m.sending_since = "sending", None, None, clock.at
    clock.at += timedelta(minutes=5)
    result = await sender.drain()
    assert result.recovered == 3 and result.sent == 0
    assert len(texts_to(notify, "+447700900150")) == 1
    assert {m.provider_id for m in rows(db_url, ids)} == {text.id}


@pytest.mark.asyncio
async def test_receipts_and_a_permanent_failure_apply_to_every_row(db_url, notify):
    delivered = case_with_updates(db_url, SEVEN[:3], phone="+447700900151", now=MORNING,
                                  number="26CL0099002", reference="CL/26/099002")
    # Notify's simulated number that always fails for good; the victim also gave an email address.
    failing = case_with_updates(db_url, SEVEN[:3], phone="+447700900002", email="victim.one@example.org",
                                now=MORNING, number="26CL0099003", reference="CL/26/099003")
    clock = Clock(MORNING + timedelta(seconds=1))
    await sender_for(notify, db_url, clock).drain()
    with session_scope(db_url) as s:
        lead = s.get(Message, delivered[0])
        record_receipt(s, DeliveryReceipt("delivered", lead.reference, lead.provider_id), now=clock.at)
        bad = s.get(Message, failing[0])
        record_receipt(s, DeliveryReceipt("permanent-failure", bad.reference, bad.provider_id), now=clock.at)
    assert {m.status for m in rows(db_url, delivered)} == {"delivered"}
    assert {m.status for m in rows(db_url, failing)} == {"permanent-failure"}
    # Each row falls back to email, and those go together as one email.
    clock.at += timedelta(seconds=5)
    result = await sender_for(notify, db_url, clock).drain()
    emails = [n for n in notify.sent if n.type == "email" and n.to == "victim.one@example.org"]
    assert len(emails) == 1 and result.combined == 1
    assert emails[0].body.startswith("3 updates on your case, crime reference CL/26/099003:")
    with session_scope(db_url) as s:
        again = s.exec(select(Message).where(Message.channel == "email")).all()
        assert len(again) == 3 and {m.status for m in again} <= {"sent", "delivered"}


@pytest.mark.asyncio
async def test_the_safety_rules_decide_each_update_before_any_are_combined(db_url, notify):
    ids = case_with_updates(db_url, SEVEN[:3], now=MORNING)
    with session_scope(db_url) as s:
        victim_id = s.get(Message, ids[0]).victim_id
        contact_state(s, victim_id).opted_out_sms = True
    result = await sender_for(notify, db_url, Clock(MORNING + timedelta(seconds=1))).drain()
    assert result.sent == 0 and result.blocked == 3 and notify.sent == []
    with session_scope(db_url) as s:
        assert len(s.exec(select(Task).where(Task.victim_id == victim_id)).all()) == 3  # each update to a person


@pytest.mark.asyncio
async def test_an_attendance_text_is_never_combined(db_url, notify):
    ids = case_with_updates(db_url, SEVEN[:2], now=MORNING)
    with session_scope(db_url) as s:
        victim = s.get(Victim, s.get(Message, ids[0]).victim_id)
        attendance = [enqueue(s, victim=victim, template="attendance_closed_no_crime", kind="attendance",
                              personalisation={}, now=MORNING).id for _ in range(2)]
    result = await sender_for(notify, db_url, Clock(MORNING + timedelta(seconds=1))).drain()
    texts = texts_to(notify, "+447700900150")
    assert result.sent == 4 and result.combined == 1 and len(texts) == 3
    assert sum(t.body.startswith("2 updates on your case") for t in texts) == 1
    assert len({m.provider_id for m in rows(db_url, attendance)}) == 2
