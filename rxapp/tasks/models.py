"""Work for a person: what automation must not or cannot do.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.domain.statuses import TaskStatus
from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class Task(SQLModel, table=True):
    """Work for a person: what automation must not or cannot do."""

    id: Optional[int] = Field(default=None, primary_key=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    message_id: Optional[int] = Field(default=None, foreign_key="message.id")
    kind: str = Field(max_length=40)  # a TaskKind: contact_victim, reply_received, delivery_failed, ...
    title: str = Field(max_length=200)
    detail: str = Field(default="", max_length=1000)
    status: str = Field(default=TaskStatus.OPEN, max_length=20, index=True)  # a TaskStatus
    due_at: Optional[datetime] = utc_field(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    completed_at: Optional[datetime] = utc_field()
    outcome: Optional[str] = Field(default=None, max_length=300)
    # The investigation journey (issue 4): whose task it is, the duty it discharges, escalation.
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    duty_id: Optional[int] = Field(default=None, foreign_key="duty.id", index=True)
    assignee: Optional[str] = Field(default=None, max_length=40, index=True)  # officer's collar number
    # When the sweep must escalate it: its due time while open and not yet escalated, else null.
    escalate_at: Optional[datetime] = utc_field(index=True)
    escalated_at: Optional[datetime] = utc_field()
    escalated_to: Optional[str] = Field(default=None, max_length=120)
    how_told: Optional[str] = Field(default=None, max_length=20)  # a HowTold: phone, letter, in_person, sms, ...
    completed_by: Optional[str] = Field(default=None, max_length=80)

