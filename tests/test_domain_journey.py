"""The journey's rules (rxapp/domain/journey.py), table-driven: who tells the victim, each way into
enhanced rights from what the records feed says, and a duty's status."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from integrations.niche.protocol import FLAGS, VULNERABILITIES
from rxapp.domain import journey
from rxapp.domain.code_rules import load_code

CODE = load_code()
UTC = timezone.utc
REPORTED = datetime(2026, 11, 20, 9, 12, tzinfo=UTC)


def facts(**kw) -> journey.ContactFacts:
    base = dict(flags=frozenset(), safe_contact_confirmed=False, opted_out=False, preferred_channel="SMS",
                has_usable_channel=True, enhanced=False, enhanced_reasons=())
    base.update(kw)
    return journey.ContactFacts(**base)


ARRESTED = CODE.milestone("suspect_arrested")
NFA = CODE.milestone("released_nfa")

PLANS = [
    # (case, facts, milestone, action, rule)
    ("standard victim, texts", facts(), ARRESTED, "message", ""),
    ("standard victim, email", facts(preferred_channel="EMAIL"), ARRESTED, "message", ""),
    ("not said how: automation", facts(preferred_channel=None), ARRESTED, "message", ""),
    ("asked for a phone call", facts(preferred_channel="PHONE"), ARRESTED, "task", "preferred_channel"),
    ("asked for a letter", facts(preferred_channel="LETTER"), ARRESTED, "task", "preferred_channel"),
    ("no usable mobile or email", facts(has_usable_channel=False), ARRESTED, "task", "no_channel"),
    ("opted out", facts(opted_out=True), ARRESTED, "task", "opted_out"),
    ("domestic abuse, safe contact not confirmed", facts(flags=frozenset({"DOMESTIC_ABUSE"})), ARRESTED, "task",
     "safe_contact_not_confirmed"),
    ("sexual offence, safe contact not confirmed", facts(flags=frozenset({"SEXUAL_OFFENCE"})), ARRESTED, "task",
     "safe_contact_not_confirmed"),
    ("domestic abuse, safe contact not confirmed, even a routine update",
     facts(flags=frozenset({"DOMESTIC_ABUSE"})), None, "task", "safe_contact_not_confirmed"),
    ("domestic abuse, safe contact confirmed, arrest (not a personal-call milestone)",
     facts(flags=frozenset({"DOMESTIC_ABUSE"}), safe_contact_confirmed=True, enhanced=True), ARRESTED,
     "message", ""),
    ("domestic abuse, safe contact confirmed, no further action: a person phones",
     facts(flags=frozenset({"DOMESTIC_ABUSE"}), safe_contact_confirmed=True, enhanced=True), NFA, "task",
     "enhanced_personal_call"),
    ("hate crime (enhanced), NFA: a person phones", facts(flags=frozenset({"HATE_CRIME"}), enhanced=True), NFA,
     "task", "enhanced_personal_call"),
    ("enhanced, routine update: automation", facts(enhanced=True), None, "message", ""),
    ("standard, NFA: automation", facts(), NFA, "message", ""),
    ("opting out beats everything", facts(opted_out=True, flags=frozenset({"DOMESTIC_ABUSE"})), NFA, "task",
     "opted_out"),
    ("safety beats the preferred channel", facts(flags=frozenset({"DOMESTIC_ABUSE"}), preferred_channel="PHONE"),
     ARRESTED, "task", "safe_contact_not_confirmed"),
]


@pytest.mark.parametrize("case, f, milestone, action, rule", PLANS, ids=[p[0] for p in PLANS])
def test_who_tells_the_victim(case, f, milestone, action, rule):
    plan = journey.plan_contact(CODE, f, milestone)
    assert plan.action == action
    assert plan.rule == rule
    if action == "task":
        assert plan.title and plan.reason  # staff read why


def test_every_milestone_marked_for_a_personal_call_is_a_task_for_enhanced_victims():
    for milestone in CODE.milestones.values():
        plan = journey.plan_contact(CODE, facts(enhanced=True), milestone)
        assert plan.automated is (not milestone.personal_call_when_enhanced), milestone.key


# ---- enhanced rights from the records feed's own words -----------------------------------------------

def entitled(**kw):
    base = dict(feed_flags=(), date_of_birth=date(1980, 1, 1), offence_at=REPORTED, vulnerabilities=(),
                intimidated=False, persistently_targeted=False)
    base.update(kw)
    return journey.entitlement(CODE, **base)


@pytest.mark.parametrize("flag", FLAGS)
def test_every_feed_flag_gives_enhanced_rights(flag):
    enhanced, reasons = entitled(feed_flags=(flag,))
    assert enhanced and len(reasons) == 1


@pytest.mark.parametrize("need", VULNERABILITIES)
def test_every_feed_vulnerability_gives_enhanced_rights(need):
    assert entitled(vulnerabilities=(need,))[0]


@pytest.mark.parametrize("dob, enhanced", [
    (date(2008, 11, 21), True),   # 17 on the day of the report (20 Nov 2026): 18 tomorrow
    (date(2008, 11, 20), False),  # 18 that very day
    (date(2011, 5, 5), True),
])
def test_under_18_at_the_offence(dob, enhanced):
    assert entitled(date_of_birth=dob)[0] is enhanced


def test_offence_date_is_the_london_date():
    # 23:30 UTC on 19 March 2026 is still 19 March in London (GMT); the victim turns 18 on 20 March.
    late = datetime(2026, 3, 19, 23, 30, tzinfo=UTC)
    assert entitled(date_of_birth=date(2008, 3, 20), offence_at=late)[0]
    # 23:30 UTC on 19 July is 00:30 on 20 July in London (BST): already 18.
    summer = datetime(2026, 7, 19, 23, 30, tzinfo=UTC)
    assert not entitled(date_of_birth=date(2008, 7, 20), offence_at=summer)[0]


def test_intimidated_and_persistently_targeted():
    assert entitled(intimidated=True)[1] == ["feels fear or distress about giving evidence"]
    assert entitled(persistently_targeted=True)[1] == ["persistently targeted"]


def test_standard_victim_and_several_reasons():
    assert entitled() == (False, [])
    enhanced, reasons = entitled(feed_flags=("DOMESTIC_ABUSE",), intimidated=True)
    assert enhanced and reasons == ["a victim of domestic abuse", "feels fear or distress about giving evidence"]


def test_unknown_date_of_birth_gives_no_age_reason():
    assert entitled(date_of_birth=None) == (False, [])


# ---- statuses ------------------------------------------------------------------------------------------

DUE = datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("state, done_at, late, now, label, tone", [
    ("done", DUE - timedelta(days=2), False, DUE, "Done", "good"),
    ("done", DUE + timedelta(hours=3), True, DUE + timedelta(days=1), "Done late", "warn"),
    ("due", None, False, DUE - timedelta(days=1), "Due", "neutral"),
    ("due", None, False, DUE + timedelta(seconds=1), "Late", "bad"),
    ("due", None, True, DUE - timedelta(days=1), "Late", "bad"),
    ("handed", None, False, DUE - timedelta(days=1), "With a person", "warn"),
    ("handed", None, True, DUE + timedelta(days=1), "With a person (late)", "bad"),
    ("cancelled", None, False, DUE, "Not owed", "neutral"),
])
def test_duty_status(state, done_at, late, now, label, tone):
    status = journey.duty_status(state=state, due_at=DUE, done_at=done_at, done_how="text delivered", late=late,
                                 now=now, assignee="PC 4127")
    assert (status.label, status.tone) == (label, tone)
    if state == "done":
        assert "text delivered" in status.detail
    if state == "handed":
        assert "PC 4127" in status.detail


def test_routine_update_goes_on_its_day_in_london_within_the_send_window():
    due = datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=UTC)  # end of Friday 27 Nov (GMT)
    assert journey.routine_send_at(CODE, due, REPORTED) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    summer_due = datetime(2026, 7, 10, 22, 59, 59, tzinfo=UTC)  # end of Friday 10 July (BST)
    assert journey.routine_send_at(CODE, summer_due, REPORTED - timedelta(days=200)) == \
        datetime(2026, 7, 10, 8, 0, tzinfo=UTC)
    # Already past the send time: now.
    late_now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert journey.routine_send_at(CODE, due, late_now) == late_now
    # Each case has its own time in the window (09:00 to 17:00), so a day's updates do not all go at nine.
    times = {journey.routine_send_at(CODE, due, REPORTED, key) for key in range(1, 1001)}
    assert len(times) > 400
    assert min(times) >= datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert max(times) < datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


def test_day_words_are_london_dates():
    assert journey.day_words(datetime(2026, 12, 28, 23, 30, tzinfo=UTC)) == "Monday 28 December"
    assert journey.day_words(datetime(2026, 6, 1, 23, 30, tzinfo=UTC)) == "Tuesday 2 June"
