"""Attendance lifecycle rules: from dispatch facts to a status and the plain-English steps a victim sees.

Pure functions over small value types. The service (`rxapp/attendance.py`) loads the facts, calls these,
and stores the result. Nothing here may ever put a call sign, a vehicle or a position into victim text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Iterable, Optional
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class IncidentStatus(StrEnum):
    """An attendance's status (`Incident.status`), in the order a victim expects them."""

    LOGGED = "logged"
    SCHEDULED = "scheduled"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    AT_SCENE = "at_scene"
    COMPLETED = "completed"
    CLOSED = "closed"  # ended without an officer attending (cancelled, by phone, no deployment, duplicate)


# The members under their older module-level names, for callers that use them.
LOGGED, SCHEDULED, ASSIGNED = IncidentStatus.LOGGED, IncidentStatus.SCHEDULED, IncidentStatus.ASSIGNED
EN_ROUTE, AT_SCENE = IncidentStatus.EN_ROUTE, IncidentStatus.AT_SCENE
COMPLETED, CLOSED = IncidentStatus.COMPLETED, IncidentStatus.CLOSED
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


class ResourceState(StrEnum):
    """A resource's state on an incident (`Assignment.state`), from National Police Status Codes."""

    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    AT_SCENE = "at_scene"
    CLEARED = "cleared"
    COMMITTED = "committed"
    ACKNOWLEDGED = "acknowledged"
    OFFICER_EMERGENCY = "officer_emergency"  # never shown to the public


R_ASSIGNED, R_EN_ROUTE, R_AT_SCENE = ResourceState.ASSIGNED, ResourceState.EN_ROUTE, ResourceState.AT_SCENE
R_CLEARED, R_COMMITTED = ResourceState.CLEARED, ResourceState.COMMITTED
R_ACKNOWLEDGED, R_EMERGENCY = ResourceState.ACKNOWLEDGED, ResourceState.OFFICER_EMERGENCY

# The contract's default meaning of status codes; a force can override it (STATUS_CODES env, JSON).
DEFAULT_STATUS_CODES: dict[str, ResourceState] = {
    "5": ResourceState.EN_ROUTE,
    "6": ResourceState.AT_SCENE,
    "15": ResourceState.ACKNOWLEDGED,
    "1": ResourceState.CLEARED,
    "2": ResourceState.CLEARED,
    "3": ResourceState.CLEARED,
    "7": ResourceState.COMMITTED,
    "8": ResourceState.COMMITTED,
    "0": ResourceState.OFFICER_EMERGENCY,
}


def resource_state_for_code(code: str, current: str, mapping: dict[str, str] | None = None) -> str:
    """New state of an assigned resource after a status code. Unknown codes change nothing."""
    meaning = (mapping or DEFAULT_STATUS_CODES).get(code)
    if meaning is None or meaning in (ResourceState.ACKNOWLEDGED, ResourceState.OFFICER_EMERGENCY):
        # An acknowledgement is not progress; an officer emergency is never reflected to the victim.
        return current
    if meaning == ResourceState.COMMITTED:
        # Committed elsewhere/busy at the incident: keep what the victim last saw.
        return current
    return meaning


@dataclass(frozen=True)
class ResourceFacts:
    state: str  # a ResourceState
    active: bool


def derive_status(
    resources: Iterable[ResourceFacts],
    *,
    closed: bool,
    disposition: Optional[str],
    arrived: bool,
    has_appointment: bool,
) -> IncidentStatus:
    """The incident's status from its resources. The most advanced active resource wins."""
    if closed:
        return IncidentStatus.COMPLETED if (disposition == "ATTENDED" or arrived) else IncidentStatus.CLOSED
    active = [r.state for r in resources if r.active]
    if ResourceState.AT_SCENE in active:
        return IncidentStatus.AT_SCENE
    if ResourceState.EN_ROUTE in active:
        return IncidentStatus.EN_ROUTE
    if any(s in (ResourceState.ASSIGNED, ResourceState.COMMITTED, ResourceState.ACKNOWLEDGED) for s in active):
        return IncidentStatus.ASSIGNED
    if arrived and active and all(s == ResourceState.CLEARED for s in active):
        return IncidentStatus.COMPLETED
    if arrived:
        return IncidentStatus.COMPLETED
    return IncidentStatus.SCHEDULED if has_appointment else IncidentStatus.LOGGED


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
