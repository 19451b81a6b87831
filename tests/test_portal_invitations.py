"""Invitations to the victim portal: the eligibility rules (pure), and through the real records journey, outbox,
sender and local Notify server: who is invited and when (once; later when safe contact is confirmed), what the
invitation says and where the link lives (never in the outbox), staff inviting again (the old link dies) and
refusals for staff who may not."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from integrations.niche.protocol import parse_change
from rxapp.audit.models import AuditEvent
from rxapp.domain import portal_access as rules
from rxapp.domain.portal_access import InviteFacts, NotInvited, crime_type_listed, why_not_invited
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.messaging.models import Message
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_portal_token, derive_token, portal_url, token_hash
from rxapp.plumbing.portal_settings import DEFAULT_CRIME_TYPES, parse_crime_types
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.invitations import invite_case, invite_now, live_invite, why_not
from rxapp.portal.models import PortalInvite
from rxapp.staff.accounts import StaffIdentity
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim

from .test_journey_service import Clock
from .test_journey_service import _sender as sender_for

SAMPLE = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)  # a Tuesday morning: routine messages go
BURGLARY, DOMESTIC = "26CL0041877", "26CL0041915"
OIC = StaffIdentity(1, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127", team="Middlesbrough CID")
STRANGER = StaffIdentity(2, "other.one", "PC 9999 Other", "officer", collar_number="PC 9999", team="Elsewhere CID")


# ---- the rules ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,text,listed", [
    ("28/1", "Burglary - residential - home", True),
    ("28E", "Burglary in a dwelling", True),
    ("280", "Something else entirely", False),
    ("45", "Theft from a vehicle", True),
    ("58C", "Criminal damage to a vehicle", True),
    ("34B", "Robbery of personal property", True),
    ("105B", "Racially or religiously aggravated assault without injury", True),
    ("105A", "", True),
    ("8N", "Assault with injury", False),
    ("8/1", "Assault occasioning actual bodily harm", False),
    ("8L", "Harassment", False),
    ("", "Theft of a pedal cycle", True),  # the words alone, when a feed's codes differ
    ("999", "Antitheft device tampering", False),  # whole words only
    ("53A", "", True),
])
def test_the_default_crime_types_match_codes_and_titles_robustly(code, text, listed):
    assert crime_type_listed(code, text, DEFAULT_CRIME_TYPES) is listed


def test_a_code_prefix_stops_at_the_code_s_own_boundary():
    assert crime_type_listed("105A/1", "", ["105A"]) and not crime_type_listed("105B", "", ["105A"])
    assert crime_type_listed("28 E", "", ["28"]) and not crime_type_listed("2", "", ["28"])
    assert crime_type_listed("8N", "", ["8"]) and not crime_type_listed("80", "", ["8"])


def test_a_force_s_list_is_read_and_a_bad_one_refused():
    assert parse_crime_types(" 28 , burglary,28 ") == ("28", "burglary")
    with pytest.raises(ValueError, match="PORTAL_CRIME_TYPES"):
        parse_crime_types("28,<script>")
    assert config.load_settings({"PORTAL_CRIME_TYPES": "45, theft"}).portal.crime_types == ("45", "theft")
    assert any("PORTAL_CRIME_TYPES" in p for p in config.check({"PORTAL_CRIME_TYPES": ","}, production=False))


def facts(**over) -> InviteFacts:
    base = dict(classification_code="28/1", classification_text="Burglary", flags=frozenset(), consent_updates=True,
                has_usable_contact=True, opted_out_all=False, safe_contact_confirmed=False, finalised_at=None)
    return InviteFacts(**{**base, **over})


@pytest.mark.parametrize("over,why", [
    ({}, None),
    ({"consent_updates": None}, NotInvited.NO_CONSENT),
    ({"consent_updates": False}, NotInvited.NO_CONSENT),
    ({"has_usable_contact": False}, NotInvited.NO_CONTACT),
    ({"opted_out_all": True}, NotInvited.OPTED_OUT),
    ({"flags": frozenset({"DO_NOT_CONTACT"})}, NotInvited.DO_NOT_CONTACT),
    ({"flags": frozenset({"DOMESTIC_ABUSE"})}, NotInvited.SAFE_CONTACT),
    ({"flags": frozenset({"SEXUAL_OFFENCE"})}, NotInvited.SAFE_CONTACT),
    ({"flags": frozenset({"DOMESTIC_ABUSE"}), "safe_contact_confirmed": True}, None),
    ({"flags": frozenset({"DOMESTIC_ABUSE", "SAFE_CONTACT_CONFIRMED"})}, None),
    ({"flags": frozenset({"DOMESTIC_ABUSE", "DO_NOT_CONTACT"}), "safe_contact_confirmed": True},
     NotInvited.DO_NOT_CONTACT),
    ({"flags": frozenset({"HATE_CRIME"})}, None),
    ({"classification_code": "8N", "classification_text": "Assault with injury"}, NotInvited.CRIME_TYPE),
    ({"finalised_at": NOW - timedelta(days=27)}, None),
    ({"finalised_at": NOW - timedelta(days=28)}, NotInvited.ACCESS_ENDED),
    ({"already_invited": True}, NotInvited.ALREADY),
])
def test_who_is_invited(over, why):
    assert why_not_invited(facts(**over), DEFAULT_CRIME_TYPES, NOW, 28) == why


def test_codes_are_six_digits_and_typing_allows_spaces():
    assert rules.code_well_formed("012345") and not rules.code_well_formed("12345")
    assert not rules.code_well_formed("١٢٣٤٥٦")  # digits of another script never match a code we sent
    assert rules.normalise_code(" 123 456 ") == "123456" and rules.normalise_code("123-456") == "123456"


# ---- through the journey --------------------------------------------------------------------------------------



def sample_changes():
    return [parse_change(c, decoded=True) for c in json.loads(SAMPLE.read_text())["changes"]]


def invites_of(db_url, number) -> list[PortalInvite]:
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        rows = s.exec(select(PortalInvite).join(CaseVictim, CaseVictim.id == PortalInvite.case_victim_id)
                      .where(CaseVictim.occurrence_id == occ.id).order_by(PortalInvite.id)).all()
        s.expunge_all()
        return list(rows)


@pytest.mark.asyncio
async def test_the_records_sample_invites_the_burglary_victim_once_and_not_the_domestic_abuse_victim(db_url, notify):
    changes = sample_changes()
    clock = Clock(max(c.occurred_at for c in changes) + timedelta(hours=1))
    JourneyService(db_url, now=clock).apply_page(changes, changes[-1].change_id)
    (invite,) = invites_of(db_url, BURGLARY)
    assert invites_of(db_url, DOMESTIC) == []  # domestic abuse, safe contact not confirmed
    token = derive_portal_token(invite.link_nonce)
    assert invite.token_hash == token_hash(token) and invite.channel == "sms"
    assert invite.destination == "+447700900123" and invite.revoked_at is None
    assert token != derive_token(invite.link_nonce)  # a portal link is never a tracking link, nor the reverse
    with session_scope(db_url) as s:
        message = s.get(Message, invite.message_id)
        # The outbox never holds the link: a stand-in, and the history copy says "[private link]".
        assert token not in message.personalisation and token not in message.body
        assert "[private link]" in message.body and message.kind == "routine"
        assert message.template == "portal_invitation" and message.occurrence_id is not None
    # The same page again changes nothing: invited once.
    JourneyService(db_url, now=clock).apply_page(changes, changes[-1].change_id)
    assert len(invites_of(db_url, BURGLARY)) == 1

    clock.at = max(clock.at, datetime(2026, 12, 21, 9, 0, tzinfo=timezone.utc))  # a morning: routine goes
    await sender_for(notify, db_url, clock).drain()
    texts = [n.body for n in notify.sent if n.to.replace(" ", "") in ("+447700900123", "07700900123")]
    invitation = [t for t in texts if t.endswith(f"Sign in: {portal_url(token)}")]
    assert len(invitation) == 1
    assert "burglary" not in invitation[0].lower() and "CL/26" not in invitation[0]


def test_the_domestic_abuse_victim_is_invited_once_safe_contact_is_confirmed_and_consent_given(db_url, monkeypatch):
    # The sample's domestic abuse case is an ABH (8/1), outside the default list: a force that lists it.
    monkeypatch.setenv("PORTAL_CRIME_TYPES", ",".join(DEFAULT_CRIME_TYPES + ("8/1",)))
    config.reset_settings()
    changes = sample_changes()
    clock = Clock(max(c.occurred_at for c in changes) + timedelta(hours=1))
    service = JourneyService(db_url, now=clock)
    service.apply_page(changes, changes[-1].change_id)
    assert invites_of(db_url, DOMESTIC) == []
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == DOMESTIC)).one()
        (victim,) = s.exec(select(Victim).join(CaseVictim, CaseVictim.victim_id == Victim.id)
                           .where(CaseVictim.occurrence_id == occ.id)).all()
        person_id, consented = victim.person_id, victim.consent_updates
    update = {"change_id": "portal-test-safe", "type": "person.updated", "occurrence_number": DOMESTIC,
              "occurred_at": (clock.at - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
              "person": {"person_id": person_id, "contact": {"safe_to_contact": True, "preferred_channel": "SMS"},
                         "consent": {"updates": True}}}
    service.apply_page([parse_change(update, decoded=True)], "portal-test-safe")
    invites = invites_of(db_url, DOMESTIC)
    assert len(invites) == 1, consented
    again = dict(update, change_id="portal-test-safe-2")
    service.apply_page([parse_change(again, decoded=True)], "portal-test-safe-2")
    assert len(invites_of(db_url, DOMESTIC)) == 1


def a_case(db_url, *, code="58C", text="Criminal damage to a vehicle", flags="", consent=True, phone="+447700900150",
           email=None, sms_consent=True) -> int:
    with session_scope(db_url) as s:
        victim = Victim(phone=phone, email=email, sms_consent=sms_consent, consent_updates=consent)
        occ = Occurrence(occurrence_number="26CL0099001", crime_reference="CL/26/099001", classification_code=code,
                         classification_text=text, flags=flags, reported_at=NOW - timedelta(days=1),
                         recorded_at=NOW - timedelta(hours=2), oic_collar="PC 4127", oic_team="Middlesbrough CID")
        s.add_all([victim, occ])
        s.flush()
        cv = CaseVictim(occurrence_id=occ.id, victim_id=victim.id)
        s.add(cv)
        s.flush()
        invite_case(s, occ, NOW)
        return cv.id


def test_no_consent_no_contact_or_do_not_contact_means_no_invitation(db_url):
    for kwargs in ({"consent": None}, {"phone": None, "email": None}, {"flags": "DO_NOT_CONTACT"},
                   {"phone": "+447700900151", "sms_consent": False}):
        cv_id = a_case(db_url, **kwargs)
        with session_scope(db_url) as s:
            assert live_invite(s, cv_id) is None, kwargs
            s.delete(s.get(CaseVictim, cv_id))
            s.delete(s.exec(select(Occurrence)).one())


def test_an_email_only_victim_is_invited_by_email(db_url):
    cv_id = a_case(db_url, phone=None, email="grace@example.org")
    with session_scope(db_url) as s:
        invite = live_invite(s, cv_id)
        assert (invite.channel, invite.destination) == ("email", "grace@example.org")
        assert s.get(Message, invite.message_id).channel == "email"


def test_staff_invite_again_the_old_link_dies_and_strangers_are_refused(db_url):
    cv_id = a_case(db_url)
    with session_scope(db_url) as s:
        first = live_invite(s, cv_id)
        with pytest.raises(PortalRefusal) as refused:
            invite_now(s, STRANGER, cv_id, NOW)
        assert refused.value.key == "not_allowed"
        with pytest.raises(PortalRefusal) as missing:
            invite_now(s, STRANGER, 999999, NOW)
        assert missing.value.key == "not_allowed"
    with session_scope(db_url) as s:
        second = invite_now(s, OIC, cv_id, NOW + timedelta(minutes=1))
        assert second.id != first.id
    with session_scope(db_url) as s:
        old = s.get(PortalInvite, first.id)
        assert old.revoked_at is not None and old.revoked_by == "replaced"
        assert s.get(Message, old.message_id).status == "cancelled"  # the first never went: it never will
        assert live_invite(s, cv_id).id == second.id
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "portal_invite")).all()
        assert sorted(a.outcome for a in audit) == ["allowed", "refused", "refused"]
        assert all("+44" not in a.detail for a in audit)


def test_staff_cannot_invite_past_a_safety_rule_but_may_whatever_the_crime_type(db_url):
    cv_id = a_case(db_url, code="8L", text="Harassment")
    with session_scope(db_url) as s:
        assert live_invite(s, cv_id) is None  # not on the list: no automatic invitation
        assert invite_now(s, OIC, cv_id, NOW).channel == "sms"  # the officer decides it helps
        cv = s.get(CaseVictim, cv_id)
        occ = s.get(Occurrence, cv.occurrence_id)
        occ.flags = "DOMESTIC_ABUSE"
        assert why_not(s, occ, cv, NOW, staff=True) == NotInvited.SAFE_CONTACT
        with pytest.raises(PortalRefusal) as refused:
            invite_now(s, OIC, cv_id, NOW)
        assert refused.value.key == "not_eligible" and str(refused.value) == NotInvited.SAFE_CONTACT
        contact_state(s, cv.victim_id).safe_contact_confirmed = True
        assert invite_now(s, OIC, cv_id, NOW) is not None
