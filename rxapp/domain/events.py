"""The domain's own dispatch events, translated from the STORM feed by
`integrations/storm/protocol.py`. Services apply these; nothing here knows the wire format."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Union

GRADES = ("EMERGENCY", "PRIORITY", "STANDARD", "SCHEDULED", "RESOLUTION_WITHOUT_DEPLOYMENT")
FLAGS = (
    "DOMESTIC_ABUSE",
    "SEXUAL_OFFENCE",
    "CRIME_IN_PROGRESS",
    "DO_NOT_CONTACT",
    "SAFE_CONTACT_CONFIRMED",
    "VULNERABLE",
    "INTERPRETER_REQUIRED",
)
RESOURCE_TYPES = ("car", "van", "motorcycle", "foot", "cycle")
UNASSIGN_REASONS = ("DIVERTED", "STOOD_DOWN", "SWAPPED")
DISPOSITIONS = ("ATTENDED", "CANCELLED", "NO_DEPLOYMENT", "DUPLICATE", "RESOLVED_BY_PHONE")


@dataclass(frozen=True)
class Location:
    easting: float
    northing: float
    description: str
    uprn: Optional[str] = None


@dataclass(frozen=True)
class Caller:
    name: Optional[str]
    phone: Optional[str]  # normalised to E.164 by the adapter, or None
    email: Optional[str]
    sms_consent: bool
    language: str  # ISO 639-1


@dataclass(frozen=True)
class IncidentOpened:
    urn: str
    grade: str
    category: str
    location: Location
    caller: Caller
    flags: tuple[str, ...]


@dataclass(frozen=True)
class IncidentUpdated:
    """Only the fields that changed are set; the rest are None."""

    urn: str
    grade: Optional[str] = None
    flags: Optional[tuple[str, ...]] = None
    caller: Optional[Caller] = None
    location: Optional[Location] = None


@dataclass(frozen=True)
class ResourceAssigned:
    urn: str
    callsign: str
    resource_type: str


@dataclass(frozen=True)
class ResourceUnassigned:
    urn: str
    callsign: str
    reason: str


@dataclass(frozen=True)
class ResourceStatus:
    urn: Optional[str]
    callsign: str
    status_code: str


@dataclass(frozen=True)
class ResourcePosition:
    callsign: str
    lat: float
    lon: float
    fix_at: datetime  # aware, UTC
    speed_mps: Optional[float]
    heading: Optional[float]


@dataclass(frozen=True)
class AppointmentBooked:
    urn: str
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class IncidentClosed:
    urn: str
    disposition: str
    crime_reference: Optional[str]


DispatchPayload = Union[
    IncidentOpened,
    IncidentUpdated,
    ResourceAssigned,
    ResourceUnassigned,
    ResourceStatus,
    ResourcePosition,
    AppointmentBooked,
    IncidentClosed,
]


@dataclass(frozen=True)
class DispatchEvent:
    """One event of the feed, with its envelope."""

    seq: int
    event_id: str
    type: str
    occurred_at: datetime  # aware, UTC
    payload: DispatchPayload = field(compare=False)
    # The frame exactly as received, so a dead letter keeps it whole ("" when the event was not read off a wire).
    raw: str = field(default="", compare=False, repr=False)
