"""Safety rules before every automated message: each rule with its reason, their precedence, quiet hours on
the London clock (edges, BST and GMT, the nights the clocks change, bank-holiday weekends) and network limits."""
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from rxapp.domain import safety
from rxapp.domain.safety import MessageContext, SafetyRules, decide

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def london(y, mo, d, h, mi, fold=0) -> datetime:
    """A London wall-clock time as aware UTC, as the sender hands times to the rules."""
    return datetime(y, mo, d, h, mi, tzinfo=LONDON, fold=fold).astimezone(UTC)


MIDDAY = london(2026, 11, 18, 12, 0)  # a Wednesday


def ctx(**changes) -> MessageContext:
    """A routine text that every rule lets through; each test changes only what it is about."""
    base = MessageContext(
        kind="routine", channel="sms", now=MIDDAY, flags=frozenset(), safe_contact_confirmed=False,
        opted_out_all=False, opted_out_channels=frozenset(), sms_consent=True,
        destination_failed_permanently=False, sent_to_destination_last_hour=0,
        identical_to_destination_last_hour=0,
    )
    return replace(base, **changes)


def test_all_clear_sends():
    d = decide(ctx())
    assert (d.action, d.rule, d.make_task, d.release_at) == ("send", safety.CLEAR, False, None)
    assert d.reason == "No safety rule stops this message."


# ---- every rule with its reason ----------------------------------------------------------------------

RULES = [
    # (id, changes, action, rule, make_task, words the reason must contain)
    ("do not contact", dict(flags=frozenset({"DO_NOT_CONTACT"})),
     "block", safety.DO_NOT_CONTACT, False, "marked do not contact"),
    ("do not contact, even when the Code requires contact",
     dict(flags=frozenset({"DO_NOT_CONTACT"}), contact_required_by_code=True),
     "block", safety.DO_NOT_CONTACT, False, "No task is opened"),
    ("domestic abuse, no safe contact", dict(flags=frozenset({"DOMESTIC_ABUSE"})),
     "block", safety.SAFE_CONTACT_NOT_CONFIRMED, True, "domestic abuse case and no contact has been confirmed"),
    ("sexual offence, no safe contact", dict(flags=frozenset({"SEXUAL_OFFENCE"})),
     "block", safety.SAFE_CONTACT_NOT_CONFIRMED, True, "sexual offence case"),
    ("both, no safe contact", dict(flags=frozenset({"SEXUAL_OFFENCE", "DOMESTIC_ABUSE"})),
     "block", safety.SAFE_CONTACT_NOT_CONFIRMED, True, "domestic abuse and sexual offence case"),
    ("domestic abuse, attendance text, no safe contact",
     dict(flags=frozenset({"DOMESTIC_ABUSE"}), kind="attendance"),
     "block", safety.SAFE_CONTACT_NOT_CONFIRMED, False, "attending officer will speak to the victim"),
    ("domestic abuse, safe contact confirmed", dict(flags=frozenset({"DOMESTIC_ABUSE"}), safe_contact_confirmed=True),
     "send", safety.CLEAR, False, "No safety rule"),
    ("domestic abuse, safe contact confirmed by flag",
     dict(flags=frozenset({"DOMESTIC_ABUSE", "SAFE_CONTACT_CONFIRMED"})),
     "send", safety.CLEAR, False, "No safety rule"),
    ("crime in progress, attendance text", dict(flags=frozenset({"CRIME_IN_PROGRESS"}), kind="attendance"),
     "block", safety.CRIME_IN_PROGRESS, False, "still in progress"),
    ("crime in progress, routine update", dict(flags=frozenset({"CRIME_IN_PROGRESS"})),
     "block", safety.CRIME_IN_PROGRESS, True, "has become a task"),
    ("held by the control room, attendance text", dict(incident_flagged_by_control_room=True, kind="attendance"),
     "hold", safety.CONTROL_ROOM_FLAG, False, "control room is holding texts"),
    ("held by the control room, routine update", dict(incident_flagged_by_control_room=True),
     "hold", safety.CONTROL_ROOM_FLAG, False, "until they release them"),
    ("opted out of everything", dict(opted_out_all=True),
     "block", safety.OPTED_OUT, False, "opted out of all automated updates"),
    ("opted out of everything, Code requires contact", dict(opted_out_all=True, contact_required_by_code=True),
     "block", safety.OPTED_OUT, True, "Victims' Code still requires us to tell them"),
    ("opted out of texts", dict(opted_out_channels=frozenset({"sms"})),
     "block", safety.OPTED_OUT_OF_CHANNEL, False, "opted out of automated texts"),
    ("opted out of emails", dict(opted_out_channels=frozenset({"email"}), channel="email"),
     "block", safety.OPTED_OUT_OF_CHANNEL, False, "opted out of automated emails"),
    ("opted out of texts, Code requires contact",
     dict(opted_out_channels=frozenset({"sms"}), contact_required_by_code=True),
     "block", safety.OPTED_OUT_OF_CHANNEL, True, "has become a task"),
    ("opted out of texts, sending an email", dict(opted_out_channels=frozenset({"sms"}), channel="email"),
     "send", safety.CLEAR, False, "No safety rule"),
    ("no consent to texts", dict(sms_consent=False),
     "block", safety.NO_SMS_CONSENT, False, "not agreed to receive texts"),
    ("no consent to texts, Code requires contact", dict(sms_consent=False, contact_required_by_code=True),
     "block", safety.NO_SMS_CONSENT, True, "has become a task"),
    ("no consent to texts, sending an email", dict(sms_consent=False, channel="email"),
     "send", safety.CLEAR, False, "No safety rule"),
    ("number failed permanently", dict(destination_failed_permanently=True),
     "block", safety.DESTINATION_FAILED, True, "Messages to this number have failed permanently"),
    ("address failed permanently", dict(destination_failed_permanently=True, channel="email"),
     "block", safety.DESTINATION_FAILED, True, "Messages to this address have failed permanently"),
    ("99 texts this hour", dict(sent_to_destination_last_hour=99), "send", safety.CLEAR, False, "No safety rule"),
    ("100 texts this hour", dict(sent_to_destination_last_hour=100),
     "hold", safety.NETWORK_LIMIT, False, "100 texts have gone to this number in the last hour"),
    ("19 identical texts this hour", dict(identical_to_destination_last_hour=19),
     "send", safety.CLEAR, False, "No safety rule"),
    ("20 identical texts this hour", dict(identical_to_destination_last_hour=20),
     "hold", safety.NETWORK_LIMIT_IDENTICAL, False, "20 identical texts"),
    ("network limits are about texts, not emails",
     dict(channel="email", sent_to_destination_last_hour=500, identical_to_destination_last_hour=500),
     "send", safety.CLEAR, False, "No safety rule"),
    ("network limits hold attendance texts too", dict(kind="attendance", sent_to_destination_last_hour=100),
     "hold", safety.NETWORK_LIMIT, False, "phone networks refuse more than 100"),
    ("routine text at night", dict(now=london(2026, 11, 18, 23, 0)),
     "hold", safety.QUIET_HOURS, False, "Quiet hours (21:00 to 08:00 UK time)"),
    ("attendance text at night", dict(now=london(2026, 11, 18, 23, 0), kind="attendance"),
     "send", safety.CLEAR, False, "No safety rule"),
    ("service reply (STOP confirmation) at night", dict(now=london(2026, 11, 18, 23, 0), kind="service"),
     "send", safety.CLEAR, False, "No safety rule"),
    ("an unknown kind gets the stricter routine treatment", dict(now=london(2026, 11, 18, 23, 0), kind="letter"),
     "hold", safety.QUIET_HOURS, False, "Quiet hours"),
]


@pytest.mark.parametrize("changes,action,rule,make_task,words", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_and_its_reason(changes, action, rule, make_task, words):
    d = decide(ctx(**changes))
    assert (d.action, d.rule, d.make_task) == (action, rule, make_task)
    assert words in d.reason
    assert (d.release_at is not None) == (action == "hold")
    assert d.reason.endswith(".")


# ---- precedence ----------------------------------------------------------------------------------------

# What clears each rule, in the documented order. Starting from a message every rule would stop, clearing
# the rule that decided must reveal the next one.
CLEARS = {
    safety.DO_NOT_CONTACT: dict(flags=frozenset({"DOMESTIC_ABUSE", "CRIME_IN_PROGRESS"})),
    safety.SAFE_CONTACT_NOT_CONFIRMED: dict(safe_contact_confirmed=True),
    safety.CRIME_IN_PROGRESS: dict(flags=frozenset({"DOMESTIC_ABUSE"})),
    safety.CONTROL_ROOM_FLAG: dict(incident_flagged_by_control_room=False),
    safety.OPTED_OUT: dict(opted_out_all=False),
    safety.OPTED_OUT_OF_CHANNEL: dict(opted_out_channels=frozenset()),
    safety.NO_SMS_CONSENT: dict(sms_consent=True),
    safety.DESTINATION_FAILED: dict(destination_failed_permanently=False),
    safety.NETWORK_LIMIT: dict(sent_to_destination_last_hour=0),
    safety.NETWORK_LIMIT_IDENTICAL: dict(identical_to_destination_last_hour=0),
    safety.QUIET_HOURS: dict(now=MIDDAY),
}


def test_precedence_follows_the_documented_order():
    message = ctx(
        flags=frozenset({"DO_NOT_CONTACT", "DOMESTIC_ABUSE", "CRIME_IN_PROGRESS"}),
        incident_flagged_by_control_room=True, opted_out_all=True, opted_out_channels=frozenset({"sms"}),
        sms_consent=False, destination_failed_permanently=True, sent_to_destination_last_hour=150,
        identical_to_destination_last_hour=30, now=london(2026, 11, 18, 23, 0), contact_required_by_code=True,
    )
    seen = []
    for _ in safety.RULE_ORDER:
        d = decide(message)
        seen.append(d.rule)
        if d.rule == safety.CLEAR:
            break
        message = replace(message, **CLEARS[d.rule])
    assert tuple(seen) == safety.RULE_ORDER


@pytest.mark.parametrize("changes,rule", [
    # Safety before the victim's own choices: the reason staff must act on is the danger.
    (dict(flags=frozenset({"DOMESTIC_ABUSE"}), opted_out_all=True), safety.SAFE_CONTACT_NOT_CONFIRMED),
    # Do not contact beats everything, including a safe contact.
    (dict(flags=frozenset({"DO_NOT_CONTACT", "DOMESTIC_ABUSE"}), safe_contact_confirmed=True), safety.DO_NOT_CONTACT),
    # A block (with its task) now, not after the morning.
    (dict(destination_failed_permanently=True, now=london(2026, 11, 18, 23, 0)), safety.DESTINATION_FAILED),
    # The victim's choice is the truer record than a delivery fault.
    (dict(opted_out_all=True, destination_failed_permanently=True), safety.OPTED_OUT),
    # A confirmed safe contact does not lift the in-progress rule.
    (dict(flags=frozenset({"DOMESTIC_ABUSE", "CRIME_IN_PROGRESS"}), safe_contact_confirmed=True),
     safety.CRIME_IN_PROGRESS),
])
def test_precedence_pairs(changes, rule):
    assert decide(ctx(**changes)).rule == rule


# ---- quiet hours on the London clock ------------------------------------------------------------------

@pytest.mark.parametrize("season,day", [("winter (GMT)", date(2026, 1, 14)), ("summer (BST)", date(2026, 7, 15))])
@pytest.mark.parametrize("clock,action,release_day,release_clock", [
    (time(20, 59), "send", None, None),
    (time(21, 0), "hold", 1, time(8, 0)),
    (time(23, 59), "hold", 1, time(8, 0)),
    (time(0, 0), "hold", 0, time(8, 0)),
    (time(7, 59), "hold", 0, time(8, 0)),
    (time(8, 0), "send", None, None),
])
def test_quiet_hours_edges(season, day, clock, action, release_day, release_clock):
    now = london(day.year, day.month, day.day, clock.hour, clock.minute)
    d = decide(ctx(now=now))
    assert d.action == action
    if action == "hold":
        assert d.rule == safety.QUIET_HOURS
        local = d.release_at.astimezone(LONDON)
        assert local.date() == day + timedelta(days=release_day)
        assert local.time() == release_clock
        assert f"Held until {release_clock:%H:%M}" in d.reason
    else:
        assert d.release_at is None


@pytest.mark.parametrize("season,day", [("winter (GMT)", date(2026, 1, 14)), ("summer (BST)", date(2026, 7, 15))])
@pytest.mark.parametrize("clock", [time(20, 59), time(21, 0), time(3, 0), time(7, 59)])
def test_attendance_texts_go_at_any_hour(season, day, clock):
    now = london(day.year, day.month, day.day, clock.hour, clock.minute)
    assert decide(ctx(now=now, kind="attendance")).action == "send"


ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=2026)


@pytest.mark.parametrize("friday,monday,saturday_words", [
    (date(2026, 5, 22), date(2026, 5, 25), "08:00 on Saturday 23 May"),     # late May (spring) bank holiday
    (date(2026, 8, 28), date(2026, 8, 31), "08:00 on Saturday 29 August"),  # late summer bank holiday
])
@pytest.mark.parametrize("local_clock,day_offset", [(time(21, 30), 0), (time(23, 59), 0), (time(2, 0), 1)])
def test_bank_holiday_weekend_releases_on_saturday_morning(friday, monday, saturday_words, local_clock, day_offset):
    # The scenario is real: the Monday is an England bank holiday, the Friday is a working day.
    assert monday in ENGLAND and friday not in ENGLAND and friday.weekday() == 4
    # Quiet hours are about the night, not working days: Saturday 08:00 is morning whatever the calendar
    # says about Monday, so the message goes then rather than waiting for Tuesday.
    at = friday + timedelta(days=day_offset)
    d = decide(ctx(now=london(at.year, at.month, at.day, local_clock.hour, local_clock.minute)))
    assert (d.action, d.rule) == ("hold", safety.QUIET_HOURS)
    saturday = friday + timedelta(days=1)
    assert d.release_at == london(saturday.year, saturday.month, saturday.day, 8, 0)
    assert d.release_at.astimezone(LONDON).utcoffset() == timedelta(hours=1)  # BST in May and August
    assert saturday_words in d.reason


AUTUMN_RELEASE = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 08:00 GMT
SPRING_RELEASE = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 08:00 BST


@pytest.mark.parametrize("name,now,release_utc", [
    # Clocks go back at 02:00 BST on Sunday 25 October 2026: the night is an hour longer.
    ("autumn: Saturday 21:30 BST", london(2026, 10, 24, 21, 30), AUTUMN_RELEASE),
    ("autumn: 01:30 BST, first time round", london(2026, 10, 25, 1, 30, fold=0), AUTUMN_RELEASE),
    ("autumn: 01:30 GMT, second time round", london(2026, 10, 25, 1, 30, fold=1), AUTUMN_RELEASE),
    ("autumn: 07:30 GMT is still night", datetime(2026, 10, 25, 7, 30, tzinfo=UTC), AUTUMN_RELEASE),
    # Clocks go forward at 01:00 GMT on Sunday 29 March 2026: the night is an hour shorter.
    ("spring: Saturday 21:30 GMT", london(2026, 3, 28, 21, 30), SPRING_RELEASE),
    ("spring: 00:59 GMT, just before the change", datetime(2026, 3, 29, 0, 59, tzinfo=UTC), SPRING_RELEASE),
    ("spring: 02:00 BST, just after the change", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), SPRING_RELEASE),
])
def test_quiet_hours_across_clock_changes(name, now, release_utc):
    d = decide(ctx(now=now))
    assert (d.action, d.rule, d.release_at) == ("hold", safety.QUIET_HOURS, release_utc)
    assert d.release_at.astimezone(LONDON).time() == time(8, 0)
    assert "Held until 08:00 on Sunday" in d.reason


@pytest.mark.parametrize("utc_clock,action", [
    (datetime(2026, 3, 29, 7, 30, tzinfo=UTC), "send"),   # 08:30 BST: the morning came an hour early by UTC
    (datetime(2026, 10, 25, 7, 59, tzinfo=UTC), "hold"),  # 07:59 GMT: an hour later by UTC than in summer
    (datetime(2026, 10, 24, 20, 0, tzinfo=UTC), "hold"),  # 21:00 BST
    (datetime(2026, 10, 24, 19, 59, tzinfo=UTC), "send"),  # 20:59 BST
])
def test_quiet_hours_follow_the_local_clock_not_utc(utc_clock, action):
    assert decide(ctx(now=utc_clock)).action == action


def test_a_naive_now_is_taken_as_utc():
    d = decide(ctx(now=datetime(2026, 1, 14, 21, 30)))
    assert d.release_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


# ---- network limits --------------------------------------------------------------------------------

def test_network_limit_without_timestamps_waits_a_whole_hour():
    d = decide(ctx(sent_to_destination_last_hour=100))
    assert d.release_at == MIDDAY + timedelta(hours=1)
    assert "Held until 13:00 on Wednesday 18 November" in d.reason


def test_network_limit_releases_when_the_oldest_text_leaves_the_hour():
    oldest = MIDDAY - timedelta(minutes=50)
    d = decide(ctx(sent_to_destination_last_hour=100, oldest_sent_last_hour=oldest))
    assert d.release_at == oldest + timedelta(hours=1)
    d = decide(ctx(identical_to_destination_last_hour=20, oldest_identical_last_hour=oldest))
    assert (d.rule, d.release_at) == (safety.NETWORK_LIMIT_IDENTICAL, oldest + timedelta(hours=1))


def test_network_limit_never_releases_in_the_past():
    stale = MIDDAY - timedelta(hours=2)  # a caller's count and timestamp that disagree
    d = decide(ctx(sent_to_destination_last_hour=100, oldest_sent_last_hour=stale))
    assert d.release_at == MIDDAY + timedelta(hours=1)


# ---- the numbers are data ----------------------------------------------------------------------------

@pytest.mark.parametrize("rules,now,action,release", [
    (SafetyRules(quiet_start=time(22, 0), quiet_end=time(7, 0)), london(2026, 1, 14, 21, 30), "send", None),
    (SafetyRules(quiet_start=time(22, 0), quiet_end=time(7, 0)), london(2026, 1, 14, 22, 0), "hold",
     london(2026, 1, 15, 7, 0)),
    (SafetyRules(quiet_start=time(13, 0), quiet_end=time(14, 0)), london(2026, 1, 14, 13, 30), "hold",
     london(2026, 1, 14, 14, 0)),
    (SafetyRules(quiet_start=time(8, 0), quiet_end=time(8, 0)), london(2026, 1, 14, 3, 0), "send", None),
])
def test_quiet_hours_are_data(rules, now, action, release):
    d = decide(ctx(now=now), rules)
    assert (d.action, d.release_at) == (action, release)


def test_limits_and_sensitive_flags_are_data():
    rules = SafetyRules(max_texts_per_window=10, max_identical_texts_per_window=3,
                        limit_window=timedelta(minutes=30),
                        safe_contact_required_flags=frozenset({"DOMESTIC_ABUSE", "SEXUAL_OFFENCE", "STALKING"}))
    d = decide(ctx(sent_to_destination_last_hour=10), rules)
    assert (d.action, d.release_at) == ("hold", MIDDAY + timedelta(minutes=30))
    assert "in the last 30 minutes" in d.reason
    assert decide(ctx(identical_to_destination_last_hour=3), rules).rule == safety.NETWORK_LIMIT_IDENTICAL
    d = decide(ctx(flags=frozenset({"STALKING"})), rules)
    assert (d.rule, d.make_task) == (safety.SAFE_CONTACT_NOT_CONFIRMED, True)
    assert "stalking case" in d.reason
    assert decide(ctx(flags=frozenset({"STALKING"}))).action == "send"  # not under the default rules


def test_in_quiet_hours_and_quiet_hours_end_helpers():
    assert safety.in_quiet_hours(london(2026, 7, 15, 21, 0))
    assert not safety.in_quiet_hours(london(2026, 7, 15, 20, 59))
    assert safety.quiet_hours_end(london(2026, 7, 15, 8, 0)) == london(2026, 7, 16, 8, 0)  # the next one


def test_the_sender_built_from_settings_keeps_the_configured_quiet_hours():
    from datetime import time

    from rxapp.messaging.sender import OutboxSender
    from rxapp.plumbing.config import load_settings

    cfg = load_settings({"QUIET_HOURS": "off", "SMTP_URL": "smtp://relay.example.org", "EMAIL_VIA": "smtp"})
    sender = OutboxSender.from_settings(cfg)
    assert (sender.rules.quiet_start, sender.rules.quiet_end) == (time(0, 0), time(0, 0))
    night = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)
    assert not safety.in_quiet_hours(night, sender.rules)
    assert safety.in_quiet_hours(night, safety.SafetyRules())
    assert safety.covers_code_quiet_hours(time(20, 0), time(8, 30))
    assert not safety.covers_code_quiet_hours(time(21, 0), time(7, 59))
