"""A person the records system links to a case as a victim, copied onto the product's `Victim` row: who
they are, how to reach them, their needs and their consent. Only the fields a change carries are touched."""
from __future__ import annotations

from rxapp.domain.records import PersonLinked, PersonUpdated
from rxapp.victims.models import Victim


def copy_linked_person(victim: Victim, p: PersonLinked, continuing: bool) -> None:
    """`continuing`: the same person as an attendance or another case already known to the product, whose
    contact choices stand; only what we did not have is filled in."""
    victim.person_id = p.person_id
    name = " ".join(x for x in (p.name.given, p.name.family) if x)
    contact, needs, consent = p.contact, p.needs, p.consent
    if not continuing:
        victim.name = name or None
        victim.phone, victim.email = contact.mobile, contact.email
        victim.language = contact.language or "en"
        victim.sms_consent = bool(contact.mobile) and consent.updates is not False and \
            (contact.preferred_channel in (None, "SMS"))
    else:
        # Same person, same contact choices: fill only what the attendance did not have.
        victim.name = victim.name or name or None
        victim.phone = victim.phone or contact.mobile
        victim.email = victim.email or contact.email
    victim.date_of_birth = p.date_of_birth
    victim.postal_address = contact.postal_address
    victim.preferred_channel = victim.preferred_channel or contact.preferred_channel
    victim.contact_notes = contact.contact_notes
    victim.vulnerabilities = ",".join(needs.vulnerable or ())
    victim.intimidated = bool(needs.intimidated)
    victim.persistently_targeted = bool(needs.persistently_targeted)
    victim.interpreter = bool(needs.interpreter)
    victim.accessibility = needs.accessibility
    victim.consent_updates = consent.updates
    victim.consent_referral = consent.support_referral


def copy_person_update(victim: Victim, p: PersonUpdated) -> None:
    c = p.changed
    if p.name is not None and "name" in " ".join(c):
        victim.name = " ".join(x for x in (p.name.given, p.name.family) if x) or victim.name
    if "date_of_birth" in c:
        victim.date_of_birth = p.date_of_birth
    contact, needs, consent = p.contact, p.needs, p.consent
    if contact is not None:
        for path, attr, value in (("contact.mobile", "phone", contact.mobile),
                                  ("contact.email", "email", contact.email),
                                  ("contact.postal_address", "postal_address", contact.postal_address),
                                  ("contact.preferred_channel", "preferred_channel", contact.preferred_channel),
                                  ("contact.contact_notes", "contact_notes", contact.contact_notes),
                                  ("contact.language", "language", contact.language or "en")):
            if path in c:
                setattr(victim, attr, value)
        if "contact.preferred_channel" in c:
            # Texts only where the victim now asks for them; email, a letter or a call otherwise.
            victim.sms_consent = contact.preferred_channel == "SMS" and bool(victim.phone)
    if needs is not None:
        if "needs.vulnerable" in c:
            victim.vulnerabilities = ",".join(needs.vulnerable or ())
        for name in ("intimidated", "persistently_targeted", "interpreter"):
            if f"needs.{name}" in c:
                setattr(victim, name, bool(getattr(needs, name)))
        if "needs.accessibility" in c:
            victim.accessibility = needs.accessibility
    if consent is not None:
        if "consent.updates" in c:
            victim.consent_updates = consent.updates
        if "consent.support_referral" in c:
            victim.consent_referral = consent.support_referral
