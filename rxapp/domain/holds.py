"""The control room holding an incident's automated texts: why a controller may hold them, as data.

A hold is chosen from a fixed list, so what is recorded (and audited) is a code and fixed words, never a
note someone typed. While a hold stands, the safety rules (`rxapp/domain/safety.py`, rule 7) hold every
automated message about the incident; when it is released, each goes through the rules again.
"""
from __future__ import annotations

# reason code -> the words staff read on the board and in the message history
HOLD_REASONS: dict[str, str] = {
    "caller_safety": "the caller may not be safe to text",
    "details_changing": "the incident's details are changing",
    "caller_asked": "the caller asked for no texts for now",
    "number_in_doubt": "the phone number may be wrong",
    "other": "another reason, in the incident log",
}
REASON_CHOICES = tuple(HOLD_REASONS)


def hold_reason_words(code: str) -> str:
    """The words for a stored reason code (an unknown code is shown as itself, never dropped)."""
    return HOLD_REASONS.get(code, code.replace("_", " "))


def valid_hold_reason(code: object) -> bool:
    return isinstance(code, str) and code in HOLD_REASONS
