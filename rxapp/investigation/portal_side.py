"""The victim portal as the staff case page shows it: each victim's access (invited, signed in), the conversation
with the reply box's choices, the preference changes the victim made, and their survey answers; and the staff
actions on it (reply, invite again, end access), each deciding on the case itself through the portal's services.

Read only for `actor`s who may read the case (`Permission.READ_CASE`), answered as None otherwise, exactly as
a case that does not exist. Plain functions that open their own transaction, for the case page's state to call
through `asyncio.to_thread`. What the victim wrote is returned as written: the page escapes it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, func, select

from rxapp.investigation.duties import case_victims
from rxapp.investigation.views import case_facts, occurrence_by_number
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.portal import live
from rxapp.portal.access import revoke_access
from rxapp.portal.conversation import reply_now, staff_conversation, when_words
from rxapp.portal.feedback import staff_feedback
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.invitations import invite_now, live_invite
from rxapp.portal.models import PortalSession
from rxapp.portal.preferences import staff_preference_changes
from rxapp.staff.permissions import Actor, Permission, may
from rxapp.victims.models import Victim

__all__ = ["load_portal_side", "portal_side", "reply", "revoke", "invite", "PortalRefusal"]


def portal_side(session: Session, actor: Actor, occurrence_number: str, now: datetime) -> Optional[dict]:
    occurrence = occurrence_by_number(session, occurrence_number)
    facts = case_facts(session, occurrence)
    if occurrence is None or not may(actor, Permission.READ_CASE, facts):
        return None
    victims, messages, changes, answers = [], [], [], []
    for number, case_victim in enumerate(case_victims(session, occurrence), start=1):
        person = session.get(Victim, case_victim.victim_id)
        label = f"Victim {number}: {person.name or 'name not given'}"
        invite = live_invite(session, case_victim.id)
        signed_in = session.exec(select(func.count()).select_from(PortalSession).where(
            PortalSession.case_victim_id == case_victim.id, PortalSession.ended_at.is_(None))).one()
        if invite is None:
            access = "Not invited, or access ended"
        else:
            access = f"Invited {when_words(invite.created_at)}" + (
                f"; signed in now ({signed_in} session{'s' if signed_in != 1 else ''})" if signed_in else "")
        victims.append({"case_victim_id": str(case_victim.id), "label": label, "access": access,
                        "invited": "yes" if invite is not None else ""})
        for row in staff_conversation(session, case_victim.id):
            messages.append({**row, "victim": label, "case_victim_id": str(case_victim.id)})
        changes += [{**row, "victim": label} for row in staff_preference_changes(session, case_victim.id)]
        answers += [{**row, "victim": label} for row in staff_feedback(session, case_victim.victim_id, occurrence.id,
                                                                        occurrence.incident_id)]
    return {"portal_victims": victims, "portal_messages": messages, "preference_changes": changes,
            "survey_answers": answers, "can_reply": may(actor, Permission.RECORD_CONTACT, facts)}


def load_portal_side(actor: Actor, occurrence_number: str) -> Optional[dict]:
    with session_scope(readonly=True) as session:
        return portal_side(session, actor, occurrence_number, utcnow())


def reply(actor: Actor, case_victim_id: object, text: str) -> dict:
    """The officer's reply (`rxapp/portal/conversation.py officer_reply`), committed, then the victim's open
    pages told. Raises PortalRefusal."""
    return reply_now(actor, _id(case_victim_id), text)


def revoke(actor: Actor, case_victim_id: object) -> int:
    """End the victim's portal access (every session and invitation). Raises PortalRefusal; the refusal is in
    the audit log all the same."""
    return _committed(lambda session: revoke_access(session, actor, _id(case_victim_id), utcnow()),
                      case_victim_id)


def invite(actor: Actor, case_victim_id: object):
    """Invite the victim again (a new link; the old one stops working). Raises PortalRefusal ("not_eligible"
    carries the reason for staff)."""
    return _committed(lambda session: invite_now(session, actor, _id(case_victim_id), utcnow()).id, case_victim_id)


def _id(value: object) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else -1


def _committed(action, case_victim_id: object):
    refused: Optional[PortalRefusal] = None
    with session_scope() as session:
        try:
            result = action(session)
        except PortalRefusal as exc:
            refused = exc  # the audit entry of the refusal is committed
        else:
            live.changed_after_commit(session, _id(case_victim_id))
    if refused is not None:
        raise refused
    return result
