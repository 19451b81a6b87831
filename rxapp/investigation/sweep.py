"""The deadline sweep: reads only duties and tasks whose `check_at` / `escalate_at` has come, by index, so
its cost follows the work due, not the number of open cases. Routine updates fall due, unmet deadlines
become late with a task, and tasks not done by their deadline are escalated to the supervisor."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.domain import journey as rules
from rxapp.domain.statuses import DutyState, OccurrenceStatus, TaskStatus
from rxapp.investigation.duties import add_to_timeline, case_victim, recheck_at, stuck, waiting_message
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
from rxapp.investigation.telling import CaseContact
from rxapp.plumbing.db import session_scope
from rxapp.supervision.notices import notify_escalation
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

SWEEP_BATCH = 200

SWEEP_BUDGET_SECONDS = 1.2


@dataclass
class SweepResult:
    routine_queued: int = 0
    released: int = 0  # held milestones (dated in the future when they came) told as their date came
    became_late: int = 0
    escalated: int = 0
    checked: int = 0
    more: bool = False  # stopped at its time budget with more due: the next pass carries on
    tasks: list[int] = field(default_factory=list)


class DeadlineSweep(CaseContact):
    def __init__(self, rules_code, db_url: Optional[str] = None) -> None:
        super().__init__(rules_code)
        self.db_url = db_url

    def sweep(self, now: datetime, batch: int = SWEEP_BATCH,
              budget_seconds: Optional[float] = SWEEP_BUDGET_SECONDS) -> SweepResult:
        """One pass over what has fallen due. Touches only rows whose check time has come (an index range),
        at most `batch` of each kind per transaction. A pass stops starting new batches once it has run for
        `budget_seconds`, so one pass never holds the runner (or SQLite's writer lock) for long: a backlog
        (after the runner was down) drains over the next passes, oldest first. `result.more` says so."""
        result = SweepResult()
        deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
        while True:
            with session_scope(self.db_url) as session:
                tasks = session.exec(select(Task).where(Task.escalate_at <= now)
                                     .order_by(Task.escalate_at).limit(batch)).all()
                held = _preload(session, Occurrence, {t.occurrence_id for t in tasks})  # kept while working
                with session.no_autoflush:  # one flush of the batch's updates, not one per row read
                    for task in tasks:
                        self._escalate(session, task, now, result)
                duties = session.exec(select(Duty).where(Duty.check_at <= now)
                                      .order_by(Duty.check_at).limit(batch)).all()
                # The batch's cases, victims and contact states in four queries, not four per duty.
                held += (_preload(session, Occurrence, {d.occurrence_id for d in duties})
                         + _preload(session, CaseVictim, {d.occurrence_id for d in duties}, CaseVictim.occurrence_id)
                         + _preload(session, Victim, {d.victim_id for d in duties})
                         + _preload(session, VictimContactState, {d.victim_id for d in duties},
                                    VictimContactState.victim_id))
                with session.no_autoflush:  # one flush of the batch's updates, not one per row read
                    for duty in duties:
                        if deadline is not None and result.checked and time.monotonic() >= deadline:
                            # Every pass makes progress; the rest keep their check time for the next pass.
                            result.more = True
                            break
                        self._check_duty(session, duty, now, result)
                        result.checked += 1
                held.clear()
            if result.more:
                return result
            if len(duties) < batch and len(tasks) < batch:
                return result
            if deadline is not None and time.monotonic() >= deadline:
                result.more = True
                return result

    def _check_duty(self, session: Session, duty: Duty, now: datetime, result: SweepResult) -> None:
        duty.updated_at = now
        occurrence = session.get(Occurrence, duty.occurrence_id)
        if duty.state in (DutyState.DONE, DutyState.CANCELLED):
            duty.check_at = None
            return
        if duty.held_until is not None and duty.state == DutyState.DUE:
            # A milestone dated in the future when it came: its date has come, so it is told now, through the
            # normal path (its deadline counts from that date).
            victim = case_victim(session, duty.occurrence_id, duty.victim_id)
            if now < duty.held_until:
                duty.check_at = duty.held_until
            elif victim is None:
                duty.state, duty.held_until, duty.check_at = DutyState.CANCELLED, None, None
            else:
                self.release_held(session, occurrence, victim, duty, now)
                result.released += 1
            return
        if (duty.milestone == rules.ROUTINE and duty.state == DutyState.DUE and duty.message_id is None
                and now < duty.due_at):
            # The heartbeat falls due. A person's update is handed over two days ahead, so they have time
            # to make the call or write the letter; an automated one goes on its day at the send time.
            victim = case_victim(session, duty.occurrence_id, duty.victim_id)
            duty.check_at = duty.due_at
            if victim is None or occurrence.status != OccurrenceStatus.OPEN:
                duty.state, duty.check_at = DutyState.CANCELLED, None
                return
            send_at = rules.routine_send_at(self.code, duty.due_at, now, victim.id)
            if now < send_at and self.plan(session, occurrence, victim, None).automated:
                duty.check_at = send_at
                return
            next_due = self.code.routine_update_due(occurrence.reported_at, now, victim.enhanced, self.calendar,
                                                    victim.routine_every_days)
            self.tell(session, occurrence, victim, None, duty.template or self.code.routine_updates.template, duty,
                      now, extra={"next_update": rules.day_words(next_due)})
            result.routine_queued += 1
            return
        if now >= duty.due_at:
            duty.check_at = None
            if not duty.late:  # once: a duty looked at again after its deadline (its message failed) is not
                duty.late = True  # counted or written on the timeline twice
                result.became_late += 1
                add_to_timeline(session, occurrence, now, "duty_late", "", f"Code deadline missed: {duty.title}",
                                None, public=False)
            victim = case_victim(session, duty.occurrence_id, duty.victim_id)
            if duty.state == DutyState.DUE and victim is not None:
                waiting = waiting_message(session, duty)
                if waiting is not None and not stuck(waiting, now):
                    # Its message is still to go (held for quiet hours, retrying): the outbox tells the victim,
                    # so no task says the same. Late all the same. Should it fail for good, the duty is owed
                    # again (`duties.message_outcome`) and comes back here; if it never goes, it is stuck.
                    duty.check_at = recheck_at(waiting)
                    return
                # Automation did not manage it in time (nothing queued, or a message stuck): a person takes it
                # over at once, due by the deadline just missed, so it escalates straight away; the task says
                # why automation may not tell this victim (safe contact, say). A stuck message is withdrawn
                # as the task opens (`duties.task_opened`).
                milestone = self.code.milestones.get(duty.milestone)  # none for a routine update
                plan = self.plan(session, occurrence, victim, milestone)
                task = self.hand_to_person(session, occurrence, duty, f"Overdue: {duty.title}",
                                           self.task_words(session, victim, plan, milestone, overdue=True), now)
                result.tasks.append(task.id)
            return
        duty.check_at = duty.due_at

    def _escalate(self, session: Session, task: Task, now: datetime, result: SweepResult) -> None:
        task.escalate_at = None
        if task.status != TaskStatus.OPEN:
            return
        occurrence = session.get(Occurrence, task.occurrence_id) if task.occurrence_id else None
        team = occurrence.oic_team if occurrence and occurrence.oic_team else "the team"
        task.escalated_at, task.escalated_to = now, f"Supervisor, {team}"[:120]
        result.escalated += 1
        if occurrence is not None:
            add_to_timeline(session, occurrence, now, "task_escalated", "",
                      f"Task '{task.title}' not done by its deadline: escalated to the supervisor ({team})",
                      None, public=False)
            notify_escalation(session, task, occurrence, now)  # the supervisors hear of it, not only the label


def _preload(session: Session, model, ids: set, column=None) -> list:
    """Load rows by primary key in one query, so that `session.get` finds them in the session. The caller
    keeps the returned list while it works: the session holds unchanged rows only weakly."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return []
    column = column if column is not None else model.id
    return list(session.exec(select(model).where(column.in_(sorted(ids)))).all())
