"""Message history for staff: what was sent to a victim, on which channel, its status, and what the safety
rules held back and why. Built as plain rows for the page; destinations are masked.

An incident's history is a look at a victim's details: it is shown only to whom `rxapp/staff/permissions.py`
allows (the control room while the attendance is open, the officer or team holding a case that came from
it), every look is in the audit log, and an incident refused is answered exactly as one that does not exist.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain.attendance import london_day, london_time
from rxapp.domain.labels import template_label, with_template_labels
from rxapp.investigation.models import Occurrence
from rxapp.messaging.models import Message, MessageEvent
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor, CaseFacts, Permission, may
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim

STATUS_LABELS = {
    "queued": "Waiting to send", "held": "Held", "sending": "Sending", "retry": "Will retry", "sent": "Sent",
    "delivered": "Delivered", "permanent-failure": "Failed permanently", "technical-failure": "Failed",
    "temporary-failure": "Failed for now", "blocked": "Held back by safety rules", "failed": "Failed",
    "cancelled": "Not needed",
}
TASK_STATUS_LABELS = {"open": "Open", "done": "Done", "cancelled": "No longer needed"}


def mask(destination: str) -> str:
    if "@" in destination:
        name, _, domain = destination.partition("@")
        return f"{name[:1]}…@{domain}"
    return "…" + destination[-4:] if len(destination) > 4 else "…"


def reason_words(reason: Optional[str]) -> str:
    """Why a message stands where it does, with a status code the provider gave ("temporary-failure reported
    by the provider") in words ("Failed for now: reported by the provider")."""
    reason = reason or ""
    for status, words in STATUS_LABELS.items():
        if "-" in status and reason.startswith(status + " "):
            return f"{words}: {reason[len(status) + 1:]}"
    return reason


def _when(at: Optional[datetime], now: datetime) -> str:
    return f"{london_day(at, now)} {london_time(at)}" if at else ""


def message_rows(session: Session, *, incident_id: Optional[int] = None, victim_id: Optional[int] = None,
                 now: Optional[datetime] = None, occurrence_id: Optional[int] = None,
                 shown: Optional[Callable[[Message], bool]] = None) -> list[dict]:
    """Messages, newest first; `shown` leaves out those it says no to."""
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
        if shown is not None and not shown(m):
            continue
        last = session.exec(select(MessageEvent).where(MessageEvent.message_id == m.id)
                            .order_by(MessageEvent.id.desc())).first()
        rows.append({
            "id": str(m.id),
            "when": _when(m.created_at, now),
            "what": template_label(m.template),
            "template": m.template,
            "channel": {"sms": "Text", "email": "Email"}.get(m.channel, m.channel),
            "to": mask(m.destination),
            "status": m.status,
            "status_label": STATUS_LABELS.get(m.status, m.status),
            "why": reason_words(m.reason),
            "last": f"{_when(last.at, now)}: {last.detail}" if last and last.detail else "",
            "body": m.body,
        })
    return rows


def task_rows(session: Session, *, incident_id: Optional[int] = None, now: Optional[datetime] = None) -> list[dict]:
    now = now or utcnow()
    q = select(Task).order_by(Task.created_at.desc()).limit(100)
    if incident_id is not None:
        q = q.where(Task.incident_id == incident_id)
    return [{"id": str(t.id), "title": t.title, "detail": with_template_labels(t.detail), "status": t.status,
             "status_label": TASK_STATUS_LABELS.get(t.status, t.status.capitalize()),
             "due": _when(t.due_at, now) or "no deadline", "created": _when(t.created_at, now)}
            for t in session.exec(q)]


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
    "control_room_flag": "held by the control room",
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


def incident_facts(session: Session, incident: Optional[Incident]) -> list[CaseFacts]:
    """What access to an incident's history is decided on: the attendance itself (open or not) and each case
    recorded from it. The cases are looked up even for no incident (by an id no row has), so that an
    incident refused and one that does not exist cost the same queries."""
    cases = session.exec(select(Occurrence).where(
        Occurrence.incident_id == (incident.id if incident is not None else -1))).all()
    if incident is None:
        return []
    return [CaseFacts(incident_open=incident.is_open),
            *[CaseFacts(oic_collar=o.oic_collar, oic_team=o.oic_team, incident_open=incident.is_open)
              for o in cases]]


def _readable_by(session: Session, actor: Actor) -> Callable[[Message], bool]:
    """Whether `actor` may read what a message is about (its incident, its case), asked once per pair."""
    answers: dict[tuple, bool] = {}

    def readable(message: Message) -> bool:
        key = (message.incident_id, message.occurrence_id)
        if key not in answers:
            facts = incident_facts(session, session.get(Incident, message.incident_id)) if message.incident_id else []
            case = session.get(Occurrence, message.occurrence_id) if message.occurrence_id else None
            if case is not None:
                behind = session.get(Incident, case.incident_id) if case.incident_id else None
                facts.append(CaseFacts(oic_collar=case.oic_collar, oic_team=case.oic_team,
                                       incident_open=bool(behind and behind.is_open)))
            answers[key] = any(may(actor, Permission.READ_CASE, f) for f in facts)
        return answers[key]

    return readable


def history(session: Session, actor: Actor, urn: str) -> dict | None:
    """One incident's messages and tasks, and the victim's other messages, for `actor`; None (the refusal in
    the audit log) when there is no such incident or `actor` may not read it: the two are not told apart."""
    incident = incident_by_urn(session, urn)
    facts = incident_facts(session, incident)
    allowed = [f for f in facts if may(actor, Permission.READ_CASE, f)]
    team = next((f.oic_team for f in facts[1:] if f.oic_team), None)
    if incident is None or not allowed:
        record(session, actor, AuditAction.VIEW_HISTORY, AuditOutcome.REFUSED,
               incident_id=incident.id if incident else None, team=team,
               detail="no such incident" if incident is None else "not an incident this account may read")
        return None
    record(session, actor, AuditAction.VIEW_HISTORY, AuditOutcome.ALLOWED, incident_id=incident.id, team=team,
           detail="message history: messages, tasks, the victim's other messages")
    victim = session.get(Victim, incident.victim_id) if incident.victim_id else None
    own = message_rows(session, incident_id=incident.id)
    # The victim's messages about other incidents and cases: only those this account may read too.
    others = message_rows(session, victim_id=victim.id, shown=_readable_by(session, actor)) if victim else []
    own_ids = {r["id"] for r in own}
    return {
        "urn": incident.urn,
        "summary": f"{incident.category.replace('_', ' ').capitalize()}, {incident.location_description}",
        "flags": ", ".join(f.replace("_", " ").lower() for f in incident.flags.split(",") if f) or "none",
        "messages": own,
        "other_messages": [r for r in others if r["id"] not in own_ids],
        "tasks": task_rows(session, incident_id=incident.id),
    }


def load_history(actor: Actor, urn: str) -> dict | None:
    """A writing transaction: the look goes in the audit log."""
    with session_scope() as session:
        return history(session, actor, urn)
