"""What the local Notify checks in a send, as Notify does: the request's fields, a UK mobile number, an
email address, UUIDs and a reference's length; and its templates' `((placeholders))`, which a send must
fill and which are rendered into the body it answers with.

Problems are reported in Notify's words, which name fields, never the values sent.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Optional

import phonenumbers

MAX_REFERENCE = 1000
MAX_SMS_CHARACTERS = 918  # Notify's limit: 6 fragments of 153 characters

_PLACEHOLDER = re.compile(r"\(\(([^()\n]+)\)\)")
_EMAIL_LOCAL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\-]+@([^.@][^@\s]+)$")
_HOSTNAME_PART = re.compile(r"^(xn|[a-z0-9]+)(-?-[a-z0-9]+)*$", re.IGNORECASE)
_TLD = re.compile(r"^([a-z]{2,63}|xn--([a-z0-9]+-)*[a-z0-9]+)$", re.IGNORECASE)
_PHONE_ALLOWED = re.compile(r"^[0-9+()\-.\s]+$")

_SMS_FIELDS = frozenset({"phone_number", "template_id", "personalisation", "reference", "sms_sender_id",
                         "scheduled_for"})
_EMAIL_FIELDS = frozenset({"email_address", "template_id", "personalisation", "reference",
                           "email_reply_to_id", "one_click_unsubscribe_url", "scheduled_for"})


# ---- a send request ------------------------------------------------------------------------------------


def validate_send(body: dict, notification_type: str) -> list[str]:
    """Every schema problem with a send request, in Notify's words. Messages name fields, never values."""
    problems: list[str] = []
    allowed = _SMS_FIELDS if notification_type == "sms" else _EMAIL_FIELDS
    unexpected = sorted(key for key in body if key not in allowed)
    if unexpected:
        problems.append(f"Additional properties are not allowed ({', '.join(unexpected)} "
                        f"{'was' if len(unexpected) == 1 else 'were'} unexpected)")
    recipient_field = "phone_number" if notification_type == "sms" else "email_address"
    for required in (recipient_field, "template_id"):
        if body.get(required) is None:
            problems.append(f"{required} is a required property")
    recipient = body.get(recipient_field)
    if recipient is not None:
        if not isinstance(recipient, str):
            problems.append(f"{recipient_field} is not of type string")
        elif notification_type == "sms":
            problem = uk_mobile_problem(recipient)
            if problem:
                problems.append(f"phone_number {problem}")
        elif not is_valid_email(recipient):
            problems.append("email_address Not a valid email address")
    template_id = body.get("template_id")
    if template_id is not None and not is_uuid(template_id):
        problems.append("template_id is not a valid UUID")
    personalisation = body.get("personalisation")
    if personalisation is not None and not isinstance(personalisation, dict):
        problems.append("personalisation is not of type object")
    reference = body.get("reference")
    if reference is not None:
        if not isinstance(reference, str):
            problems.append("reference is not of type string")
        elif len(reference) > MAX_REFERENCE:
            problems.append(f"reference is too long (longer than {MAX_REFERENCE} characters)")
    for sender_field in ("sms_sender_id", "email_reply_to_id"):
        value = body.get(sender_field)
        if sender_field in allowed and value is not None and not is_uuid(value):
            problems.append(f"{sender_field} is not a valid UUID")
    return problems


def uk_mobile_problem(phone_number: str) -> Optional[str]:
    """None if `phone_number` is a UK mobile number as Notify accepts one, else Notify's reason.

    Notify's rule is that the number, without +44/0044/0, is ten digits starting with 7. That includes
    Ofcom's drama range 07700 900000-900999, which `phonenumbers` calls invalid, so `phonenumbers` is used
    only to turn away 07 numbers it knows are not mobiles (personal numbers, pagers)."""
    if not _PHONE_ALLOWED.match(phone_number):
        return "Must not contain letters or symbols"
    national = uk_national(phone_number)
    if not national.startswith("7"):
        return "Not a UK mobile number"
    if len(national) > 10:
        return "Too many digits"
    if len(national) < 10:
        return "Not enough digits"
    parsed = phonenumbers.parse("+44" + national, None)
    if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) not in (
            phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return "Not a UK mobile number"
    return None


def uk_national(phone_number: str) -> str:
    """The digits of a UK number after the country code and trunk zero: 07700 900123, +44 7700 900123 and
    +44 (0)7700 900123 all give 7700900123."""
    digits = re.sub(r"\D", "", phone_number)
    if digits.startswith("0044"):
        digits = digits[4:]
    elif digits.startswith("44"):
        digits = digits[2:]
    return digits.lstrip("0")


def is_valid_email(address: str) -> bool:
    """Notify's own email address check, near enough: a plain local part, a dotted host name of valid labels
    and an alphabetic (or punycode) top-level domain."""
    address = address.strip()
    if len(address) > 320 or ".." in address:
        return False
    match = _EMAIL_LOCAL.match(address)
    if not match:
        return False
    hostname = match.group(1)
    try:
        hostname = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    parts = hostname.split(".")
    if len(hostname) > 253 or len(parts) < 2:
        return False
    if any(not part or len(part) > 63 or not _HOSTNAME_PART.match(part) for part in parts):
        return False
    return bool(_TLD.match(parts[-1]))


def e164(phone_number: str) -> str:
    return "+44" + uk_national(phone_number)


def international_digits(phone_number: str) -> str:
    """A number as Notify writes received texts' numbers: 447700900123 for any spelling of a UK number;
    others keep their digits without the international prefix."""
    stripped = phone_number.strip()
    digits = re.sub(r"\D", "", stripped)
    if stripped.startswith("+") and not digits.startswith("44"):
        return digits
    if digits.startswith("00") and not digits.startswith("0044"):
        return digits[2:]
    return "44" + uk_national(stripped)


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True



# ---- templates -----------------------------------------------------------------------------------------


def placeholder_key(name: str) -> str:
    # Notify matches placeholders to personalisation keys ignoring case, spaces, underscores and dashes.
    return re.sub(r"[\s_\-]", "", name).lower()


def placeholders(text: Optional[str]) -> list[str]:
    if not text:
        return []
    names = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1).split("??", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def missing_placeholders(subject: Optional[str], body: str, personalisation: dict) -> list[str]:
    """The template's placeholders (`subject`, `body`) that `personalisation` does not fill."""
    supplied = {placeholder_key(str(k)) for k, v in personalisation.items() if v is not None}
    names = placeholders(subject) + placeholders(body)
    missing = []
    for name in names:
        if placeholder_key(name) not in supplied and name not in missing:
            missing.append(name)
    return missing


def render(text: str, personalisation: dict, notification_type: str) -> str:
    values = {placeholder_key(str(k)): v for k, v in personalisation.items() if v is not None}

    def substitute(match: re.Match) -> str:
        name, conditional, shown = match.group(1).partition("??")
        value = values.get(placeholder_key(name.strip()))
        if conditional:
            return shown if str(value).strip().lower() in ("yes", "true", "1") else ""
        if isinstance(value, list):
            items = [str(item) for item in value]
            return "\n".join(f"* {item}" for item in items) if notification_type == "email" else ", ".join(items)
        return str(value)

    return _PLACEHOLDER.sub(substitute, text)
