"""The team page's actions, as plain functions that open their own transaction (the page's state calls them
through `asyncio.to_thread`): the page itself (its notices are then read), a task given to another officer of
the team, and a case given to another officer of the team.

Each action takes the signed-in member of staff and decides on the task or case itself: `reassign_work` reaches
only the cases of the supervisor's own team(s) (`rxapp/staff/permissions.py`). A task or case that does not
exist, or is not the supervisor's team's, is refused with the same `TeamRefusal("not_allowed")` after the same
queries, and the attempt is in the audit log; so is every reassignment made, and every one refused because the
officer named is not of the case's team (`TeamRefusal("not_in_team")`, told in words).

A case changes officer in charge through the records system's own path (`rxapp/investigation/records.py`,
`RecordsApplier.apply` with an `oic.changed` change made here): its open tasks follow with a note of whose
they were, its conversations with the victims follow (they go with the case), its timeline says so and its
victims are told a new officer is in charge, exactly as when NICHE changes it. NICHE stays the master of the
officer in charge: the page says the change must be made there too, and NICHE's next change of officer in
charge is applied as always, even when it names the officer the case was taken from (the case, with its open
tasks, goes back to them); the team page then shows that NICHE named someone else since (`views._reassigned`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain.journey import when_words
from rxapp.domain.records import Oic, OicChanged, RecordsChange
from rxapp.domain.statuses import TaskStatus
from rxapp.investigation.duties import add_to_timeline, code
from rxapp.investigation.models import Occurrence
from rxapp.investigation.records import RecordsApplier
from rxapp.investigation.views import case_facts, occurrence_by_number
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor, Permission, may, normalise_collar
from rxapp.supervision import notices, views
from rxapp.supervision.models import Reassignment
from rxapp.tasks.models import Task

__all__ = ["load_team", "unread_notices", "reassign_task", "reassign_case", "TeamRefusal"]


class TeamRefusal(Exception):
    """Why a reassignment was refused: `key` (not_allowed, no_officer, not_in_team, same_officer, closed) and
    words."""

    def __init__(self, key: str, words: str = "") -> None:
        super().__init__(key)
        self.key, self.words = key, words


def _name(actor: Actor) -> str:
    return (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "a supervisor")[:80]


def _task_id(value: object) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else -1


def load_team(actor: Actor, officer: str = "", now: Optional[datetime] = None, db_url: Optional[str] = None) -> dict:
    """The team page for `actor` (views.team_page); the notices it shows are marked read."""
    with session_scope(db_url) as session:
        return views.team_page(session, actor, now or utcnow(), str(officer or "")[:40])


def unread_notices(actor: Actor, db_url: Optional[str] = None) -> int:
    """How many notices `actor` has not read yet (the staff navigation shows it to supervisors)."""
    with session_scope(db_url, readonly=True) as session:
        return notices.unread_count(session, actor)


def _target(session: Session, occurrence: Occurrence, to_officer: object) -> views.Officer:
    """The officer named, if they are an officer of the team that holds the case."""
    key = normalise_collar(str(to_officer or "")[:40])
    if not key:
        raise TeamRefusal("no_officer", "Choose the officer to give it to.")
    officer = views.officers_of_case_team(session, occurrence).get(key)
    if officer is None:
        team = (occurrence.oic_team or "").strip() or "the case's team"
        raise TeamRefusal("not_in_team", f"{key} is not an officer of {team}, the team that holds "
                                         f"this case: it can be given only to an officer of that team.")
    return officer


def reassign_task(actor: Actor, task_id: object, to_officer: object, now: Optional[datetime] = None,
                  db_url: Optional[str] = None) -> str:
    """Give an open task on one of the supervisor's team's cases to another officer of that team. Returns the
    words to show; raises TeamRefusal."""
    now = now or utcnow()
    wanted = _task_id(task_id)
    refusal: Optional[TeamRefusal] = None
    with session_scope(db_url) as session:
        task = session.get(Task, wanted) if wanted > 0 else None
        # Looked up even for no task (an id no row has): a refusal and a missing task cost the same queries.
        occurrence = session.get(Occurrence, task.occurrence_id if task and task.occurrence_id else -1)
        facts = case_facts(session, occurrence)
        audit = dict(occurrence_id=occurrence.id if occurrence else None,
                     team=occurrence.oic_team if occurrence else None, at=now)
        if occurrence is None or not may(actor, Permission.REASSIGN_WORK, facts):
            record(session, actor, AuditAction.REASSIGN_TASK, AuditOutcome.REFUSED, **audit,
                   detail=f"task {wanted if wanted > 0 else 'unknown'}: not a task of this account's team")
            refusal = TeamRefusal("not_allowed")
        else:
            try:
                words = _give_task(session, actor, task, occurrence, to_officer, now)
            except TeamRefusal as exc:
                record(session, actor, AuditAction.REASSIGN_TASK, AuditOutcome.REFUSED, **audit,
                       detail=f"task {task.id}: {exc.key.replace('_', ' ')}")
                refusal = exc
    if refusal is not None:
        raise refusal
    return words


def _give_task(session: Session, actor: Actor, task: Task, occurrence: Occurrence, to_officer: object,
               now: datetime) -> str:
    if task.status != TaskStatus.OPEN:
        raise TeamRefusal("closed", "That task is already closed, so there is nothing to give to anyone.")
    officer = _target(session, occurrence, to_officer)
    before = (task.assignee or "").strip()
    if normalise_collar(before) == officer.key:
        raise TeamRefusal("same_officer", f"That task is already with {officer.label}.")
    task.assignee = officer.collar[:40]
    note = f"Given to {officer.collar} by {_name(actor)} (supervisor) on {when_words(now)}."
    task.detail = f"{note} {task.detail}"[:1000] if task.detail else note
    session.add(Reassignment(at=now, kind="task", occurrence_id=occurrence.id, task_id=task.id, from_collar=before,
                             to_collar=officer.collar[:40], team=(occurrence.oic_team or "")[:200],
                             by_username=(getattr(actor, "username", "") or "")[:80]))
    add_to_timeline(session, occurrence, now, "task_reassigned", "",
                    f"Task '{task.title}' given to {officer.collar} (was {before or 'no one'}) by {_name(actor)}",
                    None, public=False)
    record(session, actor, AuditAction.REASSIGN_TASK, AuditOutcome.ALLOWED, occurrence_id=occurrence.id,
           incident_id=task.incident_id, team=occurrence.oic_team, at=now,
           detail=f"task {task.id}: from {before or 'no one'} to {officer.collar}"[:300])
    return f"'{task.title}' is now with {officer.label}."


def reassign_case(actor: Actor, occurrence_number: object, to_officer: object, now: Optional[datetime] = None,
                  db_url: Optional[str] = None) -> str:
    """Make another officer of the team officer in charge of one of the supervisor's team's cases (its open tasks
    and conversations follow). Returns the words to show; raises TeamRefusal."""
    now = now or utcnow()
    number = str(occurrence_number or "").strip()[:40]
    refusal: Optional[TeamRefusal] = None
    with session_scope(db_url) as session:
        occurrence = occurrence_by_number(session, number) if number else None
        facts = case_facts(session, occurrence)  # asked for a missing case too: the same work either way
        audit = dict(occurrence_id=occurrence.id if occurrence else None,
                     team=occurrence.oic_team if occurrence else None, at=now)
        if occurrence is None or occurrence.status != "open" or not may(actor, Permission.REASSIGN_WORK, facts):
            record(session, actor, AuditAction.REASSIGN_CASE, AuditOutcome.REFUSED, **audit,
                   detail="not an open case of this account's team")
            refusal = TeamRefusal("not_allowed")
        else:
            try:
                words = _give_case(session, actor, occurrence, to_officer, now)
            except TeamRefusal as exc:
                record(session, actor, AuditAction.REASSIGN_CASE, AuditOutcome.REFUSED, **audit,
                       detail=exc.key.replace("_", " "))
                refusal = exc
    if refusal is not None:
        raise refusal
    return words


def _give_case(session: Session, actor: Actor, occurrence: Occurrence, to_officer: object, now: datetime) -> str:
    officer = _target(session, occurrence, to_officer)
    before = (occurrence.oic_collar or "").strip()
    if normalise_collar(before) == officer.key:
        raise TeamRefusal("same_officer", f"That case is already with {officer.label}.")
    row = Reassignment(at=now, kind="case", occurrence_id=occurrence.id, from_collar=before,
                       to_collar=officer.collar[:40], team=(occurrence.oic_team or "")[:200],
                       by_username=(getattr(actor, "username", "") or "")[:80])
    session.add(row)
    session.flush()
    # The records system's own change of officer in charge, applied the way a change from NICHE is.
    change_id = f"{views.TEAM_MARKER}{row.id}"
    oic = Oic(collar_number=officer.collar[:40], name=officer.name or None, email=officer.email,
              team=occurrence.oic_team)
    change = RecordsChange(change_id=change_id, type="oic.changed", occurred_at=now,
                           occurrence_number=occurrence.occurrence_number,
                           payload=OicChanged(occurrence_number=occurrence.occurrence_number, oic=oic))
    RecordsApplier(code()).apply(session, change, now)
    add_to_timeline(session, occurrence, now, "case_reassigned", "",
                    f"Given to {officer.collar} by {_name(actor)} (supervisor) on the team page; the change must "
                    f"be made in NICHE too", None, public=False)
    record(session, actor, AuditAction.REASSIGN_CASE, AuditOutcome.ALLOWED, occurrence_id=occurrence.id,
           incident_id=occurrence.incident_id, team=occurrence.oic_team, at=now,
           detail=f"officer in charge from {before or 'no one'} to {officer.collar}"[:300])
    return (f"Case {occurrence.crime_reference or occurrence.occurrence_number} is now with {officer.label}, with its "
            f"open tasks and conversations. Make the same change in NICHE: NICHE is the master of the officer in "
            f"charge, and its next change of officer in charge will be applied as it says.")
