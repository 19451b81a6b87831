"""Writing the audit log: every look at a victim's details and every change to a case, allowed or refused,
by whom and when. The callers are the read models and services that show or change a case, so no page can
show a victim without the look being recorded in the same transaction.

Append-only from the product's side: this module adds rows and has no way to change one; the ORM refuses
to update or delete an `AuditEvent` (`_refuse_change`). Only the retention job (`delete_expired`) removes
rows, those older than AUDIT_RETENTION_DAYS, with a bulk statement. `detail` is built by the callers from
fixed words and ids: never a name, a phone number, an address or a note someone typed.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Optional

from sqlalchemy import event
from sqlmodel import Session, delete, select

from rxapp.audit.models import AuditEvent
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor

RETENTION_BATCH = 5000  # rows deleted per statement, so the retention job never holds the table for long


class AuditAction(StrEnum):
    VIEW_CASE = "view_case"  # a case page: the victims' details, duties, tasks, messages
    VIEW_HISTORY = "view_history"  # an incident's message history
    COMPLETE_TASK = "complete_task"
    AGREE_FREQUENCY = "agree_frequency"
    HOLD_TEXTS = "hold_texts"  # the control room held an incident's automated texts
    RELEASE_TEXTS = "release_texts"  # and released them
    PORTAL_INVITE = "portal_invite"  # staff invited a victim to the portal (again)
    PORTAL_REVOKE = "portal_revoke"  # staff ended a victim's portal access
    REPLY_TO_VICTIM = "reply_to_victim"  # a message to a victim through their portal, from the case page
    REASSIGN_TASK = "reassign_task"  # a supervisor gave a task to another officer of the team (/team)
    REASSIGN_CASE = "reassign_case"  # a supervisor gave a case to another officer of the team (/team)
    SSO_SIGN_IN = "sso_sign_in"  # single sign-on refused someone whose provider claims map to no role here


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"


def record(session: Session, actor: Actor, action: AuditAction, outcome: AuditOutcome, *,
           occurrence_id: Optional[int] = None, incident_id: Optional[int] = None, team: Optional[str] = None,
           detail: str = "", at: Optional[datetime] = None) -> AuditEvent:
    """Add one entry in the caller's transaction. `team` is the case's team (its supervisors read it)."""
    row = AuditEvent(at=at or utcnow(), actor=(getattr(actor, "username", "") or "unknown")[:80],
                     actor_role=(actor.role or "")[:20], action=str(action), outcome=str(outcome),
                     occurrence_id=occurrence_id, incident_id=incident_id, team=(team or None) and team[:200],
                     detail=(detail or "")[:300])
    session.add(row)
    session.flush()
    return row


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(mapper, connection, target) -> None:
    raise PermissionError("the audit log is append-only: an entry is never changed or deleted")


def delete_expired(now: Optional[datetime] = None, *, retention_days: float, db_url: Optional[str] = None,
                   batch: int = RETENTION_BATCH) -> int:
    """Remove the entries older than the retention period, a batch per transaction; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    removed = 0
    while True:
        with session_scope(db_url) as session:
            ids = session.exec(select(AuditEvent.id).where(AuditEvent.at < cutoff)
                               .order_by(AuditEvent.id).limit(batch)).all()
            if not ids:
                return removed
            session.exec(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        removed += len(ids)
        if len(ids) < batch:
            return removed
