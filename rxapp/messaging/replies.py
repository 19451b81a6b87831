"""Texts victims send us: STOP opts out at once; anything else becomes a task for a person. A reply from a
victim with an open case joins that case's conversation in the portal (`rxapp/portal/conversation.py`) and its
one "reply to the victim" task, instead of a task of its own."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain.contact import Channel, is_stop
from rxapp.domain.notifications import ReceivedText
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import InboundHandling, TaskKind
from rxapp.messaging.models import InboundText
from rxapp.messaging.outbox import enqueue
from rxapp.plumbing.columns import utcnow
from rxapp.portal.conversation import join_text_reply, newest_open_case
from rxapp.tasks.service import open_task
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim


def record_inbound(session: Session, received: ReceivedText, now: Optional[datetime] = None) -> InboundText:
    """A victim's text: STOP (and variants) opts out at once with a confirmation; anything else becomes a
    task for a person on the right case. Nothing is dropped, even from an unknown number."""
    now = now or utcnow()
    provider_id, number, text = received.provider_id, received.source_number, received.text
    existing = session.exec(select(InboundText).where(InboundText.provider_id == provider_id)).first()
    if existing is not None:
        return existing  # a repeated callback
    victim = session.exec(select(Victim).where(Victim.phone == number).order_by(Victim.id.desc())).first()
    incident = None
    if victim is not None:
        incident = session.exec(select(Incident).where(Incident.victim_id == victim.id)
                                .order_by(Incident.opened_at.desc())).first()
    inbound = InboundText(provider_id=provider_id, source_number=number, body=text, received_at=now,
                          victim_id=victim.id if victim else None, incident_id=incident.id if incident else None)
    session.add(inbound)
    session.flush()
    if is_stop(text) and victim is not None:
        inbound.handled_as = InboundHandling.STOP
        # Every victim record with this number: the person asked us to stop texting them.
        for person in session.exec(select(Victim).where(Victim.phone == number)):
            state = contact_state(session, person.id)
            state.opted_out_all, state.opted_out_at, state.updated_at = True, now, now
        enqueue(session, victim=victim, template="opt_out_confirmation", kind=MessageKind.SERVICE,
                personalisation={}, incident=incident, channel=Channel.SMS, now=now)
        if incident is not None:
            open_task(session, kind=TaskKind.OPTED_OUT, title="Victim opted out of automated texts",
                      detail="The victim replied STOP. Automated updates have stopped. The Code still requires "
                             "you to keep them informed: agree another way with them.",
                      incident_id=incident.id, victim_id=victim.id, due_at=now + timedelta(days=5))
        return inbound
    inbound.handled_as = InboundHandling.REPLY
    if victim is not None:
        same_number = list(session.exec(select(Victim.id).where(Victim.phone == number)))
        case = newest_open_case(session, same_number)
        if case is not None:
            inbound.task_id = join_text_reply(session, case[0], case[1], text, inbound.id, now).id
            return inbound
    task = open_task(session, kind=TaskKind.REPLY_RECEIVED, title="Reply from a victim",
                     detail=f"Text received: {text[:500]}", incident_id=incident.id if incident else None,
                     victim_id=victim.id if victim else None, due_at=now + timedelta(hours=4))
    inbound.task_id = task.id
    return inbound
