"""Notices to supervisors: a task on their team's case was not done by its deadline.

`notify_escalation` is called by the deadline sweep when it escalates a task (`rxapp/investigation/sweep.py`,
`DeadlineSweep._escalate`), inside the sweep's transaction: one notice for each active supervisor account of
the case's team (an account's team field may name several teams, spelt any way: `permissions.teams_of`). When
the team has no such account, the escalation must still reach whoever supervises it next: one notice is kept
for the team itself, shown to every supervisor of that team (today's, or one whose account is made or given the
team later), and marked read for the team by the first who sees it; the log says so (no personal data), so the
administrators can see a team is without a supervisor account. Administrators are not sent the notice: they
read no case. A task on no case has no team, and no notice: the board shows those to the control room.

A notice holds ids only; its words are made when it is shown (`views.py`), from the task and the case as they
are then, and only for a supervisor who may read that case.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlalchemy import or_
from sqlmodel import Session, func, select

from rxapp.domain.statuses import StaffRole
from rxapp.investigation.models import Occurrence
from rxapp.staff.models import StaffUser
from rxapp.staff.permissions import Actor, normalise_team, teams_of
from rxapp.supervision.models import StaffNotice
from rxapp.tasks.models import Task

log = logging.getLogger(__name__)
ESCALATED = "task_escalated"


def supervisors_of(session: Session, team: Optional[str]) -> list[StaffUser]:
    """The active supervisor accounts whose team field names `team` (spelling and spacing aside)."""
    wanted = normalise_team(team)
    if not wanted:
        return []
    accounts = session.exec(select(StaffUser).where(StaffUser.role == str(StaffRole.SUPERVISOR),
                                                    StaffUser.active == True))  # noqa: E712
    return [a for a in accounts if wanted in teams_of(a)]


def notify_escalation(session: Session, task: Task, occurrence: Optional[Occurrence],
                      now: datetime) -> list[StaffNotice]:
    """Tell the supervisors of the case's team that `task` has just been escalated (once per escalation: a
    second call for the same escalation adds nothing). Returns the notices made."""
    if occurrence is None or task.id is None:
        return []
    team = normalise_team(occurrence.oic_team)
    if not team:
        log.warning("an escalated task's case names no team: no supervisor could be told (task %s)", task.id)
        return []
    at = task.escalated_at or now
    already = session.exec(select(func.count()).select_from(StaffNotice).where(
        StaffNotice.task_id == task.id, StaffNotice.kind == ESCALATED, StaffNotice.created_at == at)).one()
    if already:
        return []
    supervisors = supervisors_of(session, occurrence.oic_team)
    if not supervisors:
        log.warning("no active supervisor account holds the team of an escalated task (task %s): the notice waits "
                    "for the team's next supervisor", task.id)
    notices = [StaffNotice(staff_user_id=s.id, team=team, kind=ESCALATED, task_id=task.id,
                           occurrence_id=occurrence.id, created_at=at) for s in supervisors] or \
              [StaffNotice(staff_user_id=None, team=team, kind=ESCALATED, task_id=task.id,
                           occurrence_id=occurrence.id, created_at=at)]
    session.add_all(notices)
    return notices


def _for_actor(actor: Actor):
    """The notices that are `actor`'s: their own, and their teams' notices that had no supervisor to go to."""
    mine = StaffNotice.staff_user_id == actor.user_id
    teams = sorted(teams_of(actor))
    if not teams:
        return mine
    return or_(mine, (StaffNotice.staff_user_id.is_(None)) & (StaffNotice.team.in_(teams)))


def unread_count(session: Session, actor: Actor) -> int:
    """How many of `actor`'s notices are unread (0 for anyone but a supervisor)."""
    if getattr(actor, "role", "") != StaffRole.SUPERVISOR or not getattr(actor, "user_id", None):
        return 0
    return session.exec(select(func.count()).select_from(StaffNotice).where(
        _for_actor(actor), StaffNotice.read_at.is_(None))).one()


def notices_for(session: Session, actor: Actor, limit: int = 50) -> list[StaffNotice]:
    """`actor`'s notices, unread first, then newest first."""
    if getattr(actor, "role", "") != StaffRole.SUPERVISOR or not getattr(actor, "user_id", None):
        return []
    return list(session.exec(select(StaffNotice).where(_for_actor(actor))
                             .order_by(StaffNotice.read_at.is_not(None), StaffNotice.created_at.desc(),
                                       StaffNotice.id.desc()).limit(limit)))


def mark_read(session: Session, actor: Actor, notices: list[StaffNotice], now: datetime) -> int:
    """The notices `actor` has just been shown are read (a team's notice, for the whole team)."""
    count = 0
    for notice in notices:
        if notice.read_at is None:
            notice.read_at, notice.read_by = now, (getattr(actor, "username", "") or "")[:80]
            count += 1
    return count
