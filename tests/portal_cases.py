"""A recorded case with one victim signed in to the portal, on the real database, for the portal's conversation,
preferences and feedback tests: the case comes through the journey service from records-feed changes (as in
production), and the invitation and session are rows as rxapp/portal/access.py keeps them."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlmodel import select

from integrations.niche.protocol import parse_change
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.plumbing import links
from rxapp.plumbing.db import session_scope
from rxapp.portal.identity import VictimIdentity
from rxapp.portal.invitations import live_invite
from rxapp.portal.models import PortalInvite, PortalSession
from rxapp.staff.accounts import StaffIdentity

UTC = timezone.utc
# Monday 30 March 2026, after the case was recorded and its victim linked.
AT = datetime(2026, 3, 30, 12, 5, tzinfo=UTC)
OFFICER = StaffIdentity(7, "test.officer", "PC 1234 Test Officer", "officer", collar_number="PC 1234",
                        team="Test Team")
OTHER_OFFICER = StaffIdentity(8, "other.officer", "PC 9999 Other Officer", "officer", collar_number="PC 9999",
                              team="Another Team")


def case_changes(number: str = "26CL0090001", person: str = "P-T1", mobile: str = "07700900555",
                 email: str | None = "test.victim@example.org", language: str = "en", enhanced: bool = False,
                 prefix: str = "t"):
    needs = {"vulnerable": ["LEARNING_DISABILITY"] if enhanced else [], "intimidated": False,
             "persistently_targeted": False, "interpreter": False, "accessibility": None}
    return [parse_change(c, decoded=True) for c in (
        {"change_id": f"{prefix}-1", "type": "occurrence.recorded", "occurred_at": "2026-03-30T10:00:00Z",
         "occurrence_number": number,
         "occurrence": {"occurrence_number": number, "crime_reference": "CL/26/" + number[-6:],
                        "classification": {"code": "49/1", "text": "Theft"}, "reported_at": "2026-03-30T09:00:00Z",
                        "recorded_at": "2026-03-30T10:00:00Z", "incident_urn": None,
                        "oic": {"collar_number": "PC 1234", "name": "Test Officer", "email": None,
                                "team": "Test Team"},
                        "flags": []}},
        {"change_id": f"{prefix}-2", "type": "person.linked", "occurred_at": "2026-03-30T10:01:00Z",
         "occurrence_number": number,
         "person": {"person_id": person, "role": "VICTIM", "name": {"given": "Test", "family": "Victim"},
                    "date_of_birth": "1990-01-01",
                    "contact": {"mobile": mobile, "email": email, "postal_address": None,
                                "preferred_channel": "SMS", "language": language, "safe_to_contact": True,
                                "contact_notes": None},
                    "needs": needs, "consent": {"updates": True, "support_referral": True}}})]


def record_case(db_url, at=AT, **kw) -> JourneyService:
    service = JourneyService(db_url, now=lambda: at)
    service.apply_page(case_changes(**kw), kw.get("prefix", "t") + "-page")
    return service


def sign_in(db_url, number: str = "26CL0090001", at=AT) -> VictimIdentity:
    """An invitation and a live session for the case's victim, as the portal's sign-in leaves them."""
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        cv = s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)).one()
        invite = live_invite(s, cv.id)  # the journey invited the victim when the crime was recorded
        if invite is None:
            nonce = links.new_nonce()
            invite = PortalInvite(case_victim_id=cv.id, link_nonce=nonce, channel="sms", created_at=at,
                                  token_hash=links.token_hash(links.derive_portal_token(nonce)),
                                  destination="+447700900555")
            s.add(invite)
            s.flush()
        token_hash = links.token_hash(secrets.token_urlsafe(32))
        s.add(PortalSession(token_hash=token_hash, invite_id=invite.id, case_victim_id=cv.id, created_at=at,
                            last_seen_at=at))
        return VictimIdentity(case_victim_id=cv.id, victim_id=cv.victim_id, occurrence_id=occ.id,
                              session_hash=token_hash, language="en")


def invite_of(db_url, who: VictimIdentity) -> PortalInvite:
    with session_scope(db_url) as s:
        return live_invite(s, who.case_victim_id)


def touch(db_url, who: VictimIdentity, at) -> None:
    """The victim used the portal at `at` (as each request does), so the session is not idle then."""
    with session_scope(db_url) as s:
        s.get(PortalSession, who.session_hash).last_seen_at = at
