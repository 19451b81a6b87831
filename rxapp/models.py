"""Database tables (SQLModel). Every change to them is an Alembic migration in `alembic/versions/`.

Times are stored in UTC: `UTCDateTime` keeps them naive-UTC in the column (SQLite has no time zone type)
and hands back aware UTC datetimes, so no code ever compares naive with aware times.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator):
    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ts(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Victim(SQLModel, table=True):
    """The person a force keeps promises to. Contact details are personal data: never logged."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: Optional[str] = Field(default=None, max_length=200)
    phone: Optional[str] = Field(default=None, max_length=32)  # E.164
    email: Optional[str] = Field(default=None, max_length=320)
    sms_consent: bool = False
    language: str = Field(default="en", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # From the records system (NICHE) once a crime is recorded; null until then.
    person_id: Optional[str] = Field(default=None, max_length=64, index=True)
    date_of_birth: Optional[date] = None
    postal_address: Optional[str] = Field(default=None, max_length=500)
    preferred_channel: Optional[str] = Field(default=None, max_length=10)  # SMS, EMAIL, LETTER, PHONE
    contact_notes: Optional[str] = Field(default=None, max_length=1000)
    vulnerabilities: str = Field(default="", max_length=200)  # comma-separated contract codes
    intimidated: bool = False
    persistently_targeted: bool = False
    interpreter: bool = False
    accessibility: Optional[str] = Field(default=None, max_length=500)
    consent_updates: Optional[bool] = None
    consent_referral: Optional[bool] = None


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

    status: str = Field(default="logged", max_length=20, index=True)
    is_open: bool = Field(default=True, index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    first_assigned_at: Optional[datetime] = _ts()
    arrived_at: Optional[datetime] = _ts()
    closed_at: Optional[datetime] = _ts()
    disposition: Optional[str] = Field(default=None, max_length=30)
    crime_reference: Optional[str] = Field(default=None, max_length=40)
    appointment_start: Optional[datetime] = _ts()
    appointment_end: Optional[datetime] = _ts()
    diverted_count: int = 0

    # The arrival window as last shown (UTC); null when there is nothing honest to show.
    eta_earliest: Optional[datetime] = _ts()
    eta_latest: Optional[datetime] = _ts()
    eta_point: Optional[datetime] = _ts()
    eta_computed_at: Optional[datetime] = _ts()
    eta_basis: Optional[str] = Field(default=None, max_length=20)
    eta_callsign: Optional[str] = Field(default=None, max_length=20)

    # Victim link: only a hash of the token is stored; the token is re-derived with the server secret.
    link_nonce: str = Field(max_length=64)
    link_token_hash: str = Field(max_length=64, unique=True, index=True)
    link_expires_at: Optional[datetime] = _ts()

    texts_sent: str = Field(default="", max_length=300)  # attendance text keys already queued, comma-separated
    notified_latest: Optional[datetime] = _ts()  # the latest arrival time we have told the victim

    version: int = 0  # bumped on every change a person can see
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Assignment(SQLModel, table=True):
    """A resource sent to an incident. Several may be active; history is kept."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    callsign: str = Field(max_length=20, index=True)
    resource_type: str = Field(max_length=20)
    state: str = Field(default="assigned", max_length=20)  # assigned, en_route, at_scene, cleared, committed
    active: bool = Field(default=True, index=True)
    assigned_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status_code: Optional[str] = Field(default=None, max_length=4)
    status_at: Optional[datetime] = _ts()
    unassigned_at: Optional[datetime] = _ts()
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


class FeedCursor(SQLModel, table=True):
    """Resume point of a feed, written in the same transaction as the events it covers."""

    feed: str = Field(primary_key=True, max_length=40)
    last_seq: int = Field(default=0, sa_type=sa.BigInteger)
    cursor: Optional[str] = Field(default=None, max_length=200)  # an opaque cursor (the records feed)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ProcessedEvent(SQLModel, table=True):
    """Event ids already applied: a repeated id changes nothing."""

    event_id: str = Field(primary_key=True, max_length=100)
    feed: str = Field(max_length=40)
    seq: int = Field(sa_type=sa.BigInteger)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DeadLetter(SQLModel, table=True):
    """A frame the product could not apply, kept with its reason for administrators."""

    id: Optional[int] = Field(default=None, primary_key=True)
    feed: str = Field(max_length=40, index=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    seq: Optional[int] = Field(default=None, sa_type=sa.BigInteger, index=True)
    event_id: Optional[str] = Field(default=None, max_length=100)
    reason: str = Field(max_length=500)
    raw: str = Field(sa_type=sa.Text)


class StaffUser(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)  # fcr, officer, supervisor, admin
    active: bool = True
    failed_attempts: int = 0
    locked_until: Optional[datetime] = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class StaffSession(SQLModel, table=True):
    """Server-side staff session; the browser holds only a random token whose hash is stored here."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staffuser.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    revoked: bool = False


# ---- messaging (issue 3) ------------------------------------------------------------------------------

class VictimContactState(SQLModel, table=True):
    """What the victim has told us about contact, and what delivery has taught us. One row per victim."""

    victim_id: int = Field(primary_key=True, foreign_key="victim.id")
    opted_out_all: bool = False
    opted_out_sms: bool = False
    opted_out_email: bool = False
    opted_out_at: Optional[datetime] = _ts()
    safe_contact_confirmed: bool = False
    phone_failed_permanently: bool = False
    email_failed_permanently: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Message(SQLModel, table=True):
    __table_args__ = (
        # The networks' per-number limits are checked before every text: count by number and send time.
        sa.Index("ix_message_destination_sent_at", "destination", "sent_at"),
    )

    """The outbox: written in the same transaction as the change that causes it; the sender delivers it.

    `reference` is what the provider sees: random, with no personal data. Statuses: queued, held, sending
    (handed to the provider, answer not yet stored), sent, delivered, temporary-failure (will retry),
    permanent-failure, technical-failure, blocked (a safety rule stopped it), failed (gave up).
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True, index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    template: str = Field(max_length=60)
    kind: str = Field(max_length=20)  # attendance, routine, service
    channel: str = Field(max_length=10)  # sms, email
    language: str = Field(default="en", max_length=8)
    destination: str = Field(max_length=320)
    personalisation: str = Field(default="{}", sa_type=sa.Text)
    body: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default="queued", max_length=24, index=True)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    attempts: int = 0
    provider_id: Optional[str] = Field(default=None, max_length=64, index=True)
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    duty_id: Optional[int] = Field(default=None, foreign_key="duty.id", index=True)
    rule: Optional[str] = Field(default=None, max_length=40)
    reason: Optional[str] = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sending_since: Optional[datetime] = _ts()
    sent_at: Optional[datetime] = _ts()
    delivered_at: Optional[datetime] = _ts()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MessageEvent(SQLModel, table=True):
    """Everything that happened to a message, for the history staff read."""

    id: Optional[int] = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    status: str = Field(max_length=24)
    detail: str = Field(default="", max_length=500)


class Task(SQLModel, table=True):
    """Work for a person: what automation must not or cannot do."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    message_id: Optional[int] = Field(default=None, foreign_key="message.id")
    kind: str = Field(max_length=40)  # contact_victim, reply_received, delivery_failed, ...
    title: str = Field(max_length=200)
    detail: str = Field(default="", max_length=1000)
    status: str = Field(default="open", max_length=20, index=True)
    due_at: Optional[datetime] = _ts(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    completed_at: Optional[datetime] = _ts()
    outcome: Optional[str] = Field(default=None, max_length=300)
    # The investigation journey (issue 4): whose task it is, the duty it discharges, escalation.
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    duty_id: Optional[int] = Field(default=None, foreign_key="duty.id", index=True)
    assignee: Optional[str] = Field(default=None, max_length=40, index=True)  # officer's collar number
    # When the sweep must escalate it: its due time while open and not yet escalated, else null.
    escalate_at: Optional[datetime] = _ts(index=True)
    escalated_at: Optional[datetime] = _ts()
    escalated_to: Optional[str] = Field(default=None, max_length=120)
    how_told: Optional[str] = Field(default=None, max_length=20)  # phone, letter, in_person, sms, email, ...
    completed_by: Optional[str] = Field(default=None, max_length=80)


class InboundText(SQLModel, table=True):
    """A text a victim sent us. Never dropped: a STOP opts out, anything else becomes a task for a person."""

    id: Optional[int] = Field(default=None, primary_key=True)
    provider_id: str = Field(max_length=64, unique=True, index=True)
    source_number: str = Field(max_length=32)
    body: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    handled_as: str = Field(default="reply", max_length=20)
    task_id: Optional[int] = Field(default=None, foreign_key="task.id")


# ---- the investigation journey (issue 4) ---------------------------------------------------------------

class Occurrence(SQLModel, table=True):
    """A crime recorded in the records system (NICHE), and the victim the force owes updates to."""

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_number: str = Field(max_length=40, unique=True, index=True)
    crime_reference: Optional[str] = Field(default=None, max_length=40)
    classification_code: str = Field(default="", max_length=20)
    classification_text: str = Field(default="", max_length=200)
    reported_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    recorded_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    incident_urn: Optional[str] = Field(default=None, max_length=64)  # the STORM incident it came from
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    flags: str = Field(default="", max_length=300)  # comma-separated contract flags
    oic_collar: Optional[str] = Field(default=None, max_length=40, index=True)
    oic_name: Optional[str] = Field(default=None, max_length=200)
    oic_email: Optional[str] = Field(default=None, max_length=320)
    oic_team: Optional[str] = Field(default=None, max_length=200)
    enhanced: bool = False
    enhanced_reasons: str = Field(default="", max_length=1000)  # "; "-separated plain English
    status: str = Field(default="open", max_length=20, index=True)  # open, finalised
    result: Optional[str] = Field(default=None, max_length=200)
    finalised_at: Optional[datetime] = _ts()
    last_update_at: Optional[datetime] = _ts()  # when the victim was last sent any update about it
    # How often the victim and the officer agreed routine updates should come; null: the Code's default.
    routine_every_days: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Duty(SQLModel, table=True):
    """Something the Code says the victim must be told (or given), by when, and how it was met.

    state: due (automation is on it), handed (a task for a person), done, cancelled (no longer owed).
    `late` is set once the deadline passed before it was done. `check_at` is when the deadline sweep must
    look at it next (null when it never needs to): the sweep reads only rows whose check_at has come, by
    index, so its cost follows the work due, not the number of open cases.
    """

    __table_args__ = (sa.UniqueConstraint("occurrence_id", "key", name="uq_duty_occurrence_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id")
    key: str = Field(max_length=120)  # e.g. written_confirmation, support_referral, routine:2, event:<change>
    milestone: str = Field(max_length=60)  # the rules file's milestone (or "routine_update")
    right: int
    title: str = Field(max_length=300)
    triggered_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    state: str = Field(default="due", max_length=20, index=True)
    late: bool = False
    done_at: Optional[datetime] = _ts()
    done_how: Optional[str] = Field(default=None, max_length=200)
    # The message or task that met it (plain ids: message and task already point back at their duty).
    message_id: Optional[int] = None
    task_id: Optional[int] = None
    template: Optional[str] = Field(default=None, max_length=60)
    personalisation: str = Field(default="{}", sa_type=sa.Text)
    check_at: Optional[datetime] = _ts(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class OccurrenceEvent(SQLModel, table=True):
    """The case's timeline: what happened, in words for the victim (`text`) and for staff (`staff_text`).
    Rows with `public` false are for staff only (an escalation, a reason not to be shown)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    kind: str = Field(max_length=40)
    public: bool = True
    text: str = Field(default="", max_length=500)
    staff_text: str = Field(default="", max_length=1000)
    change_id: Optional[str] = Field(default=None, max_length=100)
