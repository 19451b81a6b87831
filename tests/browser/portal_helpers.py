"""What the portal's browser and socket tests share: a burglary case for a victim of their own, put through the
records path (the NICHE applier, in this process, against the running app's database), the texts and emails the
app sent to the local Notify server, and signing in as the victim does (link from the invitation, code from the
code message)."""
from __future__ import annotations

import copy
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

RECORDS = Path(__file__).resolve().parents[2] / "integrations" / "niche" / "scenarios" / "records-changes.json"
LINK = re.compile(r"/portal/start/([A-Za-z0-9_-]{43})")
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# Each victim of a test session gets a drama number of their own: the tests find a victim's invitation and codes
# by the number they went to, so two victims sharing one (a random pick once gave the Urdu victim the Polish
# victim's number, and so her link) would sign one in as the other. 900850-900999: no other test or sample uses
# them (the board's callers are 900100 up; the samples' are fixed numbers below 900800).
_NUMBERS = iter(random.sample(range(850, 1000), 150))


@dataclass
class Victim:
    occurrence_number: str
    person_id: str
    phone: str  # as Notify sees it: +447700900xxx
    email: str
    language: str


def _sample(change_id: str) -> dict:
    changes = json.loads(RECORDS.read_text())["changes"]
    return copy.deepcopy(next(c for c in changes if c["change_id"] == change_id))


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _apply(db_url: str, raw: dict, at: datetime) -> None:
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService

    change = parse_change(raw, decoded=True)
    clock = at + timedelta(seconds=30)
    result = JourneyService(db_url, now=lambda: clock).apply_page([change], None)
    assert result.dead_letters == 0, raw["change_id"]


def burglary_for(db_url: str, language: str = "en", hours_ago: float = 5) -> Victim:
    """The records sample's burglary (recorded, victim linked, referred for support), with a fresh occurrence
    number, person and contact, its times moved to the last few hours; the victim speaks `language`."""
    tag = uuid.uuid4().hex[:6].upper()
    number = f"26CL0041877-{tag}"
    person = f"P-88120-{tag}"
    digits = next(_NUMBERS)
    victim = Victim(number, person, f"+447700900{digits}", f"portal-{tag.lower()}@example.org", language)
    start = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    recorded = _sample("c-0001")
    linked = _sample("c-0002")
    referral = _sample("c-0003")
    for change in (recorded, linked, referral):
        change["change_id"] = f"{change['change_id']}-{tag}"
        change["occurrence_number"] = number
    occ = recorded["occurrence"]
    occ["occurrence_number"], occ["crime_reference"], occ["incident_urn"] = number, f"CL/26/{tag}", None
    occ["reported_at"], occ["recorded_at"] = _stamp(start - timedelta(hours=2)), _stamp(start)
    recorded["occurred_at"] = _stamp(start)
    linked["occurred_at"] = _stamp(start + timedelta(minutes=1))
    referral["occurred_at"] = _stamp(start + timedelta(hours=1))
    contact = linked["person"]["contact"]
    linked["person"]["person_id"] = person
    contact["mobile"], contact["email"], contact["language"] = "0" + victim.phone[3:], victim.email, language
    for change in (recorded, linked, referral):
        _apply(db_url, change, datetime.fromisoformat(change["occurred_at"].replace("Z", "+00:00")))
    return victim


def records_event(db_url: str, victim: Victim, change_id: str = "c-0004") -> None:
    """A later investigation event of the sample (by default the arrest) for this victim's case, now."""
    change = _sample(change_id)
    now = datetime.now(timezone.utc) - timedelta(minutes=2)
    change["change_id"] = f"{change_id}-{uuid.uuid4().hex[:6]}"
    change["occurrence_number"] = victim.occurrence_number
    change["occurred_at"] = _stamp(now)
    _apply(db_url, change, now)


def _to(n, address: str) -> bool:
    sent = n.to.replace(" ", "")
    return sent == address or (address.startswith("+44") and sent == "0" + address[3:])


def sent_to(notify, address: str) -> list:
    return [n for n in notify.sent if _to(n, address)]


def wait_for_message(notify, address: str, pattern: re.Pattern | str, after: int = 0, timeout: float = 60):
    """The first message to `address` (beyond the first `after` ones) whose body matches; fails on timeout."""
    pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in sent_to(notify, address)[after:]:
            if pattern.search(n.body):
                return n
        time.sleep(0.25)
    bodies = [n.body[:80] for n in sent_to(notify, address)]
    raise AssertionError(f"no message to the victim matching {pattern.pattern!r} in {timeout}s; had {bodies}")


def invitation_link(notify, victim: Victim) -> str:
    """The portal token from the invitation the app texted the victim."""
    message = wait_for_message(notify, victim.phone, LINK)
    return LINK.search(message.body).group(1)


def sign_in(page, base: str, notify, victim: Victim, token: str) -> None:
    """As the victim: open the link, ask for a code, read it from the message, type it, arrive on the case."""
    from playwright.sync_api import expect

    page.goto(f"{base}/portal/start/{token}")
    send = page.locator("#send-code")
    expect(send).to_be_enabled(timeout=15000)
    before = len(sent_to(notify, victim.phone))
    with page.expect_navigation():
        send.click()
    expect(page.locator("#portal-notice")).to_be_visible(timeout=15000)
    code_message = wait_for_message(notify, victim.phone, CODE, after=before)
    code = CODE.search(code_message.body).group(1)
    expect(page.locator("#sign-in")).to_be_enabled(timeout=15000)
    page.fill("#code", code)
    with page.expect_navigation():
        page.click("#sign-in")
    expect(page.locator("#portal-case")).to_be_visible(timeout=20000)


@dataclass(frozen=True)
class Officer:
    """The officer in charge of the sample burglary, as the staff services take an actor."""

    role: str = "officer"
    collar_number: str = "PC 4127"
    team: str = "Middlesbrough CID"
    display_name: str = "PC 4127"
    username: str = "pc.4127"


def case_victim_id(db_url: str, victim: Victim) -> int:
    from sqlmodel import select

    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == victim.occurrence_number)).one()
        return s.exec(select(CaseVictim.id).where(CaseVictim.occurrence_id == occ.id)).one()


def officer_reply(db_url: str, victim: Victim, text: str) -> None:
    """The officer in charge replies through the portal service (as the staff case page does)."""
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.conversation import officer_reply as reply

    cv = case_victim_id(db_url, victim)
    with session_scope(db_url) as s:
        reply(s, Officer(), cv, text)


def scroll_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def victim_session(db_url: str, victim: Victim) -> str:
    """A signed-in session for the victim on their live invitation, as POST /portal/sign-in makes one: the token
    their browser's HttpOnly cookie would hold (only its hash is stored)."""
    import secrets

    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import token_hash
    from rxapp.portal.invitations import live_invite
    from rxapp.portal.models import PortalSession

    cv = case_victim_id(db_url, victim)
    token = secrets.token_urlsafe(32)
    with session_scope(db_url) as s:
        invite = live_invite(s, cv)
        assert invite is not None, "the victim was not invited"
        s.add(PortalSession(token_hash=token_hash(token), invite_id=invite.id, case_victim_id=cv))
    return token
