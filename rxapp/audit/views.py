"""Reading the audit log: administrators read every entry; a supervisor reads the entries about their teams'
cases (an attempt on one of their cases by anyone, allowed or refused, included). Others read nothing.
Plain rows of strings for a page, newest first, London time."""
from __future__ import annotations

from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.audit.models import AuditEvent
from rxapp.domain.journey import when_words
from rxapp.investigation.models import Occurrence
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor, CaseFacts, Permission, Reach, may, normalise_team, reach, teams_of

AUDIT_LIMIT = 500
ACTION_WORDS = {
    "view_case": "Opened a case",
    "view_history": "Opened an incident's messages",
    "complete_task": "Marked a task done",
    "agree_frequency": "Recorded an agreed update frequency",
    "hold_texts": "Held an incident's automated texts",
    "release_texts": "Released an incident's automated texts",
    "portal_invite": "Invited a victim to the portal",
    "portal_revoke": "Ended a victim's portal access",
    "reply_to_victim": "Replied to a victim through the portal",
    "reassign_task": "Gave a task to another officer",
    "reassign_case": "Gave a case to another officer",
    "sso_sign_in": "Sign-in with the force account",
}
OUTCOME_WORDS = {"allowed": "Allowed", "refused": "Refused"}


def audit_rows(session: Session, actor: Actor, *, occurrence_number: str = "",
               limit: int = AUDIT_LIMIT) -> Optional[list[dict]]:
    """The entries `actor` may read, newest first (at most `limit`); `occurrence_number` narrows them to one
    case. None when `actor` may not read the audit log at all."""
    how_far = reach(actor, Permission.READ_AUDIT)
    if how_far not in (Reach.ANYWHERE, Reach.TEAM):
        return None
    q = (select(AuditEvent, Occurrence.occurrence_number, Incident.urn)
         .outerjoin(Occurrence, Occurrence.id == AuditEvent.occurrence_id)
         .outerjoin(Incident, Incident.id == AuditEvent.incident_id)
         .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
         .limit(max(1, min(limit, AUDIT_LIMIT))))
    if how_far is Reach.TEAM:
        wanted = teams_of(actor)
        stored = [team for team in session.exec(select(AuditEvent.team).distinct().where(AuditEvent.team.is_not(None)))
                  if normalise_team(team) in wanted]
        if not stored:
            return []
        q = q.where(AuditEvent.team.in_(stored))
    if occurrence_number:
        q = q.where(Occurrence.occurrence_number == occurrence_number[:40])
    rows = []
    for entry, number, urn in session.exec(q):
        # The query chose by the table; each entry is asked again by the rule itself.
        if how_far is Reach.TEAM and not may(actor, Permission.READ_AUDIT, CaseFacts(oic_team=entry.team)):
            continue
        rows.append({
            "id": str(entry.id),
            "when": when_words(entry.at),
            "who": entry.actor,
            "role": entry.actor_role,
            "action": entry.action,
            "what": ACTION_WORDS.get(entry.action, entry.action.replace("_", " ").capitalize()),
            "outcome": entry.outcome,
            "outcome_label": OUTCOME_WORDS.get(entry.outcome, entry.outcome),
            "case": number or "",
            "incident": urn or "",
            "team": entry.team or "",
            "detail": entry.detail,
        })
    return rows


def load_audit(actor: Actor, occurrence_number: str = "") -> Optional[list[dict]]:
    with session_scope(readonly=True) as session:
        return audit_rows(session, actor, occurrence_number=occurrence_number)
