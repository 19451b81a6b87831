"""Arrival windows: a resource's newest fix becomes the attendance's window (rxapp/domain/eta.py), on each
position event and again as fixes age (the refresh job). Only a change in what a person reads touches the
incident, so pages are pushed when the window moves, not on every fix."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance import texts as attendance_texts
from rxapp.attendance.models import Assignment, Incident, ResourceFix, stored_estimate
from rxapp.domain.attendance import ResourceState
from rxapp.domain.eta import estimate_arrival, shown_text, window_changed
from rxapp.domain.events import DispatchEvent, ResourcePosition
from rxapp.plumbing.db import session_scope


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
        if update_eta(incident, fix, max(at, p.fix_at), touched_at=touched_at, session=session):
            changed.add(incident.id)
    return changed



def update_eta(incident: Incident, fix: ResourceFix, now: datetime, *, touched_at: datetime,
               travel_seconds: float | None = None, session: Optional[Session] = None) -> bool:
    """Recompute the window from a fix; True when what a person sees changed."""
    # Smooth against the previous window only when it came from the same resource.
    previous = stored_estimate(incident) if incident.eta_callsign == fix.callsign else None
    estimate = estimate_arrival(
        now=now, fix_lat=fix.lat, fix_lon=fix.lon, fix_at=fix.fix_at, speed_mps=fix.speed_mps,
        dest_lat=incident.lat, dest_lon=incident.lon, grade=incident.grade, rural=incident.rural,
        previous=previous, travel_seconds=travel_seconds,
    )
    if (incident.eta_point is not None and incident.eta_callsign not in (None, fix.callsign)
            and estimate.point >= incident.eta_point):
        return False  # another resource on the way will arrive sooner: its window stands
    before = shown_text(stored_estimate(incident), now)
    incident.eta_earliest, incident.eta_latest = estimate.earliest, estimate.latest
    incident.eta_point, incident.eta_computed_at = estimate.point, estimate.computed_at
    incident.eta_basis, incident.eta_callsign = estimate.basis, fix.callsign
    attendance_texts.on_window(session or session_of(incident), incident, estimate, now)
    # Only a change in what a person reads is pushed to screens, not every fix.
    visible = window_changed(before, shown_text(estimate, now))
    if visible:
        incident.version += 1
        incident.updated_at = touched_at
    return visible



def clear_eta(incident: Incident) -> None:
    incident.eta_earliest = incident.eta_latest = incident.eta_point = incident.eta_computed_at = None
    incident.eta_basis = incident.eta_callsign = None



def refresh_windows(db_url: Optional[str], now: datetime, travel: dict[int, float] | None = None) -> set[int]:
    """Re-estimate every open, en-route attendance (fixes go stale even when no event arrives)."""
    changed: set[int] = set()
    with session_scope(db_url) as session:
        q = (select(Incident, Assignment, ResourceFix)
             .join(Assignment, Assignment.incident_id == Incident.id)
             .join(ResourceFix, ResourceFix.callsign == Assignment.callsign)
             .where(Incident.is_open == True, Assignment.active == True,  # noqa: E712
                    Incident.arrived_at == None,  # noqa: E711
                    Assignment.state.in_((ResourceState.ASSIGNED, ResourceState.EN_ROUTE))))
        for incident, assignment, fix in session.exec(q):
            if incident.eta_callsign not in (None, fix.callsign):
                continue
            secs = (travel or {}).get(incident.id)
            if update_eta(incident, fix, now, touched_at=now, travel_seconds=secs, session=session):
                changed.add(incident.id)
    return changed


@dataclass
class PositionTargets:
    """For a run of position events in one batch: the newest fix of each call sign in it, and the open
    attendances each is on the way to (assigned or en route, not yet arrived)."""

    fixes: dict[str, ResourceFix]
    incidents: dict[str, list[Incident]]

    @classmethod
    def load(cls, session: Session, items: list) -> "PositionTargets":
        callsigns = {i.payload.callsign for i in items
                     if isinstance(i, DispatchEvent) and isinstance(i.payload, ResourcePosition)}
        session.flush()
        fixes = {f.callsign: f for f in session.exec(select(ResourceFix).where(ResourceFix.callsign.in_(callsigns)))}
        incidents: dict[str, list[Incident]] = {}
        q = (select(Assignment.callsign, Incident).join(Incident, Incident.id == Assignment.incident_id)
             .where(Assignment.callsign.in_(callsigns), Assignment.active == True,  # noqa: E712
                    Assignment.state.in_((ResourceState.ASSIGNED, ResourceState.EN_ROUTE)),
                    Incident.is_open == True, Incident.arrived_at == None))  # noqa: E711,E712
        for callsign, incident in session.exec(q):
            incidents.setdefault(callsign, []).append(incident)
        return cls(fixes, incidents)


def session_of(instance) -> Session:
    from sqlalchemy.orm import object_session

    return object_session(instance)
