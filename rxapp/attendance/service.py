"""Attendance service: applies dispatch events to the database, one transaction per batch of feed frames,
with the feed's resume point and dead letters written in that same transaction.

It is the STORM client's `FeedSink`. After each commit it tells the realtime hub which incidents changed
in a way a person can see, so pages are pushed only when their status or arrival window moves.

The resume point moves one seq at a time, over frames applied or dead-lettered in order; a frame that jumps
ahead of the stream is dead-lettered and held as an alert, and the gateway's heartbeats settle it (a gap the
gateway confirms is accepted, a number it disowns never applies): see `rxapp/domain/feed_sequence.py`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlmodel import Session, select

from rxapp.attendance import texts as attendance_texts
from rxapp.attendance import windows
from rxapp.attendance.models import Assignment, Incident, IncidentStep, ResourceFix
from rxapp.attendance.targets import attendance_now
from rxapp.attendance.windows import PositionTargets
from rxapp.domain import attendance as rules
from rxapp.domain import feed_sequence as order
from rxapp.domain.attendance import IncidentStatus, ResourceState
from rxapp.domain.events import (
    AppointmentBooked,
    DispatchEvent,
    IncidentClosed,
    IncidentOpened,
    IncidentUpdated,
    ResourceAssigned,
    ResourcePosition,
    ResourceStatus,
    ResourceUnassigned,
)
from rxapp.domain.geo import bng_to_wgs84
from rxapp.domain.rural import RuralAreas
from rxapp.feeds.ingest import NOT_APPLIED, FeedBatch, Rejected
from rxapp.feeds.models import FeedCursor
from rxapp.feeds.sequence import SequenceGuard, note_heartbeat
from rxapp.plumbing import links, realtime
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.victims.models import Victim

log = logging.getLogger(__name__)

STORM_FEED = "storm"


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    changed_incidents: set[int] = field(default_factory=set)


class AttendanceService:
    """Stateless apart from configuration; safe to share across tasks."""

    def __init__(self, db_url: str | None = None, feed: str = STORM_FEED, now=None):
        self.db_url = db_url
        self.feed = feed
        self._now = now or utcnow
        self.rural_areas = RuralAreas.from_json(settings().rural_areas_json)
        self.status_codes = {**rules.DEFAULT_STATUS_CODES, **settings().status_codes}
        self.link_ttl = timedelta(hours=settings().link_ttl_hours)

    # ---- FeedSink ---------------------------------------------------------------------------------

    async def last_seq(self) -> int:
        return await asyncio.to_thread(self.last_seq_sync)

    def last_seq_sync(self) -> int:
        with session_scope(self.db_url) as session:
            cursor = session.get(FeedCursor, self.feed)
            return cursor.last_seq if cursor else 0

    async def apply(self, items: list) -> None:
        result = await asyncio.to_thread(self.apply_sync, items)
        if result.changed_incidents:
            await realtime.hub.incidents_changed(result.changed_incidents)

    async def heartbeat(self, seq_high: int) -> bool:
        return await asyncio.to_thread(self.heartbeat_sync, seq_high)

    def heartbeat_sync(self, seq_high: int) -> bool:
        """The gateway's highest seq, in order with the frames around it. True when a gap it confirms was
        accepted and the resume point moved: the client then subscribes again from there."""
        with session_scope(self.db_url) as session:
            return note_heartbeat(session, self.feed, seq_high, self._now())

    def apply_sync(self, items: Iterable) -> ApplyResult:
        """Apply a batch of parsed frames (events or bad frames) in one transaction, through the one
        feed-ingest path (`rxapp/feeds/ingest.py`), taking each in order (`SequenceGuard`)."""
        result = ApplyResult()
        with session_scope(self.db_url) as session:
            batch = FeedBatch(session, self.feed, self._now(), numbered=True)
            guard = SequenceGuard(batch, batch.resume_point())
            items = list(items)
            positions: Optional[PositionTargets] = None
            for item in items:
                if not isinstance(item, DispatchEvent):
                    # A bad frame moves the resume point only when its number is the next one; without a
                    # usable number it cannot, and a gap the gateway confirms gets past it.
                    where = order.AHEAD if item.seq is None else guard.place(item.seq)
                    if where == order.AHEAD and item.seq is not None:
                        guard.ahead(item.raw, item.reason, item.seq, getattr(item, "event_id", None))
                        continue
                    batch.dead_letter(item.raw, item.reason, seq=item.seq, event_id=getattr(item, "event_id", None))
                    if where == order.NEXT:
                        guard.advance(item.seq, accepted=False)
                    continue
                where = guard.place(item.seq)
                if where == order.DUPLICATE:
                    result.duplicates += 1
                    continue
                if where == order.AHEAD:
                    guard.ahead(item.raw or _event_summary(item), None, item.seq, item.event_id)
                    continue
                if isinstance(item.payload, ResourcePosition):
                    # The hot path (most of the feed): no savepoint, no processed-event row (a repeated or
                    # older fix is ignored by its fix time), targets loaded once per run of positions.
                    if positions is None:
                        positions = PositionTargets.load(session, items)
                    with session.no_autoflush:
                        changed = self._position_fast(session, item.payload, item.occurred_at, positions)
                    if changed is None:
                        result.duplicates += 1
                    else:
                        result.applied += 1
                        result.changed_incidents.update(changed)
                    guard.advance(item.seq, accepted=True)
                    continue
                positions = None  # any other event may change who is going where
                if batch.seen(item.event_id):
                    result.duplicates += 1
                    guard.advance(item.seq, accepted=True)
                    continue
                changed = batch.apply(item.event_id, item.seq, lambda item=item: self._apply_event(session, item),
                                      lambda item=item: item.raw or _event_summary(item))
                if changed is not NOT_APPLIED:
                    result.applied += 1
                    result.changed_incidents.update(changed)
                guard.advance(item.seq, accepted=changed is not NOT_APPLIED)
            guard.finish(framed=bool(items))
            result.dead_letters = batch.counts.dead_letters
        return result

    # ---- events ------------------------------------------------------------------------------------

    def _apply_event(self, session: Session, event: DispatchEvent) -> set[int]:
        payload = event.payload
        at = event.occurred_at
        if isinstance(payload, IncidentOpened):
            return self._opened(session, payload, at)
        if isinstance(payload, ResourcePosition):
            return self._position_fast(session, payload, at, PositionTargets.load(session, [event])) or set()
        incident = self._incident(session, payload.urn) if getattr(payload, "urn", None) else None
        if isinstance(payload, IncidentUpdated):
            return self._updated(session, incident, payload, at)
        if isinstance(payload, ResourceAssigned):
            return self._assigned(session, incident, payload, at)
        if isinstance(payload, ResourceUnassigned):
            return self._unassigned(session, incident, payload, at)
        if isinstance(payload, ResourceStatus):
            return self._status(session, incident, payload, at)
        if isinstance(payload, AppointmentBooked):
            return self._appointment(session, incident, payload, at)
        if isinstance(payload, IncidentClosed):
            return self._closed(session, incident, payload, at)
        raise Rejected(f"no rule for event type {event.type}")

    def _incident(self, session: Session, urn: str) -> Incident:
        incident = session.exec(select(Incident).where(Incident.urn == urn)).first()
        if incident is None:
            raise Rejected("names an unknown incident")
        return incident

    def _step(self, session, incident: Incident, kind: str, at: datetime, text: str, staff_text: str = "",
              public: bool = True) -> None:
        params = getattr(text, "params", None)  # rules.StepText: the facts that say it in the victim's language
        session.add(IncidentStep(incident_id=incident.id, kind=kind, at=at, text=text, staff_text=staff_text,
                                 public=public, data=json.dumps(params, sort_keys=True) if params else ""))

    def _touch(self, incident: Incident) -> None:
        incident.version += 1
        incident.updated_at = self._now()

    def _opened(self, session: Session, p: IncidentOpened, at: datetime) -> set[int]:
        if session.exec(select(Incident.id).where(Incident.urn == p.urn)).first() is not None:
            raise Rejected("incident already opened")
        lat, lon = bng_to_wgs84(p.location.easting, p.location.northing)
        victim = Victim(
            name=p.caller.name, phone=p.caller.phone, email=p.caller.email,
            sms_consent=p.caller.sms_consent, language=p.caller.language or "en",
        )
        session.add(victim)
        session.flush()
        nonce = links.new_nonce()
        incident = Incident(
            urn=p.urn, grade=p.grade, category=p.category, location_description=p.location.description,
            easting=p.location.easting, northing=p.location.northing, lat=lat, lon=lon,
            rural=self.rural_areas.is_rural(p.location.easting, p.location.northing),
            flags=",".join(sorted(set(p.flags))), victim_id=victim.id, status=IncidentStatus.LOGGED, opened_at=at,
            link_nonce=nonce, link_token_hash=links.token_hash(links.derive_token(nonce)),
        )
        session.add(incident)
        session.flush()
        self._step(session, incident, "opened", at, rules.step_opened(), f"Opened, grade {p.grade}")
        self._touch(incident)
        return {incident.id}

    def _updated(self, session, incident: Incident, p: IncidentUpdated, at) -> set[int]:
        notes = []
        if p.grade and p.grade != incident.grade:
            notes.append(f"grade {incident.grade} to {p.grade}")
            incident.grade = p.grade
        if p.flags is not None:
            incident.flags = ",".join(sorted(set(p.flags)))
            notes.append("flags changed")
        if p.location is not None:
            incident.easting, incident.northing = p.location.easting, p.location.northing
            incident.lat, incident.lon = bng_to_wgs84(p.location.easting, p.location.northing)
            incident.location_description = p.location.description
            incident.rural = self.rural_areas.is_rural(p.location.easting, p.location.northing)
            notes.append("location changed")
        if p.caller is not None and incident.victim_id:
            victim = session.get(Victim, incident.victim_id)
            victim.name, victim.phone, victim.email = p.caller.name, p.caller.phone, p.caller.email
            victim.sms_consent, victim.language = p.caller.sms_consent, p.caller.language or "en"
            notes.append("caller details changed")
        self._step(session, incident, "updated", at, "", "Updated: " + ", ".join(notes or ["no change"]),
                   public=False)
        self._touch(incident)
        return {incident.id}

    def _active_assignments(self, session, incident_id: int) -> list[Assignment]:
        return list(session.exec(select(Assignment).where(Assignment.incident_id == incident_id,
                                                          Assignment.active == True)))  # noqa: E712

    def _refresh_status(self, session, incident: Incident) -> str:
        assignments = self._active_assignments(session, incident.id)
        return rules.derive_status(
            [rules.ResourceFacts(a.state, a.active) for a in assignments],
            closed=not incident.is_open, disposition=incident.disposition,
            arrived=incident.arrived_at is not None, has_appointment=incident.appointment_start is not None,
        )

    def _assigned(self, session, incident: Incident, p: ResourceAssigned, at) -> set[int]:
        if not incident.is_open:
            raise Rejected("resource assigned to a closed incident")
        existing = session.exec(select(Assignment).where(Assignment.incident_id == incident.id,
                                                         Assignment.callsign == p.callsign,
                                                         Assignment.active == True)).first()  # noqa: E712
        if existing is not None:
            return set()
        was_assigned_before = incident.first_assigned_at is not None
        had_active = bool(self._active_assignments(session, incident.id))
        session.add(Assignment(incident_id=incident.id, callsign=p.callsign, resource_type=p.resource_type,
                               assigned_at=at))
        session.flush()
        if incident.first_assigned_at is None:
            incident.first_assigned_at = at
        if not had_active:
            self._step(session, incident, "assigned", at, rules.step_assigned(reassigned=was_assigned_before),
                       f"{p.callsign} ({p.resource_type}) assigned")
            attendance_texts.on_assigned(session, incident, at)
        else:
            self._step(session, incident, "assigned", at, "", f"{p.callsign} ({p.resource_type}) also assigned",
                       public=False)
        incident.status = self._refresh_status(session, incident)
        self._touch(incident)
        return {incident.id}

    def _unassigned(self, session, incident: Incident, p: ResourceUnassigned, at) -> set[int]:
        assignment = session.exec(select(Assignment).where(Assignment.incident_id == incident.id,
                                                           Assignment.callsign == p.callsign,
                                                           Assignment.active == True)).first()  # noqa: E712
        if assignment is None:
            raise Rejected("unassigns a resource that is not assigned to the incident")
        assignment.active = False
        assignment.unassigned_at = at
        assignment.unassign_reason = p.reason
        session.flush()
        remaining = self._active_assignments(session, incident.id)
        if not remaining and incident.is_open and incident.arrived_at is None:
            # Nobody is coming any more: tell the victim before they have to ring.
            incident.diverted_count += 1
            self._clear_eta(incident)
            incident.notified_latest = None  # the next officer's first window is news, not a slip
            self._step(session, incident, "diverted", at, rules.step_diverted(p.reason),
                       f"{p.callsign} {p.reason.lower().replace('_', ' ')}; no resource assigned")
            attendance_texts.on_nobody_left(session, incident, at)
        else:
            self._step(session, incident, "unassigned", at, "", f"{p.callsign} {p.reason.lower()}", public=False)
            if incident.eta_callsign == p.callsign:
                self._clear_eta(incident)
        incident.status = self._refresh_status(session, incident)
        self._touch(incident)
        return {incident.id}

    def _status(self, session, incident: Optional[Incident], p: ResourceStatus, at) -> set[int]:
        if incident is None:
            # A status without an incident (e.g. an officer available again) concerns no victim.
            q = select(Assignment).where(Assignment.callsign == p.callsign, Assignment.active == True)  # noqa: E712
            assignments = list(session.exec(q))
            if not assignments:
                raise Rejected("status for a call sign with no assignment")
        else:
            assignment = session.exec(select(Assignment).where(Assignment.incident_id == incident.id,
                                                               Assignment.callsign == p.callsign,
                                                               Assignment.active == True)).first()  # noqa: E712
            if assignment is None:
                raise Rejected("status for a resource not assigned to the incident")
            assignments = [assignment]
        changed: set[int] = set()
        for assignment in assignments:
            inc = incident or session.get(Incident, assignment.incident_id)
            before = assignment.state
            assignment.state = rules.resource_state_for_code(p.status_code, before, self.status_codes)
            assignment.status_code, assignment.status_at = p.status_code, at
            if assignment.state == before:
                continue
            old_status = inc.status
            if assignment.state == ResourceState.AT_SCENE and inc.arrived_at is None:
                inc.arrived_at = at
            session.flush()
            inc.status = self._refresh_status(session, inc)
            if inc.status != old_status:
                if inc.status == IncidentStatus.EN_ROUTE:
                    self._step(session, inc, "en_route", at, rules.step_en_route(), f"{p.callsign} en route")
                    fix = session.get(ResourceFix, p.callsign)
                    if fix is not None:
                        self._update_eta(inc, fix, at)
                elif inc.status == IncidentStatus.AT_SCENE:
                    self._clear_eta(inc)
                    self._step(session, inc, "at_scene", at, rules.step_at_scene(), f"{p.callsign} at scene")
                elif inc.status == IncidentStatus.COMPLETED:
                    self._step(session, inc, "cleared", at, rules.step_cleared(),
                               f"{p.callsign} cleared")
            else:
                self._step(session, inc, "status", at, "", f"{p.callsign} status {p.status_code}", public=False)
            self._touch(inc)
            changed.add(inc.id)
        return changed

    def _appointment(self, session, incident: Incident, p: AppointmentBooked, at) -> set[int]:
        if p.window_end <= p.window_start:
            raise Rejected("appointment window ends before it starts")
        incident.appointment_start, incident.appointment_end = p.window_start, p.window_end
        incident.status = self._refresh_status(session, incident)
        self._step(session, incident, "appointment", at, rules.step_appointment(p.window_start, p.window_end, at),
                   "Appointment booked")
        self._touch(incident)
        return {incident.id}

    def _closed(self, session, incident: Incident, p: IncidentClosed, at) -> set[int]:
        if not incident.is_open:
            raise Rejected("incident already closed")
        incident.is_open = False
        incident.closed_at = at
        incident.disposition = p.disposition
        incident.crime_reference = p.crime_reference
        incident.link_expires_at = rules.link_expiry(at, self.link_ttl)
        for assignment in self._active_assignments(session, incident.id):
            assignment.active = False
            assignment.unassigned_at = at
        self._clear_eta(incident)
        incident.status = rules.derive_status([], closed=True, disposition=p.disposition,
                                              arrived=incident.arrived_at is not None, has_appointment=False)
        self._step(session, incident, "closed", at, rules.step_closed(p.disposition, p.crime_reference),
                   f"Closed: {p.disposition}")
        attendance_texts.on_closed(session, incident, at)
        self._touch(incident)
        return {incident.id}

    # ---- positions and the arrival window (rxapp/attendance/windows.py) ----------------------------

    def _position_fast(self, session, p: ResourcePosition, at: datetime,
                       targets: PositionTargets) -> Optional[set[int]]:
        return windows.position_fast(session, p, at, targets, self._now())

    def _update_eta(self, incident: Incident, fix: ResourceFix, now: datetime) -> bool:
        return windows.update_eta(incident, fix, now, touched_at=self._now())

    def _clear_eta(self, incident: Incident) -> None:
        windows.clear_eta(incident)

    def refresh_windows(self, now: datetime | None = None,
                        travel: dict[tuple[int, str], float] | None = None) -> set[int]:
        """Re-estimate every open attendance with a resource on the way (fixes go stale even when no event
        arrives); `travel`: a routing engine's drive times by (incident id, call sign)."""
        return windows.refresh_windows(self.db_url, now or attendance_now(), travel)


def _event_summary(event: DispatchEvent) -> str:
    """A rejected event in full, when the frame as received is not known (an event made in code)."""
    return json.dumps({k: v for k, v in dataclasses.asdict(event).items() if k != "raw"}, default=str)


def find_incident_by_token(session: Session, token: str, now: datetime | None = None) -> Optional[Incident]:
    """The incident a victim's link opens, or None when the link is malformed, unknown or expired."""
    if not links.well_formed(token):
        return None
    incident = session.exec(select(Incident).where(Incident.link_token_hash == links.token_hash(token))).first()
    if incident is None:
        return None
    now = now or utcnow()
    if incident.link_expires_at is not None and incident.link_expires_at <= now:
        return None
    return incident
