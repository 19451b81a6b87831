"""Messaging service: the outbox, the safety check before every automated message, and what comes back
(delivery receipts and victims' replies).

Every message is first a row in `message`, written in the same transaction as the change that caused it.
The sender (`rxapp/sender.py`) delivers it later. The reference the provider sees is random and carries no
personal data; the victim's private tracking link is never stored in the outbox but added at send time.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Optional

from sqlmodel import Session, func, select

from rxapp.plumbing import links
from rxapp.domain import safety
from rxapp.domain.templates import load_templates
from rxapp.attendance.models import Incident
from rxapp.messaging.models import InboundText, Message, MessageEvent
from rxapp.investigation.models import Occurrence
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState
from rxapp.plumbing.columns import utcnow

log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
LINK_PLACEHOLDER = "@track-link"  # resolved to the victim's private link only when the message is sent
FINAL = ("delivered", "permanent-failure", "technical-failure", "blocked", "failed", "cancelled")
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "stop texts", "stop all", "opt out",
              "optout", "stop messages", "no more"}


@lru_cache(maxsize=1)
def templates():
    return load_templates(TEMPLATES_DIR)


def new_reference() -> str:
    return "vj-" + uuid.uuid4().hex


def contact_state(session: Session, victim_id: int) -> VictimContactState:
    state = session.get(VictimContactState, victim_id)
    if state is None:
        state = VictimContactState(victim_id=victim_id)
        session.add(state)
        session.flush()
    return state


def choose_channel(victim: Victim, state: VictimContactState) -> Optional[tuple[str, str]]:
    """The victim's channel: a text where they agreed to texts, else email. None when neither is usable."""
    if victim.phone and victim.sms_consent and not state.phone_failed_permanently and not state.opted_out_sms:
        return "sms", victim.phone
    if victim.email and not state.email_failed_permanently and not state.opted_out_email:
        return "email", victim.email
    return None


def log_event(session: Session, message: Message, status: str, detail: str = "") -> None:
    """Every change of a message's status passes here: it is kept for the history staff read, and a Code
    duty the message carries follows it (sent: done; failed: owed again)."""
    session.add(MessageEvent(message_id=message.id, status=status, detail=detail[:500],
                             at=message.updated_at or utcnow()))
    if message.duty_id is not None:
        from rxapp.investigation.service import message_outcome  # the journey imports this module

        message_outcome(session, message, status)


def enqueue(session: Session, *, victim: Victim, template: str, kind: str, personalisation: dict,
            incident: Optional[Incident] = None, due_at: Optional[datetime] = None,
            channel: Optional[str] = None, now: Optional[datetime] = None,
            occurrence_id: Optional[int] = None, duty_id: Optional[int] = None) -> Optional[Message]:
    """Put a message in the outbox (inside the caller's transaction). Returns None, with a task where the
    Code requires contact, when the victim has no usable channel at all."""
    now = now or utcnow()
    tpl = templates()[template]
    state = contact_state(session, victim.id)
    if channel is None:
        chosen = choose_channel(victim, state)
        if chosen is not None and tpl.channel == "sms" and chosen[0] == "email" and not tpl.has_email_version:
            chosen = None
    else:
        destination = victim.phone if channel == "sms" else victim.email
        chosen = (channel, destination) if destination else None
    if chosen is None:
        log.info("no usable channel for a %s message (incident %s)", template, incident.id if incident else "-")
        if kind == "routine":
            # The Code still requires the victim to be told: a phone call or a letter, by a person.
            open_task(session, kind="contact_victim", title="Tell the victim by phone or letter",
                      detail=f"The victim has no usable text or email contact for the '{template}' update. "
                             "Phone them or send a letter, and record how they were told.",
                      incident_id=incident.id if incident else None, victim_id=victim.id,
                      due_at=due_at or now + timedelta(days=1), occurrence_id=occurrence_id, duty_id=duty_id)
        return None
    channel, destination = chosen
    message = Message(
        reference=new_reference(), victim_id=victim.id, incident_id=incident.id if incident else None,
        template=template, kind=kind, channel=channel, language=victim.language or "en",
        destination=destination, personalisation=json.dumps(personalisation), due_at=due_at or now,
        created_at=now, updated_at=now, occurrence_id=occurrence_id, duty_id=duty_id,
    )
    rendered = tpl.render(message.language, _for_history(personalisation))
    message.body = rendered.body
    session.add(message)
    session.flush()
    log_event(session, message, "queued", f"{template} by {channel}")
    return message


def _for_history(personalisation: dict) -> dict:
    return {k: ("[private link]" if v == LINK_PLACEHOLDER else v) for k, v in personalisation.items()}


def personalisation_for_send(session: Session, message: Message) -> dict:
    values = json.loads(message.personalisation or "{}")
    if LINK_PLACEHOLDER in values.values():
        incident = session.get(Incident, message.incident_id) if message.incident_id else None
        link = links.track_url(links.derive_token(incident.link_nonce)) if incident else ""
        values = {k: (link if v == LINK_PLACEHOLDER else v) for k, v in values.items()}
    return values


def render_for_send(session: Session, message: Message):
    tpl = templates()[message.template]
    return tpl.render(message.language, personalisation_for_send(session, message), channel=message.channel)


# ---- safety ------------------------------------------------------------------------------------------

WHILE_AN_OFFICER_IS_COMING = {"officer_assigned", "attendance_delayed", "attendance_delayed_no_window",
                              "officer_arriving_soon", "no_officer_yet"}


def no_longer_relevant(session: Session, message: Message) -> Optional[str]:
    """A text about an officer on the way is pointless (and confusing) once the officer is there."""
    if message.template in WHILE_AN_OFFICER_IS_COMING and message.incident_id:
        incident = session.get(Incident, message.incident_id)
        if incident is not None and (not incident.is_open or incident.arrived_at is not None):
            return "no longer relevant: the officer arrived or the call closed before it could go"
    return None


def safety_context(session: Session, message: Message, now: datetime) -> safety.MessageContext:
    victim = session.get(Victim, message.victim_id) if message.victim_id else None
    incident = session.get(Incident, message.incident_id) if message.incident_id else None
    state = contact_state(session, message.victim_id) if message.victim_id else VictimContactState(victim_id=0)
    occurrence = session.get(Occurrence, message.occurrence_id) if message.occurrence_id else None
    source = occurrence.flags if occurrence is not None else (incident.flags if incident else "")
    flags = frozenset(f for f in source.split(",") if f)
    since = now - timedelta(hours=1)
    recent = select(func.count()).select_from(Message).where(
        Message.destination == message.destination, Message.channel == "sms", Message.sent_at != None,  # noqa: E711
        Message.sent_at >= since, Message.id != message.id)
    sent_last_hour = session.exec(recent).one() if message.channel == "sms" else 0
    identical = session.exec(recent.where(Message.body == message.body)).one() if message.channel == "sms" else 0
    service = message.kind == "service"
    # Attendance texts are exempt from quiet hours while the incident is happening now: open, or closed in
    # the last hour (the closing text goes as the officer leaves). A retry long after is routine.
    happening_now = incident is not None and (
        incident.is_open or (incident.closed_at is not None and now - incident.closed_at <= timedelta(hours=1)))
    kind = "attendance" if message.kind == "attendance" and happening_now else "routine"
    return safety.MessageContext(
        kind=kind if not service else "attendance",
        channel=message.channel, now=now, flags=flags,
        safe_contact_confirmed=state.safe_contact_confirmed or "SAFE_CONTACT_CONFIRMED" in flags,
        # The confirmation of an opt-out is the one message a victim who opted out has asked for.
        opted_out_all=state.opted_out_all and not service,
        opted_out_channels=frozenset(c for c, out in (("sms", state.opted_out_sms), ("email", state.opted_out_email))
                                     if out and not service),
        sms_consent=bool(victim and victim.sms_consent) or service,
        destination_failed_permanently=(state.phone_failed_permanently if message.channel == "sms"
                                        else state.email_failed_permanently),
        sent_to_destination_last_hour=sent_last_hour,
        identical_to_destination_last_hour=identical,
        incident_flagged_by_control_room=False,
        contact_required_by_code=message.kind == "routine",
    )


def open_task(session: Session, *, kind: str, title: str, detail: str, incident_id=None, victim_id=None,
              message_id=None, due_at=None, occurrence_id=None, duty_id=None) -> Task:
    """A task for a person. On a case (an occurrence) it goes to the officer in charge, and a task not done
    by its deadline is escalated by the deadline sweep (`escalate_at`); the duty it carries is then
    handed to a person until the task is completed (`rxapp/journey.py`)."""
    from rxapp.investigation.service import task_opened  # the journey imports this module

    task = Task(kind=kind, title=title[:200], detail=detail[:1000], incident_id=incident_id, victim_id=victim_id,
                message_id=message_id, due_at=due_at, occurrence_id=occurrence_id, duty_id=duty_id,
                escalate_at=due_at if occurrence_id else None)
    session.add(task)
    session.flush()
    if occurrence_id:
        task_opened(session, task)
    return task


# ---- delivery receipts -------------------------------------------------------------------------------

RECEIPT_STATUSES = ("delivered", "temporary-failure", "permanent-failure", "technical-failure")


class BadCallback(ValueError):
    """A callback body we cannot use; the message says why (no personal data)."""


def record_receipt(session: Session, payload: dict, now: Optional[datetime] = None,
                   retry_after: timedelta = timedelta(minutes=2), max_attempts: int = 5) -> Message:
    now = now or utcnow()
    if not isinstance(payload, dict):
        raise BadCallback("body must be a JSON object")
    status, reference, provider_id = payload.get("status"), payload.get("reference"), payload.get("id")
    if status not in RECEIPT_STATUSES:
        raise BadCallback("status must be one of " + ", ".join(RECEIPT_STATUSES))
    if not isinstance(reference, str) and not isinstance(provider_id, str):
        raise BadCallback("reference or id is required")
    message = None
    if isinstance(reference, str):
        message = session.exec(select(Message).where(Message.reference == reference)).first()
    if message is None and isinstance(provider_id, str):
        message = session.exec(select(Message).where(Message.provider_id == provider_id)).first()
    if message is None:
        raise LookupError("no message with that reference")
    if message.status in ("delivered", "permanent-failure", "blocked", "failed") and status != "delivered":
        return message  # a late or repeated receipt does not undo a final state
    message.updated_at = now
    log_event(session, message, status, "delivery receipt")
    if status == "delivered":
        message.status, message.delivered_at = "delivered", now
    elif status in ("temporary-failure", "technical-failure") and message.attempts < max_attempts:
        # The phone was off or the network busy: try again later with a fresh provider attempt.
        message.status = "retry"
        message.due_at = now + retry_after * (2 ** max(0, message.attempts - 1))
        message.reason = f"{status} reported by the provider; retrying"
    else:
        message.status = status if status != "temporary-failure" else "failed"
        message.reason = f"{status} reported by the provider"
        fall_back(session, message, now)
    return message


def fall_back(session: Session, message: Message, now: datetime) -> None:
    """After a permanent failure: mark the destination, try the victim's next channel, else a task."""
    victim = session.get(Victim, message.victim_id) if message.victim_id else None
    if victim is None:
        return
    state = contact_state(session, victim.id)
    if message.channel == "sms":
        state.phone_failed_permanently = True
    else:
        state.email_failed_permanently = True
    state.updated_at = now
    incident = session.get(Incident, message.incident_id) if message.incident_id else None
    personalisation = json.loads(message.personalisation or "{}")
    replacement = None
    if templates()[message.template].has_email_version or message.channel == "email":
        replacement = enqueue(session, victim=victim, template=message.template, kind=message.kind,
                              personalisation=personalisation, incident=incident, now=now,
                              occurrence_id=message.occurrence_id, duty_id=message.duty_id)
    if replacement is not None and replacement.channel != message.channel:
        log_event(session, message, "fallback", f"sent again by {replacement.channel} ({replacement.reference})")
        return
    if replacement is not None:
        replacement.status = "cancelled"
        replacement.reason = "same channel failed permanently"
    task = open_task(session, kind="delivery_failed", title="Message could not be delivered",
                     detail=(f"The {message.channel} message '{message.template}' could not be delivered and "
                             "there is no other channel. Contact the victim another way (phone call or letter) "
                             "and record how they were told."),
                     incident_id=message.incident_id, victim_id=message.victim_id, message_id=message.id,
                     due_at=task_due(session, message, now), occurrence_id=message.occurrence_id,
                     duty_id=message.duty_id)
    log_event(session, message, "task", f"task {task.id} for a person")


def task_due(session: Session, message: Message, now: datetime) -> datetime:
    """A task taking over a Code update is due by the update's own deadline (at least an hour from now);
    any other within a day."""
    from rxapp.investigation.models import Duty

    duty = session.get(Duty, message.duty_id) if message.duty_id else None
    return max(duty.due_at, now + timedelta(hours=1)) if duty is not None else now + timedelta(days=1)


# ---- replies -----------------------------------------------------------------------------------------

def is_stop(text: str) -> bool:
    words = re.sub(r"[^a-z ]", " ", (text or "").lower()).split()
    return " ".join(words) in STOP_WORDS or (len(words) >= 1 and words[0] in ("stop", "stopall", "unsubscribe")
                                             and len(words) <= 3)


def record_inbound(session: Session, payload: dict, now: Optional[datetime] = None) -> InboundText:
    """A victim's text: STOP (and variants) opts out at once with a confirmation; anything else becomes a
    task for a person on the right case. Nothing is dropped, even from an unknown number."""
    now = now or utcnow()
    if not isinstance(payload, dict):
        raise BadCallback("body must be a JSON object")
    provider_id, source, text = payload.get("id"), payload.get("source_number"), payload.get("message")
    if not isinstance(provider_id, str) or not provider_id or not isinstance(source, str) or not isinstance(text, str):
        raise BadCallback("id, source_number and message are required strings")
    existing = session.exec(select(InboundText).where(InboundText.provider_id == provider_id)).first()
    if existing is not None:
        return existing  # a repeated callback
    from integrations.storm.protocol import normalise_phone

    number = normalise_phone(source) or source
    victim = session.exec(select(Victim).where(Victim.phone == number).order_by(Victim.id.desc())).first()
    incident = None
    if victim is not None:
        incident = session.exec(select(Incident).where(Incident.victim_id == victim.id)
                                .order_by(Incident.opened_at.desc())).first()
    inbound = InboundText(provider_id=provider_id, source_number=number, body=text[:2000], received_at=now,
                          victim_id=victim.id if victim else None, incident_id=incident.id if incident else None)
    session.add(inbound)
    session.flush()
    if is_stop(text) and victim is not None:
        inbound.handled_as = "stop"
        # Every victim record with this number: the person asked us to stop texting them.
        for person in session.exec(select(Victim).where(Victim.phone == number)):
            state = contact_state(session, person.id)
            state.opted_out_all, state.opted_out_at, state.updated_at = True, now, now
        enqueue(session, victim=victim, template="opt_out_confirmation", kind="service", personalisation={},
                incident=incident, channel="sms", now=now)
        if incident is not None:
            open_task(session, kind="opted_out", title="Victim opted out of automated texts",
                      detail="The victim replied STOP. Automated updates have stopped. The Code still requires "
                             "you to keep them informed: agree another way with them.",
                      incident_id=incident.id, victim_id=victim.id, due_at=now + timedelta(days=5))
        return inbound
    inbound.handled_as = "reply"
    task = open_task(session, kind="reply_received", title="Reply from a victim",
                     detail=f"Text received: {text[:500]}", incident_id=incident.id if incident else None,
                     victim_id=victim.id if victim else None, due_at=now + timedelta(hours=4))
    inbound.task_id = task.id
    return inbound
