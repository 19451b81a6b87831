"""The control room's board: every open attendance, most urgent first (breached, at risk, nobody assigned,
then the rest, each oldest first), with the breach warning, "None" for no resource, why texts are held back, and no
closed incidents."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import select

from rxapp.attendance.board_views import board_rows
from rxapp.attendance.models import Incident
from rxapp.domain.attendance import london_time
from rxapp.domain.grades import GradeTargets
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue
from rxapp.plumbing.db import session_scope
from rxapp.victims.models import Victim

from .test_unassigned_sweep import Feed

# Recent times (the feed refuses events from days ago), on the minute so the board's words are exact.
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
LONDON = ZoneInfo("Europe/London")
T0 = NOW - timedelta(minutes=70)


def _board(db_url):
    with session_scope(db_url, readonly=True) as s:
        return board_rows(s, GradeTargets(), NOW)


def _hold_texts(db_url, incident_id: int, status: str, rule: str) -> None:
    with session_scope(db_url) as s:
        incident = s.get(Incident, incident_id)
        message = enqueue(s, victim=s.get(Victim, incident.victim_id), template="officer_assigned",
                          kind="attendance", personalisation={"link": "x"}, incident=incident)
        message.status, message.rule = status, rule


def _open_the_day(db_url) -> dict[str, int]:
    """Opened out of order, so the board's order is its own and not the database's."""
    feed = Feed(db_url)
    ids = {
        "assigned": feed.opened("CLE-20261201-0101", "PRIORITY", T0 + timedelta(minutes=40)),
        "fresh": feed.opened("CLE-20261201-0102", "STANDARD", T0 + timedelta(minutes=50)),
        "late-second": feed.opened("CLE-20261201-0103", "PRIORITY", T0 + timedelta(minutes=5)),
        "at-risk": feed.opened("CLE-20261201-0104", "EMERGENCY", T0 + timedelta(minutes=60)),
        "late-first": feed.opened("CLE-20261201-0105", "PRIORITY", T0),
        "closed": feed.opened("CLE-20261201-0106", "PRIORITY", T0 - timedelta(minutes=30)),
    }
    feed.assigned("CLE-20261201-0101", "CE21", T0 + timedelta(minutes=45))
    feed.closed("CLE-20261201-0106", T0 + timedelta(minutes=10))
    return ids


def test_most_urgent_first_and_no_closed_incidents(db_url):
    ids = _open_the_day(db_url)
    rows = _board(db_url)
    assert [r["urn"] for r in rows] == ["CLE-20261201-0105", "CLE-20261201-0103", "CLE-20261201-0104", "CLE-20261201-0102", "CLE-20261201-0101"]
    assert [r["risk"] for r in rows] == ["breached", "breached", "at_risk", "unassigned", "ok"]
    assert str(ids["closed"]) not in {r["id"] for r in rows}
    assert "rank" not in rows[0]


def test_a_missed_target_is_a_breach_warning_with_how_late_and_why(db_url):
    _open_the_day(db_url)
    late = {r["urn"]: r for r in _board(db_url)}["CLE-20261201-0105"]
    assert late["risk"] == "breached"
    # A deadline on another day than now (the test run just after midnight) carries its weekday, as the board says.
    deadline, today = (T0 + timedelta(minutes=60)).astimezone(LONDON), NOW.astimezone(LONDON).date()
    said = london_time(deadline) if deadline.date() == today else deadline.strftime("%a %H:%M")
    assert late["risk_reason"] == f"Target {said} missed by 10 minutes, no officer assigned"
    assert (late["grade_label"], late["target"], late["elapsed"]) == ("Priority", "60 min", "70 min")
    risk = {r["urn"]: r for r in _board(db_url)}["CLE-20261201-0104"]
    assert risk["risk_reason"] == "No officer assigned, 10 of 15 minutes used"


def test_nobody_assigned_is_said_and_an_assigned_officer_is_named(db_url):
    _open_the_day(db_url)
    rows = {r["urn"]: r for r in _board(db_url)}
    assert rows["CLE-20261201-0102"]["resources"] == "None"
    assert rows["CLE-20261201-0105"]["resources"] == "None"
    assert rows["CLE-20261201-0101"]["resources"] == "CE21 (assigned)"
    assert rows["CLE-20261201-0101"]["status"] == "assigned"


def test_texts_held_back_are_summarised_for_the_control_room(db_url):
    ids = _open_the_day(db_url)
    _hold_texts(db_url, ids["fresh"], "blocked", "safe_contact_not_confirmed")
    _hold_texts(db_url, ids["at-risk"], "held", "quiet_hours")
    rows = {r["urn"]: r for r in _board(db_url)}
    assert rows["CLE-20261201-0102"]["texts"] == "No texts: no safe contact confirmed (domestic abuse or sexual offence)"
    assert rows["CLE-20261201-0104"]["texts"] == "Text waiting: quiet hours (goes at 08:00)"
    # A text that went, or is queued as usual, is nothing to explain.
    assert rows["CLE-20261201-0101"]["texts"] == "" and rows["CLE-20261201-0105"]["texts"] == ""
    with session_scope(db_url) as s:
        assert s.exec(select(Message).where(Message.incident_id == ids["assigned"])).all()  # officer_assigned


def test_an_empty_board(db_url):
    assert _board(db_url) == []
