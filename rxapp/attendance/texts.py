"""Which texts an attendance sends, and when: decided from what the feed changed, written to the outbox in
the same transaction. Each text goes at most once per attendance (keys in `incident.texts_sent`); the safety
rules at send time decide whether it may go at all (nothing for flagged or unsafe incidents)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain.eta import arriving_soon, describe_clock_window
from rxapp.domain.grades import GradeTargets
from rxapp.domain.safety import MessageKind
from rxapp.messaging.outbox import LINK_PLACEHOLDER, enqueue
from rxapp.victims.models import Victim

ARRIVING_SOON = timedelta(minutes=5)  # "arriving soon" goes when the best guess from a fresh fix is this close
SLIP_WORTH_TELLING = timedelta(minutes=15)


def _sent(incident: Incident) -> set[str]:
    return {k for k in incident.texts_sent.split(",") if k}


def _once(session: Session, incident: Incident, key: str, template: str, personalisation: dict,
          now: datetime) -> bool:
    keys = _sent(incident)
    if key in keys or incident.victim_id is None:
        return False
    victim = session.get(Victim, incident.victim_id)
    if victim is None:
        return False
    keys.add(key)
    incident.texts_sent = ",".join(sorted(keys))[:300]
    # The outbox runs on the wall clock; `now` (the event's time) only drives the rules above.
    enqueue(session, victim=victim, template=template, kind=MessageKind.ATTENDANCE, personalisation=personalisation,
            incident=incident)
    return True


def on_assigned(session: Session, incident: Incident, now: datetime) -> None:
    key = f"assigned-{incident.diverted_count}"
    _once(session, incident, key, "officer_assigned", {"link": LINK_PLACEHOLDER}, now)


def on_nobody_left(session: Session, incident: Incident, now: datetime) -> None:
    _once(session, incident, f"delayed-{incident.diverted_count}", "attendance_delayed_no_window",
          {"link": LINK_PLACEHOLDER}, now)


def on_window(session: Session, incident: Incident, estimate, now: datetime) -> None:
    """A new arrival window: tell the victim if it has slipped a lot, or if the officer is likely to arrive
    within about five minutes (`eta.arriving_soon`: the best guess from a fresh fix, not the window's late edge,
    which is the cautious side and would say it far too early)."""
    if estimate is None:
        return
    if incident.notified_latest is None:
        incident.notified_latest = estimate.latest  # what the page first showed
    elif estimate.latest - incident.notified_latest >= SLIP_WORTH_TELLING:
        slip = int((estimate.latest - incident.notified_latest).total_seconds() // 900)
        if _once(session, incident, f"slipped-{incident.diverted_count}-{slip}", "attendance_delayed",
                 {"window": describe_clock_window(estimate, now=now), "link": LINK_PLACEHOLDER}, now):
            incident.notified_latest = estimate.latest
    if arriving_soon(estimate, now, ARRIVING_SOON.total_seconds()):
        _once(session, incident, f"soon-{incident.diverted_count}", "officer_arriving_soon", {}, now)


def on_closed(session: Session, incident: Incident, now: datetime) -> None:
    if incident.crime_reference:
        _once(session, incident, "closed", "attendance_closed", {"crime_reference": incident.crime_reference}, now)
    elif incident.disposition in ("ATTENDED", "RESOLVED_BY_PHONE", "NO_DEPLOYMENT"):
        _once(session, incident, "closed", "attendance_closed_no_crime", {}, now)


def sweep_unassigned(session: Session, targets: GradeTargets, now: datetime) -> list[int]:
    """Open attendances with nobody assigned past their grade's target get an apology and a promise."""
    changed = []
    q = select(Incident).where(Incident.is_open == True, Incident.first_assigned_at == None,  # noqa: E711,E712
                               Incident.appointment_start == None)  # noqa: E711
    for incident in session.exec(q):
        deadline = targets.target_deadline(incident.grade, incident.opened_at, incident.rural)
        if deadline is not None and deadline <= now and "no-officer" not in _sent(incident):
            if _once(session, incident, "no-officer", "no_officer_yet", {"link": LINK_PLACEHOLDER}, now):
                changed.append(incident.id)
    return changed
