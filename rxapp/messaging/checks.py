"""What the safety rules need to know about one message at the moment it is sent, gathered from the
database (`rxapp/domain/safety.py` decides)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlmodel import Session, func, select

from rxapp.attendance.models import Incident, TextHold
from rxapp.domain import safety
from rxapp.domain.contact import (
    Channel,
    attendance_happening_now,
    officer_text_outdated,
)
from rxapp.domain.safety import MessageKind
from rxapp.investigation.models import Occurrence
from rxapp.messaging.models import Message
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim, VictimContactState


def safety_context(session: Session, message: Message, now: datetime) -> safety.MessageContext:
    return SendFacts(session, [message], now).context(message)


class SendFacts:
    """What the safety rules need to know about a pass's messages, read in a few queries for all of them
    (their victims, contact states, incidents, occurrences, the control room's standing holds and the texts
    sent to their numbers in the last hour) rather than several per message: the sender's claim costs
    round trips per pass, not per message. Nothing the sender decides within a pass changes these facts
    (a message counts as sent only when its answer is stored, after the pass's decisions)."""

    def __init__(self, session: Session, messages: list[Message], now: datetime):
        self.now = now
        victim_ids = {m.victim_id for m in messages if m.victim_id}
        incident_ids = {m.incident_id for m in messages if m.incident_id}
        occurrence_ids = {m.occurrence_id for m in messages if m.occurrence_id}
        # Held here, not only in the session's identity map (which keeps unchanged rows weakly).
        self.incidents = rows_by_id(session, Incident, incident_ids)
        self.victims = rows_by_id(session, Victim, victim_ids)
        self.occurrences = rows_by_id(session, Occurrence, occurrence_ids)
        self.states = {s.victim_id: s for s in _rows(session, VictimContactState, VictimContactState.victim_id,
                                                     victim_ids)}
        missing = victim_ids - set(self.states)
        if missing:  # created, all clear, the first time they are needed (`contact_state`)
            for victim_id in sorted(missing):
                self.states[victim_id] = contact_state(session, victim_id)
        self.held = set()
        for chunk in _chunks(incident_ids):
            self.held |= set(session.exec(select(TextHold.incident_id).where(
                TextHold.incident_id.in_(chunk), TextHold.released_at == None)))  # noqa: E711
        # Rows sent together as one message (`bundles.py`) share the provider's id and count as one text.
        destinations = {m.destination for m in messages if m.channel == Channel.SMS}
        since = now - timedelta(hours=1)
        self.sent_last_hour: dict[str, list[tuple[int, str, str]]] = {}
        for chunk in _chunks(destinations):
            q = select(Message.destination, Message.id, func.coalesce(Message.provider_id, Message.reference),
                       Message.body).where(Message.destination.in_(chunk), Message.channel == Channel.SMS,
                                           Message.sent_at != None, Message.sent_at >= since)  # noqa: E711
            for destination, message_id, key, body in session.exec(q):
                self.sent_last_hour.setdefault(destination, []).append((message_id, key, body))

    def no_longer_relevant(self, message: Message) -> Optional[str]:
        """A text about an officer on the way is pointless (and confusing) once the officer is there."""
        incident = self.incidents.get(message.incident_id) if message.incident_id else None
        if incident is not None and officer_text_outdated(message.template, incident.is_open,
                                                          incident.arrived_at is not None):
            return "no longer relevant: the officer arrived or the call closed before it could go"
        return None

    def context(self, message: Message) -> safety.MessageContext:
        now = self.now
        victim = self.victims.get(message.victim_id) if message.victim_id else None
        incident = self.incidents.get(message.incident_id) if message.incident_id else None
        state = self.states[message.victim_id] if message.victim_id else VictimContactState(victim_id=0)
        occurrence = self.occurrences.get(message.occurrence_id) if message.occurrence_id else None
        source = occurrence.flags if occurrence is not None else (incident.flags if incident else "")
        flags = frozenset(f for f in source.split(",") if f)
        texting = message.channel == Channel.SMS
        sent = [(key, body) for other, key, body in self.sent_last_hour.get(message.destination, ())
                if other != message.id] if texting else []
        sent_last_hour = len({key for key, _ in sent})
        identical = len({key for key, body in sent if body == message.body})
        service = message.kind == MessageKind.SERVICE
        # Attendance texts are exempt from quiet hours while the incident is happening now.
        happening_now = incident is not None and attendance_happening_now(incident.is_open, incident.closed_at, now)
        # A service message (the answer to the victim's own STOP) is treated like an attendance message.
        attendance_now = message.kind == MessageKind.ATTENDANCE and happening_now
        return safety.MessageContext(
            kind=MessageKind.ATTENDANCE if attendance_now or service else MessageKind.ROUTINE,
            channel=message.channel, now=now, flags=flags,
            safe_contact_confirmed=state.safe_contact_confirmed or safety.FLAG_SAFE_CONTACT_CONFIRMED in flags,
            # The confirmation of an opt-out is the one message a victim who opted out has asked for.
            opted_out_all=state.opted_out_all and not service,
            opted_out_channels=frozenset(c for c, out in ((Channel.SMS, state.opted_out_sms),
                                                          (Channel.EMAIL, state.opted_out_email))
                                         if out and not service),
            sms_consent=bool(victim and victim.sms_consent) or service,
            destination_failed_permanently=(state.phone_failed_permanently if texting
                                            else state.email_failed_permanently),
            sent_to_destination_last_hour=sent_last_hour,
            identical_to_destination_last_hour=identical,
            incident_flagged_by_control_room=message.incident_id in self.held,
            contact_required_by_code=message.kind == MessageKind.ROUTINE,
        )


CHUNK = 500  # ids in one IN (...): well under SQLite's and PostgreSQL's limits on bound parameters


def _chunks(values: set) -> list[list]:
    ordered = sorted(values)
    return [ordered[i:i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def _rows(session: Session, model, column, ids: set) -> list:
    return [row for chunk in _chunks(ids) for row in session.exec(select(model).where(column.in_(chunk)))]


def rows_by_id(session: Session, model, ids) -> dict:
    """id -> row of `model` for `ids`, read in as few `IN (...)` queries as the limit on parameters allows."""
    return {row.id: row for row in _rows(session, model, model.id, set(ids))}
