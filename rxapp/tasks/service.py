"""Tasks: work for a person, where automation must not or cannot act. On a case a task goes to the officer
in charge and carries the Code duty it discharges (`rxapp/investigation/duties.py` keeps the two in step)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session

from rxapp.investigation.duties import task_opened
from rxapp.tasks.models import Task


def open_task(session: Session, *, kind: str, title: str, detail: str, incident_id: Optional[int] = None,
              victim_id: Optional[int] = None, message_id: Optional[int] = None, due_at: Optional[datetime] = None,
              occurrence_id: Optional[int] = None, duty_id: Optional[int] = None) -> Task:
    """A task for a person. On a case (an occurrence) it goes to the officer in charge, and a task not done
    by its deadline is escalated by the deadline sweep (`escalate_at`); the duty it carries is then handed
    to a person until the task is completed."""
    task = Task(kind=kind, title=title[:200], detail=detail[:1000], incident_id=incident_id, victim_id=victim_id,
                message_id=message_id, due_at=due_at, occurrence_id=occurrence_id, duty_id=duty_id,
                escalate_at=due_at if occurrence_id else None)
    session.add(task)
    session.flush()
    if occurrence_id:
        task_opened(session, task)
    return task
