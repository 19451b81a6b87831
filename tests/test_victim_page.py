"""The victim's view (`views.victim_view`) through the real service and database, in each state and language:
the heading, the explanation, the history and the texts tell one story."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from rxapp.attendance.models import Incident, IncidentStep
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.track_state import ENDED_VIEW
from rxapp.attendance.views import victim_view
from rxapp.messaging.models import Message
from rxapp.plumbing.db import session_scope
from rxapp.victims.models import Victim

from .helpers import parsed, scenario_lines

FORBIDDEN = ("CS14", "CS30", "CE21", "Peter Clarke", "07700", "Acklam", "54.5", "-1.2", "callsign")


def at(line: str) -> datetime:
    return datetime.fromisoformat(json.loads(line)["occurred_at"].replace("Z", "+00:00"))


def event(kind: str, when: datetime, seq: int, **body) -> str:
    key = {"incident.closed": "incident", "incident.appointment": "appointment"}[kind]
    return json.dumps({"seq": seq, "event_id": f"extra-{seq}", "type": kind,
                       "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), key: body})


def view_of(db_url, urn: str, now: datetime, lang: str | None = None) -> dict:
    with session_scope(db_url) as s:
        incident = s.exec(select(Incident).where(Incident.urn == urn)).one()
        if lang is not None:
            s.get(Victim, incident.victim_id).language = lang
            s.flush()
        return victim_view(s, incident, now)


def one_story(view: dict) -> str:
    text = " ".join([view["status_label"], *view["explain"], view["eta_text"], view["eta_clock"],
                     *(s["text"] for s in view["steps"]), *view["advice"], *view["after"]])
    assert not [w for w in FORBIDDEN if w in text], text
    return text


def test_the_view_has_the_shape_the_page_state_carries(db_url):
    lines = scenario_lines("burglary-priority")
    AttendanceService(db_url).apply_sync(parsed(lines[:2]))
    view = view_of(db_url, "CLE-20261120-0142", at(lines[1]))
    assert set(view) == set(ENDED_VIEW)
    assert all(type(view[k]) is type(ENDED_VIEW[k]) for k in ENDED_VIEW)


def test_a_diversion_says_delayed_nobody_coming_another_officer_and_the_history_agrees(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("diverted")
    diverted = next(i for i, line in enumerate(lines) if "resource.unassigned" in line)
    service.apply_sync(parsed(lines[:diverted]))
    before = view_of(db_url, "CLE-20261120-0188", at(lines[diverted - 1]))
    assert before["situation"] == "en_route" and before["eta_clock"]
    service.apply_sync(parsed(lines[diverted:diverted + 1]))
    view = view_of(db_url, "CLE-20261120-0188", at(lines[diverted]))
    story = one_story(view)
    assert view["status_label"] == "Delayed: another officer will be sent"
    assert "nobody is on the way to you at the moment" in story and "Another officer will be sent" in story
    assert "We have not yet been able to send" not in story and view["eta_text"] == ""
    assert view["steps"][-1]["text"].startswith("The officer coming to you was sent to an emergency")
    with session_scope(db_url) as s:  # the text said "delayed" too
        bodies = [m.template for m in s.exec(select(Message))]
    assert "attendance_delayed_no_window" in bodies
    service.apply_sync(parsed(lines[diverted + 1:diverted + 2]))
    view = view_of(db_url, "CLE-20261120-0188", at(lines[diverted + 1]))
    assert view["situation"] == "reassigned" and view["status_label"] == "New officer assigned"
    assert view["steps"][-1]["text"] == "Another officer has been given your call."


def test_en_route_without_a_fix_explains_the_missing_window_then_shows_one_consistent_window(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("burglary-priority")
    first_fix = next(i for i, line in enumerate(lines) if "resource.position" in line)
    service.apply_sync(parsed(lines[:first_fix]))
    view = view_of(db_url, "CLE-20261120-0142", at(lines[first_fix - 1]))
    assert view["situation"] == "en_route" and view["eta_text"] == ""
    assert "as soon as the officer's vehicle reports where it is" in view["explain"][0]
    service.apply_sync(parsed(lines[first_fix:first_fix + 3]))
    now = at(lines[first_fix + 2])
    view = view_of(db_url, "CLE-20261120-0142", now)
    assert view["explain"] == ["The officer is on the way to you."]
    assert view["eta_clock"].startswith(("between ", "by ")) and view["eta_text"]
    # The relative words come from the clock window's own marks: "less than N" reaches at least its end.
    end = view["eta_clock"].split()[-1]
    high = int(view["eta_text"].split()[-2])
    local = now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    end_minutes = (int(end[:2]) * 60 + int(end[3:]) - local.hour * 60 - local.minute) % (24 * 60)
    assert high >= end_minutes - 1


def test_advice_before_the_visit_then_what_happens_next_and_support_after(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("burglary-priority")
    service.apply_sync(parsed(lines[:3]))
    view = view_of(db_url, "CLE-20261120-0142", at(lines[2]))
    assert view["advice"][0].startswith("Please do not touch, move or clean anything the burglar")
    assert view["after"] == [] and view["support"] == []
    service.apply_sync(parsed(lines[3:]))
    view = view_of(db_url, "CLE-20261120-0142", at(lines[-1]))
    assert view["situation"] == "completed" and view["crime_reference"] == "CL/26/041877"
    assert view["advice"] == [] and "officer in charge of your case will contact you" in view["after"][0]
    names = [c["name"] for c in view["support"]]
    assert names == ["Victim Care and Advice Service (VCAS)", "Victim Support"]
    assert view["support"][1]["tel"] == "tel:08081689111" and view["support"][1]["call"] == "Call 0808 168 9111"
    assert view["steps"][-1]["text"] == "We have closed this call. Your crime reference is CL/26/041877."


def test_a_booked_visit_moved_then_dealt_with_by_phone_says_nobody_is_coming_in_polish(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("scheduled-appointment")
    service.apply_sync(parsed(lines[:2]))
    view = view_of(db_url, "CLE-20261120-0230", at(lines[1]))
    assert view["lang"] == "pl" and view["dir"] == "ltr"  # the caller's language, from the feed
    assert view["status_label"] == "Wizyta umówiona"
    assert view["explain"] == ["Policjant przyjdzie jutro między 14:00 a 16:00."]
    moved = event("incident.appointment", at(lines[1]) + timedelta(minutes=30), 3,
                  urn="CLE-20261120-0230", window_start="2026-11-22T10:00:00Z", window_end="2026-11-22T12:00:00Z")
    service.apply_sync(parsed([moved]))
    view = view_of(db_url, "CLE-20261120-0230", at(lines[1]) + timedelta(minutes=30))
    assert view["status_label"] == "Termin wizyty zmieniony"
    assert view["explain"][0] == ("Termin Twojej wizyty się zmienił. Policjant przyjdzie teraz "
                                  "22 listopada (niedziela), między 10:00 a 12:00.")
    assert view["steps"][-1]["text"].startswith("Zmiana terminu: policjant przyjdzie teraz")
    closed = json.loads(lines[2])
    closed["seq"] = 4
    service.apply_sync(parsed([json.dumps(closed)]))
    view = view_of(db_url, "CLE-20261120-0230", at(lines[2]))
    assert view["situation"] == "by_phone_appointment"
    assert view["status_label"] == "Sprawa załatwiona telefonicznie"
    assert "policjant nie przyjdzie na umówioną wizytę" in view["explain"][0]
    assert view["steps"][-1]["text"] == "Załatwiliśmy sprawę telefonicznie. Nikt nie przyjedzie. " \
                                        "Numer Twojej sprawy: CL/26/041990."
    assert view["support"] and view["advice"] == []


@pytest.mark.parametrize("disposition,situation,words", [
    ("CANCELLED", "cancelled", "an officer will not be coming to you"),
    ("NO_DEPLOYMENT", "no_deployment", "nobody will come to you"),
    ("DUPLICATE", "duplicate", "joined to another report"),
])
def test_a_call_closed_without_a_visit_names_how_it_ended(db_url, disposition, situation, words):
    service, lines = AttendanceService(db_url), scenario_lines("diverted")
    service.apply_sync(parsed(lines[:1]))
    closing = event("incident.closed", at(lines[0]) + timedelta(minutes=5), 2, urn="CLE-20261120-0188",
                    disposition=disposition, crime_reference=None)
    service.apply_sync(parsed([closing]))
    view = view_of(db_url, "CLE-20261120-0188", at(lines[0]) + timedelta(minutes=6))
    assert view["situation"] == situation and view["status_label"] != "Closed"
    assert words in view["explain"][0] and view["crime_reference"] == ""


def test_no_officer_by_the_target_apologises_as_the_text_did(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("diverted")
    service.apply_sync(parsed(lines[:1]))
    with session_scope(db_url) as s:
        incident = s.exec(select(Incident)).one()
        incident.texts_sent = "no-officer"
    view = view_of(db_url, "CLE-20261120-0188", at(lines[0]) + timedelta(hours=2))
    assert view["situation"] == "waiting_late" and view["explain"][0].startswith("We are sorry")


def test_a_slipped_window_is_explained_as_the_delay_text_said(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("burglary-priority")
    first_fix = next(i for i, line in enumerate(lines) if "resource.position" in line)
    service.apply_sync(parsed(lines[:first_fix + 1]))
    with session_scope(db_url) as s:
        s.exec(select(Incident)).one().texts_sent += ",slipped-0-1"
    view = view_of(db_url, "CLE-20261120-0142", at(lines[first_fix]))
    assert view["explain"][-1] == "The officer has been held up, so they will arrive later than we first said."


@pytest.mark.parametrize("lang,heading,direction", [
    ("en", "Officer on the way", "ltr"), ("pl", "Policjant jest w drodze", "ltr"),
    ("ur", "پولیس افسر راستے میں ہیں", "rtl"), ("ar", "الشرطي في الطريق", "rtl"),
])
def test_every_language_says_the_whole_page(db_url, lang, heading, direction):
    service, lines = AttendanceService(db_url), scenario_lines("burglary-priority")
    first_fix = next(i for i, line in enumerate(lines) if "resource.position" in line)
    service.apply_sync(parsed(lines[:first_fix + 2]))
    view = view_of(db_url, "CLE-20261120-0142", at(lines[first_fix + 1]), lang=lang)
    assert (view["lang"], view["dir"], view["status_label"]) == (lang, direction, heading)
    assert view["eta_text"] and view["eta_clock"] and len(view["steps"]) == 3
    assert all(s["text"] for s in view["steps"]) and len(view["advice"]) == 4
    assert view["labels"]["danger.call"] and view["labels"]["page.title"]
    story = one_story(view)
    if lang != "en":  # nothing left in English
        for english in ("officer", "Officer", "minutes", "between", "today"):
            assert english not in story, english
    if direction == "rtl":  # times keep their own order inside right-to-left text
        assert "\u2068" in view["eta_clock"] and "\u2069" in view["eta_clock"]


def test_steps_stored_before_their_facts_were_kept_still_read_right(db_url):
    service, lines = AttendanceService(db_url), scenario_lines("scheduled-appointment")
    service.apply_sync(parsed(lines))
    with session_scope(db_url) as s:
        for step in s.exec(select(IncidentStep)):
            step.data = ""  # as migration 0009 left older steps
    view = view_of(db_url, "CLE-20261120-0230", at(lines[-1]), lang="en")
    texts = [s["text"] for s in view["steps"]]
    assert texts[1] == "Appointment booked: an officer will visit tomorrow between 14:00 and 16:00."
    assert texts[2] == "We dealt with this by phone. Nobody will come. Your crime reference is CL/26/041990."
