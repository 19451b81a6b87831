"""The Code's duties to each victim of a case, kept in step with the messages and tasks that meet them.

A duty follows what happens to its message (sent: done; failed: owed again, or taken over by a task) and
to its task (completed: done, with how the victim was told). The routine "nothing new yet" heartbeat is
rescheduled each time the victim hears something. Nothing here sends or opens anything itself, so the
outbox and the tasks can call in without depending on the journey's service.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional

from sqlmodel import Session, select

from rxapp.domain import journey as rules
from rxapp.domain.code_rules import VictimsCode, load_code
from rxapp.domain.contact import Channel
from rxapp.domain.statuses import (
    DutyState,
    HowTold,
    MessageStatus,
    OccurrenceStatus,
    TaskStatus,
)
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.messaging.models import Message, MessageEvent
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.tasks.models import Task

# How a person may say they told the victim when they complete a task, in words for the record.
TASK_OUTCOMES = {
    HowTold.PHONE: "by phone", HowTold.IN_PERSON: "in person", HowTold.LETTER: "by letter", HowTold.SMS: "by text",
    HowTold.EMAIL: "by email", HowTold.PORTAL: "through the victim's portal", HowTold.DECLINED: "victim declined",
    HowTold.NOT_REACHED: "could not be reached",
}
# A message that met a duty: how it went, in the words of `Duty.done_how`.
_MESSAGE_WORDS = {Channel.SMS: "text", Channel.EMAIL: "email"}
# A message carrying a duty ended in one of these: the duty is owed again.
_MESSAGE_DID_NOT_GO = (MessageStatus.FAILED, MessageStatus.PERMANENT_FAILURE, MessageStatus.TECHNICAL_FAILURE,
                       MessageStatus.CANCELLED)
# A message for a duty still to go: while one is, the outbox will tell the victim and no task duplicates it.
WAITING_TO_GO = (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.RETRY, MessageStatus.SENDING)
# Those of them that can still be stopped (one being handed to the provider cannot: its answer decides).
WITHDRAWABLE = (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.RETRY)
# A waiting message this long past the time it should have gone is stuck (no sender running, say): a person
# takes the duty over, and the message is withdrawn.
STUCK_AFTER = timedelta(hours=1)


@lru_cache(maxsize=1)
def code() -> VictimsCode:
    """The Victims' Code in force: the rules file named by VJ_CODE_RULES, or the bundled 2020 Code."""

    path = settings().code_rules_path
    return load_code(path) if path else load_code()


def message_outcome(session: Session, message: Message, status: str) -> None:
    """A message carrying a duty changed status (called from `messaging.log_event`)."""
    duty = session.get(Duty, message.duty_id)
    if duty is None:
        return
    now = message.updated_at or utcnow()
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED):
        how = _MESSAGE_WORDS.get(message.channel, message.channel)
        how = f"{how} {'delivered' if status == MessageStatus.DELIVERED else 'sent'}"
        if duty.state == DutyState.DONE and duty.message_id == message.id:
            if status == MessageStatus.DELIVERED:
                duty.done_how, duty.updated_at = how, now
            return
        first = duty.state != DutyState.DONE
        duty.message_id = message.id
        mark_done(duty, message.sent_at or now, how)
        if first:
            close_open_tasks(session, duty, now, message.channel, f"Told by {how} after all.")
            occurrence = session.get(Occurrence, duty.occurrence_id)
            victim = case_victim(session, duty.occurrence_id, duty.victim_id)
            if duty.key != "written_confirmation" and victim is not None:
                # The first update is about the investigation itself; any later one restarts the heartbeat.
                told(session, code(), occurrence, victim, duty.done_at, message.channel, now)
    elif status in _MESSAGE_DID_NOT_GO and duty.message_id == message.id:
        if duty.state == DutyState.DONE:
            duty.state, duty.done_at, duty.done_how = DutyState.DUE, None, None
        duty.check_at = duty.due_at if duty.due_at > now else now
        duty.updated_at = now


def crime_reference_sent(session: Session, message: Message) -> None:
    """The text closing a police visit, with the crime reference, went (called from `messaging.log_event`).
    It meets the victim's written confirmation only in part (`journey.CRIME_REFERENCE_TEXT` says why): an
    open task for it is narrowed to what is still missing, so the victim is not given the reference again."""
    if message.incident_id is None or message.victim_id is None:
        return
    sent_at = message.sent_at or message.updated_at or utcnow()
    label = code().milestone(rules.WRITTEN_CONFIRMATION).label
    for occurrence in session.exec(select(Occurrence).where(Occurrence.incident_id == message.incident_id)):
        duty = duty_for(session, occurrence, message.victim_id, rules.WRITTEN_CONFIRMATION)
        if duty is None or duty.state not in (DutyState.DUE, DutyState.HANDED):
            continue
        for task in session.exec(select(Task).where(Task.duty_id == duty.id, Task.status == TaskStatus.OPEN)):
            task.detail = rules.narrowed_task_detail(task.detail, label, sent_at)[:1000]


def crime_reference_sent_at(session: Session, occurrence: Occurrence, victim_id: int) -> Optional[datetime]:
    """When the text closing the police visit this crime came from gave this victim the crime reference."""
    if occurrence.incident_id is None:
        return None
    return session.exec(select(Message.sent_at).where(
        Message.incident_id == occurrence.incident_id, Message.victim_id == victim_id,
        Message.template == rules.CRIME_REFERENCE_TEXT,
        Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED))).order_by(Message.id)).first()


def waiting_message(session: Session, duty: Duty) -> Optional[Message]:
    """The duty's message still waiting in the outbox (queued, held, retrying or being sent), if any."""
    return session.exec(select(Message).where(Message.duty_id == duty.id, Message.status.in_(WAITING_TO_GO))
                        .order_by(Message.id)).first()


def stuck(message: Message, now: datetime) -> bool:
    """Whether a waiting message is long past the time the sender should have settled it."""
    expected = (message.sending_since or message.updated_at) if message.status == MessageStatus.SENDING \
        else message.due_at
    return now > expected + STUCK_AFTER


def recheck_at(message: Message) -> datetime:
    """When to look again at a late duty whose message is waiting: once it should have gone, if it has not."""
    expected = (message.sending_since or message.updated_at) if message.status == MessageStatus.SENDING \
        else message.due_at
    return expected + STUCK_AFTER + timedelta(seconds=1)


def withdraw_messages(session: Session, duty: Duty, now: datetime, reason: str) -> int:
    """Cancel the duty's messages still waiting to go, with `reason` for staff: someone else tells the victim
    (a person's task), or they were already told. Written to the history as `messaging.log_event` would, but
    without the "did not go: owed again" step, since the caller has just decided who meets the duty."""
    withdrawn = 0
    for message in session.exec(select(Message).where(Message.duty_id == duty.id,
                                                      Message.status.in_(WITHDRAWABLE))):
        message.status, message.reason, message.updated_at = MessageStatus.CANCELLED, reason[:300], now
        session.add(MessageEvent(message_id=message.id, status=MessageStatus.CANCELLED, detail=reason[:500],
                                 at=now))
        withdrawn += 1
    return withdrawn


def task_opened(session: Session, task: Task) -> None:
    """A task was opened on a case (called from `tasks.open_task`): it goes to the officer in charge, and a
    duty it carries is now with a person, due by the duty's deadline unless the caller said when. A message
    for that duty still waiting in the outbox is withdrawn in the same transaction: the person tells the
    victim instead, not as well."""
    occurrence = session.get(Occurrence, task.occurrence_id)
    if occurrence is not None and task.assignee is None:
        task.assignee = occurrence.oic_collar
    if task.duty_id:
        duty = session.get(Duty, task.duty_id)
        if duty is not None and task.due_at is None:
            task.due_at = task.escalate_at = duty.due_at
        if duty is not None and duty.state != DutyState.DONE:
            now = utcnow()
            # The sweep still marks it late at its deadline (the task escalates on its own clock).
            duty.state, duty.task_id = DutyState.HANDED, task.id
            duty.check_at = None if duty.late else duty.due_at
            duty.updated_at = now
            withdraw_messages(session, duty, now, f"Not sent: a person tells the victim instead (task: {task.title})")


def told(session: Session, rules_code: VictimsCode, occurrence: Occurrence, victim: CaseVictim, at: datetime,
         how_told: str, now: datetime) -> None:
    """The victim heard something about the case at `at` (`how_told`: a HowTold, or the channel of the message
    that told them). That is the update a routine duty owed them when one is already with a person or late:
    it is met by this one and its task closes. A routine update still to come restarts its clock from then."""
    victim.last_update_at = max(victim.last_update_at or at, at)
    victim.updated_at = now
    words = TASK_OUTCOMES.get(how_told, how_told)
    not_needed = f"Not needed: the victim was given an update about the case, {words}, on {rules.when_words(at)}"
    for duty in open_routine_duties(session, occurrence, victim):
        if duty.state == DutyState.HANDED or duty.late:
            mark_done(duty, at, f"an update about the case, {words}")
            close_open_tasks(session, duty, now, how_told, f"The victim was given an update about the case, {words}.")
            withdraw_messages(session, duty, now, not_needed)
        elif duty.message_id is not None and withdraw_messages(session, duty, now, not_needed):
            # Its "nothing new yet" text was still waiting: not sent now that they heard something; the
            # heartbeat starts again from this update (`reschedule_routine` below).
            duty.message_id = None
    if occurrence.status == OccurrenceStatus.OPEN:
        schedule_next_routine(session, rules_code, occurrence, victim, at, now)  # none if one is still to come
    reschedule_routine(session, rules_code, occurrence, victim, at)


def open_routine_duties(session: Session, occurrence: Occurrence, victim: CaseVictim) -> list[Duty]:
    return list(session.exec(select(Duty).where(
        Duty.occurrence_id == occurrence.id, Duty.victim_id == victim.victim_id, Duty.milestone == rules.ROUTINE,
        Duty.state.in_((DutyState.DUE, DutyState.HANDED)))))


def reschedule_routine(session: Session, rules_code: VictimsCode, occurrence: Occurrence, victim: CaseVictim,
                       at: datetime) -> None:
    """Move the victim's routine update still to come to what their last update and agreed frequency say."""
    for duty in session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id,
                                                Duty.victim_id == victim.victim_id,
                                                Duty.milestone == rules.ROUTINE, Duty.state == DutyState.DUE,
                                                Duty.late == False,  # noqa: E712
                                                Duty.message_id == None)):  # noqa: E711
        duty.due_at = rules_code.routine_update_due(occurrence.reported_at, victim.last_update_at,
                                                    victim.enhanced, rules_code.calendar(),
                                                    victim.routine_every_days)
        duty.check_at = routine_first_check(rules_code, duty.due_at, at, victim.id)
        duty.updated_at = at


def routine_first_check(rules_code: VictimsCode, due_at: datetime, now: datetime, spread_key: int) -> datetime:
    """When the sweep first looks at a routine update: two days before its send time (a person's update
    is handed over then; an automated one is put back to its send time)."""
    return max(now, rules.routine_send_at(rules_code, due_at, now, spread_key) - timedelta(days=2))


def schedule_routine(session: Session, rules_code: VictimsCode, occurrence: Occurrence, victim: CaseVictim,
                     number: int, last_update_at: Optional[datetime], now: datetime) -> Duty:
    due = rules_code.routine_update_due(occurrence.reported_at, last_update_at, victim.enhanced,
                                        rules_code.calendar(), victim.routine_every_days)
    duty = Duty(occurrence_id=occurrence.id, victim_id=victim.victim_id, key=f"routine:{number}",
                milestone=rules.ROUTINE, right=6,
                title="Routine update (nothing new yet)" if number > 1 else "First update on the investigation",
                triggered_at=last_update_at or occurrence.reported_at, due_at=due,
                template=rules_code.routine_updates.template,
                check_at=routine_first_check(rules_code, due, now, victim.id), created_at=now, updated_at=now)
    session.add(duty)
    session.flush()
    return duty


def schedule_next_routine(session: Session, rules_code: VictimsCode, occurrence: Occurrence, victim: CaseVictim,
                          last_update_at: datetime, now: datetime) -> Optional[Duty]:
    """The victim's next routine update after one was met, unless one is already owed."""
    if open_routine_duties(session, occurrence, victim):
        return None
    numbers = [int(key.split(":")[1]) for key in session.exec(select(Duty.key).where(
        Duty.occurrence_id == occurrence.id, Duty.victim_id == victim.victim_id, Duty.milestone == rules.ROUTINE))
        if key.startswith("routine:")]
    return schedule_routine(session, rules_code, occurrence, victim, max(numbers, default=0) + 1, last_update_at,
                            now)


def case_victims(session: Session, occurrence: Occurrence) -> list[CaseVictim]:
    return list(session.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occurrence.id)
                             .order_by(CaseVictim.id)))


def case_victim(session: Session, occurrence_id: int, victim_id: Optional[int]) -> Optional[CaseVictim]:
    if victim_id is None:
        return None
    return session.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occurrence_id,
                                                 CaseVictim.victim_id == victim_id)).first()


def case_flags(occurrence: Occurrence) -> list[str]:
    return [f for f in occurrence.flags.split(",") if f]


def duty_for(session: Session, occurrence: Occurrence, victim_id: int, key: str) -> Optional[Duty]:
    return session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id, Duty.victim_id == victim_id,
                                           Duty.key == key)).first()


def open_task_for(session: Session, duty: Duty) -> Optional[Task]:
    return session.exec(select(Task).where(Task.duty_id == duty.id, Task.status == TaskStatus.OPEN)).first()


def mark_done(duty: Duty, at: datetime, how: str, *, fact: bool = False) -> None:
    """Met at `at`, the moment of the fact (a message sent, a consent recorded), which decides lateness.
    `fact`: met by a fact in the records system, which says alone whether it was late (the sweep may have
    marked it late before the product read a fact dated earlier); a victim's "no" is never late."""
    duty.state, duty.done_at, duty.done_how, duty.check_at = DutyState.DONE, at, how[:200], None
    duty.held_until = None
    if fact:
        duty.late = rules.met_late(at, duty.due_at, rules.referral_declined(how))
    else:
        duty.late = duty.late or at > duty.due_at
    duty.updated_at = at


def close_open_tasks(session: Session, duty: Duty, now: datetime, how: Optional[str], outcome: str) -> None:
    for task in session.exec(select(Task).where(Task.duty_id == duty.id, Task.status == TaskStatus.OPEN)):
        task.status = TaskStatus.DONE if how else TaskStatus.CANCELLED
        task.completed_at, task.escalate_at = now, None
        task.how_told, task.outcome, task.completed_by = how, outcome[:300], "records system" if how else None


def add_to_timeline(session: Session, occurrence: Occurrence, at: datetime, kind: str, text: str, staff_text: str,
                    change_id: Optional[str], public: bool = True) -> None:
    session.add(OccurrenceEvent(occurrence_id=occurrence.id, at=at, kind=kind[:40], public=public and bool(text),
                                text=text[:500], staff_text=staff_text[:1000], change_id=change_id))
