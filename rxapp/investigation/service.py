"""The investigation journey service: the records feed (NICHE) in, the Victims' Code duties out.

`JourneyService` is the `RecordsSink` of `integrations/niche/poller.py`. A page of changes goes through the
one feed-ingest path (`rxapp/feeds/ingest.py`): one transaction with its cursor, a repeated `change_id`
changes nothing, bad changes become dead letters while the rest of the page applies. What each change does
to a case is `records.py`; how the victim is told, `telling.py`; the duties kept in step with messages and
tasks, `duties.py`; the deadline sweep, `sweep.py`. People completing tasks and agreeing how often to hear
are here: each takes the acting member of staff, refuses what `rxapp/staff/permissions.py` does not allow on
that case exactly as if the task or case did not exist, and writes the attempt, allowed or refused, to the
audit log.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlmodel import select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain import journey as rules
from rxapp.domain.code_rules import VictimsCode
from rxapp.domain.records import BadChange, InvestigationEvent, RecordsChange
from rxapp.domain.statuses import DutyState, HowTold, TaskStatus
from rxapp.feeds.ingest import NOT_APPLIED, FeedBatch, IngestCounts, digest_of
from rxapp.feeds.models import FeedCursor
from rxapp.investigation.duties import (
    TASK_OUTCOMES,
    add_to_timeline,
    case_victim,
    case_victims,
    code,
    mark_done,
    reschedule_routine,
    told,
    withdraw_messages,
)
from rxapp.investigation.models import Duty, Occurrence
from rxapp.investigation.records import RecordsApplier, change_summary, check_record_task
from rxapp.investigation.sweep import (
    SWEEP_BATCH,
    SWEEP_BUDGET_SECONDS,
    DeadlineSweep,
    SweepResult,
)
from rxapp.investigation.views import case_facts, occurrence_by_number
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Actor, Permission, may
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task

FEED = "niche"
MIN_EVERY_DAYS, MAX_EVERY_DAYS = 1, 90  # an agreed routine-update frequency
ApplyResult = IngestCounts
# The one answer to a task or case that is not there or not the actor's: the two are never told apart.
NO_SUCH_TASK, NO_SUCH_CASE = "no such task", "no such case"


def _name(actor: Actor) -> str:
    """How the person is named on the case's record (their display name, else their username)."""
    return (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "unknown")[:80]


class JourneyService:
    """The records feed's sink, and the journey's actions on the database."""

    def __init__(self, db_url: Optional[str] = None, *, rules_code: Optional[VictimsCode] = None,
                 now=utcnow) -> None:
        self.db_url = db_url
        self.code = rules_code or code()
        self.calendar = self.code.calendar()
        self._now = now
        self.future_tolerance = timedelta(minutes=settings().niche_future_tolerance_minutes)
        self.records = RecordsApplier(self.code, self.future_tolerance)
        self.deadlines = DeadlineSweep(self.code, db_url)

    # ---- RecordsSink -------------------------------------------------------------------------------

    async def cursor(self) -> Optional[str]:
        return await asyncio.to_thread(self.stored_cursor)

    async def apply(self, items: Sequence[RecordsChange | BadChange], next_cursor: str) -> None:
        await asyncio.to_thread(self.apply_page, items, next_cursor)

    def stored_cursor(self) -> Optional[str]:
        with session_scope(self.db_url, readonly=True) as session:
            row = session.get(FeedCursor, FEED)
            return row.cursor if row else None

    def apply_page(self, items: Sequence[RecordsChange | BadChange], next_cursor: Optional[str]) -> IngestCounts:
        now = self._now()
        with session_scope(self.db_url) as session:
            batch = FeedBatch(session, FEED, now, numbered=False, key_prefix=f"{FEED}:")
            counts = batch.counts
            for item in items:
                if isinstance(item, BadChange):
                    batch.dead_letter(item.raw, item.reason, event_id=item.change_id)
                    continue
                digest = digest_of(item)
                if batch.repeat(item.change_id, digest, lambda item=item: change_summary(item)):
                    continue
                if (rules.dated_in_future(item.occurred_at, now, self.future_tolerance)
                        and not isinstance(item.payload, InvestigationEvent)):
                    self._hold_future(session, batch, item, digest, now)
                    continue
                applied = batch.apply(item.change_id, None, lambda item=item: self.records.apply(session, item, now),
                                      lambda item=item: change_summary(item), digest)
                if applied is not NOT_APPLIED:
                    counts.applied += applied
                    counts.ignored += not applied
            if next_cursor is not None:
                row = batch.resume_point()
                row.cursor, row.updated_at = next_cursor, now
        return counts

    def _hold_future(self, session, batch: FeedBatch, change: RecordsChange, digest: str, now: datetime) -> None:
        """A change to the case itself (not an investigation event, which `records.py` holds on the case)
        dated later than now (beyond the clocks' tolerance) cannot have happened yet: nobody is told of it.
        It is dead-lettered for administrators, remembered (a replay changes nothing), and the officer in
        charge is asked to check the record, whose correction will arrive as a new change."""
        batch.dead_letter(change_summary(change), f"dated in the future ({rules.when_words(change.occurred_at)}), "
                          "beyond the tolerance: held for the officer in charge", event_id=change.change_id)
        batch.remember(change.change_id, None, digest)
        occurrence = session.exec(select(Occurrence).where(
            Occurrence.occurrence_number == change.occurrence_number)).first()
        if occurrence is None:
            return
        check_record_task(session, occurrence, change, self.calendar, now)

    # ---- the deadline sweep ------------------------------------------------------------------------

    def sweep(self, now: Optional[datetime] = None, batch: int = SWEEP_BATCH,
              budget_seconds: Optional[float] = SWEEP_BUDGET_SECONDS) -> SweepResult:
        """One pass of the deadline sweep (`sweep.py`)."""
        return self.deadlines.sweep(now or self._now(), batch, budget_seconds)

    # ---- people completing tasks -------------------------------------------------------------------

    def complete_task(self, actor: Actor, task_id: int, *, how_told: str, note: str = "",
                      on_case: Optional[str] = None, now: Optional[datetime] = None) -> Task:
        """`actor` finished a task, saying how the victim was told; the duty it carried is then done (and
        counts for compliance) unless the victim could not be reached. `on_case`: the occurrence number the
        task must belong to (the page's case). A task that does not exist, is on another case, or is on a
        case `actor` may not record contact on: LookupError("no such task"), the attempt in the audit log."""
        now = now or self._now()
        if how_told not in TASK_OUTCOMES:
            raise ValueError("how the victim was told must be one of " + ", ".join(TASK_OUTCOMES))
        by = _name(actor)
        refused = False
        with session_scope(self.db_url) as session:
            task = session.get(Task, task_id)
            # Looked up even for no task (by an id no row has): a refusal and a missing task cost the same.
            occurrence = session.get(Occurrence, task.occurrence_id if task and task.occurrence_id else -1)
            facts = case_facts(session, occurrence)
            if occurrence is None or (on_case is not None and occurrence.occurrence_number != on_case) \
                    or not may(actor, Permission.RECORD_CONTACT, facts):
                record(session, actor, AuditAction.COMPLETE_TASK, AuditOutcome.REFUSED, at=now,
                       occurrence_id=occurrence.id if occurrence else None,
                       team=occurrence.oic_team if occurrence else None, detail=f"task {int(task_id)}")
                refused = True
            else:
                self._complete(session, actor, task, occurrence, how_told, by, note, now)
        if refused:
            raise LookupError(NO_SUCH_TASK)
        return task

    def _complete(self, session, actor: Actor, task: Task, occurrence: Occurrence, how_told: str, by: str,
                  note: str, now: datetime) -> None:
        if task.status != TaskStatus.OPEN:
            raise ValueError("this task is already closed")
        record(session, actor, AuditAction.COMPLETE_TASK, AuditOutcome.ALLOWED, at=now, occurrence_id=occurrence.id,
               incident_id=task.incident_id, team=occurrence.oic_team, detail=f"task {task.id}: {how_told}")
        task.status, task.completed_at, task.completed_by = TaskStatus.DONE, now, by[:80]
        task.how_told, task.outcome, task.escalate_at = how_told, (note or TASK_OUTCOMES[how_told])[:300], None
        duty = session.get(Duty, task.duty_id) if task.duty_id else None
        if duty is not None and duty.state != DutyState.DONE:
            occurrence = session.get(Occurrence, duty.occurrence_id)
            if how_told == HowTold.NOT_REACHED:
                # Still owed, and still a person's: a fresh task, due by the Code's deadline (or within
                # a working day if that has passed), escalating like any other.
                follow_up_due = duty.due_at if duty.due_at > now else self.calendar.add_working_days(now, 1)
                open_task(session, kind=task.kind, title=f"Try again: {task.title}"[:200],
                          detail=f"Not reached on {rules.when_words(now)} by {by}. {task.detail}",
                          victim_id=task.victim_id, incident_id=task.incident_id, due_at=follow_up_due,
                          occurrence_id=task.occurrence_id, duty_id=duty.id)
                add_to_timeline(session, occurrence, now, "not_reached", "",
                                f"{duty.title}: the victim could not be reached ({by})", None, public=False)
            else:
                mark_done(duty, now, f"{TASK_OUTCOMES[how_told]}, by {by}"[:200])
                withdraw_messages(session, duty, now, f"Not needed: {TASK_OUTCOMES[how_told]}, recorded by {by}")
                add_to_timeline(session, occurrence, now, "told_by_person", "",
                                f"{duty.title}: {TASK_OUTCOMES[how_told]}, by {by}", None, public=False)
                victim = case_victim(session, duty.occurrence_id, duty.victim_id)
                if how_told != HowTold.DECLINED and duty.key != "written_confirmation" and victim is not None:
                    told(session, self.code, occurrence, victim, now, how_told, now)

    def agree_update_frequency(self, actor: Actor, occurrence_number: str, every_days: Optional[int], *,
                               victim_id: Optional[int] = None, now: Optional[datetime] = None) -> Occurrence:
        """A victim and `actor` agreed how often routine updates come (None: back to the Code's default).
        Their next routine update moves at once. `victim_id` says which victim of the case; it may be left out
        only when the case has one. A case that does not exist or that `actor` may not change:
        LookupError("no such case"), the attempt in the audit log."""
        now = now or self._now()
        if every_days is not None and not (MIN_EVERY_DAYS <= every_days <= MAX_EVERY_DAYS):
            raise ValueError(f"updates must be agreed every {MIN_EVERY_DAYS} to {MAX_EVERY_DAYS} days")
        by = _name(actor)
        with session_scope(self.db_url) as session:
            occurrence = occurrence_by_number(session, occurrence_number)
            facts = case_facts(session, occurrence)  # asked for a missing case too: the same work either way
            if occurrence is None or not may(actor, Permission.AGREE_FREQUENCY, facts):
                record(session, actor, AuditAction.AGREE_FREQUENCY, AuditOutcome.REFUSED, at=now,
                       occurrence_id=occurrence.id if occurrence else None,
                       team=occurrence.oic_team if occurrence else None, detail="routine update frequency")
                occurrence = None
            else:
                self._agree(session, actor, occurrence, every_days, by, victim_id, now)
        if occurrence is None:
            raise LookupError(NO_SUCH_CASE)
        return occurrence

    def _agree(self, session, actor: Actor, occurrence: Occurrence, every_days: Optional[int], by: str,
               victim_id: Optional[int], now: datetime) -> None:
        victims = case_victims(session, occurrence)
        if victim_id is not None:
            victims = [v for v in victims if v.victim_id == victim_id]
        if len(victims) != 1:
            raise LookupError("no such victim on this case" if victim_id is not None or not victims
                              else "this case has several victims: say which one agreed")
        victim = victims[0]
        victim.routine_every_days, victim.updated_at, occurrence.updated_at = every_days, now, now
        words = f"every {every_days} days" if every_days else "the Code's default"
        record(session, actor, AuditAction.AGREE_FREQUENCY, AuditOutcome.ALLOWED, at=now, occurrence_id=occurrence.id,
               incident_id=occurrence.incident_id, team=occurrence.oic_team,
               detail=f"routine updates for victim {victim.victim_id}: {words}")
        add_to_timeline(session, occurrence, now, "frequency_agreed", "",
                        f"Routine updates agreed with the victim: {words} (recorded by {by})", None, public=False)
        reschedule_routine(session, self.code, occurrence, victim, now)
