"""Attendance lifecycle rules: from dispatch facts to a status and the plain-English steps a victim sees.

Pure functions over small value types. The service (`rxapp/attendance.py`) loads the facts, calls these,
and stores the result. Nothing here may ever put a call sign, a vehicle or a position into victim text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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
# Each step is stored with its English words (for the record and for staff) and the facts needed to say it
# again in the victim's language (`StepText.params`, kept in `IncidentStep.data`); the page renders a step
# from its kind and those facts (rxapp/attendance/views.py with rxapp/languages), never from the English.

class StepText(str):
    """A step's English words, carrying the facts (`params`) that say the same in another language."""

    params: dict

    def __new__(cls, text: str, **params: object) -> "StepText":
        made = super().__new__(cls, text)
        made.params = {k: v for k, v in params.items() if v is not None}
        return made


def step_opened() -> StepText:
    return StepText("We logged your call and are arranging for an officer to come to you.")


def step_assigned(reassigned: bool) -> StepText:
    if reassigned:
        return StepText("Another officer has been given your call.", reassigned=True)
    return StepText("An officer has been given your call.", reassigned=False)


def step_en_route() -> StepText:
    return StepText("The officer is on the way to you.")


def step_at_scene() -> StepText:
    return StepText("The officer has arrived.")


def step_cleared() -> StepText:
    return StepText("The officer has finished the visit.")


def step_diverted(reason: str) -> StepText:
    if reason == "DIVERTED":
        return StepText("The officer coming to you was sent to an emergency. Nobody is on the way now: "
                        "another officer will be sent.", reason=reason)
    return StepText("The officer coming to you was called away. Nobody is on the way now: "
                    "another officer will be sent.", reason=reason)


def step_appointment(start: datetime, end: datetime, now: datetime) -> StepText:
    return StepText(
        f"An officer will visit {london_day(start, now)} between {london_time(start)} and {london_time(end)}.",
        start=start.astimezone(timezone.utc).isoformat(), end=end.astimezone(timezone.utc).isoformat(),
    )


CLOSE_TEXT = {
    "ATTENDED": "We have closed this call.",
    "CANCELLED": "This call has been cancelled.",
    "NO_DEPLOYMENT": "We dealt with this without sending an officer.",
    "DUPLICATE": "This call was joined to another report of the same thing.",
    "RESOLVED_BY_PHONE": "We dealt with this by phone.",
}


def step_closed(disposition: str, crime_reference: Optional[str]) -> StepText:
    text = CLOSE_TEXT.get(disposition, "This call has been closed.")
    if crime_reference:
        text += f" Your crime reference is {crime_reference}."
    return StepText(text, disposition=disposition, crime_reference=crime_reference or None)


# ---- the victim's page: one story for the heading, the explanation and the history ---------------------

class Situation(StrEnum):
    """What the victim's page says is happening: picks its heading and its explanation together."""

    WAITING = "waiting"                  # nobody assigned yet
    WAITING_LATE = "waiting_late"        # nobody assigned by the grade's target: we said sorry by text
    DELAYED = "delayed"                  # the officer coming was called away; nobody is on the way now
    SCHEDULED = "scheduled"              # a visit booked for a window
    RESCHEDULED = "rescheduled"          # the booked window was changed
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"            # another officer took the call after one was called away
    EN_ROUTE = "en_route"
    AT_SCENE = "at_scene"
    COMPLETED = "completed"              # the officer came (or the call closed after they came)
    BY_PHONE = "by_phone"                # dealt with by phone: nobody is coming
    BY_PHONE_APPOINTMENT = "by_phone_appointment"  # ... and the booked visit will not happen
    CANCELLED = "cancelled"
    NO_DEPLOYMENT = "no_deployment"
    DUPLICATE = "duplicate"
    CLOSED = "closed"                    # closed for a reason we have no words for


@dataclass(frozen=True)
class PageFacts:
    status: str                # an IncidentStatus
    is_open: bool
    disposition: Optional[str] = None
    diverted_count: int = 0    # how often everyone coming was called away
    assigned_since_diversion: bool = False
    appointments: int = 0      # appointment steps: more than one means the visit was moved
    no_officer_apology: bool = False  # the "no officer yet" text went
    arrived: bool = False


CLOSED_SITUATIONS = {
    "CANCELLED": Situation.CANCELLED,
    "NO_DEPLOYMENT": Situation.NO_DEPLOYMENT,
    "DUPLICATE": Situation.DUPLICATE,
    "RESOLVED_BY_PHONE": Situation.BY_PHONE,
}


def situation(f: PageFacts) -> Situation:
    """The one thing the page says is happening. Open and not yet assigned after a diversion is DELAYED (the
    text said "delayed" and promised another officer), never the first-time "waiting"; a call closed without
    a visit names how it ended, so "closed" never hides that nobody is coming."""
    if not f.is_open or f.status in (IncidentStatus.COMPLETED, IncidentStatus.CLOSED):
        if f.status == IncidentStatus.COMPLETED or f.arrived or f.disposition == "ATTENDED":
            return Situation.COMPLETED
        found = CLOSED_SITUATIONS.get(f.disposition or "", Situation.CLOSED)
        if found == Situation.BY_PHONE and f.appointments:
            return Situation.BY_PHONE_APPOINTMENT
        return found
    if f.status == IncidentStatus.AT_SCENE:
        return Situation.AT_SCENE
    if f.status == IncidentStatus.EN_ROUTE:
        return Situation.EN_ROUTE
    if f.status == IncidentStatus.ASSIGNED:
        return Situation.REASSIGNED if f.diverted_count and f.assigned_since_diversion else Situation.ASSIGNED
    if f.diverted_count:
        return Situation.DELAYED
    if f.status == IncidentStatus.SCHEDULED:
        return Situation.RESCHEDULED if f.appointments > 1 else Situation.SCHEDULED
    return Situation.WAITING_LATE if f.no_officer_apology else Situation.WAITING


def before_visit(s: Situation) -> bool:
    """Whether an officer may still be coming (advice on what to do until they arrive is shown)."""
    return s in (Situation.WAITING, Situation.WAITING_LATE, Situation.DELAYED, Situation.SCHEDULED,
                 Situation.RESCHEDULED, Situation.ASSIGNED, Situation.REASSIGNED, Situation.EN_ROUTE)


# Advice before the officer comes, by the force's incident category (first matching prefix or word wins).
# A domestic or sexual offence flag always gets the "safety" advice, which says nothing a person who
# picks up the victim's phone could use, and nothing about the nature of the call.
SAFETY_FLAGS = ("DOMESTIC_ABUSE", "SEXUAL_OFFENCE")
ADVICE_BY_CATEGORY = (
    (("DOMESTIC", "SEXUAL", "RAPE", "STALKING", "HARASSMENT", "CHILD", "MODERN_SLAVERY"), "safety"),
    (("BURGLARY",), "burglary"),
    (("VEHICLE", "CAR_", "MOTOR"), "vehicle"),
    (("ASSAULT", "WOUNDING", "VIOLENCE", "ROBBERY", "GBH", "ABH"), "assault"),
    (("CRIMINAL_DAMAGE", "DAMAGE", "ARSON", "GRAFFITI", "VANDALISM"), "damage"),
    (("THEFT", "SHOPLIFTING", "FRAUD", "STOLEN"), "theft"),
)
ADVICE_TOPICS = ("safety", "burglary", "vehicle", "assault", "damage", "theft", "general")


def advice_topic(category: str, flags: Iterable[str] = ()) -> str:
    """Which advice the victim gets before the officer comes."""
    if any(flag in SAFETY_FLAGS for flag in flags):
        return "safety"
    code = (category or "").upper()
    for words, topic in ADVICE_BY_CATEGORY:
        if any(word in code for word in words):
            return topic
    return "general"


def link_expiry(closed_at: datetime, ttl: timedelta) -> datetime:
    """A victim's link stays readable for `ttl` after the attendance ends, then expires."""
    return closed_at + ttl
