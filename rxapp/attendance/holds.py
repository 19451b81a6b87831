"""The control room holding an incident's automated texts, and releasing them.

A controller on the board holds the texts of an open incident (the caller may not be safe to text, the facts
are changing...), choosing why from a fixed list (`rxapp/domain/holds.py`). While the hold stands the sender's
safety check (`rxapp/messaging/checks.py`) tells the rules the control room holds this incident, and every
automated message about it waits (`rxapp/domain/safety.py`, rule 7). Releasing it makes those messages due at
once: each goes through the rules again and goes, waits or becomes a task as they say then (an officer who has
arrived makes "on the way" pointless, so that one is cancelled, say).

Who may: the roles `rxapp/staff/permissions.py` gives `hold_texts`, asked here from the acting member of
staff (resolved by the caller from the signed-in session, never from the page). A refusal (no such incident,
a closed one, no hold to release, or a role without the permission) is one exception with one message, after
the same queries, so nobody learns whether an incident exists. Every attempt, allowed or refused, is in the
audit log in the same transaction, in fixed words.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident, TextHold
from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain.holds import valid_hold_reason
from rxapp.domain.safety import Rule
from rxapp.domain.statuses import MessageStatus
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import log_event
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor, Permission, may

NO_SUCH_INCIDENT = "no such incident"  # the one refusal, whatever the reason
MAX_INCIDENT_ID = 2 ** 31 - 1


def incident_id_from(value: object) -> int:
    """An incident id from what a client sent: a positive integer, or -1 (which no row has)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return -1
    number = int(text)
    return number if 0 < number <= MAX_INCIDENT_ID else -1


def active_hold(session: Session, incident_id: int) -> Optional[TextHold]:
    return session.exec(select(TextHold).where(TextHold.incident_id == incident_id,
                                               TextHold.released_at == None)  # noqa: E711
                        .order_by(TextHold.id)).first()


def active_holds(session: Session, incident_ids: list[int]) -> dict[int, TextHold]:
    """incident id -> its standing hold, for those of `incident_ids` that have one."""
    if not incident_ids:
        return {}
    rows = session.exec(select(TextHold).where(TextHold.incident_id.in_(incident_ids),
                                               TextHold.released_at == None)  # noqa: E711
                        .order_by(TextHold.id)).all()
    return {row.incident_id: row for row in reversed(rows)}  # the oldest standing hold wins


def held_incident_ids(session: Session) -> list[int]:
    """Incidents whose texts are held now, open or not (a closed one stays on the board until released)."""
    return list(session.exec(select(TextHold.incident_id).where(TextHold.released_at == None)).all())  # noqa: E711


def _name(actor: Actor) -> str:
    return (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "unknown")[:80]


def hold_texts(session: Session, actor: Actor, incident_id: int, reason: str,
               now: Optional[datetime] = None) -> Optional[TextHold]:
    """`actor` holds the automated texts of open incident `incident_id`, for `reason` (a code of
    `rxapp/domain/holds.py`). Holding what is already held changes nothing and returns the standing hold.
    ValueError for a reason not on the list (before anything is looked up); None (the refusal, in the audit
    log) for an incident that does not exist, is closed, or when `actor` may not hold texts."""
    now = now or utcnow()
    if not valid_hold_reason(reason):
        raise ValueError("choose why the texts are held")
    incident = session.get(Incident, incident_id)
    standing = active_hold(session, incident.id if incident is not None else -1)
    allowed = incident is not None and incident.is_open and may(actor, Permission.HOLD_TEXTS)
    if not allowed:
        record(session, actor, AuditAction.HOLD_TEXTS, AuditOutcome.REFUSED, at=now,
               incident_id=incident.id if incident is not None else None,
               detail="no such incident" if incident is None else "not an incident this account may hold")
        return None
    if standing is not None:
        record(session, actor, AuditAction.HOLD_TEXTS, AuditOutcome.ALLOWED, at=now, incident_id=incident.id,
               detail=f"already held since hold {standing.id}")
        return standing
    hold = TextHold(incident_id=incident.id, reason=reason, held_by=(getattr(actor, "username", "") or "unknown")[:80],
                    held_by_name=_name(actor), held_at=now)
    session.add(hold)
    incident.version += 1
    incident.updated_at = now
    session.flush()
    record(session, actor, AuditAction.HOLD_TEXTS, AuditOutcome.ALLOWED, at=now, incident_id=incident.id,
           detail=f"hold {hold.id}: texts held, reason {reason}")
    return hold


def release_texts(session: Session, actor: Actor, incident_id: int, now: Optional[datetime] = None) -> Optional[int]:
    """`actor` releases the standing hold on `incident_id`'s texts; the messages it held become due now, so
    the sender puts each through the safety rules again. Returns how many; None (the refusal, in the audit
    log) when there is no such incident, no standing hold, or `actor` may not hold texts."""
    now = now or utcnow()
    incident = session.get(Incident, incident_id)
    hold = active_hold(session, incident.id if incident is not None else -1)
    if incident is None or hold is None or not may(actor, Permission.HOLD_TEXTS):
        record(session, actor, AuditAction.RELEASE_TEXTS, AuditOutcome.REFUSED, at=now,
               incident_id=incident.id if incident is not None else None,
               detail="no such incident" if incident is None else
               "no hold to release" if hold is None else "not an incident this account may release")
        return None
    for standing in session.exec(select(TextHold).where(TextHold.incident_id == incident.id,
                                                        TextHold.released_at == None)):  # noqa: E711
        standing.released_at, standing.released_by = now, (getattr(actor, "username", "") or "unknown")[:80]
        standing.released_by_name = _name(actor)
    waiting = session.exec(select(Message).where(Message.incident_id == incident.id,
                                                 Message.status == MessageStatus.HELD,
                                                 Message.rule == Rule.CONTROL_ROOM_FLAG)).all()
    for message in waiting:
        message.status, message.due_at, message.updated_at = MessageStatus.QUEUED, now, now
        message.reason = "The control room released its hold: the safety rules are checked again."
        log_event(session, message, MessageStatus.QUEUED, message.reason)
    incident.version += 1
    incident.updated_at = now
    record(session, actor, AuditAction.RELEASE_TEXTS, AuditOutcome.ALLOWED, at=now, incident_id=incident.id,
           detail=f"hold {hold.id} released: {len(waiting)} held message(s) due again")
    return len(waiting)


def hold_texts_now(actor: Actor, incident_id: int, reason: str, db_url: Optional[str] = None,
                   now: Optional[datetime] = None) -> str:
    """`hold_texts` in a transaction of its own (for the board's handler): the incident's URN, or
    LookupError(NO_SUCH_INCIDENT) once the refusal is recorded."""
    with session_scope(db_url) as session:
        hold = hold_texts(session, actor, incident_id, reason, now)
        urn = session.get(Incident, incident_id).urn if hold is not None else None
    if urn is None:
        raise LookupError(NO_SUCH_INCIDENT)
    return urn


def release_texts_now(actor: Actor, incident_id: int, db_url: Optional[str] = None,
                      now: Optional[datetime] = None) -> tuple[str, int]:
    """`release_texts` in a transaction of its own: the incident's URN and how many held messages are due
    again, or LookupError(NO_SUCH_INCIDENT) once the refusal is recorded."""
    with session_scope(db_url) as session:
        released = release_texts(session, actor, incident_id, now)
        urn = session.get(Incident, incident_id).urn if released is not None else None
    if urn is None:
        raise LookupError(NO_SUCH_INCIDENT)
    return urn, released
