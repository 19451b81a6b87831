"""The journey service against the real database, the real outbox sender and the local Notify server.

The sample records page (contracts/samples/records-changes.json) is played live: each change at its own
time, the sender and the deadline sweep running between changes and every hour in between, as the
runner does. What each victim is owed and by when was worked out by hand from the Code
(shared/domain/victims-code.md) and is written out below; the service must agree.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    NotifyServer,
)
from integrations.niche.protocol import parse_change
from rxapp.attendance.service import AttendanceService
from rxapp.domain.code_rules import DEFAULT_PATH
from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.investigation import duties as journey
from rxapp.investigation.duties import case_victims
from rxapp.investigation.models import Duty, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.messaging.models import Message
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

from .helpers import parsed, renumbered

pytestmark = pytest.mark.asyncio
SAMPLE = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
BURGLARY, DOMESTIC = "26CL0041877", "26CL0041915"
# The officers in charge of the two sample cases, as they sign in (their display names are what the record says).
PRIYA_SHAH = StaffIdentity(1, "priya.shah", "DC 2210 Priya Shah", "officer", collar_number="DC 2210",
                           team="Hartlepool Safeguarding")
SAM_JONES = StaffIdentity(2, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127",
                          team="Middlesbrough CID")


def sole_victim(s, occ):
    """The case's one victim (these cases have one each)."""
    (victim,) = case_victims(s, occ)
    return victim


def end_of(y, m, d):
    """The end of a London day, as the Code's deadlines are kept."""
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=LONDON).astimezone(UTC)


def sample_changes():
    return [parse_change(c, decoded=True) for c in json.loads(SAMPLE.read_text())["changes"]]


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


def _sender(notify, db_url, clock):
    client = NotifyClient(DEMO_API_KEY, notify.url, timeout=5)
    return OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                        email_template_id=DEFAULT_EMAIL_TEMPLATE_ID), now=clock)


async def play(db_url, notify, changes, until=None, *, step=timedelta(hours=1)):
    """Apply each change at its own time (plus a minute), with the sender and the sweep running between
    changes and every `step` in between, until `until`."""
    AttendanceService(db_url).apply_sync(parsed(renumbered(
        ["burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"])))
    clock = Clock(changes[0].occurred_at)
    service = JourneyService(db_url, now=clock)
    sender = _sender(notify, db_url, clock)

    async def run_until(t):
        while clock.at + step < t:
            clock.at += step
            service.sweep(clock.at)
            await sender.drain()
        clock.at = t
        service.sweep(clock.at)
        await sender.drain()

    for change in changes:
        await run_until(max(clock.at, change.occurred_at + timedelta(minutes=1)))
        service.apply_page([change], change.change_id)
        await sender.drain()
    if until is not None:
        await run_until(until)
    return service, clock


def duties(db_url, occurrence_number):
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == occurrence_number)).one()
        return {d.key: d for d in s.exec(select(Duty).where(Duty.occurrence_id == occ.id))}


def tasks(db_url, occurrence_number):
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == occurrence_number)).one()
        return list(s.exec(select(Task).where(Task.occurrence_id == occ.id).order_by(Task.id)))


def texts_to(server, number):
    return [n.body for n in server.sent if n.to.replace(" ", "") in (number, "0" + number[3:]) and n.type == "sms"]


async def test_the_sample_page_worked_out_by_hand(db_url, notify):
    changes = sample_changes()
    await play(db_url, notify, changes, until=datetime(2026, 12, 30, 12, 0, tzinfo=UTC))

    # -- The burglary (standard rights; texts; consented to updates and referral) ---------------------
    b = duties(db_url, BURGLARY)
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == BURGLARY)).one()
        # It continues the attendance of the dispatch sample: the same victim, not a new one.
        assert occ.incident_id is not None and not sole_victim(s, occ).enhanced
        victim = s.get(Victim, sole_victim(s, occ).victim_id)
        assert victim.phone == "+447700900123" and victim.person_id == "P-88120"
        assert s.exec(select(Victim).where(Victim.person_id == "P-88120")).all() == [victim]
    expected = {
        # key: (deadline, done on time?)  — recorded Fri 20 Nov 11:05, reported 09:12
        "written_confirmation": end_of(2026, 11, 23),  # 1 working day from Friday: Monday
        "support_referral": end_of(2026, 11, 24),      # 2 working days from the report
        "event:c-0004": end_of(2026, 11, 30),          # arrest Mon 23 Nov 07:15: 5 working days
        "event:c-0005": end_of(2026, 11, 30),          # interview
        "event:c-0006": end_of(2026, 11, 30),          # released under investigation (19:05)
        # charge Fri 18 Dec: 21, 22, 23, 24 Dec, then Christmas Day and Boxing Day (Monday 28th, in lieu)
        # are not working days: the 5th is Tuesday 29 December.
        "event:c-0007": end_of(2026, 12, 29),
        "vps_offer": end_of(2026, 12, 29),
    }
    for key, deadline in expected.items():
        assert b[key].due_at == deadline, key
        assert b[key].state == "done" and not b[key].late, (key, b[key].state, b[key].done_how)
    assert b["support_referral"].done_how.startswith("referral made to Victim Care and Advice Service")
    assert b["written_confirmation"].done_how in ("text sent", "text delivered")
    # The arrest (07:15) fell in quiet hours: its text waited for 08:00, still well within the deadline.
    # (The test's sender runs hourly from 07:16, so it went at 08:16.)
    assert datetime(2026, 11, 23, 8, 0, tzinfo=UTC) <= b["event:c-0004"].done_at <= datetime(2026, 11, 23, 9, 0,
                                                                                              tzinfo=UTC)
    # The heartbeat: first due within 5 working days of the report (Fri 27 Nov), but the arrest was news
    # first; then 28 days after the last update, which the charge restarted.
    routine = [d for k, d in b.items() if k.startswith("routine:")]
    assert len(routine) == 1 and routine[0].state == "due"
    assert routine[0].due_at == end_of(2027, 1, 15)  # 28 days after 18 December
    amina = texts_to(notify, "+447700900123")
    ours = [t for t in amina if "CL/26/041877" in t]
    assert any("arrested" in t for t in ours) and any("charged" in t for t in ours)
    assert any("Victim Personal Statement" in t for t in ours)
    # The referral task closed itself when the records system recorded the referral.
    referral = [t for t in tasks(db_url, BURGLARY) if t.duty_id == b["support_referral"].id]
    assert referral and all(t.status == "done" and t.completed_by == "records system" for t in referral)

    # -- Domestic abuse (enhanced twice over; safe contact not confirmed; asked for phone calls) -------
    d = duties(db_url, DOMESTIC)
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == DOMESTIC)).one()
        assert sole_victim(s, occ).enhanced
        assert sole_victim(s, occ).enhanced_reasons == "a victim of domestic abuse; feels fear or distress about giving evidence"
        # Nothing automated reached her: no message about the case at all.
        assert s.exec(select(Message).where(Message.occurrence_id == occ.id)).all() == []
    assert texts_to(notify, "+447700900789") == []
    expected = {
        "written_confirmation": end_of(2026, 11, 23),
        "event:c-0103": end_of(2026, 11, 23),  # arrest Fri 20 Nov 16:10: 1 working day
        "event:c-0104": end_of(2026, 11, 23),  # bail on Saturday 21 Nov: 1 working day is Monday
        "event:c-0105": end_of(2026, 12, 2),   # no further action Tue 1 Dec: Wednesday
    }
    for key, deadline in expected.items():
        assert d[key].due_at == deadline, key
        assert d[key].state == "handed", key
    assert d["support_referral"].state == "done"
    assert d["support_referral"].done_how == "victim did not give the explicit consent a referral needs"
    open_tasks = [t for t in tasks(db_url, DOMESTIC) if t.status == "open"]
    assert {t.title for t in open_tasks} == {"Tell the victim by a safe method",
                                             "Overdue: First update on the investigation"}
    for task in open_tasks:
        assert task.assignee == "DC 2210"
        # Not done by the deadline: escalated to the supervisor of the officer's team, at the deadline.
        assert task.escalated_to == "Supervisor, Hartlepool Safeguarding"
        assert task.escalated_at is not None and task.escalated_at >= task.due_at
    nfa_task = next(t for t in open_tasks if t.duty_id == d["event:c-0105"].id)
    assert "Do not leave voicemail" in nfa_task.detail or "do not leave voicemail" in nfa_task.detail


async def test_a_task_completed_counts_for_the_duty(db_url, notify):
    changes = [c for c in sample_changes() if c.occurrence_number == DOMESTIC]
    service, clock = await play(db_url, notify, changes)
    d = duties(db_url, DOMESTIC)
    task = next(t for t in tasks(db_url, DOMESTIC) if t.duty_id == d["event:c-0105"].id)
    with pytest.raises(ValueError, match="must be one of"):
        service.complete_task(PRIYA_SHAH, task.id, how_told="carrier pigeon")
    service.complete_task(PRIYA_SHAH, task.id, how_told="phone", now=clock.at + timedelta(hours=2))
    with pytest.raises(ValueError, match="already closed"):
        service.complete_task(PRIYA_SHAH, task.id, how_told="phone")
    duty = duties(db_url, DOMESTIC)["event:c-0105"]
    assert duty.state == "done" and not duty.late
    assert duty.done_how == "by phone, by DC 2210 Priya Shah"
    # "Could not be reached" does not count: the duty is still owed, and a fresh task carries it at once.
    bail = next(t for t in tasks(db_url, DOMESTIC) if t.duty_id == d["event:c-0104"].id)
    service.complete_task(PRIYA_SHAH, bail.id, how_told="not_reached", now=clock.at)
    duty = duties(db_url, DOMESTIC)["event:c-0104"]
    assert duty.state == "handed" and duty.done_at is None
    retry = next(t for t in tasks(db_url, DOMESTIC) if t.duty_id == duty.id and t.status == "open")
    assert retry.title.startswith("Try again: ") and retry.assignee == "DC 2210"
    assert retry.due_at > clock.at  # the Code's deadline has passed: within a working day
    assert duty.task_id == retry.id


async def test_safe_contact_confirmed_later_lets_updates_go_by_text(db_url, notify):
    changes = [c for c in sample_changes() if c.occurrence_number == DOMESTIC][:2]
    service, clock = await play(db_url, notify, changes)
    update = parse_change({
        "change_id": "c-0199", "type": "person.updated", "occurred_at": "2026-11-21T10:00:00Z",
        "occurrence_number": DOMESTIC,
        "person": {"person_id": "P-90311", "contact": {"safe_to_contact": True, "preferred_channel": "SMS"},
                   "consent": {"support_referral": True}}}, decoded=True)
    arrest = parse_change({
        "change_id": "c-0198", "type": "investigation.event", "occurred_at": "2026-11-23T10:00:00Z",
        "occurrence_number": DOMESTIC, "event": "SUSPECT_ARRESTED", "detail": {}}, decoded=True)
    clock.at = datetime(2026, 11, 21, 10, 1, tzinfo=UTC)
    service.apply_page([update], "c-0199")
    with session_scope(db_url) as s:
        victim = s.exec(select(Victim).where(Victim.person_id == "P-90311")).one()
        assert s.get(VictimContactState, victim.id).safe_contact_confirmed
    d = duties(db_url, DOMESTIC)
    # She now consents: the referral she declined is owed again, within 2 working days of saying yes.
    assert d["support_referral"].state == "handed" and d["support_referral"].due_at == end_of(2026, 11, 24)
    clock.at = datetime(2026, 11, 23, 10, 1, tzinfo=UTC)
    service.apply_page([arrest], "c-0198")
    await _sender(notify, db_url, clock).drain()
    # An arrest is not one of the personal-call milestones: it goes by text now that contact is safe.
    arrested = duties(db_url, DOMESTIC)["event:c-0198"]
    assert arrested.state == "done" and arrested.done_how in ("text sent", "text delivered")
    assert any("arrested" in t for t in texts_to(notify, "+447700900789"))


async def test_replayed_pages_and_bad_changes(db_url):
    AttendanceService(db_url).apply_sync(parsed(renumbered(["burglary-priority", "domestic-emergency"])))
    now = datetime(2026, 12, 21, 12, 0, tzinfo=UTC)  # after the page's last change (a future one is held)
    service = JourneyService(db_url, now=lambda: now)
    raw = json.loads(SAMPLE.read_text())["changes"]
    page = [parse_change(c, decoded=True) for c in raw]
    bad = [parse_change("not json"), parse_change({**raw[3], "event": "SUSPECT_TELEPORTED"}, decoded=True),
           parse_change({**raw[1], "change_id": "c-9999", "occurrence_number": "26CL0000001"}, decoded=True)]
    first = service.apply_page(page[:5] + bad + page[5:], "cursor-1")
    assert first.applied == len(page) and first.dead_letters == 3
    with session_scope(db_url) as s:
        counts = (len(s.exec(select(Duty)).all()), len(s.exec(select(Message)).all()), len(s.exec(select(Task)).all()))
        reasons = [d.reason for d in s.exec(select(DeadLetter).where(DeadLetter.feed == "niche"))]
        assert s.get(FeedCursor, "niche").cursor == "cursor-1"
    assert any("occurrence not recorded yet" in r for r in reasons)
    assert all("07700" not in r and "Hussain" not in r for r in reasons)
    # The same page again (a crash before the poller saw our answer): nothing changes, nothing is kept twice.
    again = service.apply_page(page + bad, "cursor-1")
    assert again.applied == 0 and again.duplicates == len(page)
    with session_scope(db_url) as s:
        assert (len(s.exec(select(Duty)).all()), len(s.exec(select(Message)).all()),
                len(s.exec(select(Task)).all())) == counts
        assert len(s.exec(select(DeadLetter).where(DeadLetter.feed == "niche")).all()) == 3
    assert service.stored_cursor() == "cursor-1"


async def test_changing_one_deadline_in_the_rules_file_changes_behaviour(tmp_path, monkeypatch):
    """The next Code is a data change: a copy of the rules file with the arrest deadline at 3 working days
    instead of 5, named by VJ_CODE_RULES, moves the arrest duty's deadline. No code is touched."""
    from rxapp.plumbing import db

    def arrest_deadline(name):
        url = f"sqlite:///{tmp_path / name}"
        journey.code.cache_clear()
        config.reset_settings()
        db.migrate(url)
        AttendanceService(url).apply_sync(parsed(renumbered(["burglary-priority"])))
        now = datetime(2026, 11, 23, 7, 16, tzinfo=UTC)
        page = [c for c in sample_changes() if c.occurrence_number == BURGLARY][:4]
        JourneyService(url, now=lambda: now).apply_page(page, "p")
        return duties(url, BURGLARY)["event:c-0004"].due_at

    try:
        assert arrest_deadline("code-2020.db") == end_of(2026, 11, 30)
        rules = json.loads(DEFAULT_PATH.read_text())
        rules["milestones"]["suspect_arrested"]["standard_working_days"] = 3
        changed = tmp_path / "next_code.json"
        changed.write_text(json.dumps(rules))
        monkeypatch.setenv("VJ_CODE_RULES", str(changed))
        assert arrest_deadline("next-code.db") == end_of(2026, 11, 26)  # Monday 07:15 + 3 working days: Thursday
    finally:
        monkeypatch.delenv("VJ_CODE_RULES", raising=False)
        journey.code.cache_clear()
        config.reset_settings()


async def test_the_sweep_reads_only_what_is_due_by_index(db_url):
    """The sweep's two queries are index range scans on the due times, whatever the number of cases."""
    if not db_url.startswith("sqlite"):
        pytest.skip("query plans checked on SQLite; PostgreSQL's planner is measured in bench/sweep.py")
    from rxapp.plumbing.db import engine

    with engine(db_url).connect() as conn:
        duty_plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM duty WHERE check_at <= '2026-12-01' ORDER BY check_at LIMIT 500"))
        task_plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM task WHERE escalate_at <= '2026-12-01' ORDER BY escalate_at LIMIT 500"))
    assert "USING INDEX ix_duty_check_at" in duty_plan, duty_plan
    assert "USING INDEX ix_task_escalate_at" in task_plan, task_plan


async def test_a_sweep_stops_at_its_time_budget_and_the_next_carries_on(db_url, notify):
    """A backlog (the runner was down) drains over several passes, each kept short, oldest first."""
    changes = [c for c in sample_changes() if c.occurrence_number == BURGLARY][:2]
    service, clock = await play(db_url, notify, changes)
    later = clock.at + timedelta(days=60)  # the heartbeat and more have come due meanwhile
    with session_scope(db_url) as s:
        due = len(s.exec(select(Duty).where(Duty.check_at <= later)).all())
    assert due >= 2
    first = service.sweep(later, budget_seconds=0)
    assert first.checked == 1 and first.more
    rest = service.sweep(later, budget_seconds=None)
    assert not rest.more and first.checked + rest.checked >= due
    with session_scope(db_url) as s:
        assert s.exec(select(Duty).where(Duty.check_at <= later)).all() == []


# ---- every milestone through the service, standard and enhanced --------------------------------------

EVENT_TEMPLATES = {
    "NOT_INVESTIGATED": "update_not_investigated", "SUSPECT_ARRESTED": "update_suspect_arrested",
    "SUSPECT_INTERVIEWED": "update_suspect_interviewed", "RELEASED_NFA": "update_released_nfa",
    "RELEASED_ON_BAIL": "update_released_on_bail",
    "RELEASED_UNDER_INVESTIGATION": "update_released_under_investigation",
    "BAIL_CONDITIONS_CHANGED": "update_bail_changed", "BAIL_CANCELLED": "update_bail_changed",
    "CHARGED": "update_charged", "OUT_OF_COURT_DISPOSAL": "update_out_of_court_disposal",
    "FILED_PENDING_INFORMATION": "update_filed", "PROPERTY_READY_FOR_RETURN": "update_property_return",
}
DETAILS = {"NOT_INVESTIGATED": {"reason": "No lines of enquiry"}, "RELEASED_NFA": {"reason": "Insufficient evidence"},
           "RELEASED_ON_BAIL": {"conditions": ["Not to contact the victim"], "bail_date": "2027-01-08"},
           "CHARGED": {"charges": ["Theft"], "first_hearing": "2027-01-08T10:00:00Z"},
           "OUT_OF_COURT_DISPOSAL": {"kind": "CAUTION"}}


def _case(flags=(), needs=None):
    """A case recorded on Thursday 2 April 2026 (the Thursday before Good Friday) and its victim."""
    return [parse_change(c, decoded=True) for c in (
        {"change_id": "t-1", "type": "occurrence.recorded", "occurred_at": "2026-03-30T10:00:00Z",
         "occurrence_number": "26CL0090001",
         "occurrence": {"occurrence_number": "26CL0090001", "crime_reference": "CL/26/090001",
                        "classification": {"code": "49/1", "text": "Theft"}, "reported_at": "2026-03-30T09:00:00Z",
                        "recorded_at": "2026-03-30T10:00:00Z", "incident_urn": None,
                        "oic": {"collar_number": "PC 1234", "name": "Test Officer", "email": None, "team": "Test Team"},
                        "flags": list(flags)}},
        {"change_id": "t-2", "type": "person.linked", "occurred_at": "2026-03-30T10:01:00Z",
         "occurrence_number": "26CL0090001",
         "person": {"person_id": "P-T1", "role": "VICTIM", "name": {"given": "Test", "family": "Victim"},
                    "date_of_birth": "1990-01-01",
                    "contact": {"mobile": "07700900555", "email": None, "postal_address": None,
                                "preferred_channel": "SMS", "language": "en", "safe_to_contact": True,
                                "contact_notes": None},
                    "needs": needs or {"vulnerable": [], "intimidated": False, "persistently_targeted": False,
                                       "interpreter": False, "accessibility": None},
                    "consent": {"updates": True, "support_referral": True}}})]


@pytest.mark.parametrize("enhanced", [False, True], ids=["standard", "enhanced"])
@pytest.mark.parametrize("event", sorted(EVENT_TEMPLATES))
async def test_every_milestone_standard_and_enhanced(db_url, event, enhanced):
    """The arrest at 16:00 on the Thursday before Good Friday 2026, and every other milestone at that
    moment: standard victims by the end of Monday 13 April (Good Friday and Easter Monday are not working
    days), enhanced by the end of Tuesday 7 April; the right template, or a person's call where the rules
    file says an enhanced victim hears it from a person."""
    needs = {"vulnerable": ["LEARNING_DISABILITY"], "intimidated": False, "persistently_targeted": False,
             "interpreter": False, "accessibility": None} if enhanced else None
    at = datetime(2026, 4, 2, 15, 0, tzinfo=UTC)  # 16:00 in London (BST)
    service = JourneyService(db_url, now=lambda: at + timedelta(minutes=1))
    change = parse_change({"change_id": "t-3", "type": "investigation.event", "occurred_at": at.isoformat(),
                           "occurrence_number": "26CL0090001", "event": event, "detail": DETAILS.get(event, {})},
                          decoded=True)
    result = service.apply_page(_case(needs=needs) + [change], "t-3")
    assert result.applied == 3 and result.dead_letters == 0
    duty = duties(db_url, "26CL0090001")["event:t-3"]
    milestone = journey.code().milestone_for_event(event)[0]
    if milestone.key == "property_return":  # 5 working days for everyone
        assert duty.due_at == end_of(2026, 4, 13)
    else:
        assert duty.due_at == (end_of(2026, 4, 7) if enhanced else end_of(2026, 4, 13))
    with session_scope(db_url) as s:
        message = s.exec(select(Message).where(Message.duty_id == duty.id)).first()
        task = s.get(Task, duty.task_id) if duty.task_id else None
    if enhanced and milestone.personal_call_when_enhanced:
        assert message is None and task.title == "Phone the victim (enhanced rights)" and task.due_at == duty.due_at
        assert "learning disability" in task.detail
    else:
        assert message.template == EVENT_TEMPLATES[event] and message.channel == "sms"
        assert "CL/26/090001" in message.body and duty.state == "due"


@pytest.mark.parametrize("flags, needs_consent", [((), False), (("HATE_CRIME",), False),
                                                   (("DOMESTIC_ABUSE",), True), (("SEXUAL_OFFENCE",), True),
                                                   (("BEREAVED",), True)])
@pytest.mark.parametrize("consent", [True, False])  # the contract's consent is a boolean
async def test_referral_consent_rules(db_url, flags, needs_consent, consent):
    """Explicit consent for sexual offences, domestic abuse and bereaved relatives; otherwise the referral
    goes ahead unless the victim objects. Due 2 working days from the report either way. (The records
    feed's consent is true or false: with no consent recorded, no referral is made in any category.)"""
    at = datetime(2026, 3, 30, 10, 5, tzinfo=UTC)
    page = _case(flags=flags)
    person = json.loads(json.dumps(_raw_person()))
    person["person"]["consent"]["support_referral"] = consent
    page[1] = parse_change(person, decoded=True)
    JourneyService(db_url, now=lambda: at).apply_page(page, "t-2")
    duty = duties(db_url, "26CL0090001")["support_referral"]
    assert duty.due_at == end_of(2026, 4, 1)  # Monday 30 March + 2 working days
    with session_scope(db_url) as s:
        task = s.get(Task, duty.task_id) if duty.task_id else None
    if consent is False:
        assert duty.state == "done" and duty.done_how == (
            "victim did not give the explicit consent a referral needs" if needs_consent
            else "victim objected to a referral")
    else:
        assert duty.state == "handed" and task.title == "Refer the victim to support services"


def _raw_person():
    return {"change_id": "t-2", "type": "person.linked", "occurred_at": "2026-03-30T10:01:00Z",
            "occurrence_number": "26CL0090001",
            "person": {"person_id": "P-T1", "role": "VICTIM", "name": {"given": "Test", "family": "Victim"},
                       "date_of_birth": "1990-01-01",
                       "contact": {"mobile": "07700900555", "email": None, "postal_address": None,
                                   "preferred_channel": "SMS", "language": "en", "safe_to_contact": True,
                                   "contact_notes": None},
                       "needs": {"vulnerable": [], "intimidated": False, "persistently_targeted": False,
                                 "interpreter": False, "accessibility": None},
                       "consent": {"updates": True, "support_referral": True}}}


async def test_an_agreed_update_frequency_moves_the_next_routine_update(db_url, notify):
    changes = [c for c in sample_changes() if c.occurrence_number == BURGLARY][:6]  # up to release (RUI)
    service, clock = await play(db_url, notify, changes)
    routine = next(d for k, d in duties(db_url, BURGLARY).items() if k.startswith("routine:") and d.state == "due")
    assert routine.due_at == end_of(2026, 12, 21)  # the Code's default: 28 days after Monday 23 November
    with pytest.raises(ValueError, match="every 1 to 90 days"):
        service.agree_update_frequency(SAM_JONES, BURGLARY, 0)
    with pytest.raises(LookupError):
        service.agree_update_frequency(SAM_JONES, "26CL0000000", 14)
    service.agree_update_frequency(SAM_JONES, BURGLARY, 14, now=clock.at)
    routine = duties(db_url, BURGLARY)[routine.key]
    assert routine.due_at == end_of(2026, 12, 7)  # 14 days after the last update
    # Back to the default.
    service.agree_update_frequency(SAM_JONES, BURGLARY, None, now=clock.at)
    assert duties(db_url, BURGLARY)[routine.key].due_at == end_of(2026, 12, 21)


async def test_a_failed_delivery_hands_the_duty_to_a_person_with_the_codes_deadline(db_url):
    """A text the network refuses for good, to a victim with no email: the duty is owed again and becomes
    a task for the officer in charge, due by the Code's deadline for it."""
    from integrations.govuk_notify.callbacks import parse_delivery_receipt
    from rxapp.messaging.outbox import log_event
    from rxapp.messaging.receipts import record_receipt

    at = datetime(2026, 3, 30, 10, 5, tzinfo=UTC)
    JourneyService(db_url, now=lambda: at).apply_page(_case(), "t-2")
    written = duties(db_url, "26CL0090001")["written_confirmation"]
    with session_scope(db_url) as s:
        message = s.get(Message, written.message_id)
        message.status, message.sent_at, message.updated_at = "sent", at, at
        log_event(s, message, "sent", "accepted by the provider")
        reference = message.reference
    assert duties(db_url, "26CL0090001")["written_confirmation"].state == "done"
    with session_scope(db_url) as s:
        record_receipt(s, parse_delivery_receipt({"status": "permanent-failure", "reference": reference}), now=at + timedelta(minutes=5))
    duty = duties(db_url, "26CL0090001")["written_confirmation"]
    assert duty.state == "handed" and duty.done_at is None
    with session_scope(db_url) as s:
        task = s.get(Task, duty.task_id)
        assert task.kind == "delivery_failed" and task.assignee == "PC 1234"
        assert task.due_at == duty.due_at == end_of(2026, 3, 31)
        assert s.get(VictimContactState, s.get(Message, written.message_id).victim_id).phone_failed_permanently


async def test_a_milestone_before_the_victim_is_linked_is_still_owed(db_url):
    """The records system sent an arrest before it linked the victim: once linked, the arrest is owed,
    with its deadline counted from the arrest."""
    arrest = parse_change({"change_id": "t-0", "type": "investigation.event", "occurred_at": "2026-03-30T10:02:00Z",
                           "occurrence_number": "26CL0090001", "event": "SUSPECT_ARRESTED", "detail": {}},
                          decoded=True)
    recorded, linked = _case()
    at = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    service = JourneyService(db_url, now=lambda: at)
    service.apply_page([recorded, arrest], "p1")
    assert "event:t-0" not in duties(db_url, "26CL0090001")  # nobody to owe it to yet
    service.apply_page([linked], "p2")
    duty = duties(db_url, "26CL0090001")["event:t-0"]
    # Monday 30 March + 5 working days, Good Friday and Easter Monday skipped: Wednesday 8 April.
    assert duty.triggered_at == datetime(2026, 3, 30, 10, 2, tzinfo=UTC) and duty.due_at == end_of(2026, 4, 8)
    with session_scope(db_url) as s:
        assert s.get(Message, duty.message_id).template == "update_suspect_arrested"


async def test_a_victim_who_now_prefers_email_gets_email(db_url):
    at = datetime(2026, 3, 30, 12, 5, tzinfo=UTC)  # after the changes it applies (a future one is held)
    service = JourneyService(db_url, now=lambda: at)
    service.apply_page(_case(), "p1")
    service.apply_page([parse_change({
        "change_id": "t-4", "type": "person.updated", "occurred_at": "2026-03-30T11:00:00Z",
        "occurrence_number": "26CL0090001",
        "person": {"person_id": "P-T1", "contact": {"email": "test.victim@example.org", "preferred_channel": "EMAIL"}}},
        decoded=True), parse_change({
        "change_id": "t-5", "type": "investigation.event", "occurred_at": "2026-03-30T12:00:00Z",
        "occurrence_number": "26CL0090001", "event": "SUSPECT_ARRESTED", "detail": {}}, decoded=True)], "p2")
    with session_scope(db_url) as s:
        message = s.get(Message, duties(db_url, "26CL0090001")["event:t-5"].message_id)
        assert message.channel == "email" and message.destination == "test.victim@example.org"
