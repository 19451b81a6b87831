"""The outbox: every message to a victim is first a row in `message`, written in the same transaction as
the change that caused it; the sender (`rxapp/messaging/sender.py`) delivers it later. The reference the
provider sees is random and carries no personal data; the victim's private tracking link is never stored in
the outbox but added at send time.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import EllipsisType
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain.contact import Channel
from rxapp.domain.journey import CRIME_REFERENCE_TEXT
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import FINAL_MESSAGE_STATUSES, MessageStatus, TaskKind
from rxapp.domain.templates import load_templates
from rxapp.investigation.duties import crime_reference_sent, message_outcome
from rxapp.messaging.models import Message, MessageEvent
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.portal.models import PortalInvite
from rxapp.tasks.service import open_task
from rxapp.victims.contact import contact_state, usable_channel
from rxapp.victims.models import Victim

log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
LINK_PLACEHOLDER = "@track-link"  # resolved to the victim's private link only when the message is sent
PORTAL_LINK_PREFIX = "@portal-link:"  # + a PortalInvite's id: that invitation's portal link, put in when sent
# Values a message carries only until it has gone (a portal sign-in code): its history shows this instead, and
# the row's own copy is replaced by it once the message is with the provider or will never go.
SECRET_VALUES = ("code",)
SECRET_SHOWN = "[one-time code]"
FINAL = FINAL_MESSAGE_STATUSES
# Not yet accepted by the provider and not given up on: an earlier attendance text in one of these holds back the
# later ones for the same incident and victim (`TextOrder`).
NOT_YET_WITH_PROVIDER = (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.RETRY, MessageStatus.SENDING)


@lru_cache(maxsize=1)
def templates():
    return load_templates(TEMPLATES_DIR)


def new_reference() -> str:
    return "vj-" + uuid.uuid4().hex


def log_event(session: Session, message: Message, status: str, detail: str = "") -> None:
    """Every change of a message's status passes here: it is kept for the history staff read, and a Code
    duty the message carries follows it (sent: done; failed: owed again)."""
    session.add(MessageEvent(message_id=message.id, status=status, detail=detail[:500],
                             at=message.updated_at or utcnow()))
    if message.status not in NOT_YET_WITH_PROVIDER:
        forget_secrets(message)
    if message.duty_id is not None:
        message_outcome(session, message, status)
    elif message.template == CRIME_REFERENCE_TEXT and status in (MessageStatus.SENT, MessageStatus.DELIVERED):
        crime_reference_sent(session, message)  # meets part of the written confirmation: its task says the rest


def enqueue(session: Session, *, victim: Victim, template: str, kind: str, personalisation: dict,
            incident: Optional[Incident] = None, due_at: Optional[datetime] = None,
            channel: Optional[str] = None, now: Optional[datetime] = None,
            occurrence_id: Optional[int] = None, duty_id: Optional[int] = None,
            offered: Optional[frozenset[str]] | EllipsisType = ...,
            task_if_no_channel: bool = True) -> Optional[Message]:
    """Put a message in the outbox (inside the caller's transaction). Returns None, with a task where the
    Code requires contact, when the victim has no usable channel at all (`task_if_no_channel` False: the
    caller opens its own). `offered`: the channels it may go on (by default those this deployment has a
    provider for)."""
    now = now or utcnow()
    tpl = templates()[template]
    state = contact_state(session, victim.id)
    if channel is None:
        chosen = usable_channel(victim, state, offered)
        if (chosen is not None and tpl.channel == Channel.SMS and chosen[0] == Channel.EMAIL
                and not tpl.has_email_version):
            chosen = None
    else:
        destination = victim.phone if channel == Channel.SMS else victim.email
        chosen = (channel, destination) if destination else None
    if chosen is None:
        log.info("no usable channel for a %s message (incident %s)", template, incident.id if incident else "-")
        if kind == MessageKind.ROUTINE and task_if_no_channel:
            # The Code still requires the victim to be told: a phone call or a letter, by a person.
            # A task carrying a duty is due by the duty's deadline (`duties.task_opened`), as its card says.
            open_task(session, kind=TaskKind.CONTACT_VICTIM, title="Tell the victim by phone or letter",
                      detail=f"The victim has no usable text or email contact for the '{template}' update. "
                             "Phone them or send a letter, and record how they were told.",
                      incident_id=incident.id if incident else None, victim_id=victim.id,
                      due_at=due_at or (None if duty_id else now + timedelta(days=1)), occurrence_id=occurrence_id,
                      duty_id=duty_id)
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
    log_event(session, message, MessageStatus.QUEUED, f"{template} by {channel}")
    return message


class TextOrder:
    """Attendance texts to one victim about one incident go to the provider in the order they were written: a
    later one waits, untouched, while an earlier one is not yet accepted by the provider nor given up on
    (failed, blocked, cancelled). So the text carrying the private link always reaches the victim before
    "arriving soon" or "delayed", even when the provider failed it once and it waits for its retry.

    `in_order(due)` yields the due messages that may be decided now; each is settled when the caller asks
    for the next, so a text decided for good in this pass frees the one behind it in the same pass, and one
    handed to the provider (or held) keeps the ones behind it waiting."""

    def __init__(self, session: Session, messages: list[Message]):
        keys = {self._key(m) for m in messages} - {None}
        self.pending: dict[tuple[int, Optional[int]], list[int]] = {}
        if keys:
            q = (select(Message.incident_id, Message.victim_id, Message.id)
                 .where(Message.incident_id.in_({incident_id for incident_id, _ in keys}),
                        Message.kind == MessageKind.ATTENDANCE, Message.status.in_(NOT_YET_WITH_PROVIDER))
                 .order_by(Message.id))
            for incident_id, victim_id, message_id in session.exec(q):
                self.pending.setdefault((incident_id, victim_id), []).append(message_id)

    @staticmethod
    def _key(message: Message) -> Optional[tuple[int, Optional[int]]]:
        if message.kind != MessageKind.ATTENDANCE or message.incident_id is None:
            return None
        return message.incident_id, message.victim_id

    def must_wait(self, message: Message) -> bool:
        ids = self.pending.get(self._key(message))
        return bool(ids) and ids[0] < message.id

    def in_order(self, messages: list[Message]):
        for message in messages:
            if self.must_wait(message):
                continue
            yield message
            ids = self.pending.get(self._key(message))
            if ids and message.id in ids and message.status not in NOT_YET_WITH_PROVIDER:
                ids.remove(message.id)


def _for_history(personalisation: dict) -> dict:
    return {k: ("[private link]" if _is_link(v) else SECRET_SHOWN if k in SECRET_VALUES else v)
            for k, v in personalisation.items()}


def _is_link(value) -> bool:
    return value == LINK_PLACEHOLDER or (isinstance(value, str) and value.startswith(PORTAL_LINK_PREFIX))


def carries_secret(template: str) -> bool:
    """Whether the template's messages carry a value that may go only once, to where it was asked for."""
    return bool(set(SECRET_VALUES) & templates()[template].placeholders())


def forget_secrets(message: Message) -> None:
    values = json.loads(message.personalisation or "{}")
    if any(k in SECRET_VALUES and v != SECRET_SHOWN for k, v in values.items()):
        message.personalisation = json.dumps({k: (SECRET_SHOWN if k in SECRET_VALUES else v)
                                              for k, v in values.items()})


def personalisation_for_send(session: Session, message: Message) -> dict:
    values = json.loads(message.personalisation or "{}")
    if LINK_PLACEHOLDER in values.values():
        incident = session.get(Incident, message.incident_id) if message.incident_id else None
        link = links.track_url(links.derive_token(incident.link_nonce)) if incident else ""
        values = {k: (link if v == LINK_PLACEHOLDER else v) for k, v in values.items()}
    return {k: (_portal_link(session, v) if isinstance(v, str) and v.startswith(PORTAL_LINK_PREFIX) else v)
            for k, v in values.items()}


def _portal_link(session: Session, value: str) -> str:
    invite = session.get(PortalInvite, int(value[len(PORTAL_LINK_PREFIX):]))
    return links.portal_url(links.derive_portal_token(invite.link_nonce)) if invite is not None else ""


def render_for_send(session: Session, message: Message):
    tpl = templates()[message.template]
    return tpl.render(message.language, personalisation_for_send(session, message), channel=message.channel)
