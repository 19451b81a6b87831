"""The board's rules, plain Python: a booked appointment judged against its own window, when a breach is new,
the control room's hold reasons, and the safety rules holding (not dropping) the texts of a held incident."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from rxapp.domain import safety
from rxapp.domain.grades import (
    AT_RISK,
    BOOKED,
    BREACHED,
    OK,
    RISK_LEVELS,
    UNASSIGNED,
    assess_breach,
    is_new_breach,
)
from rxapp.domain.holds import HOLD_REASONS, hold_reason_words, valid_hold_reason
from rxapp.domain.safety import MessageContext, decide

UTC = timezone.utc
OPENED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 08:00 in London (GMT), a Friday
START, END = datetime(2026, 11, 20, 14, 0, tzinfo=UTC), datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def at(h: int, mi: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, h, mi, tzinfo=UTC)


def appointment(now, *, assigned=False, latest=None, arrived=None, start=START, end=END, grade="SCHEDULED"):
    return assess_breach(grade, OPENED, now, latest, assigned=assigned, arrived_at=arrived, rural=False,
                         appointment_end=end, appointment_start=start)


@pytest.mark.parametrize("now,kwargs,expect", [
    # Hours before the window, nobody assigned: booked, not "nobody assigned", not at risk.
    (at(9), {}, (BOOKED, "Booked for 14:00–16:00, no officer needed yet")),
    (at(12, 59), {}, (BOOKED, "Booked for 14:00–16:00, no officer needed yet")),
    # The window nears (an hour before it opens) without a resource: at risk.
    (at(13), {}, (AT_RISK, "Booked for 14:00–16:00, starts in 60 minutes, no officer assigned")),
    (at(13, 40), {}, (AT_RISK, "Booked for 14:00–16:00, starts in 20 minutes, no officer assigned")),
    (at(14, 30), {}, (AT_RISK, "Booked for 14:00–16:00, window open since 14:00, no officer assigned")),
    # Assigned: fine while the predicted arrival is inside the window.
    (at(13, 30), dict(assigned=True), (OK, "Booked for 14:00–16:00, officer assigned")),
    (at(14, 30), dict(assigned=True, latest=at(15, 10)), (OK, "Booked for 14:00–16:00, predicted arrival by 15:10")),
    (at(15, 30), dict(assigned=True, latest=at(16, 20)),
     (AT_RISK, "Booked for 14:00–16:00, predicted arrival 16:20 is after it")),
    (at(15, 10), dict(assigned=True),
     (AT_RISK, "Booked for 14:00–16:00, ends in 50 minutes, officer assigned but no arrival estimate yet")),
    # Breached only after the window ends without an arrival.
    (at(16), {}, (AT_RISK, "Booked for 14:00–16:00, window open since 14:00, no officer assigned")),
    (at(16, 1), {}, (BREACHED, "Booked for 14:00–16:00: window ended 1 minute ago, no officer assigned")),
    (at(16, 25), dict(assigned=True), (BREACHED, "Booked for 14:00–16:00: window ended 25 minutes ago, "
                                                 "officer not yet at scene")),
    (at(17), dict(assigned=True, arrived=at(15, 5)), (OK, "Arrived 15:05, within the 16:00 target")),
    (at(17), dict(assigned=True, arrived=at(16, 5)), (BREACHED, "Arrived 16:05, 5 minutes after the 16:00 target")),
])
def test_a_booked_visit_is_judged_against_its_own_window(now, kwargs, expect):
    assert appointment(now, **kwargs) == expect


def test_a_standard_call_with_an_appointment_is_booked_too_and_a_priority_call_is_not():
    # STANDARD "within 24 hours or by appointment": the appointment is the promise.
    assert appointment(at(9), grade="STANDARD")[0] == BOOKED
    # A priority call keeps its hour whatever is booked: by 09:00 an unassigned one is breached.
    assert appointment(at(9, 1), grade="PRIORITY")[0] == BREACHED
    assert appointment(at(8, 20), grade="PRIORITY")[0] == UNASSIGNED


def test_a_visit_booked_for_another_day_says_which_day():
    start, end = at(10, day=23), at(12, day=23)  # Monday
    assert appointment(at(9), start=start, end=end) == (BOOKED, "Booked for Mon 10:00–12:00, no officer needed yet")
    # A window across midnight names both days.
    late = appointment(at(9), start=at(23, day=22), end=at(1, day=23))
    assert late == (BOOKED, "Booked for Sun 23:00–Mon 01:00, no officer needed yet")


def test_a_booking_with_only_its_end_known():
    assert appointment(at(9), start=None) == (BOOKED, "Booked by 16:00, no officer needed yet")
    assert appointment(at(15, 10), start=None) == (AT_RISK, "Booked by 16:00, ends in 50 minutes, no officer assigned")
    assert appointment(at(16, 2), start=None)[0] == BREACHED


def test_london_time_in_summer():
    start, end = datetime(2026, 7, 1, 13, 0, tzinfo=UTC), datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    level, reason = appointment(datetime(2026, 7, 1, 8, 0, tzinfo=UTC), start=start, end=end)
    assert (level, reason) == (BOOKED, "Booked for 14:00–16:00, no officer needed yet")


def test_risk_levels_most_urgent_first():
    assert RISK_LEVELS == (BREACHED, AT_RISK, UNASSIGNED, BOOKED, OK)


def test_a_breach_is_new_for_ten_minutes_after_its_target_passed():
    target = at(9)
    assert is_new_breach(BREACHED, target, at(9, 0), None)
    assert is_new_breach(BREACHED, target, at(9, 9), None)
    assert not is_new_breach(BREACHED, target, at(9, 10), None)
    assert not is_new_breach(BREACHED, target, at(9, 5), at(9, 4))  # arrived late: a record, not news
    assert not is_new_breach(AT_RISK, target, at(9, 5), None)
    assert not is_new_breach(BREACHED, None, at(9, 5), None)


def test_hold_reasons_are_a_fixed_list():
    assert all(valid_hold_reason(code) for code in HOLD_REASONS)
    for bad in ("", "CALLER_SAFETY", "other ", None, 3, ["other"], "<script>"):
        assert not valid_hold_reason(bad)
    assert hold_reason_words("caller_safety") == "the caller may not be safe to text"
    assert hold_reason_words("gone_now") == "gone now"


# ---- the safety rules honour a hold ---------------------------------------------------------------------

def ctx(**changes) -> MessageContext:
    base = MessageContext(
        kind="attendance", channel="sms", now=at(12), flags=frozenset(), safe_contact_confirmed=False,
        opted_out_all=False, opted_out_channels=frozenset(), sms_consent=True,
        destination_failed_permanently=False, sent_to_destination_last_hour=0, identical_to_destination_last_hour=0,
        incident_flagged_by_control_room=True,
    )
    return replace(base, **changes)


@pytest.mark.parametrize("kind", ["attendance", "routine", "service"])
def test_a_held_incident_holds_every_message_until_released(kind):
    d = decide(ctx(kind=kind))
    assert (d.action, d.rule, d.make_task) == (safety.Action.HOLD, safety.Rule.CONTROL_ROOM_FLAG, False)
    assert d.release_at == at(12) + safety.SafetyRules().control_room_recheck
    assert "control room is holding texts" in d.reason
    # Released: the same message goes.
    assert decide(ctx(kind=kind, incident_flagged_by_control_room=False)).action == safety.Action.SEND


@pytest.mark.parametrize("changes,rule", [
    # What must never go is stopped now, hold or not (with its task where the Code requires one).
    (dict(flags=frozenset({"DO_NOT_CONTACT"})), safety.Rule.DO_NOT_CONTACT),
    (dict(flags=frozenset({"DOMESTIC_ABUSE"})), safety.Rule.SAFE_CONTACT_NOT_CONFIRMED),
    (dict(flags=frozenset({"CRIME_IN_PROGRESS"})), safety.Rule.CRIME_IN_PROGRESS),
    (dict(opted_out_all=True), safety.Rule.OPTED_OUT),
    (dict(sms_consent=False), safety.Rule.NO_SMS_CONSENT),
    (dict(destination_failed_permanently=True), safety.Rule.DESTINATION_FAILED),
])
def test_blocks_come_before_the_hold(changes, rule):
    d = decide(ctx(**changes))
    assert (d.action, d.rule) == (safety.Action.BLOCK, rule)


def test_the_hold_comes_before_waiting_for_the_network_or_the_morning():
    night = ctx(kind="routine", now=at(23), sent_to_destination_last_hour=150)
    assert decide(night).rule == safety.Rule.CONTROL_ROOM_FLAG
    released = decide(replace(night, incident_flagged_by_control_room=False))
    assert (released.action, released.rule) == (safety.Action.HOLD, safety.Rule.NETWORK_LIMIT)
