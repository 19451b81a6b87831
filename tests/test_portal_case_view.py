"""The victim's case page as `rxapp/portal/views.case_view` builds it, on the real database, from a real records
sequence: the sample burglary (integrations/niche/scenarios/records-changes.json) and the attendance it came from
(integrations/storm/scenarios/burglary-priority.jsonl), played through the attendance and journey services, with a
second victim linked to the same burglary so that each sees only their own.
"""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.govuk_notify.simulator import NotifyServer
from integrations.niche.protocol import parse_change
from rxapp import languages
from rxapp.attendance.models import Incident
from rxapp.investigation.models import CaseVictim, Occurrence, OccurrenceEvent
from rxapp.investigation.service import JourneyService
from rxapp.plumbing import config, links
from rxapp.plumbing.db import session_scope
from rxapp.portal.identity import VictimIdentity
from rxapp.portal.views import add_months, case_view, load_case_view
from rxapp.victims.models import Victim

from .test_journey_service import BURGLARY, play, sample_changes

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # after the release under investigation; the charge (18 Dec) is held
SECOND = "P-99001"


def _second_victim(at: str) -> dict:
    return {"change_id": "x-2", "type": "person.linked", "occurred_at": at, "occurrence_number": BURGLARY,
            "person": {"person_id": SECOND, "role": "VICTIM", "name": {"given": "Zofia", "family": "Nowakowska"},
                       "date_of_birth": "1979-06-11",
                       "contact": {"mobile": "07700900456", "email": "zofia@example.org", "postal_address": None,
                                   "preferred_channel": "SMS", "language": "pl", "safe_to_contact": True,
                                   "contact_notes": "Works nights: text, do not ring before noon"},
                       "needs": {"vulnerable": [], "intimidated": False, "persistently_targeted": False,
                                 "interpreter": False, "accessibility": None},
                       "consent": {"updates": True, "support_referral": True}}}


def _event(change_id: str, at: str, event: str, detail: dict | None = None):
    return parse_change({"change_id": change_id, "type": "investigation.event", "occurred_at": at,
                         "occurrence_number": BURGLARY, "event": event, "detail": detail or {}}, decoded=True)


def apply(db_url: str, changes) -> None:
    """Each change at its own time plus a minute, as the records feed delivers them."""
    for change in sorted(changes, key=lambda c: c.occurred_at):
        JourneyService(db_url, now=lambda c=change: c.occurred_at + timedelta(minutes=1)).apply_page(
            [change], change.change_id)


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def burglary(db_url, notify):
    """The burglary up to the release under investigation, played live with the outbox sender and the deadline sweep
    (tests/test_journey_service.play), a second victim linked on 21 November and referred to support on 24 November
    (her referral names her); then the charge dated 18 December arrives on 24 November and is held."""
    changes = [c for c in sample_changes() if c.occurrence_number == BURGLARY]
    charged = next(c for c in changes if getattr(c.payload, "event", "") == "CHARGED")
    changes = [c for c in changes if c is not charged]
    changes.append(parse_change(_second_victim("2026-11-21T10:00:00Z"), decoded=True))
    changes.append(_event("x-3", "2026-11-24T10:00:00Z", "SUPPORT_REFERRAL_MADE",
                          {"service": "Victim Care and Advice Service", "person_id": SECOND}))
    asyncio.run(play(db_url, notify, sorted(changes, key=lambda c: c.occurred_at)))
    JourneyService(db_url, now=lambda: datetime(2026, 11, 24, 10, 5, tzinfo=UTC)).apply_page([charged], "held")
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == BURGLARY)).one()
        who = {}
        for cv in s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)):
            person = s.get(Victim, cv.victim_id)
            who[person.person_id] = VictimIdentity(cv.id, cv.victim_id, occ.id, "h" * 64, person.language)
    return who


def view(db_url, who, now=NOW) -> dict:
    with session_scope(db_url, readonly=True) as s:
        return case_view(s, who, now)


def plain(value) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all(isinstance(v, str) or (isinstance(v, dict) and all(isinstance(x, str) for x in v.values()))
                   for v in value)
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def test_the_burglary_victims_page_in_english(db_url, burglary):
    amina = burglary["P-88120"]
    v = view(db_url, amina)
    assert all(plain(value) for value in v.values()), {k: type(x) for k, x in v.items()}
    assert (v["lang"], v["dir"], v["reference"]) == ("en", "ltr", "CL/26/041877")
    assert v["reported"] == "You reported: Burglary - residential - home, on 20 November 2026."
    assert v["status"] == "The suspect was released while enquiries continue"
    assert v["oic"] == "PC 4127, Middlesbrough CID"  # no name unless the force allows it
    titles = [item["title"] for item in v["timeline"]]
    assert titles == [
        "Your report was recorded as a crime", "We confirmed your report in writing",
        "We referred you to a support service", "A suspect was arrested", "A suspect was interviewed",
        "The suspect was released while enquiries continue"]
    assert v["timeline"][3]["when"] == "23 November 2026"
    assert all(item["meaning"] for item in v["timeline"])
    # What she is owed next: her routine update (the milestones were told); the rhythm after it.
    assert v["next_steps"][0] == {"text": "An update on your case, even if nothing has changed",
                                  "by": "By 21 December 2026"}
    assert v["next_steps"][-1]["text"].startswith("After that, you will hear from us at least every 28 days")
    assert v["right_to_review"] == []
    assert len(v["rights"]) == 9 and v["rights"][0].startswith("To understand and be understood")
    assert [c["name"] for c in v["support"]][:1] == ["Victim Care and Advice Service (VCAS)"]
    assert any("Criminal Injuries Compensation Authority" in line for line in v["compensation"])
    assert any("10 working days" in line for line in v["complaints"])
    assert any("IOPC" in line for line in v["complaints"])
    assert v["attendance"]["status"] and v["attendance"]["when"] == "Reported on 20 November 2026"
    assert v["labels"]["call_999"] == "Call 999" and v["labels"]["call_101"] == "Call 101"
    assert load_case_view(amina, NOW) == v


def test_no_staff_only_text_and_no_other_victims_data(db_url, burglary):
    amina, zofia = burglary["P-88120"], burglary[SECOND]
    v = view(db_url, amina)
    text = json.dumps(v, ensure_ascii=False)
    with session_scope(db_url) as s:
        staff = [e.staff_text for e in s.exec(select(OccurrenceEvent)) if e.staff_text]
        hidden = [e for e in s.exec(select(OccurrenceEvent).where(OccurrenceEvent.public == False))]  # noqa: E712
    assert any(e.kind == "charged" for e in hidden)  # the held charge is there, for staff
    assert "A suspect was charged" not in [i["title"] for i in v["timeline"]]
    assert "We will tell you about the charge" not in [step["text"] for step in v["next_steps"]]
    assert "court" not in v["status"].lower()
    for words in staff:
        assert words not in text
    for personal in ("Zofia", "Nowakowska", "07700900456", "zofia@example.org", "Works nights", "Sam Jones",
                     "sam.jones", "Amina", "07700900123"):
        assert personal not in text
    # The second victim's referral is hers: Amina's timeline shows her own one referral, Zofia's shows hers.
    assert [i["title"] for i in v["timeline"]].count("We referred you to a support service") == 1
    z = view(db_url, zofia)
    referral = [i for i in z["timeline"] if i["title"] == "Skierowaliśmy Cię do organizacji wsparcia"]
    assert [i["when"] for i in referral] == ["24 listopada 2026"]
    # An identity whose parts do not belong together (another case victim's id) opens nothing.
    assert view(db_url, VictimIdentity(zofia.case_victim_id, amina.victim_id, amina.occurrence_id, "h" * 64)) is None
    assert load_case_view(VictimIdentity(10_000, amina.victim_id, amina.occurrence_id, "h" * 64)) is None


def test_in_polish_and_in_urdu(db_url, burglary):
    z = view(db_url, burglary[SECOND])
    assert (z["lang"], z["dir"]) == ("pl", "ltr")
    assert z["reported"] == "Zgłoszono: Burglary - residential - home, dnia 20 listopada 2026."
    assert z["status"] == languages.text("pl", "case.status.under_investigation")
    assert z["labels"]["call_999"] == languages.text("pl", "case.call_999")
    assert all(item["title"] == languages.text("pl", f"case.event.{k}_title") for item, k in zip(
        z["timeline"][:1], ["recorded"]))
    with session_scope(db_url) as s:
        s.get(Victim, burglary["P-88120"].victim_id).language = "ur"
    u = view(db_url, burglary["P-88120"])
    assert (u["lang"], u["dir"]) == ("ur", "rtl")
    assert u["timeline"][0]["title"] == languages.text("ur", "case.event.recorded_title")
    assert "\u2068CL/26/041877\u2069" not in u["reference"]  # the reference itself is plain; pages isolate it
    assert "\u2068PC 4127\u2069" in u["oic"]  # values in an Urdu sentence keep their own order
    ur = languages.texts("ur")
    for value in [u["status"], *u["rights"], *u["compensation"], *u["labels"].values()]:
        assert value in ur.values() or any(v in value for v in ("\u2068",)), value


def test_the_officers_name_only_when_the_force_allows_it(db_url, burglary, monkeypatch):
    monkeypatch.setenv("PORTAL_SHOW_OFFICER_NAME", "true")
    config.reset_settings()
    assert view(db_url, burglary["P-88120"])["oic"] == "Sam Jones (PC 4127), Middlesbrough CID"


def test_right_to_review_only_after_no_further_action(db_url, burglary):
    amina = burglary["P-88120"]
    assert view(db_url, amina)["right_to_review"] == []
    apply(db_url, [_event("x-4", "2026-12-02T10:00:00Z", "RELEASED_NFA", {"reason": "Insufficient evidence"})])
    v = view(db_url, amina, NOW + timedelta(days=2))
    assert v["status"] == "No further action will be taken against the suspect"
    assert v["right_to_review"][0].startswith("Under the Victims' Right to Review")
    assert "3 months" in v["right_to_review"][1] and "2 March 2027" in v["right_to_review"][1]
    assert "Insufficient evidence" not in json.dumps(v)  # the reason is for the officer to tell, not the feed's
    # A later charge ends it.
    apply(db_url, [_event("x-5", "2026-12-03T10:00:00Z", "CHARGED", {"charges": ["Burglary"], "first_hearing": None})])
    assert view(db_url, amina, NOW + timedelta(days=3))["right_to_review"] == []


def test_the_attendance_link_only_while_it_works(db_url, burglary):
    amina = burglary["P-88120"]
    with session_scope(db_url) as s:
        incident = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0142")).one()
        incident.link_expires_at = NOW + timedelta(hours=1)
        expected = links.track_url(links.derive_token(incident.link_nonce))
    assert view(db_url, amina)["attendance"]["url"] == expected
    assert view(db_url, amina, NOW + timedelta(hours=1))["attendance"]["url"] == ""
    with session_scope(db_url) as s:
        s.get(Occurrence, amina.occurrence_id).incident_id = None
    assert view(db_url, amina)["attendance"] == {}


def test_a_finalised_case(db_url, burglary):
    fin = parse_change({"change_id": "x-9", "type": "occurrence.finalised", "occurred_at": "2026-12-05T10:00:00Z",
                        "occurrence_number": BURGLARY, "result": "Charged"}, decoded=True)
    apply(db_url, [fin])
    v = view(db_url, burglary["P-88120"], datetime(2026, 12, 6, tzinfo=UTC))
    assert v["status"] == "Your case is closed" and v["timeline"][-1]["title"] == "Your case was closed"
    assert not any(step["text"].startswith("After that") for step in v["next_steps"])


def test_add_months():
    from datetime import date
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 12, 2), 3) == date(2027, 3, 2)
