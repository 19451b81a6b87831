"""One victim of a case as the staff case page shows them: how to reach them safely, what they need, their
entitlement and the rhythm of their updates (`victim_card`), as a dict of strings.

Whether the phone number and email are shown in full is the caller's decision (`reveal`: the viewer may
record contact with this victim, `rxapp/staff/permissions.py`): in full they come with a `tel:` or `mailto:`
link, so the officer who must ring the victim can; otherwise masked as in the message history. The postal
address is only said to be on file.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session

from rxapp.domain.journey import SAFE_CONTACT_FLAGS, when_words
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.messaging.views import mask
from rxapp.victims.models import Victim, VictimContactState

CHANNEL_WORDS = {"SMS": "Text message", "EMAIL": "Email", "LETTER": "Letter", "PHONE": "Phone call"}
NOT_CONFIRMED_SAFE = "Not confirmed: no automated messages until it is"


def language_name(code: str) -> str:
    """'pl' -> 'Polish' (Babel's English names), or the code itself if Babel does not know it."""
    from babel import Locale

    return Locale("en").languages.get((code or "").split("-")[0].lower(), code)


def phone_words(phone: str) -> str:
    """A stored number (E.164) as people write and read it: '+447700900123' -> '07700 900123'; a number from
    abroad as stored."""
    digits = phone.replace(" ", "")
    if digits.startswith("+44") and len(digits) == 13 and digits[3:].isdigit():
        national = "0" + digits[3:]
        return f"{national[:5]} {national[5:]}"
    return phone


def tel_href(phone: str) -> str:
    return "tel:" + "".join(c for c in phone if c.isdigit() or c == "+")


def _when(at: Optional[datetime]) -> str:
    return when_words(at) if at else ""


def victim_card(session: Session, occ: Occurrence, number: int, case_victim: CaseVictim, *, reveal: bool) -> dict:
    """One victim of the case. `reveal`: show the phone number and email in full, with links to use them."""
    victim = session.get(Victim, case_victim.victim_id)
    state = session.get(VictimContactState, case_victim.victim_id)
    flags = {f for f in occ.flags.split(",") if f}
    safe = bool(state and state.safe_contact_confirmed)
    if safe:
        safe_words = "Confirmed"
    elif flags & SAFE_CONTACT_FLAGS:
        safe_words = NOT_CONFIRMED_SAFE
    else:
        safe_words = "Not confirmed"
    phone = (phone_words(victim.phone) if reveal else mask(victim.phone)) if victim.phone else ""
    email = (victim.email if reveal else mask(victim.email)) if victim.email else ""
    contacts = [f"mobile {phone}"] if phone else []
    if email:
        contacts.append(f"email {email}")
    if victim.postal_address:
        contacts.append("postal address on file")
    needs = []
    if (victim.language or "en") != "en":
        needs.append(f"Messages in {language_name(victim.language)}")
    if victim.interpreter:
        needs.append("Needs an interpreter")
    if victim.accessibility:
        needs.append(victim.accessibility)
    if victim.contact_notes:
        needs.append(f"Contact notes: {victim.contact_notes}")
    every = case_victim.routine_every_days
    return {
        "victim_id": str(victim.id),
        "label": f"Victim {number}",
        "name": victim.name or "Name not given",
        "needs": "; ".join(needs) or "None recorded",
        "enhanced": "Yes" if case_victim.enhanced else "No",
        "enhanced_reasons": case_victim.enhanced_reasons,
        "preferred_channel": CHANNEL_WORDS.get((victim.preferred_channel or "").upper(), "Not said"),
        "safe_contact": safe_words,
        "safe_contact_confirmed": "yes" if safe else "",
        "updates": "Opted out of automated updates" if state and state.opted_out_all else "",
        "contacts": ", ".join(contacts) or "none on file",
        # Each way to reach them on its own, for the tasks: in full with a link only when `reveal`.
        "phone": phone,
        "phone_href": tel_href(victim.phone) if reveal and victim.phone else "",
        "email": email,
        "email_href": f"mailto:{victim.email}" if reveal and victim.email else "",
        "contact_notes": victim.contact_notes or "",
        "language": language_name(victim.language) if (victim.language or "en") != "en" else "",
        "interpreter": "Needs an interpreter" if victim.interpreter else "",
        "last_update": _when(case_victim.last_update_at) or "Not yet",
        "routine_every": (f"Every {every} days, as agreed with the victim"
                          if every else "The Code's default (every 28 days once updates begin)"),
        "routine_every_days": str(every or ""),
    }
