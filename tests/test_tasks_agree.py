"""Tasks and the outbox agree (issue 12): what the outbox will still send is not also a task for a person; a
task opened for a duty withdraws the message waiting for it; a message that meets a duty closes its task (or,
for the text closing a police visit, narrows the written confirmation task to what is still missing); and a
task carrying a duty is due when the duty's card says.

Against the real database, the real outbox sender and the local Notify server, with the journey's Clock.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.niche.protocol import parse_change
from rxapp.attendance.service import AttendanceService
from rxapp.domain import journey as rules
from rxapp.investigation.models import Duty, OccurrenceEvent
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail
from rxapp.messaging.models import Message, MessageEvent
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task

from .helpers import parsed, scenario_lines
from .test_journey_service import SAMPLE, Clock, _case, _sender, duties, end_of, texts_to

pytestmark = pytest.mark.asyncio
UTC = timezone.utc
CASE, PHONE = "26CL0090001", "+447700900555"
TEST_OFFICER = StaffIdentity(9, "pc.test", "PC 1234 Test Officer", "officer", collar_number="PC 1234",
                             team="Test Team")
RECORDED_TEXT = "We have recorded the crime you reported"


def duty_tasks(db_url, duty_id):
    with session_scope(db_url) as s:
        return list(s.exec(select(Task).where(Task.duty_id == duty_id).order_by(Task.id)))


def duty_messages(db_url, duty_id):
    with session_scope(db_url) as s:
        return list(s.exec(select(Message).where(Message.duty_id == duty_id).order_by(Message.id)))


def late_notes(db_url):
    with session_scope(db_url) as s:
        return [e.staff_text for e in s.exec(select(OccurrenceEvent).where(OccurrenceEvent.kind == "duty_late"))]


# ---- 1. a message still to go is not also a task --------------------------------------------------------

@pytest.mark.parametrize("then", ["sent at 08:00", "refused for good at 08:00"])
async def test_a_late_duty_whose_text_is_held_for_quiet_hours_gets_no_task(db_url, notify, then):
    """The crime was recorded on Monday 30 March; the product read it only at 21:30 on Tuesday 31 March, the
    written confirmation's deadline day. Its text is held for quiet hours until 08:00 Wednesday. The deadline
    passes at midnight: the duty is late (once), but no task says "tell the victim now" while the text waits.
    Sent at 08:00: done, late, never a task. Refused for good: owed again, and a person gets it then, due by
    the deadline the card shows."""
    clock = Clock(datetime(2026, 3, 31, 20, 30, tzinfo=UTC))  # 21:30 in London
    service = JourneyService(db_url, now=clock)
    service.apply_page(_case(), "t-2")
    sender = _sender(notify, db_url, clock)
    await sender.drain()
    written = duties(db_url, CASE)["written_confirmation"]
    assert written.due_at == end_of(2026, 3, 31)
    (message,) = duty_messages(db_url, written.id)
    assert message.status == "held" and message.due_at == datetime(2026, 4, 1, 7, 0, tzinfo=UTC)

    for at in (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), datetime(2026, 4, 1, 0, 30, tzinfo=UTC),
               datetime(2026, 4, 1, 6, 30, tzinfo=UTC)):
        clock.at = at
        service.sweep(at)
        written = duties(db_url, CASE)["written_confirmation"]
        assert written.late and written.state == "due"
        assert duty_tasks(db_url, written.id) == []
        assert [m.status for m in duty_messages(db_url, written.id)] == ["held"]
    assert [n for n in late_notes(db_url) if "Written confirmation" in n] == [
        "Code deadline missed: " + written.title]

    clock.at = datetime(2026, 4, 1, 7, 1, tzinfo=UTC)
    if then.startswith("refused"):
        notify.fail_next(5, 400)  # not retryable: the message fails for good
    await sender.drain()
    service.sweep(clock.at)
    written = duties(db_url, CASE)["written_confirmation"]
    tasks = duty_tasks(db_url, written.id)
    if then == "sent at 08:00":
        assert written.state == "done" and written.late and written.done_how.startswith("text")
        assert tasks == [] and any(RECORDED_TEXT in body for body in texts_to(notify, PHONE))
    else:
        assert written.state == "handed" and written.late
        (task,) = tasks
        assert task.status == "open" and task.kind == "delivery_failed"
        # Due by the Code's deadline, as the duty's card says (it was "an hour from now").
        assert task.due_at == written.due_at == end_of(2026, 3, 31)
    # Late once, however often the sweep looked at it again.
    assert len([n for n in late_notes(db_url) if "Written confirmation" in n]) == 1


# ---- 2. a task opened for a duty withdraws its waiting message ------------------------------------------

async def test_a_stuck_text_becomes_a_task_and_is_withdrawn_in_the_same_transaction(db_url, notify):
    """No sender ran: the written confirmation's text is still queued a day after its deadline. A person takes
    the duty over, and the queued text is cancelled with words staff can read, so the victim is not told
    twice when the sender comes back."""
    clock = Clock(datetime(2026, 3, 30, 10, 5, tzinfo=UTC))
    service = JourneyService(db_url, now=clock)
    service.apply_page(_case(), "t-2")
    written = duties(db_url, CASE)["written_confirmation"]
    clock.at = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
    service.sweep(clock.at)
    written = duties(db_url, CASE)["written_confirmation"]
    (task,) = duty_tasks(db_url, written.id)
    assert written.state == "handed" and task.status == "open" and task.title.startswith("Overdue: ")
    (message,) = duty_messages(db_url, written.id)
    assert message.status == "cancelled"
    assert message.reason == f"Not sent: a person tells the victim instead (task: {task.title})"
    with session_scope(db_url) as s:
        history = [(e.status, e.detail) for e in s.exec(select(MessageEvent).where(
            MessageEvent.message_id == message.id).order_by(MessageEvent.id))]
    assert history[-1] == ("cancelled", message.reason)
    await _sender(notify, db_url, clock).drain()
    assert not any(RECORDED_TEXT in body for body in texts_to(notify, PHONE))


async def test_any_task_opened_for_a_duty_withdraws_its_held_text(db_url, notify):
    """Whichever path opens the task (here the tasks service itself), a held text for the same duty goes no
    further; the duty is with the person."""
    clock = Clock(datetime(2026, 3, 31, 20, 30, tzinfo=UTC))
    service = JourneyService(db_url, now=clock)
    service.apply_page(_case(), "t-2")
    sender = _sender(notify, db_url, clock)
    await sender.drain()
    written = duties(db_url, CASE)["written_confirmation"]
    assert [m.status for m in duty_messages(db_url, written.id)] == ["held"]
    with session_scope(db_url) as s:
        duty = s.get(Duty, written.id)
        task = open_task(s, kind="tell_victim", title="Phone the victim", detail="They asked for a call.",
                         occurrence_id=duty.occurrence_id, duty_id=duty.id, victim_id=duty.victim_id)
        task_id = task.id
    (message,) = duty_messages(db_url, written.id)
    assert message.status == "cancelled" and "Phone the victim" in message.reason
    written = duties(db_url, CASE)["written_confirmation"]
    assert written.state == "handed" and written.task_id == task_id
    clock.at = datetime(2026, 4, 1, 7, 1, tzinfo=UTC)
    await sender.drain()
    assert not any(RECORDED_TEXT in body for body in texts_to(notify, PHONE))
    # A person then tells them: the duty is done by them, and nothing waits in the outbox for it.
    service.complete_task(TEST_OFFICER, task_id, how_told="phone", now=clock.at)
    assert duties(db_url, CASE)["written_confirmation"].state == "done"


# ---- 3. a message that did the job closes (or narrows) the task ------------------------------------------

async def test_an_update_sent_withdraws_the_waiting_nothing_new_text(db_url, notify):
    """The routine "nothing new yet" text was written and waits for its retry when an arrest is texted: the
    victim has just heard something, so the heartbeat is not sent as well; it starts again from the arrest."""
    clock = Clock(datetime(2026, 3, 30, 10, 5, tzinfo=UTC))
    service = JourneyService(db_url, now=clock)
    service.apply_page(_case(), "t-2")
    sender = _sender(notify, db_url, clock)
    await sender.drain()
    routine = next(d for k, d in duties(db_url, CASE).items() if k.startswith("routine:"))
    while duties(db_url, CASE)[routine.key].message_id is None:
        clock.at += timedelta(hours=1)
        assert clock.at < routine.due_at, "the routine update was never written"
        service.sweep(clock.at)
    notify.fail_next(1, 500)  # the provider fails it for now: it waits for its retry
    await sender.drain()
    (heartbeat,) = duty_messages(db_url, routine.id)
    assert heartbeat.status == "retry" and heartbeat.template == "routine_no_news"

    arrest = parse_change({"change_id": "t-9", "type": "investigation.event",
                           "occurred_at": (clock.at - timedelta(minutes=1)).isoformat(),
                           "occurrence_number": CASE, "event": "SUSPECT_ARRESTED", "detail": {}}, decoded=True)
    service.apply_page([arrest], "t-9")
    await sender.drain()
    assert duties(db_url, CASE)["event:t-9"].state == "done"
    (heartbeat,) = duty_messages(db_url, routine.id)
    assert heartbeat.status == "cancelled"
    assert heartbeat.reason.startswith("Not needed: the victim was given an update about the case, by text")
    routine = duties(db_url, CASE)[routine.key]
    assert routine.state == "due" and routine.message_id is None
    assert routine.due_at == end_of(*(clock.at + timedelta(days=28)).date().timetuple()[:3])
    clock.at += timedelta(minutes=30)
    await sender.drain()
    assert not any("nothing new" in body.lower() for body in texts_to(notify, PHONE))


BURGLARY, AMINA = "26CL0041877", "+447700900123"


def burglary_records(preferred_channel: str):
    """The sample burglary's record and its victim (the caller of attendance CLE-20261120-0142), who asked
    for `preferred_channel`."""
    raw = [c for c in json.loads(SAMPLE.read_text())["changes"] if c["occurrence_number"] == BURGLARY][:2]
    raw[1]["person"]["contact"]["preferred_channel"] = preferred_channel
    return [parse_change(c, decoded=True) for c in raw]


@pytest.mark.parametrize("order", ["text before the task", "task before the text"])
async def test_the_visit_closing_text_narrows_the_written_confirmation_task(db_url, notify, order):
    """The text closing the police visit gave Amina her crime reference. It is not the whole written
    confirmation (it does not say who the officer in charge is, nor what happens next), so the duty stays
    owed; but the officer phoning her is asked only for what is missing, not to give the reference again,
    whether the text went before the task was opened or after."""
    lines = scenario_lines("burglary-priority")
    closing = [line for line in lines if '"incident.closed"' in line]
    # The attendance texts are written on the wall clock; send them in the daytime after it.
    clock = Clock(datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1))
    attendance, service = AttendanceService(db_url), JourneyService(db_url, now=clock)
    sender = _sender(notify, db_url, clock)
    if order == "text before the task":
        attendance.apply_sync(parsed(lines))
        await sender.drain()
        service.apply_page(burglary_records("PHONE"), "c-0002")
    else:
        attendance.apply_sync(parsed([line for line in lines if line not in closing]))
        service.apply_page(burglary_records("PHONE"), "c-0002")
        written = duties(db_url, BURGLARY)["written_confirmation"]
        (task,) = duty_tasks(db_url, written.id)
        assert f"Tell the victim: {written.title}." in task.detail  # nothing told yet: all of it
        attendance.apply_sync(parsed(closing))
        await sender.drain()
    assert any("CL/26/041877" in body for body in texts_to(notify, AMINA))
    written = duties(db_url, BURGLARY)["written_confirmation"]
    (task,) = duty_tasks(db_url, written.id)
    assert written.state == "handed" and task.status == "open" and task.title == "Phone the victim"
    assert "The victim already has their crime reference" in task.detail
    assert rules.STILL_MISSING in task.detail and f"Tell the victim: {written.title}." not in task.detail
    assert "The victim asked to be told by phone." in task.detail  # the rest of the task's words stay


# ---- 4. a task is due when its duty's card says ----------------------------------------------------------

async def test_a_handed_duty_says_when_its_task_is_due(db_url, notify):
    """Every task opened for a duty is due by the duty's deadline, so the duty's card and the task say the
    same. The one exception is a fresh try after the victim could not be reached past the deadline (due
    within a working day): the duty's status then gives the task's time, and the deadline it missed."""
    clock = Clock(datetime(2026, 3, 30, 10, 5, tzinfo=UTC))
    service = JourneyService(db_url, now=clock)
    service.apply_page(_case(), "t-2")
    clock.at = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
    service.sweep(clock.at)  # the text never went: a person's task, due by the deadline already missed
    written = duties(db_url, CASE)["written_confirmation"]
    (task,) = duty_tasks(db_url, written.id)
    assert task.due_at == written.due_at == end_of(2026, 3, 31)
    status = rules.duty_status(state=written.state, due_at=written.due_at, done_at=None, done_how=None,
                               late=written.late, now=clock.at, assignee=task.assignee, task_due_at=task.due_at)
    assert status.detail == f"Task for PC 1234, due by {rules.when_words(task.due_at)}"

    service.complete_task(TEST_OFFICER, task.id, how_told="not_reached", now=clock.at)
    retry = [t for t in duty_tasks(db_url, written.id) if t.status == "open"][0]
    assert retry.due_at == end_of(2026, 4, 2)  # within a working day of trying
    written = duties(db_url, CASE)["written_confirmation"]
    status = rules.duty_status(state=written.state, due_at=written.due_at, done_at=None, done_how=None,
                               late=written.late, now=clock.at, assignee=retry.assignee, task_due_at=retry.due_at)
    assert status.label == "With a person (late)"
    assert status.detail == (f"Task for PC 1234, due by {rules.when_words(retry.due_at)} "
                             f"(the Code's deadline was {rules.when_words(written.due_at)})")
    with session_scope(db_url) as s:  # and the case page's duty card says it, as the task's card does
        page = case_detail(s, TEST_OFFICER, CASE, clock.at)
    row = next(r for r in page["duties"] if r["key"] == "written_confirmation")
    assert row["status_detail"] == status.detail
