"""The investigation journey service: the records feed (NICHE) in, the Victims' Code duties out.

`JourneyService` is the `RecordsSink` of `integrations/niche/poller.py`. A page of changes goes through the
one feed-ingest path (`rxapp/feeds/ingest.py`): one transaction with its cursor, a repeated `change_id`
changes nothing, bad changes become dead letters while the rest of the page applies. What each change does
to a case is `records.py`; how the victim is told, `telling.py`; the duties kept in step with messages and
tasks, `duties.py`; the deadline sweep, `sweep.py`. People completing tasks and agreeing how often to hear
are here.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlmodel import select

from rxapp.domain import journey as rules
from rxapp.domain.code_rules import VictimsCode
from rxapp.domain.records import BadChange, RecordsChange
from rxapp.domain.statuses import DutyState, HowTold, TaskKind, TaskStatus
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
)
from rxapp.investigation.models import Duty, Occurrence
from rxapp.investigation.records import RecordsApplier, change_summary
from rxapp.investigation.sweep import (
    SWEEP_BATCH,
    SWEEP_BUDGET_SECONDS,
    DeadlineSweep,
    SweepResult,
)
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task

FEED = "niche"
MIN_EVERY_DAYS, MAX_EVERY_DAYS = 1, 90  # an agreed routine-update frequency
ApplyResult = IngestCounts


class JourneyService:
    """The records feed's sink, and the journey's actions on the database."""

    def __init__(self, db_url: Optional[str] = None, *, rules_code: Optional[VictimsCode] = None,
                 now=utcnow) -> None:
        self.db_url = db_url
        self.code = rules_code or code()
        self.calendar = self.code.calendar()
        self._now = now
        self.records = RecordsApplier(self.code)
        self.future_tolerance = timedelta(minutes=settings().niche_future_tolerance_minutes)
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
                if item.occurred_at > now + self.future_tolerance:
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
        """A change dated later than now (beyond the clocks' tolerance) cannot have happened yet: nobody is
        told of it. It is dead-lettered for administrators, remembered (a replay changes nothing), and the
        officer in charge is asked to check the record, whose correction will arrive as a new change."""
        batch.dead_letter(change_summary(change), f"dated in the future ({rules.when_words(change.occurred_at)}), "
                          "beyond the tolerance: held for the officer in charge", event_id=change.change_id)
        batch.remember(change.change_id, None, digest)
        occurrence = session.exec(select(Occurrence).where(
            Occurrence.occurrence_number == change.occurrence_number)).first()
        if occurrence is None:
            return
        open_task(session, kind=TaskKind.CHECK_RECORD, title="Check the date of a record in the records system",
                  detail=(f"The records system sent a {change.type} change dated "
                          f"{rules.when_words(change.occurred_at)}, which is in the future. Nothing was told to the "
                          "victim. Check the date in the records system; the corrected record will be applied when "
                          "it arrives."),
                  incident_id=occurrence.incident_id, due_at=self.calendar.add_working_days(now, 1),
                  occurrence_id=occurrence.id)

    # ---- the deadline sweep ------------------------------------------------------------------------

    def sweep(self, now: Optional[datetime] = None, batch: int = SWEEP_BATCH,
              budget_seconds: Optional[float] = SWEEP_BUDGET_SECONDS) -> SweepResult:
        """One pass of the deadline sweep (`sweep.py`)."""
        return self.deadlines.sweep(now or self._now(), batch, budget_seconds)

    # ---- people completing tasks -------------------------------------------------------------------

    def complete_task(self, task_id: int, *, how_told: str, by: str, note: str = "",
                      now: Optional[datetime] = None) -> Task:
        """A person finished a task, saying how the victim was told; the duty it carried is then done (and
        counts for compliance) unless the victim could not be reached."""
        now = now or self._now()
        if how_told not in TASK_OUTCOMES:
            raise ValueError("how the victim was told must be one of " + ", ".join(TASK_OUTCOMES))
        with session_scope(self.db_url) as session:
            task = session.get(Task, task_id)
            if task is None:
                raise LookupError("no such task")
            if task.status != TaskStatus.OPEN:
                raise ValueError("this task is already closed")
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
                    add_to_timeline(session, occurrence, now, "told_by_person", "",
                              f"{duty.title}: {TASK_OUTCOMES[how_told]}, by {by}", None, public=False)
                    victim = case_victim(session, duty.occurrence_id, duty.victim_id)
                    if how_told != HowTold.DECLINED and duty.key != "written_confirmation" and victim is not None:
                        told(session, self.code, occurrence, victim, now, how_told, now)
            return task

    def agree_update_frequency(self, occurrence_number: str, every_days: Optional[int], *, by: str,
                               victim_id: Optional[int] = None, now: Optional[datetime] = None) -> Occurrence:
        """A victim and the officer agreed how often routine updates come (None: back to the Code's default).
        Their next routine update moves at once. `victim_id` says which victim of the case; it may be left out
        only when the case has one."""
        now = now or self._now()
        if every_days is not None and not (MIN_EVERY_DAYS <= every_days <= MAX_EVERY_DAYS):
            raise ValueError(f"updates must be agreed every {MIN_EVERY_DAYS} to {MAX_EVERY_DAYS} days")
        with session_scope(self.db_url) as session:
            occurrence = session.exec(select(Occurrence).where(
                Occurrence.occurrence_number == occurrence_number)).first()
            if occurrence is None:
                raise LookupError("no such case")
            victims = case_victims(session, occurrence)
            if victim_id is not None:
                victims = [v for v in victims if v.victim_id == victim_id]
            if len(victims) != 1:
                raise LookupError("no such victim on this case" if victim_id is not None or not victims
                                  else "this case has several victims: say which one agreed")
            victim = victims[0]
            victim.routine_every_days, victim.updated_at, occurrence.updated_at = every_days, now, now
            words = f"every {every_days} days" if every_days else "the Code's default"
            add_to_timeline(session, occurrence, now, "frequency_agreed", "",
                            f"Routine updates agreed with the victim: {words} (recorded by {by})", None, public=False)
            reschedule_routine(session, self.code, occurrence, victim, now)
            return occurrence
