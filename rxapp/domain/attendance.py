"""Attendance lifecycle rules: from dispatch facts to a status and the plain-English steps a victim sees.

Pure functions over small value types. The service (`rxapp/attendance.py`) loads the facts, calls these,
and stores the result. Nothing here may ever put a call sign, a vehicle or a position into victim text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# Incident status, in the order a victim expects them.
LOGGED = "logged"
SCHEDULED = "scheduled"
ASSIGNED = "assigned"
EN_ROUTE = "en_route"
AT_SCENE = "at_scene"
COMPLETED = "completed"
CLOSED = "closed"  # ended without an officer attending (cancelled, by phone, no deployment, duplicate)
OPEN_STATUSES = (LOGGED, SCHEDULED, ASSIGNED, EN_ROUTE, AT_SCENE)

STATUS_LABELS = {
    LOGGED: "Waiting for an officer",
    SCHEDULED: "Appointment booked",
    ASSIGNED: "Officer assigned",
    EN_ROUTE: "Officer on the way",
    AT_SCENE: "Officer with you",
    COMPLETED: "Visit complete",
    CLOSED: "Closed",
}

# Resource states, from National Police Status Codes.
R_ASSIGNED = "assigned"
R_EN_ROUTE = "en_route"
R_AT_SCENE = "at_scene"
R_CLEARED = "cleared"
R_COMMITTED = "committed"
R_ACKNOWLEDGED = "acknowledged"
R_EMERGENCY = "officer_emergency"  # never shown to the public

# The contract's default meaning of status codes; a force can override it (STATUS_CODES env, JSON).
DEFAULT_STATUS_CODES: dict[str, str] = {
    "5": R_EN_ROUTE,
    "6": R_AT_SCENE,
    "15": R_ACKNOWLEDGED,
    "1": R_CLEARED,
    "2": R_CLEARED,
    "3": R_CLEARED,
    "7": R_COMMITTED,
    "8": R_COMMITTED,
    "0": R_EMERGENCY,
}


def resource_state_for_code(code: str, current: str, mapping: dict[str, str] | None = None) -> str:
    """New state of an assigned resource after a status code. Unknown codes change nothing."""
    meaning = (mapping or DEFAULT_STATUS_CODES).get(code)
    if meaning is None or meaning in (R_ACKNOWLEDGED, R_EMERGENCY):
        # An acknowledgement is not progress; an officer emergency is never reflected to the victim.
        return current
    if meaning == R_COMMITTED:
        # Committed elsewhere/busy at the incident: keep what the victim last saw.
        return current
    return meaning


@dataclass(frozen=True)
class ResourceFacts:
    state: str  # one of the R_* states
    active: bool


def derive_status(
    resources: Iterable[ResourceFacts],
    *,
    closed: bool,
    disposition: Optional[str],
    arrived: bool,
    has_appointment: bool,
) -> str:
    """The incident's status from its resources. The most advanced active resource wins."""
    if closed:
        return COMPLETED if (disposition == "ATTENDED" or arrived) else CLOSED
    active = [r.state for r in resources if r.active]
    if R_AT_SCENE in active:
        return AT_SCENE
    if R_EN_ROUTE in active:
        return EN_ROUTE
    if any(s in (R_ASSIGNED, R_COMMITTED, R_ACKNOWLEDGED) for s in active):
        return ASSIGNED
    if arrived and active and all(s == R_CLEARED for s in active):
        return COMPLETED
    if arrived:
        return COMPLETED
    return SCHEDULED if has_appointment else LOGGED


def london_time(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%H:%M")


def london_day(at: datetime, now: datetime) -> str:
    local, today = at.astimezone(LONDON).date(), now.astimezone(LONDON).date()
    if local == today:
        return "today"
    if local == today + timedelta(days=1):
        return "tomorrow"
    return at.astimezone(LONDON).strftime("%A %-d %B")


# ---- what the victim reads -------------------------------------------------------------------------

def step_opened() -> str:
    return "We logged your call and are arranging for an officer to come to you."


def step_assigned(reassigned: bool) -> str:
    if reassigned:
        return "Another officer has been given your call."
    return "An officer has been given your call."


def step_en_route() -> str:
    return "The officer is on the way to you."


def step_at_scene() -> str:
    return "The officer has arrived."


def step_cleared() -> str:
    return "The officer has finished the visit."


def step_diverted(reason: str) -> str:
    if reason == "DIVERTED":
        return (
            "The officer coming to you has been sent to an emergency. "
            "We are finding another officer and will update this page."
        )
    return "The officer coming to you has been stood down. We are finding another officer and will update this page."


def step_appointment(start: datetime, end: datetime, now: datetime) -> str:
    return (
        f"An officer will visit {london_day(start, now)} between {london_time(start)} and {london_time(end)}."
    )


CLOSE_TEXT = {
    "ATTENDED": "We have closed this call.",
    "CANCELLED": "This call has been cancelled.",
    "NO_DEPLOYMENT": "We dealt with this without sending an officer.",
    "DUPLICATE": "This call was joined to another report of the same thing.",
    "RESOLVED_BY_PHONE": "We dealt with this by phone.",
}


def step_closed(disposition: str, crime_reference: Optional[str]) -> str:
    text = CLOSE_TEXT.get(disposition, "This call has been closed.")
    if crime_reference:
        text += f" Your crime reference is {crime_reference}."
    return text


def link_expiry(closed_at: datetime, ttl: timedelta) -> datetime:
    """A victim's link stays readable for `ttl` after the attendance ends, then expires."""
    return closed_at + ttl
