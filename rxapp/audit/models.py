"""The audit log: every look at a victim's details and every change to a case, by whom and when. It records
what was looked at or done (the case, the action), never the personal data itself. Append-only from the
product's side: rows are only ever added, and removed only by the retention job.
Every change to it is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor: str = Field(max_length=80, index=True)  # the staff username (or "records system", "victim")
    actor_role: str = Field(default="", max_length=20)
    action: str = Field(max_length=40, index=True)  # e.g. view_case, refused_case, complete_task
    outcome: str = Field(default="allowed", max_length=20)  # allowed, refused
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    team: Optional[str] = Field(default=None, max_length=200, index=True)  # the case's team, for supervisors
    detail: str = Field(default="", max_length=300)  # what, in words with no personal data
