"""Issue 11, point 7: facts at their own time.

An investigation event dated in the future when it is processed (the records sample's charge dated Friday
18 December, read on Tuesday 1 December) is held: on the case for the officer ("dated in the future: not
told; check the record"), with a task to check the record, told to nobody, and told through the normal path
when its date comes (the deadline sweep) or when a corrected record dates it now (then once, not twice).

A duty met by a fact in the records feed is met at the time of that fact, not when the product read it: a
referral the victim declined shows as "Declined", never "Done late", even when the deadline sweep had marked
it late before the product read the answer.

The rules are tested directly (rxapp/domain/journey.py); the rest through the journey service's feed path
(`JourneyService.apply_page`, as the NICHE poller calls it) with the contract's sample page.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from integrations.niche.protocol import parse_change
from rxapp.domain import journey as rules
from rxapp.domain.statuses import DutyState
from rxapp.feeds.models import DeadLetter
from rxapp.investigation.models import Duty, Occurrence, OccurrenceEvent
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail
from rxapp.messaging.models import Message
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task

UTC = timezone.utc
SAMPLE = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"
BURGLARY, DOMESTIC = "26CL0041877", "26CL0041915"
PROCESSED = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # after the page's last change (RELEASED_NFA, 14:00)
CHARGED_AT = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)  # seventeen days ahead
SAM_JONES = StaffIdentity(2, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127",
                          team="Middlesbrough CID")
PRIYA_SHAH = StaffIdentity(1, "priya.shah", "DC 2210 Priya Shah", "officer", collar_number="DC 2210",
                           team="Hartlepool Safeguarding")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 3, 23, 59, tzinfo=UTC)


# ---- the rules ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("at, tolerance, held", [
    (NOW + timedelta(days=17), timedelta(minutes=15), True),   # the sample's charge
    (NOW + timedelta(minutes=16), timedelta(minutes=15), True),
    (NOW + timedelta(minutes=15), timedelta(minutes=15), False),  # a clock a little fast: within tolerance
    (NOW + timedelta(minutes=2), timedelta(minutes=15), False),
    (NOW - timedelta(days=3), timedelta(0), False),
    (NOW + timedelta(seconds=1), timedelta(0), True),
])
def test_an_event_dated_beyond_the_tolerance_is_dated_in_the_future(at, tolerance, held):
    assert rules.dated_in_future(at, NOW, tolerance) is held


def test_a_victims_no_is_never_late_and_a_fact_after_its_deadline_is():
    assert rules.met_late(DUE + timedelta(days=2), DUE, declined=True) is False
    assert rules.met_late(DUE + timedelta(days=2), DUE, declined=False) is True
    assert rules.met_late(DUE - timedelta(days=1), DUE, declined=False) is False
    assert rules.referral_declined(rules.REFERRAL_OBJECTED)
    assert rules.referral_declined(rules.REFERRAL_NO_EXPLICIT_CONSENT)
    assert not rules.referral_declined("referral made to Victim Care and Advice Service (records system)")
    assert not rules.referral_declined(None)


def test_a_declined_referral_reads_declined_whenever_it_was_answered():
    for done_at in (DUE - timedelta(days=1), DUE + timedelta(days=4)):
        status = rules.duty_status(state=DutyState.DONE, due_at=DUE, done_at=done_at,
                                   done_how=rules.REFERRAL_OBJECTED, late=False, now=NOW + timedelta(days=9))
        assert (status.label, status.tone) == ("Declined", "good")
        assert rules.REFERRAL_OBJECTED in status.detail and "was due" not in status.detail
    made = rules.duty_status(state=DutyState.DONE, due_at=DUE, done_at=DUE + timedelta(days=1),
                             done_how="referral made (records system)", late=True, now=NOW)
    assert made.label == "Done late"  # a referral made after its deadline was late: that is not a "no"


def test_a_held_duty_reads_held_until_it_is_told():
    status = rules.duty_status(state=DutyState.DUE, due_at=CHARGED_AT + timedelta(days=1), done_at=None,
                               done_how=None, late=False, now=NOW, held_until=CHARGED_AT)
    assert (status.label, status.tone) == ("Held", "warn")
    assert rules.HELD_WORDS in status.detail and "Fri 18 Dec 2026, 10:00" in status.detail
    told = rules.duty_status(state=DutyState.DUE, due_at=CHARGED_AT + timedelta(days=1), done_at=None,
                             done_how=None, late=False, now=NOW, held_until=None)
    assert told.label == "Due"


# ---- through the records feed ------------------------------------------------------------------------------

class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def raw_sample() -> list[dict]:
    return json.loads(SAMPLE.read_text())["changes"]


def parsed(raw: list[dict]):
    return [parse_change(c, decoded=True) for c in raw]


def read(db_url, number):
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        duties = {d.key: d for d in s.exec(select(Duty).where(Duty.occurrence_id == occ.id))}
        messages = list(s.exec(select(Message).where(Message.occurrence_id == occ.id).order_by(Message.id)))
        tasks = list(s.exec(select(Task).where(Task.occurrence_id == occ.id).order_by(Task.id)))
        events = {e.change_id: e for e in s.exec(select(OccurrenceEvent).where(
            OccurrenceEvent.occurrence_id == occ.id))}
        return duties, messages, tasks, events


def templates(messages) -> list[str]:
    return [m.template for m in messages]


@pytest.fixture
def processed(db_url):
    """The sample page read in one go on 1 December, as in the issue."""
    clock = Clock(PROCESSED)
    service = JourneyService(db_url, now=clock)
    counts = service.apply_page(parsed(raw_sample()), "c-0105")
    assert counts.applied == len(raw_sample()), counts
    return service, clock


def test_the_samples_charge_dated_18_december_is_held_for_the_officer_not_told(db_url, processed):
    duties, messages, tasks, events = read(db_url, BURGLARY)
    charged, vps = duties["event:c-0007"], duties["vps_offer"]
    for duty in (charged, vps):
        assert duty.state == DutyState.DUE and duty.held_until == CHARGED_AT, (duty.key, duty.held_until)
        assert duty.message_id is None and duty.task_id is None and duty.check_at == CHARGED_AT
        assert duty.triggered_at == CHARGED_AT and duty.due_at > CHARGED_AT  # the Code counts from its date
    # The arrest, interview and release (all in the past) are told; the charge and the VPS offer are not.
    assert "update_charged" not in templates(messages) and "vps_offer" not in templates(messages)
    assert {"update_suspect_arrested", "update_released_under_investigation"} <= set(templates(messages)), \
        templates(messages)
    held = events["c-0007"]
    assert not held.public and rules.HELD_WORDS in held.staff_text
    checks = [t for t in tasks if t.kind == "check_record"]
    assert len(checks) == 1 and checks[0].status == "open" and checks[0].assignee == "PC 4127"
    assert "Fri 18 Dec 2026, 10:00" in checks[0].detail
    with session_scope(db_url) as s:  # held on the case, not thrown away as a dead letter
        assert not s.exec(select(DeadLetter)).all()
        # On the officer's case page: the duty "Held", the timeline row for staff only, saying why.
        page = case_detail(s, SAM_JONES, BURGLARY, PROCESSED)
    rows = {r["key"]: r for r in page["duties"]}
    for key in ("event:c-0007", "vps_offer"):
        assert rows[key]["status_label"] == "Held" and rules.HELD_WORDS in rows[key]["status_detail"], rows[key]
    (line,) = [t for t in page["timeline"] if "Charged" in t["staff_text"]]
    assert line["audience"] == "Staff only" and rules.HELD_WORDS in line["staff_text"]


def test_a_held_charge_is_told_when_its_date_comes(db_url, processed):
    service, clock = processed
    for day in (2, 10, 17):  # the sweep passes over it until its date
        service.sweep(datetime(2026, 12, day, 12, 0, tzinfo=UTC))
    duties, messages, _, events = read(db_url, BURGLARY)
    assert duties["event:c-0007"].held_until == CHARGED_AT and "update_charged" not in templates(messages)

    result = service.sweep(CHARGED_AT + timedelta(minutes=5))
    assert result.released == 2, result
    duties, messages, _, events = read(db_url, BURGLARY)
    assert templates(messages).count("update_charged") == 1 and templates(messages).count("vps_offer") == 1
    for key in ("event:c-0007", "vps_offer"):
        assert duties[key].held_until is None and duties[key].message_id is not None
    assert events["c-0007"].public and rules.HELD_WORDS not in events["c-0007"].staff_text
    service.sweep(CHARGED_AT + timedelta(days=1))  # told once
    _, messages, _, _ = read(db_url, BURGLARY)
    assert templates(messages).count("update_charged") == 1


def test_a_corrected_record_is_told_at_once_and_the_held_one_never(db_url, processed):
    service, clock = processed
    clock.at = PROCESSED + timedelta(hours=1)
    raw = raw_sample()
    (charge,) = [copy.deepcopy(c) for c in raw if c["change_id"] == "c-0007"]
    corrected_at = PROCESSED + timedelta(minutes=40)
    charge["change_id"], charge["occurred_at"] = "c-0007-corrected", corrected_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The held change again (a replay) changes nothing; its correction is applied.
    service.apply_page(parsed([c for c in raw if c["change_id"] == "c-0007"] + [charge]), "c-0007-corrected")
    duties, messages, _, events = read(db_url, BURGLARY)
    assert duties["event:c-0007"].state == DutyState.CANCELLED and duties["event:c-0007"].held_until is None
    assert duties["event:c-0007-corrected"].message_id is not None
    vps = duties["vps_offer"]  # owed from the corrected charge, and told now
    assert vps.held_until is None and vps.triggered_at == corrected_at and vps.message_id is not None
    assert templates(messages).count("update_charged") == 1 and templates(messages).count("vps_offer") == 1
    assert not events["c-0007"].public and events["c-0007-corrected"].public
    service.sweep(CHARGED_AT + timedelta(hours=1))  # the old date comes: nothing more is told
    _, messages, _, _ = read(db_url, BURGLARY)
    assert templates(messages).count("update_charged") == 1 and templates(messages).count("vps_offer") == 1


def test_a_referral_the_sample_victim_declined_reads_declined_when_read_long_after(db_url, processed):
    """The domestic-abuse victim declined a referral when linked (20 November); read on 1 December, after its
    deadline: met at the time of her answer, and "Declined"."""
    duties, _, _, _ = read(db_url, DOMESTIC)
    referral = duties["support_referral"]
    assert referral.state == DutyState.DONE and not referral.late
    assert referral.done_at == datetime(2026, 11, 20, 12, 41, tzinfo=UTC)
    with session_scope(db_url) as s:
        page = case_detail(s, PRIYA_SHAH, DOMESTIC, PROCESSED)
    row = next(r for r in page["duties"] if r["key"] == "support_referral")
    assert row["status_label"] == "Declined" and row["tone"] == "good", row


def test_a_no_read_after_the_sweep_marked_it_late_is_declined_not_late(db_url):
    """She consented when linked (domestic abuse: a person makes the referral), nobody made it, the sweep
    marked it late at its deadline, and only then does the product read her "no" (she withdrew consent, as
    recorded after the deadline): it shows as declined, not "done late", and its overdue task closes."""
    raw = [c for c in raw_sample() if c["occurrence_number"] == DOMESTIC][:2]
    raw[1] = copy.deepcopy(raw[1])
    raw[1]["person"]["consent"]["support_referral"] = True
    clock = Clock(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    service = JourneyService(db_url, now=clock)
    service.apply_page(parsed(raw), "c-0102")
    duties, _, _, _ = read(db_url, DOMESTIC)
    assert duties["support_referral"].state == DutyState.HANDED
    due = duties["support_referral"].due_at
    service.sweep(due + timedelta(hours=1))
    duties, _, _, _ = read(db_url, DOMESTIC)
    assert duties["support_referral"].late
    answered = due.replace(second=0, microsecond=0) + timedelta(days=1)  # the feed's times are to the second
    clock.at = answered + timedelta(days=2)
    service.apply_page(parsed([{
        "change_id": "c-0110", "type": "person.updated", "occurred_at": answered.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "occurrence_number": DOMESTIC,
        "person": {"person_id": "P-90311", "consent": {"support_referral": False}}}]), "c-0110")
    duties, _, tasks, _ = read(db_url, DOMESTIC)
    referral = duties["support_referral"]
    assert referral.state == DutyState.DONE and referral.done_at == answered and not referral.late
    assert referral.done_how == rules.REFERRAL_NO_EXPLICIT_CONSENT
    assert not [t for t in tasks if t.duty_id == referral.id and t.status == "open"]
    with session_scope(db_url) as s:
        page = case_detail(s, PRIYA_SHAH, DOMESTIC, clock.at)
    row = next(r for r in page["duties"] if r["key"] == "support_referral")
    assert row["status_label"] == "Declined", row


def test_a_held_event_with_nobody_linked_yet_is_told_to_the_victim_linked_after_its_date(db_url):
    """The charge came (dated ahead) before the records system linked the victim; she is linked after its
    date: she is told of it then, by the Code's deadline from its date, and it joins her timeline."""
    raw = {c["change_id"]: c for c in raw_sample()}
    clock = Clock(PROCESSED)
    service = JourneyService(db_url, now=clock)
    service.apply_page(parsed([raw["c-0001"], raw["c-0007"]]), "c-0007")
    _, _, tasks, events = read(db_url, BURGLARY)
    assert not events["c-0007"].public and [t.kind for t in tasks] == ["check_record"]
    clock.at = CHARGED_AT + timedelta(hours=2)
    service.apply_page(parsed([raw["c-0002"]]), "c-0002")
    duties, messages, _, events = read(db_url, BURGLARY)
    charged = duties["event:c-0007"]
    assert charged.held_until is None and charged.triggered_at == CHARGED_AT and charged.message_id is not None
    assert "update_charged" in templates(messages) and events["c-0007"].public
