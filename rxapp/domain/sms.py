"""How long a text message is on the wire: GSM-7 or UCS-2, and how many segments (parts) it takes.

Phones and networks bill, and deliver, a long text as several segments joined back together. A text that
uses only the GSM 03.38 alphabet is sent as 7-bit GSM: 160 characters in one segment, 153 per segment
once it is split (the rest of each segment holds the joining header). The extension characters
(^ { } [ ] ~ | \\ € and form feed) take an escape plus the character, so they count twice. One character
outside that alphabet (a curly apostrophe, an en dash, any Polish, Urdu or Arabic letter) switches the
whole text to UCS-2: 70 UTF-16 code units in one segment, 67 per segment once split; characters beyond
the Basic Multilingual Plane, such as emoji, take two units.

When splitting, an escape pair or a surrogate pair is never cut in half: it moves whole to the next
segment, so a text can need one segment more than a simple division suggests. `segments` packs the way
handsets and GOV.UK Notify's providers do.
"""
from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set, less the escape code itself (0x1B), which is not a character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape code, so each takes two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_SEGMENT = 160
GSM7_PER_SEGMENT = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_PER_SEGMENT = 67


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character can be sent in the GSM 7-bit alphabet."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def encoding(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def non_gsm7_characters(text: str) -> list[str]:
    """The distinct characters, in order of first use, that force a text into UCS-2: what to fix when an
    English template has picked up a curly quote or a dash from a word processor."""
    seen: list[str] = []
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION and ch not in seen:
            seen.append(ch)
    return seen


def _unit_sizes(text: str) -> list[int]:
    """How many units each character takes, in the text's encoding."""
    if is_gsm7(text):
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def measure(text: str) -> SmsSize:
    """Encoding, length in units and number of segments of `text`."""
    enc = encoding(text)
    sizes = _unit_sizes(text)
    units = sum(sizes)
    single, per_part = ((GSM7_SINGLE_SEGMENT, GSM7_PER_SEGMENT) if enc == GSM7
                        else (UCS2_SINGLE_SEGMENT, UCS2_PER_SEGMENT))
    if units == 0:
        return SmsSize(enc, 0, 0)
    if units <= single:
        return SmsSize(enc, units, 1)
    count, used = 1, 0
    for size in sizes:
        if used + size > per_part:  # never split an escape pair or a surrogate pair
            count, used = count + 1, 0
        used += size
    return SmsSize(enc, units, count)


def segments(text: str) -> int:
    """Number of SMS segments `text` takes (0 for an empty text, which is never sent)."""
    return measure(text).segments
