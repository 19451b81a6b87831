"""The control room's board: every open attendance, most urgent first (breached, at risk, nobody assigned,
then the rest, each oldest first), with the breach warning, "None assigned", why texts are held back, and no
closed incidents."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from rxapp.attendance.board_views import board_rows
from rxapp.attendance.models import Incident
from rxapp.domain.grades import GradeTargets
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue
from rxapp.plumbing.db import session_scope
from rxapp.victims.models import Victim

from .test_unassigned_sweep import T0, Feed

NOW = T0 + timedelta(minutes=70)


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
        "assigned": feed.opened("CLE-B-ASSIGNED", "PRIORITY", T0 + timedelta(minutes=40)),
        "fresh": feed.opened("CLE-B-FRESH", "STANDARD", T0 + timedelta(minutes=50)),
        "late-second": feed.opened("CLE-B-LATE2", "PRIORITY", T0 + timedelta(minutes=5)),
        "at-risk": feed.opened("CLE-B-RISK", "EMERGENCY", T0 + timedelta(minutes=60)),
        "late-first": feed.opened("CLE-B-LATE1", "PRIORITY", T0),
        "closed": feed.opened("CLE-B-CLOSED", "PRIORITY", T0 - timedelta(minutes=30)),
    }
    feed.assigned("CLE-B-ASSIGNED", "CE21", T0 + timedelta(minutes=45))
    feed.closed("CLE-B-CLOSED", T0 + timedelta(minutes=10))
    return ids


def test_most_urgent_first_and_no_closed_incidents(db_url):
    ids = _open_the_day(db_url)
    rows = _board(db_url)
    assert [r["urn"] for r in rows] == ["CLE-B-LATE1", "CLE-B-LATE2", "CLE-B-RISK", "CLE-B-FRESH", "CLE-B-ASSIGNED"]
    assert [r["risk"] for r in rows] == ["breached", "breached", "at_risk", "unassigned", "ok"]
    assert str(ids["closed"]) not in {r["id"] for r in rows}
    assert "rank" not in rows[0]


def test_a_missed_target_is_a_breach_warning_with_how_late_and_why(db_url):
    _open_the_day(db_url)
    late = {r["urn"]: r for r in _board(db_url)}["CLE-B-LATE1"]
    assert late["risk"] == "breached"
    assert late["risk_reason"] == "Target 10:00 missed by 10 minutes, no officer assigned"
    assert (late["grade_label"], late["target"], late["elapsed"]) == ("Priority", "60 min", "70 min")
    risk = {r["urn"]: r for r in _board(db_url)}["CLE-B-RISK"]
    assert risk["risk_reason"] == "No officer assigned, 10 of 15 minutes used"


def test_nobody_assigned_is_said_and_an_assigned_officer_is_named(db_url):
    _open_the_day(db_url)
    rows = {r["urn"]: r for r in _board(db_url)}
    assert rows["CLE-B-FRESH"]["resources"] == "None assigned"
    assert rows["CLE-B-LATE1"]["resources"] == "None assigned"
    assert rows["CLE-B-ASSIGNED"]["resources"] == "CE21 (assigned)"
    assert rows["CLE-B-ASSIGNED"]["status"] == "assigned"


def test_texts_held_back_are_summarised_for_the_control_room(db_url):
    ids = _open_the_day(db_url)
    _hold_texts(db_url, ids["fresh"], "blocked", "safe_contact_not_confirmed")
    _hold_texts(db_url, ids["at-risk"], "held", "quiet_hours")
    rows = {r["urn"]: r for r in _board(db_url)}
    assert rows["CLE-B-FRESH"]["texts"] == "No texts: no safe contact confirmed (domestic abuse or sexual offence)"
    assert rows["CLE-B-RISK"]["texts"] == "Text waiting: quiet hours (goes at 08:00)"
    # A text that went, or is queued as usual, is nothing to explain.
    assert rows["CLE-B-ASSIGNED"]["texts"] == "" and rows["CLE-B-LATE1"]["texts"] == ""
    with session_scope(db_url) as s:
        assert s.exec(select(Message).where(Message.incident_id == ids["assigned"])).all()  # officer_assigned


def test_an_empty_board(db_url):
    assert _board(db_url) == []
