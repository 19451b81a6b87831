"""The officer inbox's actions, as plain functions that open their own transaction (the inbox state calls them
through `asyncio.to_thread`): the inbox itself, one conversation opened (its victim messages marked read by the
officer), the force's wording filled in for it, and the reply (`rxapp/portal/conversation.py reply_now`).

A conversation opens only on a case the account is in charge of and may read (`views.own_cases`); any other
case victim id, existing or not, is refused with the same `PortalRefusal("not_allowed")` after the same queries,
and the attempt is in the audit log. The wording is filled from the server's facts, never from the client.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.inbox import views
from rxapp.inbox.wording import Wording, fill, wording_for_force
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal.conversation import day_words, officer_label, reply_now, staff_conversation
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.models import PortalMessage
from rxapp.staff.permissions import Actor
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

__all__ = ["load_inbox", "open_conversation", "conversation_in", "wordings", "filled_wording", "reply",
           "PortalRefusal"]


def load_inbox(actor: Actor, now: Optional[datetime] = None) -> dict:
    with session_scope(readonly=True) as session:
        return views.inbox(session, actor, now or utcnow())


def _case_id(value: object) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else -1


def _own_case_victim(session: Session, actor: Actor, case_victim_id: object) -> tuple[CaseVictim, Occurrence]:
    """The case victim if the account is in charge of their case and may read it; refused (audited) otherwise,
    the same whether or not it exists."""
    wanted = _case_id(case_victim_id)
    case_victim = session.get(CaseVictim, wanted) if wanted > 0 else None
    occurrence = session.get(Occurrence, case_victim.occurrence_id) if case_victim else None
    collars = views.own_collars(session, actor)
    mine = views.own_cases(session, actor, [c for c in collars if occurrence and c == occurrence.oic_collar])
    if occurrence is None or occurrence.id not in mine:
        record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.REFUSED,
               occurrence_id=occurrence.id if occurrence else None, team=occurrence.oic_team if occurrence else None,
               detail="inbox conversation: not a case this account is in charge of")
        raise PortalRefusal("not_allowed")
    return case_victim, occurrence


def conversation_in(session: Session, actor: Actor, case_victim_id: object, now: datetime) -> dict:
    """One conversation for the inbox, oldest first, with the victim's context and the reply deadline; the
    victim's unread messages are marked read by the officer (the reply task stays open until the reply)."""
    case_victim, occurrence = _own_case_victim(session, actor, case_victim_id)
    messages = staff_conversation(session, case_victim.id)
    for waiting in session.exec(select(PortalMessage).where(PortalMessage.case_victim_id == case_victim.id,
                                                            PortalMessage.author == "victim",
                                                            PortalMessage.read_by_officer_at.is_(None))):
        waiting.read_by_officer_at = now
    victim = session.get(Victim, case_victim.victim_id)
    state = session.get(VictimContactState, case_victim.victim_id)
    reply_task = session.exec(select(Task).where(
        Task.occurrence_id == occurrence.id, Task.victim_id == case_victim.victim_id,
        Task.kind.in_(views.REPLY_KINDS), Task.status == "open").order_by(Task.due_at)).first()
    due_text, tone = views._due_words(reply_task.due_at if reply_task else None, now)
    record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, occurrence_id=occurrence.id,
           incident_id=occurrence.incident_id, team=occurrence.oic_team,
           detail=f"inbox conversation with victim {case_victim.victim_id}")
    context = views.victim_context(victim, state, occurrence)
    return {
        "case_victim_id": str(case_victim.id), "occurrence_number": occurrence.occurrence_number,
        "case": occurrence.crime_reference or occurrence.occurrence_number, **context,
        "reply_by": due_text if reply_task else "No reply owed", "tone": tone if reply_task else "neutral",
        "messages": messages,
        # Filled into the wording on the server: never taken from the client.
        "_values": {"victim_name": (victim.name or "").split(" ")[0] if victim and victim.name else "",
                    "officer": officer_label(actor),
                    "crime_reference": occurrence.crime_reference or occurrence.occurrence_number,
                    "reply_by": day_words(reply_task.due_at, "en") if reply_task and reply_task.due_at else ""},
    }


def open_conversation(actor: Actor, case_victim_id: object) -> dict:
    """`conversation_in`, committed (the read marks and the audit entry; a refusal's entry too)."""
    refused: Optional[PortalRefusal] = None
    with session_scope() as session:
        try:
            return conversation_in(session, actor, case_victim_id, utcnow())
        except PortalRefusal as exc:
            refused = exc
    raise refused


def wordings() -> tuple[Wording, ...]:
    """The force's wordings (`rxapp/inbox/wording/`); a broken file raises WordingError with its reason."""
    return wording_for_force(settings().force_name)


def filled_wording(key: str, values: dict[str, str]) -> Optional[str]:
    """The wording `key` filled with the open conversation's values, or None for a key the force has not."""
    for wording in wordings():
        if wording.key == key:
            return fill(wording, values)
    return None


def reply(actor: Actor, case_victim_id: object, text: str) -> dict:
    """The officer's reply from the inbox: `reply_now` decides on the case itself (RECORD_CONTACT), closes the
    reply tasks, tells the victim a reply is waiting and audits a refusal. Raises PortalRefusal."""
    return reply_now(actor, _case_id(case_victim_id), text)
