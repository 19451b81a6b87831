"""Message history for staff: what was sent to a victim, on which channel, its status, and what the safety
rules held back and why. Built as plain rows for the page; destinations are masked."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain.attendance import london_day, london_time
from rxapp.messaging.models import Message, MessageEvent
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim

TEMPLATE_LABELS = {
    "officer_assigned": "Officer assigned",
    "attendance_delayed": "Delay, new window",
    "attendance_delayed_no_window": "Delay, update promised",
    "officer_arriving_soon": "Arriving soon",
    "attendance_closed": "Visit closed, crime reference",
    "attendance_closed_no_crime": "Visit closed",
    "no_officer_yet": "No officer yet",
    "opt_out_confirmation": "Opt-out confirmed",
    "reply_received": "Reply acknowledged",
}
STATUS_LABELS = {
    "queued": "Waiting to send", "held": "Held", "sending": "Sending", "retry": "Will retry", "sent": "Sent",
    "delivered": "Delivered", "permanent-failure": "Failed permanently", "technical-failure": "Failed",
    "temporary-failure": "Failed for now", "blocked": "Held back by safety rules", "failed": "Failed",
    "cancelled": "Not needed",
}


def mask(destination: str) -> str:
    if "@" in destination:
        name, _, domain = destination.partition("@")
        return f"{name[:1]}…@{domain}"
    return "…" + destination[-4:] if len(destination) > 4 else "…"


def _when(at: Optional[datetime], now: datetime) -> str:
    return f"{london_day(at, now)} {london_time(at)}" if at else ""


def message_rows(session: Session, *, incident_id: Optional[int] = None, victim_id: Optional[int] = None,
                 now: Optional[datetime] = None, occurrence_id: Optional[int] = None) -> list[dict]:
    now = now or utcnow()
    q = select(Message).order_by(Message.created_at.desc(), Message.id.desc()).limit(200)
    if incident_id is not None:
        q = q.where(Message.incident_id == incident_id)
    if victim_id is not None:
        q = q.where(Message.victim_id == victim_id)
    if occurrence_id is not None:
        q = q.where(Message.occurrence_id == occurrence_id)
    rows = []
    for m in session.exec(q):
        last = session.exec(select(MessageEvent).where(MessageEvent.message_id == m.id)
                            .order_by(MessageEvent.id.desc())).first()
        rows.append({
            "id": str(m.id),
            "when": _when(m.created_at, now),
            "what": TEMPLATE_LABELS.get(m.template, m.template),
            "template": m.template,
            "channel": {"sms": "Text", "email": "Email"}.get(m.channel, m.channel),
            "to": mask(m.destination),
            "status": m.status,
            "status_label": STATUS_LABELS.get(m.status, m.status),
            "why": m.reason or "",
            "last": f"{_when(last.at, now)}: {last.detail}" if last and last.detail else "",
            "body": m.body,
        })
    return rows


def task_rows(session: Session, *, incident_id: Optional[int] = None, now: Optional[datetime] = None) -> list[dict]:
    now = now or utcnow()
    q = select(Task).order_by(Task.created_at.desc()).limit(100)
    if incident_id is not None:
        q = q.where(Task.incident_id == incident_id)
    return [{"id": str(t.id), "title": t.title, "detail": t.detail, "status": t.status,
             "due": _when(t.due_at, now), "created": _when(t.created_at, now)} for t in session.exec(q)]


def held_back_summary(session: Session, incident_ids: list[int]) -> dict[int, str]:
    """For the board: why automated texts are not going to a victim, where the rules stopped one."""
    if not incident_ids:
        return {}
    out: dict[int, str] = {}
    q = (select(Message.incident_id, Message.rule, Message.status)
         .where(Message.incident_id.in_(incident_ids), Message.status.in_(("blocked", "held")))
         .order_by(Message.id))
    for incident_id, rule, status in session.exec(q):
        why = RULE_SHORT.get(rule or "", (rule or "safety rule").replace("_", " "))
        out[incident_id] = ("No texts: " if status == "blocked" else "Text waiting: ") + why
    return out


RULE_SHORT = {
    "do_not_contact": "marked do not contact",
    "safe_contact_not_confirmed": "no safe contact confirmed (domestic abuse or sexual offence)",
    "crime_in_progress": "crime in progress",
    "control_room_flag": "flagged by the control room",
    "opted_out": "victim opted out",
    "opted_out_of_channel": "victim opted out of this channel",
    "no_sms_consent": "no consent to texts",
    "destination_failed": "number failed permanently",
    "network_limit": "too many texts to this number this hour",
    "network_limit_identical": "too many identical texts this hour",
    "quiet_hours": "quiet hours (goes at 08:00)",
}


def incident_by_urn(session: Session, urn: str) -> Optional[Incident]:
    if not urn or len(urn) > 64:
        return None
    return session.exec(select(Incident).where(Incident.urn == urn)).first()


def load_history(urn: str) -> dict | None:
    with session_scope(readonly=True) as session:
        incident = incident_by_urn(session, urn)
        if incident is None:
            return None
        victim = session.get(Victim, incident.victim_id) if incident.victim_id else None
        own = message_rows(session, incident_id=incident.id)
        others = [r for r in message_rows(session, victim_id=victim.id)] if victim else []
        own_ids = {r["id"] for r in own}
        return {
            "urn": incident.urn,
            "summary": f"{incident.category.replace('_', ' ').capitalize()}, {incident.location_description}",
            "flags": ", ".join(f.replace("_", " ").lower() for f in incident.flags.split(",") if f) or "none",
            "messages": own,
            "other_messages": [r for r in others if r["id"] not in own_ids],
            "tasks": task_rows(session, incident_id=incident.id),
        }
