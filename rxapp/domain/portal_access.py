"""Who is invited to the victim portal, and the rules of signing in: pure, no I/O.

Invitation (issue 11, point 1): a victim of a recorded crime is invited when every one of these holds:
- the crime's type is one the force lists (PORTAL_CRIME_TYPES: offence code prefixes and words of the title);
- the victim consented to updates (`consent_updates` is true: not merely "not asked");
- they can be reached by text or email now (a usable channel, not opted out of it, not failed);
- they have not opted out of every automated message;
- the case is not marked DO_NOT_CONTACT;
- in a domestic abuse or sexual offence case (or any flag the safety rules treat so), a contact has been
  confirmed as safe: the invitation is a message someone else may read;
- access to the case has not ended (finalised longer ago than PORTAL_ACCESS_DAYS_AFTER_FINALISED).
The automatic invitation goes once per victim of a case: later facts (safe contact confirmed, consent given)
invite then, if it never went. Staff may invite again at any time the rules allow.

Signing in: a 6-digit code valid for 10 minutes and 5 tries; a new code replaces the old one; rate limits per
link and per address (`Limit`); a session ends after PORTAL_IDLE_MINUTES unused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from .safety import FLAG_DO_NOT_CONTACT, FLAG_SAFE_CONTACT_CONFIRMED, SafetyRules

CODE_DIGITS = 6
CODE_VALID = timedelta(minutes=10)
CODE_TRIES = 5
TOUCH_EVERY = timedelta(minutes=1)  # a session's last_seen_at is written at most this often


@dataclass(frozen=True)
class Limit:
    """At most `limit` events within `window`; then refused for `block`."""

    limit: int
    window: timedelta
    block: timedelta


# Codes sent for one link: 3 in 15 minutes (15 guesses of a million at most, then a wait).
CODES_PER_LINK = Limit(3, timedelta(minutes=15), timedelta(minutes=15))
# Codes asked for from one address, whatever the link: someone walking through links is stopped.
CODES_PER_ADDRESS = Limit(10, timedelta(minutes=15), timedelta(minutes=15))
# Failed sign-ins from one address, whatever the link.
FAILURES_PER_ADDRESS = Limit(10, timedelta(minutes=15), timedelta(hours=1))
# Failed sign-ins on one link, whatever the address (a code's own 5 tries aside).
FAILURES_PER_LINK = Limit(10, timedelta(minutes=15), timedelta(hours=1))


class NotInvited:
    """Why a victim is not (or not yet) invited: words for staff, never shown to the victim."""

    CRIME_TYPE = "the crime's type is not one the portal is offered for"
    NO_CONSENT = "the victim has not consented to updates"
    NO_CONTACT = "no usable text or email contact"
    OPTED_OUT = "the victim opted out of automated messages"
    DO_NOT_CONTACT = "the case is marked do not contact"
    SAFE_CONTACT = "no contact has been confirmed as safe to use"
    ACCESS_ENDED = "the case was finalised and access has ended"
    ALREADY = "already invited"


@dataclass(frozen=True)
class InviteFacts:
    classification_code: str
    classification_text: str
    flags: frozenset[str]
    consent_updates: Optional[bool]
    has_usable_contact: bool
    opted_out_all: bool
    safe_contact_confirmed: bool
    finalised_at: Optional[datetime]
    already_invited: bool = False


def crime_type_listed(code: str, text: str, entries: Iterable[str]) -> bool:
    """Whether a crime's classification is one of `entries`: an entry starting with a digit is an offence code
    prefix ("28" matches 28, 28/1, 28A and 28 E, never 280; "105A" matches 105A and 105A/1), any other entry is
    words that must appear whole in the title, in any case ("theft" matches "Theft from a vehicle", never
    "Thefts" nor "antitheft")."""
    code = "".join((code or "").split()).upper()
    title = " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry[0].isdigit():
            prefix = "".join(entry.split()).upper()
            if code.startswith(prefix) and (len(code) == len(prefix) or _boundary(prefix[-1], code[len(prefix)])):
                return True
        else:
            words = " ".join(re.findall(r"[a-z0-9]+", entry.lower()))
            if words and re.search(rf"(?<![a-z0-9]){re.escape(words)}(?![a-z0-9])", title):
                return True
    return False


def _boundary(last: str, following: str) -> bool:
    # After a digit a code goes on with a letter or a separator (28A, 28/1), after a letter with anything else.
    if last.isdigit():
        return not following.isdigit()
    return not following.isalpha()


def access_ended(finalised_at: Optional[datetime], now: datetime, days_after: int) -> bool:
    return finalised_at is not None and now >= finalised_at + timedelta(days=days_after)


def why_not_invited(facts: InviteFacts, crime_types: Iterable[str], now: datetime, days_after: int,
                    rules: SafetyRules = SafetyRules()) -> Optional[str]:
    """None when the victim is to be invited now, else why not (a `NotInvited` sentence). Safety first: the
    reason that matters most to staff is given when several apply."""
    flags = frozenset(facts.flags)
    if FLAG_DO_NOT_CONTACT in flags:
        return NotInvited.DO_NOT_CONTACT
    safe = facts.safe_contact_confirmed or FLAG_SAFE_CONTACT_CONFIRMED in flags
    if flags & rules.safe_contact_required_flags and not safe:
        return NotInvited.SAFE_CONTACT
    if facts.opted_out_all:
        return NotInvited.OPTED_OUT
    if facts.consent_updates is not True:
        return NotInvited.NO_CONSENT
    if not facts.has_usable_contact:
        return NotInvited.NO_CONTACT
    if access_ended(facts.finalised_at, now, days_after):
        return NotInvited.ACCESS_ENDED
    if not crime_type_listed(facts.classification_code, facts.classification_text, crime_types):
        return NotInvited.CRIME_TYPE
    if facts.already_invited:
        return NotInvited.ALREADY
    return None


def code_well_formed(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def normalise_code(raw: Optional[str]) -> str:
    """What the victim typed, with spaces and dashes taken out ("123 456", "123-456")."""
    return re.sub(r"[\s-]", "", str(raw or ""))[:20]


def session_idle(last_seen_at: datetime, now: datetime, idle: timedelta) -> bool:
    return now - last_seen_at >= idle
