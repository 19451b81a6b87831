"""What each screen shows, built from the database as plain dictionaries.

`victim_view` is the only thing a victim's browser ever receives about an attendance: it is built from an
allow-list of fields, so call signs, positions, vehicles and officers' names cannot leak into it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlmodel import Session, select

from rxapp.attendance.models import (
    Incident,
    IncidentStep,
    stored_estimate,
)
from rxapp.attendance.service import find_incident_by_token
from rxapp.domain import attendance as rules
from rxapp.domain.eta import describe_clock_window, describe_window
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope


def _clock(at: Optional[datetime]) -> str:
    return rules.london_time(at) if at else ""


def victim_view(session: Session, incident: Incident, now: Optional[datetime] = None) -> dict:
    now = now or utcnow()
    steps = session.exec(
        select(IncidentStep).where(IncidentStep.incident_id == incident.id, IncidentStep.public == True)  # noqa: E712
        .order_by(IncidentStep.at, IncidentStep.id)
    ).all()
    estimate = stored_estimate(incident)
    eta_text = eta_clock = ""
    if estimate is not None and incident.is_open:
        eta_text = describe_window(estimate, now)
        eta_clock = describe_clock_window(estimate)
    appointment = ""
    if incident.appointment_start and incident.appointment_end and incident.is_open:
        appointment = rules.step_appointment(incident.appointment_start, incident.appointment_end, now)
    waiting = ""
    if incident.is_open and incident.status in (rules.LOGGED, rules.ASSIGNED) and not eta_text:
        waiting = ("We will show an arrival time here once the officer is on the way."
                   if incident.status == rules.ASSIGNED else
                   "We have not yet been able to send an officer. This page will change as soon as one is on the way.")
    return {
        "status": incident.status,
        "status_label": rules.STATUS_LABELS.get(incident.status, incident.status),
        "is_open": incident.is_open,
        "steps": [{"time": _clock(s.at), "day": rules.london_day(s.at, now), "text": s.text} for s in steps],
        "eta_text": eta_text,
        "eta_clock": eta_clock,
        "eta_stale": bool(estimate and estimate.stale),
        "appointment": appointment,
        "waiting": waiting,
        "crime_reference": incident.crime_reference or "" if not incident.is_open else "",
        "updated": _clock(incident.updated_at),
        "version": incident.version,
    }


def victim_view_for_link(token: str) -> tuple[Optional[int], Optional[dict]]:
    """(incident id, the victim's view) for a valid, unexpired link; (None, None) otherwise."""
    with session_scope(readonly=True) as session:
        incident = find_incident_by_token(session, token)
        if incident is None:
            return None, None
        return incident.id, victim_view(session, incident)


def victim_views(ids: set[int]) -> dict[int, dict]:
    """The victim's view of each of these attendances, to push to their open pages."""
    out = {}
    with session_scope(readonly=True) as session:
        for incident_id in ids:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                out[incident_id] = victim_view(session, incident)
    return out


def expired_links(ids: Iterable[int] = (), since: Optional[datetime] = None,
                  now: Optional[datetime] = None) -> set[int]:
    """Attendances whose victim link has expired: of `ids`, or (with `since`) every one expired since then."""
    now = now or utcnow()
    query = select(Incident.id).where(Incident.link_expires_at != None, Incident.link_expires_at <= now)  # noqa: E711
    if since is not None:
        query = query.where(Incident.link_expires_at > since)
    else:
        ids = list(ids)
        if not ids:
            return set()
        query = query.where(Incident.id.in_(ids))
    with session_scope(readonly=True) as session:
        return set(session.exec(query).all())
