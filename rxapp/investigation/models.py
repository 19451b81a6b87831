"""The investigation journey's tables: the recorded crime, the Code's duties to its victim, its timeline.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.domain.statuses import DutyState, OccurrenceStatus
from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class Occurrence(SQLModel, table=True):
    """A crime recorded in the records system (NICHE). Its victims, and what each is owed, are `CaseVictim`
    rows: a household burgled, two people assaulted, a family targeted by a hate crime."""

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_number: str = Field(max_length=40, unique=True, index=True)
    crime_reference: Optional[str] = Field(default=None, max_length=40)
    classification_code: str = Field(default="", max_length=20)
    classification_text: str = Field(default="", max_length=200)
    reported_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    recorded_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    incident_urn: Optional[str] = Field(default=None, max_length=64)  # the STORM incident it came from
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    flags: str = Field(default="", max_length=300)  # comma-separated contract flags
    oic_collar: Optional[str] = Field(default=None, max_length=40, index=True)
    oic_name: Optional[str] = Field(default=None, max_length=200)
    oic_email: Optional[str] = Field(default=None, max_length=320)
    oic_team: Optional[str] = Field(default=None, max_length=200)
    status: str = Field(default=OccurrenceStatus.OPEN, max_length=20, index=True)  # an OccurrenceStatus
    result: Optional[str] = Field(default=None, max_length=200)
    finalised_at: Optional[datetime] = utc_field()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# The officer inbox finds an officer's cases by collar number, spaces and case aside (rxapp/inbox; alembic 0014).
sa.Index("ix_occurrence_oic_collar_normalised", sa.func.upper(sa.func.replace(Occurrence.oic_collar, " ", "")))

class CaseVictim(SQLModel, table=True):
    """One victim of one recorded crime: a person may be the victim of several crimes, and a crime may have
    several victims. Each has their own entitlement under the Code (enhanced rights follow the person: their
    age at the offence, their vulnerabilities), their own duties, messages and tasks, and their own routine
    update rhythm."""

    __table_args__ = (sa.UniqueConstraint("occurrence_id", "victim_id", name="uq_casevictim_occurrence_victim"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    victim_id: int = Field(foreign_key="victim.id", index=True)
    enhanced: bool = False
    enhanced_reasons: str = Field(default="", max_length=1000)  # "; "-separated plain English
    last_update_at: Optional[datetime] = utc_field()  # when this victim was last sent any update about the case
    # How often this victim and the officer agreed routine updates should come; null: the Code's default.
    routine_every_days: Optional[int] = None
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Duty(SQLModel, table=True):
    """Something the Code says the victim must be told (or given), by when, and how it was met.

    state (a DutyState): due (automation is on it), handed (a task for a person), done, cancelled (no longer
    owed).
    `late` is set once the deadline passed before it was done. `check_at` is when the deadline sweep must
    look at it next (null when it never needs to): the sweep reads only rows whose check_at has come, by
    index, so its cost follows the work due, not the number of open cases.
    """

    __table_args__ = (sa.UniqueConstraint("occurrence_id", "victim_id", "key", name="uq_duty_victim_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    victim_id: int = Field(foreign_key="victim.id", index=True)  # whose duty: each victim is owed their own
    key: str = Field(max_length=120)  # e.g. written_confirmation, support_referral, routine:2, event:<change>
    milestone: str = Field(max_length=60)  # the rules file's milestone (or "routine_update")
    right: int
    title: str = Field(max_length=300)
    triggered_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    state: str = Field(default=DutyState.DUE, max_length=20, index=True)  # a DutyState
    late: bool = False
    done_at: Optional[datetime] = utc_field()
    done_how: Optional[str] = Field(default=None, max_length=200)
    # The message or task that met it (plain ids: message and task already point back at their duty).
    message_id: Optional[int] = None
    task_id: Optional[int] = None
    template: Optional[str] = Field(default=None, max_length=60)
    personalisation: str = Field(default="{}", sa_type=sa.Text)
    check_at: Optional[datetime] = utc_field(index=True)
    # A milestone dated in the future when the records system sent it: nobody is told before this (the
    # event's own date); the deadline sweep tells the victim then, unless a corrected record came first.
    held_until: Optional[datetime] = utc_field()
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

