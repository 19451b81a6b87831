"""Invitations to the victim portal: who is invited (the rules are in rxapp/domain/portal_access.py), the
invitation itself through the outbox, and staff inviting again.

The records journey calls `invite_case` after every change that may make a victim eligible (a crime recorded,
a victim linked, a person's consent or safe contact changed); it invites each eligible victim of the case once.
Staff may invite again from the case page (`invite_now`), which replaces the earlier invitation: its link
stops working (and so do sessions opened with it).

The link is never stored: the invitation keeps a random nonce and the hash of the token derived from it, and
the outbox's copy of the message says `@portal-link:<invite id>` until the sender puts the link in.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain import portal_access as rules
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import DUE_MESSAGE_STATUSES, MessageStatus
from rxapp.investigation.duties import case_victims
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.views import case_facts
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import PORTAL_LINK_PREFIX, enqueue, log_event
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.models import PortalInvite, PortalSession
from rxapp.staff.permissions import Actor, Permission, may
from rxapp.victims.contact import contact_state, usable_channel
from rxapp.victims.models import Victim

log = logging.getLogger(__name__)
INVITATION_TEMPLATE = "portal_invitation"
REPLACED = "replaced"  # revoked_by of an invitation a newer one replaced


def live_invite(session: Session, case_victim_id: int) -> Optional[PortalInvite]:
    """The victim's current invitation (the newest not revoked), or None."""
    return session.exec(select(PortalInvite).where(PortalInvite.case_victim_id == case_victim_id,
                                                   PortalInvite.revoked_at == None)  # noqa: E711
                        .order_by(PortalInvite.id.desc())).first()


def _facts(session: Session, occurrence: Occurrence, case_victim: CaseVictim, victim: Victim,
           already: bool) -> rules.InviteFacts:
    state = contact_state(session, victim.id)
    return rules.InviteFacts(
        classification_code=occurrence.classification_code, classification_text=occurrence.classification_text,
        flags=frozenset(f for f in occurrence.flags.split(",") if f), consent_updates=victim.consent_updates,
        has_usable_contact=usable_channel(victim, state) is not None, opted_out_all=state.opted_out_all,
        safe_contact_confirmed=state.safe_contact_confirmed, finalised_at=occurrence.finalised_at,
        already_invited=already)


def why_not(session: Session, occurrence: Occurrence, case_victim: CaseVictim, now: datetime, *,
            staff: bool = False) -> Optional[str]:
    """None when the victim may be invited now; else why not, in words for staff. Staff inviting again may
    invite a victim already invited, and whatever the crime's type; never past a safety rule or consent."""
    victim = session.get(Victim, case_victim.victim_id)
    already = session.exec(select(PortalInvite.id).where(
        PortalInvite.case_victim_id == case_victim.id)).first() is not None
    cfg = settings().portal
    why = rules.why_not_invited(_facts(session, occurrence, case_victim, victim, already and not staff),
                                () if staff else cfg.crime_types, now, cfg.access_days_after_finalised)
    if staff and why == rules.NotInvited.CRIME_TYPE:
        return None
    return why


def invite_case(session: Session, occurrence: Occurrence, now: datetime) -> list[PortalInvite]:
    """Invite every victim of the case who is eligible now and was never invited (inside the caller's
    transaction). Called after each records change that may make a victim eligible."""
    sent = []
    for case_victim in case_victims(session, occurrence):
        if why_not(session, occurrence, case_victim, now) is None:
            invite = send_invitation(session, occurrence, case_victim, now)
            if invite is not None:
                sent.append(invite)
    return sent


def send_invitation(session: Session, occurrence: Occurrence, case_victim: CaseVictim, now: datetime,
                    by: Optional[str] = None) -> Optional[PortalInvite]:
    """A new invitation and its message in the outbox; earlier invitations of this victim are revoked (their
    links and sessions stop working, an invitation still waiting to go is cancelled). None when the victim
    has no usable text or email contact after all."""
    victim = session.get(Victim, case_victim.victim_id)
    chosen = usable_channel(victim, contact_state(session, victim.id))
    if chosen is None:
        return None
    channel, destination = chosen
    for older in session.exec(select(PortalInvite).where(PortalInvite.case_victim_id == case_victim.id,
                                                         PortalInvite.revoked_at == None)):  # noqa: E711
        end_invite(session, older, now, REPLACED, "revoked")
    nonce = links.new_nonce()
    invite = PortalInvite(case_victim_id=case_victim.id, token_hash=links.token_hash(links.derive_portal_token(nonce)),
                          link_nonce=nonce, channel=channel, destination=destination, created_at=now)
    session.add(invite)
    session.flush()
    message = enqueue(session, victim=victim, template=INVITATION_TEMPLATE, kind=MessageKind.ROUTINE,
                      personalisation={"link": f"{PORTAL_LINK_PREFIX}{invite.id}"}, channel=channel, now=now,
                      occurrence_id=occurrence.id)
    invite.message_id = message.id if message is not None else None
    log.info("portal invitation %s queued for case victim %s%s", invite.id, case_victim.id,
             " by staff" if by else "")
    return invite


def end_invite(session: Session, invite: PortalInvite, now: datetime, by: str, how: str) -> int:
    """Revoke one invitation: its link, any session opened with it, its message if it has not gone yet.
    Returns the sessions ended."""
    invite.revoked_at, invite.revoked_by = now, by[:80]
    if invite.message_id is not None:
        message = session.get(Message, invite.message_id)
        if message is not None and message.status in DUE_MESSAGE_STATUSES:
            message.status, message.updated_at = MessageStatus.CANCELLED, now
            message.reason = "the invitation was replaced or revoked before it went"
            log_event(session, message, MessageStatus.CANCELLED, message.reason)
    ended = 0
    for live in session.exec(select(PortalSession).where(PortalSession.invite_id == invite.id,
                                                         PortalSession.ended_at == None)):  # noqa: E711
        live.ended_at, live.ended_how = now, how
        live.ended_by = by[:80] if how == "revoked" and by != REPLACED else None
        ended += 1
    return ended


def case_victim_for_staff(session: Session, actor: Actor, case_victim_id: int, action: AuditAction, detail: str,
                          now: datetime) -> tuple[CaseVictim, Occurrence]:
    """A victim of a case, and the case, that staff may act on in the portal's name; else the attempt is audited
    and refused with `PortalRefusal("not_allowed")`, the same whether the case victim exists or not."""
    case_victim = session.get(CaseVictim, case_victim_id)
    occurrence = session.get(Occurrence, case_victim.occurrence_id) if case_victim is not None else None
    if occurrence is None or not may(actor, Permission.RECORD_CONTACT, case_facts(session, occurrence)):
        record(session, actor, action, AuditOutcome.REFUSED, at=now,
               occurrence_id=occurrence.id if occurrence else None, team=occurrence.oic_team if occurrence else None,
               detail=detail)
        raise PortalRefusal("not_allowed")
    return case_victim, occurrence


def invite_now(session: Session, actor: Actor, case_victim_id: int, now: datetime) -> PortalInvite:
    """Staff invite (or invite again) one victim of a case they may act on. Refuses with
    `PortalRefusal("not_allowed")` when the actor may not, or the case victim does not exist (the same), and
    `PortalRefusal("not_eligible", <why, for staff>)` when a rule forbids it."""
    case_victim, occurrence = case_victim_for_staff(session, actor, case_victim_id, AuditAction.PORTAL_INVITE,
                                                    "portal invitation", now)
    why = why_not(session, occurrence, case_victim, now, staff=True)
    invite = send_invitation(session, occurrence, case_victim, now, by=_name(actor)) if why is None else None
    if invite is None:
        raise PortalRefusal("not_eligible", why or rules.NotInvited.NO_CONTACT)
    record(session, actor, AuditAction.PORTAL_INVITE, AuditOutcome.ALLOWED, at=now, occurrence_id=occurrence.id,
           incident_id=occurrence.incident_id, team=occurrence.oic_team,
           detail=f"portal invitation {invite.id} for victim {case_victim.victim_id}")
    return invite


def _name(actor: Actor) -> str:
    return (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "staff")[:80]


def portal_link_for(session: Session, case_victim_id: int) -> bool:
    """Whether the victim has a live invitation (a bundle of updates then ends with their portal link)."""
    return live_invite(session, case_victim_id) is not None


def live_link_for(session: Session, victim_id: Optional[int], occurrence_id: Optional[int]) -> Optional[str]:
    """The portal link of the victim's live invitation for one case, or None."""
    if victim_id is None or occurrence_id is None:
        return None
    case_victim = session.exec(select(CaseVictim).where(CaseVictim.victim_id == victim_id,
                                                        CaseVictim.occurrence_id == occurrence_id)).first()
    invite = live_invite(session, case_victim.id) if case_victim is not None else None
    if invite is None:
        return None
    occurrence = session.get(Occurrence, occurrence_id)
    cfg = settings().portal
    if rules.access_ended(occurrence.finalised_at, utcnow(), cfg.access_days_after_finalised):
        return None
    return links.portal_url(links.derive_portal_token(invite.link_nonce))
