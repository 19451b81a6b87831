"""The "no officer yet" apology: an open attendance with nobody assigned past its grade's target gets exactly
one text saying so; none before the target, none once an officer is assigned, never a second one."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from integrations.storm.protocol import parse_frame
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.texts import sweep_unassigned
from rxapp.domain.grades import GradeTargets
from rxapp.messaging.models import Message
from rxapp.plumbing.db import session_scope

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
TARGETS = GradeTargets()  # emergency 15 min (urban), priority 60 min, standard 24 h


class Feed:
    """STORM frames for made-up attendances, applied through the real service."""

    def __init__(self, db_url: str):
        self.service = AttendanceService(db_url)
        self.db_url = db_url
        self.seq = 0

    def _apply(self, kind: str, at: datetime, **body) -> None:
        self.seq += 1
        frame = {"seq": self.seq, "event_id": str(uuid.uuid4()), "type": kind,
                 "occurred_at": at.isoformat().replace("+00:00", "Z"), **body}
        result = self.service.apply_sync([parse_frame(json.dumps(frame))])
        assert result.applied == 1 and result.dead_letters == 0, kind

    def opened(self, urn: str, grade: str, at: datetime) -> int:
        self._apply("incident.opened", at, incident={
            "urn": urn, "grade": grade, "category": "BURGLARY_DWELLING",
            "location": {"easting": 447835, "northing": 517445, "description": "Acklam Road, Middlesbrough"},
            "caller": {"name": "Test Caller", "phone": "07700900123", "email": None, "sms_consent": True,
                       "language": "en"},
            "flags": []})
        with session_scope(self.db_url) as s:
            return s.exec(select(Incident.id).where(Incident.urn == urn)).one()

    def assigned(self, urn: str, callsign: str, at: datetime) -> None:
        self._apply("resource.assigned", at, assignment={"urn": urn, "callsign": callsign, "resource_type": "car"})

    def closed(self, urn: str, at: datetime) -> None:
        self._apply("incident.closed", at, incident={"urn": urn, "disposition": "RESOLVED_BY_PHONE",
                                                     "crime_reference": None})


def sweep(db_url: str, now: datetime) -> list[int]:
    with session_scope(db_url) as s:
        return sweep_unassigned(s, TARGETS, now)


def apologies(db_url: str, incident_id: int) -> int:
    with session_scope(db_url) as s:
        return len(s.exec(select(Message).where(Message.incident_id == incident_id,
                                                Message.template == "no_officer_yet")).all())


def test_one_apology_once_the_grade_target_has_passed_and_never_a_second(db_url):
    feed = Feed(db_url)
    priority = feed.opened("CLE-20261120-8001", "PRIORITY", T0)
    assert sweep(db_url, T0 + timedelta(minutes=59)) == []
    assert apologies(db_url, priority) == 0
    assert sweep(db_url, T0 + timedelta(minutes=60)) == [priority]  # the target itself has passed
    assert apologies(db_url, priority) == 1
    assert sweep(db_url, T0 + timedelta(minutes=61)) == []
    assert sweep(db_url, T0 + timedelta(hours=5)) == []
    assert apologies(db_url, priority) == 1
    with session_scope(db_url) as s:
        text = s.exec(select(Message).where(Message.incident_id == priority)).one()
        assert text.kind == "attendance" and text.status == "queued" and text.channel == "sms"


def test_each_grade_is_measured_against_its_own_target(db_url):
    feed = Feed(db_url)
    emergency = feed.opened("CLE-20261120-8002", "EMERGENCY", T0)
    priority = feed.opened("CLE-20261120-8003", "PRIORITY", T0)
    standard = feed.opened("CLE-20261120-8004", "STANDARD", T0)
    assert sweep(db_url, T0 + timedelta(minutes=15)) == [emergency]
    assert sweep(db_url, T0 + timedelta(hours=2)) == [priority]
    assert sweep(db_url, T0 + timedelta(hours=23, minutes=59)) == []
    assert sweep(db_url, T0 + timedelta(hours=24)) == [standard]
    assert [apologies(db_url, i) for i in (emergency, priority, standard)] == [1, 1, 1]


def test_no_apology_once_an_officer_is_assigned(db_url):
    feed = Feed(db_url)
    incident = feed.opened("CLE-20261120-8005", "PRIORITY", T0)
    feed.assigned("CLE-20261120-8005", "CE21", T0 + timedelta(minutes=30))
    assert sweep(db_url, T0 + timedelta(hours=3)) == []
    assert apologies(db_url, incident) == 0


def test_an_officer_assigned_and_then_withdrawn_still_means_no_apology(db_url):
    # The apology says nobody has been sent yet; once someone was, the diverted text covers it instead.
    feed = Feed(db_url)
    incident = feed.opened("CLE-20261120-8006", "PRIORITY", T0)
    feed.assigned("CLE-20261120-8006", "CE21", T0 + timedelta(minutes=30))
    feed._apply("resource.unassigned", T0 + timedelta(minutes=40),
                assignment={"urn": "CLE-20261120-8006", "callsign": "CE21", "reason": "DIVERTED"})
    assert sweep(db_url, T0 + timedelta(hours=3)) == []
    assert apologies(db_url, incident) == 0


def test_no_apology_for_a_closed_attendance(db_url):
    feed = Feed(db_url)
    incident = feed.opened("CLE-20261120-8007", "PRIORITY", T0)
    feed.closed("CLE-20261120-8007", T0 + timedelta(minutes=20))
    assert sweep(db_url, T0 + timedelta(hours=3)) == []
    assert apologies(db_url, incident) == 0
