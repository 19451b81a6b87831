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


def no_longer_relevant(session: Session, message: Message) -> Optional[str]:
    """A text about an officer on the way is pointless (and confusing) once the officer is there."""
    if message.incident_id:
        incident = session.get(Incident, message.incident_id)
        if incident is not None and officer_text_outdated(message.template, incident.is_open,
                                                          incident.arrived_at is not None):
            return "no longer relevant: the officer arrived or the call closed before it could go"
    return None


def control_room_holds(session: Session, incident_id: Optional[int]) -> bool:
    """Whether the control room holds this incident's texts now (`rxapp/attendance/holds.py`)."""
    if incident_id is None:
        return False
    standing = select(TextHold.id).where(TextHold.incident_id == incident_id,
                                         TextHold.released_at == None).limit(1)  # noqa: E711
    return session.exec(standing).first() is not None


def safety_context(session: Session, message: Message, now: datetime) -> safety.MessageContext:
    victim = session.get(Victim, message.victim_id) if message.victim_id else None
    incident = session.get(Incident, message.incident_id) if message.incident_id else None
    state = contact_state(session, message.victim_id) if message.victim_id else VictimContactState(victim_id=0)
    occurrence = session.get(Occurrence, message.occurrence_id) if message.occurrence_id else None
    source = occurrence.flags if occurrence is not None else (incident.flags if incident else "")
    flags = frozenset(f for f in source.split(",") if f)
    since = now - timedelta(hours=1)
    # Rows sent together as one message (`bundles.py`) share the provider's id and count as one text.
    recent = select(func.count(func.distinct(func.coalesce(Message.provider_id, Message.reference)))).where(
        Message.destination == message.destination, Message.channel == Channel.SMS,
        Message.sent_at != None, Message.sent_at >= since, Message.id != message.id)  # noqa: E711
    texting = message.channel == Channel.SMS
    sent_last_hour = session.exec(recent).one() if texting else 0
    identical = session.exec(recent.where(Message.body == message.body)).one() if texting else 0
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
        incident_flagged_by_control_room=control_room_holds(session, message.incident_id),
        contact_required_by_code=message.kind == MessageKind.ROUTINE,
    )
