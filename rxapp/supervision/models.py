"""The supervisor view's tables: notices to supervisors (an escalated task), and the reassignments made on the
team page (the records system stays the master of the officer in charge: these say what was changed here).
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class StaffNotice(SQLModel, table=True):
    """Something a supervisor must know: a task on one of their team's cases was not done by its deadline.

    One row per active supervisor account of the case's team, when the escalation happened. When the team had
    no such account then, one row for the team (`staff_user_id` empty): any supervisor of that team sees it,
    and the first to read it marks it read for the team. The words are made when the notice is shown, from the
    task and its case, so no victim's details are copied here."""

    id: Optional[int] = Field(default=None, primary_key=True)
    staff_user_id: Optional[int] = Field(default=None, foreign_key="staffuser.id", index=True)
    team: str = Field(default="", max_length=200, index=True)  # the case's team, normalised (permissions.py)
    kind: str = Field(default="task_escalated", max_length=40)
    task_id: Optional[int] = Field(default=None, foreign_key="task.id", index=True)
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    read_at: Optional[datetime] = utc_field(index=True)
    read_by: Optional[str] = Field(default=None, max_length=80)  # the username that read it


class Reassignment(SQLModel, table=True):
    """A task or a case given to another officer of the team from the team page."""

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    kind: str = Field(max_length=10)  # "task" or "case"
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    task_id: Optional[int] = Field(default=None, foreign_key="task.id")
    from_collar: str = Field(default="", max_length=40)
    to_collar: str = Field(max_length=40)
    team: str = Field(default="", max_length=200)  # the case's team as the records system spells it
    by_username: str = Field(max_length=80)
