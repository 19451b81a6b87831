"""Issue 14: the investigation journey, corrected. Every change here travels the real path: the NICHE
records-feed simulator serving it over HTTP, the real `NichePoller`, and the journey service as its sink,
on a clock the test moves (`JourneyService(db_url, now=clock)`). Where a message must reach the victim, the
real outbox sender delivers it to the local GOV.UK Notify server.

What is checked (the issue's four bullets and its acceptance):
1. Several victims on one occurrence, each their own record, contact state, entitlement and duties; a
   person who is a victim in two occurrences is one record with duties on both.
2. The officer's task for "no further action" tells of the Victims' Right to Review and its time limit;
   a referral declined before its deadline is done on time, whenever the product reads it.
3. Nothing is dropped silently: a repeated change id with different content and an update for a person not
   linked to the occurrence become dead letters; an event dated beyond the future tolerance is held on the
   case, told to nobody, with a task for the officer to check the date (issue 11: told when its date comes).
4. Duties, tasks and delivered messages agree: a delivered update meets the handed first update; an
   overdue task is due by the duty's own deadline; an overdue task for a domestic-abuse victim without
   safe contact keeps the safe-contact warning and contact notes.
5. The case page shows a standard and an enhanced victim's duties and deadlines apart.

People and numbers are made up: Ofcom's drama range (07700 900xxx) and example.org addresses.
"""
from __future__ import annotations

import copy
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest
from sqlmodel import select

from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    NotifyServer,
)
from integrations.niche.poller import NichePoller
from integrations.niche.simulator import NicheSimulator
from rxapp.domain.journey import when_words
from rxapp.feeds.models import DeadLetter
from rxapp.investigation.duties import code
from rxapp.investigation.models import Duty, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail
from rxapp.messaging.models import Message
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

pytestmark = pytest.mark.asyncio
UTC = timezone.utc
PAGE = 50

# Monday 2 March 2026 (GMT, so London time is UTC): no bank holiday near.
REPORTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RECORDED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HOUSEHOLD = "26CL0070001"  # a burglary of a family home: two victims
ASSAULT = "26CL0070002"    # a separate assault
DOMESTIC = "26CL0070003"   # domestic abuse, safe contact not yet confirmed
OIC = {"collar_number": "PC 5120", "name": "Dana Whitby", "email": "dana.whitby@police.example.org",
       "team": "Stockton CID"}
DA_OIC = {"collar_number": "DC 3318", "name": "Omar Reyes", "email": "omar.reyes@police.example.org",
          "team": "Redcar Safeguarding"}
DA_NOTES = "Shared phone: text only after 18:00; never leave voicemail"
# The officer in charge of the household burglary, as they sign in to read its case page.
DANA_WHITBY = StaffIdentity(1, "dana.whitby", "PC 5120 Dana Whitby", "officer", collar_number="PC 5120",
                            team="Stockton CID")
SAFE_CONTACT_WARNING = "no contact confirmed as safe: nothing automated may go"


# ---- changes in the contract's format (shapes as in integrations/niche/scenarios/records-changes.json) ----

def z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recorded(change_id: str, number: str, *, flags=(), oic=OIC, classification=("28/1", "Burglary - residential - home"),
             reported_at: datetime = REPORTED, recorded_at: datetime = RECORDED) -> dict:
    return {
        "change_id": change_id, "type": "occurrence.recorded", "occurred_at": z(recorded_at),
        "occurrence_number": number,
        "occurrence": {
            "occurrence_number": number, "crime_reference": "CL/26/" + number[-6:],
            "classification": {"code": classification[0], "text": classification[1]},
            "reported_at": z(reported_at), "recorded_at": z(recorded_at), "incident_urn": None,
            "oic": dict(oic), "flags": list(flags),
        },
    }


def linked(change_id: str, number: str, at: datetime, person_id: str, *, given: str, family: str, dob: str,
           mobile: Optional[str] = None, email: Optional[str] = None, preferred: str = "SMS",
           safe: Optional[bool] = True, notes: Optional[str] = None, vulnerable=(), intimidated: bool = False,
           updates: bool = True, referral: bool = True) -> dict:
    return {
        "change_id": change_id, "type": "person.linked", "occurred_at": z(at), "occurrence_number": number,
        "person": {
            "person_id": person_id, "role": "VICTIM", "name": {"given": given, "family": family},
            "date_of_birth": dob,
            "contact": {"mobile": mobile, "email": email, "postal_address": None, "preferred_channel": preferred,
                        "language": "en", "safe_to_contact": safe, "contact_notes": notes},
            "needs": {"vulnerable": list(vulnerable), "intimidated": intimidated, "persistently_targeted": False,
                      "interpreter": False, "accessibility": None},
            "consent": {"updates": updates, "support_referral": referral},
        },
    }


def updated(change_id: str, number: str, at: datetime, person_id: str, **fields) -> dict:
    return {"change_id": change_id, "type": "person.updated", "occurred_at": z(at), "occurrence_number": number,
            "person": {"person_id": person_id, **fields}}


def event(change_id: str, number: str, at: datetime, name: str, detail: Optional[dict] = None) -> dict:
    return {"change_id": change_id, "type": "investigation.event", "occurred_at": z(at),
            "occurrence_number": number, "event": name, "detail": detail or {}}


def joanne(change_id="h-2", number=HOUSEHOLD, at=RECORDED + timedelta(minutes=1), **kw) -> dict:
    """An adult, standard rights, texts, consents to everything."""
    kw = {"given": "Joanne", "family": "Whitfield", "dob": "1986-04-12", "mobile": "07700900421",
          "email": "joanne.whitfield@example.org", **kw}
    return linked(change_id, number, at, "P-70001", **kw)


def leo(change_id="h-3", number=HOUSEHOLD, at=RECORDED + timedelta(minutes=2), **kw) -> dict:
    """Her son, 14 on the day of the burglary: enhanced rights as a victim under 18."""
    kw = {"given": "Leo", "family": "Whitfield", "dob": "2011-06-15", "mobile": "07700900422", **kw}
    return linked(change_id, number, at, "P-70002", **kw)


# ---- the feed, the service, the clock ----------------------------------------------------------------

class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Feed:
    """The records feed simulator on a local port, the real poller reading it, the journey service applying
    what it reads at the clock's time."""

    def __init__(self, sim: NicheSimulator, service: JourneyService, poller: NichePoller, clock: Clock) -> None:
        self.sim, self.service, self.poller, self.clock = sim, service, poller, clock

    async def deliver(self, *changes: dict, at: Optional[datetime] = None) -> int:
        """Serve `changes` and poll until the feed is read to the end, with the service's clock at `at`
        (default: a minute after the latest change happened, never earlier than it already is)."""
        for change in changes:
            self.sim.append_change(change)
        if at is None and changes:
            latest = max(datetime.fromisoformat(c["occurred_at"].replace("Z", "+00:00")) for c in changes)
            at = max(self.clock.at, latest + timedelta(minutes=1))
        if at is not None:
            self.clock.at = at
        read = 0
        while True:
            count = await self.poller.poll_once()
            read += count
            if count < PAGE:
                return read


@asynccontextmanager
async def records_feed(db_url: str, start: datetime = RECORDED):
    clock = Clock(start)
    sim = NicheSimulator([]).start()
    service = JourneyService(db_url, now=clock)
    poller = NichePoller(sim.url, service, limit=PAGE, interval=0.05, backoff_initial=0.02, backoff_max=0.2)
    try:
        yield Feed(sim, service, poller, clock)
    finally:
        await poller.aclose()
        sim.stop()


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


def sender_for(notify: NotifyServer, db_url: str, clock: Clock) -> OutboxSender:
    client = NotifyClient(DEMO_API_KEY, notify.url, timeout=5)
    return OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                        email_template_id=DEFAULT_EMAIL_TEMPLATE_ID), now=clock)


# ---- reading the database ----------------------------------------------------------------------------

def victims_with(db_url: str, person_id: str) -> list[Victim]:
    with session_scope(db_url) as s:
        return list(s.exec(select(Victim).where(Victim.person_id == person_id).order_by(Victim.id)))


def the_victim(db_url: str, person_id: str) -> Victim:
    rows = victims_with(db_url, person_id)
    assert len(rows) == 1, f"expected one Victim row for {person_id}, found {len(rows)}"
    return rows[0]


def occurrence_id(db_url: str, number: str) -> int:
    with session_scope(db_url) as s:
        return s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one().id


def duties_of(db_url: str, number: str, victim_id: Optional[int] = None) -> dict[str, Duty]:
    """The occurrence's duties by key: all of them, or one victim's."""
    with session_scope(db_url) as s:
        q = select(Duty).where(Duty.occurrence_id == occurrence_id(db_url, number))
        if victim_id is not None:
            q = q.where(Duty.victim_id == victim_id)
        rows = list(s.exec(q.order_by(Duty.id)))
    if victim_id is not None:
        keys = [d.key for d in rows]
        assert len(keys) == len(set(keys)), f"one victim has two duties with the same key: {keys}"
    return {d.key: d for d in rows}


def tasks_on(db_url: str, *, duty_id: Optional[int] = None, number: Optional[str] = None) -> list[Task]:
    with session_scope(db_url) as s:
        q = select(Task)
        if duty_id is not None:
            q = q.where(Task.duty_id == duty_id)
        if number is not None:
            q = q.where(Task.occurrence_id == occurrence_id(db_url, number))
        return list(s.exec(q.order_by(Task.id)))


def dead_letters(db_url: str) -> list[DeadLetter]:
    with session_scope(db_url) as s:
        return list(s.exec(select(DeadLetter).where(DeadLetter.feed == "niche").order_by(DeadLetter.id)))


def deadline(milestone: str, at: datetime, enhanced: bool) -> datetime:
    rules = code()
    return rules.deadline(milestone, at, enhanced, rules.calendar())


# ---- 1. several victims per occurrence -----------------------------------------------------------------

async def test_a_second_victim_on_an_occurrence_is_a_second_record_and_leaves_the_first_alone(db_url):
    """Joanne (adult, a mental disorder, consents to updates and a referral) is linked first; her son Leo
    (under 18, wants no updates and no referral) second. Leo gets his own record; Joanne's stays hers,
    and his "no updates" does not opt her out. Each has their own written confirmation owed."""
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD),
                           joanne(vulnerable=["MENTAL_DISORDER"], updates=True, referral=True))
        await feed.deliver(leo(mobile=None, updates=False, referral=False))

    first = victims_with(db_url, "P-70001")
    second = victims_with(db_url, "P-70002")
    assert len(first) == 1, "the first victim's record was taken over by the second person"
    assert len(second) == 1, "the second victim has no record of their own"
    joanne_row, leo_row = first[0], second[0]
    assert joanne_row.id != leo_row.id
    assert str(joanne_row.date_of_birth) == "1986-04-12"
    assert joanne_row.vulnerabilities == "MENTAL_DISORDER"
    assert joanne_row.consent_updates is True and joanne_row.consent_referral is True
    assert str(leo_row.date_of_birth) == "2011-06-15"
    assert leo_row.consent_updates is False and leo_row.consent_referral is False
    with session_scope(db_url) as s:
        joanne_state = s.get(VictimContactState, joanne_row.id)
        assert joanne_state is None or not joanne_state.opted_out_all
        leo_state = s.get(VictimContactState, leo_row.id)
        assert leo_state is not None and leo_state.opted_out_all  # his own "no updates" holds for him
    assert "written_confirmation" in duties_of(db_url, HOUSEHOLD, joanne_row.id)
    assert "written_confirmation" in duties_of(db_url, HOUSEHOLD, leo_row.id)


async def test_each_victim_is_owed_a_milestone_by_their_own_entitlement(db_url):
    """An arrest on Tuesday 3 March: the adult with standard rights must hear within 5 working days, the
    14-year-old (enhanced: under 18 at the offence) within 1."""
    arrested_at = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne(), leo())
        await feed.deliver(event("h-4", HOUSEHOLD, arrested_at, "SUSPECT_ARRESTED"))

    joanne_row, leo_row = the_victim(db_url, "P-70001"), the_victim(db_url, "P-70002")
    hers, his = duties_of(db_url, HOUSEHOLD, joanne_row.id), duties_of(db_url, HOUSEHOLD, leo_row.id)
    assert "event:h-4" in hers and "event:h-4" in his
    assert hers["event:h-4"].due_at == deadline("suspect_arrested", arrested_at, False)  # Tuesday 10 March
    assert his["event:h-4"].due_at == deadline("suspect_arrested", arrested_at, True)    # Wednesday 4 March
    assert hers["event:h-4"].due_at != his["event:h-4"].due_at


async def test_a_person_who_is_a_victim_in_two_occurrences_is_one_record_with_duties_on_both(db_url):
    """Leo is first the only victim of an assault, then the second victim of the burglary of his home: one
    record for him, owed on both cases; his mother's record on the burglary is untouched."""
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("a-1", ASSAULT, classification=("8/1", "Assault occasioning actual bodily harm")),
                           leo("a-2", ASSAULT, RECORDED + timedelta(minutes=1)))
        await feed.deliver(recorded("h-1", HOUSEHOLD, recorded_at=RECORDED + timedelta(hours=1)),
                           joanne(at=RECORDED + timedelta(hours=1, minutes=1)),
                           leo(at=RECORDED + timedelta(hours=1, minutes=2)))

    leo_row = the_victim(db_url, "P-70002")
    assert "written_confirmation" in duties_of(db_url, ASSAULT, leo_row.id)
    assert "written_confirmation" in duties_of(db_url, HOUSEHOLD, leo_row.id)
    joanne_row = the_victim(db_url, "P-70001")
    assert "written_confirmation" in duties_of(db_url, HOUSEHOLD, joanne_row.id)
    assert duties_of(db_url, ASSAULT, joanne_row.id) == {}  # she is not a victim of the assault


# ---- 2. every duty's status and task's text from the Code data ------------------------------------------

@pytest.mark.parametrize("case", ["enhanced", "domestic_abuse_no_safe_contact"])
async def test_the_no_further_action_task_tells_of_the_right_to_review_and_its_time_limit(db_url, case):
    """A victim who hears decisions from a person: the officer's task for "no further action" says that the
    Victims' Right to Review applies, and within how long (the rules file's right_to_review)."""
    if case == "enhanced":
        number, flags = HOUSEHOLD, ()
        person = joanne(vulnerable=["LEARNING_DISABILITY"])
    else:
        number, flags = DOMESTIC, ("DOMESTIC_ABUSE",)
        person = linked("d-2", DOMESTIC, RECORDED + timedelta(minutes=1), "P-70030", given="Sara", family="Kell",
                        dob="1991-09-30", mobile="07700900431", safe=None, notes=DA_NOTES, referral=False)
    nfa_at = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("x-1", number, flags=flags, oic=DA_OIC if flags else OIC), person)
        await feed.deliver(event("x-5", number, nfa_at, "RELEASED_NFA",
                                 {"reason": "Insufficient evidence to provide a realistic prospect of conviction"}))

    duty = duties_of(db_url, number)["event:x-5"]
    tasks = [t for t in tasks_on(db_url, duty_id=duty.id) if t.status == "open"]
    assert len(tasks) == 1, [t.title for t in tasks]
    words = f"{tasks[0].title} {tasks[0].detail}"
    months = code().right_to_review.request_within_months
    assert "Right to Review" in words, words
    assert f"{months} months" in words, words


async def test_a_referral_declined_before_its_deadline_is_done_on_time_when_read_after_it(db_url):
    """Joanne said no to a referral on Wednesday afternoon, inside the 2 working days from her report
    (deadline: the end of Wednesday 4 March); the records system's change reached the product on Friday.
    The duty was met when she said no, not when the product read it."""
    declined_at = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    read_at = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne(referral=True))
        referral = duties_of(db_url, HOUSEHOLD)["support_referral"]
        assert referral.state == "handed" and declined_at < referral.due_at < read_at
        await feed.deliver(updated("h-6", HOUSEHOLD, declined_at, "P-70001", consent={"support_referral": False}),
                           at=read_at)

    duty = duties_of(db_url, HOUSEHOLD)["support_referral"]
    assert duty.state == "done"
    assert duty.done_at == declined_at, (duty.done_at, declined_at)
    assert duty.late is False


# ---- 3. nothing dropped silently -------------------------------------------------------------------------

async def test_a_repeated_change_id_with_different_content_is_a_dead_letter(db_url):
    """The adapter serves change h-4 (an arrest) again, once exactly as before (a plain repeat: nothing to
    see) and once saying something else under the same id (a charge): that one is kept for
    administrators, and changes nothing."""
    arrest = event("h-4", HOUSEHOLD, datetime(2026, 3, 3, 11, 0, tzinfo=UTC), "SUSPECT_ARRESTED")
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne(), arrest)
        assert dead_letters(db_url) == []
        impostor = copy.deepcopy(arrest)
        impostor.update(event="CHARGED", detail={"charges": ["Burglary of a dwelling"], "first_hearing": None})
        await feed.deliver(copy.deepcopy(arrest), impostor, at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC))

    dead = dead_letters(db_url)
    assert len(dead) == 1, [d.reason for d in dead]  # the identical repeat is only a duplicate
    assert "repeated" in dead[0].reason, dead[0].reason
    duties = duties_of(db_url, HOUSEHOLD)
    assert duties["event:h-4"].milestone == "suspect_arrested"
    assert not any(d.milestone == "charged" for d in duties.values())


async def test_an_update_for_a_person_not_linked_to_the_occurrence_is_a_dead_letter(db_url):
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne())
        await feed.deliver(updated("h-7", HOUSEHOLD, RECORDED + timedelta(hours=2), "P-79999",
                                   consent={"updates": False}))

    dead = dead_letters(db_url)
    assert len(dead) == 1, [d.reason for d in dead]
    assert "not linked" in dead[0].reason, dead[0].reason
    joanne_row = the_victim(db_url, "P-70001")
    assert joanne_row.consent_updates is True
    with session_scope(db_url) as s:
        state = s.get(VictimContactState, joanne_row.id)
        assert state is None or not state.opted_out_all


async def _future_dated(db_url, feed: Feed, ahead: timedelta, near: timedelta) -> None:
    """At Tuesday 3 March 12:00 by the service's clock, a charge dated `ahead` and an arrest dated `near`
    in the future."""
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    await feed.deliver(recorded("h-1", HOUSEHOLD), joanne())
    await feed.deliver(
        event("h-8", HOUSEHOLD, now + ahead, "CHARGED", {"charges": ["Burglary of a dwelling"], "first_hearing": None}),
        event("h-9", HOUSEHOLD, now + near, "SUSPECT_ARRESTED"), at=now)


def _assert_held_for_the_officer(db_url) -> None:
    duties = duties_of(db_url, HOUSEHOLD)
    # Owed from its date, but held: nobody is told before it (tests/test_future_events.py tells it then).
    held = [d for d in duties.values() if d.milestone in ("charged", "vps_offer")]
    assert len(held) == 2 and all(d.held_until is not None and d.message_id is None and d.task_id is None
                                  for d in held), [(d.key, d.held_until) for d in held]
    with session_scope(db_url) as s:
        templates = {m.template for m in s.exec(select(Message).where(
            Message.occurrence_id == occurrence_id(db_url, HOUSEHOLD)))}
    assert "update_charged" not in templates and "vps_offer" not in templates
    assert not [d for d in dead_letters(db_url) if "future" in d.reason]  # held on the case, not dead
    checks = [t for t in tasks_on(db_url, number=HOUSEHOLD) if t.status == "open" and "Check the date" in t.title]
    assert len(checks) == 1, [t.title for t in tasks_on(db_url, number=HOUSEHOLD)]
    assert checks[0].assignee == OIC["collar_number"]


async def test_an_event_dated_beyond_the_future_tolerance_is_held_for_the_officer(db_url):
    """Default tolerance (15 minutes): a charge dated an hour ahead is not told to anyone; an arrest two
    minutes ahead (a clock a little fast) is applied."""
    async with records_feed(db_url) as feed:
        await _future_dated(db_url, feed, ahead=timedelta(hours=1), near=timedelta(minutes=2))
    assert duties_of(db_url, HOUSEHOLD)["event:h-9"].milestone == "suspect_arrested"
    _assert_held_for_the_officer(db_url)


async def test_the_future_tolerance_is_a_setting(db_url, monkeypatch, request):
    """NICHE_FUTURE_TOLERANCE_MINUTES=5: a charge 10 minutes ahead (inside the default 15) is held."""
    monkeypatch.setenv("NICHE_FUTURE_TOLERANCE_MINUTES", "5")
    config.reset_settings()
    request.addfinalizer(config.reset_settings)
    async with records_feed(db_url) as feed:
        await _future_dated(db_url, feed, ahead=timedelta(minutes=10), near=timedelta(minutes=2))
    assert duties_of(db_url, HOUSEHOLD)["event:h-9"].milestone == "suspect_arrested"
    _assert_held_for_the_officer(db_url)


# ---- 4. duties, tasks and delivered messages agree ---------------------------------------------------------

def _domestic_victim(**kw) -> dict:
    kw = {"given": "Sara", "family": "Kell", "dob": "1991-09-30", "mobile": "07700900431", "safe": None,
          "notes": DA_NOTES, "referral": True, **kw}
    return linked("d-2", DOMESTIC, RECORDED + timedelta(minutes=1), "P-70030", **kw)


async def test_a_delivered_update_meets_the_first_update_handed_to_a_person(db_url, notify):
    """Sara's case is domestic abuse and no contact was confirmed safe, so her first update went to the
    officer as a task. Safe contact is then confirmed and the arrest is texted to her and delivered: she
    has had an update about the investigation, so the first update is done and its task closes."""
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("d-1", DOMESTIC, flags=("DOMESTIC_ABUSE",), oic=DA_OIC), _domestic_victim())
        feed.service.sweep(feed.clock.at)
        sara = the_victim(db_url, "P-70030")
        first = duties_of(db_url, DOMESTIC, sara.id)["routine:1"]
        assert first.state == "handed"
        assert [t.status for t in tasks_on(db_url, duty_id=first.id)] == ["open"]

        await feed.deliver(updated("d-3", DOMESTIC, datetime(2026, 3, 2, 11, 0, tzinfo=UTC), "P-70030",
                                   contact={"safe_to_contact": True, "preferred_channel": "SMS"}))
        await feed.deliver(event("d-4", DOMESTIC, datetime(2026, 3, 2, 11, 30, tzinfo=UTC), "SUSPECT_ARRESTED"))
        await sender_for(notify, db_url, feed.clock).drain()

    duties = duties_of(db_url, DOMESTIC, sara.id)
    arrest = duties["event:d-4"]
    with session_scope(db_url) as s:
        message = s.get(Message, arrest.message_id)
        assert message is not None and message.status in ("sent", "delivered"), message
        assert message.victim_id == sara.id
    first = duties["routine:1"]
    assert first.state == "done", (first.state, first.done_how)
    assert [t.status for t in tasks_on(db_url, duty_id=first.id)] == ["done"]


async def test_a_task_opened_by_a_missed_deadline_is_due_by_the_codes_deadline(db_url):
    """Joanne's written confirmation was queued but never went (the sender was down): on Wednesday the
    sweep finds its deadline (the end of Tuesday 3 March) passed and hands it to the officer. The task is
    due by that deadline, not by the moment the sweep noticed."""
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne())
    service = JourneyService(db_url, now=lambda: datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    service.sweep(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))

    duty = duties_of(db_url, HOUSEHOLD)["written_confirmation"]
    assert duty.late and duty.due_at == deadline("written_confirmation", RECORDED, False)
    tasks = [t for t in tasks_on(db_url, duty_id=duty.id) if t.status == "open"]
    assert len(tasks) == 1, [t.title for t in tasks]
    assert tasks[0].due_at == duty.due_at, (tasks[0].due_at, duty.due_at)


async def test_an_overdue_task_for_a_domestic_abuse_victim_keeps_the_safe_contact_warning(db_url):
    """Sara's first update (enhanced: due by the end of Tuesday 3 March) is found overdue on Thursday. The
    officer's task says what every other task on her case says: no contact is confirmed safe, and how she
    may be contacted."""
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("d-1", DOMESTIC, flags=("DOMESTIC_ABUSE",), oic=DA_OIC), _domestic_victim())
    sara = the_victim(db_url, "P-70030")
    written = duties_of(db_url, DOMESTIC, sara.id)["written_confirmation"]
    safe_task = next(t for t in tasks_on(db_url, duty_id=written.id) if t.status == "open")
    assert SAFE_CONTACT_WARNING in safe_task.detail  # the words the product uses for her elsewhere

    JourneyService(db_url, now=lambda: datetime(2026, 3, 5, 10, 0, tzinfo=UTC)).sweep(
        datetime(2026, 3, 5, 10, 0, tzinfo=UTC))
    first = duties_of(db_url, DOMESTIC, sara.id)["routine:1"]
    assert first.late
    overdue = [t for t in tasks_on(db_url, duty_id=first.id) if t.status == "open"]
    assert len(overdue) == 1, [t.title for t in overdue]
    assert SAFE_CONTACT_WARNING in overdue[0].detail, overdue[0].detail
    assert DA_NOTES in overdue[0].detail, overdue[0].detail


# ---- 5. acceptance: two victims, one standard and one enhanced, apart on the case page ----------------------

def _yes(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("yes", "true"))


async def test_the_case_page_shows_each_victims_duties_and_deadlines_apart(db_url):
    """`case_detail(...)["victims"]`: one entry per victim, each with an "enhanced" indicator and that
    victim's own "duties" (rows as the case page's duty rows: "key", "due", ...)."""
    arrested_at = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    async with records_feed(db_url) as feed:
        await feed.deliver(recorded("h-1", HOUSEHOLD), joanne(), leo())
        await feed.deliver(event("h-4", HOUSEHOLD, arrested_at, "SUSPECT_ARRESTED"))

    with session_scope(db_url) as s:
        detail = case_detail(s, DANA_WHITBY, HOUSEHOLD, datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    assert detail is not None and "victims" in detail, sorted(detail or {})
    victims = detail["victims"]
    assert len(victims) == 2
    enhanced = [v for v in victims if _yes(v["enhanced"])]
    standard = [v for v in victims if not _yes(v["enhanced"])]
    assert len(enhanced) == 1 and len(standard) == 1, [v["enhanced"] for v in victims]

    def arrest_row(entry: dict) -> dict:
        rows = [d for d in entry["duties"] if d["key"] == "event:h-4"]
        assert len(rows) == 1, [d["key"] for d in entry["duties"]]
        return rows[0]

    standard_due, enhanced_due = arrest_row(standard[0])["due"], arrest_row(enhanced[0])["due"]
    assert standard_due == when_words(deadline("suspect_arrested", arrested_at, False))  # Tue 10 Mar
    assert enhanced_due == when_words(deadline("suspect_arrested", arrested_at, True))   # Wed 4 Mar
    assert standard_due != enhanced_due
    for entry in victims:
        assert any(d["key"] == "written_confirmation" for d in entry["duties"])
