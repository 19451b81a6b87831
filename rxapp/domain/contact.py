"""How the product may reach a victim: which channel, whether a text is an opt-out, and whether an attendance
text is still about something happening now. Pure rules: the services gather the facts."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Optional


class Channel(StrEnum):
    """How a message reaches a victim (`Message.channel`, a template's channel)."""

    SMS = "sms"
    EMAIL = "email"


STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "stop texts", "stop all",
                        "opt out", "optout", "stop messages", "no more"})
# A short reply that starts with one of these is an opt-out too ("Stop please", "STOP texting me").
_STOP_OPENINGS = ("stop", "stopall", "unsubscribe")

# An attendance text may go in quiet hours while the incident is happening now: open, or closed this long ago
# at most (the closing text goes as the officer leaves). A retry long after is routine.
HAPPENING_NOW_AFTER_CLOSE = timedelta(hours=1)

# Texts about an officer on the way: pointless (and confusing) once the officer is there.
WHILE_AN_OFFICER_IS_COMING = frozenset({"officer_assigned", "attendance_delayed", "attendance_delayed_no_window",
                                        "officer_arriving_soon", "no_officer_yet"})


@dataclass(frozen=True)
class ContactPoints:
    """What the victim gave us and what delivery and opt-outs have taught us since."""

    phone: Optional[str]
    email: Optional[str]
    sms_consent: bool
    phone_failed_permanently: bool = False
    email_failed_permanently: bool = False
    opted_out_sms: bool = False
    opted_out_email: bool = False


def choose_channel(points: ContactPoints,
                   offered: Optional[frozenset[str]] = None) -> Optional[tuple[Channel, str]]:
    """The victim's channel and address: a text where they agreed to texts, else email. None when neither is
    usable. `offered`: the channels this deployment can send on (None: every channel, the messages wait in
    the outbox until a provider is configured)."""
    def open_(channel: Channel) -> bool:
        return offered is None or channel in offered

    if (open_(Channel.SMS) and points.phone and points.sms_consent and not points.phone_failed_permanently
            and not points.opted_out_sms):
        return Channel.SMS, points.phone
    if open_(Channel.EMAIL) and points.email and not points.email_failed_permanently and not points.opted_out_email:
        return Channel.EMAIL, points.email
    return None


def is_stop(text: str) -> bool:
    """A reply asking us to stop texting (STOP and the usual variants), as the networks expect."""
    words = re.sub(r"[^a-z ]", " ", (text or "").lower()).split()
    return " ".join(words) in STOP_WORDS or (len(words) >= 1 and words[0] in _STOP_OPENINGS and len(words) <= 3)


def attendance_happening_now(is_open: bool, closed_at: Optional[datetime], now: datetime) -> bool:
    return is_open or (closed_at is not None and now - closed_at <= HAPPENING_NOW_AFTER_CLOSE)


def officer_text_outdated(template: str, is_open: bool, arrived: bool) -> bool:
    """A text about an officer on the way, once the officer arrived or the call closed."""
    return template in WHILE_AN_OFFICER_IS_COMING and (not is_open or arrived)
