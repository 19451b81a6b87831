"""Arrival windows: the newest fixes of the resources on their way become the attendance's window
(rxapp/domain/eta.py), on each position event and again as fixes age (the refresh job).

With several resources on the way, every one with a fix is estimated and the victim is shown the one most likely
to arrive first (`eta.first_to_arrive`: ranked by the latest plausible arrival, so a car whose fixes stopped
loses its place as its fix ages). Only a change in what a person reads touches the incident, so pages are pushed
when the window moves, not on every fix; `counting_down` names the attendances whose page changes with time
alone, for the publisher's countdown.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Optional

from sqlmodel import Session, select

from rxapp.attendance import texts as attendance_texts
from rxapp.attendance.models import Assignment, Incident, ResourceFix, stored_estimate
from rxapp.attendance.targets import attendance_now
from rxapp.domain.attendance import ResourceState
from rxapp.domain.eta import EtaEstimate, estimate_arrival, first_to_arrive, shown_text, window_changed
from rxapp.domain.events import DispatchEvent, ResourcePosition
from rxapp.plumbing.db import session_scope

ON_THE_WAY = (ResourceState.ASSIGNED, ResourceState.EN_ROUTE)
Travel = Mapping[tuple[int, str], float]  # (incident id, call sign) -> a routing engine's drive time in seconds


def position_fast(session: Session, p: ResourcePosition, at: datetime, targets: "PositionTargets",
                  touched_at: datetime) -> Optional[set[int]]:
    """Incidents whose view changed, or None when the fix is older than (or the same as) the newest."""
    fix = targets.fixes.get(p.callsign)
    if fix is not None and p.fix_at <= fix.fix_at:
        return None
    if fix is None:
        fix = ResourceFix(callsign=p.callsign, lat=p.lat, lon=p.lon, fix_at=p.fix_at)
        session.add(fix)
        targets.fixes[p.callsign] = fix
    fix.lat, fix.lon, fix.fix_at, fix.speed_mps, fix.heading = p.lat, p.lon, p.fix_at, p.speed_mps, p.heading
    changed = set()
    for incident in targets.incidents.get(p.callsign, ()):
        # Estimated as of the event, so a replay after an outage gives the same windows as a live run;
        # the refresh job re-estimates against the wall clock as fixes age.
        fixes = {cs: targets.fixes[cs] for cs in targets.on_the_way.get(incident.id, ()) if cs in targets.fixes}
        if reestimate(incident, fixes, max(at, p.fix_at), touched_at=touched_at, session=session):
            changed.add(incident.id)
    return changed


def reestimate(incident: Incident, fixes: Mapping[str, ResourceFix], now: datetime, *, touched_at: datetime,
               travel: Optional[Travel] = None, session: Optional[Session] = None) -> bool:
    """Estimate every resource on the way from its newest fix and show the one most likely to arrive first;
    True when what a person sees changed. Nothing changes when no resource on the way has a fix."""
    stored = stored_estimate(incident)
    candidates: dict[str, EtaEstimate] = {}
    for callsign, fix in fixes.items():
        # Smooth against the stored window only when it came from the same resource.
        candidates[callsign] = estimate_arrival(
            now=now, fix_lat=fix.lat, fix_lon=fix.lon, fix_at=fix.fix_at, speed_mps=fix.speed_mps,
            dest_lat=incident.lat, dest_lon=incident.lon, grade=incident.grade, rural=incident.rural,
            previous=stored if incident.eta_callsign == callsign else None,
            travel_seconds=(travel or {}).get((incident.id, callsign)),
        )
    chosen = first_to_arrive(candidates, incident.eta_callsign)
    if chosen is None:
        return False
    estimate = candidates[chosen]
    before = shown_text(stored, now)
    incident.eta_earliest, incident.eta_latest = estimate.earliest, estimate.latest
    incident.eta_point, incident.eta_computed_at = estimate.point, estimate.computed_at
    incident.eta_basis, incident.eta_callsign = estimate.basis, chosen
    attendance_texts.on_window(session or session_of(incident), incident, estimate, now)
    # Only a change in what a person reads is pushed to screens, not every fix.
    visible = window_changed(before, shown_text(estimate, now))
    if visible:
        incident.version += 1
        incident.updated_at = touched_at
    return visible


def update_eta(incident: Incident, fix: ResourceFix, now: datetime, *, touched_at: datetime,
               session: Optional[Session] = None) -> bool:
    """A resource on the way reported (or went en route with a fix already known): re-evaluate the window
    across every resource on the way to this incident; True when what a person sees changed."""
    session = session or session_of(incident)
    fixes = _fixes_on_the_way(session, [incident.id]).get(incident.id, {})
    fixes.setdefault(fix.callsign, fix)
    return reestimate(incident, fixes, now, touched_at=touched_at, session=session)


def clear_eta(incident: Incident) -> None:
    incident.eta_earliest = incident.eta_latest = incident.eta_point = incident.eta_computed_at = None
    incident.eta_basis = incident.eta_callsign = None


def _fixes_on_the_way(session: Session, incident_ids: list[int]) -> dict[int, dict[str, ResourceFix]]:
    """incident id -> {call sign: newest fix} of its active resources on the way (those with a fix)."""
    out: dict[int, dict[str, ResourceFix]] = {}
    if not incident_ids:
        return out
    q = (select(Assignment.incident_id, ResourceFix)
         .join(ResourceFix, ResourceFix.callsign == Assignment.callsign)
         .where(Assignment.incident_id.in_(incident_ids), Assignment.active == True,  # noqa: E712
                Assignment.state.in_(ON_THE_WAY)))
    for incident_id, fix in session.exec(q):
        out.setdefault(incident_id, {})[fix.callsign] = fix
    return out


def refresh_windows(db_url: Optional[str], now: datetime, travel: Optional[Travel] = None) -> set[int]:
    """Re-estimate every open attendance with a resource on the way (fixes go stale even when no event
    arrives), choosing again among all its resources."""
    changed: set[int] = set()
    with session_scope(db_url) as session:
        incidents = list(session.exec(
            select(Incident).where(Incident.is_open == True, Incident.arrived_at == None,  # noqa: E711,E712
                                   Incident.id.in_(select(Assignment.incident_id).where(
                                       Assignment.active == True, Assignment.state.in_(ON_THE_WAY))))))  # noqa: E712
        fixes = _fixes_on_the_way(session, [i.id for i in incidents])
        for incident in incidents:
            if incident.id in fixes and reestimate(incident, fixes[incident.id], now, touched_at=now,
                                                   travel=travel, session=session):
                changed.add(incident.id)
    return changed


def route_legs(db_url: Optional[str] = None) -> list[tuple[tuple[int, str], tuple[float, float], tuple[float, float]]]:
    """((incident id, call sign), newest fix, incident location) of every resource on the way, for a routing
    engine: every candidate is estimated, not only the one shown."""
    with session_scope(db_url, readonly=True) as session:
        q = (select(Incident.id, Assignment.callsign, ResourceFix.lat, ResourceFix.lon, Incident.lat, Incident.lon)
             .join(Assignment, Assignment.incident_id == Incident.id)
             .join(ResourceFix, ResourceFix.callsign == Assignment.callsign)
             .where(Incident.is_open == True, Incident.arrived_at == None,  # noqa: E711,E712
                    Assignment.active == True, Assignment.state.in_(ON_THE_WAY)))  # noqa: E712
        return [((i, cs), (a, b), (c, d)) for i, cs, a, b, c, d in session.exec(q)]


def counting_down(db_url: Optional[str] = None, now: Optional[datetime] = None) -> set[int]:
    """Open attendances whose victim's page changes with time alone (an arrival window or a booked visit), and
    whose link still works: the publisher re-renders these and pushes those whose view changed."""
    now = now or attendance_now()
    with session_scope(db_url, readonly=True) as session:
        q = select(Incident.id).where(
            Incident.is_open == True,  # noqa: E712
            (Incident.eta_point != None) | (Incident.appointment_start != None),  # noqa: E711
            (Incident.link_expires_at == None) | (Incident.link_expires_at > now))  # noqa: E711
        return set(session.exec(q).all())


@dataclass
class PositionTargets:
    """For a run of position events in one batch: the newest fix of each call sign involved, the open
    attendances each reporting call sign is on the way to (assigned or en route, not yet arrived), and every
    resource on the way to each of those attendances (so the window can move to whichever arrives first)."""

    fixes: dict[str, ResourceFix]
    incidents: dict[str, list[Incident]]
    on_the_way: dict[int, list[str]]

    @classmethod
    def load(cls, session: Session, items: list) -> "PositionTargets":
        callsigns = {i.payload.callsign for i in items
                     if isinstance(i, DispatchEvent) and isinstance(i.payload, ResourcePosition)}
        session.flush()
        incidents: dict[str, list[Incident]] = {}
        q = (select(Assignment.callsign, Incident).join(Incident, Incident.id == Assignment.incident_id)
             .where(Assignment.callsign.in_(callsigns), Assignment.active == True,  # noqa: E712
                    Assignment.state.in_(ON_THE_WAY),
                    Incident.is_open == True, Incident.arrived_at == None))  # noqa: E711,E712
        for callsign, incident in session.exec(q):
            incidents.setdefault(callsign, []).append(incident)
        on_the_way: dict[int, list[str]] = {}
        ids = {incident.id for found in incidents.values() for incident in found}
        if ids:
            q = select(Assignment.incident_id, Assignment.callsign).where(
                Assignment.incident_id.in_(ids), Assignment.active == True,  # noqa: E712
                Assignment.state.in_(ON_THE_WAY))
            for incident_id, callsign in session.exec(q):
                on_the_way.setdefault(incident_id, []).append(callsign)
        wanted = callsigns | {cs for found in on_the_way.values() for cs in found}
        fixes = {f.callsign: f for f in session.exec(select(ResourceFix).where(ResourceFix.callsign.in_(wanted)))}
        return cls(fixes, incidents, on_the_way)


def session_of(instance) -> Session:
    from sqlalchemy.orm import object_session

    return object_session(instance)
