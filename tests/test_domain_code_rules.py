"""The Victims' Code as data: England and Wales working days (bank holidays, Easter, Christmas, the clocks
changing), every milestone's deadline standard and enhanced, each way to enhanced rights, referral consent,
routine updates, a malformed rules file, and that a changed rules file changes deadlines with no code change."""
import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from integrations.niche.protocol import EVENTS as RECORDS_EVENTS
from rxapp.domain.code_rules import DEFAULT_PATH, load_code, parse_code
from rxapp.domain.working_days import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
CODE = load_code()
CAL = CODE.calendar()


def london(y, mo, d, h=12, mi=0) -> datetime:
    """A London wall-clock time as aware UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=LONDON).astimezone(UTC)


def end_of(y, mo, d) -> datetime:
    """The end of a London day as aware UTC: what every deadline is."""
    return datetime(y, mo, d, 23, 59, 59, 999999, tzinfo=LONDON).astimezone(UTC)


# --- working days --------------------------------------------------------------------------------------

# England and Wales bank holidays as gov.uk lists them, checked against the library.
BANK_HOLIDAYS = {
    2026: ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
           "2026-12-25", "2026-12-28"],
    2027: ["2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
           "2027-12-27", "2027-12-28"],
}


@pytest.mark.parametrize("year", sorted(BANK_HOLIDAYS))
def test_weekday_bank_holidays_match_gov_uk(year):
    expected = {date.fromisoformat(d) for d in BANK_HOLIDAYS[year]}
    day, found = date(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5 and not CAL.is_working_day(day):
            found.add(day)
        day += timedelta(days=1)
    assert found == expected


@pytest.mark.parametrize("day, working", [
    (date(2026, 4, 2), True),    # Thursday before Easter
    (date(2026, 4, 3), False),   # Good Friday
    (date(2026, 4, 4), False),   # Saturday
    (date(2026, 4, 6), False),   # Easter Monday
    (date(2026, 4, 7), True),
    (date(2026, 12, 26), False),  # Boxing Day, a Saturday
    (date(2026, 12, 28), False),  # substitute for Boxing Day
    (date(2026, 12, 29), True),
    (date(2022, 9, 19), False),  # one-off: the Queen's state funeral
    (date(2023, 5, 8), False),   # one-off: the coronation
])
def test_is_working_day(day, working):
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize("start, n, deadline", [
    # The arrest at 16:00 on the Thursday before Good Friday: Fri 3 and Mon 6 April are bank holidays.
    (london(2026, 4, 2, 16), 0, end_of(2026, 4, 2)),
    (london(2026, 4, 2, 16), 1, end_of(2026, 4, 7)),
    (london(2026, 4, 2, 16), 2, end_of(2026, 4, 8)),
    (london(2026, 4, 2, 16), 5, end_of(2026, 4, 13)),
    # An event on a bank holiday or at the weekend counts from the next working day.
    (london(2026, 4, 3, 9), 0, end_of(2026, 4, 7)),
    (london(2026, 4, 3, 9), 1, end_of(2026, 4, 7)),
    (london(2026, 4, 4, 9), 1, end_of(2026, 4, 7)),
    # Weekends.
    (london(2026, 4, 10, 16), 1, end_of(2026, 4, 13)),   # Friday -> Monday
    (london(2026, 4, 11, 9), 1, end_of(2026, 4, 13)),    # Saturday -> Monday
    (london(2026, 4, 12, 23, 59), 1, end_of(2026, 4, 13)),  # Sunday just before midnight -> Monday
    (london(2026, 4, 13, 0, 0), 1, end_of(2026, 4, 14)),    # Monday at midnight is Monday's event
    (london(2026, 4, 10, 16), 5, end_of(2026, 4, 17)),
    (london(2026, 4, 11, 9), 0, end_of(2026, 4, 13)),
    # Christmas 2026: Fri 25 Dec, Boxing Day Sat 26 with its substitute on Mon 28.
    (london(2026, 12, 23, 10), 1, end_of(2026, 12, 24)),
    (london(2026, 12, 24, 10), 1, end_of(2026, 12, 29)),
    (london(2026, 12, 24, 10), 2, end_of(2026, 12, 30)),
    (london(2026, 12, 25, 10), 1, end_of(2026, 12, 29)),
    (london(2026, 12, 24, 10), 5, end_of(2027, 1, 5)),   # skips New Year's Day too
    # Clocks go forward on Sun 29 March 2026: the deadline is the end of Monday in BST (22:59:59 UTC).
    (london(2026, 3, 27, 23, 30), 1, datetime(2026, 3, 30, 22, 59, 59, 999999, tzinfo=UTC)),
    # 00:30 BST on Thursday 2 April is 23:30 UTC on the Wednesday; the London day (Thursday) counts.
    (datetime(2026, 4, 1, 23, 30, tzinfo=UTC), 1, end_of(2026, 4, 7)),
    # Clocks go back on Sun 25 Oct 2026: 23:30 UTC on Friday 23 Oct is already Saturday 00:30 BST.
    (datetime(2026, 10, 23, 23, 30, tzinfo=UTC), 1, datetime(2026, 10, 26, 23, 59, 59, 999999, tzinfo=UTC)),
    (datetime(2026, 10, 23, 22, 30, tzinfo=UTC), 1, datetime(2026, 10, 26, 23, 59, 59, 999999, tzinfo=UTC)),
    (datetime(2026, 10, 22, 22, 30, tzinfo=UTC), 1, datetime(2026, 10, 23, 22, 59, 59, 999999, tzinfo=UTC)),
])
def test_add_working_days(start, n, deadline):
    got = CAL.add_working_days(start, n)
    assert got == deadline
    assert got.tzinfo == UTC


def test_add_working_days_refuses_naive_times_and_negative_counts():
    with pytest.raises(ValueError, match="aware"):
        CAL.add_working_days(datetime(2026, 4, 2, 16), 1)
    with pytest.raises(ValueError, match="n must be"):
        CAL.add_working_days(london(2026, 4, 2), -1)


def test_calendar_overrides_add_and_remove_bank_holidays():
    cal = WorkingCalendar(extra_holidays=[date(2026, 4, 7)], removed_holidays=[date(2026, 4, 6)])
    assert not cal.is_working_day(date(2026, 4, 7))
    assert cal.is_working_day(date(2026, 4, 6))
    assert cal.add_working_days(london(2026, 4, 2, 16), 1) == end_of(2026, 4, 6)
    assert cal.add_working_days(london(2026, 4, 2, 16), 2) == end_of(2026, 4, 8)


# --- the Code as data -----------------------------------------------------------------------------------

def test_rules_file_shape():
    assert [r.number for r in CODE.rights] == list(range(1, 13))
    assert CODE.in_force_from == date(2021, 4, 1)
    assert CODE.milestone("released_nfa").tell_right_to_review
    assert not CODE.milestone("charged").tell_right_to_review
    assert (CODE.right_to_review.request_within_months, CODE.right_to_review.acknowledge_working_days,
            CODE.right_to_review.decide_working_days) == (3, 10, 30)
    assert CODE.complaint_acknowledge_working_days == 10


MONDAY = london(2026, 11, 9, 10)  # no bank holiday within two weeks
MILESTONES = {
    # key: (standard deadline, enhanced deadline)
    "decision_not_to_investigate": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "suspect_arrested": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "suspect_interviewed": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "released_nfa": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "released_on_bail_or_ui": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "bail_changed": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "charged": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "out_of_court_disposal": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "support_referral": (end_of(2026, 11, 11), end_of(2026, 11, 11)),
    "written_confirmation": (end_of(2026, 11, 10), end_of(2026, 11, 10)),
    "oic_changed": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "vps_offer": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "filed_pending_information": (end_of(2026, 11, 16), end_of(2026, 11, 10)),
    "property_return": (end_of(2026, 11, 16), end_of(2026, 11, 16)),
}


def test_every_milestone_is_tested():
    assert set(CODE.milestones) == set(MILESTONES)


@pytest.mark.parametrize("key", sorted(MILESTONES))
@pytest.mark.parametrize("enhanced", [False, True])
def test_milestone_deadlines(key, enhanced):
    assert CODE.deadline(key, MONDAY, enhanced, CAL) == MILESTONES[key][enhanced]


@pytest.mark.parametrize("enhanced, deadline", [(False, end_of(2026, 4, 13)), (True, end_of(2026, 4, 7))])
def test_arrest_at_four_on_the_thursday_before_good_friday(enhanced, deadline):
    assert CODE.deadline("suspect_arrested", london(2026, 4, 2, 16), enhanced, CAL) == deadline


def test_unknown_milestone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown milestone 'arrested'"):
        CODE.deadline("arrested", MONDAY, False, CAL)


# --- enhanced entitlement ---------------------------------------------------------------------------------

NOBODY = dict(offence_flags=set(), date_of_birth=date(1980, 6, 1), offence_date=date(2026, 4, 2),
              vulnerabilities=set(), persistently_targeted=False)


@pytest.mark.parametrize("changes, enhanced, reasons", [
    ({}, False, []),
    ({"offence_flags": {"domestic_abuse"}}, True, ["a victim of domestic abuse"]),
    ({"offence_flags": {"SEXUAL_OFFENCE"}}, True, ["a victim of a sexual offence"]),  # the feed's spelling
    ({"offence_flags": {"hate_crime"}}, True, ["a victim of hate crime"]),
    ({"offence_flags": {"bereaved_close_relative"}}, True, ["a bereaved close relative"]),
    ({"offence_flags": {"wounding_or_gbh_with_intent"}}, True,
     ["a victim of wounding or grievous bodily harm with intent"]),
    ({"offence_flags": {"CRIME_IN_PROGRESS", "burglary"}}, False, []),  # not grounds for anything
    # Under 18 at the time of the offence: the 18th birthday the day after the offence still counts...
    ({"date_of_birth": date(2008, 4, 3)}, True, ["under 18 at the time of the offence"]),
    # ...but on the 18th birthday itself the victim is 18.
    ({"date_of_birth": date(2008, 4, 2)}, False, []),
    ({"date_of_birth": date(2008, 4, 1)}, False, []),
    ({"date_of_birth": date(2015, 1, 1)}, True, ["under 18 at the time of the offence"]),
    # Born on 29 February: 18 on 1 March in a common year, not on 28 February.
    ({"date_of_birth": date(2008, 2, 29), "offence_date": date(2026, 2, 28)}, True,
     ["under 18 at the time of the offence"]),
    ({"date_of_birth": date(2008, 2, 29), "offence_date": date(2026, 3, 1)}, False, []),
    # An unknown date gives no age reason.
    ({"date_of_birth": None}, False, []),
    ({"date_of_birth": date(2015, 1, 1), "offence_date": None}, False, []),
    ({"vulnerabilities": {"learning_disability"}}, True, ["has a learning disability or impaired intelligence"]),
    ({"vulnerabilities": {"fear_or_distress_about_giving_evidence"}}, True,
     ["feels fear or distress about giving evidence"]),
    ({"vulnerabilities": {"likes_cats"}}, False, []),
    ({"persistently_targeted": True}, True, ["persistently targeted"]),
    # Every reason is given, not just the first.
    ({"offence_flags": {"domestic_abuse"}, "date_of_birth": date(2010, 1, 1),
      "vulnerabilities": {"mental_disorder"}, "persistently_targeted": True}, True,
     ["a victim of domestic abuse", "under 18 at the time of the offence", "has a mental disorder",
      "persistently targeted"]),
])
def test_is_enhanced(changes, enhanced, reasons):
    assert CODE.is_enhanced(**{**NOBODY, **changes}) == (enhanced, reasons)


# --- referral consent ----------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, bereaved, needed", [
    (set(), False, False),
    ({"burglary"}, False, False),
    ({"hate_crime"}, False, False),  # enhanced, but consent is not needed for a referral
    ({"sexual_offence"}, False, True),
    ({"DOMESTIC_ABUSE"}, False, True),
    (set(), True, True),
    ({"bereaved_close_relative"}, False, True),
])
def test_referral_needs_explicit_consent(flags, bereaved, needed):
    assert CODE.referral_needs_explicit_consent(flags, bereaved) is needed


# --- routine updates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reported, last, enhanced, due", [
    (london(2026, 4, 2, 16), None, False, end_of(2026, 4, 13)),
    (london(2026, 4, 2, 16), None, True, end_of(2026, 4, 7)),
    # Then every 28 calendar days from the last update, to the end of that London day.
    (london(2026, 4, 2, 16), london(2026, 4, 7, 9), False, end_of(2026, 5, 5)),
    (london(2026, 4, 2, 16), london(2026, 4, 7, 9), True, end_of(2026, 5, 5)),
    # Across the clocks going back: 00:30 BST on 10 Oct is a London 10 Oct update.
    (london(2026, 9, 1), datetime(2026, 10, 9, 23, 30, tzinfo=UTC), False, end_of(2026, 11, 7)),
])
def test_routine_update_due(reported, last, enhanced, due):
    assert CODE.routine_update_due(reported, last, enhanced, CAL) == due


# --- the rules file is data ------------------------------------------------------------------------------

def _copy_rules(tmp_path, change):
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "victims_code_next.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_changing_a_deadline_in_the_rules_file_changes_the_deadline(tmp_path):
    def ten_days(data):
        data["milestones"]["suspect_arrested"]["standard_working_days"] = 10
    code = load_code(_copy_rules(tmp_path, ten_days))
    arrest = london(2026, 4, 2, 16)
    assert CODE.deadline("suspect_arrested", arrest, False, CAL) == end_of(2026, 4, 13)
    assert code.deadline("suspect_arrested", arrest, False, code.calendar()) == end_of(2026, 4, 20)
    # Only that number moved.
    assert code.deadline("charged", arrest, False, code.calendar()) == end_of(2026, 4, 13)


def test_a_new_bank_holiday_is_a_data_change(tmp_path):
    def new_holiday(data):
        data["bank_holidays"]["extra"] = ["2026-04-07"]
    code = load_code(_copy_rules(tmp_path, new_holiday))
    assert code.deadline("suspect_arrested", london(2026, 4, 2, 16), True) == end_of(2026, 4, 8)


@pytest.mark.parametrize("change, field", [
    (lambda d: d["milestones"]["charged"].pop("enhanced_working_days"), "milestones.charged.enhanced_working_days"),
    (lambda d: d["milestones"]["charged"].update(standard_working_days=-1), "charged.standard_working_days"),
    (lambda d: d["milestones"]["charged"].update(standard_working_days="5"), "charged.standard_working_days"),
    (lambda d: d["milestones"]["charged"].update(standard_working_days=True), "charged.standard_working_days"),
    (lambda d: d["milestones"]["charged"].update(right=13), "milestones.charged.right"),
    (lambda d: d.update(in_force_from="1 April 2021"), "in_force_from"),
    (lambda d: d["enhanced_entitlement"].update(under_18_at_offence="yes"), "enhanced_entitlement.under_18_at_offence"),
    (lambda d: d["routine_updates"].update(then_every_calendar_days=0), "routine_updates.then_every_calendar_days"),
    (lambda d: d["rights"].pop(3), "rights"),
    (lambda d: d["bank_holidays"].update(extra=["2026-13-01"]), r"bank_holidays.extra\[0\]"),
    (lambda d: d.pop("right_to_review"), "right_to_review"),
])
def test_malformed_rules_name_the_field(tmp_path, change, field):
    with pytest.raises(ValueError, match=field):
        load_code(_copy_rules(tmp_path, change))


def test_invalid_json_is_a_value_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_code(path)


# ---- events and templates named by the rules file ---------------------------------------------------

EVENT_MILESTONES = {
    "NOT_INVESTIGATED": "decision_not_to_investigate",
    "SUSPECT_ARRESTED": "suspect_arrested",
    "SUSPECT_INTERVIEWED": "suspect_interviewed",
    "RELEASED_NFA": "released_nfa",
    "RELEASED_ON_BAIL": "released_on_bail_or_ui",
    "RELEASED_UNDER_INVESTIGATION": "released_on_bail_or_ui",
    "BAIL_CONDITIONS_CHANGED": "bail_changed",
    "BAIL_CANCELLED": "bail_changed",
    "CHARGED": "charged",
    "OUT_OF_COURT_DISPOSAL": "out_of_court_disposal",
    "FILED_PENDING_INFORMATION": "filed_pending_information",
    "PROPERTY_READY_FOR_RETURN": "property_return",
}


@pytest.mark.parametrize("event", sorted(RECORDS_EVENTS))
def test_every_records_event_is_a_milestone_or_timeline_only(event):
    found = CODE.milestone_for_event(event)
    if event in EVENT_MILESTONES:
        assert found is not None and found[0].key == EVENT_MILESTONES[event]
    else:  # court dates, outcomes (the Witness Care Unit's), VPS and referral bookkeeping
        assert found is None


def test_every_template_the_rules_name_exists():
    from rxapp.domain.templates import load_templates

    names = set(load_templates())
    wanted = {CODE.routine_updates.template}
    for milestone in CODE.milestones.values():
        wanted |= set(milestone.events.values())
        if milestone.template:
            wanted.add(milestone.template)
    assert wanted <= names, sorted(wanted - names)


def test_an_event_claimed_by_two_milestones_is_refused(tmp_path):
    data = json.loads(DEFAULT_PATH.read_text())
    data["milestones"]["charged"]["events"]["SUSPECT_ARRESTED"] = "update_charged"
    with pytest.raises(ValueError, match="SUSPECT_ARRESTED is already milestone suspect_arrested"):
        parse_code(data)


def test_a_bad_send_time_is_refused():
    data = json.loads(DEFAULT_PATH.read_text())
    data["routine_updates"]["send_at_local_time"] = "9am"
    with pytest.raises(ValueError, match="routine_updates.send_at_local_time must be a time of day"):
        parse_code(data)
