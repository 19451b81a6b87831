"""Signing in to the victim portal: one-time codes, server-side sessions, sign-out, staff revocation, and the
end of access after the case is finalised.

A victim signs in with their invitation's link and a 6-digit code sent to the contact the invitation went to
(rxapp/domain/portal_access.py has the numbers). Only hashes are stored: the link's (`PortalInvite.token_hash`),
the code's (an HMAC under the server secret with the invitation's id) and the session token's. The browser holds
the session token in an HttpOnly cookie (`vj_victim`); `identity_from_cookie_header` is the one check every
portal page and service relies on.

No answer tells whether a link exists: asking for a code on an unknown, revoked or ended link is counted,
looked up and answered exactly as on a good one, and every failed sign-in gets the same refusal. Rate limits
are counted in `SignInThrottle` (shared with staff sign-in, so every worker sees them) under keys that hold an
HMAC of the link or the address, never either in clear.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlmodel import Session, select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain import portal_access as rules
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import DUE_MESSAGE_STATUSES, MessageStatus
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue, log_event
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal.identity import VictimIdentity
from rxapp.portal.invitations import case_victim_for_staff, end_invite, live_invite
from rxapp.portal.models import PortalCode, PortalInvite, PortalSession
from rxapp.staff.forms import cookie_value
from rxapp.staff.models import SignInThrottle
from rxapp.staff.permissions import Actor
from rxapp.victims.models import Victim

log = logging.getLogger(__name__)
PORTAL_COOKIE = "vj_victim"
CODE_TEMPLATE = "portal_code"
SENT, WAIT, REFUSED, OK = "sent", "wait", "code", "ok"  # the answers of request_code and sign_in
_NO_SUCH = -1  # an id no row has: unknown links cost the same queries as known ones


# ---- rate limits -----------------------------------------------------------------------------------------

def _key(kind: str, value: str) -> str:
    mac = hmac.new(settings().secret_key.encode(), f"portal {kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()[:56]}"


def _blocked(session: Session, keys: list[str], now: datetime) -> bool:
    return any((row := session.get(SignInThrottle, key)) is not None and row.blocked_until is not None
               and row.blocked_until > now for key in keys)


def _count(session: Session, limits: list[tuple[str, rules.Limit]], now: datetime) -> bool:
    """Count one event against each key; True when one of them has now reached its limit (and is blocked)."""
    reached = False
    for key, limit in sorted(limits):
        row = session.get(SignInThrottle, key, with_for_update=True)
        if row is None:
            row = SignInThrottle(key=key, window_start=now, failures=0)
            session.add(row)
        elif row.window_start + limit.window <= now:
            row.window_start, row.failures = now, 0
        row.failures += 1
        if row.failures >= limit.limit:
            row.blocked_until, row.window_start, row.failures = now + limit.block, now, 0
            reached = True
            log.warning("portal throttle: %s limit of %d reached", key.split(":")[0], limit.limit)
    session.flush()
    return reached


# ---- invitations and codes -------------------------------------------------------------------------------

def _invite_by_token(session: Session, token: str) -> Optional[PortalInvite]:
    digest = links.token_hash(token if links.well_formed(token) else "")
    return session.exec(select(PortalInvite).where(PortalInvite.token_hash == digest)).first()


def _usable(session: Session, invite: Optional[PortalInvite], now: datetime) -> Optional[tuple[CaseVictim, Occurrence]]:
    """(case victim, case) when the invitation may be used to sign in now: not revoked, and access not ended."""
    case_victim = session.get(CaseVictim, invite.case_victim_id if invite else _NO_SUCH)
    occurrence = session.get(Occurrence, case_victim.occurrence_id if case_victim else _NO_SUCH)
    if invite is None or invite.revoked_at is not None or case_victim is None or occurrence is None:
        return None
    if rules.access_ended(occurrence.finalised_at, now, settings().portal.access_days_after_finalised):
        return None
    return case_victim, occurrence


def code_hash(invite_id: int, code: str) -> str:
    mac = hmac.new(settings().secret_key.encode(), f"portal-code|{invite_id}|{code}".encode(), hashlib.sha256)
    return mac.hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** rules.CODE_DIGITS):0{rules.CODE_DIGITS}d}"


def request_code(session: Session, token: str, address: Optional[str], now: datetime) -> str:
    """A victim asks for a code on their link's page. SENT (whether or not the link is good: the answer never
    says) or WAIT when a rate limit holds. A good link gets a fresh code, replacing any earlier one, sent at
    once to the invitation's contact (a service message: any hour, but never past do-not-contact or an
    unconfirmed safe contact)."""
    limits = [(_key("portal-code-link", token), rules.CODES_PER_LINK)]
    if address:
        limits.append((_key("portal-code-address", address), rules.CODES_PER_ADDRESS))
    if _blocked(session, [key for key, _ in limits], now):
        return WAIT
    _count(session, limits, now)
    invite = _invite_by_token(session, token)
    found = _usable(session, invite, now)
    _end_codes(session, invite.id if invite else _NO_SUCH, now)
    if found is None:
        return SENT
    case_victim, occurrence = found
    victim = session.get(Victim, case_victim.victim_id)
    destination = victim.phone if invite.channel == "sms" else victim.email
    if destination != invite.destination:
        # The contact changed since the invitation: the code goes nowhere the invitation did not go.
        log.info("portal code not sent: invitation %s's contact has changed", invite.id)
        return SENT
    code = _new_code()
    row = PortalCode(invite_id=invite.id, code_hash=code_hash(invite.id, code), created_at=now,
                     expires_at=now + rules.CODE_VALID)
    session.add(row)
    session.flush()
    message = enqueue(session, victim=victim, template=CODE_TEMPLATE, kind=MessageKind.SERVICE,
                      personalisation={"code": code}, channel=invite.channel, now=now, due_at=now,
                      occurrence_id=occurrence.id)
    row.message_id = message.id if message is not None else None
    return SENT


def _end_codes(session: Session, invite_id: int, now: datetime) -> None:
    """Every code of the invitation still usable stops working (a fresh one replaces them); a code message not
    yet gone is cancelled."""
    for old in session.exec(select(PortalCode).where(PortalCode.invite_id == invite_id,
                                                     PortalCode.used_at == None,  # noqa: E711
                                                     PortalCode.expires_at > now)):
        old.expires_at = now
        _cancel_message(session, old.message_id, now, "a newer code replaced it")


def _cancel_message(session: Session, message_id: Optional[int], now: datetime, why: str) -> None:
    message = session.get(Message, message_id) if message_id else None
    if message is not None and message.status in DUE_MESSAGE_STATUSES:
        message.status, message.reason, message.updated_at = MessageStatus.CANCELLED, why, now
        log_event(session, message, MessageStatus.CANCELLED, why)


# ---- signing in and out ----------------------------------------------------------------------------------

def sign_in(session: Session, token: str, code: str, address: Optional[str],
            now: datetime) -> tuple[Optional[str], str]:
    """(session token, OK) for a good link and code; else (None, REFUSED), or (None, WAIT) while a rate limit
    holds. A wrong, expired, used or worn-out code, an unknown, revoked or ended link: all the same REFUSED."""
    limits = [(_key("portal-link", token), rules.FAILURES_PER_LINK)]
    if address:
        limits.append((_key("portal-address", address), rules.FAILURES_PER_ADDRESS))
    if _blocked(session, [key for key, _ in limits], now):
        return None, WAIT
    invite = _invite_by_token(session, token)
    found = _usable(session, invite, now)
    invite_id = invite.id if invite else _NO_SUCH
    current = session.exec(select(PortalCode).where(
        PortalCode.invite_id == invite_id, PortalCode.used_at == None,  # noqa: E711
        PortalCode.expires_at > now, PortalCode.attempts < rules.CODE_TRIES)
        .order_by(PortalCode.id.desc())).first()
    typed = rules.normalise_code(code)
    expected = current.code_hash if current is not None else code_hash(_NO_SUCH, "000000")
    matches = hmac.compare_digest(expected, code_hash(invite_id, typed)) and rules.code_well_formed(typed)
    if found is None or current is None or not matches:
        if current is not None:
            current.attempts += 1
        _count(session, limits, now)
        return None, REFUSED
    case_victim, _ = found
    current.used_at = now
    token_value = secrets.token_urlsafe(32)
    session.add(PortalSession(token_hash=links.token_hash(token_value), invite_id=invite.id,
                              case_victim_id=case_victim.id, created_at=now, last_seen_at=now))
    session.flush()
    log.info("portal sign-in for case victim %s", case_victim.id)
    return token_value, OK


def token_from_cookie_header(cookie_header: Optional[str]) -> str:
    value = cookie_value(cookie_header, PORTAL_COOKIE) or ""
    return value if links.well_formed(value) else ""


def sign_out(session: Session, token: str, now: datetime) -> None:
    row = session.get(PortalSession, links.token_hash(token)) if token else None
    if row is not None and row.ended_at is None:
        row.ended_at, row.ended_how = now, "signed_out"


def _end(row: PortalSession, now: datetime, how: str) -> None:
    row.ended_at, row.ended_how = now, how


def _verdict(session: Session, row: Optional[PortalSession],
             now: datetime) -> tuple[Optional[VictimIdentity], Optional[str]]:
    """(the victim the session signs in, or None; what must be written: how it ended, "touch", or None)."""
    if row is None or row.ended_at is not None:
        return None, None
    invite = session.get(PortalInvite, row.invite_id)
    if invite is None or invite.revoked_at is not None:
        return None, "revoked"
    found = _usable(session, invite, now)
    if found is None:
        return None, "access_ended"
    if rules.session_idle(row.last_seen_at, now, timedelta(minutes=settings().portal.idle_minutes)):
        return None, "idle"
    case_victim, occurrence = found
    victim = session.get(Victim, case_victim.victim_id)
    identity = VictimIdentity(case_victim_id=case_victim.id, victim_id=victim.id, occurrence_id=occurrence.id,
                              session_hash=row.token_hash, language=victim.language or "en")
    return identity, ("touch" if now - row.last_seen_at >= rules.TOUCH_EVERY else None)


def _write(row: PortalSession, change: str, now: datetime) -> None:
    if change == "touch":
        row.last_seen_at = now
    else:
        _end(row, now, change)


def identity_from_cookie_header(cookie_header: Optional[str], now: Optional[datetime] = None,
                                db_url: Optional[str] = None) -> Optional[VictimIdentity]:
    """The signed-in victim the request's `vj_victim` cookie names, or None: checked afresh on every call, so a
    session ended (idle, signed out, revoked, access over) stops working at once. Reads in a read-only
    transaction; writes only to record that a session ended, or its use (at most once a minute). Call it
    through `asyncio.to_thread` from a Reflex state."""
    token = token_from_cookie_header(cookie_header)
    if not token:
        return None
    now = now or utcnow()
    key = links.token_hash(token)
    with session_scope(db_url, readonly=True) as session:
        identity, change = _verdict(session, session.get(PortalSession, key), now)
    if change is not None:
        with session_scope(db_url) as session:
            row = session.get(PortalSession, key, with_for_update=True)
            if row is not None and row.ended_at is None:
                _write(row, change, now)
    return identity


# ---- staff -----------------------------------------------------------------------------------------------

def revoke_access(session: Session, actor: Actor, case_victim_id: int, now: datetime) -> int:
    """Staff end a victim's portal access: every session and invitation of that victim of the case (a new
    invitation restores it). Returns the sessions ended. `PortalRefusal("not_allowed")` when the actor may not
    act on the case, or it does not exist (the same); the attempt is in the audit log either way."""
    case_victim, occurrence = case_victim_for_staff(session, actor, case_victim_id, AuditAction.PORTAL_REVOKE,
                                                    "portal access", now)
    by = (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "staff")[:80]
    ended = 0
    for invite in session.exec(select(PortalInvite).where(PortalInvite.case_victim_id == case_victim.id,
                                                          PortalInvite.revoked_at == None)):  # noqa: E711
        ended += end_invite(session, invite, now, by, "revoked")
        _end_codes(session, invite.id, now)
    # Sessions of invitations revoked earlier (replaced) are already dead; end any left all the same.
    for row in session.exec(select(PortalSession).where(PortalSession.case_victim_id == case_victim.id,
                                                        PortalSession.ended_at == None)):  # noqa: E711
        row.ended_at, row.ended_how, row.ended_by = now, "revoked", by
        ended += 1
    record(session, actor, AuditAction.PORTAL_REVOKE, AuditOutcome.ALLOWED, at=now, occurrence_id=occurrence.id,
           incident_id=occurrence.incident_id, team=occurrence.oic_team,
           detail=f"portal access of victim {case_victim.victim_id} ended: {ended} session(s)")
    return ended


def portal_link_for(session: Session, case_victim_id: int) -> bool:
    """Whether the victim has a live invitation (so a bundle of updates may end with their portal link)."""
    return live_invite(session, case_victim_id) is not None


def end_stale_sessions(now: Optional[datetime] = None, db_url: Optional[str] = None) -> int:
    """The scheduled tidy-up: sessions idle too long, or whose case's access has ended, are marked ended (the
    check at each request is what protects; this keeps the table honest for staff)."""
    now = now or utcnow()
    idle_since = now - timedelta(minutes=settings().portal.idle_minutes)
    ended = 0
    with session_scope(db_url) as session:
        for row in session.exec(select(PortalSession).where(PortalSession.ended_at == None)  # noqa: E711
                                .limit(1000)):
            if row.last_seen_at <= idle_since:
                _end(row, now, "idle")
            elif _usable(session, session.get(PortalInvite, row.invite_id), now) is None:
                _end(row, now, "access_ended")
            else:
                continue
            ended += 1
    return ended
