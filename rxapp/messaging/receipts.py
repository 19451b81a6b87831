"""Delivery receipts, and what happens after a permanent failure: the victim's next channel, or a person."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain.contact import Channel
from rxapp.domain.notifications import DeliveryReceipt
from rxapp.domain.statuses import MessageNote, MessageStatus, TaskKind
from rxapp.investigation.models import Duty
from rxapp.messaging.bundles import rows_sent_together
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import carries_secret, enqueue, log_event, templates
from rxapp.plumbing.columns import utcnow
from rxapp.tasks.service import open_task
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim

# Where a message stands once a receipt cannot change it, except to say it was delivered after all.
RECEIPT_CANNOT_UNDO = (MessageStatus.DELIVERED, MessageStatus.PERMANENT_FAILURE, MessageStatus.BLOCKED,
                       MessageStatus.FAILED)


def record_receipt(session: Session, receipt: DeliveryReceipt, now: Optional[datetime] = None,
                   retry_after: timedelta = timedelta(minutes=2), max_attempts: int = 5) -> Message:
    """A delivery receipt: delivered, or a failure to retry with backoff, or a final failure that falls back
    to the victim's next channel (or a task). A late or repeated receipt never undoes a final state. A receipt
    for a message that carried several updates (`bundles.py`) applies to every one of them."""
    now = now or utcnow()
    status, reference, provider_id = receipt.status, receipt.reference, receipt.provider_id
    message = None
    if isinstance(reference, str):
        message = session.exec(select(Message).where(Message.reference == reference)).first()
    if message is None and isinstance(provider_id, str):
        message = session.exec(select(Message).where(Message.provider_id == provider_id)).first()
    if message is None:
        raise LookupError("no message with that reference")
    rows = rows_sent_together(session, message)
    for row in rows:
        _apply_receipt(session, row, status, now, retry_after, max_attempts)
    return message


def _apply_receipt(session: Session, message: Message, status: str, now: datetime, retry_after: timedelta,
                   max_attempts: int) -> Message:
    if message.status in RECEIPT_CANNOT_UNDO and status != MessageStatus.DELIVERED:
        return message  # a late or repeated receipt does not undo a final state
    message.updated_at = now
    log_event(session, message, status, "delivery receipt")
    if status == MessageStatus.DELIVERED:
        message.status, message.delivered_at = MessageStatus.DELIVERED, now
    elif (status in (MessageStatus.TEMPORARY_FAILURE, MessageStatus.TECHNICAL_FAILURE)
          and message.attempts < max_attempts):
        # The phone was off or the network busy: try again later with a fresh provider attempt.
        message.status = MessageStatus.RETRY
        message.due_at = now + retry_after * (2 ** max(0, message.attempts - 1))
        message.reason = f"{status} reported by the provider; retrying"
    else:
        message.status = status if status != MessageStatus.TEMPORARY_FAILURE else MessageStatus.FAILED
        message.reason = f"{status} reported by the provider"
        fall_back(session, message, now)
    return message


def fall_back(session: Session, message: Message, now: datetime) -> None:
    """After a permanent failure: mark the destination, try the victim's next channel, else a task."""
    victim = session.get(Victim, message.victim_id) if message.victim_id else None
    if victim is None:
        return
    state = contact_state(session, victim.id)
    if message.channel == Channel.SMS:
        state.phone_failed_permanently = True
    else:
        state.email_failed_permanently = True
    state.updated_at = now
    _another_way_or_a_task(session, message, victim, now, ..., "could not be delivered")


def send_another_way(session: Session, message: Message, now: datetime, offered: frozenset[str],
                     why: str) -> None:
    """A message that cannot go on its channel (no provider for it any more): cancelled with `why`, and sent
    on another channel the victim can be reached on, else a task for a person. The destination is not marked
    as failed: nothing is wrong with it."""
    message.status, message.reason, message.updated_at = MessageStatus.CANCELLED, why[:300], now
    log_event(session, message, MessageStatus.CANCELLED, why)
    victim = session.get(Victim, message.victim_id) if message.victim_id else None
    if victim is not None:
        _another_way_or_a_task(session, message, victim, now, offered - {message.channel}, "could not be sent")


def _another_way_or_a_task(session: Session, message: Message, victim: Victim, now: datetime, offered,
                           what_happened: str) -> None:
    if carries_secret(message.template):
        return  # a sign-in code goes only where it was asked to go; the victim can ask for another
    incident = session.get(Incident, message.incident_id) if message.incident_id else None
    personalisation = json.loads(message.personalisation or "{}")
    replacement = None
    if templates()[message.template].has_email_version or message.channel == Channel.EMAIL:
        replacement = enqueue(session, victim=victim, template=message.template, kind=message.kind,
                              personalisation=personalisation, incident=incident, now=now, offered=offered,
                              occurrence_id=message.occurrence_id, duty_id=message.duty_id,
                              task_if_no_channel=False)  # one task, below, not one for each way tried
    if replacement is not None and replacement.channel != message.channel:
        log_event(session, message, MessageNote.FALLBACK,
                  f"sent again by {replacement.channel} ({replacement.reference})")
        return
    if replacement is not None:
        replacement.status = MessageStatus.CANCELLED
        replacement.reason = "same channel failed permanently"
    task = open_task(session, kind=TaskKind.DELIVERY_FAILED, title="Message could not be delivered",
                     detail=(f"The {message.channel} message '{message.template}' {what_happened} and "
                             "there is no other channel. Contact the victim another way (phone call or letter) "
                             "and record how they were told."),
                     incident_id=message.incident_id, victim_id=message.victim_id, message_id=message.id,
                     due_at=task_due(session, message, now), occurrence_id=message.occurrence_id,
                     duty_id=message.duty_id)
    log_event(session, message, MessageNote.TASK, f"task {task.id} for a person")


def task_due(session: Session, message: Message, now: datetime) -> datetime:
    """A task taking over a Code update is due by the update's own deadline, the one its duty's card shows
    (already past if the update is late: the task escalates at once, as the deadline sweep's do); any other
    within a day."""
    duty = session.get(Duty, message.duty_id) if message.duty_id else None
    return duty.due_at if duty is not None else now + timedelta(days=1)
