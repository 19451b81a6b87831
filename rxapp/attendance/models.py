"""The attendance's tables: a STORM incident, the resources sent to it, their newest fixes, its steps.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.domain.attendance import IncidentStatus, ResourceState
from rxapp.domain.eta import EtaEstimate
from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class Incident(SQLModel, table=True):
    """One STORM incident and the attendance it needs."""

    id: Optional[int] = Field(default=None, primary_key=True)
    urn: str = Field(max_length=64, unique=True, index=True)
    grade: str = Field(max_length=40)
    category: str = Field(max_length=80)
    location_description: str = Field(default="", max_length=300)
    easting: float
    northing: float
    lat: float
    lon: float
    rural: bool = False
    flags: str = Field(default="", max_length=300)  # comma-separated contract flags
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)

    status: str = Field(default=IncidentStatus.LOGGED, max_length=20, index=True)  # an IncidentStatus
    is_open: bool = Field(default=True, index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    first_assigned_at: Optional[datetime] = utc_field()
    arrived_at: Optional[datetime] = utc_field()
    closed_at: Optional[datetime] = utc_field()
    disposition: Optional[str] = Field(default=None, max_length=30)
    crime_reference: Optional[str] = Field(default=None, max_length=40)
    appointment_start: Optional[datetime] = utc_field()
    appointment_end: Optional[datetime] = utc_field()
    diverted_count: int = 0

    # The arrival window as last shown (UTC); null when there is nothing honest to show.
    eta_earliest: Optional[datetime] = utc_field()
    eta_latest: Optional[datetime] = utc_field()
    eta_point: Optional[datetime] = utc_field()
    eta_computed_at: Optional[datetime] = utc_field()
    eta_basis: Optional[str] = Field(default=None, max_length=20)
    eta_callsign: Optional[str] = Field(default=None, max_length=20)

    # Victim link: only a hash of the token is stored; the token is re-derived with the server secret.
    link_nonce: str = Field(max_length=64)
    link_token_hash: str = Field(max_length=64, unique=True, index=True)
    link_expires_at: Optional[datetime] = utc_field()

    texts_sent: str = Field(default="", max_length=300)  # attendance text keys already queued, comma-separated
    notified_latest: Optional[datetime] = utc_field()  # the latest arrival time we have told the victim

    version: int = 0  # bumped on every change a person can see
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Assignment(SQLModel, table=True):
    """A resource sent to an incident. Several may be active; history is kept."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    callsign: str = Field(max_length=20, index=True)
    resource_type: str = Field(max_length=20)
    state: str = Field(default=ResourceState.ASSIGNED, max_length=20)  # a ResourceState
    active: bool = Field(default=True, index=True)
    assigned_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status_code: Optional[str] = Field(default=None, max_length=4)
    status_at: Optional[datetime] = utc_field()
    unassigned_at: Optional[datetime] = utc_field()
    unassign_reason: Optional[str] = Field(default=None, max_length=20)


class ResourceFix(SQLModel, table=True):
    """The newest known position of a resource (older fixes are ignored). Never sent to victims."""

    callsign: str = Field(primary_key=True, max_length=20)
    lat: float
    lon: float
    fix_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    speed_mps: Optional[float] = None
    heading: Optional[float] = None


class IncidentStep(SQLModel, table=True):
    """The attendance's lifecycle log; `public` steps are shown to the victim in plain English."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str = Field(max_length=30)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    public: bool = True
    text: str = Field(max_length=500)  # victim-facing text (no call sign, no position)
    staff_text: str = Field(default="", max_length=500)  # control-room detail
    # The facts that say the step in the victim's language (JSON of `rules.StepText.params`; "" for none).
    data: str = Field(default="", max_length=500)


class TextHold(SQLModel, table=True):
    """The control room holding an incident's automated texts (`rxapp/attendance/holds.py`): who, when, why
    (a code from `rxapp/domain/holds.py`), and who released it when. A hold stands while `released_at` is
    null; rows are kept after release, as the record."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    reason: str = Field(max_length=40)
    held_by: str = Field(max_length=80)  # the staff username
    held_by_name: str = Field(default="", max_length=80)
    held_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    released_by: Optional[str] = Field(default=None, max_length=80)
    released_by_name: Optional[str] = Field(default=None, max_length=80)
    released_at: Optional[datetime] = utc_field(index=True)


def stored_estimate(incident: Incident) -> Optional[EtaEstimate]:
    """The arrival window as last shown, or None when none is stored."""
    if incident.eta_point is None or incident.eta_earliest is None or incident.eta_latest is None:
        return None
    return EtaEstimate(earliest=incident.eta_earliest, latest=incident.eta_latest, point=incident.eta_point,
                       computed_at=incident.eta_computed_at or incident.updated_at,
                       basis=incident.eta_basis or "position", stale=incident.eta_basis == "stale_position")
