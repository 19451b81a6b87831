"""The shapes the dispatch feed's contract gives its fields (/contracts/dispatch-feed.md and its samples), and
how far from the moment a frame is received its times may lie. `protocol.parse_frame` checks every frame
against them, so a frame that breaks one becomes a dead letter rather than an incident, a visit or a text.

A reason names the field and the rule it broke, never the value: a mis-mapped gateway can put a caller's name
in any field.

Identifiers and codes (references, categories, callsigns, status codes, crime references) and coordinates are
refused when they break their shape: that is a gateway fault, and applying the frame would mislead a victim or
the control room. Contact details typed by a call handler are not grounds to lose an incident: an unusable
phone number or email address is dropped (nothing is ever sent to it) and an unknown language reads as
English (see `protocol._caller`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from integrations.validation import Invalid, join

# STORM's incident reference as the contract gives it: force prefix, the day it was opened, a serial
# (`CLE-20261120-0142`).
URN = re.compile(r"^(?P<prefix>[A-Z]{2,6})-(?P<date>[0-9]{8})-(?P<serial>[0-9]{3,6})$")
# A National Incident Category List style code: upper-case words joined by underscores (`BURGLARY_DWELLING`).
CATEGORY = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
# A resource's call sign: letters and digits, perhaps with / or - (`CE21`, `DX-21`), never a space.
CALLSIGN = re.compile(r"^[A-Z0-9]+(?:[/-][A-Z0-9]+)*$")
# A National Police Status Code, sent as a string of digits (`5`, `15`).
STATUS_CODE = re.compile(r"^[0-9]{1,3}$")
# NICHE's crime reference: groups of capitals and digits joined by / or - (`CL/26/041877`).
CRIME_REFERENCE = re.compile(r"^[A-Z0-9]+(?:[/-][A-Z0-9]+)+$")

# Great Britain, in WGS84 degrees, with a margin for the islands: a vehicle fix outside it is a bad frame.
GB_LAT = (49.7, 61.0)
GB_LON = (-8.8, 2.0)


@dataclass(frozen=True)
class FrameRules:
    """How far a frame's times may lie from the moment it was received. `max_age`: an event that happened
    longer ago than this is refused (a replay after an outage up to this long still applies); `max_ahead`: a
    time later than this after receipt is a clock fault; `appointment_horizon`: how far ahead a booked
    window may start."""

    max_age: timedelta = timedelta(hours=72)
    max_ahead: timedelta = timedelta(minutes=5)
    appointment_horizon: timedelta = timedelta(days=90)


CONTRACT = FrameRules()


def shaped(value: str, pattern: re.Pattern, path: str, key: str, noun: str) -> str:
    if not pattern.match(value):
        raise Invalid(f"{join(path, key)}: not {noun}")
    return value


def urn(value: str, path: str) -> str:
    match = URN.match(value)
    if not match:
        raise Invalid(f"{join(path, 'urn')}: not a STORM incident reference (such as CLE-20261120-0142)")
    try:
        datetime.strptime(match["date"], "%Y%m%d")
    except ValueError:
        raise Invalid(f"{join(path, 'urn')}: its date is not a calendar date") from None
    return value


def in_gb(lat: float, lon: float, path: str) -> None:
    if not (GB_LAT[0] <= lat <= GB_LAT[1] and GB_LON[0] <= lon <= GB_LON[1]):
        raise Invalid(f"{path}: position outside Great Britain")


def recent(moment: datetime, path: str, key: str, received_at: Optional[datetime], rules: FrameRules) -> datetime:
    """A time that must lie around the moment of receipt: not older than `max_age`, not later than
    `max_ahead` after it."""
    if received_at is None:
        return moment
    if moment < received_at - rules.max_age:
        raise Invalid(f"{join(path, key)}: more than {_span(rules.max_age)} before it was received")
    if moment > received_at + rules.max_ahead:
        raise Invalid(f"{join(path, key)}: after it was received (more than {_span(rules.max_ahead)} ahead)")
    return moment


def bookable(moment: datetime, path: str, key: str, received_at: Optional[datetime], rules: FrameRules) -> datetime:
    """An appointment time: not older than `max_age`, not further ahead than `appointment_horizon`."""
    if received_at is None:
        return moment
    if moment < received_at - rules.max_age:
        raise Invalid(f"{join(path, key)}: more than {_span(rules.max_age)} before it was received")
    if moment > received_at + rules.appointment_horizon:
        raise Invalid(f"{join(path, key)}: more than {_span(rules.appointment_horizon)} ahead")
    return moment


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0 and seconds >= 86400 * 7:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0 and seconds >= 7200:
        return f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
