"""The staff case views (rxapp/case_views.py) against a real, migrated database: the STORM samples, then the
records feed's sample page applied change by change as the poller would, each at its own time."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select

from integrations.niche.protocol import RecordsChange, parse_change
from rxapp.attendance.service import AttendanceService
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail, case_list_rows
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim

from .helpers import parsed, renumbered

STORM = ["burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"]
RECORDS = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"
BURGLARY, DOMESTIC = "26CL0041877", "26CL0041915"
# Who looks: a supervisor of both cases' teams sees everything these tests look at; DC 2210 (in charge of the
# domestic abuse case) in the burglary's team, for "my cases"; and PC Test, who records contact on it.
SUPERVISOR = StaffIdentity(1, "supervisor.both", "Supervisor Both", "supervisor",
                           team="Middlesbrough CID; Hartlepool Safeguarding")
DC_2210 = StaffIdentity(2, "dc2210", "DC 2210 Priya Shah", "officer", collar_number=" dc2210 ", team="Middlesbrough CID")
NO_COLLAR = StaffIdentity(3, "no.collar", "No Collar", "supervisor", team="Middlesbrough CID; Hartlepool Safeguarding")
PC_TEST = StaffIdentity(4, "pc.test", "PC Test", "officer", collar_number="PC 9999", team="Hartlepool Safeguarding")
CONTROL_ROOM = StaffIdentity(5, "control.room", "Control Room", "fcr")


def load(db_url: str, until: str | None = None) -> datetime:
    """The attendances, then the records changes up to and including `until`; returns the clock after."""
    AttendanceService(db_url).apply_sync(parsed(renumbered(STORM)))
    clock = None
    for raw in json.loads(RECORDS.read_text())["changes"]:
        change = parse_change(raw, decoded=True)
        assert isinstance(change, RecordsChange), raw["change_id"]
        clock = change.occurred_at + timedelta(minutes=1)
        result = JourneyService(db_url, now=lambda: clock).apply_page([change], None)
        assert result.dead_letters == 0, raw["change_id"]
        if raw["change_id"] == until:
            break
    return clock


def _all_strings(rows: list[dict]) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for row in rows for k, v in row.items())


def _private_details(db_url: str) -> list[str]:
    """Every victim's phone number (as stored and in its national form), email and address."""
    out = []
    with session_scope(db_url) as s:
        for v in s.exec(select(Victim)):
            if v.phone:
                out += [v.phone, v.phone[-10:]]
            out += [x for x in (v.email, v.postal_address) if x]
    return out


def test_the_list_shows_open_cases_most_urgent_first_with_what_is_owed(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        rows = case_list_rows(s, SUPERVISOR, now)
        assert [r["occurrence_number"] for r in rows] == [BURGLARY, DOMESTIC]  # both late; same next deadline
        assert _all_strings(rows)
        burglary, domestic = rows
        assert burglary["crime_reference"] == "CL/26/041877" and burglary["oic"] == "PC 4127"
        assert burglary["classification"] == "Burglary - residential - home" and burglary["enhanced"] == "No"
        assert domestic["flags"] == "domestic abuse" and domestic["enhanced"] == "Yes"
        assert int(domestic["with_person"]) >= 1 and int(domestic["late"]) >= 1
        assert int(burglary["done"]) >= 1  # the support referral, met in the records system
        assert burglary["urgency"] == domestic["urgency"] == "bad"
        # Each duty is counted once.
        detail = case_detail(s, SUPERVISOR, BURGLARY, now)
        owed = [d for d in detail["duties"] if d["status_label"] != "Not owed"]
        assert sum(int(burglary[k]) for k in ("late", "with_person", "due", "done")) == len(owed)

        assert [r["occurrence_number"] for r in case_list_rows(s, DC_2210, now, only="mine")] == [DOMESTIC]
        assert case_list_rows(s, NO_COLLAR, now, only="mine") == []
        assert len(case_list_rows(s, SUPERVISOR, now, only="late")) == 2
        # Before anything was due, nothing is late and the late filter is empty.
        early = datetime.fromisoformat("2026-11-20T13:00:00+00:00")
        assert case_list_rows(s, SUPERVISOR, early, only="late") == []
        assert {r["late"] for r in case_list_rows(s, SUPERVISOR, early)} == {"0"}


def test_the_domestic_abuse_case_is_with_people_and_sends_nothing(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        case = case_detail(s, SUPERVISOR, DOMESTIC, now)
    header = case["header"]
    assert header["crime_reference"] == "CL/26/041915"
    assert header["oic"] == "DC 2210 Priya Shah, Hartlepool Safeguarding"
    assert case["victims"][0]["enhanced"] == "Yes" and "domestic abuse" in case["victims"][0]["enhanced_reasons"]
    assert case["victims"][0]["safe_contact"].startswith("Not confirmed") and case["victims"][0]["safe_contact_confirmed"] == ""
    assert case["victims"][0]["preferred_channel"] == "Phone call"
    assert case["victims"][0]["needs"] == "Contact notes: Call only between 10:00 and 12:00; do not leave voicemail"
    assert header["reported"] == "Fri 20 Nov 2026, 10:25"  # London time (GMT in November)
    assert case["messages"] == []  # no safe contact confirmed: nothing automated
    open_tasks = [t for t in case["tasks"] if t["open"] == "yes"]
    assert open_tasks and all(t["assignee"] == "DC 2210" for t in open_tasks)
    assert any(t["title"] == "Tell the victim by a safe method" and "Written confirmation" in t["detail"]
               for t in open_tasks)
    written = next(d for d in case["duties"] if d["key"] == "written_confirmation")
    assert written["right"] == "Right 3" and written["status_label"].startswith("With a person")
    assert any("no further action" in e["text"] for e in case["timeline"])
    assert all(_all_strings(case[k]) for k in ("duties", "tasks", "timeline")) and _all_strings([header])


def test_the_burglary_case_shows_written_confirmation_and_its_messages_masked(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        case = case_detail(s, SUPERVISOR, BURGLARY, now)
        assert case_detail(s, SUPERVISOR, "26CL0000000", now) is None and case_detail(s, SUPERVISOR, "x" * 500, now) is None
    written = next(d for d in case["duties"] if d["key"] == "written_confirmation")
    assert written["title"].startswith("Written confirmation") and written["right"] == "Right 3"
    assert written["due"] == "Mon 23 Nov 2026, 23:59"
    referral = next(d for d in case["duties"] if d["key"] == "support_referral")
    assert referral["status_label"] == "Done" and "Victim Care and Advice Service" in referral["status_detail"]
    assert referral["tone"] == "good"
    templates = [m["template"] for m in case["messages"]]
    assert "crime_recorded" in templates and "update_charged" in templates
    crime_recorded = next(m for m in case["messages"] if m["template"] == "crime_recorded")
    assert crime_recorded["what"] == "Crime recorded: written confirmation"
    assert crime_recorded["to"] == "…0123" and "CL/26/041877" in crime_recorded["body"]
    assert case["victims"][0]["safe_contact"] == "Confirmed"
    # The supervisor may record contact on this case: the number to ring and the address to write to, in full.
    victim = case["victims"][0]
    assert victim["contacts"] == "mobile 07700 900123, email amina@example.org"
    assert victim["phone_href"] == "tel:+447700900123" and victim["email_href"] == "mailto:amina@example.org"


def test_an_open_task_carries_its_victim_and_how_to_reach_them(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        case = case_detail(s, SUPERVISOR, DOMESTIC, now)
    open_tasks = [t for t in case["tasks"] if t["open"] == "yes"]
    closed = [t for t in case["tasks"] if t["open"] != "yes"]
    assert case["tasks"] == open_tasks + closed  # what to do first
    assert [t["late"] for t in open_tasks] == sorted((t["late"] for t in open_tasks), reverse=True)
    first = open_tasks[0]
    assert first["victim_name"] and first["victim_name"] != "Name not given"
    assert first["victim_phone"].startswith("07700 ") and first["victim_phone_href"].startswith("tel:+447700")
    assert first["victim_safe_contact"].startswith("Not confirmed")
    assert first["victim_contact_notes"] == "Call only between 10:00 and 12:00; do not leave voicemail"
    assert first["victim_preferred_channel"] == "Phone call"


def _set_incident_open(db_url: str, number: str) -> None:
    from rxapp.attendance.models import Incident
    from rxapp.investigation.models import Occurrence

    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        s.get(Incident, occ.incident_id).is_open = True


def test_contact_details_in_full_only_to_whom_may_record_contact(db_url):
    """The list never shows a phone number or email; a case shows them in full (with links) to staff who may
    record contact on it, masked to the control room, which may only read it while the attendance is open."""
    now = load(db_url)
    _set_incident_open(db_url, BURGLARY)
    with session_scope(db_url) as s:
        listed = json.dumps(case_list_rows(s, SUPERVISOR, now), ensure_ascii=False)
        recorder = json.dumps([case_detail(s, SUPERVISOR, BURGLARY, now), case_detail(s, SUPERVISOR, DOMESTIC, now)],
                              ensure_ascii=False)
        reader = case_detail(s, CONTROL_ROOM, BURGLARY, now)
    private = _private_details(db_url)
    assert "amina@example.org" in private and any(p.endswith("900789") for p in private)
    for detail in private:
        assert detail not in listed, detail
    assert "07700" not in listed and "7700900" not in listed
    assert "07700 900123" in recorder and "tel:+447700900123" in recorder and "mailto:amina@example.org" in recorder
    assert reader is not None and reader["can_complete"] is False
    shown = json.dumps(reader, ensure_ascii=False)
    for detail in private:
        assert detail not in shown, detail
    assert "07700" not in shown and "7700900" not in shown and "tel:" not in shown and "mailto:" not in shown
    assert reader["victims"][0]["phone"] == "…0123" and reader["victims"][0]["email"] == "a…@example.org"


def test_completing_a_task_makes_its_duty_done_with_how(db_url):
    clock = load(db_url, until="c-0103")  # the domestic abuse case: victim linked, a suspect arrested
    with session_scope(db_url) as s:
        before = case_detail(s, SUPERVISOR, DOMESTIC, clock)
        counts_before = next(r for r in case_list_rows(s, SUPERVISOR, clock) if r["occurrence_number"] == DOMESTIC)
        duty_ids = {d["key"]: int(d["id"]) for d in before["duties"]}
        written = s.exec(select(Task).where(Task.duty_id == duty_ids["written_confirmation"],
                                            Task.status == "open")).one()
        arrested = s.exec(select(Task).where(Task.duty_id == duty_ids["event:c-0103"], Task.status == "open")).one()
    assert next(t for t in before["tasks"] if t["id"] == str(written.id))["open"] == "yes"
    later = clock + timedelta(minutes=30)
    service = JourneyService(db_url, now=lambda: later)
    service.complete_task(PC_TEST, written.id, how_told="phone", note="Spoke to her at 10:30 as she asked")
    service.complete_task(PC_TEST, arrested.id, how_told="not_reached")
    with session_scope(db_url) as s:
        after = case_detail(s, SUPERVISOR, DOMESTIC, later)
        counts_after = next(r for r in case_list_rows(s, SUPERVISOR, later) if r["occurrence_number"] == DOMESTIC)
    duty = next(d for d in after["duties"] if d["key"] == "written_confirmation")
    assert duty["status_label"] == "Done" and duty["tone"] == "good"
    assert "by phone" in duty["status_detail"] and "PC Test" in duty["status_detail"]
    assert duty["status_detail"].startswith("Fri 20 Nov 2026, 16:41")  # London time
    done = next(t for t in after["tasks"] if t["id"] == str(written.id))
    assert done["open"] == "" and done["status_label"] == "Done" and done["how_told"] == "by phone"
    assert done["result"] == "Told by phone" and done["tone"] == "good"
    assert done["completed_by"] == "PC Test" and done["outcome"] == "Spoke to her at 10:30 as she asked"
    # Not reached: the task closes, what the victim is owed is still owed, and a fresh task carries it.
    closed = next(t for t in after["tasks"] if t["id"] == str(arrested.id))
    assert closed["status_label"] == "Closed" and closed["result"] == "Could not be reached"
    assert next(d for d in after["duties"] if d["key"] == "event:c-0103")["status_label"] == "With a person"
    assert any(t["title"].startswith("Try again: ") and t["open"] == "yes" for t in after["tasks"])
    assert int(counts_after["done"]) == int(counts_before["done"]) + 1
    assert int(counts_after["with_person"]) == int(counts_before["with_person"]) - 1


def test_the_case_shows_the_victims_needs_in_words(db_url):
    from rxapp.investigation.views import _language_name

    assert _language_name("pl") == "Polish" and _language_name("ur") == "Urdu" and _language_name("xx") == "xx"


def test_the_list_says_the_next_thing_to_do_and_by_when_late_first(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        rows = case_list_rows(s, SUPERVISOR, now)
        detail = case_detail(s, SUPERVISOR, DOMESTIC, now)
    domestic = next(r for r in rows if r["occurrence_number"] == DOMESTIC)
    first_task = next(t for t in detail["tasks"] if t["open"] == "yes")
    # The domestic abuse case's next action is its open task due first, in words, with its deadline.
    assert domestic["action"] == first_task["title"]
    assert domestic["action_due"].startswith(("By ", "Late: was due by "))
    assert (domestic["action_late"] == "yes") == (first_task["late"] == "yes")
    assert domestic["victims"] and "Name not given" not in domestic["victims"]
    assert f"{domestic['late']} late" in domestic["owed"] and "with a person" in domestic["owed"]
    late = [r["urgency"] == "bad" for r in rows]
    assert late == sorted(late, reverse=True)
    # Before anything is owed by a person or late: nothing late, the next action is the journey's own.
    early = datetime.fromisoformat("2026-11-20T13:00:00+00:00")
    with session_scope(db_url) as s:
        before = case_list_rows(s, SUPERVISOR, early)
    assert before and all(r["action_late"] == "" and not r["action_due"].startswith("Late") for r in before)


def test_a_deadline_reads_as_a_short_london_date():
    from rxapp.investigation.views import _by

    now = datetime.fromisoformat("2026-12-01T09:00:00+00:00")
    assert _by(datetime.fromisoformat("2026-12-03T23:59:00+00:00"), now) == "Thu 3 Dec"
    assert _by(datetime.fromisoformat("2026-07-03T09:30:00+00:00"), now) == "Fri 3 Jul, 10:30"  # British Summer Time
    assert _by(datetime.fromisoformat("2027-01-04T12:00:00+00:00"), now) == "Mon 4 Jan 2027, 12:00"
